//! The tools on real temporary folders and real processes: confinement, exact edits,
//! .gitignore, bash timeouts that kill forked children, head+tail truncation, the sandbox.

use missions::agent::tools::sandbox;
use missions::agent::tools::{CommandSettings, ToolOutput, Toolbox, WritePolicy};
use missions::agent::CancellationToken;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Setup {
    _dir: tempfile::TempDir,
    outside: PathBuf,
    wd: PathBuf,
    mission: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let wd = dir.path().join("repo");
    let mission = wd.join(".missions/m");
    std::fs::create_dir_all(&mission).unwrap();
    std::fs::create_dir_all(wd.join("src")).unwrap();
    std::fs::write(wd.join("src/lib.rs"), "fn a() {}\nfn b() {}\n").unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "outside the working directory").unwrap();
    Setup { outside, wd, mission, _dir: dir }
}

fn settings(timeout_s: u64) -> CommandSettings {
    CommandSettings {
        default_timeout: Duration::from_secs(timeout_s),
        removed_env: vec![],
        added_env: vec![],
        sandbox: None,
        write_policy: WritePolicy::WorkingDirectory,
    }
}

fn toolbox(s: &Setup, policy: WritePolicy) -> Toolbox {
    Toolbox::new(&s.wd, &s.mission, policy, "ses-1", settings(5)).unwrap()
}

async fn call(tb: &mut Toolbox, name: &str, args: Value) -> ToolOutput {
    tb.run(name, &args, &CancellationToken::new()).await
}

#[tokio::test]
async fn every_escape_attempt_is_refused() {
    let s = setup();
    std::os::unix::fs::symlink("/", s.wd.join("root-link")).unwrap();
    std::os::unix::fs::symlink(&s.outside, s.wd.join("parent-link")).unwrap();
    let mut tb = toolbox(&s, WritePolicy::WorkingDirectory);
    let attempts = [
        ("read_file", json!({"path": "../outside/secret.txt"})),
        ("read_file", json!({"path": "src/../../outside/secret.txt"})),
        ("read_file", json!({"path": "/etc/passwd"})),
        ("read_file", json!({"path": "root-link/etc/passwd"})),
        ("read_file", json!({"path": "parent-link/secret.txt"})),
        ("write_file", json!({"path": "../escape.txt", "content": "x"})),
        ("write_file", json!({"path": "/tmp/escape.txt", "content": "x"})),
        ("write_file", json!({"path": "parent-link/new.txt", "content": "x"})),
        ("write_file", json!({"path": "root-link/tmp/escape.txt", "content": "x"})),
        ("edit_file", json!({"path": "parent-link/secret.txt", "old": "outside", "new": "inside"})),
        ("list_files", json!({"path": "root-link"})),
        ("list_files", json!({"path": ".."})),
        ("search", json!({"pattern": "root", "path": "/etc"})),
        ("search", json!({"pattern": "outside", "path": "parent-link"})),
    ];
    for (tool, args) in attempts {
        let out = call(&mut tb, tool, args.clone()).await;
        assert!(out.is_error, "{tool} {args} was allowed: {}", out.content);
        assert!(!out.content.contains("outside the working directory\n"), "{}", out.content);
    }
    assert_eq!(std::fs::read_to_string(s.outside.join("secret.txt")).unwrap(), "outside the working directory");
    assert!(!s.outside.join("new.txt").exists() && !Path::new("/tmp/escape.txt").exists());
    // A search of the whole tree does not follow the symlinks out either.
    let out = call(&mut tb, "search", json!({"pattern": "outside the working"})).await;
    assert!(!out.is_error && out.content.starts_with("no match"), "{}", out.content);
}

#[tokio::test]
async fn the_mission_folder_is_readable_but_writes_follow_the_role() {
    let s = setup();
    std::fs::write(s.mission.join("features.json"), "{\"features\": []}\n").unwrap();
    let abs = s.mission.canonicalize().unwrap().join("features.json").display().to_string();
    let mut worker = toolbox(&s, WritePolicy::WorkingDirectory);
    let read = call(&mut worker, "read_file", json!({"path": abs})).await;
    assert_eq!(read, ToolOutput::ok("1\t{\"features\": []}\n"));
    let w = call(&mut worker, "write_file", json!({"path": ".missions/m/features.json", "content": "{}"})).await;
    assert!(w.is_error && w.content.contains("workers read but never write"), "{}", w.content);
    let mut validator = toolbox(&s, WritePolicy::EvidenceOnly);
    assert!(call(&mut validator, "write_file", json!({"path": "src/lib.rs", "content": "fixed"})).await.is_error);
    let ok =
        call(&mut validator, "write_file", json!({"path": ".missions/m/evidence/m1/run.log", "content": "ok"})).await;
    assert!(!ok.is_error, "{}", ok.content);
    let mut orchestrator = toolbox(&s, WritePolicy::PlanFiles);
    // features.json only once the contract exists (correctness before features).
    let early = call(&mut orchestrator, "write_file", json!({"path": abs, "content": "{}"})).await;
    assert!(early.is_error && early.content.contains("written after validation-contract.md"), "{}", early.content);
    let contract = call(
        &mut orchestrator,
        "write_file",
        json!({"path": ".missions/m/validation-contract.md", "content": "# C\n"}),
    )
    .await;
    assert!(!contract.is_error, "{}", contract.content);
    assert!(!call(&mut orchestrator, "write_file", json!({"path": abs, "content": "{}"})).await.is_error);
    assert!(
        call(&mut orchestrator, "write_file", json!({"path": ".missions/m/state.json", "content": "{}"}))
            .await
            .is_error
    );
}

