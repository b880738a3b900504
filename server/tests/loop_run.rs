//! `missions run` end to end: the real binary, a scripted mission model on loopback, a real
//! git repository with a small shell project whose tests really run.

mod loop_support;

use loop_support::*;
use serde_json::{json, Value};

const LIMITS: &str = "max_validation_rounds = 3\ncommand_timeout_s = 30";

fn handoff_files(p: &Project) -> Vec<Value> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p.mission.join("handoffs")).unwrap() {
        out.push(serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap());
    }
    out
}

#[test]
fn a_two_milestone_plan_runs_to_completion_through_a_failed_round_and_a_fix_feature() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let original = p.read("features.json");
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("completed"), "{}", text(&out));

    // state.json and the branch
    let state = p.json("state.json");
    assert_eq!(state["status"], "completed");
    assert_eq!(state["branch"], "missions/calc");
    assert!(state.get("activeFeature").is_none());
    assert_eq!(git(&p.repo, &["symbolic-ref", "--short", "HEAD"]), "missions/calc");
    assert_eq!(git(&p.repo, &["status", "--porcelain"]), "", "the tree is clean");
    let log = git(&p.repo, &["log", "--format=%s", "main..HEAD"]);
    assert_eq!(log.lines().collect::<Vec<_>>(), ["feat-mul", "feat-mul", "fix-sub-order", "feat-sub", "feat-add"], "add before sub (dependsOn), the fix, mul twice (partial, then the rest)");
    assert_eq!(p.sh("sh calc.sh sub 5 3; sh calc.sh add 2 3; sh calc.sh mul 4 5; sh test.sh"), "2\n5\n20\nall tests passed");

    // features.json: statuses and session ids written back, every other byte kept
    let features = p.json("features.json");
    let list = features["features"].as_array().unwrap();
    assert_eq!(list.iter().map(|f| f["id"].as_str().unwrap()).collect::<Vec<_>>(), ["feat-sub", "feat-add", "feat-mul", "fix-sub-order"]);
    assert!(list.iter().all(|f| f["status"] == "completed"), "{features:#}");
    assert_eq!(features["x-plan-version"], 3);
    assert_eq!(p.feature("feat-mul")["workerSessionIds"].as_array().unwrap().len(), 2, "a partial handoff runs the feature once more");
    assert_eq!(p.feature("feat-add")["workerSessionIds"].as_array().unwrap().len(), 1);
    let fix = p.feature("fix-sub-order");
    assert_eq!((fix["kind"].as_str(), fix["milestone"].as_str()), (Some("fix"), Some("basics")));
    assert!(fix["fixes"][0].as_str().unwrap().starts_with("ISS-basics-1-"), "{fix}");
    assert!(fix.get("dependsOn").is_none(), "the lint made the orchestrator remove its broken dependsOn");
    let now = p.read("features.json");
    // The original with only each feature's status and session ids changed, then the fix.
    let mut expected = original.replace("\"status\": \"pending\"", "\"status\": \"completed\"");
    for id in ["feat-sub", "feat-add", "feat-mul"] {
        let ids: Vec<String> = p.feature(id)["workerSessionIds"].as_array().unwrap().iter().map(|s| s.to_string()).collect();
        expected = expected.replacen("\"workerSessionIds\": []", &format!("\"workerSessionIds\": [{}]", ids.join(", ")), 1);
    }
    let tail = "\n  ],\n  \"x-plan-version\": 3\n}\n";
    assert!(now.starts_with(expected.strip_suffix(tail).unwrap()), "expected every untouched byte kept:\n{now}");
    assert!(now.contains("\"x-fake\": {\n        \"files\": {\n          \"ops/sub.sh\""), "nested unknown fields keep their layout");
    assert!(now.ends_with("  ],\n  \"x-plan-version\": 3\n}\n"));

    // handoffs: one per worker session, each naming a real commit of the branch
    let handoffs = handoff_files(&p);
    assert_eq!(handoffs.len(), 5, "add, sub, fix, mul twice");
    for h in &handoffs {
        let commit = h["commitId"].as_str().unwrap();
        assert_eq!(git(&p.repo, &["merge-base", "--is-ancestor", commit, "HEAD"]), "");
        let id = h["featureId"].as_str().unwrap();
        let sessions = p.feature(id)["workerSessionIds"].clone();
        assert!(sessions.as_array().unwrap().iter().any(|s| p.mission.join(format!("handoffs/{}.json", s.as_str().unwrap())).is_file()));
    }
    assert_eq!(handoffs.iter().filter(|h| h["status"] == "partial").count(), 1);

    // rounds: basics failed once (the user-testing validator ran sub and saw -2), then passed
    let r1 = p.json("validation/basics/round-1.json");
    assert_eq!(r1["round"], 1);
    let kinds: Vec<&str> = r1["validators"].as_array().unwrap().iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["runner", "scrutiny", "user-testing"]);
    let ut = &r1["validators"][2];
    assert_eq!(ut["assertions"][1], json!({"id": "VAL-CALC-002", "status": "failed", "evidence": ["evidence/basics/VAL-CALC-002.txt"], "notes": "printed -2"}));
    assert_eq!(ut["issues"][0]["id"], fix["fixes"][0]);
    assert_eq!(p.read("evidence/basics/VAL-CALC-002.txt").trim(), "2", "the last evidence is round 2's");
    let r2 = p.json("validation/basics/round-2.json");
    assert!(r2["validators"][2]["assertions"].as_array().unwrap().iter().all(|a| a["status"] == "passed"));
    let more = p.json("validation/more/round-1.json");
    assert_eq!(more["validators"][0]["assertions"][0]["status"], "passed", "the Check: command ran");
    assert!(p.read("evidence/more/round-1-check-VAL-CALC-003.txt").starts_with("$ sh calc.sh mul 4 5 | grep -qx 20\nexit code: 0"));

    // validation-state.json
    let vs = p.json("validation-state.json");
    for id in ["VAL-CALC-001", "VAL-CALC-002", "VAL-CALC-003"] {
        assert_eq!(vs["assertions"][id]["status"], "passed", "{id}: {vs:#}");
    }
    assert_eq!(vs["assertions"]["VAL-CALC-002"]["round"], 2);
    assert_eq!(vs["assertions"]["VAL-CALC-002"]["milestone"], "basics");
    assert_eq!(vs["assertions"]["VAL-CALC-003"]["evidence"][0], "evidence/more/round-1-check-VAL-CALC-003.txt");

    // the progress log tells the story in order
    let types = p.event_types();
    let story = ["mission_created", "plan_approved", "milestone_started", "feature_started", "handoff_received", "feature_completed", "feature_started", "handoff_received", "feature_completed",
        "validation_started", "validation_round", "fix_features_added", "feature_started", "handoff_received", "feature_completed", "validation_started", "validation_round", "milestone_passed",
        "milestone_started", "feature_started", "handoff_received", "feature_started", "handoff_received", "feature_completed", "validation_started", "validation_round", "milestone_passed", "mission_completed"];
    assert_eq!(types, story);
    let events = p.events();
    assert_eq!(events[3]["featureId"], "feat-add");
    assert_eq!(events[10]["passed"], false);
    assert!(events.iter().all(|e| e["ts"].as_str().unwrap().ends_with('Z')));

    // what each worker saw first: its own feature, its assertions, the shared files; nothing else
    let workers = model.sessions("worker");
    assert_eq!(workers.len(), 5);
    let all_ids = ["feat-sub", "feat-add", "feat-mul", "fix-sub-order"];
    let all_assertions = ["VAL-CALC-001", "VAL-CALC-002", "VAL-CALC-003"];
    for w in &workers {
        let feature = feature_of(&w.first_user);
        let id = feature["id"].as_str().unwrap();
        assert!(w.first_user.starts_with(&format!("# Your feature: {id}\n")));
        let depends: Vec<&str> = feature["dependsOn"].as_array().map(|a| a.iter().map(|v| v.as_str().unwrap()).collect()).unwrap_or_default();
        if id != "fix-sub-order" {
            assert!(w.first_user.contains("```json\n{\n  \"id\": "), "the feature reads as written alone:\n{}", w.first_user);
        }
        for other in all_ids.iter().filter(|o| **o != id && !depends.contains(o)) {
            assert!(!w.first_user.contains(other), "{id} saw {other}:\n{}", w.first_user);
        }
        let claimed: Vec<&str> = feature["fulfills"].as_array().map(|a| a.iter().map(|v| v.as_str().unwrap()).collect()).unwrap_or_default();
        for a in all_assertions {
            let fixes_it = id == "fix-sub-order" && a == "VAL-CALC-002";
            assert_eq!(w.first_user.contains(a), claimed.contains(&a) || fixes_it, "{id} and {a}:\n{}", w.first_user);
        }
        assert!(w.first_user.contains("POSIX sh only") && w.first_user.contains("tests: sh test.sh"));
        assert_eq!(w.first_user.contains("Write tests/test_<op>.sh first"), feature.get("skillName").is_some());
    }
    let add = workers.iter().find(|w| w.first_user.starts_with("# Your feature: feat-add")).unwrap();
    assert!(add.first_user.contains("### VAL-CALC-001: Adding two numbers\nThe user runs the calculator with `add` and two numbers.\nRun: `sh calc.sh add 2 3`\nExpect: `5`\nTool: terminal\nEvidence: output"));
    let fix_worker = workers.iter().find(|w| w.first_user.starts_with("# Your feature: fix-sub-order")).unwrap();
    assert!(fix_worker.first_user.contains("## Issues it fixes") && fix_worker.first_user.contains("expected `2`, got `-2`"), "{}", fix_worker.first_user);
    let retry = workers.iter().filter(|w| w.first_user.starts_with("# Your feature: feat-mul")).nth(1).unwrap();
    assert!(retry.first_user.contains("the tests are not written yet"));

    // the orchestrator's fix session went through the plan lint once
    let orchestrator: Vec<Seen> = model.seen().into_iter().filter(|s| s.role == "orchestrator").collect();
    assert!(orchestrator.iter().any(|s| s.results.iter().any(|(r, e)| *e && r.contains("unknown-dependency"))), "{orchestrator:#?}");

    // every transcript line is JSON and no key is in any file
    let transcripts = p.read("worker-transcripts.jsonl");
    assert!(transcripts.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));
    for (path, content) in walk(&p.mission) {
        assert!(!content.contains("sk-loop-test"), "the API key leaked into {}", path.display());
    }
    assert!(!p.mission.join("run.lock").exists());

    // a completed mission stays completed
    let again = p.run(&[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("already completed"));
}

