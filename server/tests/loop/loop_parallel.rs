//! Parallel workers (`max_parallel_workers > 1`): independent features of a milestone run at
//! once, each in its own git worktree, and are merged back into the mission branch in queue
//! order; a merge conflict halts the mission naming the files; no worktree is left behind.
//! The real binary, the scripted mission model on loopback, a real git repository.

use crate::loop_support;

use loop_support::*;
use serde_json::{json, Value};
use std::time::Duration;

const LIMITS: &str = "max_parallel_workers = 2\nmax_validation_rounds = 2\ncommand_timeout_s = 30";

const CALC: &str = "op=$1; shift\n[ -f \"ops/$op.sh\" ] || { echo \"unknown operation: $op\" >&2; exit 2; }\nexec sh \"ops/$op.sh\" \"$@\"\n";

/// add and sub are independent; mul depends on both. With `calc_header`, add and sub each
/// rewrite the first line of calc.sh differently (a conflict when merged).
fn plan(calc_header: bool) -> Value {
    let mut add = json!({"ops/add.sh": "echo $(( $1 + $2 ))\n", "tests/test_add.sh": "[ \"$(sh calc.sh add 2 3)\" = 5 ] || { echo 'add 2 3 is not 5'; exit 1; }\n"});
    let mut sub = json!({"ops/sub.sh": "echo $(( $1 - $2 ))\n", "tests/test_sub.sh": "[ \"$(sh calc.sh sub 5 3)\" = 2 ] || { echo 'sub 5 3 is not 2'; exit 1; }\n"});
    if calc_header {
        add["calc.sh"] = json!(format!("# calculator: add\n{CALC}"));
        sub["calc.sh"] = json!(format!("# calculator: sub\n{CALC}"));
    }
    json!({"features": [
        {"id": "feat-add", "description": "Addition: `sh calc.sh add A B` prints A+B", "skillName": "shell", "milestone": "basics",
         "fulfills": ["VAL-CALC-001"], "status": "pending", "workerSessionIds": [], "x-fake": {"files": add}},
        {"id": "feat-sub", "description": "Subtraction: `sh calc.sh sub A B` prints A-B", "skillName": "shell", "milestone": "basics",
         "fulfills": ["VAL-CALC-002"], "status": "pending", "workerSessionIds": [], "x-fake": {"files": sub}},
        {"id": "feat-mul", "description": "Multiplication: `sh calc.sh mul A B` prints A*B", "skillName": "shell", "milestone": "basics",
         "fulfills": ["VAL-CALC-003"], "status": "pending", "preconditions": ["feat-add", "feat-sub"], "workerSessionIds": [],
         "x-fake": {"files": {"ops/mul.sh": "echo $(( $1 * $2 ))\n", "tests/test_mul.sh": "[ \"$(sh calc.sh mul 4 5)\" = 20 ] || exit 1\n"}}}
    ]})
}

/// A validator's session (droid runs validators as features with workers of their own).
fn is_validator(event: &Value) -> bool {
    event["featureId"]
        .as_str()
        .is_some_and(|id| id.starts_with("scrutiny-validator-") || id.starts_with("user-testing-validator-"))
}

/// Worker requests in the order the model saw them: (feature id, turn).
fn worker_requests(model: &MissionModel) -> Vec<(String, usize)> {
    model
        .seen()
        .into_iter()
        .filter(|s| s.role == "worker")
        .map(|s| (feature_of(&s.first_user)["id"].as_str().unwrap_or("?").to_string(), s.turn))
        .collect()
}

/// Nothing of the worktrees stays: one worktree (the repository's own), no worktree branch,
/// no folder.
fn assert_no_worktree_left(p: &Project) {
    let list = git(&p.repo, &["worktree", "list", "--porcelain"]);
    assert_eq!(list.lines().filter(|l| l.starts_with("worktree ")).count(), 1, "{list}");
    let branches = git(&p.repo, &["branch", "--format=%(refname:short)"]);
    assert_eq!(branches.lines().collect::<Vec<_>>(), ["main", "missions/calc"], "{branches}");
    let root = p.repo.join(".git/missions-worktrees");
    let left: Vec<_> =
        std::fs::read_dir(&root).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    assert!(
        left.iter().all(|d| std::fs::read_dir(d).map(|mut x| x.next().is_none()).unwrap_or(true)),
        "worktree folders left: {left:?}"
    );
    assert_eq!(git(&p.repo, &["status", "--porcelain"]), "", "the tree is clean");
}

