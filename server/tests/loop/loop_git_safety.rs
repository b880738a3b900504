//! `missions run` never destroys the person's work: a resume clears an interrupted worker's
//! leftovers only on the mission branch and sets them aside (a stash, a ref) instead of
//! deleting them; a dirty tree elsewhere is refused before any checkout; a tracked mission
//! folder is never rolled back; two missions never run in one repository at once; a new
//! mission never reuses an old branch; an interrupted planning is never run unapproved.
//! The real binary, a scripted model on loopback, real git repositories.

use crate::loop_support;

use loop_support::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const LIMITS: &str = "max_validation_rounds = 3\ncommand_timeout_s = 30";

/// One assertion, one feature: a short mission.
const SMALL_CONTRACT: &str = "# Validation contract: calculator

## Arithmetic

### VAL-CALC-001: Adding two numbers
Run: `sh calc.sh add 2 3`
Expect: `5`
Tool: terminal
Evidence: output
";

fn small_plan() -> Value {
    plan_for("add")
}

/// The one-feature plan with the operation named `op` (`add` in SMALL_CONTRACT).
fn plan_for(op: &str) -> Value {
    json!({"features": [
        {"id": "feat-add", "description": format!("Addition: `sh calc.sh {op} A B` prints A+B"), "skillName": "shell", "milestone": "basics",
         "fulfills": ["VAL-CALC-001"], "status": "pending", "workerSessionIds": [],
         "x-fake": {"files": {format!("ops/{op}.sh"): "echo $(( $1 + $2 ))\n", format!("tests/test_{op}.sh"): format!("[ \"$(sh calc.sh {op} 2 3)\" = 5 ] || {{ echo '{op} 2 3 is not 5'; exit 1; }}\n")}}}
    ]})
}

/// Starts `missions run --yes`, kills it (SIGKILL) once the first worker session started:
/// the worker is held, so its feature is in flight with nothing done yet.
fn interrupted_mid_feature(model: &MissionModel, p: &Project) -> String {
    model.hold("worker");
    let mut child = p.spawn_run(&["--yes"]);
    wait_for_run(p, &mut child, "worker_started", 1);
    child.kill().unwrap();
    child.wait().unwrap();
    model.release("worker");
    let base = p.json("state.json")["activeFeature"]["baseCommit"].as_str().unwrap().to_string();
    assert_eq!(git(&p.repo, &["symbolic-ref", "--short", "HEAD"]), "missions/calc");
    base
}

fn resumed_event(p: &Project) -> Value {
    p.events()
        .into_iter()
        .rev()
        .find(|e| e["type"] == "mission_resumed")
        .unwrap_or_else(|| panic!("no mission_resumed: {:?}", p.event_types()))
}

#[test]
fn a_resume_with_the_person_on_main_refuses_their_changes_and_never_moves_main() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, SMALL_CONTRACT, &small_plan());
    let main_before = git(&p.repo, &["rev-parse", "main"]);
    interrupted_mid_feature(&model, &p);
    // The interrupted worker had committed something on the mission branch.
    std::fs::write(p.repo.join("wip.txt"), "worker wip\n").unwrap();
    git(&p.repo, &["add", "wip.txt"]);
    git(&p.repo, &["commit", "-qm", "worker wip"]);
    let worker_commit = git(&p.repo, &["rev-parse", "HEAD"]);

    // The person goes back to main and works there: an edit and a new file.
    git(&p.repo, &["checkout", "-q", "main"]);
    std::fs::write(
        p.repo.join("calc.sh"),
        format!("{}# my precious edit\n", std::fs::read_to_string(p.repo.join("calc.sh")).unwrap()),
    )
    .unwrap();
    std::fs::write(p.repo.join("notes.txt"), "my new notes\n").unwrap();

    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("uncommitted changes") && err.contains("calc.sh") && err.contains("notes.txt"),
        "{}",
        text(&out)
    );
    // Nothing of theirs moved: still on main, main where it was, the edit and the file there.
    assert_eq!(git(&p.repo, &["symbolic-ref", "--short", "HEAD"]), "main");
    assert_eq!(git(&p.repo, &["rev-parse", "main"]), main_before);
    assert!(std::fs::read_to_string(p.repo.join("calc.sh")).unwrap().contains("# my precious edit"));
    assert_eq!(std::fs::read_to_string(p.repo.join("notes.txt")).unwrap(), "my new notes\n");
    assert_eq!(git(&p.repo, &["rev-parse", "missions/calc"]), worker_commit, "the mission branch is untouched too");

    // Committed, the resume goes on: on the mission branch, the worker's commit set aside.
    git(&p.repo, &["add", "-A"]);
    git(&p.repo, &["commit", "-qm", "my work on main"]);
    let main_now = git(&p.repo, &["rev-parse", "main"]);
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(git(&p.repo, &["rev-parse", "main"]), main_now, "main is never moved");
    assert_eq!(git(&p.repo, &["show", "main:notes.txt"]), "my new notes");
    let resumed = resumed_event(&p);
    let kept = resumed["setAside"]["commitsRef"].as_str().unwrap_or_else(|| panic!("{resumed}"));
    assert_eq!(kept, "refs/missions/interrupted/feat-add-1");
    assert_eq!(git(&p.repo, &["rev-parse", kept]), worker_commit, "the worker's commit stays reachable");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(kept) || String::from_utf8_lossy(&out.stderr).contains(kept),
        "the output says where it went: {}",
        text(&out)
    );
    assert!(!git(&p.repo, &["log", "--format=%s", "missions/calc"]).contains("worker wip"));
}

