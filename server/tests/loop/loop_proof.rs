//! The red-green proof of `missions run`, end to end: the real binary, the scripted model and a
//! real git repository whose tests really run, twice, in throwaway worktrees (at the feature's
//! start commit and at its handoff's commit). The proof is kept beside the handoff
//! (`proofs/`) and the editor's hover over the feature shows it.

use crate::loop_support;
use crate::stdio_client;

use std::process::Stdio;

use loop_support::*;
use serde_json::{json, Value};
use stdio_client::{url, Server};

const LIMITS: &str = "max_validation_rounds = 2\ncommand_timeout_s = 30";
const ADD_ONLY: &str =
    "# C\n\n### VAL-CALC-001: Adding\nRun: `sh calc.sh add 2 3`\nExpect: `5`\nTool: terminal\nEvidence: output\n";

fn add_feature(fake: Value) -> Value {
    json!({"features": [feature("feat-add", "add", "basics", &["VAL-CALC-001"], &[], fake)]})
}

const ADD: &str = "echo $(( $1 + $2 ))\n";
const ADD_TEST: &str = "[ \"$(sh calc.sh add 2 3)\" = 5 ] || { echo 'add 2 3 is not 5'; exit 1; }\n";

/// The handoffs of a feature, in time order, each with the proof kept beside it
/// (`proofs/<the handoff's file name>`) put under `proof`. The handoff file itself keeps
/// droid's shape: no key of ours.
fn handoffs_of(p: &Project, feature: &str) -> Vec<Value> {
    let mut paths: Vec<_> = std::fs::read_dir(p.mission.join("handoffs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(&format!("__{feature}__")))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let mut handoff: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            assert!(handoff.get("proof").is_none(), "{handoff:#}");
            let proof = p.mission.join("proofs").join(path.file_name().unwrap());
            if let Ok(text) = std::fs::read_to_string(&proof) {
                handoff["proof"] = serde_json::from_str(&text).unwrap();
            }
            handoff
        })
        .collect()
}

fn refusals(p: &Project) -> Vec<Value> {
    p.events().into_iter().filter(|e| e["type"] == "handoff_refused").collect()
}

#[test]
fn a_correct_red_green_feature_is_accepted_with_its_proof_stored_and_shown_on_hover() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(
        &model,
        LIMITS,
        ADD_ONLY,
        &add_feature(json!({"files": {"ops/add.sh": ADD, "tests/test_add.sh": ADD_TEST}})),
    );
    let start = git(&p.repo, &["rev-parse", "HEAD"]);
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    droid_format::assert_conforms(&p.mission);

    let handoffs = handoffs_of(&p, "feat-add");
    assert_eq!(handoffs.len(), 1);
    let proof = &handoffs[0]["proof"];
    assert_eq!(proof["verdict"], "proven", "{proof:#}");
    assert_eq!(proof["before"]["commit"], start.as_str(), "red at the feature's start commit");
    assert_eq!(
        proof["before"]["runs"][0],
        json!({"command": "sh tests/test_add.sh", "files": ["tests/test_add.sh"], "result": "absent"}),
        "the test does not exist before the work"
    );
    assert_eq!(proof["after"]["commit"], handoffs[0]["commitId"], "green at the handoff's commit");
    assert_eq!(
        (proof["after"]["runs"][0]["result"].as_str(), proof["after"]["runs"][0]["exitCode"].as_i64()),
        (Some("passed"), Some(0))
    );
    assert!(refusals(&p).is_empty());
    assert_eq!(
        git(&p.repo, &["worktree", "list", "--porcelain"]).matches("worktree ").count(),
        1,
        "the proof's worktrees are gone"
    );

    // The editor's hover over the feature in features.json shows the proof.
    let mut server =
        Server::start(command(&p.repo, &["lsp"]).stderr(Stdio::null()), Server::params(&p.repo, json!({})));
    let features = p.read("features.json");
    let uri = url(&p.mission.join("features.json"));
    server.open(&p.mission.join("features.json"), "json", &features);
    let line = features.lines().position(|l| l.contains("\"feat-add\"")).unwrap();
    let character = features.lines().nth(line).unwrap().find("feat-add").unwrap() + 2;
    let hover = server.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}),
    );
    let value = hover["result"]["contents"]["value"].as_str().unwrap_or_default().to_string();
    assert!(value.contains("*Red-green proof:* **proven**"), "{value}");
    assert!(
        value.contains(&format!("at the start (`{}`): `sh tests/test_add.sh`: not there yet", &start[..10])),
        "{value}"
    );
    assert!(value.contains("at the handoff (") && value.contains("`sh tests/test_add.sh`: exit 0"), "{value}");
    server.finish();
}