#[tokio::test]
async fn read_write_and_exact_once_edits() {
    let s = setup();
    let mut tb = toolbox(&s, WritePolicy::WorkingDirectory);
    let out =
        call(&mut tb, "write_file", json!({"path": "deep/new/dir/f.txt", "content": "x = 1\nx = 1\ny = 2\n"})).await;
    assert!(!out.is_error, "{}", out.content);
    let ambiguous =
        call(&mut tb, "edit_file", json!({"path": "deep/new/dir/f.txt", "old": "x = 1", "new": "x = 3"})).await;
    assert!(ambiguous.is_error && ambiguous.content.contains("occurs 2 times"), "{}", ambiguous.content);
    let missing =
        call(&mut tb, "edit_file", json!({"path": "deep/new/dir/f.txt", "old": "z = 9", "new": "z = 0"})).await;
    assert!(missing.is_error && missing.content.contains("not found"), "{}", missing.content);
    assert_eq!(
        std::fs::read_to_string(s.wd.join("deep/new/dir/f.txt")).unwrap(),
        "x = 1\nx = 1\ny = 2\n",
        "refused edits change nothing"
    );
    assert!(
        !call(&mut tb, "edit_file", json!({"path": "deep/new/dir/f.txt", "old": "y = 2", "new": "y = 5"}))
            .await
            .is_error
    );
    assert!(
        !call(
            &mut tb,
            "edit_file",
            json!({"path": "deep/new/dir/f.txt", "old": "x = 1", "new": "x = 4", "replace_all": true})
        )
        .await
        .is_error
    );
    let read = call(&mut tb, "read_file", json!({"path": "deep/new/dir/f.txt", "offset": 2, "limit": 1})).await;
    assert_eq!(read.content, "2\tx = 4\n… (3 lines in all; read on with offset 3)\n");
    let bad = call(&mut tb, "read_file", json!({"path": 7, "limit": 0})).await;
    assert!(
        bad.is_error
            && bad.content.contains("`path`: expected string")
            && bad.content.contains("`limit`: must be at least 1"),
        "{}",
        bad.content
    );
}

#[tokio::test]
async fn list_files_and_search_honour_gitignore() {
    let s = setup();
    std::fs::write(s.wd.join(".gitignore"), "target/\n*.log\n").unwrap();
    std::fs::create_dir_all(s.wd.join("target")).unwrap();
    std::fs::write(s.wd.join("target/out.rs"), "fn a() {}\n").unwrap();
    std::fs::write(s.wd.join("build.log"), "fn a() {}\n").unwrap();
    std::fs::create_dir_all(s.wd.join(".git/info")).unwrap();
    std::fs::write(s.wd.join(".git/info/exclude"), ".missions/\n").unwrap();
    std::fs::write(s.wd.join(".git/HEAD"), "fn a() {}\n").unwrap();
    let mut tb = toolbox(&s, WritePolicy::WorkingDirectory);
    let list = call(&mut tb, "list_files", json!({})).await;
    assert_eq!(list.content, ".gitignore\nsrc/lib.rs", "{}", list.content);
    let rs = call(&mut tb, "list_files", json!({"glob": "*.rs"})).await;
    assert_eq!(rs.content, "src/lib.rs");
    let found = call(&mut tb, "search", json!({"pattern": "fn [ab]\\("})).await;
    assert_eq!(found.content, "src/lib.rs:1: fn a() {}\nsrc/lib.rs:2: fn b() {}");
    let bad = call(&mut tb, "search", json!({"pattern": "fn ("})).await;
    assert!(bad.is_error && bad.content.contains("bad regex"), "{}", bad.content);
}

