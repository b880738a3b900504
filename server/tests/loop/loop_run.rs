//! `missions run` end to end: the real binary, a scripted mission model on loopback, a real
//! git repository with a small shell project whose tests really run. Every file the run
//! writes is checked against droid's format (`droid_format`).

use crate::loop_support;

use loop_support::*;
use serde_json::{json, Value};

const LIMITS: &str = "max_validation_rounds = 3\ncommand_timeout_s = 30";

/// Every handoff file, in name (time) order.
fn handoff_files(p: &Project) -> Vec<Value> {
    let mut names: Vec<_> = std::fs::read_dir(p.mission.join("handoffs")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    names.iter().map(|path| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()).collect()
}

/// The folder breaks no rule of droid's format.
fn assert_droid_format(p: &Project) {
    droid_format::assert_conforms(&p.mission);
}

#[test]
fn a_two_milestone_plan_runs_to_completion_through_a_failed_round_and_a_fix_feature() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("completed"), "{}", text(&out));
    assert_droid_format(&p);

    // state.json: droid's state, our finer one, the branch
    let state = p.json("state.json");
    assert_eq!((state["state"].as_str(), state["detailedState"].as_str()), (Some("completed"), Some("completed")));
    assert_eq!(state["branch"], "missions/calc");
    assert_eq!(state["workingDirectory"], p.repo.canonicalize().unwrap().display().to_string());
    assert!(state.get("activeFeature").is_none() && state.get("activeRound").is_none());
    assert_eq!(git(&p.repo, &["symbolic-ref", "--short", "HEAD"]), "missions/calc");
    assert_eq!(git(&p.repo, &["status", "--porcelain"]), "", "the tree is clean");
    let log = git(&p.repo, &["log", "--format=%s", "main..HEAD"]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        ["feat-mul", "feat-mul", "fix-sub-order", "feat-sub", "feat-add"],
        "add before sub (its precondition), the fix, mul twice (partial, then the rest)"
    );
    assert_eq!(
        p.sh("sh calc.sh sub 5 3; sh calc.sh add 2 3; sh calc.sh mul 4 5; sh test.sh"),
        "2\n5\n20\nall tests passed"
    );

    // features.json: the queue as droid leaves it; completed features moved to the bottom in
    // the order they completed, the validators injected at the top of their milestone's time
    let features = p.json("features.json");
    let list = features["features"].as_array().unwrap();
    let order: Vec<&str> = list.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        [
            "feat-add",
            "feat-sub",
            "fix-sub-order",
            "scrutiny-validator-basics",
            "user-testing-validator-basics",
            "feat-mul",
            "scrutiny-validator-more",
            "user-testing-validator-more"
        ]
    );
    assert!(list.iter().all(|f| f["status"] == "completed" && f["currentWorkerSessionId"].is_null()), "{features:#}");
    assert_eq!(features["x-plan-version"], 3, "root keys droid does not know are kept");
    assert!(p.feature("feat-sub").get("x-fake").is_some(), "feature keys droid does not know are kept");
    let mul = p.feature("feat-mul");
    assert_eq!(mul["workerSessionIds"].as_array().unwrap().len(), 2, "a partial handoff runs the feature once more");
    assert_eq!(mul["completedWorkerSessionId"], mul["workerSessionIds"][1]);
    let fix = p.feature("fix-sub-order");
    assert_eq!((fix["milestone"].as_str(), fix.get("fulfills")), (Some("basics"), None), "a fix claims nothing");
    assert_eq!(
        fix["preconditions"],
        json!([]),
        "the lint made the orchestrator drop its precondition naming no feature"
    );
    assert_eq!(
        p.feature("scrutiny-validator-basics")["workerSessionIds"].as_array().unwrap().len(),
        2,
        "both validators ran again after the fix"
    );

    // handoffs: one per worker and validator session, droid's wrapper; workers' name real commits
    let handoffs = handoff_files(&p);
    let who: Vec<&str> = handoffs.iter().map(|h| h["featureId"].as_str().unwrap()).collect();
    assert_eq!(
        who,
        [
            "feat-add",
            "feat-sub",
            "scrutiny-validator-basics",
            "user-testing-validator-basics",
            "fix-sub-order",
            "scrutiny-validator-basics",
            "user-testing-validator-basics",
            "feat-mul",
            "feat-mul",
            "scrutiny-validator-more",
            "user-testing-validator-more"
        ]
    );
    for h in handoffs.iter().filter(|h| !h["featureId"].as_str().unwrap().contains("validator")) {
        let commit = h["commitId"].as_str().unwrap();
        assert_eq!(git(&p.repo, &["merge-base", "--is-ancestor", commit, "HEAD"]), "");
        assert!(p.feature(h["featureId"].as_str().unwrap())["workerSessionIds"]
            .as_array()
            .unwrap()
            .contains(&h["workerSessionId"]));
    }
    let states: Vec<&str> = handoffs.iter().map(|h| h["successState"].as_str().unwrap()).collect();
    assert_eq!(
        states,
        [
            "success", "success", "failure", "failure", "success", "success", "success", "partial", "success",
            "success", "success"
        ]
    );
    assert!(handoffs[2].get("commitId").is_none(), "validators change no code");

    // validation: droid's syntheses (the latest) and each round kept beside them
    let ut1 = p.json("validation/basics/user-testing/synthesis-round-1.json");
    assert_eq!(
        (ut1["round"].clone(), ut1["status"].clone(), ut1["failedAssertions"][0]["id"].clone()),
        (json!(1), json!("fail"), json!("VAL-CALC-002"))
    );
    assert_eq!(ut1["failedAssertions"][0]["reason"], "`sh calc.sh sub 5 3` printed `-2`, expected `2`");
    let ut = p.json("validation/basics/user-testing/synthesis.json");
    assert_eq!(
        (ut["round"].clone(), ut["status"].clone(), ut["previousRound"].clone()),
        (json!(2), json!("pass"), json!("validation/basics/user-testing/synthesis-round-1.json"))
    );
    let s1 = p.json("validation/basics/scrutiny/synthesis-round-1.json");
    assert_eq!(
        (s1["status"].clone(), s1["reviewsSummary"]["failedFeatures"].clone()),
        (json!("fail"), json!(["feat-sub"]))
    );
    assert_eq!(
        s1["validatorsRun"],
        json!({"test": {"passed": true, "command": "sh test.sh", "exitCode": 0}}),
        "what the runner ran from services.yaml, not the lint the model claims"
    );
    assert!(
        p.read("evidence/basics/scrutiny/round-1-test.txt").starts_with("$ sh test.sh\n"),
        "the command's output is kept"
    );
    assert_eq!(p.json("validation/basics/scrutiny/reviews/fix-sub-order.json")["status"], "pass");
    assert_eq!(p.read("evidence/basics/round-1/VAL-CALC-002.txt").trim(), "-2", "each round keeps its evidence");
    assert_eq!(p.read("evidence/basics/round-2/VAL-CALC-002.txt").trim(), "2");
    assert_eq!(p.json("validation/basics/user-testing/flows/round-1.json")["assertions"][1]["status"], "fail");
    assert_eq!(
        p.json("validation/basics/user-testing/flows/round-2.json")["assertions"][1]["evidence"],
        json!({"files": ["basics/round-2/VAL-CALC-002.txt"]})
    );
    let flow = p.json("validation/more/user-testing/flows/round-1.json");
    assert_eq!(flow["groupId"], "round-1");
    assert_eq!(flow["assertions"][0]["evidence"]["files"], json!(["more/round-1/VAL-CALC-003.txt"]));
    assert!(
        p.read("evidence/more/checks/round-1-VAL-CALC-003.txt")
            .starts_with("$ sh calc.sh mul 4 5 | grep -qx 20\nexit code: 0"),
        "the Check: command ran"
    );

    // validation-state.json: droid's statuses, our round and evidence beside them
    let vs = p.json("validation-state.json");
    for (id, m) in [("VAL-CALC-001", "basics"), ("VAL-CALC-002", "basics"), ("VAL-CALC-003", "more")] {
        assert_eq!(
            (vs["assertions"][id]["status"].as_str(), vs["assertions"][id]["validatedAtMilestone"].as_str()),
            (Some("passed"), Some(m)),
            "{id}: {vs:#}"
        );
    }
    assert_eq!(vs["assertions"]["VAL-CALC-002"]["round"], 2);
    assert_eq!(vs["assertions"]["VAL-CALC-003"]["evidence"][0], "evidence/more/checks/round-1-VAL-CALC-003.txt");

    // the progress log tells the story in droid's events, with the runner's own beside them
    let types = p.event_types();
    let worker = ["worker_selected_feature", "worker_started", "worker_completed"];
    let mut story = vec!["mission_created", "mission_accepted", "mission_run_started", "milestone_started"];
    story.extend(worker.repeat(2)); // feat-add, feat-sub
    story.push("milestone_validation_triggered");
    story.extend(worker.repeat(2)); // both validators fail
    story.extend(["validation_round", "fix_features_added"]);
    story.extend(worker.repeat(3)); // the fix, both validators again
    story.extend(["validation_round", "milestone_passed", "milestone_started"]);
    story.extend(worker.repeat(2)); // feat-mul twice
    story.push("milestone_validation_triggered");
    story.extend(worker.repeat(2));
    story.extend(["validation_round", "milestone_passed", "mission_completed"]);
    assert_eq!(types, story);
    let events = p.events();
    assert_eq!(events[4]["featureId"], "feat-add");
    let rounds: Vec<&Value> = events.iter().filter(|e| e["type"] == "validation_round").collect();
    assert_eq!(rounds.iter().map(|e| e["passed"].as_bool().unwrap()).collect::<Vec<_>>(), [false, true, true]);
    let completed: Vec<&Value> = events.iter().filter(|e| e["type"] == "worker_completed").collect();
    assert!(completed.iter().all(|e| e["handoff"]["whatWasImplemented"].is_string()), "each carries its handoff");

    // what each worker saw first: the mission's shared files (the same bytes for every worker,
    // so the prompt cache reads them), then its own feature, its assertions; nothing else
    let workers = model.sessions("worker");
    assert_eq!(workers.len(), 5);
    let shared_of =
        |first: &str| first[..first.find("# Your feature: ").expect("the task follows the shared files")].to_string();
    let shared = shared_of(&workers[0].first_user);
    assert!(
        shared.starts_with("# The mission's shared knowledge")
            && shared.contains("POSIX sh only")
            && shared.contains("test: sh test.sh"),
        "{shared}"
    );
    assert!(
        workers.iter().all(|w| shared_of(&w.first_user) == shared),
        "every worker starts from the same shared bytes"
    );
    let all_ids = ["feat-sub", "feat-add", "feat-mul", "fix-sub-order"];
    let all_assertions = ["VAL-CALC-001", "VAL-CALC-002", "VAL-CALC-003"];
    for w in &workers {
        let feature = feature_of(&w.first_user);
        let id = feature["id"].as_str().unwrap();
        assert!(w.first_user[shared.len()..].starts_with(&format!("# Your feature: {id}\n")));
        let named: Vec<&str> = feature["preconditions"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().split(' ').next().unwrap()).collect())
            .unwrap_or_default();
        assert!(
            w.first_user.contains("```json\n{\n  \"id\": "),
            "the feature reads as written alone:\n{}",
            w.first_user
        );
        for other in all_ids.iter().filter(|o| **o != id && !named.contains(o)) {
            assert!(!w.first_user.contains(other), "{id} saw {other}:\n{}", w.first_user);
        }
        let claimed: Vec<&str> =
            feature["fulfills"].as_array().map(|a| a.iter().map(|v| v.as_str().unwrap()).collect()).unwrap_or_default();
        for a in all_assertions {
            let fixes_it = id == "fix-sub-order" && a == "VAL-CALC-002";
            assert_eq!(w.first_user.contains(a), claimed.contains(&a) || fixes_it, "{id} and {a}:\n{}", w.first_user);
        }
        assert!(w.first_user.contains("POSIX sh only") && w.first_user.contains("test: sh test.sh"));
        assert!(w.first_user.contains("Write tests/test_<op>.sh first"), "the skill found by its front-matter name");
    }
    let add = workers.iter().find(|w| w.first_user.contains("# Your feature: feat-add\n")).unwrap();
    assert!(add.first_user.contains("### VAL-CALC-001: Adding two numbers\nThe user runs the calculator with `add` and two numbers.\nRun: `sh calc.sh add 2 3`\nExpect: `5`\nTool: terminal\nEvidence: output"));
    let retry = workers.iter().filter(|w| w.first_user.contains("# Your feature: feat-mul\n")).nth(1).unwrap();
    assert!(retry.first_user.contains("the tests are not written yet"));
    let fix_session = model.sessions("orchestrator").into_iter().next().unwrap();
    assert!(
        fix_session.first_user.contains("- VAL-CALC-002 (failed): `sh calc.sh sub 5 3` printed `-2`, expected `2`"),
        "{}",
        fix_session.first_user
    );
    assert!(
        fix_session.first_user.contains("- feat-sub [blocking] at ops/sub.sh:1: VAL-CALC-002"),
        "{}",
        fix_session.first_user
    );

    // the orchestrator's fix session went through the plan lint once
    let orchestrator: Vec<Seen> = model.seen().into_iter().filter(|s| s.role == "orchestrator").collect();
    assert!(
        orchestrator.iter().any(|s| s.results.iter().any(|(r, e)| *e && r.contains("unknown-dependency"))),
        "{orchestrator:#?}"
    );

    // droid's transcript lines (one per worker and validator session) and ours; no key anywhere
    let skeletons: Vec<Value> =
        p.read("worker-transcripts.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(skeletons.len(), 11);
    let first = skeletons[0]["skeleton"].as_str().unwrap();
    assert!(
        first.starts_with("## User\n# The mission's shared knowledge") && first.contains("# Your feature: feat-add\n"),
        "{first}"
    );
    assert!(skeletons[0]["skeleton"]
        .as_str()
        .unwrap()
        .contains("## Tool: bash\n{\n  \"command\": \"sh test.sh && git add -A"));
    assert!(p.read("sessions.jsonl").lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));
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
    feature(
        "feat-add",
        "add",
        "basics",
        &["VAL-CALC-001"],
        &[],
        json!({"behaviour": behaviour, "files": {"ops/add.sh": "echo $(( $1 + $2 ))\n", "tests/test_add.sh": "[ \"$(sh calc.sh add 2 3)\" = 5 ]\n"}}),
    )
}

