//! The mission loop inside the editor: the real `missions lsp` binary over stdio runs a
//! hand-written plan through `workspace/executeCommand` against the loop's scripted fake model
//! (tests/loop_support), pauses and resumes it, and keeps answering hovers meanwhile.

use crate::loop_support;
use crate::stdio_client;

use std::process::Stdio;
use std::time::{Duration, Instant};

use loop_support::*;
use serde_json::{json, Value};
use stdio_client::{error_message, url, Server};

const LIMITS: &str = "max_validation_rounds = 3\ncommand_timeout_s = 30";
/// Generous: the whole mission (five worker sessions, three rounds) runs within it.
const WAIT: Duration = stdio_client::PATIENCE;

/// `missions lsp` in the project's repository (its workspace folder), initialized.
fn start(p: &Project) -> Server {
    let server = Server::start(command(&p.repo, &["lsp"]).stderr(Stdio::null()), Server::params(&p.repo, json!({})));
    // Advertised only with every command of design §4 (see lsp_session); when they are,
    // these are among them.
    if let Some(commands) = server.initialize["result"]["capabilities"]["executeCommandProvider"]["commands"].as_array()
    {
        for c in [
            "missions.start",
            "missions.approvePlan",
            "missions.pause",
            "missions.resume",
            "missions.cancel",
            "missions.runFeature",
            "missions.validateMilestone",
            "missions.status",
        ] {
            assert!(commands.contains(&json!(c)), "{c} is advertised: {}", server.initialize);
        }
    }
    server
}

/// Whether the server advertises its commands (and the source action running them).
fn advertised(server: &Server) -> bool {
    server.initialize["result"]["capabilities"].get("executeCommandProvider").is_some()
}

