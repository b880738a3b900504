//! A model server that accepts the connection and never answers, seen by a person: the real
//! `missions run` (plain lines), `missions status` from another process, and `missions lsp`
//! (work-done progress) say who waits for the provider and for how long, then the run halts
//! with the classified error naming the URL, within the configured `first_byte_timeout_s`
//! (tried twice), not after 15 minutes. And while a mission runs, `status --format json`
//! carries its tokens and cost so far.

use crate::loop_support;
use crate::stdio_client;

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
    std::fs::write(
        p.repo.join("missions.toml"),
        model.config(LIMITS).replace(&model.addr.to_string(), &silent.to_string()),
    )
    .unwrap();
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
    assert!(
        reason.contains("first_byte_timeout")
            && reason.contains(&format!("{url} accepted the request but sent no answer within 2 s")),
        "{reason}"
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "halted after two first-byte timeouts, not the retry deadline: {elapsed:?}"
    );
}

/// `missions status`, run while the terminal's run waits, says who waits and for how long;
/// its JSON has the same, and when the run is over nothing is in flight any more.
#[test]
fn status_from_another_process_shows_the_wait_while_it_lasts() {
    let (p, _silent) = silent_project();
    let mut run = p.spawn_run(&["--yes"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (text_seen, json_seen) = loop {
        assert!(Instant::now() < deadline, "status never showed the wait");
        assert!(run.try_wait().unwrap().is_none(), "the run ended before status saw it wait");
        let out = missions(&p.repo, &["status"]);
        let text_out = String::from_utf8_lossy(&out.stdout).to_string();
        if text_out.contains("waiting for the provider") {
            let json: Value =
                serde_json::from_slice(&missions(&p.repo, &["status", "--format", "json"]).stdout).unwrap();
            break (text_out, json);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let now_line = text_seen.lines().find(|l| l.trim_start().starts_with("now:")).unwrap_or_default().to_string();
    assert!(
        now_line.contains("worker feat-")
            && now_line.contains(", waiting for the provider, ")
            && now_line.ends_with(" s"),
        "{text_seen}"
    );
    assert_eq!(json_seen["runAlive"], true, "{json_seen:#}");
    let now = json_seen["now"].as_array().unwrap();
    assert!(
        now.iter().any(|s| s["kind"] == "worker"
            && s["who"].as_str().unwrap().starts_with("worker feat-")
            && s["waiting"]["what"] == "the provider"
            && s["waiting"]["seconds"].is_u64()),
        "{json_seen:#}"
    );
    assert_eq!(json_seen["tokens"]["total"], 0, "nothing answered, nothing spent: {json_seen:#}");
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let after: Value = serde_json::from_slice(&missions(&p.repo, &["status", "--format", "json"]).stdout).unwrap();
    assert_eq!(
        (after["runAlive"].as_bool(), after["now"].as_array().map(Vec::len)),
        (Some(false), Some(0)),
        "{after:#}"
    );
    assert!(after["haltReason"].as_str().unwrap().contains("first_byte_timeout"), "{after:#}");
}

/// A running mission's `status --format json` carries its tokens by type and role and their
/// cost so far (from `[prices]`), agreeing with its transcript; the text says them too.
#[test]
fn a_running_missions_status_carries_tokens_and_cost_so_far() {
    let model = MissionModel::start(sub_fix());
    let prices = "\n[prices.\"fake-worker\"]\ninput = 3.0\noutput = 15.0\n\n[prices.\"fake-validator\"]\ninput = 1.0\noutput = 2.0\n\n[prices.\"fake-planner\"]\ninput = 10.0\noutput = 50.0\n";
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    std::fs::write(p.repo.join("missions.toml"), format!("{}{prices}", model.config(LIMITS))).unwrap();
    git(&p.repo, &["commit", "-qam", "prices"]);
    // The first validator's answer is held: the run waits inside its model call.
    model.hold("scrutiny");
    let mut run = p.spawn_run(&["--yes"]);
    wait_for_run(&p, &mut run, "milestone_validation_triggered", 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        assert!(Instant::now() < deadline, "status never showed the validator in flight");
        let json: Value = serde_json::from_slice(&missions(&p.repo, &["status", "--format", "json"]).stdout).unwrap();
        let in_flight = json["now"].as_array().is_some_and(|n| n.iter().any(|s| s["kind"] == "scrutiny"));
        if in_flight && json["tokens"]["total"].as_u64().unwrap_or(0) > 0 {
            break json;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text_out = String::from_utf8_lossy(&missions(&p.repo, &["status"]).stdout).to_string();
    // The transcript as it was then (nothing moves while the validator's answer is held).
    let lines: Vec<Value> = p.read("sessions.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    model.release("scrutiny");
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Tokens so far: exactly what the transcript had recorded by then (the workers' calls; the
    // held call has none yet), by type and by role.
    let workers: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "usage" && l["role"] == "worker").collect();
    let sum = |key: &str| workers.iter().map(|l| l["usage"][key].as_u64().unwrap()).sum::<u64>();
    let tokens = &status["tokens"];
    assert_eq!(
        (tokens["byType"]["input"].as_u64(), tokens["byType"]["output"].as_u64()),
        (Some(sum("input")), Some(sum("output"))),
        "{status:#}"
    );
    assert_eq!(tokens["byRole"]["worker"]["input"].as_u64(), Some(sum("input")), "{status:#}");
    assert_eq!(tokens["total"].as_u64(), Some(sum("input") + sum("output")), "only the workers had spent: {status:#}");
    let cost = &status["cost"];
    let expected = (sum("input") as f64 * 3.0 + sum("output") as f64 * 15.0) / 1e6;
    assert!((cost["total"].as_f64().unwrap() - expected).abs() < 1e-12, "{cost:#} vs {expected}");
    assert_eq!(cost["currency"], "USD");
    assert!(text_out.contains(&format!("  tokens:     {}", tokens_short(sum("input") + sum("output")))), "{text_out}");
    assert!(text_out.lines().any(|l| l.starts_with("  cost:       $") && l.contains("worker $")), "{text_out}");
    assert!(text_out.lines().any(|l| l.starts_with("  now:        validator")), "{text_out}");

    // After the run: every session's tokens, nothing in flight.
    let lines: Vec<Value> = p.read("sessions.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let done: Value = serde_json::from_slice(&missions(&p.repo, &["status", "--format", "json"]).stdout).unwrap();
    let all: u64 = lines
        .iter()
        .filter(|l| l["kind"] == "usage")
        .map(|l| {
            ["input", "cacheRead", "cacheWrite", "output"].iter().map(|k| l["usage"][*k].as_u64().unwrap()).sum::<u64>()
        })
        .sum();
    assert_eq!(done["tokens"]["total"].as_u64(), Some(all), "{done:#}");
    assert_eq!(done["now"].as_array().map(Vec::len), Some(0));
}

/// `1.2k`, as the report and status print token counts.
fn tokens_short(n: u64) -> String {
    if n < 1000 {
        n.to_string()
    } else {
        format!("{:.1}k", n as f64 / 1e3)
    }
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
    let progress: Vec<&Value> =
        messages.iter().filter(|m| m["method"] == "$/progress").map(|m| &m["params"]["value"]).collect();
    let waiting: Vec<&str> = progress
        .iter()
        .filter_map(|v| v["message"].as_str())
        .filter(|m| m.contains("waiting for the provider"))
        .collect();
    assert!(waiting.len() >= 4, "{progress:#?}");
    assert!(
        waiting.iter().all(|m| m.starts_with("worker feat-") && m.contains(": waiting for the provider, ")),
        "{waiting:?}"
    );
    // When a wait ends the report shows the run's figures again (no stale "waiting").
    let after = progress.iter().rposition(|v| v["message"].as_str().is_some_and(|m| m.contains("waiting"))).unwrap();
    assert!(
        progress[after + 1..]
            .iter()
            .any(|v| v["kind"] == "report" && v["message"].as_str().is_some_and(|m| m.contains("milestone"))),
        "{progress:#?}"
    );
    let end = progress.last().unwrap();
    assert_eq!(end["kind"], "end");
    assert!(end["message"].as_str().unwrap().contains("first_byte_timeout"), "{end}");
    server.finish();
}

/// An editor asking `missions/status` while the server's own run waits gets the same figures
/// as `missions status --format json`: who waits for the provider, for how long.
#[test]
fn the_editors_missions_status_shows_the_wait() {
    let (p, _silent) = silent_project();
    let mut server = Server::start(
        command(&p.repo, &["lsp"]).stderr(Stdio::null()),
        Server::params(&p.repo, json!({"window": {"workDoneProgress": true}})),
    );
    assert!(server.command("missions.start", &p.mission).get("result").is_some());
    let token = server.accept_progress();
    server.take(|m| {
        m["method"] == "$/progress"
            && m["params"]["value"]["message"].as_str().is_some_and(|t| t.contains("waiting for the provider"))
    });
    // The live file follows the wait within half a second: ask until it shows.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let status = server.request("missions/status", json!({"missionUri": stdio_client::url(&p.mission)}));
        if status["result"]["now"].as_array().is_some_and(|n| n.iter().any(|s| s["waiting"].is_object()))
            || Instant::now() > deadline
        {
            break status;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let result = &status["result"];
    assert_eq!(result["runAlive"], true, "{status:#}");
    let waiting: Vec<&Value> =
        result["now"].as_array().unwrap().iter().filter(|s| s["waiting"]["what"] == "the provider").collect();
    assert_eq!(waiting.len(), 1, "{status:#}");
    assert!(
        waiting[0]["who"].as_str().unwrap().starts_with("worker feat-") && waiting[0]["waiting"]["seconds"].is_u64(),
        "{status:#}"
    );
    assert!(waiting[0]["description"].as_str().unwrap().contains(", waiting for the provider, "), "{status:#}");
    assert_eq!(result["spendText"]["summary"], "0 tokens", "{status:#}");
    server.run_until_progress_end(&token);
    server.finish();
}
