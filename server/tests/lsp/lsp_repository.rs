//! What a mission's git repository adds to its lint, in `missions check --run-checks` and live
//! in the editor (the real `missions lsp` over stdio): `Check:` commands run on the mission's
//! base commit in a throwaway worktree, a vacuous one flagged and an honest one not, cached
//! by command and commit so that linting again runs nothing.

use crate::stdio_client;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use stdio_client::{url, Server};

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn missions(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_missions")).args(args).current_dir(cwd).env_remove("RUST_LOG").output().unwrap()
}

/// A repository with a README and a mission whose contract has a vacuous `Check:` (the README
/// already exists on the base) and an honest one (the work writes `out.txt`). Each check
/// appends a line to `runs.log`, outside the repository, whenever it runs.
struct Fixture {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    mission: PathBuf,
    runs: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("README.md"), "# demo\n").unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "readme"]);
    let runs = dir.path().join("runs.log");
    let mission = repo.join(".missions/demo");
    std::fs::create_dir_all(&mission).unwrap();
    std::fs::write(repo.join(".git/info/exclude"), "/.missions/\n").unwrap();
    let log = runs.display();
    let contract = format!("# C\n\n### VAL-DOC-001: The readme exists\nTool: file-inspection\nEvidence: file(README.md)\nCheck: echo vacuous >> {log}; test -f README.md\n\n### VAL-OUT-001: The tool writes out.txt\nTool: terminal\nEvidence: output\nCheck: echo honest >> {log}; test -f out.txt\n");
    std::fs::write(mission.join("validation-contract.md"), contract).unwrap();
    std::fs::write(mission.join("features.json"), r#"{"features": [{"id": "feat-out", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-DOC-001", "VAL-OUT-001"]}]}"#).unwrap();
    Fixture { _dir: dir, repo, mission, runs }
}

fn runs(f: &Fixture) -> Vec<String> {
    let mut lines: Vec<String> =
        std::fs::read_to_string(&f.runs).unwrap_or_default().lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn check_run_checks_flags_only_the_vacuous_check_and_a_second_lint_runs_nothing() {
    let f = fixture();
    let head = git(&f.repo, &["rev-parse", "HEAD"]);
    // Without the flag nothing runs.
    let plain = missions(&f.repo, &["check"]);
    assert_eq!((plain.status.code(), String::from_utf8_lossy(&plain.stdout).to_string()), (Some(0), String::new()));
    assert_eq!(runs(&f), Vec::<String>::new());

    let first = missions(&f.repo, &["check", "--run-checks"]);
    let stdout = String::from_utf8_lossy(&first.stdout).to_string();
    assert_eq!(first.status.code(), Some(0), "warnings only: {stdout}");
    let expected = format!(
        ".missions/demo/validation-contract.md:6:8: warning[check-passes-on-base]: `Check:` of `VAL-DOC-001` already passes on the mission's base commit {}, before any work: it cannot tell the work from none; make it test what the feature adds\n",
        &head[..10]
    );
    assert_eq!(stdout, expected);
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("running 2 `Check:` command(s) on"),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(runs(&f), ["honest", "vacuous"], "each ran once, on the base");
    // The checks ran in a throwaway worktree, which is gone; the working tree is untouched.
    assert_eq!(git(&f.repo, &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1);
    assert_eq!(git(&f.repo, &["status", "--porcelain"]), "");

    let second = missions(&f.repo, &["check", "--run-checks"]);
    assert_eq!(String::from_utf8_lossy(&second.stdout), expected);
    assert!(
        !String::from_utf8_lossy(&second.stderr).contains("running"),
        "nothing to run: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(runs(&f), ["honest", "vacuous"], "the second lint ran no command (cached by command and commit)");

    // A new commit is a new base: the checks run on it.
    std::fs::write(f.repo.join("out.txt"), "made\n").unwrap();
    git(&f.repo, &["add", "out.txt"]);
    git(&f.repo, &["commit", "-qm", "out"]);
    let third = missions(&f.repo, &["check", "--run-checks", "--format", "json", ".missions/demo"]);
    let diags: Value = serde_json::from_slice(&third.stdout).unwrap();
    let codes: Vec<(&str, u64)> = diags
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap(), d["range"]["start"]["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [("check-passes-on-base", 5), ("check-passes-on-base", 10)],
        "both pass on a base that has the work"
    );
    assert_eq!(runs(&f).len(), 4);
}

#[test]
fn a_check_that_cannot_run_is_its_own_diagnostic() {
    let f = fixture();
    std::fs::write(f.mission.join("validation-contract.md"), "# C\n\n### VAL-DOC-001: Lint\nTool: terminal\nEvidence: output\nCheck: missions-test-tool-that-does-not-exist --all\n\n### VAL-OUT-001: Slow\nTool: terminal\nEvidence: output\nCheck: sleep 30\n").unwrap();
    std::fs::write(f.repo.join("missions.toml"), "[limits]\ncommand_timeout_s = 1\n").unwrap();
    let o = missions(&f.repo, &["check", "--run-checks"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("6:8: warning[check-cannot-run]: `Check:` of `VAL-DOC-001` could not run on the base commit")
            && stdout.contains("`missions-test-tool-that-does-not-exist` is not installed (command not found)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("11:8: warning[check-cannot-run]: `Check:` of `VAL-OUT-001` could not run")
            && stdout.contains("it timed out after 1 s"),
        "{stdout}"
    );
}

#[test]
fn the_editor_runs_the_checks_in_the_background_and_flags_only_the_vacuous_one() {
    let f = fixture();
    let mut server = Server::start(
        Command::new(env!("CARGO_BIN_EXE_missions")).arg("lsp").current_dir(&f.repo).stderr(Stdio::null()),
        Server::params(&f.repo, json!({})),
    );
    let contract = f.mission.join("validation-contract.md");
    let uri = url(&contract);
    server.open(&contract, "markdown", &std::fs::read_to_string(&contract).unwrap());
    // Published at once (no check result yet), then again when the checks come back.
    let published = server.diagnostics_until(&uri, |p| p["diagnostics"].as_array().is_some_and(|d| !d.is_empty()));
    let diagnostics = published["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{published:#}");
    assert_eq!(diagnostics[0]["code"], "check-passes-on-base");
    assert_eq!(diagnostics[0]["range"]["start"], json!({"line": 5, "character": 7}), "on the vacuous `Check:` line");
    assert_eq!(runs(&f), ["honest", "vacuous"]);
    // Hover keeps answering, and the server's own requests were never held up.
    let hover = server
        .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": {"line": 2, "character": 6}}));
    assert!(hover["result"]["contents"]["value"].as_str().unwrap().contains("VAL-DOC-001"));
    server.finish();
    // The command line lints from the same cache.
    let o = missions(&f.repo, &["check", "--run-checks"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("[check-passes-on-base]"));
    assert_eq!(runs(&f), ["honest", "vacuous"], "nothing ran again");
}