fn sub_feature(behaviour: &str) -> Value {
    feature(
        "feat-sub",
        "sub",
        "basics",
        &["VAL-CALC-002"],
        &[],
        json!({"behaviour": behaviour, "files": {"ops/sub.sh": "echo $(( $1 - $2 ))\n", "tests/test_sub.sh": "[ \"$(sh calc.sh sub 5 3)\" = 2 ]\n"}}),
    )
}

#[test]
fn verified_completion_sends_a_false_commit_back_once_then_stops_the_feature() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(
        &model,
        LIMITS,
        ADD_ONLY,
        &one_milestone(json!([add_feature("bogus-commit-once"), sub_feature("bogus-commit-always")])),
    );
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(p.feature("feat-add")["status"], "completed", "the worker corrected its commit id after one refusal");
    assert_eq!(p.feature("feat-sub")["status"], "pending", "droid has no failed status: it goes back to pending");
    let state = p.json("state.json");
    assert_eq!((state["state"].as_str(), state["detailedState"].as_str()), (Some("paused"), Some("halted")));
    let reason = state["haltReason"].as_str().unwrap();
    assert!(
        reason.contains("feature feat-sub")
            && reason.contains("refused twice")
            && reason.contains("is not a commit in this repository"),
        "{reason}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(reason));
    let refusals: Vec<Seen> = model
        .seen()
        .into_iter()
        .filter(|s| s.role == "worker" && s.results.last().is_some_and(|(r, e)| *e && r.contains("handoff refused")))
        .collect();
    assert_eq!(refusals.len(), 2, "one refusal per feature, each sent back to the worker");
    assert_eq!(p.count("handoff_refused"), 1);
    let last = p.events().last().cloned().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["pauseReason"].as_str(), last["featureId"].as_str()),
        (Some("mission_paused"), Some("feature_retry_limit_exceeded"), Some("feat-sub"))
    );
    assert_droid_format(&p);
}

