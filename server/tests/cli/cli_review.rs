//! Black-box tests for the CLI problems a new-user review found: damaged files, signals,
//! exit codes and messages meant for people.

use crate::loop_support;

use loop_support::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A copy of `examples/<name>` in a temporary directory.
fn example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    let ok = std::process::Command::new("cp").arg("-r").arg(&src).arg(dir.path()).status().unwrap().success();
    assert!(ok);
    let mission = dir.path().join(name);
    (dir, mission)
}

fn report_json(cwd: &Path, mission: &Path) -> Value {
    let out = missions(cwd, &["report", mission.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn a_torn_or_undecodable_progress_log_line_loses_only_that_line() {
    let (dir, mission) = example("clean");
    let log = mission.join("progress_log.jsonl");
    let before = report_json(dir.path(), &mission);
    let status_before = missions(dir.path(), &["status", mission.to_str().unwrap(), "--format", "json"]);

    // A torn tail cutting a multibyte character: skipped silently.
    let mut bytes = std::fs::read(&log).unwrap();
    let original = bytes.clone();
    bytes.extend_from_slice(b"{\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"note\",\"text\":\"caf\xc3");
    std::fs::write(&log, &bytes).unwrap();
    let torn = report_json(dir.path(), &mission);
    assert_eq!(torn, before, "a torn tail changes nothing, not even the notes");
    let status = missions(dir.path(), &["status", mission.to_str().unwrap(), "--format", "json"]);
    assert_eq!(status.stdout, status_before.stdout, "{}", text(&status));
    assert!(!String::from_utf8_lossy(&status.stderr).contains("warning"), "{}", text(&status));

    // A bad line in the middle: skipped with a note; every number is the same.
    let cut = original.iter().position(|b| *b == b'\n').unwrap() + 1;
    let mut bytes = original[..cut].to_vec();
    bytes.extend_from_slice(b"{\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"note\",\"text\":\"caf\xc3\"}\n");
    bytes.extend_from_slice(&original[cut..]);
    std::fs::write(&log, &bytes).unwrap();
    let mut middle = report_json(dir.path(), &mission);
    let notes = middle["notes"].as_array().cloned().unwrap_or_default();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().contains("progress_log.jsonl: 1 broken line(s) skipped: line 2")),
        "{notes:?}"
    );
    middle["notes"] = before["notes"].clone();
    assert_eq!(middle, before);
    let out = missions(dir.path(), &["report", mission.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("progress_log.jsonl: 1 broken line(s) skipped"),
        "{}",
        text(&out)
    );
    let status = missions(dir.path(), &["status", mission.to_str().unwrap()]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("warning: progress_log.jsonl: 1 broken line(s)"),
        "{}",
        text(&status)
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains("recent events:"), "{}", text(&status));
}

#[test]
fn a_milestone_that_has_not_happened_shows_no_negative_zero() {
    let (dir, mission) = example("clean");
    let out = missions(dir.path(), &["report", mission.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("-0.0"), "{}", text(&out));
    let out = missions(dir.path(), &["report", mission.to_str().unwrap(), "--format", "json"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("-0.0"), "{}", text(&out));
}

/// SIGHUP (the terminal closed, the ssh connection dropped) pauses like Ctrl-C and SIGTERM:
/// state.json says `paused`, the lock is released, and the next run resumes.
#[test]
fn sighup_pauses_cleanly_and_run_resumes() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(60), ..sub_fix() });
    let p = Project::new(&model, "max_validation_rounds = 3", CONTRACT, &features());
    let mut child = p.spawn_run(&["--yes"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.count("worker_started") < 1 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before a feature started: {:?}", p.event_types());
        }
        assert!(Instant::now() < deadline, "no feature started: {:?}", p.event_types());
        std::thread::sleep(Duration::from_millis(2));
    }
    // Twice, as when the kernel and the closing shell both send it.
    for _ in 0..2 {
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGHUP);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(p.json("state.json")["state"], "paused");
    assert_eq!(p.event_types().last().unwrap(), "mission_paused");
    assert!(!p.mission.join("run.lock").exists(), "a paused run releases its lock");
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(p.json("state.json")["state"], "completed");
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A git repository with missions.toml (never reached: these runs stop before any model)
/// and a new mission `toy` whose contract is the clean example's.
fn repo_with_plan(features: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().to_path_buf();
    git(&repo, &["init", "-q"]);
    let roles: String = ["orchestrator", "worker", "validator"]
        .iter()
        .map(|r| format!("[roles.{r}]\nprovider = \"command\"\ncommand = [\"true\"]\n"))
        .collect();
    std::fs::write(repo.join("missions.toml"), roles).unwrap();
    std::fs::write(repo.join(".git/info/exclude"), "/missions.toml\n").unwrap();
    git(&repo, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init"]);
    let out = missions(&repo, &["new", "Toy", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mission = repo.join(".missions/toy");
    let clean = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/clean");
    std::fs::copy(clean.join("validation-contract.md"), mission.join("validation-contract.md")).unwrap();
    std::fs::write(mission.join("features.json"), features).unwrap();
    (dir, repo)
}

#[test]
fn a_torn_plan_is_explained_to_the_person_not_to_the_planner() {
    let clean = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/clean/features.json")).unwrap();
    let (_dir, repo) = repo_with_plan(&clean[..300]);
    let out = missions(&repo, &["run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(!err.contains("submit_plan"), "the planner's instruction leaked:\n{err}");
    assert!(err.contains("error(s); fix them, then run the mission again"), "{err}");
    assert!(err.contains("features.json:1:1: error[json-syntax]"), "{err}");
}

#[test]
fn a_plan_that_is_not_utf8_is_named_as_such() {
    let (_dir, repo) = repo_with_plan(b"{\"features\": [\n  \"caf\xc3(\"]}");
    let out = missions(&repo, &["run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(!err.contains("the plan is incomplete"), "{err}");
    assert!(err.contains("features.json: not valid UTF-8 (first bad byte at line 2, byte column 7)"), "{err}");
}

#[test]
fn check_reports_a_torn_validation_state_as_a_diagnostic_and_checks_the_rest() {
    let (dir, mission) = example("clean");
    std::fs::write(mission.join("validation-state.json"), "{\"assertions\": {\"VAL").unwrap();
    std::fs::write(
        mission.join("validation-contract.md"),
        std::fs::read_to_string(mission.join("validation-contract.md")).unwrap() + "\n### VAL-BAD-1: broken id\n",
    )
    .unwrap();
    let out = missions(dir.path(), &["check", "clean"]);
    assert_eq!(out.status.code(), Some(1), "an error diagnostic, not unreadable input: {}", text(&out));
    let o = stdout(&out);
    assert!(o.contains("clean/validation-state.json:1:20: error[json-syntax]: not a valid validation state (EOF while parsing a string)"), "{o}");
    assert!(
        o.contains("clean/validation-contract.md:") && o.contains("[malformed-id]"),
        "the documents are still checked:\n{o}"
    );
    assert!(!stderr(&out).contains("missions: clean/validation-state.json"), "{}", text(&out));
    let out = missions(dir.path(), &["check", "clean", "--format", "json"]);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        rows.as_array().unwrap().iter().any(|r| r["path"] == "clean/validation-state.json"
            && r["range"]["start"] == serde_json::json!({"line": 0, "character": 19})),
        "{rows:#}"
    );
}

#[test]
fn check_counts_mission_folders_not_files() {
    let (dir, _mission) = example("broken");
    let out = missions(dir.path(), &["check", "broken/plan/features.json", "broken/plan/validation-contract.md"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).trim_end().ends_with("in 1 mission"), "{}", text(&out));
}

#[test]
fn demo_keep_on_a_file_or_a_non_empty_folder_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = missions(dir.path(), &["demo", "--keep", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("not a folder"), "{}", text(&out));
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("mine.txt"), "keep me").unwrap();
    let out = missions(dir.path(), &["demo", "--keep", full.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("not empty"), "{}", text(&out));
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1, "nothing written");
}

#[test]
fn report_html_prints_where_the_page_went_instead_of_the_tables() {
    let (dir, mission) = example("clean");
    let out = missions(dir.path(), &["report", mission.to_str().unwrap(), "--html", "r.html"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let page = dir.path().join("r.html");
    assert!(std::fs::read_to_string(&page).unwrap().ends_with("</html>\n"));
    assert_eq!(stdout(&out), format!("wrote the report to {}\n", page.display()));
    let out = missions(dir.path(), &["report", mission.to_str().unwrap(), "--html", "r.html", "--format", "json"]);
    assert!(
        serde_json::from_slice::<Value>(&out.stdout).is_ok(),
        "JSON asked for by name is still printed: {}",
        text(&out)
    );
}

#[test]
fn status_and_report_agree_on_a_hand_written_plan() {
    let (dir, mission) = example("clean");
    for f in ["state.json", "mission.md", "progress_log.jsonl", "validation-state.json"] {
        let _ = std::fs::remove_file(mission.join(f));
    }
    let status = missions(dir.path(), &["status", mission.to_str().unwrap(), "--format", "json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let report = report_json(dir.path(), &mission);
    assert_eq!(status["status"], "planning");
    assert_eq!(report["mission"]["status"], status["status"]);
}

/// droid's writes are not atomic: a handoff it was writing when it stopped is half a file.
/// `status` names it, `report` notes it, `check` still checks the rest; nothing is rewritten.
#[test]
fn a_half_written_handoff_of_droid_is_named_and_the_rest_still_reads() {
    // `cp -r` puts the folder at the top of the temporary directory.
    let (dir, _) = example("droid/all-event-types-paused");
    let mission = dir.path().join("all-event-types-paused");
    let check_before = missions(dir.path(), &["check", mission.to_str().unwrap()]);
    let handoff = std::fs::read_dir(mission.join("handoffs")).unwrap().map(|e| e.unwrap().path()).min().unwrap();
    let whole = std::fs::read(&handoff).unwrap();
    std::fs::write(&handoff, &whole[..whole.len() / 2]).unwrap();
    let name = handoff.file_name().unwrap().to_string_lossy().to_string();

    let status = missions(dir.path(), &["status", mission.to_str().unwrap()]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let err = String::from_utf8_lossy(&status.stderr);
    assert!(err.contains("warning") && err.contains(&name) && err.contains("not a handoff"), "{}", text(&status));
    assert!(String::from_utf8_lossy(&status.stdout).contains("paused"), "{}", text(&status));

    let report = report_json(dir.path(), &mission);
    let notes: Vec<&str> = report["notes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(notes.iter().any(|n| n.starts_with(&format!("handoffs/{name}: not a handoff"))), "{notes:?}");
    assert_eq!(report["runs"]["total"], 7, "the runs come from the progress log, whole");

    let check = missions(dir.path(), &["check", mission.to_str().unwrap()]);
    assert_eq!(
        (check.status.code(), &check.stdout),
        (check_before.status.code(), &check_before.stdout),
        "{}",
        text(&check)
    );
    assert_eq!(std::fs::read(&handoff).unwrap(), &whole[..whole.len() / 2], "never rewritten");
}