#[test]
fn independent_features_run_at_once_in_worktrees_and_merge_back_in_queue_order() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(150), ..Default::default() });
    let p = Project::new(&model, LIMITS, CONTRACT, &plan(false));
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(p.json("state.json")["detailedState"], "completed");
    assert!(p.json("state.json").get("activeFeature").is_none());

    // Concurrency: the model saw both independent features' first requests before either's
    // last one; mul only started after both had finished.
    let seen = worker_requests(&model);
    let pos = |id: &str, first: bool| {
        let hits: Vec<usize> = seen.iter().enumerate().filter(|(_, (f, _))| f == id).map(|(i, _)| i).collect();
        if first {
            hits[0]
        } else {
            *hits.last().unwrap()
        }
    };
    assert!(
        pos("feat-sub", true) < pos("feat-add", false) && pos("feat-add", true) < pos("feat-sub", false),
        "the two sessions overlap: {seen:?}"
    );
    assert!(pos("feat-mul", true) > pos("feat-add", false).max(pos("feat-sub", false)), "mul waits for both: {seen:?}");

    // The sessions ran in their worktrees, on their own branches.
    let started: Vec<Value> =
        p.events().into_iter().filter(|e| e["type"] == "worker_started" && !is_validator(e)).collect();
    let branches: Vec<&str> = started.iter().map(|e| e["worktreeBranch"].as_str().unwrap_or("-")).collect();
    assert_eq!(
        branches,
        ["missions/calc-wt/feat-add", "missions/calc-wt/feat-sub", "-"],
        "mul ran alone, in the working directory"
    );
    // Their transcripts overlap in time: each session started before the other ended.
    let transcript: Vec<Value> =
        p.read("sessions.jsonl").lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect();
    let session_of = |feature: &str| {
        started.iter().find(|e| e["featureId"] == feature).unwrap()["workerSessionId"].as_str().unwrap().to_string()
    };
    let ts = |feature: &str, kind: &str| {
        let sid = session_of(feature);
        transcript
            .iter()
            .find(|l| l["sessionId"] == sid.as_str() && l["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} of {feature}"))["ts"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(transcript.iter().filter(|l| l["kind"] == "session_start" && l["sessionKind"] == "worker").count(), 3);
    assert!(
        ts("feat-sub", "session_start") < ts("feat-add", "session_end")
            && ts("feat-add", "session_start") < ts("feat-sub", "session_end"),
        "session_start timestamps overlap"
    );
    assert!(ts("feat-mul", "session_start") > ts("feat-sub", "session_end").max(ts("feat-add", "session_end")));

    // Merged back in queue order (add, then sub), each a merge commit over its work; then mul.
    let first_parent = git(&p.repo, &["log", "--first-parent", "--format=%s", "main..HEAD"]);
    assert_eq!(first_parent.lines().collect::<Vec<_>>(), ["feat-mul", "merge feat-sub", "merge feat-add"]);
    let work = git(&p.repo, &["log", "--no-merges", "--format=%s", "main..HEAD"]);
    let mut work: Vec<&str> = work.lines().collect();
    work.sort();
    assert_eq!(work, ["feat-add", "feat-mul", "feat-sub"]);
    assert_eq!(git(&p.repo, &["rev-list", "--merges", "--count", "main..HEAD"]), "2");

    // Verified completion looked at the worktree branches' commits: every handoff names a
    // commit that is now on the mission branch.
    for e in p.events().iter().filter(|e| e["type"] == "worker_completed" && !is_validator(e)) {
        let commit = e["commitId"].as_str().unwrap();
        git(&p.repo, &["merge-base", "--is-ancestor", commit, "HEAD"]);
        let subject = git(&p.repo, &["log", "-1", "--format=%s", commit]);
        assert_eq!(subject, e["featureId"].as_str().unwrap());
    }
    let features = p.json("features.json");
    assert!(features["features"].as_array().unwrap().iter().all(|f| f["status"] == "completed"), "{features:#}");
    assert_eq!(
        p.sh("sh calc.sh add 2 3; sh calc.sh sub 5 3; sh calc.sh mul 4 5; sh test.sh"),
        "5\n2\n20\nall tests passed"
    );
    assert_no_worktree_left(&p);
    droid_format::assert_conforms(&p.mission);
}

#[test]
fn parallel_features_editing_the_same_line_halt_the_mission_naming_the_file() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(50), ..Default::default() });
    let p = Project::new(&model, LIMITS, CONTRACT, &plan(true));
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let state = p.json("state.json");
    assert_eq!(state["detailedState"], "halted");
    let reason = state["haltReason"].as_str().unwrap();
    assert!(reason.contains("merge conflict") && reason.contains("feat-sub") && reason.contains("calc.sh"), "{reason}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("calc.sh")
            || String::from_utf8_lossy(&out.stderr).contains("calc.sh"),
        "{}",
        text(&out)
    );
    let conflict: Vec<Value> = p.events().into_iter().filter(|e| e["type"] == "merge_conflict").collect();
    assert_eq!(conflict.len(), 1);
    assert_eq!(
        (conflict[0]["featureId"].as_str(), conflict[0]["files"].clone()),
        (Some("feat-sub"), json!(["calc.sh"]))
    );

    // The first feature in queue order was merged; the conflicting one waits, pending, and
    // the dependent one never started.
    assert_eq!(p.feature("feat-add")["status"], "completed");
    assert_eq!(p.feature("feat-sub")["status"], "pending");
    assert_eq!(p.feature("feat-mul")["status"], "pending");
    assert_eq!(git(&p.repo, &["log", "--first-parent", "--format=%s", "main..HEAD"]), "merge feat-add");
    assert!(std::fs::read_to_string(p.repo.join("calc.sh")).unwrap().starts_with("# calculator: add\n"));
    assert!(!p.repo.join(".git/MERGE_HEAD").exists(), "the conflicting merge was aborted");
    assert_no_worktree_left(&p);
}

