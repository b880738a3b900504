//! The example command agents of examples/agents/ (one per role, the protocol of
//! docs/agents.md) run a whole mission through the real binary, as examples/agents/README.md
//! tells a person to: the orchestrator asks a question, plans with the answer, the plan waits
//! for approval, two workers commit their features, both validators pass the milestone.

use crate::droid_format;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn agents() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/agents").canonicalize().unwrap()
}

fn missions(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_missions")).args(args).current_dir(repo).env_remove("RUST_LOG").output().unwrap()
}

fn git(repo: &Path, args: &[&str]) {
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
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The missions.toml of examples/agents/README.md, with this clone's paths.
fn config() -> String {
    let agent = |script: &str| format!("command = [\"python3\", \"{}\"]", agents().join(script).display());
    format!(
        "[roles.orchestrator]\nprovider = \"command\"\n{}\n\n[roles.worker]\nprovider = \"command\"\n{}\n\n[roles.validator]\nprovider = \"command\"\n{}\n",
        agent("orchestrator.py"),
        agent("worker.py"),
        agent("validator.py")
    )
}

/// A repository with the README's missions.toml and the toy mission, planned (the question
/// answered) and waiting for approval.
fn planned_toy_mission(dir: &Path) -> (PathBuf, PathBuf) {
    let repo = dir.join("shout");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("README.md"), "# shout\n\nA tiny command-line tool.\n").unwrap();
    std::fs::write(repo.join("missions.toml"), config()).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "start"]);
    let out = missions(&repo, &["new", GOAL, "--name", "shout"]);
    assert!(out.status.success(), "{}", text(&out));
    let mission = repo.join(".missions/shout");
    (repo, mission)
}

const GOAL: &str = "Shout: a command that prints its arguments in upper case";

