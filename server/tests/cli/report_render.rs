//! `missions report` on recorded missions: examples/clean (the mission folder of a real
//! `missions demo` run, with the diff and prices its repository had in tests/fixtures/report)
//! and a folder droid ran (examples/droid). Snapshots of the text and JSON, the HTML's
//! structure, and missing or torn files.

use std::path::{Path, PathBuf};

use missions::analysis::report::{
    compute, parse_numstat, render_html, render_json, render_text, DiffInput, MissionReport, Price, ReportInput,
};
use missions::config::MissionsConfig;
use missions::runner::report::load;
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report")
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

/// The demo's mission, with the diff its repository had (the repository itself is not kept)
/// and the prices of tests/fixtures/report/missions.toml.
fn recorded() -> (ReportInput, MissionReport) {
    let mut input = load(&example("clean"));
    assert!(matches!(input.diff, DiffInput::Unavailable(_)), "the example's repository does not exist");
    let numstat = std::fs::read_to_string(fixture().join("diff.numstat")).unwrap();
    input.diff =
        DiffInput::Files { base: "2bb684a76d".into(), head: "missions/calc".into(), files: parse_numstat(&numstat) };
    let config = MissionsConfig::load(&fixture().join("missions.toml")).unwrap();
    input.prices = config
        .prices
        .iter()
        .map(|(m, p)| {
            (
                m.clone(),
                Price { input: p.input, cache_read: p.cache_read, cache_write: p.cache_write, output: p.output },
            )
        })
        .collect();
    let report = compute(&input);
    (input, report)
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn text_report_of_the_recorded_mission() {
    let (_, r) = recorded();
    insta::assert_snapshot!(render_text(&r));
}

#[test]
fn json_report_of_the_recorded_mission() {
    let (_, r) = recorded();
    let json = render_json(&r);
    let value: Value = serde_json::from_str(&json).expect("valid JSON");
    insta::assert_snapshot!(json);
    // Stable top-level keys, in this order.
    let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["mission", "time", "runs", "tokens", "cost", "code", "features", "issues", "turns", "validation", "notes"]
    );
}

/// The figures agree with the files, counted here independently of the report's code.
#[test]
fn figures_agree_with_the_recorded_files() {
    let (_, r) = recorded();
    let dir = example("clean");
    let lines = jsonl(&dir.join("sessions.jsonl"));
    let mut sessions: Vec<&str> = lines.iter().map(|l| l["sessionId"].as_str().unwrap()).collect();
    sessions.dedup();
    sessions.sort();
    sessions.dedup();
    assert_eq!(r.runs.total, sessions.len());
    let usage_sum = |key: &str| {
        lines.iter().filter(|l| l["kind"] == "usage").map(|l| l["usage"][key].as_u64().unwrap()).sum::<u64>()
    };
    assert_eq!(r.tokens.by_type.input, usage_sum("input"));
    assert_eq!(r.tokens.by_type.cache_read, usage_sum("cacheRead"));
    assert_eq!(r.tokens.by_type.cache_write, usage_sum("cacheWrite"));
    assert_eq!(r.tokens.by_type.output, usage_sum("output"));
    let by_role: u64 = r.tokens.by_role.values().map(|t| t.total()).sum();
    assert_eq!(by_role, r.tokens.total);

    let features: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("features.json")).unwrap()).unwrap();
    let list = features["features"].as_array().unwrap();
    let validators = list.iter().filter(|f| f["skillName"].as_str().is_some_and(|s| s.ends_with("-validator"))).count();
    assert_eq!((r.features.total, r.features.validators), (list.len() - validators, validators));
    let fixes: Vec<Value> =
        jsonl(&dir.join("progress_log.jsonl")).into_iter().filter(|e| e["type"] == "fix_features_added").collect();
    assert_eq!(r.features.fix, fixes.iter().map(|e| e["featureIds"].as_array().unwrap().len()).sum::<usize>());

    // Worker sessions' turns come from their session_end lines.
    let worker_turns: Vec<u64> = lines
        .iter()
        .filter(|l| l["kind"] == "session_end" && l["role"] == "worker")
        .map(|l| l["turns"].as_u64().unwrap())
        .collect();
    assert_eq!(r.turns["implementation"].sessions, worker_turns.len());
    assert_eq!(r.turns["implementation"].max as u64, *worker_turns.iter().max().unwrap());

    // Rounds: basics failed once, then passed; more passed first time.
    let rounds: Vec<(&str, u32, Option<u32>)> =
        r.validation.milestones.iter().map(|m| (m.name.as_str(), m.rounds, m.passed_in_round)).collect();
    assert_eq!(rounds, [("basics", 2, Some(2)), ("more", 1, Some(1))]);
    assert_eq!(r.issues.total, 2, "round 1 of basics: the scrutiny review and the user test each failed sub");

    // Code: the test share of the added lines.
    assert_eq!((r.code.added, r.code.test_lines, r.code.test_files), (7, 4, 4));

    // The planning and the fix sessions are orchestration; every span lies inside the mission.
    assert_eq!(r.runs.by_role["orchestration"], 2);
    for m in &r.time.milestones {
        assert!(!m.spans.is_empty(), "{} has phases", m.name);
        for s in &m.spans {
            assert!(0.0 <= s.start && s.start <= s.end && s.end <= r.time.wall_seconds + 1e-6, "{s:?}");
        }
    }
    // Parallel sessions would count once; here none overlap, so each role's time is the sum of its sessions.
    let worker_time: f64 = r.runs.sessions.iter().filter(|s| s.role == "implementation").map(|s| s.end - s.start).sum();
    assert!((r.time.by_role_seconds["implementation"] - worker_time).abs() < 1e-6);
    // fake-planner has no price: the cost says so.
    let cost = r.cost.as_ref().expect("the fixture's missions.toml has prices");
    assert_eq!(cost.unpriced_models, ["fake-planner"]);
    assert!(cost.total > 0.0);
}