/// The source actions offered on line 1 of `uri`.
fn source_actions(server: &mut Server, uri: &str) -> Value {
    server.request("textDocument/codeAction", json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": [], "only": ["source"]}}))
}

#[test]
fn start_pause_resume_runs_the_plan_to_completion_and_reports_every_event() {
    // Each model answer takes a moment, so the pause lands while the loop works.
    let model = MissionModel::start(Script { latency: Duration::from_millis(40), ..sub_fix() });
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let logged_before = p.events().len();
    let mut server = start(&p);
    let features_uri = url(&p.mission.join("features.json"));
    // The workspace scan knows the mission (its diagnostics come first).
    server.diagnostics_until(&features_uri, |_| true);
    // mission.md open in the editor, mentioning an assertion: hovers answer from it.
    let mission_uri = url(&p.mission.join("mission.md"));
    server.notify("textDocument/didOpen", json!({"textDocument": {"uri": mission_uri, "languageId": "markdown", "version": 1, "text": "# calc\n\nStart with VAL-CALC-001.\n"}}));
    let hover_params = json!({"textDocument": {"uri": mission_uri}, "position": {"line": 2, "character": 14}});

    // Commands that do not fit the state.
    assert!(error_message(&server.command("missions.resume", &p.mission)).contains("nothing to resume"));
    assert!(error_message(&server.command("missions.pause", &p.mission)).contains("nothing to pause"));
    // A `missions run` in a terminal holds the lock (a live `missions` process: the server).
    std::fs::write(p.mission.join("run.lock"), format!("{{\"pid\": {}}}\n", server.pid())).unwrap();
    assert!(error_message(&server.command("missions.start", &p.mission)).contains("another `missions run`"));
    std::fs::remove_file(p.mission.join("run.lock")).unwrap();

    // The source action on features.json offers the start.
    let actions = source_actions(&mut server, &features_uri);
    if advertised(&server) {
        assert_eq!(actions["result"][0]["command"]["command"], "missions.start", "{actions}");
        assert_eq!(actions["result"][0]["command"]["arguments"][0], json!(url(&p.mission)), "{actions}");
    } else {
        assert!(actions["result"].is_null(), "no source action for commands not advertised: {actions}");
    }

    let started = server.command("missions.start", &p.mission);
    assert!(started["result"]["message"].as_str().unwrap().contains("approves the plan"), "{started}");
    assert!(error_message(&server.command("missions.start", &p.mission)).contains("already running"));

    let mut received = Vec::new();
    // Pause as soon as the first worker starts.
    loop {
        let event = server.event();
        assert_eq!(event["missionUri"], json!(url(&p.mission)));
        let kind = event["event"]["type"].as_str().unwrap().to_string();
        received.push(event["event"].clone());
        if kind == "worker_started" {
            break;
        }
        assert_ne!(kind, "mission_completed", "the mission ended before it could be paused");
    }
    let hover = server.request_within("textDocument/hover", hover_params.clone(), Duration::from_secs(10));
    assert!(
        hover["result"]["contents"]["value"].as_str().unwrap_or_default().contains("Adding two numbers"),
        "{hover}"
    );
    let pausing = server.command("missions.pause", &p.mission);
    assert!(pausing.get("result").is_some(), "{pausing}");
    loop {
        let event = server.event();
        received.push(event["event"].clone());
        if event["event"]["type"] == "mission_paused" {
            break;
        }
    }
    assert_eq!(server.show_message()["message"], "Mission paused; missions.resume continues where it stopped");
    let status = server.command("missions.status", &p.mission);
    assert_eq!(status["result"]["status"], "paused", "{status}");
    assert!(!p.mission.join("run.lock").exists(), "the run released its lock");

    // The source action now offers the resume; missions.resume continues the run.
    let actions = source_actions(&mut server, &features_uri);
    if advertised(&server) {
        assert_eq!(actions["result"][0]["command"]["command"], "missions.resume", "{actions}");
    }
    let resumed = server.command("missions.resume", &p.mission);
    assert!(resumed["result"]["message"].as_str().unwrap().contains("resumed"), "{resumed}");
    let mut hovers = 0;
    loop {
        let event = server.event();
        received.push(event["event"].clone());
        if event["event"]["type"] == "mission_completed" {
            break;
        }
        // Hovers keep answering while the mission runs.
        if hovers < 3 {
            let hover = server.request_within("textDocument/hover", hover_params.clone(), Duration::from_secs(10));
            assert!(
                hover["result"]["contents"]["value"].as_str().unwrap_or_default().contains("VAL-CALC-001"),
                "{hover}"
            );
            hovers += 1;
        }
    }
    let done = server.show_message();
    assert_eq!(done["type"], 3, "info: {done}");
    assert!(done["message"].as_str().unwrap().contains("completed"), "{done}");

    // Every event of progress_log.jsonl since the start arrived, in order, exactly once.
    let logged: Vec<Value> = p.events().into_iter().skip(logged_before).collect();
    assert_eq!(received, logged);
    let kinds: Vec<&str> = received.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"mission_accepted"));
    assert!(kinds.contains(&"mission_resumed") && kinds.contains(&"fix_features_added"), "{kinds:?}");
    assert_eq!(p.json("state.json")["detailedState"], "completed");
    assert_eq!(git(&p.repo, &["status", "--porcelain"]), "", "the tree is clean");

    let status = server.command("missions.status", &p.mission);
    assert_eq!(status["result"]["status"], "completed", "{status}");
    assert_eq!(status["result"]["assertions"]["passed"], 3, "{status}");
    // features.json (not open: the server reloads what the runner wrote) shows completion.
    let deadline = Instant::now() + WAIT;
    loop {
        let lenses = server.request("textDocument/codeLens", json!({"textDocument": {"uri": features_uri}}));
        let resolved =
            lenses["result"].as_array().unwrap().iter().map(|l| server.request("codeLens/resolve", l.clone()));
        let titles: Vec<String> =
            resolved.map(|l| l["result"]["command"]["title"].as_str().unwrap().to_string()).collect();
        // Four features and a scrutiny and a user-testing validator for each milestone.
        if titles.len() == 8 && titles.iter().all(|t| t.starts_with("completed · ")) {
            break;
        }
        assert!(Instant::now() < deadline, "lenses never showed completion: {titles:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let diagnostics = server.diagnostics_until(&features_uri, |d| d["diagnostics"] == json!([]));
    assert_eq!(diagnostics["diagnostics"], json!([]));
    assert!(error_message(&server.command("missions.start", &p.mission)).contains("already completed"));
    assert!(error_message(&server.command("missions.cancel", &p.mission)).contains("already completed"));
    server.finish();
}

#[test]
fn cancel_marks_a_stopped_mission_cancelled_and_start_then_refuses_it() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let mut server = start(&p);
    let features_uri = url(&p.mission.join("features.json"));
    server.diagnostics_until(&features_uri, |_| true);
    let cancelled = server.command("missions.cancel", &p.mission);
    assert!(cancelled["result"]["message"].as_str().unwrap().contains("cancelled"), "{cancelled}");
    let event = server.event();
    assert_eq!(event["event"]["type"], "mission_cancelled", "{event}");
    assert_eq!(p.json("state.json")["detailedState"], "cancelled");
    let status = server.command("missions.status", &p.mission);
    assert_eq!(status["result"]["status"], "cancelled", "{status}");
    assert!(error_message(&server.command("missions.start", &p.mission)).contains("was cancelled"));
    let unknown =
        server.request("workspace/executeCommand", json!({"command": "missions.start", "arguments": [url(&p.repo)]}));
    assert!(error_message(&unknown).contains("is not a mission folder"), "{unknown}");
    assert_eq!(model.seen().len(), 0, "nothing ran");
    server.finish();
}

