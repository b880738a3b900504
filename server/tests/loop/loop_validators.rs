//! The validators use the system as a person would, and what they claim is checked against
//! what really happened: the real binary runs a mission whose user-testing validator (the
//! scripted fake model, tests/loop_support) signs in to a small web app through Debian's
//! headless Chromium and counts key presses in a curses program in a real pseudo-terminal.
//! The app is a real Python server started from services.yaml (healthcheck, log, process
//! group). Chromium must be installed (scripts/test installs Debian's `chromium`).

use crate::loop_support;

use std::path::Path;
use std::time::{Duration, Instant};

use loop_support::*;
use missions::model::evidence::{inspect, read_log, FileKind, RecordedRequest};
use missions::runner::services::group_members;
use serde_json::{json, Value};

/// A sign-in page whose script never looks at the login's answer: whatever the server says,
/// the person lands on the dashboard. Only the network record tells a failed login apart.
const APP: &str = r#"import http.server, json, os, sys

PORT = int(sys.argv[1])
LOGIN_STATUS = int(os.environ.get("LOGIN_STATUS", "200"))
LOGIN = """<!doctype html><html><head><title>Sign in</title></head><body>
<h1>Sign in</h1>
<form id="form"><label>Email <input id="email" type="email"></label>
<label>Password <input id="password" type="password"></label>
<button id="login" type="submit">Log in</button></form>
<script>
document.getElementById("form").addEventListener("submit", async (e) => {
  e.preventDefault();
  await fetch("/api/login", {method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({email: email.value, password: password.value})});
  location.href = "/dashboard";
});
</script></body></html>"""
DASHBOARD = "<!doctype html><html><head><title>Dashboard</title></head><body><h1>Dashboard</h1><p>Welcome back.</p></body></html>"

class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, code, kind, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        pages = {"/": LOGIN, "/dashboard": DASHBOARD}
        if self.path == "/health":
            self.answer(200, "text/plain", "ok")
        elif self.path in pages:
            self.answer(200, "text/html", pages[self.path])
        else:
            self.answer(404, "text/plain", "not found")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/api/login":
            self.answer(LOGIN_STATUS, "application/json", json.dumps({"ok": LOGIN_STATUS == 200}))
        else:
            self.answer(404, "text/plain", "not found")

print(f"listening on {PORT}", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
"#;

/// A curses counter: `+` adds one, `q` quits.
const COUNTER: &str = r#"import curses

def main(screen):
    curses.curs_set(0)
    count = 0
    while True:
        screen.erase()
        screen.addstr(0, 0, "Counter")
        screen.addstr(2, 0, f"Count: {count}")
        screen.addstr(4, 0, "+ adds one, q quits")
        screen.refresh()
        key = screen.getch()
        if key == ord("+"):
            count += 1
        elif key == ord("q"):
            return count

print(f"final count {curses.wrapper(main)}")
"#;

fn contract(port: u16) -> String {
    format!(
        "# Validation contract: dashboard

## Web

### VAL-WEB-001: A person signs in and reaches the dashboard
The person opens the sign-in page, signs in with their email and password, and sees the dashboard.
Drive: `open http://127.0.0.1:{port}/ | fill #email ada@example.com | fill #password secret | click #login | wait Welcome back | screenshot dashboard`
Tool: agent-browser
Evidence: screenshot(dashboard), network(POST /api/login -> 200), console-errors

## Terminal

### VAL-TUI-001: The counter counts key presses
The person starts the counter, presses `+` twice and sees 2, then quits.
Drive: `term python3 counter.py | twait Count: 0 | type ++ | twait Count: 2 | tsnap counter | type q | texit`
Tool: tuistory
Evidence: terminal-snapshot(counter), exit-code
"
    )
}

fn features() -> Value {
    let test = "python3 -c \"import ast; [ast.parse(open(f).read()) for f in ('app.py', 'counter.py')]\" || exit 1\n";
    json!({"features": [feature("feat-app", "The sign-in page, the dashboard and the counter", "app", &["VAL-WEB-001", "VAL-TUI-001"], &[],
        json!({"files": {"app.py": APP, "counter.py": COUNTER, "tests/test_app.sh": test}}))]})
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// services.yaml in droid's shape: the project's test command and the web app (its start
/// command quoted: a JSON string is a YAML string).
fn services(port: u16, start: &str) -> String {
    let start = serde_json::to_string(start).unwrap();
    format!(
        "commands:\n  test: sh test.sh\nservices:\n  web:\n    start: {start}\n    healthcheck: python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health', timeout=2)\"\n    port: {port}\n"
    )
}

const LIMITS: &str = "max_validation_rounds = 1\ncommand_timeout_s = 30\nservice_start_timeout_s = 20";

fn web_project(model: &MissionModel, start: impl Fn(u16) -> String) -> (Project, u16) {
    let port = free_port();
    let p = Project::new(model, LIMITS, &contract(port), &features());
    std::fs::write(p.mission.join("services.yaml"), services(port, &start(port))).unwrap();
    (p, port)
}

fn app(port: u16) -> String {
    format!("exec python3 app.py {port}")
}

/// Every living process whose working directory is inside `dir` (what a run started there
/// and left behind: services, browsers, programs in terminals).
fn processes_under(dir: &Path) -> Vec<String> {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let state = stat.rsplit(')').next()?.split_whitespace().next()?.to_string();
            (cwd.starts_with(&dir) && state != "Z").then(|| {
                format!(
                    "{pid}: {}",
                    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
                        .replace('\0', " ")
                )
            })
        })
        .collect()
}