#[test]
fn a_resume_on_the_mission_branch_sets_aside_untracked_and_uncommitted_work_in_a_stash() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, SMALL_CONTRACT, &small_plan());
    interrupted_mid_feature(&model, &p);
    // Left on the mission branch while paused: an untracked file and a change to a tracked one.
    std::fs::write(p.repo.join("notes.txt"), "my notes while paused\n").unwrap();
    std::fs::write(
        p.repo.join("test.sh"),
        format!("{}# half-done\n", std::fs::read_to_string(p.repo.join("test.sh")).unwrap()),
    )
    .unwrap();

    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let resumed = resumed_event(&p);
    let stash = resumed["setAside"]["stash"].as_str().unwrap_or_else(|| panic!("{resumed}")).to_string();
    assert_eq!(resumed["setAside"]["stashMessage"], "missions: changes left by the interrupted worker on feat-add");
    assert!(resumed["setAside"]["commitsRef"].is_null(), "no commit was made: {resumed}");
    assert!(git(&p.repo, &["stash", "list"]).contains("missions: changes left by the interrupted worker on feat-add"));
    // Both are in the stash (untracked files in its third parent), and come back from it.
    assert_eq!(git(&p.repo, &["show", &format!("{stash}^3:notes.txt")]), "my notes while paused");
    assert!(git(&p.repo, &["show", &format!("{stash}:test.sh")]).contains("# half-done"));
    let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        shown.contains(&stash[..10]) && shown.contains("git stash apply"),
        "the output says where it went: {}",
        text(&out)
    );
    assert!(!p.repo.join("notes.txt").exists(), "set aside, not left in the way");
    // Nothing of the mission folder went into the stash.
    let stashed = git(&p.repo, &["show", "--name-only", "--format=", &format!("{stash}^3")]);
    assert!(!stashed.contains(".missions"), "{stashed}");
}

#[test]
fn a_tracked_mission_folder_is_never_rolled_back_by_a_resume() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(150), ..sub_fix() });
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    // The person commits the plan; workers' `git add -A` then commits the folder's changes too.
    git(&p.repo, &["add", "-f", ".missions/calc"]);
    git(&p.repo, &["commit", "-qm", "commit the plan"]);
    let mut child = p.spawn_run(&["--yes"]);
    wait_for_run(&p, &mut child, "worker_started", 2);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(p.feature("feat-add")["status"], "completed");
    let log_before = p.read("progress_log.jsonl");

    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(p.read("progress_log.jsonl").starts_with(&log_before), "the progress log was not rolled back");
    assert_eq!(
        p.feature("feat-add")["workerSessionIds"].as_array().unwrap().len(),
        1,
        "a finished feature is not redone"
    );
    assert_eq!(
        p.completed_features(),
        ["feat-add", "feat-sub", "fix-sub-order", "feat-mul", "feat-mul"],
        "{:?}",
        p.event_types()
    );
    assert_eq!(p.json("state.json")["detailedState"], "completed");
}