/// Tags of an HTML document that must be balanced (void elements are written `<x ... />`).
fn check_balanced(html: &str) -> Result<usize, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut elements = 0;
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').ok_or("unclosed <")?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name.trim() {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if name.is_empty() {
            return Err(format!("bad tag <{tag}>"));
        }
        // Attribute values must be quoted and hold no raw `<`.
        if !tag.matches('"').count().is_multiple_of(2) {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        elements += 1;
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    if stack.is_empty() {
        Ok(elements)
    } else {
        Err(format!("unclosed: {stack:?}"))
    }
}

#[test]
fn html_is_one_well_formed_self_contained_page_with_a_bar_per_milestone() {
    let (_, r) = recorded();
    let html = render_html(&r);
    let elements = check_balanced(&html).unwrap_or_else(|e| panic!("{e}\n{html}"));
    assert!(elements > 100, "{elements} elements");
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Self-contained and readable without JavaScript: no scripts, no external assets.
    for banned in ["<script", "<link", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(banned), "{banned}");
    }
    assert_eq!(
        html.matches("http").count(),
        html.matches("http://www.w3.org/2000/svg").count(),
        "only the SVG namespace"
    );
    // The waterfall: one bar group per milestone, each with its implementation and validation spans.
    let waterfall = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
    assert_eq!(waterfall.matches("class=\"milestone-bar\"").count(), r.time.milestones.len());
    for m in &r.time.milestones {
        assert!(waterfall.contains(&format!("data-milestone=\"{}\"", m.name)));
        let group = &waterfall[waterfall.find(&format!("data-milestone=\"{}\"", m.name)).unwrap()..];
        let group = &group[..group.find("</g>").unwrap()];
        assert_eq!(group.matches("<rect").count(), m.spans.len());
    }
    assert!(waterfall.contains("class=\"implementation\"") && waterfall.contains("class=\"validation\""));
    // Agent runs over time: one bar per session.
    assert_eq!(html.matches("class=\"run ").count(), r.runs.total);
    // The tables are there too.
    for title in
        ["Runtime by role", "Tokens by type", "Issues by severity", "Turns per session", "Validation rounds", "Code"]
    {
        assert!(html.contains(&format!("<h2>{title}</h2>")), "{title}");
    }
}

#[test]
fn html_escapes_what_the_mission_files_say() {
    let (mut input, _) = recorded();
    input.title = Some("<script>alert(\"x\")</script> & co".into());
    let html = render_html(&compute(&input));
    assert!(!html.contains("<script"));
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"));
    check_balanced(&html).unwrap();
}