/// Nothing the run started is left once it ended: its supervisor (`agent::processes`) exits
/// by itself a moment after the runner, so this waits for that (10 s at most).
fn assert_nothing_left(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_under(dir).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_under(dir), Vec::<String>::new(), "nothing the run started outlives it");
}

fn state_of<'a>(vs: &'a Value, id: &str) -> &'a Value {
    &vs["assertions"][id]
}

#[test]
fn a_web_app_and_a_terminal_program_are_validated_as_a_person_uses_them_with_evidence_that_checks_out() {
    let model = MissionModel::start(Script::default());
    let (p, port) = web_project(&model, app);
    let began = Instant::now();
    let out = p.run(&["--yes"]);
    eprintln!("the mission took {:.1} s", began.elapsed().as_secs_f64());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    droid_format::assert_conforms(&p.mission);

    // Only the user-testing validator was offered the browser and the terminal.
    let ut = &model.sessions("user-testing")[0];
    assert!(ut.tools.iter().any(|t| t == "browser") && ut.tools.iter().any(|t| t == "terminal"), "{:?}", ut.tools);
    assert!(
        ut.first_user.contains(&format!("- web on port {port}; its output: ")),
        "the task names the running service:\n{}",
        ut.first_user
    );
    assert!(
        ut.first_user.contains("evidence/app/round-1/ (`browser` and `terminal` save theirs there"),
        "{}",
        ut.first_user
    );
    for role in ["scrutiny", "worker"] {
        let tools = &model.sessions(role)[0].tools;
        assert!(!tools.iter().any(|t| t == "browser" || t == "terminal"), "{role}: {tools:?}");
    }

    // validation-state.json: both passed, with the evidence that satisfied their items.
    let vs = p.json("validation-state.json");
    let web = state_of(&vs, "VAL-WEB-001");
    assert_eq!(web["status"], "passed", "{vs:#}");
    assert_eq!(
        web["evidence"],
        json!([
            "evidence/app/round-1/dashboard.png",
            "evidence/app/round-1/browser-network.jsonl",
            "evidence/app/round-1/browser-console.jsonl"
        ])
    );
    let tui = state_of(&vs, "VAL-TUI-001");
    assert_eq!(tui["status"], "passed", "{vs:#}");
    assert_eq!(
        tui["evidence"],
        json!(["evidence/app/round-1/counter.screen.txt", "evidence/app/round-1/main.transcript.txt"])
    );

    // The evidence files are what they say: a real screenshot, the recorded login, the screen.
    match inspect(&p.mission.join("evidence/app/round-1/dashboard.png")) {
        FileKind::Image { width, height } => assert_eq!((width, height), (1280, 800)),
        other => panic!("the screenshot: {other:?}"),
    }
    let requests: Vec<RecordedRequest> =
        read_log(&p.mission.join("evidence/app/round-1/browser-network.jsonl")).unwrap();
    let login: Vec<&RecordedRequest> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.url == format!("http://127.0.0.1:{port}/api/login"))
        .collect();
    assert_eq!(login.iter().map(|r| r.status).collect::<Vec<_>>(), [Some(200)], "{requests:?}");
    let screen = p.read("evidence/app/round-1/counter.screen.txt");
    assert!(screen.contains("Counter") && screen.contains("Count: 2"), "{screen}");
    let transcript = p.read("evidence/app/round-1/main.transcript.txt");
    assert!(
        transcript.starts_with("$ python3 counter.py\n")
            && transcript.contains("> type \"++\"")
            && transcript.contains("--- exited with 0"),
        "{transcript}"
    );

    // The flow: droid's shape, evidence by kind, the tools the record shows.
    let flow = p.json("validation/app/user-testing/flows/round-1.json");
    assert_eq!(flow["groupId"], "round-1");
    assert_eq!(flow["toolsUsed"], json!(["bash", "browser", "terminal"]));
    assert_eq!(
        flow["assertions"][0]["evidence"],
        json!({"screenshots": ["app/round-1/dashboard.png"], "networkLogs": ["app/round-1/browser-network.jsonl"], "consoleLogs": ["app/round-1/browser-console.jsonl"]})
    );
    assert_eq!(
        flow["assertions"][1]["evidence"],
        json!({"terminalSnapshots": ["app/round-1/counter.screen.txt"], "terminalTranscripts": ["app/round-1/main.transcript.txt"]})
    );

    // The scrutiny synthesis holds what the runner ran, not the lint the model claims.
    let scrutiny = p.json("validation/app/scrutiny/synthesis.json");
    assert_eq!(scrutiny["validatorsRun"], json!({"test": {"passed": true, "command": "sh test.sh", "exitCode": 0}}));

    // The service ran from services.yaml, its output kept, and it is gone after the round.
    let log = p.read("service-logs/web.log");
    assert!(log.contains(&format!("listening on {port}")) && log.contains("\"POST /api/login HTTP/1.1\" 200"), "{log}");
    assert!(!p.mission.join("service-logs/running.json").exists());
    assert_nothing_left(&p.repo);
}