#[test]
fn a_second_mission_in_the_same_repository_is_refused_while_one_runs() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, SMALL_CONTRACT, &small_plan());
    let out = missions(&p.repo, &["new", "Another mission", "--name", "other", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    let other = p.repo.join(".missions/other");
    std::fs::write(other.join("validation-contract.md"), SMALL_CONTRACT.replace("calc.sh add", "calc.sh plus"))
        .unwrap();
    std::fs::write(other.join("features.json"), pretty(&plan_for("plus"))).unwrap();
    std::fs::write(other.join("AGENTS.md"), "# Conventions\nPOSIX sh only.\n").unwrap();
    std::fs::write(other.join("services.yaml"), "tests: sh test.sh\n").unwrap();
    std::fs::create_dir_all(other.join("skills/shell")).unwrap();
    std::fs::write(
        other.join("skills/shell/SKILL.md"),
        "---\nname: shell\ndescription: POSIX shell features\n---\nWrite tests first.\n",
    )
    .unwrap();

    model.hold("worker");
    let mut first = p.spawn_run(&[".missions/calc", "--yes"]);
    wait_for_run(&p, &mut first, "worker_started", 1);
    // Refused at once; were it not, it would wait on the held worker: give up after a while.
    let mut second = p.spawn_run(&[".missions/other", "--yes"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while second.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let finished = second.try_wait().unwrap().is_some();
    if !finished {
        second.kill().unwrap();
    }
    let second = second.wait_with_output().unwrap();
    model.release("worker");
    assert!(finished, "the second mission ran alongside the first: {}", text(&second));
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(".missions/calc") && err.contains("one at a time"),
        "names the running mission: {}",
        text(&second)
    );
    assert!(
        !other.join("progress_log.jsonl").exists()
            || !std::fs::read_to_string(other.join("progress_log.jsonl")).unwrap().contains("worker_started")
    );
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lock = git(&p.repo, &["rev-parse", "--git-common-dir"]);
    assert!(!p.repo.join(lock).join("missions-run.lock").exists(), "the repository lock is released");
    // Once the first is done, the second runs (on its own branch).
    let out = p.run(&[".missions/other", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_new_mission_never_reuses_an_old_branch_of_the_same_name() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, SMALL_CONTRACT, &small_plan());
    // An old mission's branch `missions/calc`, and main moved on since.
    git(&p.repo, &["checkout", "-q", "-b", "missions/calc"]);
    std::fs::write(p.repo.join("old.txt"), "old mission\n").unwrap();
    git(&p.repo, &["add", "old.txt"]);
    git(&p.repo, &["commit", "-qm", "old mission work"]);
    let old = git(&p.repo, &["rev-parse", "HEAD"]);
    git(&p.repo, &["checkout", "-q", "main"]);
    std::fs::write(p.repo.join("newer.txt"), "newer on main\n").unwrap();
    git(&p.repo, &["add", "newer.txt"]);
    git(&p.repo, &["commit", "-qm", "newer on main"]);

    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(p.json("state.json")["branch"], "missions/calc-2");
    assert_eq!(git(&p.repo, &["symbolic-ref", "--short", "HEAD"]), "missions/calc-2");
    assert_eq!(git(&p.repo, &["rev-parse", "missions/calc"]), old, "the old branch is untouched");
    let log = git(&p.repo, &["log", "--format=%s", "missions/calc-2"]);
    assert!(log.contains("newer on main") && !log.contains("old mission work"), "{log}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("missions/calc-2"), "{}", text(&out));
    let main_commit = git(&p.repo, &["rev-parse", "--short=10", "main"]);
    assert!(
        text(&out)
            .contains(&format!("the mission works on the new branch missions/calc-2, made from main ({main_commit})")),
        "the base is said: {}",
        text(&out)
    );
}

#[test]
fn a_planning_paused_halfway_plans_again_and_waits_for_approval_instead_of_running() {
    let plan = PlanScript { contract: SMALL_CONTRACT.to_string(), features: small_plan(), ..Default::default() };
    let model =
        MissionModel::start(Script { plan: Some(plan), latency: Duration::from_millis(100), ..Default::default() });
    let p = Project::unplanned(&model, LIMITS);
    let mut child = p.spawn_run(&[]);
    // Both plan files are written; the planner has not submitted the plan (held from here).
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.count("features_written") < 1 {
        assert!(Instant::now() < deadline && child.try_wait().unwrap().is_none(), "{:?}", p.event_types());
        std::thread::sleep(Duration::from_millis(1));
    }
    model.hold("orchestrator");
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    std::thread::sleep(Duration::from_millis(300));
    model.release("orchestrator");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(p.json("state.json")["detailedState"], "paused");
    assert_eq!(p.count("plan_submitted"), 0, "{:?}", p.event_types());

    // Without --yes: planning resumes, then the plan waits for approval; nothing runs.
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(p.json("state.json")["detailedState"], "awaiting_approval", "{}", text(&out));
    assert!(model.sessions("worker").is_empty(), "no feature ran on an unapproved plan");
    assert_eq!(p.count("planning_started"), 2, "{:?}", p.event_types());
    assert_eq!(p.count("mission_accepted"), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missions run --yes"), "{}", text(&out));

    // --yes approves it and the mission runs.
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(p.count("mission_accepted"), 1);
}

#[test]
fn a_hand_written_plan_paused_before_approval_still_starts_with_yes() {
    // No planner ever ran: the plan is the person's; `--yes` approves it as before.
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, SMALL_CONTRACT, &small_plan());
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(p.json("state.json")["detailedState"], "awaiting_approval");
    assert!(model.sessions("worker").is_empty());
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(model.sessions("orchestrator").is_empty(), "a hand-written plan is not planned again");
}

/// `.missions` may be a symlink to a folder outside the repository: the link is the mission's,
/// never dirt to refuse or leftovers to set aside, and a resume completes.
#[test]
fn a_mission_folder_behind_a_symlink_resumes_and_is_never_set_aside() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, SMALL_CONTRACT, &small_plan());
    interrupted_mid_feature(&model, &p);
    let outside = tempfile::tempdir().unwrap();
    let moved = outside.path().join(".missions");
    std::fs::rename(p.repo.join(".missions"), &moved).unwrap();
    std::os::unix::fs::symlink(&moved, p.repo.join(".missions")).unwrap();

    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(p.repo.join(".missions").is_symlink(), "the link stays where it was");
    assert_eq!(git(&p.repo, &["stash", "list"]), "", "nothing was stashed");
    assert_eq!(p.json("state.json")["detailedState"], "completed");
}

/// The mission branch deleted while the mission was stopped: it is made again where the
/// interrupted worker started, and the finished work stays.
#[test]
fn a_mission_branch_deleted_while_stopped_is_made_again_at_the_interrupted_features_start() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, SMALL_CONTRACT, &small_plan());
    let base = interrupted_mid_feature(&model, &p);
    git(&p.repo, &["checkout", "-q", "main"]);
    git(&p.repo, &["branch", "-D", "missions/calc"]);
    // main moves on meanwhile: the branch must come back where it was, not from main.
    std::fs::write(p.repo.join("later.txt"), "later on main\n").unwrap();
    git(&p.repo, &["add", "later.txt"]);
    git(&p.repo, &["commit", "-qm", "later on main"]);
    let later = git(&p.repo, &["rev-parse", "main"]);

    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(git(&p.repo, &["symbolic-ref", "--short", "HEAD"]), "missions/calc");
    assert_eq!(
        git(&p.repo, &["merge-base", "--is-ancestor", &base, "missions/calc"]),
        "",
        "the branch grew from where it was"
    );
    let contains_later = std::process::Command::new("git")
        .args(["merge-base", "--is-ancestor", &later, "missions/calc"])
        .current_dir(&p.repo)
        .status()
        .unwrap();
    assert!(!contains_later.success(), "the branch was made again at its own commit, not from main");
    assert_eq!(git(&p.repo, &["stash", "list"]), "", "nothing of the finished work was set aside");
    assert_eq!(git(&p.repo, &["status", "--porcelain"]), "");
}