#[test]
fn a_run_killed_mid_batch_leaves_worktrees_that_the_resume_removes_first() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(300), ..Default::default() });
    let p = Project::new(&model, LIMITS, CONTRACT, &plan(false));
    let mut child = p.spawn_run(&["--yes"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while p.count("worker_started") < 2 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early: {:?}", p.event_types());
        assert!(std::time::Instant::now() < deadline, "no batch started: {:?}", p.event_types());
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL, both sessions in flight
    child.wait().unwrap();
    let state = p.json("state.json");
    let active = state["activeFeature"].as_array().expect("a batch records its features as a list");
    assert_eq!(active.iter().map(|a| a["featureId"].as_str().unwrap()).collect::<Vec<_>>(), ["feat-add", "feat-sub"]);
    assert!(
        active.iter().all(|a| a["worktree"].as_str().is_some_and(|w| std::path::Path::new(w).is_dir())),
        "{active:?}"
    );
    assert_eq!(
        git(&p.repo, &["worktree", "list", "--porcelain"]).lines().filter(|l| l.starts_with("worktree ")).count(),
        3
    );

    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let resumed: Vec<Value> = p.events().into_iter().filter(|e| e["type"] == "mission_resumed").collect();
    assert_eq!(resumed.len(), 1);
    let mut reset: Vec<&str> =
        resumed[0]["resetFeatures"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    reset.sort();
    assert_eq!(reset, ["feat-add", "feat-sub"]);
    // droid's record of each cut-off session: an orphan `worker_failed`, once.
    let sessions: Vec<String> = active.iter().map(|a| a["sessionId"].as_str().unwrap().to_string()).collect();
    let failed: Vec<Value> = p.events().into_iter().filter(|e| e["type"] == "worker_failed").collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    for f in &failed {
        let session = f["workerSessionId"].as_str().unwrap();
        assert!(sessions.iter().any(|s| s == session), "{f}");
        assert_eq!(
            (f["spawnId"].as_str(), f["failureReason"].as_str()),
            (Some(format!("orphan_{session}").as_str()), Some("worker_exited_without_handoff"))
        );
    }
    assert_eq!(p.json("state.json")["detailedState"], "completed");
    assert_eq!(
        git(&p.repo, &["log", "--first-parent", "--format=%s", "main..HEAD"]).lines().collect::<Vec<_>>(),
        ["feat-mul", "merge feat-sub", "merge feat-add"]
    );
    assert_eq!(p.sh("sh test.sh"), "all tests passed");
    assert_no_worktree_left(&p);
}

#[test]
fn partial_work_from_a_worktree_is_merged_and_its_feature_runs_once_more_after_the_batch() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(20), ..Default::default() });
    let mut features = plan(false);
    features["features"][1]["x-fake"]["behaviour"] = json!("partial-once");
    let p = Project::new(&model, LIMITS, CONTRACT, &features);
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(p.feature("feat-sub")["workerSessionIds"].as_array().unwrap().len(), 2);
    let started: Vec<Value> =
        p.events().into_iter().filter(|e| e["type"] == "worker_started" && !is_validator(e)).collect();
    let runs: Vec<(&str, u64, bool)> = started
        .iter()
        .map(|e| (e["featureId"].as_str().unwrap(), e["attempt"].as_u64().unwrap(), e.get("worktreeBranch").is_some()))
        .collect();
    assert_eq!(runs, [("feat-add", 1, true), ("feat-sub", 1, true), ("feat-sub", 2, false), ("feat-mul", 1, false)]);
    let retry = model
        .sessions("worker")
        .into_iter()
        .filter(|s| feature_of(&s.first_user)["id"] == "feat-sub")
        .nth(1)
        .expect("a second feat-sub session");
    assert!(retry.first_user.contains("handed off partial work"), "the retry is told what was left undone");
    assert_eq!(
        git(&p.repo, &["log", "--first-parent", "--format=%s", "main..HEAD"]).lines().collect::<Vec<_>>(),
        ["feat-mul", "feat-sub", "merge feat-sub", "merge feat-add"],
        "the partial commit was merged, the retry built on it"
    );
    assert_eq!(p.json("state.json")["detailedState"], "completed");
    assert_no_worktree_left(&p);
}

