//! The `terminal` tool on real programs in real pseudo-terminals: a line-mode program and a
//! curses program driven by typing and keys, screens waited for and saved as evidence, the
//! terminal's size seen by the program, exit codes recorded, process groups ended.

use std::path::PathBuf;
use std::time::Duration;

use missions::agent::tools::terminal::{EvidenceDir, Terminals};
use missions::agent::tools::{check_args, CommandSettings, Roots, WritePolicy};
use missions::agent::CancellationToken;
use missions::model::evidence::FileRole;
use serde_json::{json, Value};

struct Setup {
    _dir: tempfile::TempDir,
    wd: PathBuf,
    mission: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let wd = dir.path().join("repo");
    let mission = wd.join(".missions/m");
    std::fs::create_dir_all(&mission).unwrap();
    Setup { wd, mission, _dir: dir }
}

fn terminals(s: &Setup) -> Terminals {
    let settings = CommandSettings {
        default_timeout: Duration::from_secs(10),
        removed_env: vec!["SECRET_FOR_TEST".into()],
        added_env: vec![],
        sandbox: None,
        write_policy: WritePolicy::EvidenceOnly,
    };
    let evidence = EvidenceDir { root: s.mission.join("evidence"), dir: s.mission.join("evidence/cli/main") };
    Terminals::new(Roots::new(&s.wd, &s.mission).unwrap(), settings, evidence)
}

/// One call, its arguments checked against the tool's schema first as the agent loop does.
async fn call(t: &mut Terminals, args: Value) -> Result<String, String> {
    check_args("terminal", &args)?;
    let out = tokio::time::timeout(Duration::from_secs(60), t.run(&args, &CancellationToken::new()))
        .await
        .expect("a terminal call is bounded");
    if out.is_error {
        Err(out.content)
    } else {
        Ok(out.content)
    }
}

const GREETER: &str = r#"
import sys
name = input("Name? ")
print(f"Hello, {name}!")
sys.exit(3 if name == "fail" else 0)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_mode_program_is_typed_into_and_its_screen_and_exit_code_kept() {
    let s = setup();
    std::fs::write(s.wd.join("greet.py"), GREETER).unwrap();
    let mut t = terminals(&s);
    let started =
        call(&mut t, json!({"action": "start", "command": "python3 greet.py", "cols": 60, "rows": 10})).await.unwrap();
    assert!(started.contains("started `python3 greet.py` in terminal `main` (60×10)"), "{started}");
    call(&mut t, json!({"action": "wait", "text": "Name?"})).await.unwrap();
    call(&mut t, json!({"action": "type", "text": "Ada"})).await.unwrap();
    call(&mut t, json!({"action": "press", "key": "Enter"})).await.unwrap();
    let screen = call(&mut t, json!({"action": "wait", "text": "Hello, Ada!"})).await.unwrap();
    assert!(screen.contains("Name? Ada\nHello, Ada!"), "the terminal echoes what was typed: {screen}");
    let done = call(&mut t, json!({"action": "wait"})).await.unwrap();
    assert!(done.contains("exited with 0"), "{done}");
    let saved = call(&mut t, json!({"action": "snapshot", "name": "greeting"})).await.unwrap();
    assert!(saved.starts_with("saved the screen as evidence: cli/main/greeting.screen.txt"), "{saved}");
    let file = std::fs::read_to_string(s.mission.join("evidence/cli/main/greeting.screen.txt")).unwrap();
    assert_eq!(file, "Name? Ada\nHello, Ada!\n");
    assert!(call(&mut t, json!({"action": "type", "text": "more"}))
        .await
        .unwrap_err()
        .contains("has exited (exited with 0)"));

    let (records, files) = t.recorded();
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].command.as_str(), records[0].exit_code), ("python3 greet.py", Some(0)));
    assert_eq!(records[0].transcript, "cli/main/main.transcript.txt");
    assert!(files.iter().any(|f| f.path == "cli/main/greeting.screen.txt"
        && f.what == FileRole::TerminalScreen
        && f.label == "greeting"));
    let transcript = std::fs::read_to_string(s.mission.join("evidence/cli/main/main.transcript.txt")).unwrap();
    for part in [
        "$ python3 greet.py",
        "> type \"Ada\"",
        "> press Enter",
        "--- exited with 0",
        "--- snapshot cli/main/greeting.screen.txt:",
    ] {
        assert!(transcript.contains(part), "{part} in {transcript}");
    }
    let raw = std::fs::read(s.mission.join("evidence/cli/main/main.output.log")).unwrap();
    assert!(String::from_utf8_lossy(&raw).contains("Hello, Ada!"));
}