#[test]
fn a_test_that_passes_before_the_work_is_refused_with_its_output_and_the_next_session_proves_it() {
    let model = MissionModel::start(Script::default());
    // The first session claims the repository's existing test (it passes before any work).
    let fake = json!({"files": {"ops/add.sh": ADD, "tests/test_add.sh": ADD_TEST}, "first_files": {"ops/add.sh": ADD}, "first_tests": ["tests/test_calc.sh"]});
    let p = Project::new(&model, LIMITS, ADD_ONLY, &add_feature(fake));
    let start = git(&p.repo, &["rev-parse", "HEAD"]);
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    droid_format::assert_conforms(&p.mission);

    let refused = refusals(&p);
    assert_eq!(refused.len(), 1, "{refused:#?}");
    let reason = refused[0]["reason"].as_str().unwrap();
    assert_eq!(reason, "its red-green proof failed: `sh tests/test_calc.sh` passes already at the feature's start commit, before the work");
    assert_eq!(refused[0]["proof"]["before"]["runs"][0]["exitCode"], 0);
    let handoffs = handoffs_of(&p, "feat-add");
    assert_eq!(
        handoffs.iter().map(|h| h["proof"]["verdict"].as_str().unwrap()).collect::<Vec<_>>(),
        ["refused", "proven"]
    );
    // The next session was told, with the command and its exit code at the start commit.
    let sessions = model.sessions("worker");
    assert_eq!(sessions.len(), 2);
    let told = &sessions[1].first_user;
    assert!(
        told.contains(
            "its red-green proof failed: `sh tests/test_calc.sh` passes already at the feature's start commit"
        ),
        "{told}"
    );
    assert!(told.contains(&format!("$ sh tests/test_calc.sh   # at the feature's start commit (the tests must fail or not exist there), {}, exit 0", &start[..10])), "{told}");
    // Its proof is red from the feature's start, before the first session's commit.
    assert_eq!(handoffs[1]["proof"]["before"]["commit"], start.as_str());
    let completed: Vec<Value> =
        p.events().into_iter().filter(|e| e["type"] == "worker_completed" && e["featureId"] == "feat-add").collect();
    assert_eq!(completed.iter().map(|e| e["validatorsPassed"].as_bool().unwrap()).collect::<Vec<_>>(), [false, true]);
    assert_eq!(p.feature("feat-add")["status"], "completed");
}

#[test]
fn a_test_that_fails_at_its_commit_is_refused_twice_then_the_feature_is_pending_with_the_reason() {
    let model = MissionModel::start(Script::default());
    // The worker commits a wrong implementation without running the tests, and another one
    // in its second session.
    let fake = json!({"skip_tests": true, "first_files": {"ops/add.sh": "echo $(( $1 * $2 ))\n", "tests/test_add.sh": ADD_TEST}, "files": {"ops/add.sh": "echo $(( $1 - $2 ))\n", "tests/test_add.sh": ADD_TEST}});
    let p = Project::new(&model, LIMITS, ADD_ONLY, &add_feature(fake));
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    droid_format::assert_conforms(&p.mission);

    let refused = refusals(&p);
    assert_eq!(refused.len(), 2);
    for r in &refused {
        assert_eq!(
            r["reason"],
            "its red-green proof failed: `sh tests/test_add.sh` fails at the handoff's commit (exit 1)"
        );
        let after = &r["proof"]["after"]["runs"][0];
        assert_eq!(
            (after["exitCode"].as_i64(), after["outputTail"].as_str()),
            (Some(1), Some("add 2 3 is not 5")),
            "the exact output: {r:#}"
        );
    }
    let told = &model.sessions("worker")[1].first_user;
    assert!(
        told.contains("at the handoff's commit (the tests must pass there)")
            && told.contains(", exit 1\nadd 2 3 is not 5\n"),
        "the second session sees the output: {told}"
    );
    // Back to pending (droid has no failed status), the reason recorded where a person looks.
    assert_eq!(p.feature("feat-add")["status"], "pending");
    let state = p.json("state.json");
    assert_eq!((state["state"].as_str(), state["detailedState"].as_str()), (Some("paused"), Some("halted")));
    let halt = state["haltReason"].as_str().unwrap();
    assert!(halt.starts_with("feature feat-add: its success claim was refused twice; the last time its red-green proof failed: `sh tests/test_add.sh` fails at the handoff's commit (exit 1)"), "{halt}");
    let last = p.events().last().cloned().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["pauseReason"].as_str(), last["featureId"].as_str()),
        (Some("mission_paused"), Some("feature_retry_limit_exceeded"), Some("feat-add"))
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(halt));
}