#[test]
fn a_check_command_overrides_a_validators_pass() {
    let contract = "# C\n\n### VAL-CALC-001: Adding\nRun: `sh calc.sh add 2 3`\nExpect: `5`\nTool: terminal\nEvidence: output\nCheck: test -f CHANGELOG.md || { echo 'no CHANGELOG.md'; exit 7; }\n";
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, "max_validation_rounds = 1", contract, &one_milestone(json!([add_feature("")])));
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let flow = p.json("validation/basics/user-testing/flows/round-1.json");
    assert_eq!(flow["assertions"][0]["status"], "pass", "the validator passed it: {flow:#}");
    let synthesis = p.json("validation/basics/user-testing/synthesis.json");
    assert_eq!(synthesis["status"], "fail");
    let reason = synthesis["failedAssertions"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "`test -f CHANGELOG.md || { echo 'no CHANGELOG.md'; exit 7; }` exited 7; its output ends with:"
        ),
        "{reason}"
    );
    let vs = p.json("validation-state.json");
    assert_eq!(vs["assertions"]["VAL-CALC-001"]["status"], "failed");
    assert!(p.read("evidence/basics/checks/round-1-VAL-CALC-001.txt").contains("exit code: 7\nno CHANGELOG.md"));
    let reason = p.json("state.json")["haltReason"].as_str().unwrap().to_string();
    assert_eq!(reason, "milestone basics did not pass validation in 1 round(s) (max_validation_rounds = 1)");
    assert!(
        model.sessions("user-testing")[0]
            .first_user
            .contains("- VAL-CALC-001: fail (output: evidence/basics/checks/round-1-VAL-CALC-001.txt)"),
        "validators are told the check result"
    );
    assert_droid_format(&p);
}

