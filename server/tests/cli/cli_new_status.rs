//! Black-box tests of `missions new` and `missions status` on real git repositories.

use std::path::Path;
use std::process::{Command, Output};

fn missions(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_missions")).args(args).current_dir(dir).output().expect("binary runs")
}

fn git_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new("git").args(["init", "-q"]).current_dir(dir.path()).status().unwrap().success();
    assert!(ok);
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn new_creates_the_folder_state_and_git_exclude() {
    let repo = git_repo();
    let sub = repo.path().join("src");
    std::fs::create_dir(&sub).unwrap();
    let o = missions(&sub, &["new", "Slack clone: auth & chat", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let dir = repo.path().join(".missions/slack-clone-auth-chat");
    assert_eq!(text(&o.stdout).trim(), dir.display().to_string());
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap()).unwrap();
    // droid's state.json: `mis_` + 8 hex, a droid state, no key of our own.
    assert_eq!(state["state"], "planning");
    let id = state["missionId"].as_str().unwrap();
    assert!(id.starts_with("mis_") && id.len() == 12 && id[4..].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert_eq!(
        state["workingDirectory"].as_str().map(Path::new).unwrap().canonicalize().unwrap(),
        repo.path().canonicalize().unwrap()
    );
    assert!(state.get("id").is_none() && state.get("uuid").is_none());
    assert_eq!(
        std::fs::read_to_string(dir.join("mission.md")).unwrap(),
        "# Slack clone: auth & chat\n\nSlack clone: auth & chat\n"
    );
    let wd = std::fs::read_to_string(dir.join("working_directory.txt")).unwrap();
    assert_eq!(Path::new(wd.trim()).canonicalize().unwrap(), repo.path().canonicalize().unwrap());
    let log = std::fs::read_to_string(dir.join("progress_log.jsonl")).unwrap();
    assert!(log.contains("\"type\":\"mission_created\""));
    // The mission folder never shows up in git status.
    let status = Command::new("git").args(["status", "--porcelain"]).current_dir(repo.path()).output().unwrap();
    assert_eq!(text(&status.stdout), "");
    // A second mission with the same goal gets its own folder.
    let o = missions(repo.path(), &["new", "Slack clone: auth & chat", "--name", "chat", "-q"]);
    assert!(text(&o.stdout).trim().ends_with(".missions/chat"));
}

#[test]
fn new_refuses_outside_a_repository_and_empty_goals() {
    let dir = tempfile::tempdir().unwrap();
    let o = missions(dir.path(), &["new", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("not inside a git repository"), "{}", text(&o.stderr));
    let repo = git_repo();
    assert_eq!(missions(repo.path(), &["new", "   "]).status.code(), Some(2));
    assert_eq!(missions(repo.path(), &["new", "goal", "--name", "!!!"]).status.code(), Some(2));
    let o = missions(repo.path(), &["new", "???"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("cannot make a folder name from the goal; pass --name"), "{}", text(&o.stderr));
}

#[test]
fn new_keeps_unicode_letters_in_the_folder_and_branch_name() {
    let repo = git_repo();
    let o = missions(repo.path(), &["new", "日本語のミッション", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).trim().ends_with(".missions/日本語のミッション"), "{}", text(&o.stdout));
    let o = missions(repo.path(), &["new", "Ünïcode café", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).trim().ends_with(".missions/ünïcode-café"), "{}", text(&o.stdout));
    assert!(repo.path().join(".missions/ünïcode-café/state.json").is_file());
    let o = missions(repo.path(), &["new", "goal", "--name", "漢字", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).trim().ends_with(".missions/漢字"));
}

#[test]
fn status_reports_counts_and_recent_events() {
    let repo = git_repo();
    let clean = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/clean");
    let o = missions(repo.path(), &["status", "--format", "json", clean.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let count = |m: &serde_json::Value| m.as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum::<u64>();
    // examples/clean is a finished demo run: four features, a scrutiny and a user-testing
    // validator for each of its two milestones, three assertions.
    assert_eq!(count(&v["features"]), 4);
    assert_eq!(count(&v["validators"]), 4);
    assert_eq!(count(&v["assertions"]), 3);
    assert!(v["assertions"]["passed"].as_u64().unwrap() > 0);
    assert!(!v["lastEvents"].as_array().unwrap().is_empty());
    let o = missions(repo.path(), &["status", clean.to_str().unwrap()]);
    assert!(text(&o.stdout).contains("features:") && text(&o.stdout).contains("recent events:"));
}

#[test]
fn status_without_a_mission_is_a_usage_error() {
    let repo = git_repo();
    let o = missions(repo.path(), &["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("missions new"), "{}", text(&o.stderr));
    missions(repo.path(), &["new", "one"]);
    missions(repo.path(), &["new", "two"]);
    let o = missions(repo.path(), &["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("several missions"), "{}", text(&o.stderr));
    assert_eq!(missions(repo.path(), &["status", ".missions/one"]).status.code(), Some(0));
    let o = missions(repo.path(), &["status", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}