fn walk(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()));
            }
        }
    }
    out
}

fn one_milestone(features: Value) -> Value {
    json!({"features": features})
}

const ADD_ONLY: &str = "# C\n\n### VAL-CALC-001: Adding\nRun: `sh calc.sh add 2 3`\nExpect: `5`\nTool: terminal\nEvidence: output\n\n### VAL-CALC-002: Subtracting\nRun: `sh calc.sh sub 5 3`\nExpect: `2`\nTool: terminal\nEvidence: output\n";

fn add_feature(behaviour: &str) -> Value {
    json!({"id": "feat-add", "description": "add", "milestone": "basics", "fulfills": ["VAL-CALC-001"], "status": "pending", "workerSessionIds": [],
           "x-fake": {"behaviour": behaviour, "files": {"ops/add.sh": "echo $(( $1 + $2 ))\n", "tests/test_add.sh": "[ \"$(sh calc.sh add 2 3)\" = 5 ]\n"}}})
}

fn sub_feature(behaviour: &str) -> Value {
    json!({"id": "feat-sub", "description": "sub", "milestone": "basics", "fulfills": ["VAL-CALC-002"], "status": "pending", "workerSessionIds": [],
           "x-fake": {"behaviour": behaviour, "files": {"ops/sub.sh": "echo $(( $1 - $2 ))\n", "tests/test_sub.sh": "[ \"$(sh calc.sh sub 5 3)\" = 2 ]\n"}}})
}

