//! Regenerates the bundled recording of `missions demo` (server/demo/recording.jsonl) with
//! the project's scripted fake model (tests/loop_support): the orchestrator plans the
//! calculator (contract first; its first features.json fails the lint once), milestone
//! `basics` fails its first round (feat-sub prints B-A), the orchestrator adds a fix feature,
//! the re-validation passes, milestone `more` passes (its worker hands off partial work once).
//!
//! Run it after changing prompts, tools or the runner in a way the replay depends on, then
//! (the recording is built into the binary) regenerate the example and fixture that come
//! from the demo:
//!
//!     cargo test -p missions --test cli demo_record -- --ignored record_the_demo
//!     cargo test -p missions --test cli demo_record -- --ignored regenerate_the_clean_example
//!
//! Only the lines the replay reads are kept (session_start, assistant_turn, usage,
//! session_end), which keeps the file small.

use crate::loop_support;

use loop_support::*;
use missions::runner::demo;

#[test]
#[ignore = "regenerates server/demo/recording.jsonl"]
fn record_the_demo() {
    let plan = PlanScript { lint_error_once: true, ..Project::calculator_plan() };
    let model = MissionModel::start(Script { plan: Some(plan), ..sub_fix() });
    let root = tempfile::tempdir().unwrap();
    let (repo, mission) = demo::setup(root.path()).unwrap();
    std::fs::write(repo.join("missions.toml"), model.config("max_turns = 30\nmax_validation_rounds = 3")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_missions"))
        .args(["run", "--yes"])
        .current_dir(&repo)
        .envs(demo::GIT_ENV)
        .env(KEY_ENV, "sk-demo-record-not-a-real-key")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let transcript = std::fs::read_to_string(mission.join("sessions.jsonl")).unwrap();
    let kept: Vec<&str> = transcript
        .lines()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            matches!(v["kind"].as_str(), Some("session_start" | "assistant_turn" | "usage" | "session_end"))
        })
        .collect();
    let mut recording = kept.join("\n");
    recording.push('\n');
    assert!(!recording.contains("sk-demo-record"), "no key in the recording");
    assert!(recording.len() < 200 * 1024, "the recording is {} bytes", recording.len());
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/recording.jsonl");
    std::fs::write(&target, recording).unwrap();
    let events = std::fs::read_to_string(mission.join("progress_log.jsonl")).unwrap();
    assert!(events.contains("\"type\":\"fix_features_added\""), "{events}");
}

/// `examples/clean` is the mission folder of a real `missions demo --keep` run (never written
/// by hand, so the report agrees with it), and `tests/fixtures/report/diff.numstat` the diff
/// of that run's repository, which the example does not keep.
#[test]
#[ignore = "regenerates examples/clean and tests/fixtures/report/diff.numstat from the demo"]
fn regenerate_the_clean_example() {
    let root = tempfile::tempdir().unwrap();
    let keep = root.path().join("demo");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_missions"))
        .args(["demo", "--keep"])
        .arg(&keep)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let repo = keep.join("calc");
    let mission = repo.join(".missions/calc");
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = manifest.join("../examples/clean");
    let _ = std::fs::remove_dir_all(&example);
    copy_tree(&mission, &example, &["run.lock", "tool-output"]);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(mission.join("state.json")).unwrap()).unwrap();
    let base = state["milestoneBases"]["basics"].as_str().unwrap().to_string();
    let numstat =
        git(&repo, &["diff", "--numstat", "--no-renames", &base, "missions/calc", "--", ".", ":(exclude).missions"]);
    std::fs::write(manifest.join("tests/fixtures/report/diff.numstat"), numstat + "\n").unwrap();
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        if e.path().is_dir() {
            copy_tree(&e.path(), &to.join(&name), skip);
        } else {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}
