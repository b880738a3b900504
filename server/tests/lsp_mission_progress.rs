//! Work-done progress, halts, validator issues and planner questions of a mission run inside
//! the editor: the real `missions lsp` binary over stdio against the loop's scripted fake
//! model (tests/loop_support).

mod loop_support;
mod stdio_frames;

use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use loop_support::*;
use serde_json::{json, Value};

const LIMITS: &str = "max_validation_rounds = 3\ncommand_timeout_s = 30";
/// Generous: a whole mission runs within it.
const WAIT: Duration = Duration::from_secs(120);

fn url(path: &Path) -> String {
    tower_lsp::lsp_types::Url::from_file_path(path).unwrap().to_string()
}

/// The server over stdio; messages nobody waited for yet are kept in `unread`.
struct Server {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Value>,
    unread: Vec<Value>,
    next_id: i64,
}

impl Server {
    fn start(p: &Project, capabilities: Value) -> Server {
        let mut child = command(&p.repo, &["lsp"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let rx = stdio_frames::reader(stdout);
        let mut server = Server { child, stdin, rx, unread: Vec::new(), next_id: 1 };
        let init = server.request("initialize", json!({"capabilities": capabilities, "workspaceFolders": [{"uri": url(&p.repo), "name": "calc"}]}));
        assert!(init.get("result").is_some(), "{init}");
        server.notify("initialized", json!({}));
        server
    }

    fn send(&mut self, message: Value) {
        let body = serde_json::to_vec(&message).unwrap();
        self.stdin.write_all(&[format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes(), body].concat()).unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        if params.is_null() {
            self.send(json!({"jsonrpc": "2.0", "method": method}));
        } else {
            self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        if params.is_null() {
            self.send(json!({"jsonrpc": "2.0", "id": id, "method": method}));
        } else {
            self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        }
        self.take(|m| m["id"] == id && m.get("method").is_none())
    }

    fn command(&mut self, command: &str, mission: &Path) -> Value {
        self.request("workspace/executeCommand", json!({"command": command, "arguments": [url(mission)]}))
    }

    /// Answers a request the server sent us.
    fn answer(&mut self, request: &Value, result: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": request["id"], "result": result}));
    }

    /// The first message (kept or new) that `wanted` accepts.
    fn take(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.unread.iter().position(&wanted) {
            return self.unread.remove(i);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self.rx.recv_timeout(left).unwrap_or_else(|e| panic!("no matching message within {WAIT:?} ({e}); unread: {:#?}", self.unread));
            if wanted(&message) {
                return message;
            }
            self.unread.push(message);
        }
    }

    /// The `window/workDoneProgress/create` request, answered with success; returns its token.
    fn accept_progress(&mut self) -> Value {
        let create = self.take(|m| m["method"] == "window/workDoneProgress/create");
        assert!(create.get("id").is_some(), "a request: {create}");
        self.answer(&create, Value::Null);
        create["params"]["token"].clone()
    }

    /// `missions/event`s and `$/progress` of `token`, in the order sent, up to and including
    /// the progress `end`.
    fn run_until_progress_end(&mut self, token: &Value) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let m = self.take(|m| m["method"] == "missions/event" || (m["method"] == "$/progress" && m["params"]["token"] == *token));
            let end = m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end";
            out.push(m);
            if end {
                return out;
            }
        }
    }

    fn events_until(&mut self, last: &str) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let event = self.take(|m| m["method"] == "missions/event")["params"]["event"].clone();
            let done = event["type"] == last;
            events.push(event);
            if done {
                return events;
            }
        }
    }

    fn show_message(&mut self) -> Value {
        self.take(|m| m["method"] == "window/showMessage")["params"].clone()
    }

    fn finish(mut self) {
        let shutdown = self.request("shutdown", Value::Null);
        assert!(shutdown.get("error").is_none(), "{shutdown}");
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                return;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn progress_client() -> Value {
    json!({"window": {"workDoneProgress": true, "showDocument": {"support": true}}})
}

fn kind(m: &Value) -> String {
    if m["method"] == "$/progress" {
        format!("progress:{}", m["params"]["value"]["kind"].as_str().unwrap())
    } else {
        m["params"]["event"]["type"].as_str().unwrap().to_string()
    }
}

/// Percentages of the progress messages, in order; they never go down.
fn percentages(messages: &[Value]) -> Vec<u64> {
    let out: Vec<u64> = messages.iter().filter(|m| m["method"] == "$/progress").filter_map(|m| m["params"]["value"]["percentage"].as_u64()).collect();
    assert!(out.windows(2).all(|w| w[0] <= w[1]), "rising: {out:?}");
    out
}

#[test]
fn a_run_shows_work_done_progress_from_begin_to_end() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let title = p.json("state.json")["title"].as_str().unwrap().to_string();
    let mut server = Server::start(&p, progress_client());
    assert!(server.command("missions.start", &p.mission).get("result").is_some());
    let token = server.accept_progress();
    let messages = server.run_until_progress_end(&token);
    let kinds: Vec<String> = messages.iter().map(kind).collect();

    let progress: Vec<&Value> = messages.iter().filter(|m| m["method"] == "$/progress").collect();
    let begin = &progress[0]["params"]["value"];
    assert_eq!(begin["kind"], "begin", "{kinds:?}");
    assert_eq!(begin["title"], format!("Mission {title}"));
    assert_eq!(begin["cancellable"], true);
    assert!(progress[1..progress.len() - 1].iter().all(|m| m["params"]["value"]["kind"] == "report"), "{kinds:?}");
    assert!(progress.len() > 5, "a report per event: {kinds:?}");
    // Every event but the final one is followed by a report (once the token exists).
    let reports = kinds.iter().filter(|k| *k == "progress:report").count();
    let begin_at = kinds.iter().position(|k| k == "progress:begin").unwrap();
    let events_after_begin = kinds[begin_at..].iter().filter(|k| !k.starts_with("progress:") && *k != "mission_completed").count();
    assert_eq!(reports, events_after_begin, "{kinds:?}");
    // The end comes after mission_completed and says how the run ended.
    let completed_at = kinds.iter().position(|k| k == "mission_completed").expect("mission_completed");
    assert_eq!(kinds.last().unwrap(), "progress:end");
    assert!(completed_at < kinds.len() - 1);
    assert_eq!(progress.last().unwrap()["params"]["value"]["message"], "completed");

    let reported: Vec<&str> = progress.iter().filter_map(|m| m["params"]["value"]["message"].as_str()).collect();
    assert!(reported.iter().any(|m| m.contains("milestone basics") && m.contains("feature feat-add")), "{reported:?}");
    assert!(reported.iter().any(|m| m.contains("milestone more") && m.contains("round 1")), "{reported:?}");
    assert!(reported.iter().any(|m| m.contains("round 2")), "the fix round: {reported:?}");
    let percent = percentages(&messages);
    assert_eq!(percent.first(), Some(&0));
    // Basics' round 1 passes VAL-CALC-001 only: one of three.
    assert!(percent.contains(&33), "{percent:?}");
    assert_eq!(percent.last(), Some(&100), "{percent:?}");
    assert_eq!(server.show_message()["type"], 3, "completed: info");
    server.finish();
}

