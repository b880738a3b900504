//! A model server that accepts the connection and never answers, seen by a person: the real
//! `missions run` (plain lines) and `missions lsp` (work-done progress) say who waits for the
//! provider and for how long, then halt with the classified error naming the URL, within the
//! configured `first_byte_timeout_s` (tried twice), not after 15 minutes.

mod loop_support;
mod stdio_client;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use loop_support::*;
use serde_json::{json, Value};
use stdio_client::Server;

const LIMITS: &str = "first_byte_timeout_s = 2\ncommand_timeout_s = 30";

/// Accepts connections and reads what comes, never writing a byte; the thread ends with the
/// test process.
fn silent_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut socket = socket;
                let mut sink = [0u8; 4096];
                while matches!(socket.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

/// A planned calculator mission whose every role talks to a silent server.
fn silent_project() -> (Project, std::net::SocketAddr) {
    let model = MissionModel::start(Script::default());
    let silent = silent_server();
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    std::fs::write(p.repo.join("missions.toml"), model.config(LIMITS).replace(&model.addr.to_string(), &silent.to_string())).unwrap();
    git(&p.repo, &["commit", "-qam", "a silent model server"]);
    (p, silent)
}

#[test]
fn the_terminal_says_who_waits_for_the_provider_then_the_run_halts_naming_the_url() {
    let (p, silent) = silent_project();
    let started = Instant::now();
    let out = p.run(&["--yes"]);
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Every half second (a quarter of the 2 s first-byte timeout), through both attempts.
    let waits: Vec<&str> = stdout.lines().filter(|l| l.contains(": waiting for the provider, ")).collect();
    assert!(waits.len() >= 4, "{}", text(&out));
    assert!(waits.iter().all(|l| l.starts_with("    worker feat-") && l.ends_with(" s")), "{waits:?}");
    assert!(waits[0].ends_with("waiting for the provider, 0.5 s"), "{waits:?}");
    let url = format!("http://{silent}/v1/messages");
    assert!(stdout.contains("no answer from the provider, retrying in"), "{}", text(&out));
    let reason = p.json("state.json")["haltReason"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("first_byte_timeout") && reason.contains(&format!("{url} accepted the request but sent no answer within 2 s")), "{reason}");
    assert!(elapsed < Duration::from_secs(30), "halted after two first-byte timeouts, not the retry deadline: {elapsed:?}");
}

#[test]
fn the_editors_progress_says_who_waits_for_the_provider() {
    let (p, _silent) = silent_project();
    let mut server = Server::start(
        command(&p.repo, &["lsp"]).stderr(Stdio::null()),
        Server::params(&p.repo, json!({"window": {"workDoneProgress": true}})),
    );
    assert!(server.command("missions.start", &p.mission).get("result").is_some());
    let token = server.accept_progress();
    let messages = server.run_until_progress_end(&token);
    let progress: Vec<&Value> = messages.iter().filter(|m| m["method"] == "$/progress").map(|m| &m["params"]["value"]).collect();
    let waiting: Vec<&str> = progress.iter().filter_map(|v| v["message"].as_str()).filter(|m| m.contains("waiting for the provider")).collect();
    assert!(waiting.len() >= 4, "{progress:#?}");
    assert!(waiting.iter().all(|m| m.starts_with("worker feat-") && m.contains(": waiting for the provider, ")), "{waiting:?}");
    // When a wait ends the report shows the run's figures again (no stale "waiting").
    let after = progress.iter().rposition(|v| v["message"].as_str().is_some_and(|m| m.contains("waiting"))).unwrap();
    assert!(progress[after + 1..].iter().any(|v| v["kind"] == "report" && v["message"].as_str().is_some_and(|m| m.contains("milestone"))), "{progress:#?}");
    let end = progress.last().unwrap();
    assert_eq!(end["kind"], "end");
    assert!(end["message"].as_str().unwrap().contains("first_byte_timeout"), "{end}");
    server.finish();
}