#[test]
fn verified_completion_sends_a_false_commit_back_once_then_fails_the_feature() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, ADD_ONLY, &one_milestone(json!([add_feature("bogus-commit-once"), sub_feature("bogus-commit-always")])));
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(p.feature("feat-add")["status"], "completed", "the worker corrected its commit id after one refusal");
    assert_eq!(p.feature("feat-sub")["status"], "failed");
    let state = p.json("state.json");
    assert_eq!(state["status"], "halted");
    let reason = state["haltReason"].as_str().unwrap();
    assert!(reason.contains("feat-sub failed") && reason.contains("refused twice") && reason.contains("is not a commit in this repository"), "{reason}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(reason));
    let refusals: Vec<Seen> = model.seen().into_iter().filter(|s| s.role == "worker" && s.results.last().is_some_and(|(r, e)| *e && r.contains("handoff refused"))).collect();
    assert_eq!(refusals.len(), 2, "one refusal per feature, each sent back to the worker");
    assert_eq!(p.count("feature_failed"), 1);
    assert_eq!(p.count("mission_halted"), 1);
    assert!(p.event_types().last().unwrap() == "mission_halted");
}

#[test]
fn a_check_command_overrides_a_validators_pass() {
    let contract = "# C\n\n### VAL-CALC-001: Adding\nRun: `sh calc.sh add 2 3`\nExpect: `5`\nTool: terminal\nEvidence: output\nCheck: test -f CHANGELOG.md || { echo 'no CHANGELOG.md'; exit 7; }\n";
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, "max_validation_rounds = 1", contract, &one_milestone(json!([add_feature("")])));
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let round = p.json("validation/basics/round-1.json");
    let runner = &round["validators"][0];
    assert_eq!(runner["assertions"][0]["status"], "failed");
    assert_eq!(runner["assertions"][0]["notes"], "`test -f CHANGELOG.md || { echo 'no CHANGELOG.md'; exit 7; }` exited 7");
    assert_eq!(runner["issues"][0]["severity"], "blocking");
    assert!(round["validators"].as_array().unwrap()[1..].iter().all(|v| v["assertions"][0]["status"] == "passed"), "both validators passed it: {round:#}");
    let vs = p.json("validation-state.json");
    assert_eq!(vs["assertions"]["VAL-CALC-001"]["status"], "failed");
    assert!(p.read("evidence/basics/round-1-check-VAL-CALC-001.txt").contains("exit code: 7\nno CHANGELOG.md"));
    let reason = p.json("state.json")["haltReason"].as_str().unwrap().to_string();
    assert_eq!(reason, "milestone basics did not pass validation in 1 round(s) (max_validation_rounds = 1)");
    assert!(model.sessions("user-testing")[0].first_user.contains("- VAL-CALC-001: failed (output: evidence/basics/round-1-check-VAL-CALC-001.txt)"), "validators are told the check result");
}