/// With no interrupted feature to say where the deleted branch was, the person is asked.
#[test]
fn a_mission_branch_deleted_with_nothing_to_rebuild_it_from_is_refused_with_the_way_out() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, SMALL_CONTRACT, &small_plan());
    interrupted_mid_feature(&model, &p);
    let mut state = p.json("state.json");
    state.as_object_mut().unwrap().remove("activeFeature");
    std::fs::write(p.mission.join("state.json"), serde_json::to_string_pretty(&state).unwrap()).unwrap();
    git(&p.repo, &["checkout", "-q", "main"]);
    git(&p.repo, &["branch", "-D", "missions/calc"]);

    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the mission's branch missions/calc no longer exists; make it again"),
        "{}",
        text(&out)
    );
    assert_eq!(git(&p.repo, &["symbolic-ref", "--short", "HEAD"]), "main");
}

/// A stale `.git/index.lock` is named before any agent runs (every commit would fail on it).
#[test]
fn a_locked_git_index_is_refused_before_any_agent_runs() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, SMALL_CONTRACT, &small_plan());
    std::fs::write(p.repo.join(".git/index.lock"), "").unwrap();
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("git's index is locked"), "{}", text(&out));
    assert!(model.sessions("worker").is_empty(), "no worker was paid for");
    std::fs::remove_file(p.repo.join(".git/index.lock")).unwrap();
    assert_eq!(p.run(&["--yes"]).status.code(), Some(0));
}