fn statuses(p: &Project) -> Vec<(String, String)> {
    p.json("features.json")["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap().to_string(), f["status"].as_str().unwrap_or("pending").to_string()))
        .collect()
}

fn status_of(p: &Project, id: &str) -> String {
    statuses(p).into_iter().find(|(f, _)| f == id).map(|(_, s)| s).unwrap_or_else(|| panic!("no feature {id}"))
}

#[test]
fn approve_plan_is_refused_unless_the_plan_awaits_approval_then_starts_the_run() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(40), ..sub_fix() });
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let mut server = start(&p);
    let features_uri = url(&p.mission.join("features.json"));
    server.diagnostics_until(&features_uri, |_| true);
    // A planned mission no run has looked at yet is `planning`: nothing to approve.
    let refused = server.command("missions.approvePlan", &p.mission);
    assert!(
        error_message(&refused).contains("no plan to approve") && error_message(&refused).contains("planning"),
        "{refused}"
    );
    assert_eq!(p.json("state.json")["detailedState"], "planning");

    // `missions run` without --yes leaves the plan awaiting approval (exit 4).
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(p.json("state.json")["detailedState"], "awaiting_approval");
    let actions = source_actions(&mut server, &features_uri);
    assert_eq!(actions["result"][0]["command"]["command"], "missions.approvePlan", "{actions}");
    // resume is not approval, nor is one step of the plan.
    assert!(error_message(&server.command("missions.resume", &p.mission)).contains("nothing to resume"));
    assert!(
        error_message(&server.command_on("missions.runFeature", &p.mission, "feat-add")).contains("approve it first")
    );

    let approved = server.command("missions.approvePlan", &p.mission);
    assert!(approved["result"]["message"].as_str().unwrap().contains("approved"), "{approved}");
    assert!(error_message(&server.command("missions.approvePlan", &p.mission)).contains("already running"));
    let first = server.event()["event"].clone();
    assert_eq!(first["type"], "mission_accepted", "{first}");
    assert_eq!(first["by"], "missions.approvePlan", "{first}");
    // The run goes on like a start: pause it once a worker has started.
    let events = server.events_until("worker_started");
    assert!(events.iter().any(|e| e["type"] == "milestone_started"), "{events:?}");
    assert!(server.command("missions.pause", &p.mission).get("result").is_some());
    server.events_until("mission_paused");
    assert_eq!(p.json("state.json")["detailedState"], "paused");
    // The plan is approved now: approving again is refused.
    assert!(error_message(&server.command("missions.approvePlan", &p.mission)).contains("not awaiting_approval"));
    server.finish();
}