#[test]
fn a_claimed_pass_is_overturned_by_the_recorded_network_log_when_the_login_fails_with_500() {
    let model = MissionModel::start(Script::default());
    let (p, port) = web_project(&model, |port| format!("LOGIN_STATUS=500 exec python3 app.py {port}"));
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "one round, and it failed: {}", text(&out));
    droid_format::assert_conforms(&p.mission);

    // The model saw the dashboard and said pass.
    let said = p.read("sessions.jsonl");
    let report = said
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["kind"] == "tool_call" && l["name"] == "submit_validation")
        .expect("the validator reported");
    assert_eq!(report["input"]["assertions"][0]["status"], "pass", "{report}");

    let why = "the validator reported pass, but the recorded evidence contradicts it: network(POST /api/login -> 200) (POST /api/login answered 500 (expected 200))";
    let vs = p.json("validation-state.json");
    assert_eq!(
        (state_of(&vs, "VAL-WEB-001")["status"].as_str(), state_of(&vs, "VAL-WEB-001")["issues"].as_str()),
        (Some("failed"), Some(why)),
        "{vs:#}"
    );
    assert_eq!(
        state_of(&vs, "VAL-WEB-001")["evidence"],
        json!([
            "evidence/app/round-1/dashboard.png",
            "evidence/app/round-1/browser-console.jsonl",
            "evidence/app/round-1/browser-network.jsonl"
        ]),
        "what satisfied an item, then the cited record that shows the 500"
    );
    assert_eq!(state_of(&vs, "VAL-TUI-001")["status"], "passed");
    let flow = p.json("validation/app/user-testing/flows/round-1.json");
    assert_eq!(
        (flow["assertions"][0]["status"].as_str(), flow["assertions"][0]["issues"].as_str()),
        (Some("fail"), Some(why))
    );
    let synthesis = p.json("validation/app/user-testing/synthesis.json");
    assert_eq!(synthesis["failedAssertions"], json!([{"id": "VAL-WEB-001", "reason": why}]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("VAL-WEB-001: the claimed pass does not stand"),
        "{}",
        text(&out)
    );

    // The record on disk says what happened.
    let requests: Vec<RecordedRequest> =
        read_log(&p.mission.join("evidence/app/round-1/browser-network.jsonl")).unwrap();
    assert!(
        requests.iter().any(|r| r.method == "POST"
            && r.url == format!("http://127.0.0.1:{port}/api/login")
            && r.status == Some(500)),
        "{requests:?}"
    );
    assert!(
        matches!(inspect(&p.mission.join("evidence/app/round-1/dashboard.png")), FileKind::Image { .. }),
        "the screenshot itself is real"
    );
    assert_nothing_left(&p.repo);
}