#[test]
fn the_example_agents_run_the_toy_mission_from_question_to_completion() {
    let readme = std::fs::read_to_string(agents().join("README.md")).unwrap();
    assert!(readme.contains(&format!("missions new \"{GOAL}\" --name shout")), "the README's command");
    assert!(
        readme.contains(&config().replace(&agents().display().to_string(), "/path/to/missions/examples/agents")),
        "the README's missions.toml:\n{}",
        config()
    );

    let dir = tempfile::tempdir().unwrap();
    let (repo, mission) = planned_toy_mission(dir.path());

    // The orchestrator asks first: `{"questions": [...]}` goes to mission.md.
    let out = missions(&repo, &["run"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let mission_md = std::fs::read_to_string(mission.join("mission.md")).unwrap();
    assert!(
        mission_md.contains("- Q: Should shout keep punctuation as it is (yes), or drop it (no)?\n  A: \n"),
        "{mission_md}"
    );
    std::fs::write(mission.join("mission.md"), mission_md.replace("  A: \n", "  A: yes, keep it\n")).unwrap();

    // With the answer it plans, writing the files itself; the plan waits for approval.
    let out = missions(&repo, &["run"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the plan is ready for review"), "{}", text(&out));
    let contract = std::fs::read_to_string(mission.join("validation-contract.md")).unwrap();
    assert!(contract.contains("Decided with the person: yes, keep it"), "{contract}");
    let check = missions(&repo, &["check", ".missions/shout"]);
    assert_eq!(check.status.code(), Some(0), "the plan checks clean: {}", text(&check));

    // Approved, the workers and validators finish it.
    let out = missions(&repo, &["run", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shout = Command::new("sh").args(["shout.sh", "make", "some", "noise!"]).current_dir(&repo).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&shout.stdout), "MAKE SOME NOISE!\n");
    droid_format::assert_conforms(&mission);

    let report: Value = serde_json::from_slice(&missions(&repo, &["report", "--format", "json"]).stdout).unwrap();
    assert_eq!(
        report["runs"]["byKind"],
        serde_json::json!({"orchestrator": 2, "scrutiny": 1, "user-testing": 1, "worker": 2}),
        "{report:#}"
    );
    assert_eq!(report["runs"]["byOutcome"], serde_json::json!({"succeeded": 6}), "{report:#}");
    assert_eq!(
        (report["features"]["total"].as_u64(), report["validation"]["milestones"][0]["passedInRound"].as_u64()),
        (Some(2), Some(1))
    );
    // The workers' declared tests are counted as tests.
    assert_eq!(report["code"]["testFiles"], 2, "{:#}", report["code"]);
    // Every session was the external command, and its final object is in the transcript.
    let transcript = std::fs::read_to_string(mission.join("sessions.jsonl")).unwrap();
    let finals = transcript
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["kind"] == "tool_call" && l["toolUseId"] == "command-final")
        .count();
    assert_eq!(finals, 6, "one final object per session");
}

/// A failed round goes to the example orchestrator, which adds a fix feature at the top of the
/// queue; the example worker has no script for it and hands off an honest `failure`, which
/// stops the mission with its reason.
#[test]
fn the_example_orchestrator_adds_fix_features_and_the_worker_says_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, mission) = planned_toy_mission(dir.path());
    // Planned (the question answered), then a third assertion that no feature's work
    // satisfies is added by hand and claimed, before the plan is approved.
    let out = missions(&repo, &["run"]);
    assert_eq!(out.status.code(), Some(4), "the question: {}", text(&out));
    let md = std::fs::read_to_string(mission.join("mission.md")).unwrap();
    std::fs::write(mission.join("mission.md"), md.replace("  A: \n", "  A: yes\n")).unwrap();
    let out = missions(&repo, &["run"]);
    assert_eq!(out.status.code(), Some(4), "the plan waits: {}", text(&out));
    let more = "\n### VAL-SHOUT-003: Shouting with an exclamation\nThe user runs `sh shout.sh ok` and sees `OK!`.\nTool: terminal\nEvidence: output(sh shout.sh ok)\nCheck: test \"$(sh shout.sh ok)\" = \"OK!\"\n";
    let contract = std::fs::read_to_string(mission.join("validation-contract.md")).unwrap();
    std::fs::write(mission.join("validation-contract.md"), format!("{contract}{more}")).unwrap();
    let features = std::fs::read_to_string(mission.join("features.json")).unwrap();
    std::fs::write(
        mission.join("features.json"),
        features.replacen("\"VAL-SHOUT-002\"", "\"VAL-SHOUT-002\", \"VAL-SHOUT-003\"", 1),
    )
    .unwrap();

    let out = missions(&repo, &["run", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let state: Value = serde_json::from_str(&std::fs::read_to_string(mission.join("state.json")).unwrap()).unwrap();
    let reason = state["haltReason"].as_str().unwrap();
    assert!(
        reason.starts_with("feature fix-val-shout-003: the worker could not finish: no script for fix-val-shout-003"),
        "{reason}"
    );
    let features: Value =
        serde_json::from_str(&std::fs::read_to_string(mission.join("features.json")).unwrap()).unwrap();
    let first = &features["features"][0];
    assert_eq!(
        (first["id"].as_str(), first["milestone"].as_str(), first.get("fulfills")),
        (Some("fix-val-shout-003"), Some("cli"), None),
        "{features:#}"
    );
    let log = std::fs::read_to_string(mission.join("progress_log.jsonl")).unwrap();
    assert!(log.contains("\"type\":\"fix_features_added\""), "{log}");
    droid_format::assert_conforms(&mission);
}

/// docs/agents.md names every required key of each final object, the three lines that say
/// where a session works, and every session kind's final tool, as the binary has them.
#[test]
fn the_protocol_page_names_what_the_binary_asks_for() {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/agents.md")).unwrap();
    use missions::agent::schema;
    for (tool, schema) in [
        ("submit_handoff", schema::handoff_schema()),
        ("submit_review", schema::review_schema()),
        ("submit_validation", schema::validation_schema()),
        ("submit_plan", schema::plan_done_schema()),
    ] {
        assert!(page.contains(&format!("`{tool}`")), "{tool}");
        for key in schema["required"].as_array().unwrap() {
            let key = key.as_str().unwrap();
            assert!(
                page.contains(&format!("`{key}`")) || page.contains(&format!("\"{key}\"")),
                "docs/agents.md does not name `{key}` of {tool}"
            );
        }
    }
    for kind in missions::agent::SessionKind::ALL {
        let system = kind.system_prompt(Path::new("/w"), Path::new("/m")).join("\n\n");
        for line in system.lines().filter(|l| {
            l.starts_with("Working directory: ")
                || l.starts_with("Mission folder: ")
                || l.starts_with("Your final tool: ")
        }) {
            // The line up to the path or tool name it gives.
            let shape = &line[..line.find(['/', '`']).unwrap() + 1];
            assert!(page.contains(shape), "docs/agents.md lacks the line {shape:?}");
        }
        assert!(page.contains(&format!("`{}`", kind.final_tool())), "{kind:?}");
    }
}