#[test]
fn cancelling_the_progress_pauses_the_mission_and_resume_completes_it() {
    let model = MissionModel::start(Script { latency: Duration::from_millis(40), ..sub_fix() });
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let mut server = Server::start(&p, progress_client());
    assert!(server.command("missions.start", &p.mission).get("result").is_some());
    let token = server.accept_progress();
    server.take(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "begin");
    let events = server.events_until("feature_started");
    assert!(!events.iter().any(|e| e["type"] == "mission_completed"));
    server.notify("window/workDoneProgress/cancel", json!({"token": token}));
    let events = server.events_until("mission_paused");
    assert_eq!(events.last().unwrap()["reason"], "paused from the editor", "{events:?}");
    let end = server.take(|m| m["method"] == "$/progress" && m["params"]["token"] == token && m["params"]["value"]["kind"] == "end");
    assert_eq!(end["params"]["value"]["message"], "paused");
    assert_eq!(server.show_message()["message"], "Mission paused; missions.resume continues where it stopped");
    let status = server.command("missions.status", &p.mission);
    assert_eq!(status["result"]["status"], "paused", "{status}");

    // A cancel of a token that ended does nothing.
    server.notify("window/workDoneProgress/cancel", json!({"token": token}));
    assert!(server.command("missions.resume", &p.mission).get("result").is_some());
    let again = server.accept_progress();
    assert_ne!(again, token, "a fresh token per run");
    let messages = server.run_until_progress_end(&again);
    let kinds: Vec<String> = messages.iter().map(kind).collect();
    assert!(kinds.contains(&"mission_completed".to_string()), "{kinds:?}");
    assert_eq!(messages.last().unwrap()["params"]["value"]["message"], "completed");
    assert_eq!(p.json("state.json")["status"], "completed");
    server.finish();
}

#[test]
fn a_halt_is_shown_with_its_reason_and_no_progress_without_the_capability() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, "max_validation_rounds = 1\ncommand_timeout_s = 30", CONTRACT, &features());
    let mut server = Server::start(&p, json!({}));
    assert!(server.command("missions.start", &p.mission).get("result").is_some());
    let events = server.events_until("mission_halted");
    let reason = events.last().unwrap()["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("did not pass validation in 1 round(s)"), "{reason}");
    let shown = server.show_message();
    assert_eq!(shown["type"], 1, "an error: {shown}");
    assert!(shown["message"].as_str().unwrap().contains(&reason), "{shown}");
    // A client that did not offer window.workDoneProgress is never asked for a token.
    let status = server.command("missions.status", &p.mission);
    assert_eq!(status["result"]["status"], "halted", "{status}");
    assert!(!server.unread.iter().any(|m| m["method"] == "window/workDoneProgress/create" || m["method"] == "$/progress"), "{:#?}", server.unread);
    server.finish();
}