#[test]
fn run_feature_and_validate_milestone_do_one_step_then_pause() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let mut server = start(&p);
    let features_uri = url(&p.mission.join("features.json"));
    server.diagnostics_until(&features_uri, |_| true);

    // Refusals, before anything runs.
    let missing = server.command("missions.runFeature", &p.mission);
    assert_eq!(missing["error"]["code"], -32602, "{missing}");
    assert!(error_message(&missing).contains("feature id as its second argument"), "{missing}");
    assert!(error_message(&server.command_on("missions.runFeature", &p.mission, "feat-sub"))
        .contains("depends on feat-add that did not complete"));
    assert!(error_message(&server.command_on("missions.runFeature", &p.mission, "feat-nope"))
        .contains("no feature `feat-nope`"));
    let early = server.command_on("missions.validateMilestone", &p.mission, "basics");
    assert!(
        error_message(&early).contains("feat-sub (pending)") && error_message(&early).contains("feat-add (pending)"),
        "{early}"
    );
    assert!(error_message(&server.command_on("missions.validateMilestone", &p.mission, "nowhere"))
        .contains("no milestone `nowhere`"));
    assert!(model.seen().is_empty(), "nothing ran");
    assert_eq!(p.json("state.json")["detailedState"], "planning");

    // feat-add alone runs to completed; the others stay pending; the mission pauses.
    let started = server.command_on("missions.runFeature", &p.mission, "feat-add");
    assert!(started["result"]["message"].as_str().unwrap().contains("running feature feat-add"), "{started}");
    let events = server.events_until("mission_paused");
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(events[0]["by"], "missions.runFeature", "{events:?}");
    let ran: Vec<&Value> = events.iter().filter(|e| e["type"] == "worker_started").map(|e| &e["featureId"]).collect();
    assert_eq!(ran, vec![&json!("feat-add")], "{kinds:?}");
    assert!(kinds.contains(&"worker_completed") && !kinds.contains(&"milestone_validation_triggered"), "{kinds:?}");
    // droid's queue order: a completed feature moves to the bottom.
    assert_eq!(
        statuses(&p),
        vec![
            ("feat-sub".into(), "pending".into()),
            ("feat-mul".into(), "pending".into()),
            ("feat-add".into(), "completed".into())
        ]
    );
    assert_eq!(p.json("state.json")["detailedState"], "paused");
    assert_eq!(model.sessions("worker").len(), 1);
    assert!(error_message(&server.command_on("missions.runFeature", &p.mission, "feat-add"))
        .contains("feat-add` is completed"));

    // Its dependency done, feat-sub may run; then milestone basics is complete but not validated.
    assert!(server.command_on("missions.runFeature", &p.mission, "feat-sub").get("result").is_some());
    server.events_until("mission_paused");
    assert_eq!(status_of(&p, "feat-sub"), "completed");
    assert_eq!(status_of(&p, "feat-mul"), "pending");
    let synthesis = p.mission.join("validation/basics/user-testing/synthesis.json");
    assert!(!synthesis.exists());
    assert!(error_message(&server.command_on("missions.validateMilestone", &p.mission, "more"))
        .contains("feat-mul (pending)"));

    // One validation round of basics: its validators' syntheses and validation-state.json,
    // then a pause (no fix features: the loop would add them, a targeted round does not).
    let validating = server.command_on("missions.validateMilestone", &p.mission, "basics");
    assert!(validating["result"]["message"].as_str().unwrap().contains("validating milestone basics"), "{validating}");
    let events = server.events_until("mission_paused");
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"milestone_validation_triggered") && !kinds.contains(&"fix_features_added"), "{kinds:?}");
    let workers: Vec<&str> =
        events.iter().filter(|e| e["type"] == "worker_started").filter_map(|e| e["featureId"].as_str()).collect();
    assert_eq!(workers, ["scrutiny-validator-basics", "user-testing-validator-basics"], "only the validators ran");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&synthesis).expect("the user-testing synthesis of basics"))
            .unwrap();
    assert_eq!((written["round"].as_u64(), written["status"].as_str()), (Some(1), Some("fail")), "{written}");
    let vstate = p.json("validation-state.json");
    assert_eq!(vstate["assertions"]["VAL-CALC-001"]["status"], "passed", "{vstate}");
    assert_eq!(vstate["assertions"]["VAL-CALC-002"]["status"], "failed", "sub's bug is found: {vstate}");
    assert_eq!(statuses(&p).len(), 5, "the two validators, no fix feature, were added");
    assert_eq!(status_of(&p, "feat-mul"), "pending");
    assert_eq!(p.json("state.json")["detailedState"], "paused");
    assert!(
        model.sessions("worker").len() == 2 && model.sessions("user-testing").len() == 1,
        "{:?}",
        model.seen().iter().map(|s| s.role.clone()).collect::<Vec<_>>()
    );
    assert_eq!(git(&p.repo, &["status", "--porcelain"]), "", "the tree is clean");
    server.finish();
}

