//! Regenerates the bundled recording of `missions demo` (server/demo/recording.jsonl) with
//! the project's scripted fake model (tests/loop_support): the orchestrator plans the
//! calculator (contract first; its first features.json fails the lint once), milestone
//! `basics` fails its first round (feat-sub prints B-A), the orchestrator adds a fix feature,
//! the re-validation passes, milestone `more` passes (its worker hands off partial work once).
//!
//! Run it after changing prompts, tools or the runner in a way the replay depends on:
//!
//!     cargo test -p missions --test demo_record -- --ignored
//!
//! Only the lines the replay reads are kept (session_start, assistant_turn, usage,
//! session_end), which keeps the file small.

mod loop_support;

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
    let transcript = std::fs::read_to_string(mission.join("worker-transcripts.jsonl")).unwrap();
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
