//! Work-done progress, halts, validator issues and planner questions of a mission run inside
//! the editor: the real `missions lsp` binary over stdio against the loop's scripted fake
//! model (tests/loop_support).

use crate::loop_support;
use crate::stdio_client;

use std::process::Stdio;
use std::time::Duration;

use loop_support::*;
use serde_json::{json, Value};
use stdio_client::{url, Server};

const LIMITS: &str = "max_validation_rounds = 3\ncommand_timeout_s = 30";

/// `missions lsp` in the project's repository (its workspace folder) for a client with
/// `capabilities`, initialized.
fn start(p: &Project, capabilities: Value) -> Server {
    Server::start(command(&p.repo, &["lsp"]).stderr(Stdio::null()), Server::params(&p.repo, capabilities))
}

fn progress_client() -> Value {
    json!({"window": {"workDoneProgress": true, "showDocument": {"support": true}}})
}

fn kind(m: &Value) -> String {
    if m["method"] == "$/progress" {
        format!("progress:{}", m["params"]["value"]["kind"].as_str().unwrap())
    } else {
        m["params"]["event"]["type"].as_str().unwrap().to_string()
    }
}

/// Percentages of the progress messages, in order; they never go down.
fn percentages(messages: &[Value]) -> Vec<u64> {
    let out: Vec<u64> = messages
        .iter()
        .filter(|m| m["method"] == "$/progress")
        .filter_map(|m| m["params"]["value"]["percentage"].as_u64())
        .collect();
    assert!(out.windows(2).all(|w| w[0] <= w[1]), "rising: {out:?}");
    out
}

#[test]
fn a_run_shows_work_done_progress_from_begin_to_end() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let title = p.read("mission.md").lines().next().unwrap().trim_start_matches("# ").to_string();
    let mut server = start(&p, progress_client());
    assert!(server.command("missions.start", &p.mission).get("result").is_some());
    let token = server.accept_progress();
    let messages = server.run_until_progress_end(&token);
    let kinds: Vec<String> = messages.iter().map(kind).collect();

    let progress: Vec<&Value> = messages.iter().filter(|m| m["method"] == "$/progress").collect();
    let begin = &progress[0]["params"]["value"];
    assert_eq!(begin["kind"], "begin", "{kinds:?}");
    assert_eq!(begin["title"], format!("Mission {title}"));
    assert_eq!(begin["cancellable"], true);
    assert!(progress[1..progress.len() - 1].iter().all(|m| m["params"]["value"]["kind"] == "report"), "{kinds:?}");
    assert!(progress.len() > 5, "a report per event: {kinds:?}");
    // Every event but the final one is followed by a report (once the token exists); the
    // mission's tokens and cost so far add reports of their own when they change.
    let begin_at = kinds.iter().position(|k| k == "progress:begin").unwrap();
    for (i, k) in kinds.iter().enumerate().skip(begin_at) {
        if !k.starts_with("progress:") && k != "mission_completed" {
            assert_eq!(kinds.get(i + 1).map(String::as_str), Some("progress:report"), "after {k} (#{i}): {kinds:?}");
        }
    }
    // The end comes after mission_completed and says how the run ended.
    let completed_at = kinds.iter().position(|k| k == "mission_completed").expect("mission_completed");
    assert_eq!(kinds.last().unwrap(), "progress:end");
    assert!(completed_at < kinds.len() - 1);
    assert_eq!(progress.last().unwrap()["params"]["value"]["message"], "completed");

    let reported: Vec<&str> = progress.iter().filter_map(|m| m["params"]["value"]["message"].as_str()).collect();
    assert!(reported.iter().any(|m| m.contains("milestone basics") && m.contains("feature feat-add")), "{reported:?}");
    assert!(reported.iter().any(|m| m.contains("milestone more") && m.contains("round 1")), "{reported:?}");
    assert!(reported.iter().any(|m| m.contains("round 2")), "the fix round: {reported:?}");
    // The tokens spent so far follow the figures (the fake model reports 120 a call).
    assert!(reported.iter().any(|m| m.contains("milestone more") && m.ends_with(" tokens")), "{reported:?}");
    let percent = percentages(&messages);
    assert_eq!(percent.first(), Some(&0));
    // Basics' round 1 passes VAL-CALC-001 only: one of three.
    assert!(percent.contains(&33), "{percent:?}");
    assert_eq!(percent.last(), Some(&100), "{percent:?}");
    assert_eq!(server.show_message()["type"], 3, "completed: info");
    server.finish();
}

