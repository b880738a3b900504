//! `missions demo` (the real binary): the bundled mission replays to completion offline,
//! with the plan's contract written before its features, a failed validation round, a fix
//! feature and a passing re-validation; the report is printed; `--keep` keeps the folder.

use crate::droid_format;

use serde_json::Value;
use std::process::Command;

#[test]
fn the_demo_runs_a_whole_mission_offline() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_missions"))
        .args(["demo", "--keep"])
        .arg(&keep)
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("replays a recorded *scripted* model"), "{stdout}");
    assert!(stdout.contains("completed: every assertion passed"), "{stdout}");
    assert!(stdout.contains("Validation rounds"), "the report is printed:\n{stdout}");

    let mission = keep.join("calc/.missions/calc");
    let events: Vec<Value> = std::fs::read_to_string(mission.join("progress_log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at = |kind: &str| events.iter().position(|e| e["type"] == kind).unwrap_or_else(|| panic!("no {kind}"));
    assert!(at("planning_started") < at("contract_written"));
    assert!(at("contract_written") < at("features_written"));
    assert!(at("features_written") < at("plan_submitted"));
    assert!(at("plan_submitted") < at("mission_accepted"));
    let rounds: Vec<&Value> = events.iter().filter(|e| e["type"] == "validation_round").collect();
    let failed = rounds.iter().position(|r| r["passed"] == false).expect("a failed round");
    let fix = events.iter().find(|e| e["type"] == "fix_features_added").expect("fix features");
    let fix_id = fix["featureIds"][0].as_str().unwrap();
    assert!(
        rounds[failed + 1..].iter().any(|r| r["passed"] == true && r["milestone"] == rounds[failed]["milestone"]),
        "a passing re-validation"
    );
    assert!(events
        .iter()
        .any(|e| e["type"] == "worker_completed" && e["featureId"] == fix_id && e["successState"] == "success"));
    assert_eq!(events.last().unwrap()["type"], "mission_completed");

    let features: Value =
        serde_json::from_str(&std::fs::read_to_string(mission.join("features.json")).unwrap()).unwrap();
    let fix_feature = features["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == fix_id)
        .expect("the fix is in features.json");
    assert_eq!(
        (fix_feature["status"].as_str(), fix_feature["milestone"].as_str()),
        (Some("completed"), rounds[failed]["milestone"].as_str())
    );
    droid_format::assert_conforms(&mission);
    let calc = Command::new("sh").args(["calc.sh", "sub", "5", "3"]).current_dir(keep.join("calc")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&calc.stdout).trim(), "2", "the fixed calculator really works");
    let config = std::fs::read_to_string(keep.join("calc/missions.toml")).unwrap();
    assert!(config.contains("provider = \"replay\"") && !config.contains("api_key"), "{config}");

    // The same folder again is refused, not overwritten.
    let again = Command::new(env!("CARGO_BIN_EXE_missions")).args(["demo", "--keep"]).arg(&keep).output().unwrap();
    assert_eq!(again.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
}