/// A mission folder just planned (no state, no transcripts, no log) still reports what it can.
#[test]
fn a_mission_without_runs_reports_its_plan() {
    let dir = tempfile::tempdir().unwrap();
    let src = example("clean");
    for f in ["features.json", "validation-contract.md"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let input = load(dir.path());
    let r = compute(&input);
    assert_eq!((r.features.total, r.features.fix, r.runs.total, r.tokens.total), (4, 1, 0, 0));
    assert_eq!(r.time.milestones.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["basics", "more"]);
    assert!(r.code.unavailable.as_deref().unwrap().contains("working_directory.txt"), "{:?}", r.code.unavailable);
    check_balanced(&render_html(&r)).unwrap();
    assert!(render_text(&r).contains("no diff"));
}

/// Torn tails, garbage lines and broken files are skipped with a note, never a failure.
#[test]
fn torn_and_broken_files_are_skipped_with_notes() {
    let dir = tempfile::tempdir().unwrap();
    let src = example("clean");
    let copy = |rel: &str| {
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(rel), to).unwrap();
    };
    for f in [
        "features.json",
        "validation-contract.md",
        "state.json",
        "validation/more/user-testing/synthesis-round-1.json",
        "validation/more/scrutiny/synthesis-round-1.json",
    ] {
        copy(f);
    }
    let mut transcript = std::fs::read_to_string(src.join("sessions.jsonl")).unwrap();
    let whole = transcript.lines().count();
    let sessions = jsonl(&src.join("sessions.jsonl"))
        .iter()
        .map(|l| l["sessionId"].as_str().unwrap().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    transcript.push_str(
        "not json at all\n[1,2,3]\n{\"v\":1,\"ts\":\"2026-01-05T15:00:00Z\",\"sessionId\":\"torn\",\"role\":\"wor",
    );
    std::fs::write(dir.path().join("sessions.jsonl"), transcript).unwrap();
    let mut log = std::fs::read_to_string(src.join("progress_log.jsonl")).unwrap();
    log.push_str("{\"timestamp\":\"2026-01-05T15:");
    std::fs::write(dir.path().join("progress_log.jsonl"), log).unwrap();
    std::fs::create_dir_all(dir.path().join("validation/basics/user-testing")).unwrap();
    std::fs::write(dir.path().join("validation/basics/user-testing/synthesis-round-1.json"), "{\"milestone\": ")
        .unwrap();
    std::fs::write(dir.path().join("validation/basics/user-testing/synthesis.json"), [0xff, 0xfe]).unwrap();

    let input = load(dir.path());
    assert_eq!(input.transcript.len(), whole, "garbage and the torn tail are skipped");
    let r = compute(&input);
    assert_eq!(r.runs.total, sessions);
    assert!(r.runs.sessions.iter().all(|s| s.session_id != "torn"));
    assert_eq!(r.validation.milestones[1].rounds, 1);
    let notes = r.notes.join("\n");
    assert!(notes.contains("2 line(s) were not transcript records"), "{notes}");
    assert!(notes.contains("synthesis-round-1.json") && notes.contains("user-testing/synthesis.json"), "{notes}");
    render_text(&r);
    check_balanced(&render_html(&r)).unwrap();
}

/// A provider that reports no usage (an OpenAI-compatible server without `stream_options`)
/// leaves usage lines of zeros: the report says how many calls of which model are not
/// counted, instead of showing 0 tokens and $0.00 as the truth.
#[test]
fn calls_without_usage_are_named_in_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let src = example("clean");
    for f in ["features.json", "validation-contract.md", "state.json", "progress_log.jsonl", "mission.md"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let zero = serde_json::json!({"input": 0, "cacheRead": 0, "cacheWrite": 0, "output": 0});
    let mut unreported = 0;
    let lines: Vec<String> = jsonl(&src.join("sessions.jsonl"))
        .into_iter()
        .map(|mut l| {
            if l["role"] == "validator" {
                if l["kind"] == "usage" {
                    unreported += 1;
                    l["usage"] = zero.clone();
                    l["sessionTotal"] = zero.clone();
                }
                if l["kind"] == "session_end" {
                    l["usage"] = zero.clone();
                }
            }
            l.to_string()
        })
        .collect();
    assert!(unreported > 1);
    std::fs::write(dir.path().join("sessions.jsonl"), lines.join("\n") + "\n").unwrap();
    let r = compute(&load(dir.path()));
    assert_eq!(r.tokens.by_role["validation"].total(), 0);
    let note = format!("{unreported} model calls of fake-validator (validator) reported no usage; their tokens and cost are not counted");
    assert!(r.notes.contains(&note), "{:?}", r.notes);
    assert!(render_text(&r).contains(&note));

    // The recorded mission, every call reported, has no such note.
    let (_, full) = recorded();
    assert!(!full.notes.iter().any(|n| n.contains("no usage")), "{:?}", full.notes);
}

/// A folder droid ran (no sessions.jsonl): the runs, milestones, rounds and features come from
/// droid's own files; tokens are not recorded there, and the report says so.
#[test]
fn a_folder_droid_ran_reports_its_runs_and_rounds() {
    let r = compute(&load(&example("droid/completed-all-passed")));
    assert_eq!(
        (r.mission.id.as_str(), r.mission.title.as_str(), r.mission.status.as_str()),
        ("mis_4be1c0d2", "Calc CLI", "completed")
    );
    assert_eq!(r.runs.total, 8, "one per worker_started");
    assert_eq!((r.runs.by_role["implementation"], r.runs.by_role["validation"]), (4, 4));
    assert!(r.runs.sessions.iter().all(|s| s.status == "completed"));
    let rounds: Vec<(&str, u32, Option<u32>)> =
        r.validation.milestones.iter().map(|m| (m.name.as_str(), m.rounds, m.passed_in_round)).collect();
    assert_eq!(rounds, [("core", 1, Some(1)), ("cli", 1, Some(1))]);
    assert_eq!((r.features.total, r.features.validators, r.features.fix), (4, 4, 0));
    assert!(r.time.wall_seconds > 0.0 && r.time.by_role_seconds["implementation"] > 0.0);
    assert!(r.notes.iter().any(|n| n.contains("no sessions.jsonl")), "{:?}", r.notes);
    insta::assert_snapshot!(render_text(&r));
    let paused = compute(&load(&example("droid/all-event-types-paused")));
    assert_eq!(paused.mission.status, "paused");
    assert!(paused.runs.sessions.iter().any(|s| s.status == "failure"), "the failed user test");
    assert_eq!(paused.features.fix, 1, "droid's fix feature, by its name");
}

/// Usage the agent estimated for a server that reported none (`"estimated": true` on the
/// usage line) is counted, and the report flags it as an estimate.
#[test]
fn estimated_usage_is_counted_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let src = example("clean");
    for f in ["features.json", "validation-contract.md", "state.json", "progress_log.jsonl", "mission.md"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let mut estimated = 0;
    let lines: Vec<String> = jsonl(&src.join("sessions.jsonl"))
        .into_iter()
        .map(|mut l| {
            if l["role"] == "validator" && l["kind"] == "usage" {
                estimated += 1;
                l["estimated"] = serde_json::json!(true);
            }
            l.to_string()
        })
        .collect();
    assert!(estimated > 1);
    std::fs::write(dir.path().join("sessions.jsonl"), lines.join("\n") + "\n").unwrap();
    let r = compute(&load(dir.path()));
    let (_, full) = recorded();
    assert_eq!(r.tokens.by_role["validation"], full.tokens.by_role["validation"], "counted as any usage");
    let note = format!("{estimated} model calls of fake-validator (validator): usage not reported by the server; estimated (4 bytes a token) and counted in the tokens and cost");
    assert!(r.notes.contains(&note), "{:?}", r.notes);
    assert!(render_text(&r).contains(&note));
    assert!(!full.notes.iter().any(|n| n.contains("estimated")), "{:?}", full.notes);
}

/// Sessions that did not succeed and the mission's halts are marked on the timeline, every
/// chart is sized by its viewBox alone (it follows the window), a chart stands beside the
/// tables of time, runs, tokens, code and issues, and tooltips read cleanly.
#[test]
fn html_marks_failed_sessions_and_halts_draws_responsive_charts_and_clean_tooltips() {
    let (mut input, _) = recorded();
    let halted_at = input.events.last().unwrap().timestamp.clone();
    let mut fields = serde_json::Map::new();
    fields.insert("halted".into(), serde_json::json!(true));
    fields.insert("reason".into(), serde_json::json!("feature feat-mul: max_turns (9) reached"));
    input.events.push(missions::model::records::ProgressEvent {
        timestamp: halted_at,
        kind: "mission_paused".into(),
        fields,
    });
    let r = compute(&input);
    let html = render_html(&r);
    check_balanced(&html).unwrap();
    // feat-mul's first session handed off partial work: failed, and marked so.
    let failed: Vec<_> = r.runs.sessions.iter().filter(|s| s.outcome == "failed").collect();
    assert_eq!((failed.len(), failed[0].feature_id.as_deref()), (1, Some("feat-mul")), "{failed:?}");
    assert_eq!(html.matches("class=\"run implementation failed\"").count(), 1);
    assert!(html.contains("partial"), "the tooltip says how it ended");
    assert_eq!(r.time.halts.len(), 1);
    assert_eq!(
        html.matches("<g class=\"halt\"><title>halted: feature feat-mul: max_turns (9) reached</title>").count(),
        2,
        "on the waterfall and the runs"
    );
    // Responsive: every <svg> has a viewBox and no fixed size.
    let svgs: Vec<&str> = html.match_indices("<svg").map(|(i, _)| &html[i..i + html[i..].find('>').unwrap()]).collect();
    assert!(svgs.len() >= 9, "{}", svgs.len());
    for svg in &svgs {
        assert!(svg.contains("viewBox=\"0 0 ") && !svg.contains(" width=") && !svg.contains(" height="), "{svg}");
    }
    for id in ["runtime-role", "runtime-milestone", "runs", "tokens-type", "tokens-role", "cost", "code", "issues"] {
        let start = html.find(&format!("<section id=\"{id}\">")).unwrap_or_else(|| panic!("no section {id}"));
        let section = &html[start..start + html[start..].find("</section>").unwrap()];
        assert!(
            section.contains("<table>")
                && section.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\""),
            "{id}: {section}"
        );
    }
    // Tooltips: no space before a colon, none at either end, no empty part.
    let mut rest = html.as_str();
    let mut titles = 0;
    while let Some(i) = rest.find("<title>") {
        let body = &rest[i + 7..];
        let text = &body[..body.find("</title>").unwrap()];
        if !text.starts_with("Mission report") {
            titles += 1;
            assert!(
                !text.contains(" :")
                    && !text.contains("  ")
                    && !text.contains(", ,")
                    && !text.ends_with(':')
                    && text.trim() == text
                    && !text.is_empty(),
                "{text:?}"
            );
        }
        rest = &body[text.len()..];
    }
    assert!(titles > 30, "{titles}");
}

/// A file a handoff declares as a test counts as one whatever its path (a root `test.sh`);
/// the path rules still count the rest.
#[test]
fn the_test_share_counts_the_tests_the_handoffs_declare() {
    let (mut input, _) = recorded();
    let numstat = "10\t0\ttest.sh\n5\t1\tops/add.sh\n3\t0\ttests/test_add.sh\n";
    input.diff = DiffInput::Files { base: "b".into(), head: "h".into(), files: parse_numstat(numstat) };
    input.declared_tests.clear();
    let by_path = compute(&input).code;
    assert_eq!((by_path.test_lines, by_path.test_files, by_path.source_lines), (3, 1, 15));
    input.declared_tests.insert("test.sh".into());
    let declared = compute(&input).code;
    assert_eq!((declared.test_lines, declared.test_files, declared.source_lines), (13, 2, 5));
    assert!((declared.test_share - 13.0 / 18.0).abs() < 1e-9);
    // The demo's handoffs declare their tests: the loader reads them.
    let loaded = load(&example("clean"));
    assert!(
        loaded.declared_tests.contains("tests/test_add.sh")
            && loaded.declared_tests.contains("tests/test_sub_order.sh"),
        "{:?}",
        loaded.declared_tests
    );
}
