//! A mission folder exactly as droid leaves it after planning, in droid's place outside the
//! repository (`~/.factory/missions/<session uuid>/`): droid's state.json and progress log,
//! features written by a planner (a bare array, planner key order, a string
//! `expectedBehavior`, a number milestone), droid's model-settings.json. `missions run` takes
//! it as it is, runs it to completion, and leaves every file in droid's format.

use crate::loop_support;

use loop_support::*;
use serde_json::{json, Value};

const MISSION_ID: &str = "mis_4be1c0d2";

/// What droid's planner wrote: its own key order, no runner keys, droid's accepted variants.
fn planner_features() -> Value {
    json!([
        {"id": "feat-add", "description": "Addition: `sh calc.sh add A B` prints A+B", "status": "pending", "milestone": 1, "skillName": "shell",
         "fulfills": ["VAL-CALC-001"], "expectedBehavior": "sh calc.sh add 2 3 prints 5",
         "x-fake": {"files": {"ops/add.sh": "echo $(( $1 + $2 ))\n", "tests/test_add.sh": "[ \"$(sh calc.sh add 2 3)\" = 5 ] || exit 1\n"}}},
        {"id": "feat-sub", "description": "Subtraction: `sh calc.sh sub A B` prints A-B", "status": "pending", "milestone": 1, "skillName": "shell",
         "preconditions": ["feat-add is complete", "calc.sh dispatches to ops/"], "fulfills": ["VAL-CALC-002"],
         "x-fake": {"files": {"ops/sub.sh": "echo $(( $1 - $2 ))\n", "tests/test_sub.sh": "[ \"$(sh calc.sh sub 5 3)\" = 2 ] || exit 1\n"}}},
        {"id": "feat-mul", "description": "Multiplication: `sh calc.sh mul A B` prints A*B", "status": "pending", "milestone": 2, "skillName": "shell",
         "fulfills": ["VAL-CALC-003"],
         "x-fake": {"files": {"ops/mul.sh": "echo $(( $1 * $2 ))\n", "tests/test_mul.sh": "[ \"$(sh calc.sh mul 4 5)\" = 20 ] || exit 1\n"}}}
    ])
}

/// Rewrites the moved mission folder into what droid has after planning (lifecycle steps
/// 1–3): state `planning`, `mission_accepted` logged, the plan files, no file of ours.
fn as_droid_planned(p: &Project) {
    let m = &p.mission;
    let repo = p.repo.canonicalize().unwrap().display().to_string();
    let created = "2026-09-20T09:00:00.000Z";
    let state = json!({"missionId": MISSION_ID, "state": "planning", "workingDirectory": repo, "createdAt": created, "updatedAt": created});
    std::fs::write(m.join("state.json"), pretty(&state)).unwrap();
    std::fs::write(m.join("working_directory.txt"), &repo).unwrap();
    std::fs::write(m.join("mission.md"), "# Shell calculator\n\n## Plan Overview\nadd, sub, mul over `sh calc.sh`.\n")
        .unwrap();
    std::fs::write(
        m.join("progress_log.jsonl"),
        format!("{{\"timestamp\":\"{created}\",\"type\":\"mission_accepted\",\"title\":\"Shell calculator\"}}\n"),
    )
    .unwrap();
    let pending: serde_json::Map<String, Value> = ["VAL-CALC-001", "VAL-CALC-002", "VAL-CALC-003"]
        .iter()
        .map(|id| (id.to_string(), json!({"status": "pending"})))
        .collect();
    std::fs::write(m.join("validation-state.json"), pretty(&json!({"assertions": pending}))).unwrap();
    std::fs::write(m.join("features.json"), pretty(&planner_features())).unwrap();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/droid/completed-all-passed");
    std::fs::copy(examples.join("model-settings.json"), m.join("model-settings.json")).unwrap();
    // The planner's numbered milestones, in the contract's words.
    let contract = CONTRACT.replace("## Arithmetic", "## Area: Arithmetic").replace("## More", "## Area: More");
    std::fs::write(m.join("validation-contract.md"), contract).unwrap();
}