#[test]
fn a_failure_handoff_halts_with_its_reason_and_a_resume_runs_the_feature_again() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, ADD_ONLY, &one_milestone(json!([add_feature(""), sub_feature("blocked")])));
    let out = p.run(&["--yes", "--quiet"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(out.stdout.is_empty(), "--quiet prints nothing but the outcome (on stderr for a halt)");
    assert_eq!(p.feature("feat-add")["status"], "completed");
    assert_eq!(p.feature("feat-sub")["status"], "pending", "droid has no blocked status");
    let state = p.json("state.json");
    let hint = "its status is `pending` again: fix the cause (or edit the feature in features.json), then run the mission again";
    assert_eq!(
        state["haltReason"],
        format!(
            "feature feat-sub: the worker could not finish: the database this feature needs does not exist; {hint}"
        )
    );
    let handoffs = handoff_files(&p);
    assert_eq!(
        (handoffs[1]["featureId"].as_str(), handoffs[1]["successState"].as_str()),
        (Some("feat-sub"), Some("failure"))
    );
    assert_eq!(handoffs[1]["handoff"]["discoveredIssues"][0]["severity"], "blocking");
    // Running again after the person fixed the cause runs the pending feature again.
    let text_now = p.read("features.json").replace("\"behaviour\": \"blocked\"", "\"behaviour\": \"\"");
    std::fs::write(p.mission.join("features.json"), text_now).unwrap();
    let again = p.run(&[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(p.count("mission_resumed"), 1);
    assert_eq!(p.count("mission_run_started"), 2);
    assert_eq!(
        model.sessions("worker").iter().filter(|w| w.first_user.contains("# Your feature: feat-add")).count(),
        1,
        "nothing handed off is redone"
    );
    assert_droid_format(&p);
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
    bad_fix.fixes.get_mut("VAL-CALC-002").unwrap()["x-fake"]["files"] =
        json!({"ops/sub.sh": "echo $(( $2 - $1 ))\n", "tests/test_sub_zero.sh": "[ \"$(sh calc.sh sub 0 0)\" = 0 ]\n"});
    drop(model);
    let model = MissionModel::start(bad_fix);
    std::fs::write(p.repo.join("missions.toml"), model.config("max_validation_rounds = 2")).unwrap();
    git(&p.repo, &["commit", "-qam", "point at the model"]);
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        p.json("state.json")["haltReason"],
        "milestone basics did not pass validation in 2 round(s) (max_validation_rounds = 2)"
    );
    assert_eq!(p.json("validation/basics/user-testing/synthesis.json")["round"], 2);
    assert!(!p.mission.join("validation/basics/user-testing/synthesis-round-3.json").exists());
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
    assert_eq!(
        (p.json("state.json")["state"].as_str(), p.json("state.json")["detailedState"].as_str()),
        (Some("awaiting_input"), Some("awaiting_approval"))
    );

    // A mission without a plan is planned by the orchestrator (tests/cli/plan_flow.rs); this
    // model has no planning script, so planning stops and the mission halts with the reason.
    let fresh = missions(&p.repo, &["new", "Another goal", "--name", "other", "--quiet"]);
    assert!(fresh.status.success());
    let out = p.run(&[".missions/other"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("planning stopped: the model answered 3 times without ever calling a tool"),
        "{}",
        text(&out)
    );
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
    wait_for(&p, "worker_started", 1);
    let second = p.run(&[]);
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    let pid = first.id();
    assert!(
        String::from_utf8_lossy(&second.stderr)
            .contains(&format!("another `missions run` (pid {pid}) is running this mission")),
        "{}",
        text(&second)
    );
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn the_token_budget_halts_the_mission() {
    let model = MissionModel::start(Script::default());
    // Every model call costs 120 tokens: the first worker's two calls spend the budget.
    let p = Project::new(
        &model,
        "max_tokens_per_mission = 200",
        ADD_ONLY,
        &one_milestone(json!([add_feature(""), sub_feature("")])),
    );
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let reason = p.json("state.json")["haltReason"].as_str().unwrap().to_string();
    assert!(reason.contains("token budget is spent (240 of max_tokens_per_mission = 200)"), "{reason}");
    assert_eq!(p.feature("feat-add")["status"], "completed");
    assert_eq!(p.feature("feat-sub")["status"], "pending");
}

/// `max_cost` is held like the token budget: a warning when 80% is spent, then a halt naming
/// what was spent, counted at `[prices]`.
#[test]
fn the_cost_budget_warns_at_eighty_percent_then_halts_the_mission() {
    let model = MissionModel::start(Script::default());
    // Every model call is 100 input and 20 output tokens: $0.12 at these prices.
    let priced = ["fake-planner", "fake-worker", "fake-validator"]
        .map(|m| format!("\n[prices.\"{m}\"]\ninput = 1000.0\noutput = 1000.0\n"))
        .concat();
    let p = Project::new(&model, "max_cost = 0.3", ADD_ONLY, &one_milestone(json!([add_feature(""), sub_feature("")])));
    std::fs::write(p.repo.join("missions.toml"), format!("{}{priced}", model.config("max_cost = 0.3"))).unwrap();
    git(&p.repo, &["commit", "-qam", "prices"]);
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The first worker's two calls spent $0.24: 80% of the budget, said once.
    assert_eq!(stdout.matches("warning: budget: 80% of max_cost ($0.24 of $0.30) spent").count(), 1, "{}", text(&out));
    let reason = p.json("state.json")["haltReason"].as_str().unwrap().to_string();
    assert_eq!(reason, "feature feat-sub: the mission's cost budget is spent ($0.36 of max_cost = $0.30)");
    assert_eq!(
        (p.feature("feat-add")["status"].as_str(), p.feature("feat-sub")["status"].as_str()),
        (Some("completed"), Some("pending"))
    );
    let status: Value = serde_json::from_slice(&missions(&p.repo, &["status", "--format", "json"]).stdout).unwrap();
    assert_eq!(status["budgets"][0]["limit"], "max_cost", "{status:#}");
    assert!((status["cost"]["total"].as_f64().unwrap() - 0.36).abs() < 1e-9, "{status:#}");
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
    std::fs::write(
        p.repo.join("missions.toml"),
        model.config(LIMITS).replace(&model.addr.to_string(), &proxy.addr.to_string()),
    )
    .unwrap();
    git(&p.repo, &["commit", "-qam", "through the proxy"]);
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("worker feat-add: rate limited (HTTP 429), retrying in 1 s (attempt 2)"), "{}", text(&out));
    // The retry is shown, and recorded in the transcript; the state log keeps only state.
    assert!(p.read("sessions.jsonl").contains("\"kind\":\"retry\""));
    assert!(!p.read("progress_log.jsonl").contains("retry"));
}

/// A validator whose model never reports: one fresh session more, then the mission halts
/// saying no review happened; nothing passes on the `Check:` results or the workers' word.
#[test]
fn a_validator_that_never_reports_halts_the_mission_without_passing_anything() {
    let model = MissionModel::start(Script { mute: vec!["scrutiny"], ..Default::default() });
    let p = Project::new(&model, LIMITS, ADD_ONLY, &one_milestone(json!([add_feature("")])));
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let state = p.json("state.json");
    assert_eq!((state["state"].as_str(), state["detailedState"].as_str()), (Some("paused"), Some("halted")));
    let reason = state["haltReason"].as_str().unwrap();
    assert!(
        reason
            .contains("scrutiny-validator-basics of milestone basics gave no report in 2 sessions; no review happened"),
        "{reason}"
    );
    let failed: Vec<Value> = p.events().into_iter().filter(|e| e["type"] == "worker_failed").collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed
            .iter()
            .all(|e| e["featureId"] == "scrutiny-validator-basics"
                && e["failureReason"] == "worker_exited_without_handoff"),
        "{failed:?}"
    );
    let paused = p.events().pop().unwrap();
    assert_eq!(
        (paused["type"].as_str(), paused["pauseReason"].as_str()),
        (Some("mission_paused"), Some("feature_retry_limit_exceeded")),
        "{paused}"
    );
    assert!(model.sessions("user-testing").is_empty(), "the round stopped at the scrutiny validator");
    let vs = p.json("validation-state.json");
    assert_ne!(vs["assertions"]["VAL-CALC-001"]["status"], "passed", "{vs:#}");
    assert_eq!(p.feature("scrutiny-validator-basics")["status"], "pending");
    droid_format::assert_conforms(&p.mission);
}