#[test]
fn cancelling_the_progress_pauses_the_mission_and_resume_completes_it() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(40), ..sub_fix() });
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let mut server = start(&p, progress_client());
    assert!(server.command("missions.start", &p.mission).get("result").is_some());
    let token = server.accept_progress();
    server.take(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "begin");
    let events = server.events_until("worker_started");
    assert!(!events.iter().any(|e| e["type"] == "mission_completed"));
    server.notify("window/workDoneProgress/cancel", json!({"token": token}));
    let events = server.events_until("mission_paused");
    assert_eq!(events.last().unwrap()["reason"], "paused from the editor", "{events:?}");
    let end = server.take(|m| {
        m["method"] == "$/progress" && m["params"]["token"] == token && m["params"]["value"]["kind"] == "end"
    });
    assert_eq!(end["params"]["value"]["message"], "paused");
    assert_eq!(server.show_message()["message"], "Mission paused; missions.resume continues where it stopped");
    let status = server.command("missions.status", &p.mission);
    assert_eq!(status["result"]["status"], "paused", "{status}");

    // A cancel of a token that ended does nothing.
    server.notify("window/workDoneProgress/cancel", json!({"token": token}));
    assert!(server.command("missions.resume", &p.mission).get("result").is_some());
    let again = server.accept_progress();
    assert_ne!(again, token, "a fresh token per run");
    let messages = server.run_until_progress_end(&again);
    let kinds: Vec<String> = messages.iter().map(kind).collect();
    assert!(kinds.contains(&"mission_completed".to_string()), "{kinds:?}");
    assert_eq!(messages.last().unwrap()["params"]["value"]["message"], "completed");
    assert_eq!(p.json("state.json")["detailedState"], "completed");
    server.finish();
}