#[test]
fn a_service_whose_healthcheck_never_passes_blocks_the_round_with_its_log() {
    let model = MissionModel::start(Script::default());
    let (p, _) = web_project(&model, |port| {
        format!("echo 'starting on {port}'; echo 'fatal: DATABASE_URL is not set' >&2; exec sleep 300")
    });
    std::fs::write(
        p.repo.join("missions.toml"),
        model.config("max_validation_rounds = 1\ncommand_timeout_s = 30\nservice_start_timeout_s = 2"),
    )
    .unwrap();
    git(&p.repo, &["commit", "-qam", "a short service timeout"]);
    let began = Instant::now();
    let out = p.run(&["--yes"]);
    assert!(began.elapsed() < Duration::from_secs(60), "bounded by service_start_timeout_s");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    droid_format::assert_conforms(&p.mission);
    assert!(model.sessions("user-testing").is_empty(), "no session tests a system that is not up");

    let vs = p.json("validation-state.json");
    for id in ["VAL-WEB-001", "VAL-TUI-001"] {
        let a = state_of(&vs, id);
        let issues = a["issues"].as_str().unwrap();
        assert_eq!(a["status"], "failed", "droid records blocked as failed: {vs:#}");
        assert!(issues.starts_with("service `web` did not come up: its healthcheck `python3 -c"), "{issues}");
        assert!(
            issues.contains("did not pass within 2 s")
                && issues.contains("last lines of")
                && issues.contains("fatal: DATABASE_URL is not set"),
            "the log's tail: {issues}"
        );
    }
    let synthesis = p.json("validation/app/user-testing/synthesis.json");
    assert_eq!(synthesis["assertionsSummary"], json!({"total": 2, "passed": 0, "failed": 0, "blocked": 2}));
    let blocked = synthesis["blockedAssertions"].as_array().unwrap();
    assert_eq!(blocked.iter().map(|b| b["id"].as_str().unwrap()).collect::<Vec<_>>(), ["VAL-WEB-001", "VAL-TUI-001"]);
    assert!(blocked[0]["blockedBy"].as_str().unwrap().contains("fatal: DATABASE_URL is not set"));
    let handoff = std::fs::read_dir(p.mission.join("handoffs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("__user-testing-validator-app__"))
        .expect("the validator's handoff");
    let handoff: Value = serde_json::from_str(&std::fs::read_to_string(handoff).unwrap()).unwrap();
    assert_eq!(handoff["successState"], "failure");
    assert!(
        handoff["handoff"]["discoveredIssues"][0]["description"]
            .as_str()
            .unwrap()
            .contains("fatal: DATABASE_URL is not set"),
        "{handoff:#}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("user testing of app is blocked: service `web` did not come up"),
        "{}",
        text(&out)
    );
    assert_nothing_left(&p.repo);
}

/// A runner killed with SIGKILL while its service runs: the service's process group ends with
/// it (the supervisor of `agent::processes`), and the next run starts it again and finishes.
/// (A leftover that even the supervisor missed is stopped by the next run from
/// `service-logs/running.json`: tests/loop/runner_services.rs.)
#[test]
fn a_service_does_not_outlive_a_killed_runner_and_the_next_run_starts_it_again() {
    let model = MissionModel::start(Script::default());
    let (p, _) = web_project(&model, app);
    model.hold("user-testing");
    let mut child = p.spawn_run(&["--yes"]);
    // The user-testing session waits for its first answer: the services are up.
    let deadline = Instant::now() + Duration::from_secs(90);
    while model.sessions("user-testing").is_empty() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before user testing: {:?}", p.event_types());
        }
        assert!(Instant::now() < deadline, "no user-testing session: {:?}", p.event_types());
        std::thread::sleep(Duration::from_millis(20));
    }
    let running = p.json("service-logs/running.json");
    let pgid = running["services"][0]["pgid"].as_i64().unwrap() as i32;
    assert_eq!(running["services"][0]["name"], "web");
    assert!(!group_members(pgid).is_empty(), "the service runs");
    child.kill().unwrap(); // SIGKILL: nothing of the runner's own cleanup runs
    child.wait().unwrap();
    // The runner's supervisor stops what it started, the service's whole group included.
    let gone = Instant::now() + Duration::from_secs(15);
    while !group_members(pgid).is_empty() && Instant::now() < gone {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(group_members(pgid).is_empty(), "the service's group outlived the runner: {:?}", group_members(pgid));
    assert!(
        p.mission.join("service-logs/running.json").is_file(),
        "the record of the killed run's services is left for the next run"
    );
    model.release("user-testing");

    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("stopped services a killed run left running"),
        "nothing was left to stop: {}",
        text(&out)
    );
    assert_eq!(state_of(&p.json("validation-state.json"), "VAL-WEB-001")["status"], "passed");
    assert_nothing_left(&p.repo);
}