/// The one window no progress event marks: a parallel feature's work is merged into the
/// mission branch, and the process dies before features.json says so (here it aborts at the
/// `after-merge` failpoint). The next run finds the merge, verifies the handoff again and
/// completes the feature instead of running it a second time over its own merged work.
#[test]
fn a_crash_right_after_a_merge_keeps_the_merged_feature_and_does_not_run_it_again() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(50), ..Default::default() });
    let p = Project::new(&model, LIMITS, CONTRACT, &plan(false));
    let crashed = command(&p.repo, &["run", "--yes"]).env("MISSIONS_FAILPOINT", "after-merge").output().unwrap();
    assert_eq!(crashed.status.code(), None, "aborted by a signal: {}", text(&crashed));
    assert_eq!(git(&p.repo, &["log", "--first-parent", "--format=%s", "-1", "missions/calc"]), "merge feat-add");
    assert_eq!(p.feature("feat-add")["status"], "in_progress", "the crash came before features.json was written");
    let sessions_of =
        |id: &str| model.sessions("worker").iter().filter(|s| feature_of(&s.first_user)["id"] == id).count();
    assert_eq!(sessions_of("feat-add"), 1);

    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(sessions_of("feat-add"), 1, "feat-add was not run again");
    let completed: Vec<Value> =
        p.events().into_iter().filter(|e| e["type"] == "worker_completed" && e["featureId"] == "feat-add").collect();
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0]["recovered"], true);
    let first_parent = git(&p.repo, &["log", "--first-parent", "--format=%s", "main..HEAD"]);
    assert_eq!(first_parent.lines().filter(|l| *l == "merge feat-add").count(), 1, "merged once: {first_parent}");
    assert!(p.json("features.json")["features"].as_array().unwrap().iter().all(|f| f["status"] == "completed"));
    assert_eq!(
        p.sh("sh calc.sh add 2 3; sh calc.sh sub 5 3; sh calc.sh mul 4 5; sh test.sh"),
        "5\n2\n20\nall tests passed"
    );
    assert_no_worktree_left(&p);
}