#[test]
fn answering_the_planners_questions_and_saving_mission_md_resumes_planning() {
    let plan = PlanScript { questions: vec!["Which shell must it run on?".into(), "Integers only?".into()], ..Project::calculator_plan() };
    let model = MissionModel::start(Script { plan: Some(plan), ..sub_fix() });
    let p = Project::unplanned(&model, LIMITS);
    // `missions run` in a terminal lets the planner ask; it stops waiting for the answers.
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(p.json("state.json")["status"], "awaiting_answers");
    let asked = p.read("mission.md");
    assert!(asked.contains("## Questions") && asked.contains("Which shell must it run on?"), "{asked}");

    let mut server = Server::start(&p, progress_client());
    let mission_md = p.mission.join("mission.md");
    let uri = url(&mission_md);
    server.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "markdown", "version": 1, "text": asked}}));
    // Saved with one answer only: still waiting.
    let one = answer_questions(&asked, &["POSIX sh"]);
    std::fs::write(&mission_md, &one).unwrap();
    server.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}}));
    let status = server.command("missions.status", &p.mission);
    assert_eq!(status["result"]["status"], "awaiting_answers", "{status}");

    // Every answer written and saved: planning resumes as missions.start would, and runs on.
    std::fs::write(&mission_md, answer_questions(&asked, &["POSIX sh", "yes"])).unwrap();
    server.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}}));
    let shown = server.show_message();
    assert!(shown["message"].as_str().unwrap().contains("planning resumes"), "{shown}");
    let token = server.accept_progress();
    let messages = server.run_until_progress_end(&token);
    let kinds: Vec<String> = messages.iter().map(kind).collect();
    assert!(kinds.contains(&"plan_approved".to_string()) && kinds.contains(&"mission_completed".to_string()), "{kinds:?}");
    let planner = model.sessions("orchestrator");
    assert!(planner.iter().any(|s| s.first_user.contains("## Your questions and the person's answers") && s.first_user.contains("POSIX sh")), "the planner got the answers");
    assert_eq!(p.json("state.json")["status"], "completed");
    server.finish();
}

/// mission.md with the `A:` lines under `## Questions` filled in order.
fn answer_questions(mission_md: &str, answers: &[&str]) -> String {
    let mut answers = answers.iter();
    let mut out = String::new();
    for line in mission_md.lines() {
        match line.trim() == "A:" {
            true => match answers.next() {
                Some(a) => out.push_str(&format!("{line} {a}\n")),
                None => out.push_str(&format!("{line}\n")),
            },
            false => out.push_str(&format!("{line}\n")),
        }
    }
    out
}

/// validation-state.json as the runner writes it after a round of basics: VAL-CALC-002 with
/// `status`, and (when failed) the validator's issue pointing at `ops/sub.sh` line 1.
fn round_state(round: u32, sub_status: &str) -> String {
    let issues = if sub_status == "failed" {
        json!([{"id": "ISS-basics-1-1", "severity": "blocking", "title": "sub prints B-A", "detail": "`sh calc.sh sub 5 3` prints -2", "assertionIds": ["VAL-CALC-002"], "location": {"path": "ops/sub.sh", "line": 1}}])
    } else {
        json!([])
    };
    pretty(&json!({"assertions": {
        "VAL-CALC-001": {"status": "passed", "milestone": "basics", "round": round, "evidence": [], "issues": []},
        "VAL-CALC-002": {"status": sub_status, "milestone": "basics", "round": round, "evidence": [], "issues": issues}
    }}))
}

/// The scripted validators of loop_support put no located issue on an assertion (the
/// scrutiny validator's located issue names no assertion, so the runner files it under none),
/// so the rounds' outcome is written here as the runner writes it and announced as a watched
/// file change, as the client does while a mission runs.
#[test]
fn a_located_validator_issue_is_a_diagnostic_on_its_source_line_until_the_assertion_passes() {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let mut server = Server::start(&p, json!({"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}}}));
    let register = server.take(|m| m["method"] == "client/registerCapability");
    server.answer(&register, Value::Null);
    let features_uri = url(&p.mission.join("features.json"));
    server.take(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == features_uri);
    let source_uri = url(&p.repo.join("ops/sub.sh"));
    let state_uri = url(&p.mission.join("validation-state.json"));

    // Round 1 failed VAL-CALC-002 with an issue at ops/sub.sh:1.
    std::fs::write(p.mission.join("validation-state.json"), round_state(1, "failed")).unwrap();
    server.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": state_uri, "type": 1}]}));
    let published = server.take(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == source_uri)["params"].clone();
    let diagnostics = published["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{published}");
    assert_eq!(diagnostics[0]["code"], "validator-issue");
    assert_eq!(diagnostics[0]["source"], "missions");
    assert_eq!(diagnostics[0]["range"]["start"]["line"], 0, "line 1 of the file: {published}");
    assert!(diagnostics[0]["message"].as_str().unwrap().contains("sub prints B-A"), "{published}");

    // The fix round passed it: the file's diagnostics are cleared.
    std::fs::write(p.mission.join("validation-state.json"), round_state(2, "passed")).unwrap();
    server.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": state_uri, "type": 2}]}));
    let cleared = server.take(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == source_uri)["params"].clone();
    assert_eq!(cleared["diagnostics"], json!([]), "{cleared}");
    server.finish();
}