/// A user-testing validator whose report breaks its schema every time: one fresh session
/// more, then the mission halts; nothing passes.
#[test]
fn a_validator_whose_report_breaks_its_schema_twice_halts_the_mission() {
    let contract =
        "# C\n\n### VAL-CALC-001: Adding\nRun: `sh calc.sh add 2 3`\nExpect: `5`\nTool: terminal\nEvidence: output\n";
    let model = MissionModel::start(Script { broken_reports: vec!["user-testing"], ..Default::default() });
    let add = feature(
        "feat-add",
        "add",
        "basics",
        &["VAL-CALC-001"],
        &[],
        json!({"files": {"ops/add.sh": "echo $(( $1 + $2 ))\n", "tests/test_add.sh": "[ \"$(sh calc.sh add 2 3)\" = 5 ]\n"}}),
    );
    let p = Project::new(&model, "max_turns = 3\ncommand_timeout_s = 30", contract, &json!({"features": [add]}));
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let state = p.json("state.json");
    assert_eq!(
        (state["state"].as_str(), state["detailedState"].as_str()),
        (Some("paused"), Some("halted")),
        "never completed"
    );
    let reason = state["haltReason"].as_str().unwrap();
    assert!(reason.contains("user-testing-validator-basics of milestone basics gave no report in 2 sessions; no review happened (last: max_turns (3) reached"), "{reason}");
    let sessions = model.sessions("user-testing");
    assert_eq!(sessions.len(), 2, "one fresh session after the first");
    let refusals = model
        .seen()
        .into_iter()
        .filter(|s| s.role == "user-testing")
        .flat_map(|s| s.results)
        .filter(|(r, e)| *e && r.contains("`assertions[0].status`"))
        .count();
    assert!(refusals >= 2, "each broken report was refused with the field named");
    assert_ne!(state_of(&p.json("validation-state.json"), "VAL-CALC-001")["status"], "passed");
    droid_format::assert_conforms(&p.mission);
}

/// The process groups of the children of `pid` whose command line holds `needle`.
fn child_groups(pid: u32, needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let child: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            let mut fields = stat.rsplit(')').next()?.split_whitespace();
            let (_state, ppid, pgrp) =
                (fields.next()?, fields.next()?.parse::<u32>().ok()?, fields.next()?.parse::<i32>().ok()?);
            let cmdline =
                String::from_utf8_lossy(&std::fs::read(format!("/proc/{child}/cmdline")).ok()?).replace('\0', " ");
            (ppid == pid && cmdline.contains(needle)).then_some(pgrp)
        })
        .collect()
}

/// The browser of a user-testing session ends with a runner killed by SIGKILL (it reads the
/// DevTools protocol from the runner's pipe, which closes).
#[test]
fn a_browser_does_not_outlive_a_killed_runner() {
    let model = MissionModel::start(Script::default());
    let (p, _) = web_project(&model, app);
    let mut child = p.spawn_run(&["--yes"]);
    let deadline = Instant::now() + Duration::from_secs(90);
    let browser = loop {
        if let Some(&g) = child_groups(child.id(), "--remote-debugging-pipe").first() {
            break g;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before a browser started: {:?}", p.event_types());
        }
        assert!(Instant::now() < deadline, "no browser started: {:?}", p.event_types());
        std::thread::sleep(Duration::from_millis(5));
    };
    // The session's next model call waits; the browser stays open meanwhile.
    model.hold("user-testing");
    while !model.seen().iter().any(|s| s.role == "user-testing" && s.turn >= 1) {
        assert!(Instant::now() < deadline, "the session did not go on");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!group_members(browser).is_empty(), "the browser is open while the session waits");
    child.kill().unwrap();
    child.wait().unwrap();
    let gone = Instant::now() + Duration::from_secs(15);
    while !group_members(browser).is_empty() && Instant::now() < gone {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(group_members(browser).is_empty(), "the browser's group outlived the runner: {:?}", group_members(browser));
    model.release("user-testing");
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_nothing_left(&p.repo);
}
