//! Crash safety of `missions run`: the real binary is killed with SIGKILL at several points
//! (mid-worker, between features, mid-validation), paused with Ctrl-C (SIGINT), and run
//! again; the mission completes with every file whole, no handoff lost, no event twice.

use crate::loop_support;

use loop_support::*;
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn kill_at(p: &Project, kind: &str, n: usize) {
    let mut child = p.spawn_run(&["--yes"]);
    wait_for_run(p, &mut child, kind, n);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The identity of an event for the duplicate check: a step redone after a crash must not
/// log it again (paused/resumed/halted may repeat).
fn identity(e: &Value) -> Option<String> {
    let f = |k: &str| e[k].to_string();
    let key = match e["type"].as_str()? {
        "worker_selected_feature" | "worker_started" | "worker_completed" => f("workerSessionId"),
        "milestone_started" | "milestone_passed" | "milestone_validation_triggered" => f("milestone"),
        "validation_round" | "fix_features_added" => format!("{}/{}", f("milestone"), f("round")),
        "mission_completed" | "mission_accepted" | "mission_created" => String::new(),
        _ => return None,
    };
    Some(format!("{}:{key}", e["type"]))
}

fn check_consistent(p: &Project) {
    // Every JSON file parses; every JSONL line is whole.
    let mut stack = vec![p.mission.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let name = path.to_string_lossy().to_string();
            let file_name = path.file_name().unwrap().to_string_lossy().to_string();
            assert!(!(file_name.starts_with('.') && file_name.contains(".tmp-")), "a temporary file was left: {name}");
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".json") {
                serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            } else if name.ends_with(".jsonl") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(text.ends_with('\n'), "{name} ends with a whole line");
                for (i, line) in text.lines().enumerate() {
                    serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{name}:{}: {e}", i + 1));
                }
            }
        }
    }
    let events = p.events();
    let mut seen = HashSet::new();
    for e in &events {
        if let Some(id) = identity(e) {
            assert!(seen.insert(id.clone()), "event logged twice: {id}\n{:#?}", p.event_types());
        }
    }
    for e in events.iter().filter(|e| e["type"] == "worker_completed") {
        let sid = e["workerSessionId"].as_str().unwrap();
        assert!(p.handoff_of(sid).is_some(), "handoff of {sid} lost");
    }
    droid_format::assert_conforms(&p.mission);
}

#[test]
fn sigkill_at_several_points_then_resume_completes_with_consistent_files() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(40), ..sub_fix() });
    let p = Project::new(&model, "max_validation_rounds = 3\ncommand_timeout_s = 30", CONTRACT, &features());

    // 1. mid-worker: the first feature's session is running (its model answer is in flight).
    kill_at(&p, "worker_started", 1);
    assert_eq!(p.json("state.json")["activeFeature"]["featureId"], "feat-add");
    // 2. between features: right after the first feature completed.
    kill_at(&p, "worker_completed", 1);
    // 3. mid-validation: the first round of `basics` is running.
    kill_at(&p, "milestone_validation_triggered", 1);
    assert!(!p.mission.join("validation/basics/scrutiny/synthesis.json").exists() || p.count("validation_round") >= 1);
    // 4. mid-worker again, in the fix feature's session, with uncommitted work on disk.
    kill_at(&p, "fix_features_added", 1);
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    check_consistent(&p);
    assert_eq!(p.json("state.json")["detailedState"], "completed");
    assert_eq!(git(&p.repo, &["status", "--porcelain"]), "", "interrupted work was discarded, finished work committed");
    assert_eq!(p.sh("sh calc.sh sub 5 3; sh test.sh"), "2\nall tests passed");
    let features = p.json("features.json");
    assert!(features["features"].as_array().unwrap().iter().all(|f| f["status"] == "completed"), "{features:#}");
    // Every feature's last session handed off; a killed session left no handoff and was redone.
    for f in features["features"].as_array().unwrap() {
        let last = f["workerSessionIds"].as_array().unwrap().last().unwrap().as_str().unwrap();
        assert!(p.handoff_of(last).is_some(), "{}", f["id"]);
    }
    assert!(p.count("mission_resumed") >= 4, "{:?}", p.event_types());
    assert_eq!(p.count("mission_completed"), 1);
    // feat-mul hands off partial work once, so it runs twice.
    assert_eq!(
        p.completed_features(),
        ["feat-add", "feat-sub", "fix-sub-order", "feat-mul", "feat-mul"],
        "{:?}",
        p.event_types()
    );
    assert!(!p.mission.join("run.lock").exists(), "the stale locks of killed runs were taken over and released");
}

#[test]
fn ctrl_c_pauses_cleanly_and_run_resumes() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(60), ..sub_fix() });
    let p = Project::new(&model, "max_validation_rounds = 3", CONTRACT, &features());
    let mut child = p.spawn_run(&["--yes"]);
    wait_for_run(&p, &mut child, "worker_started", 2);
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("paused"), "{}", text(&out));
    let state = p.json("state.json");
    assert_eq!(state["detailedState"], "paused");
    assert_eq!(p.event_types().last().unwrap(), "mission_paused");
    assert!(!p.mission.join("run.lock").exists(), "a paused run releases its lock");
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    check_consistent(&p);
}