fn alive(pid: i32) -> bool {
    // A killed child reparented to a PID 1 that does not reap stays a zombie: that is dead too.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group_with_exit_124() {
    let s = setup();
    let mut tb = toolbox(&s, WritePolicy::WorkingDirectory);
    let started = Instant::now();
    let out = call(
        &mut tb,
        "bash",
        json!({"command": "(sleep 300; echo late) & echo $! > child.pid; bash -c 'sleep 300' & echo $! >> child.pid; echo started; wait", "timeout_s": 1}),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(out.content.starts_with("exit code: 124 (timed out after 1 s"), "{}", out.content);
    assert!(out.content.contains("started"));
    let pids: Vec<i32> =
        std::fs::read_to_string(s.wd.join("child.pid")).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(pids.len(), 2);
    std::thread::sleep(Duration::from_millis(100));
    for pid in pids {
        assert!(!alive(pid), "forked child {pid} survived the timeout");
    }
}

#[tokio::test]
async fn long_output_keeps_head_and_tail_and_saves_the_whole() {
    let s = setup();
    let mut tb = toolbox(&s, WritePolicy::WorkingDirectory);
    let out =
        call(&mut tb, "bash", json!({"command": "echo FIRST-LINE; seq 1 100000; echo LAST-LINE >&2; exit 3"})).await;
    assert!(!out.is_error);
    assert!(out.content.len() <= 10 * 1024 + 400, "{} bytes shown", out.content.len());
    assert!(out.content.starts_with("exit code: 3\nFIRST-LINE\n1\n2\n"), "{}", &out.content[..100]);
    assert!(
        out.content.trim_end().ends_with("99999\n100000\nLAST-LINE"),
        "{}",
        &out.content[out.content.len() - 100..]
    );
    let saved = tb.output_dir().join("1.log");
    assert!(out.content.contains(&saved.display().to_string()), "the path is given");
    let full = std::fs::read_to_string(&saved).unwrap();
    assert!(full.contains("\n50000\n") && full.ends_with("LAST-LINE\n"));
    // Short output is shown whole, and no file is left behind for it.
    let short = call(&mut tb, "bash", json!({"command": "printf 'a\\nb\\n'"})).await;
    assert_eq!(short.content, "exit code: 0\na\nb\n");
    assert!(!tb.output_dir().join("2.log").exists());
}

#[tokio::test]
async fn bwrap_blocks_writes_outside_the_working_directory() {
    let bwrap = match sandbox::probe(false) {
        Ok(b) => b,
        Err(why) => {
            eprintln!("\n!!! SKIPPED bwrap_blocks_writes_outside_the_working_directory: {why}\n");
            // The skip is allowed only where the kernel refuses namespaces; a missing bwrap
            // means scripts/test did not install it, which must fail.
            assert!(!why.contains("not on PATH"), "{why}");
            return;
        }
    };
    let s = setup();
    let mut commands = settings(10);
    commands.sandbox = Some(bwrap);
    let mut tb = Toolbox::new(&s.wd, &s.mission, WritePolicy::WorkingDirectory, "ses-bw", commands).unwrap();
    let target = s.outside.join("written-from-sandbox.txt");
    let probe = std::path::PathBuf::from(format!("/var/tmp/missions-bwrap-test-{}", std::process::id()));
    let script = format!(
        "echo inside > in.txt && echo tmp > /tmp/t.txt && cat /tmp/t.txt; echo no > '{}'; echo \"outside=$?\"; echo no > .missions/m/x.json; echo \"mission=$?\"; (exec 3<>/dev/tcp/1.1.1.1/80) 2>/dev/null; echo \"net=$?\"; touch '{}'; echo \"ro=$?\"",
        target.display(),
        probe.display()
    );
    let out = tb.run("bash", &json!({"command": script}), &CancellationToken::new()).await;
    assert!(out.content.contains("tmp\n"), "{}", out.content);
    assert!(out.content.contains("outside=1"), "{}", out.content);
    assert!(
        out.content.contains("mission=1"),
        "a worker's sandbox keeps the mission folder read-only: {}",
        out.content
    );
    assert!(out.content.contains("net=1"), "{}", out.content);
    assert!(out.content.contains("ro=1"), "the rest of the filesystem is read-only: {}", out.content);
    assert!(!target.exists() && !probe.exists());
    assert_eq!(std::fs::read_to_string(s.wd.join("in.txt")).unwrap(), "inside\n");
}

#[tokio::test]
async fn cancelling_a_running_command_kills_it_at_once() {
    let s = setup();
    let mut tb = toolbox(&s, WritePolicy::WorkingDirectory);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let out = tb.run("bash", &json!({"command": "sleep 30 & echo $! > bg.pid; wait", "timeout_s": 60}), &cancel).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(out.is_error && out.content.contains("cancelled"), "{}", out.content);
    let pid: i32 = std::fs::read_to_string(s.wd.join("bg.pid")).unwrap().trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!alive(pid));
}

#[tokio::test]
async fn a_registered_secret_printed_by_a_command_is_not_saved() {
    let s = setup();
    let key = "sk-tool-output-secret-0123456789";
    missions::agent::secrets::register(key);
    std::fs::write(s.wd.join("leak.txt"), format!("token={key}\n")).unwrap();
    let mut tb = toolbox(&s, WritePolicy::WorkingDirectory);
    let out = call(&mut tb, "bash", json!({"command": "seq 1 5000; cat leak.txt; seq 1 5000"})).await;
    let saved = std::fs::read_to_string(tb.output_dir().join("1.log")).unwrap();
    assert!(saved.contains("token=[REDACTED]") && !saved.contains(key));
    assert!(!out.content.contains(key));
}