/// The editor goes away while a mission runs, with `shutdown`, by closing the server's
/// input, or the server is stopped with SIGTERM or SIGHUP (a service manager, a closed
/// terminal): the run pauses first (state.json says `paused`, the log says so, the locks are
/// released), so the next start — `missions.resume` included — continues it.
#[test]
fn a_mission_running_when_the_editor_goes_away_is_paused_and_resumes() {
    for goes_away in ["shutdown", "input closed", "SIGTERM", "SIGHUP"] {
        let model = MissionModel::start(sub_fix());
        let p = Project::new(&model, LIMITS, CONTRACT, &features());
        let mut server = start(&p);
        model.hold("worker");
        let started = server.command("missions.start", &p.mission);
        assert!(started.get("result").is_some(), "{started}");
        server.take(|m| m["method"] == "missions/event" && m["params"]["event"]["type"] == "worker_started");
        let signal = |server: &mut Server, signal: i32| {
            // SAFETY: signalling the server process this test started.
            unsafe { libc::kill(server.pid() as i32, signal) };
            server.wait_for_exit()
        };
        let status = match goes_away {
            "shutdown" => server.shut_down(),
            "SIGTERM" => signal(&mut server, libc::SIGTERM),
            "SIGHUP" => signal(&mut server, libc::SIGHUP),
            _ => server.close_input(),
        };
        assert!(status.code().is_some(), "{goes_away}: exited by itself ({status})");
        assert_eq!(p.json("state.json")["detailedState"], "paused", "{goes_away}");
        assert_eq!(
            p.event_types().last().map(String::as_str),
            Some("mission_paused"),
            "{goes_away}: {:?}",
            p.event_types()
        );
        assert!(
            !p.mission.join("run.lock").exists() && !p.repo.join(".git/missions-run.lock").exists(),
            "{goes_away}: the run's locks are released"
        );
        model.release("worker");
        if goes_away.starts_with("SIG") {
            // Resuming is the same as after the other two.
            continue;
        }
        let mut server = start(&p);
        let resumed = server.command("missions.resume", &p.mission);
        assert!(resumed.get("result").is_some(), "{goes_away}: {resumed}");
        server.take(|m| m["method"] == "missions/event" && m["params"]["event"]["type"] == "mission_completed");
        server.finish();
    }
}

/// The contract's mission lens follows the mission (pause while it runs, a label once it is
/// completed) and a client that can refresh lenses is asked to as the run writes its files;
/// "Run feature" is not offered while the mission runs.
#[test]
fn lenses_follow_the_run_and_the_client_is_asked_to_refresh_them() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let capabilities = json!({"workspace": {"codeLens": {"refreshSupport": true}}});
    let mut server =
        Server::start(command(&p.repo, &["lsp"]).stderr(Stdio::null()), Server::params(&p.repo, capabilities));
    server.always_answer("workspace/codeLens/refresh", serde_json::Value::Null);
    let contract = p.mission.join("validation-contract.md");
    let features_path = p.mission.join("features.json");
    server.open(&contract, "markdown", CONTRACT);
    server.open(&features_path, "json", &p.read("features.json"));
    let titles = |server: &mut Server, path: &std::path::Path| -> Vec<(String, String)> {
        let lenses = server.request("textDocument/codeLens", json!({"textDocument": {"uri": url(path)}}));
        lenses["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let r = server.request("codeLens/resolve", l.clone());
                (
                    r["result"]["command"]["title"].as_str().unwrap().to_string(),
                    r["result"]["command"]["command"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let has = |lenses: &[(String, String)], title: &str, command: &str| {
        lenses.iter().any(|(t, c)| t == title && c == command)
    };
    assert!(has(&titles(&mut server, &contract), "▶ Start mission", "missions.start"));
    assert!(has(&titles(&mut server, &features_path), "▶ Run feature", "missions.runFeature"));

    model.hold("worker");
    server.command("missions.start", &p.mission);
    server.take(|m| m["method"] == "missions/event" && m["params"]["event"]["type"] == "worker_started");
    assert!(has(&titles(&mut server, &contract), "⏸ Pause mission", "missions.pause"));
    let running = titles(&mut server, &features_path);
    assert!(!running.iter().any(|(_, c)| c == "missions.runFeature"), "{running:?}");
    model.release("worker");
    server.take(|m| m["method"] == "missions/event" && m["params"]["event"]["type"] == "mission_completed");
    let refreshes = server.auto_answered().len();
    assert!(refreshes >= 1, "the client was asked to refresh its lenses");
    // The slot is freed before the last event: the lens now says completed.
    assert!(has(&titles(&mut server, &contract), "✓ Mission completed", ""));
    server.finish();
}