/// An external agent (`provider = "command"`) runs in a process group of its own, so the
/// runner's group kill does not reach it when the runner itself is killed. It dies with the
/// runner all the same: it cannot go on committing under the next run.
#[test]
fn an_external_agent_dies_with_a_runner_killed_with_sigkill() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, "command_timeout_s = 30", CONTRACT, &features());
    let marks = tempfile::tempdir().unwrap();
    let (started, finished) = (marks.path().join("started"), marks.path().join("finished"));
    let agent = marks.path().join("agent.sh");
    std::fs::write(
        &agent,
        format!("cat >/dev/null\ntouch '{}'\nsleep 3\ntouch '{}'\n", started.display(), finished.display()),
    )
    .unwrap();
    let config = model.config("command_timeout_s = 30").replace(
        "[roles.worker]\nprovider = \"anthropic\"\nmodel = \"fake-worker\"",
        &format!(
            "[roles.worker]\nprovider = \"command\"\ncommand = [\"sh\", \"{}\"]\nmodel = \"fake-worker\"",
            agent.display()
        ),
    );
    std::fs::write(p.repo.join("missions.toml"), config).unwrap();
    git(&p.repo, &["commit", "-qam", "workers are an external agent"]);

    // The agent finishes 3 s after it starts unless it dies with the runner.
    kill_runner_once_started(&p, &started, "external agent");
    assert!(!finished.exists(), "the external agent outlived the runner");
}

/// features.json broken on disk in the middle of a run (a person's half-saved edit): the run
/// cannot record the feature, so it halts saying why, instead of leaving the mission
/// `running` with nobody running it; fixed, the mission resumes and completes.
#[test]
fn a_features_json_broken_mid_run_halts_with_the_reason_and_resumes_once_fixed() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, "max_validation_rounds = 3\ncommand_timeout_s = 30", CONTRACT, &features());
    model.hold("worker");
    let mut run = p.spawn_run(&["--yes"]);
    wait_for_run(&p, &mut run, "worker_started", 1);
    let good = p.read("features.json");
    let broken = "{\"features\": [ {\"id\": \"feat-add\", BROKEN";
    std::fs::write(p.mission.join("features.json"), broken).unwrap();
    model.release("worker");
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "halted, as state.json says: {}", String::from_utf8_lossy(&out.stdout));
    let state = p.json("state.json");
    assert_eq!(state["detailedState"], "halted", "{state}");
    assert!(state["haltReason"].as_str().unwrap().contains("syntax errors"), "{state}");
    assert_eq!(p.read("features.json"), broken, "a file the runner cannot parse is never rewritten");
    let last = p.events().pop().unwrap();
    assert_eq!((last["type"].as_str(), last["halted"].as_bool()), (Some("mission_paused"), Some(true)), "{last}");

    std::fs::write(p.mission.join("features.json"), good).unwrap();
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    check_consistent(&p);
}

/// A command an agent ran left a process in the background (here `sleep` in a subshell of the
/// project's tests; a dev server is the usual one). A runner killed with SIGKILL cleans up
/// nothing itself, yet the process dies with it: it cannot write into the repository after the
/// run resumes.
#[test]
fn background_processes_of_commands_die_with_a_runner_killed_with_sigkill() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(1500), ..sub_fix() });
    let marks = tempfile::tempdir().unwrap();
    let (started, finished) = (marks.path().join("bg-started"), marks.path().join("bg-finished"));
    let mut plan = features();
    let background = format!(
        "( touch '{}'; sleep 4; touch '{}' ) >/dev/null 2>&1 &\nexit 0\n",
        started.display(),
        finished.display()
    );
    plan["features"][1]["x-fake"]["files"]["tests/test_bg.sh"] = serde_json::json!(background);
    let p = Project::new(&model, "command_timeout_s = 30", CONTRACT, &plan);

    kill_runner_once_started(&p, &started, "background process");
    assert!(!finished.exists(), "the background process outlived the runner");
}

/// Processes a killed run left behind that its supervisor did not reach (it was killed too)
/// are killed when the mission runs again, before anything else; processes of other missions
/// and untagged ones are left alone.
#[test]
fn a_resumed_run_first_kills_what_a_killed_run_left_running() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, "command_timeout_s = 30", CONTRACT, &features());
    let tagged = |mission: &std::path::Path| {
        let value = format!("1-dead:{}", mission.canonicalize().unwrap().display());
        std::process::Command::new("sleep").arg("60").env(missions::agent::processes::TAG_ENV, value).spawn().unwrap()
    };
    let elsewhere_dir = tempfile::tempdir().unwrap();
    let (mut orphan, mut elsewhere) = (tagged(&p.mission), tagged(elsewhere_dir.path()));
    let mut untagged = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(orphan.try_wait().unwrap().is_some(), "the orphan was killed");
    assert!(elsewhere.try_wait().unwrap().is_none() && untagged.try_wait().unwrap().is_none(), "the others live");
    for c in [&mut elsewhere, &mut untagged] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