/// A full-screen curses menu: it sees the terminal's size, reads arrow keys, redraws.
const MENU: &str = r#"
import curses
def main(w):
    curses.curs_set(0)
    items = ["Alpha", "Beta", "Gamma"]
    at = 0
    while True:
        w.erase()
        w.addstr(0, 0, f"size {curses.LINES}x{curses.COLS}")
        for i, item in enumerate(items):
            w.addstr(2 + i, 2, ("> " if i == at else "  ") + item, curses.A_REVERSE if i == at else 0)
        w.refresh()
        k = w.getch()
        if k == curses.KEY_DOWN: at = min(at + 1, 2)
        elif k == curses.KEY_UP: at = max(at - 1, 0)
        elif k in (10, 13): return items[at]
        elif k == ord("q"): return None
chosen = curses.wrapper(main)
print(f"You chose: {chosen}")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_curses_program_sees_its_size_and_follows_the_keys() {
    let s = setup();
    std::fs::write(s.wd.join("menu.py"), MENU).unwrap();
    let mut t = terminals(&s);
    call(&mut t, json!({"action": "start", "terminal": "menu", "command": "python3 menu.py", "cols": 80, "rows": 24}))
        .await
        .unwrap();
    let first = call(&mut t, json!({"action": "wait", "terminal": "menu", "text": "Gamma"})).await.unwrap();
    assert!(first.contains("size 24x80") && first.contains("> Alpha") && first.contains("  Beta"), "{first}");
    call(&mut t, json!({"action": "press", "terminal": "menu", "key": "Down"})).await.unwrap();
    let moved = call(&mut t, json!({"action": "wait", "terminal": "menu", "text": "> Beta"})).await.unwrap();
    assert!(moved.contains("  Alpha"), "{moved}");
    call(&mut t, json!({"action": "snapshot", "terminal": "menu", "name": "menu on Beta"})).await.unwrap();
    call(&mut t, json!({"action": "press", "terminal": "menu", "key": "Enter"})).await.unwrap();
    let chosen = call(&mut t, json!({"action": "wait", "terminal": "menu", "text": "You chose: Beta"})).await.unwrap();
    assert!(!chosen.contains("Gamma"), "the menu left the screen when curses ended: {chosen}");
    let stopped = call(&mut t, json!({"action": "stop", "terminal": "menu"})).await.unwrap();
    assert!(stopped.starts_with("the program exited with 0"), "{stopped}");
    let menu = std::fs::read_to_string(s.mission.join("evidence/cli/main/menu-on-Beta.screen.txt")).unwrap();
    assert!(menu.starts_with("size 24x80\n\n    Alpha\n  > Beta\n    Gamma"), "{menu:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_are_bounded_and_stop_ends_the_whole_group() {
    let s = setup();
    let mut t = terminals(&s);
    // A background child in the same group.
    call(&mut t, json!({"action": "start", "command": "echo started; sleep 3021 & exec sleep 3022"})).await.unwrap();
    let began = std::time::Instant::now();
    let err = call(&mut t, json!({"action": "wait", "text": "never shown", "timeout_s": 1})).await.unwrap_err();
    assert!(began.elapsed() < Duration::from_secs(5));
    assert!(err.starts_with("waited for \"never shown\": not seen within 1 s. The screen:\nstarted"), "{err}");
    assert!(running("sleep\x003021") && running("sleep\x003022"));
    let stopped = call(&mut t, json!({"action": "stop"})).await.unwrap();
    assert!(stopped.starts_with("stopped the program"), "{stopped}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!running("sleep\x003021") && !running("sleep\x003022"), "the background child went with its group");

    let errors = [
        (json!({"action": "type", "text": "x"}), "no terminal `main` is running; start one with action `start`"),
        (json!({"action": "start"}), "`start` needs `command`"),
    ];
    for (args, want) in errors {
        assert_eq!(call(&mut t, args).await.unwrap_err(), want);
    }
    assert!(call(&mut t, json!({"action": "launch"}))
        .await
        .unwrap_err()
        .starts_with("invalid arguments for `terminal`"));
    call(&mut t, json!({"action": "start", "command": "exec sleep 3023"})).await.unwrap();
    assert!(call(&mut t, json!({"action": "start", "command": "true"}))
        .await
        .unwrap_err()
        .starts_with("terminal `main` is already running `exec sleep 3023`"));
    let err = call(&mut t, json!({"action": "press", "key": "Hyper"})).await.unwrap_err();
    assert!(err.starts_with("unknown key `Hyper`"), "{err}");
    drop(t);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!running("sleep\x003023"), "a session's terminals end with it");
}

fn running(cmdline: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let pid = e.file_name().to_string_lossy().to_string();
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z'));
        !zombie && cmd.starts_with(cmdline.as_bytes())
    })
}