#[test]
fn a_blocked_handoff_halts_with_its_reason() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, ADD_ONLY, &one_milestone(json!([add_feature(""), sub_feature("blocked")])));
    let out = p.run(&["--yes", "--quiet"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(out.stdout.is_empty(), "--quiet prints nothing but the outcome (on stderr for a halt)");
    assert_eq!(p.feature("feat-add")["status"], "completed");
    assert_eq!(p.feature("feat-sub")["status"], "blocked");
    let state = p.json("state.json");
    let hint = "to try it again, set its \"status\" to \"pending\" in features.json and run the mission again";
    assert_eq!(state["haltReason"], format!("feature feat-sub blocked: the database this feature needs does not exist; {hint}"));
    assert_eq!(p.json(&format!("handoffs/{}.json", p.feature("feat-sub")["workerSessionIds"][0].as_str().unwrap()))["status"], "blocked");
    // Running again unchanged halts at once, still with the worker's words and the way out.
    let stuck = p.run(&["--quiet"]);
    assert_eq!(stuck.status.code(), Some(3), "{}", text(&stuck));
    assert_eq!(p.json("state.json")["haltReason"], format!("feature `feat-sub` is blocked: the database this feature needs does not exist; {hint}"));
    // Running again after the person unblocks it (status back to pending) resumes from there.
    let text_now = p.read("features.json").replace("\"status\": \"blocked\"", "\"status\": \"pending\"").replace("\"behaviour\": \"blocked\"", "\"behaviour\": \"\"");
    std::fs::write(p.mission.join("features.json"), text_now).unwrap();
    let again = p.run(&[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(p.count("mission_resumed"), 2);
    assert_eq!(model.sessions("worker").iter().filter(|w| w.first_user.contains("# Your feature: feat-add")).count(), 1, "nothing handed off is redone");
}

#[test]
fn exhausted_rounds_halt_the_mission() {
    // feat-sub's bug is never fixed (no fix is scripted): every round fails VAL-CALC-002.
    let model = MissionModel::start(sub_fix());
    let mut plan = features();
    plan["features"].as_array_mut().unwrap().truncate(2);
    let p = Project::new(&model, "max_validation_rounds = 2", CONTRACT.split("## More").next().unwrap(), &plan);
    // The scripted fix does not fix the order: it rewrites the same bug.
    let mut bad_fix = sub_fix();
    bad_fix.fixes.get_mut("VAL-CALC-002").unwrap()["x-fake"]["files"] = json!({"ops/sub.sh": "echo $(( $2 - $1 ))\n", "tests/test_sub_zero.sh": "[ \"$(sh calc.sh sub 0 0)\" = 0 ]\n"});
    drop(model);
    let model = MissionModel::start(bad_fix);
    std::fs::write(p.repo.join("missions.toml"), model.config("max_validation_rounds = 2")).unwrap();
    git(&p.repo, &["commit", "-qam", "point at the model"]);
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(p.json("state.json")["haltReason"], "milestone basics did not pass validation in 2 round(s) (max_validation_rounds = 2)");
    assert!(p.mission.join("validation/basics/round-2.json").is_file() && !p.mission.join("validation/basics/round-3.json").exists());
    assert_eq!(p.count("fix_features_added"), 1, "a fix after round 1, none after the last round");
}

#[test]
fn a_dirty_tree_is_refused_and_a_missing_plan_is_explained() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, ADD_ONLY, &one_milestone(json!([add_feature("")])));
    std::fs::write(p.repo.join("calc.sh"), "echo changed\n").unwrap();
    std::fs::write(p.repo.join("notes.txt"), "draft\n").unwrap();
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uncommitted changes") && err.contains("calc.sh") && err.contains("notes.txt"), "{err}");
    assert_eq!(git(&p.repo, &["symbolic-ref", "--short", "HEAD"]), "main", "nothing was touched");
    assert!(model.seen().is_empty());

    // Without --yes the plan waits for approval (exit 4).
    git(&p.repo, &["checkout", "-q", "--", "calc.sh"]);
    std::fs::remove_file(p.repo.join("notes.txt")).unwrap();
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missions run --yes"));
    assert_eq!(p.json("state.json")["status"], "awaiting_approval");

    // A mission without a plan is planned by the orchestrator (tests/plan_flow.rs); this
    // model has no planning script, so planning stops and the mission halts with the reason.
    let fresh = missions(&p.repo, &["new", "Another goal", "--name", "other", "--quiet"]);
    assert!(fresh.status.success());
    let out = p.run(&[".missions/other"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("planning stopped: the model answered 3 times without ever calling a tool"), "{}", text(&out));
    // And a plan with errors is refused with its diagnostics.
    std::fs::write(p.mission.join("features.json"), "{\"features\": [{\"id\": \"a\", \"description\": \"d\", \"milestone\": \"m\", \"status\": \"pending\", \"fulfills\": [\"VAL-NOPE-001\"]}]}").unwrap();
    let out = p.run(&[".missions/calc", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[unknown-assertion]"), "{}", text(&out));
}

#[test]
fn a_second_runner_is_refused_while_the_first_works() {
    let model = MissionModel::start(Script { latency: std::time::Duration::from_millis(150), ..Default::default() });
    let p = Project::new(&model, LIMITS, ADD_ONLY, &one_milestone(json!([add_feature(""), sub_feature("")])));
    let mut first = p.spawn_run(&["--yes"]);
    wait_for(&p, "feature_started", 1);
    let second = p.run(&[]);
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    let pid = first.id();
    assert!(String::from_utf8_lossy(&second.stderr).contains(&format!("another `missions run` (pid {pid}) is running this mission")), "{}", text(&second));
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn the_token_budget_halts_the_mission() {
    let model = MissionModel::start(Script::default());
    // Every model call costs 120 tokens: the first worker's two calls spend the budget.
    let p = Project::new(&model, "max_tokens_per_mission = 200", ADD_ONLY, &one_milestone(json!([add_feature(""), sub_feature("")])));
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let reason = p.json("state.json")["haltReason"].as_str().unwrap().to_string();
    assert!(reason.contains("token budget is spent (240 of max_tokens_per_mission = 200)"), "{reason}");
    assert_eq!(p.feature("feat-add")["status"], "completed");
    assert_eq!(p.feature("feat-sub")["status"], "pending");
}

pub fn wait_for(p: &Project, kind: &str, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while p.count(kind) < n {
        assert!(std::time::Instant::now() < deadline, "no {kind} event #{n}: {:?}", p.event_types());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}


#[test]
fn a_rate_limited_model_call_is_shown_while_the_run_waits_to_retry() {
    let model = MissionModel::start(Script::default());
    let proxy = RateLimitOnce::start(model.addr);
    let p = Project::new(&model, LIMITS, ADD_ONLY, &one_milestone(json!([add_feature("")])));
    std::fs::write(p.repo.join("missions.toml"), model.config(LIMITS).replace(&model.addr.to_string(), &proxy.addr.to_string())).unwrap();
    git(&p.repo, &["commit", "-qam", "through the proxy"]);
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("worker feat-add: rate limited (HTTP 429), retrying in 1 s (attempt 2)"), "{}", text(&out));
    // The retry is shown, and recorded in the transcript; the state log keeps only state.
    assert!(p.read("worker-transcripts.jsonl").contains("\"kind\":\"retry\""));
    assert!(!p.read("progress_log.jsonl").contains("retry"));
}