/// The orchestrator's fix session is killed between its two edits of features.json: the
/// first added a fix feature the plan lint refuses (a precondition naming no feature). The
/// plan no longer lints, yet the next run is not refused: the fix session runs again first,
/// sees what the cut one added, repairs it, and the mission completes with the fix once.
#[test]
fn a_fix_session_killed_between_its_edits_runs_again_and_repairs_the_plan() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(40), ..sub_fix() });
    let p = Project::new(&model, "max_validation_rounds = 3\ncommand_timeout_s = 30", CONTRACT, &features());
    let mut run = p.spawn_run(&["--yes"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !p.read("features.json").contains("no-such-feature") {
        assert!(
            Instant::now() < deadline && run.try_wait().unwrap().is_none(),
            "the fix session never wrote its first edit: {:?}",
            p.event_types()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    model.hold("orchestrator");
    run.kill().unwrap();
    run.wait().unwrap();
    model.release("orchestrator");
    assert!(p.json("state.json")["activeFix"]["milestone"] == "basics", "{}", p.read("state.json"));
    let lint = missions(&p.repo, &["check", ".missions/calc"]);
    assert_eq!(lint.status.code(), Some(1), "the plan does not lint now: {}", text(&lint));

    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("an interrupted fix session left it so")
            || String::from_utf8_lossy(&out.stderr).contains("an interrupted fix session left it so"),
        "{}",
        text(&out)
    );
    let fixes: Vec<Value> = p.events().into_iter().filter(|e| e["type"] == "fix_features_added").collect();
    assert_eq!(fixes.len(), 1, "{fixes:?}");
    assert_eq!(fixes[0]["featureIds"], serde_json::json!(["fix-sub-order"]), "the cut session's fix, counted once");
    let ids: Vec<String> = p.json("features.json")["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.iter().filter(|i| *i == "fix-sub-order").count(), 1, "{ids:?}");
    assert!(p.json("state.json").get("activeFix").is_none());
    assert_eq!(p.json("state.json")["state"], "completed");
    check_consistent(&p);
}

/// The crash window of completion (issue 22, item 8): `mission_completed` is written before
/// state.json says `completed`, so a kill between them leaves the event and a state that is
/// not completed yet: the next run completes it without a second event. A state that says
/// `completed` without the event (written by an older runner) gets the event, once.
#[test]
fn the_completion_event_is_never_lost_nor_written_twice() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, "max_validation_rounds = 3\ncommand_timeout_s = 30", CONTRACT, &features());
    assert_eq!(p.run(&["--yes"]).status.code(), Some(0));
    let completed_state = p.read("state.json");
    let log = p.read("progress_log.jsonl");
    assert!(log.trim_end().ends_with("\"type\":\"mission_completed\"}"), "the event is the log's last line");

    // Killed after the event, before the state: the state still says running.
    let mut state = p.json("state.json");
    state["state"] = serde_json::json!("running");
    state["detailedState"] = serde_json::json!("running");
    std::fs::write(p.mission.join("state.json"), serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(p.json("state.json")["state"], "completed");
    assert_eq!(p.count("mission_completed"), 1, "{:?}", p.event_types());

    // A completed state without its event: the event is written, once.
    std::fs::write(p.mission.join("state.json"), &completed_state).unwrap();
    let without: String =
        log.lines().filter(|l| !l.contains("\"type\":\"mission_completed\"")).map(|l| format!("{l}\n")).collect();
    std::fs::write(p.mission.join("progress_log.jsonl"), without).unwrap();
    for _ in 0..2 {
        let out = p.run(&[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(text(&out).contains("already completed"), "{}", text(&out));
    }
    assert_eq!(p.count("mission_completed"), 1, "{:?}", p.event_types());
    assert!(!p.mission.join("run.lock").exists());
}

/// Runs the mission until `started` exists (`what`, a process of the mission, is up and
/// carries the mission's tag), SIGKILLs the runner, then waits until none of the mission's
/// processes is left: what the process would write later, it can no longer write.
fn kill_runner_once_started(p: &Project, started: &std::path::Path, what: &str) {
    let mut run = p.spawn_run(&["--yes"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !started.exists() {
        assert!(
            Instant::now() < deadline && run.try_wait().unwrap().is_none(),
            "the {what} never started: {:?}",
            p.event_types()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let tagged = || missions::agent::processes::tagged_processes(&p.mission);
    assert!(!tagged().is_empty(), "the {what} carries the mission's tag");
    run.kill().unwrap(); // SIGKILL: no cleanup in the runner
    run.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tagged().is_empty() {
        assert!(Instant::now() < deadline, "processes outlived the runner: {:?}", tagged());
        std::thread::sleep(Duration::from_millis(20));
    }
}
