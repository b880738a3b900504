//! What the command line says and does where a person reads it (the real binary): options in
//! each command's help only where they mean something, `run` said to plan first, `status
//! --format` described, a hint that names the mission when there are several (and works when
//! typed as printed), `new --name` never quietly renaming, and a locked git index refused
//! whatever the flags.

use crate::loop_support;

use loop_support::*;

fn help(args: &[&str]) -> String {
    let out = missions(std::path::Path::new("."), args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An option of a help text with its description (`-v, --verbose  Print …`, on one line or,
/// in a long help, on the next).
fn option(help: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = help.lines().collect();
    let at = lines.iter().position(|l| l.trim_start().starts_with(name) || l.contains(&format!(", {name}")))?;
    Some(lines[at..lines.len().min(at + 2)].iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "))
}

#[test]
fn verbose_and_quiet_appear_only_where_they_mean_something() {
    let top = help(&["--help"]);
    assert!(option(&top, "--verbose").is_none() && option(&top, "--quiet").is_none(), "{top}");
    for command in ["status", "lsp"] {
        let h = help(&[command, "--help"]);
        assert!(option(&h, "--verbose").is_none() && option(&h, "--quiet").is_none(), "{command}: {h}");
    }
    for command in ["new", "report"] {
        let h = help(&[command, "--help"]);
        assert!(option(&h, "--verbose").is_none(), "{command}: {h}");
        assert!(option(&h, "--quiet").is_some(), "{command}: {h}");
    }
    let check = option(&help(&["check", "--help"]), "--verbose").unwrap();
    assert!(check.contains("hints"), "{check}");
    for command in ["run", "demo"] {
        let verbose = option(&help(&[command, "--help"]), "--verbose").unwrap();
        assert!(verbose.contains("tool call"), "{command}: {verbose}");
        assert!(!verbose.contains("check"), "{command}: {verbose}");
    }
}

#[test]
fn the_top_level_help_says_run_plans_first_and_status_describes_its_format() {
    let top = help(&["--help"]);
    let run = top.lines().skip_while(|l| !l.trim_start().starts_with("run ")).take(3).collect::<Vec<_>>().join(" ");
    assert!(run.contains("plans it first"), "{top}");
    assert!(!top.contains("whose plan exists"), "{top}");
    let run_help = help(&["run", "--help"]);
    assert!(run_help.contains("is planned first") && run_help.contains("--yes"), "{run_help}");
    let status = help(&["status", "--help"]);
    let format = status.lines().skip_while(|l| !l.contains("--format")).take(3).collect::<Vec<_>>().join(" ");
    assert!(format.contains("json") && format.contains("tokens and cost"), "{status}");
}

/// With two missions the approval hint names the one that waits, and the command printed
/// runs it.
#[test]
fn with_two_missions_the_approval_hint_names_the_mission_and_works_as_printed() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, "", CONTRACT, &features());
    let out = missions(&p.repo, &["new", "Another mission", "--name", "other", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = p.run(&[".missions/calc"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let hint = stderr.split('`').nth(1).unwrap_or_default().to_string();
    assert_eq!(hint, "missions run --yes .missions/calc", "{stderr}");
    // Typed as printed (from the repository), it approves and runs that mission.
    let args: Vec<&str> = hint.split(' ').skip(1).collect();
    let out = missions(&p.repo, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(p.json("state.json")["detailedState"], "completed");
}

/// The only mission needs no name in the hint.
#[test]
fn with_one_mission_the_hint_is_short() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, "", CONTRACT, &features());
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `missions run --yes` to approve it"), "{}", text(&out));
}

#[test]
fn new_with_a_taken_name_is_refused_and_a_taken_goal_name_is_said() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    let first = missions(dir.path(), &["new", "Shout the input", "--name", "shout"]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("Next: `missions run` plans it"), "{}", text(&first));
    let again = missions(dir.path(), &["new", "Shout louder", "--name", "shout"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("a mission named `shout` exists already (.missions/shout)")
            && stderr.contains("choose another --name"),
        "{stderr}"
    );
    assert!(!dir.path().join(".missions/shout-2").exists(), "nothing made under another name");
    // A name made from the goal moves on to `-2`, and says so.
    let derived = missions(dir.path(), &["new", "Shout"]);
    assert!(derived.status.success(), "{}", text(&derived));
    let stdout = String::from_utf8_lossy(&derived.stdout);
    assert!(
        stdout.contains(".missions/shout-2") && stdout.contains("a mission named `shout` exists already"),
        "{stdout}"
    );
    // Two missions now: the next step names the new one, and works as printed.
    assert!(stdout.contains("Next: `missions run .missions/shout-2` plans it"), "{stdout}");
    let status = missions(dir.path(), &["status", ".missions/shout-2"]);
    assert!(status.status.success(), "{}", text(&status));
}

/// A locked index is refused with or without `--yes`, before the approval gate and before
/// any planner runs.
#[test]
fn a_locked_git_index_is_refused_whatever_the_flags() {
    let model = MissionModel::start(Script { plan: Some(Project::calculator_plan()), ..Default::default() });
    let planned = Project::new(&model, "", CONTRACT, &features());
    std::fs::write(planned.repo.join(".git/index.lock"), "").unwrap();
    for args in [&[][..], &["--yes"][..]] {
        let out = planned.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("git's index is locked"), "{args:?}: {}", text(&out));
    }
    assert_ne!(planned.json("state.json")["detailedState"], "awaiting_approval", "refused before the approval gate");

    let unplanned = Project::unplanned(&model, "");
    std::fs::write(unplanned.repo.join(".git/index.lock"), "").unwrap();
    let out = unplanned.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("git's index is locked"), "{}", text(&out));
    assert!(model.sessions("orchestrator").is_empty(), "no planner was paid for");
}