#[test]
fn a_halt_is_shown_with_its_reason_and_no_progress_without_the_capability() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, "max_validation_rounds = 1\ncommand_timeout_s = 30", CONTRACT, &features());
    let mut server = start(&p, json!({}));
    assert!(server.command("missions.start", &p.mission).get("result").is_some());
    let events = server.events_until("mission_paused");
    assert_eq!(events.last().unwrap()["halted"], true, "{events:?}");
    let reason = events.last().unwrap()["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("did not pass validation in 1 round(s)"), "{reason}");
    let shown = server.show_message();
    assert_eq!(shown["type"], 1, "an error: {shown}");
    assert!(shown["message"].as_str().unwrap().contains(&reason), "{shown}");
    // A client that did not offer window.workDoneProgress is never asked for a token.
    let status = server.command("missions.status", &p.mission);
    assert_eq!(status["result"]["status"], "halted", "{status}");
    assert!(
        !server.unread().iter().any(|m| m["method"] == "window/workDoneProgress/create" || m["method"] == "$/progress"),
        "{:#?}",
        server.unread()
    );
    // The contract's mission lens offers to resume and says why the mission stopped.
    let contract = p.mission.join("validation-contract.md");
    server.open(&contract, "markdown", &p.read("validation-contract.md"));
    let lenses = server.request("textDocument/codeLens", json!({"textDocument": {"uri": url(&contract)}}));
    let resolved: Vec<Value> = lenses["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| server.request("codeLens/resolve", l.clone())["result"]["command"].clone())
        .collect();
    let resume = resolved.iter().find(|c| c["command"] == "missions.resume").unwrap_or_else(|| panic!("{resolved:#?}"));
    assert!(resume["title"].as_str().unwrap().starts_with("▶ Resume mission (halted: "), "{resume}");
    assert!(resume["title"].as_str().unwrap().contains("did not pass validation"), "{resume}");
    server.finish();
}

#[test]
fn answering_the_planners_questions_and_saving_mission_md_resumes_planning() {
    let plan = PlanScript {
        questions: vec!["Which shell must it run on?".into(), "Integers only?".into()],
        ..Project::calculator_plan()
    };
    let model = MissionModel::start(Script { plan: Some(plan), ..sub_fix() });
    let p = Project::unplanned(&model, LIMITS);
    // `missions run` in a terminal lets the planner ask; it stops waiting for the answers.
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(p.json("state.json")["detailedState"], "awaiting_answers");
    let asked = p.read("mission.md");
    assert!(asked.contains("## Questions") && asked.contains("Which shell must it run on?"), "{asked}");

    let mut server = start(&p, progress_client());
    let mission_md = p.mission.join("mission.md");
    server.open(&mission_md, "markdown", &asked);
    // Saved with one answer only: still waiting.
    server.save(&mission_md, 2, &answer_questions(&asked, &["POSIX sh"]));
    let status = server.command("missions.status", &p.mission);
    assert_eq!(status["result"]["status"], "awaiting_answers", "{status}");

    // Every answer written and saved: planning resumes as missions.start would, and runs on.
    server.save(&mission_md, 3, &answer_questions(&asked, &["POSIX sh", "yes"]));
    let shown = server.show_message();
    assert!(
        shown["message"].as_str().unwrap().contains("planning resumes"),
        "{shown} (the server is pid {})",
        server.pid()
    );
    let token = server.accept_progress();
    let messages = server.run_until_progress_end(&token);
    let kinds: Vec<String> = messages.iter().map(kind).collect();
    assert!(
        kinds.contains(&"mission_accepted".to_string()) && kinds.contains(&"mission_completed".to_string()),
        "{kinds:?}"
    );
    let planner = model.sessions("orchestrator");
    assert!(
        planner.iter().any(|s| s.first_user.contains("## Your questions and the person's answers")
            && s.first_user.contains("POSIX sh")),
        "the planner got the answers"
    );
    assert_eq!(p.json("state.json")["detailedState"], "completed");
    server.finish();
}

#[test]
fn a_mission_started_in_the_editor_lets_its_planner_ask_and_opens_the_questions() {
    let plan = PlanScript { questions: vec!["Which shell must it run on?".into()], ..Project::calculator_plan() };
    let model = MissionModel::start(Script { plan: Some(plan), ..sub_fix() });
    let p = Project::unplanned(&model, LIMITS);
    let mut server = start(&p, progress_client());
    let mission_md = p.mission.join("mission.md");
    let goal = p.read("mission.md");
    server.open(&mission_md, "markdown", &goal);

    // missions.start approves the plan to come, but the planner may still ask the person.
    let started = server.command("missions.start", &p.mission);
    assert!(started.get("result").is_some(), "{started}");
    let token = server.accept_progress();
    let messages = server.run_until_progress_end(&token);
    let asked_events: Vec<&Value> = messages.iter().filter(|m| kind(m) == "question_asked").collect();
    assert_eq!(asked_events.len(), 1, "{messages:#?}");
    assert_eq!(asked_events[0]["params"]["event"]["question"], "Which shell must it run on?");
    assert_eq!(p.json("state.json")["detailedState"], "awaiting_answers");
    let asked = p.read("mission.md");
    assert!(asked.contains("- Q: Which shell must it run on?"), "{asked}");
    let shown = server.show_message();
    assert_eq!(shown["type"], 2, "a warning: {shown}");
    assert!(shown["message"].as_str().unwrap().contains("1 question(s)"), "{shown}");
    // mission.md opens at its `## Questions` heading.
    let show = server.answer_next("window/showDocument", json!({"success": true}));
    assert_eq!(show["params"]["uri"], url(&mission_md), "{show}");
    let heading = asked.lines().position(|l| l == "## Questions").unwrap();
    assert_eq!(show["params"]["selection"]["start"]["line"], heading, "{show}");

    // The editor shows the questions (it reloaded the clean buffer); the person answers, saves.
    server.save(&mission_md, 2, &answer_questions(&asked, &["POSIX sh"]));
    let shown = server.show_message();
    assert!(shown["message"].as_str().unwrap().contains("planning resumes"), "{shown}");
    let token = server.accept_progress();
    let messages = server.run_until_progress_end(&token);
    let approved = messages.iter().find(|m| kind(m) == "mission_accepted").unwrap_or_else(|| panic!("{messages:#?}"));
    assert_eq!(approved["params"]["event"]["by"], "missions.start", "{approved}");
    assert!(messages.iter().any(|m| kind(m) == "mission_completed"), "{messages:#?}");
    assert!(
        model.sessions("orchestrator").iter().any(|s| s.first_user.contains("POSIX sh")),
        "the planner got the answer"
    );
    server.finish();
}

/// mission.md with the `A:` lines under `## Questions` filled in order.
fn answer_questions(mission_md: &str, answers: &[&str]) -> String {
    let mut answers = answers.iter();
    let mut out = String::new();
    for line in mission_md.lines() {
        match line.trim() == "A:" {
            true => match answers.next() {
                Some(a) => out.push_str(&format!("{line} {a}\n")),
                None => out.push_str(&format!("{line}\n")),
            },
            false => out.push_str(&format!("{line}\n")),
        }
    }
    out
}

/// The kinds (`code`) of a publication's diagnostics.
fn codes(published: &Value) -> Vec<String> {
    published["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The real loop: `sub_fix`'s user-testing validator fails VAL-CALC-002 in basics' first
/// round with an issue located at ops/sub.sh line 1; the fix feature makes round 2 pass. The
/// client registers for watched files and, like an editor's file watcher, announces each
/// rewrite of validation-state.json when a round's event arrives.
#[test]
fn a_located_validator_issue_is_a_diagnostic_on_its_source_line_until_the_assertion_passes() {
    let model = MissionModel::start(sub_fix());
    // The fix session (the only orchestrator session of a planned mission) waits until the
    // editor has shown round 1, so the loop cannot overwrite it first.
    model.hold("orchestrator");
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let mut server = start(&p, json!({"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}}}));
    let register = server.answer_next("client/registerCapability", Value::Null);
    assert_eq!(register["params"]["registrations"][0]["method"], "workspace/didChangeWatchedFiles", "{register}");
    let features_uri = url(&p.mission.join("features.json"));
    let contract_uri = url(&p.mission.join("validation-contract.md"));
    let source_uri = url(&p.repo.join("ops/sub.sh"));
    let state_uri = url(&p.mission.join("validation-state.json"));
    let heading = CONTRACT.lines().position(|l| l.starts_with("### VAL-CALC-002:")).unwrap();
    server.diagnostics_until(&features_uri, |_| true);
    let before = server.diagnostics_until(&contract_uri, |_| true);
    assert!(!codes(&before).contains(&"assertion-failed".to_string()), "{before}");

    assert!(server.command("missions.start", &p.mission).get("result").is_some());
    let events = server.events_until("validation_round");
    let round = events.last().unwrap();
    assert_eq!(
        (&round["milestone"], &round["round"], &round["passed"]),
        (&json!("basics"), &json!(1), &json!(false)),
        "{events:?}"
    );
    server.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": state_uri, "type": 1}]}));
    // The scrutiny review of feat-sub places the bug; validation-state.json says the
    // assertion failed, in droid's words (a text).
    let vstate = p.json("validation-state.json");
    assert_eq!(vstate["assertions"]["VAL-CALC-002"]["status"], "failed", "{vstate}");
    assert!(vstate["assertions"]["VAL-CALC-002"]["issues"].is_string(), "{vstate}");
    let review = p.json("validation/basics/scrutiny/reviews/feat-sub.json");
    let issue = &review["codeReview"]["issues"][0];
    assert_eq!(
        (issue["file"].as_str(), issue["line"].as_u64(), issue["severity"].as_str()),
        (Some("ops/sub.sh"), Some(1), Some("blocking")),
        "{review}"
    );
    let description = issue["description"].as_str().unwrap().to_string();

    // Round 1 failed: the issue on line 1 of ops/sub.sh ...
    let published = server.diagnostics_until(&source_uri, |_| true);
    let diagnostics = published["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{published}");
    assert_eq!(diagnostics[0]["code"], "validator-issue");
    assert_eq!(diagnostics[0]["source"], "missions");
    assert_eq!(diagnostics[0]["severity"], 1, "blocking: an error: {published}");
    assert_eq!(diagnostics[0]["range"]["start"], json!({"line": 0, "character": 0}), "line 1 of the file: {published}");
    assert_eq!(
        diagnostics[0]["message"],
        format!("scrutiny review of `feat-sub` (basics): {description}"),
        "{published}"
    );
    assert_eq!(
        diagnostics[0]["relatedInformation"][0]["location"]["uri"],
        json!(contract_uri),
        "it points at the assertion: {published}"
    );
    // ... and the failure on VAL-CALC-002's heading, with the validator's words.
    let contract = server.diagnostics_until(&contract_uri, |d| codes(d).contains(&"assertion-failed".to_string()));
    let failed: Vec<&Value> =
        contract["diagnostics"].as_array().unwrap().iter().filter(|d| d["code"] == "assertion-failed").collect();
    assert_eq!(failed.len(), 1, "only VAL-CALC-002 failed: {contract}");
    assert_eq!(
        failed[0]["range"]["start"],
        json!({"line": heading, "character": 4}),
        "on the heading's id: {contract}"
    );
    assert_eq!(failed[0]["source"], "missions");
    let words = vstate["assertions"]["VAL-CALC-002"]["issues"].as_str().unwrap();
    assert_eq!(failed[0]["message"], format!("`VAL-CALC-002` failed validation: {words}"), "{contract}");

    // The fix round passes: both go away, and the mission completes.
    model.release("orchestrator");
    let mut kinds = Vec::new();
    let mut rounds = Vec::new();
    loop {
        let event = server.event()["event"].clone();
        if event["type"] == "validation_round" {
            server.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": state_uri, "type": 2}]}));
            rounds.push((
                event["milestone"].as_str().unwrap().to_string(),
                event["round"].as_u64().unwrap(),
                event["passed"] == true,
            ));
        }
        kinds.push(event["type"].as_str().unwrap().to_string());
        if event["type"] == "mission_completed" {
            break;
        }
        assert_ne!(event["type"], "mission_paused", "{event}");
    }
    assert!(kinds.contains(&"fix_features_added".to_string()), "{kinds:?}");
    assert_eq!(rounds, [("basics".to_string(), 2, true), ("more".to_string(), 1, true)], "{kinds:?}");
    let cleared = server.diagnostics_until(&source_uri, |d| d["diagnostics"] == json!([]));
    assert_eq!(cleared["diagnostics"], json!([]), "{cleared}");
    let contract = server.diagnostics_until(&contract_uri, |d| !codes(d).contains(&"assertion-failed".to_string()));
    assert!(codes(&contract).iter().all(|c| c != "assertion-failed" && c != "assertion-blocked"), "{contract}");
    assert_eq!(p.json("state.json")["detailedState"], "completed");
    assert_eq!(p.json("validation-state.json")["assertions"]["VAL-CALC-002"]["status"], "passed");
    let done = server.show_message();
    assert!(done["message"].as_str().unwrap().contains("completed"), "{done}");
    server.finish();
}

/// A provider's 429 during an editor-started run: the wait shows in the progress and the log,
/// and the run goes on.
#[test]
fn a_retry_shows_in_the_progress_and_the_log() {
    let model = MissionModel::start(sub_fix());
    let proxy = RateLimitOnce::start(model.addr);
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    std::fs::write(
        p.repo.join("missions.toml"),
        model.config(LIMITS).replace(&model.addr.to_string(), &proxy.addr.to_string()),
    )
    .unwrap();
    git(&p.repo, &["commit", "-qam", "through the proxy"]);
    let mut server = start(&p, progress_client());
    assert!(server.command("missions.start", &p.mission).get("result").is_some());
    let token = server.accept_progress();
    let messages = server.run_until_progress_end(&token);
    let reported: Vec<&str> = messages
        .iter()
        .filter(|m| m["method"] == "$/progress")
        .filter_map(|m| m["params"]["value"]["message"].as_str())
        .collect();
    assert!(reported.iter().any(|m| m.contains("rate limited (HTTP 429), retrying in 1 s")), "{reported:?}");
    assert_eq!(p.json("state.json")["detailedState"], "completed");
    let logged: Vec<Value> = server.unread().iter().filter(|m| m["method"] == "window/logMessage").cloned().collect();
    assert!(
        logged.iter().any(|m| m["params"]["message"].as_str().unwrap().contains("rate limited (HTTP 429)")),
        "{logged:#?}"
    );
    server.finish();
}
