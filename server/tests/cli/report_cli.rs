//! `missions report` as a black box: the real binary on a mission the real loop just ran
//! (fake models on loopback, a real git repository), and its exit codes.

use crate::loop_support;

use loop_support::*;
use serde_json::Value;

#[test]
fn a_finished_mission_reports_runs_tokens_code_and_rounds() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, "max_validation_rounds = 3\ncommand_timeout_s = 30", CONTRACT, &features());
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Text, from inside the repository (the only mission under .missions/).
    let out = missions(&p.repo, &["report"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for section in [
        "Runtime by role",
        "Runtime by milestone",
        "Agent runs",
        "Tokens by type",
        "Tokens by role",
        "Code",
        "Features",
        "Issues by severity",
        "Turns per session",
        "Validation rounds",
    ] {
        assert!(stdout.contains(section), "{section}:\n{stdout}");
    }

    // JSON, naming the mission; the figures agree with the files and the repository.
    let out = missions(&p.repo, &["report", ".missions/calc", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let transcript = p.read("sessions.jsonl");
    let mut sessions: Vec<String> = transcript
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|l| l["sessionId"].as_str().unwrap().to_string())
        .collect();
    sessions.sort();
    sessions.dedup();
    assert_eq!(r["runs"]["total"], sessions.len());
    assert_eq!(r["runs"]["byKind"]["worker"], 5, "feat-add, feat-sub, fix-sub-order, feat-mul twice");
    assert_eq!(r["runs"]["byKind"]["scrutiny"], 3, "basics twice, more once");
    assert_eq!(r["runs"]["byKind"]["user-testing"], 3, "basics twice, more once");
    assert_eq!(r["runs"]["byRole"]["orchestration"], 1, "the fix session");
    assert_eq!(r["features"]["fix"], 1);
    assert_eq!(r["features"]["total"], 4);
    // Round 1 of basics: the scrutiny review's issue on ops/sub.sh and the failed assertion.
    assert_eq!(r["issues"]["bySeverity"]["blocking"], 2);
    assert_eq!(
        r["validation"]["milestones"],
        serde_json::json!([{"name": "basics", "rounds": 2, "passedInRound": 2}, {"name": "more", "rounds": 1, "passedInRound": 1}])
    );
    let tokens = &r["tokens"];
    assert!(tokens["total"].as_u64().unwrap() > 0);
    assert_eq!(
        tokens["total"].as_u64().unwrap(),
        ["input", "cacheRead", "cacheWrite", "output"]
            .iter()
            .map(|k| tokens["byType"][k].as_u64().unwrap())
            .sum::<u64>()
    );
    // The diff from where the mission started to its branch, counted by git here.
    let state = p.json("state.json");
    let base = state["milestoneBases"]["basics"].as_str().unwrap();
    let numstat = git(&p.repo, &["diff", "--numstat", base, "missions/calc"]);
    let (mut added, mut tests) = (0, 0);
    for line in numstat.lines() {
        let mut cols = line.split('\t');
        let n: u64 = cols.next().unwrap().parse().unwrap();
        added += n;
        if cols.nth(1).unwrap().starts_with("tests/") {
            tests += n;
        }
    }
    assert!(added > 0 && tests > 0, "{numstat}");
    assert_eq!((r["code"]["added"].as_u64(), r["code"]["testLines"].as_u64()), (Some(added), Some(tests)));
    assert_eq!(r["code"]["base"], base);
    assert!(r["cost"].is_null(), "the test's missions.toml has no prices");
    assert!(r["time"]["wallSeconds"].as_f64().unwrap() > 0.0);

    // HTML: written where asked, one bar group per milestone.
    let page = p.repo.join("report.html");
    let out = missions(&p.repo, &["report", "--html", "report.html", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("class=\"milestone-bar\"").count(), 2);
    assert_eq!(html.matches("class=\"run ").count(), sessions.len());
}

#[test]
fn no_mission_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    let out = missions(dir.path(), &["report"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mission here"), "{}", text(&out));
    assert!(out.stdout.is_empty());

    std::fs::create_dir_all(dir.path().join("not-a-mission")).unwrap();
    let out = missions(dir.path(), &["report", "not-a-mission", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a mission folder"), "{}", text(&out));

    let out = missions(dir.path(), &["report", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2), "bad usage: {}", text(&out));
}

#[test]
fn an_unwritable_html_path_is_exit_2() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/clean");
    let dir = tempfile::tempdir().unwrap();
    let out = missions(dir.path(), &["report", fixture.to_str().unwrap(), "--html", "no/such/dir/report.html"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write"), "{}", text(&out));
}