/// features.json as droid's runner rewrites it: `{"features": …}`, droid's keys in droid's
/// order with their defaults (the test model's `x-fake` kept after them).
fn droid_rewrite(planned: &Value) -> Value {
    let list = planned.as_array().or_else(|| planned["features"].as_array()).unwrap();
    let features: Vec<Value> = list
        .iter()
        .map(|f| {
            let behaviour = match &f["expectedBehavior"] {
                Value::String(s) => json!([s]),
                Value::Null => json!([]),
                other => other.clone(),
            };
            let mut out = serde_json::Map::new();
            out.insert("id".into(), f["id"].clone());
            out.insert("description".into(), f["description"].clone());
            out.insert("skillName".into(), f.get("skillName").cloned().unwrap_or(json!("")));
            out.insert("preconditions".into(), f.get("preconditions").cloned().unwrap_or(json!([])));
            out.insert("expectedBehavior".into(), behaviour);
            for key in ["fulfills", "milestone"] {
                if let Some(v) = f.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            out.insert("status".into(), f["status"].clone());
            out.insert("workerSessionIds".into(), f.get("workerSessionIds").cloned().unwrap_or(json!([])));
            out.insert("currentWorkerSessionId".into(), Value::Null);
            out.insert("completedWorkerSessionId".into(), Value::Null);
            out.insert("x-fake".into(), f["x-fake"].clone());
            Value::Object(out)
        })
        .collect();
    json!({"features": features})
}

#[test]
fn a_droid_planned_folder_outside_the_repository_runs_to_completion_in_droids_format() {
    let model = MissionModel::start(Script::default());
    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join(".factory/missions/4f8e2d1c-9b7a-4c3e-8f21-0a9d7e6b5c43");
    let p =
        Project::new(&model, "max_validation_rounds = 2\ncommand_timeout_s = 30", CONTRACT, &json!({"features": []}))
            .with_mission_at(folder);
    as_droid_planned(&p);
    let settings = p.read("model-settings.json");
    droid_format::assert_conforms(&p.mission);

    // Run from inside the repository, naming droid's folder; droid accepted the plan already.
    let out = p.run(&[p.mission.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let state = p.json("state.json");
    assert_eq!(
        (state["missionId"].as_str(), state["state"].as_str()),
        (Some(MISSION_ID), Some("completed")),
        "droid's id is kept: {state:#}"
    );
    assert_eq!(state["createdAt"], "2026-09-20T09:00:00.000Z");
    assert_eq!(
        git(&p.repo, &["symbolic-ref", "--short", "HEAD"]),
        "missions/shell-calculator",
        "the branch is named from mission.md's title, not the uuid"
    );
    assert_eq!(
        p.sh("sh calc.sh add 2 3; sh calc.sh sub 5 3; sh calc.sh mul 4 5; sh test.sh"),
        "5\n2\n20\nall tests passed"
    );

    // features.json: droid's root object, droid's queue (validators inserted at the top, each
    // completed feature moved to the bottom), every feature completed.
    let features = p.json("features.json");
    let ids: Vec<&str> = features["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "feat-add",
            "feat-sub",
            "scrutiny-validator-1",
            "user-testing-validator-1",
            "feat-mul",
            "scrutiny-validator-2",
            "user-testing-validator-2"
        ]
    );
    assert!(features["features"].as_array().unwrap().iter().all(|f| f["status"] == "completed"), "{features:#}");
    let sub = &features["features"][1];
    assert_eq!(
        sub["preconditions"],
        json!(["feat-add is complete", "calc.sh dispatches to ops/"]),
        "prose preconditions are kept"
    );
    assert_eq!(
        features["features"][0]["expectedBehavior"],
        json!(["sh calc.sh add 2 3 prints 5"]),
        "a string is read as [s]"
    );

    // The progress log: droid's first line untouched, then droid's events.
    let events = p.events();
    assert_eq!(
        events[0],
        json!({"timestamp": "2026-09-20T09:00:00.000Z", "type": "mission_accepted", "title": "Shell calculator"})
    );
    assert_eq!(p.count("mission_accepted"), 1, "the plan was accepted by droid, not again");
    let triggered: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "milestone_validation_triggered")
        .map(|e| e["featureId"].as_str().unwrap())
        .collect();
    assert_eq!(triggered, ["scrutiny-validator-1", "scrutiny-validator-2"]);
    let vs = p.json("validation-state.json");
    for (id, m) in [("VAL-CALC-001", "1"), ("VAL-CALC-002", "1"), ("VAL-CALC-003", "2")] {
        assert_eq!(
            (vs["assertions"][id]["status"].as_str(), vs["assertions"][id]["validatedAtMilestone"].as_str()),
            (Some("passed"), Some(m)),
            "{vs:#}"
        );
    }
    for m in ["1", "2"] {
        assert!(p.mission.join(format!("validation/{m}/scrutiny/synthesis.json")).is_file());
        assert!(p.mission.join(format!("validation/{m}/user-testing/synthesis.json")).is_file());
    }
    assert_eq!(p.read("model-settings.json"), settings, "droid's model settings are droid's");
    droid_format::assert_conforms(&p.mission);
    // Nothing of the mission landed in the repository.
    assert_eq!(git(&p.repo, &["status", "--porcelain"]), "");
    assert!(
        !p.repo.join(".missions").exists() || std::fs::read_dir(p.repo.join(".missions")).unwrap().next().is_none()
    );
}

/// droid stopped while its worker ran feat-add: the feature is `in_progress` with the
/// session, the log ends in `worker_started`. The run records that session as droid
/// records an orphan, runs the feature afresh and completes.
#[test]
fn a_droid_folder_stopped_mid_feature_records_the_orphan_and_completes() {
    let model = MissionModel::start(Script::default());
    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join(".factory/missions/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d");
    let p =
        Project::new(&model, "max_validation_rounds = 2\ncommand_timeout_s = 30", CONTRACT, &json!({"features": []}))
            .with_mission_at(folder);
    as_droid_planned(&p);
    let orphan = "7d2f0c1e-5a4b-4c3d-9e8f-1a2b3c4d5e6f";
    // droid's runner rewrote features.json when it started the worker: its root, its keys.
    let mut features = droid_rewrite(&p.json("features.json"));
    features["features"][0]["status"] = json!("in_progress");
    features["features"][0]["workerSessionIds"] = json!([orphan]);
    features["features"][0]["currentWorkerSessionId"] = json!(orphan);
    std::fs::write(p.mission.join("features.json"), pretty(&features)).unwrap();
    let mut state = p.json("state.json");
    state["state"] = json!("paused");
    std::fs::write(p.mission.join("state.json"), pretty(&state)).unwrap();
    let mut log = p.read("progress_log.jsonl");
    log.push_str(&format!("{{\"timestamp\":\"2026-09-20T09:05:00.000Z\",\"type\":\"mission_run_started\"}}\n{{\"timestamp\":\"2026-09-20T09:05:01.000Z\",\"type\":\"worker_selected_feature\",\"workerSessionId\":\"{orphan}\",\"featureId\":\"feat-add\"}}\n{{\"timestamp\":\"2026-09-20T09:05:01.001Z\",\"type\":\"worker_started\",\"workerSessionId\":\"{orphan}\",\"spawnId\":\"worker_0a1b2c3d\",\"featureId\":\"feat-add\"}}\n{{\"timestamp\":\"2026-09-20T09:06:00.000Z\",\"type\":\"mission_paused\"}}\n"));
    std::fs::write(p.mission.join("progress_log.jsonl"), log).unwrap();
    droid_format::assert_conforms(&p.mission);

    let out = p.run(&[p.mission.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let events = p.events();
    let failed: Vec<&Value> = events.iter().filter(|e| e["type"] == "worker_failed").collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        (failed[0]["workerSessionId"].as_str(), failed[0]["spawnId"].as_str()),
        (Some(orphan), Some(format!("orphan_{orphan}").as_str()))
    );
    let resumed = events.iter().position(|e| e["type"] == "mission_resumed").expect("mission_resumed");
    assert!(resumed < events.iter().position(|e| e["type"] == "worker_failed").unwrap());
    let add = p.feature("feat-add");
    assert_eq!(add["status"], "completed");
    let sessions = add["workerSessionIds"].as_array().unwrap();
    assert_eq!((sessions.len(), sessions[0].as_str()), (2, Some(orphan)), "droid's session stays on record: {add}");
    assert_eq!(add["completedWorkerSessionId"], sessions[1]);
    assert_eq!(p.json("state.json")["state"], "completed");
    droid_format::assert_conforms(&p.mission);
}
