//! End-to-end support for the mission loop: a "mission model" (a fake provider on
//! 127.0.0.1 speaking the Anthropic and OpenAI wire formats) that plays every role by
//! reading each request (the role's system prompt, the first message, the tool results so
//! far), and a small real shell project in a temporary git repository whose tests really run.
#![allow(dead_code)]

#[path = "../agent_support/mod.rs"]
pub mod agent_support;
#[path = "../droid_format/mod.rs"]
pub mod droid_format;

use agent_support::{anthropic_turn, openai_turn};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use regex::Regex;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const KEY_ENV: &str = "MISSIONS_LOOP_TEST_KEY";

/// One request the model answered: which role, the first user message, the turn number.
#[derive(Debug, Clone)]
pub struct Seen {
    pub role: String,
    pub first_user: String,
    pub turn: usize,
    /// Tool results so far: (content, is_error).
    pub results: Vec<(String, bool)>,
    /// The tools the request offered.
    pub tools: Vec<String>,
}

/// How the scripted model behaves.
#[derive(Clone, Default)]
pub struct Script {
    /// Delay before every answer (to give crash tests a window).
    pub latency: Duration,
    /// Fix features the orchestrator writes when a round fails an assertion: assertion id ->
    /// the fix feature (without `milestone`, `status` and droid's other keys, which it fills in).
    pub fixes: BTreeMap<String, Value>,
    /// How the orchestrator plans a mission that has no plan.
    pub plan: Option<PlanScript>,
    /// Where the scrutiny validator places the bug of an assertion whose probe fails: assertion
    /// id -> `{"file", "line"}` of a blocking issue in the review of the feature claiming it.
    /// Without one the scrutiny review passes (only the user-testing validator fails it).
    pub issue_locations: BTreeMap<String, Value>,
    /// Roles that only ever answer with text, never a tool call (a model that will not report).
    pub mute: Vec<&'static str>,
    /// Validator roles whose final call always breaks its schema (a status droid does not
    /// know), however often the runner refuses it.
    pub broken_reports: Vec<&'static str>,
}

/// A planning session: optional questions (only when `ask_user` is offered and they are not
/// answered yet), then the contract, the features and the shared files, then `submit_plan`.
#[derive(Clone, Default)]
pub struct PlanScript {
    pub questions: Vec<String>,
    pub contract: String,
    pub features: Value,
    /// Tries to write features.json before the contract first (the write rules refuse it).
    pub features_first: bool,
    /// The first features.json has a precondition naming no feature; `submit_plan`'s lint
    /// refuses it and the orchestrator rewrites the file.
    pub lint_error_once: bool,
    /// Never repairs the lint error (the runner must halt after its bounded attempts).
    pub never_fix: bool,
}

struct Shared {
    script: Script,
    seen: Mutex<Vec<Seen>>,
    /// Roles whose answers are held back (see `MissionModel::hold`).
    held: Mutex<std::collections::BTreeSet<String>>,
}

pub struct MissionModel {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    _runtime: tokio::runtime::Runtime,
}

impl MissionModel {
    /// Starts the model on its own runtime (the tests spawn the real binary synchronously).
    pub fn start(script: Script) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let shared = Arc::new(Shared { script, seen: Mutex::new(Vec::new()), held: Mutex::new(Default::default()) });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MissionModel { addr, shared, _runtime: runtime }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Holds back every answer to `role` until `release(role)`: the loop waits inside that
    /// role's next model call, so a test can look at the files (and what an editor shows of
    /// them) as the step before left them, without racing the loop.
    pub fn hold(&self, role: &str) {
        self.shared.held.lock().unwrap().insert(role.to_string());
    }

    /// Lets the answers to `role` go again (the held one first).
    pub fn release(&self, role: &str) {
        self.shared.held.lock().unwrap().remove(role);
    }

    /// The first request of every session of `role`, in order.
    pub fn sessions(&self, role: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.role == role && s.turn == 0).collect()
    }

    /// missions.toml: workers and the orchestrator on the Anthropic format, validators on
    /// the OpenAI one, all on this server.
    pub fn config(&self, limits: &str) -> String {
        let a = format!("http://{}", self.addr);
        let o = format!("http://{}/v1", self.addr);
        format!(
            "[roles.orchestrator]\nprovider = \"anthropic\"\nmodel = \"fake-planner\"\nbase_url = \"{a}\"\napi_key_env = \"{KEY_ENV}\"\n\n\
             [roles.worker]\nprovider = \"anthropic\"\nmodel = \"fake-worker\"\nbase_url = \"{a}\"\napi_key_env = \"{KEY_ENV}\"\n\n\
             [roles.validator]\nprovider = \"openai\"\nmodel = \"fake-validator\"\nbase_url = \"{o}\"\napi_key_env = \"{KEY_ENV}\"\n\n[limits]\n{limits}\n"
        )
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let openai = uri.path().ends_with("/chat/completions");
    let conv = if openai { read_openai(&body) } else { read_anthropic(&body) };
    let role = role_of(&conv.system);
    shared.seen.lock().unwrap().push(Seen {
        role: role.to_string(),
        first_user: conv.first_user.clone(),
        turn: conv.turns,
        results: conv.results.clone(),
        tools: conv.tools.clone(),
    });
    while shared.held.lock().unwrap().contains(role) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if !shared.script.latency.is_zero() {
        tokio::time::sleep(shared.script.latency).await;
    }
    let calls = answer(role, &conv, &shared.script);
    let frames = render(openai, conv.turns, &calls);
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .body(Body::from(frames.concat()))
        .unwrap()
}

/// The tool calls the model makes as `role` in the conversation `c`.
pub fn answer(role: &str, c: &Conv, script: &Script) -> Vec<(String, Value)> {
    match role {
        _ if script.mute.contains(&role) => vec![],
        "worker" => worker(c),
        "scrutiny" => scrutiny(c, script),
        "user-testing" => user_testing(c, script),
        "orchestrator" => orchestrator(c, script),
        _ => vec![],
    }
}

fn render(openai: bool, turn: usize, calls: &[(String, Value)]) -> Vec<String> {
    let ids: Vec<String> = (0..calls.len()).map(|i| format!("call_{turn}_{i}")).collect();
    let args: Vec<String> = calls.iter().map(|(_, a)| a.to_string()).collect();
    if openai {
        let pieces: Vec<[&str; 1]> = args.iter().map(|a| [a.as_str()]).collect();
        let tools: Vec<(u64, &str, &str, &[&str])> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (i as u64, ids[i].as_str(), name.as_str(), &pieces[i][..]))
            .collect();
        openai_turn(if calls.is_empty() { "done" } else { "" }, &tools, 100, 0, 20)
    } else {
        let pieces: Vec<[&str; 1]> = args.iter().map(|a| [a.as_str()]).collect();
        let tools: Vec<(&str, &str, &[&str])> =
            calls.iter().enumerate().map(|(i, (name, _))| (ids[i].as_str(), name.as_str(), &pieces[i][..])).collect();
        anthropic_turn(if calls.is_empty() { "done" } else { "" }, &tools, 100, 0, 0, 20)
    }
}

// ---- reading a request ------------------------------------------------------------------

#[derive(Debug, Default)]
pub struct Conv {
    pub system: String,
    pub first_user: String,
    /// Assistant turns so far.
    pub turns: usize,
    pub results: Vec<(String, bool)>,
    /// The tool names the request offers.
    pub tools: Vec<String>,
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

pub fn read_anthropic(body: &Value) -> Conv {
    let mut c = Conv { system: text_of(&body["system"]), tools: tool_names(body), ..Default::default() };
    for m in body["messages"].as_array().into_iter().flatten() {
        match m["role"].as_str() {
            Some("assistant") => c.turns += 1,
            Some("user") => {
                for block in m["content"].as_array().into_iter().flatten() {
                    if block["type"] == "tool_result" {
                        c.results.push((text_of(&block["content"]), block["is_error"] == true));
                    }
                }
                if c.first_user.is_empty() {
                    c.first_user = text_of(&m["content"]);
                }
            }
            _ => {}
        }
    }
    c
}

fn tool_names(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().or_else(|| t["function"]["name"].as_str()))
        .map(str::to_string)
        .collect()
}

pub fn read_openai(body: &Value) -> Conv {
    let mut c = Conv { tools: tool_names(body), ..Default::default() };
    for m in body["messages"].as_array().into_iter().flatten() {
        match m["role"].as_str() {
            Some("system") => c.system.push_str(&text_of(&m["content"])),
            Some("assistant") => c.turns += 1,
            Some("tool") => {
                let t = text_of(&m["content"]);
                c.results.push((t.clone(), t.starts_with("Error: ")));
            }
            Some("user") if c.first_user.is_empty() => c.first_user = text_of(&m["content"]),
            _ => {}
        }
    }
    c
}

pub fn role_of(system: &str) -> &'static str {
    if system.contains("# Role: worker") {
        "worker"
    } else if system.contains("# Role: orchestrator") {
        "orchestrator"
    } else if system.contains("# Role: scrutiny validator") {
        "scrutiny"
    } else if system.contains("# Role: user-testing validator") {
        "user-testing"
    } else {
        "unknown"
    }
}

/// The mission folder as the prompt names it, relative to the working directory when it is
/// inside it (so a recording of these calls replays in another directory).
fn mission_folder(system: &str) -> String {
    let mission =
        system.lines().find_map(|l| l.strip_prefix("Mission folder: ")).unwrap_or_default().trim().to_string();
    relative(system, &mission)
}

fn relative(system: &str, path: &str) -> String {
    let wd = system.lines().find_map(|l| l.strip_prefix("Working directory: ")).unwrap_or_default().trim().to_string();
    match path.strip_prefix(&format!("{wd}/")) {
        Some(rel) if !wd.is_empty() => rel.to_string(),
        _ => path.to_string(),
    }
}

fn call(name: &str, args: Value) -> (String, Value) {
    (name.to_string(), args)
}

// ---- the worker -------------------------------------------------------------------------

/// The feature object the runner put in the first message (a ```json block).
pub fn feature_of(first_user: &str) -> Value {
    let start = first_user.find("## Feature\n\n```json\n").map(|i| i + "## Feature\n\n```json\n".len()).unwrap_or(0);
    let end = first_user[start..].find("\n```").map_or(first_user.len(), |e| start + e);
    serde_json::from_str(&first_user[start..end]).unwrap_or(Value::Null)
}

fn commit_in(results: &[(String, bool)]) -> Option<String> {
    let hash = Regex::new(r"(?m)^([0-9a-f]{40})$").unwrap();
    results.iter().rev().find_map(|(r, _)| hash.captures(r).map(|c| c[1].to_string()))
}

const BOGUS_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Writes the feature's files (`x-fake.files`), runs the project's tests, commits, and hands
/// off (droid's EndFeatureRun) with the commit id it read from `git rev-parse HEAD`.
/// `x-fake.behaviour` bends it: `blocked` (a failure), `partial-once`, `bogus-commit-once`,
/// `bogus-commit-always`, `quick`. For the red-green proof, its first session may write
/// `x-fake.first_files` instead and list `x-fake.first_tests` as its tests, and
/// `x-fake.skip_tests` commits without running the project's tests.
fn worker(c: &Conv) -> Vec<(String, Value)> {
    let feature = feature_of(&c.first_user);
    let id = feature["id"].as_str().unwrap_or("?").to_string();
    let fake = &feature["x-fake"];
    let behaviour = fake["behaviour"].as_str().unwrap_or("");
    let retry = c.first_user.contains("## The previous session of this feature");
    let written = if !retry && fake["first_files"].is_object() { &fake["first_files"] } else { &fake["files"] };
    let files: Vec<(String, String)> = written
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect();
    let mut test_files: Vec<String> =
        files.iter().map(|(p, _)| p.clone()).filter(|p| p.starts_with("tests/")).collect();
    if let (false, Some(listed)) = (retry, fake["first_tests"].as_array()) {
        test_files = listed.iter().filter_map(|t| t.as_str().map(str::to_string)).collect();
    }
    let tests: Vec<Value> = test_files.into_iter().map(|p| json!({"file": p, "cases": [{"name": "main", "verifies": format!("{id} behaves as its assertions say")}]})).collect();
    let handoff = |state: &str, commit: Option<&str>| {
        let mut h = json!({"successState": state, "returnToOrchestrator": state != "success", "salientSummary": format!("{id}: handed off as {state} after running sh test.sh."),
            "whatWasImplemented": format!("Wrote {} for feature {id}, test-first, and ran the project's tests.", files.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(", ")),
            "whatWasLeftUndone": "", "verification": {"commandsRun": [{"command": "sh test.sh", "exitCode": 0, "observation": "all tests passed"}]},
            "tests": {"added": tests, "coverage": format!("the behaviour of {id}")}, "discoveredIssues": [], "skillFeedback": {"followedProcedure": true, "deviations": []}});
        if let Some(commit) = commit {
            h["commitId"] = json!(commit);
        }
        h
    };
    let failure = |why: String| {
        let mut h = handoff("failure", None);
        h["whatWasLeftUndone"] = json!(format!("Everything: {why}"));
        h["discoveredIssues"] = json!([{"severity": "blocking", "description": why}]);
        vec![call("submit_handoff", h)]
    };
    if behaviour == "blocked" {
        return failure("the database this feature needs does not exist".into());
    }
    let partial_now = behaviour == "partial-once" && !retry;
    match c.turns {
        0 => {
            let written: Vec<&(String, String)> =
                if partial_now { files.iter().take(1).collect() } else { files.iter().collect() };
            let mut calls: Vec<(String, Value)> =
                written.iter().map(|(p, content)| call("write_file", json!({"path": p, "content": content}))).collect();
            // `quick` skips the project's tests (the overhead measurement's worker only commits).
            let test = if behaviour == "quick" || fake["skip_tests"] == true { "" } else { "sh test.sh && " };
            calls.push(call("bash", json!({"command": format!("{test}git add -A && git commit -qm '{id}' && git rev-parse HEAD"), "timeout_s": 60})));
            calls
        }
        _ => {
            let Some(commit) = commit_in(&c.results) else {
                return failure(format!("the tests fail: {}", c.results.last().map(|r| r.0.as_str()).unwrap_or("")));
            };
            if partial_now {
                let mut h = handoff("partial", Some(&commit));
                h["whatWasLeftUndone"] = json!("the tests are not written yet");
                return vec![call("submit_handoff", h)];
            }
            let refused_before = c.results.iter().any(|(r, e)| *e && r.contains("handoff refused"));
            let bogus = behaviour == "bogus-commit-always" || (behaviour == "bogus-commit-once" && !refused_before);
            vec![call("submit_handoff", handoff("success", Some(if bogus { BOGUS_COMMIT } else { &commit })))]
        }
    }
}

// ---- the validators ---------------------------------------------------------------------

/// An assertion as the validator reads it from its first message.
#[derive(Debug, Clone)]
pub struct Probe {
    pub id: String,
    pub run: Option<String>,
    pub expect: Option<String>,
    /// `Drive:` steps, ` | `-separated: what a person does in the browser or a terminal.
    pub drive: Vec<String>,
}

pub fn probes(first_user: &str) -> Vec<Probe> {
    let heading = Regex::new(r"^#{1,6} (VAL-[A-Z0-9-]+-\d{3,}):").unwrap();
    let backticked = |line: &str, key: &str| line.strip_prefix(key).map(|r| r.trim().trim_matches('`').to_string());
    let mut out: Vec<Probe> = Vec::new();
    let section = first_user.split("## Assertions").nth(1).unwrap_or("");
    for line in section.lines() {
        if line.starts_with("## ") {
            break;
        }
        if let Some(c) = heading.captures(line) {
            out.push(Probe { id: c[1].to_string(), run: None, expect: None, drive: Vec::new() });
        } else if let Some(p) = out.last_mut() {
            if let Some(r) = backticked(line, "Run:") {
                p.run = Some(r);
            } else if let Some(e) = backticked(line, "Expect:") {
                p.expect = Some(e);
            } else if let Some(d) = backticked(line, "Drive:") {
                p.drive = d.split(" | ").map(|s| s.trim().to_string()).collect();
            }
        }
    }
    out
}

/// The evidence folder the prompt names (`Save evidence under <mission>/evidence/<m>/<group>/ (…`).
fn evidence_dir(first_user: &str) -> String {
    first_user
        .lines()
        .find_map(|l| l.strip_prefix("Save evidence under "))
        .and_then(|r| r.split("/ (").next())
        .unwrap_or("/tmp")
        .to_string()
}

/// One `Drive:` step as the tool call a person's action is: `open URL`, `fill SELECTOR TEXT`,
/// `click SELECTOR`, `wait TEXT`, `screenshot NAME` (browser); `term COMMAND`, `type TEXT`,
/// `key KEY`, `twait TEXT`, `tsnap NAME`, `texit` (terminal).
fn drive_call(step: &str) -> (String, Value) {
    let (verb, rest) = step.split_once(' ').unwrap_or((step, ""));
    let (first, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    match verb {
        "open" => call("browser", json!({"action": "open", "url": rest})),
        "fill" => call("browser", json!({"action": "fill", "selector": first, "text": tail})),
        "click" => call("browser", json!({"action": "click", "selector": rest})),
        "press" => call("browser", json!({"action": "press", "key": rest})),
        "wait" => call("browser", json!({"action": "wait", "text": rest})),
        "screenshot" => call("browser", json!({"action": "screenshot", "name": rest})),
        "term" => call("terminal", json!({"action": "start", "command": rest, "cols": 80, "rows": 24})),
        "type" => call("terminal", json!({"action": "type", "text": rest})),
        "key" => call("terminal", json!({"action": "press", "key": rest})),
        "twait" => call("terminal", json!({"action": "wait", "text": rest})),
        "tsnap" => call("terminal", json!({"action": "snapshot", "name": rest})),
        "texit" => call("terminal", json!({"action": "wait", "timeout_s": 10})),
        other => panic!("unknown Drive: step `{other}`"),
    }
}

/// The evidence paths a tool result names (`… as evidence: <path>`).
fn saved_evidence(result: &str) -> Option<String> {
    result.lines().find_map(|l| l.split_once("as evidence: ").map(|(_, p)| p.trim().to_string()))
}

/// The `--- <id>` outputs of earlier probe runs.
fn probe_output(c: &Conv, id: &str) -> String {
    let marker = format!("--- {id}");
    c.results
        .iter()
        .find(|(r, _)| r.contains(&marker))
        .map(|(r, _)| r.split(&marker).nth(1).unwrap_or("").to_string())
        .unwrap_or_default()
}

/// Runs each assertion's `Run:` command as a user would and compares its output with
/// `Expect:`, saving the output as evidence in the folder the task names; then does each
/// assertion's `Drive:` steps in the browser or a terminal (one turn per assertion) and
/// reports it passed when every step went through, citing what the tools saved. It looks
/// only at what it is told to look at, as a hurried person would.
fn user_testing(c: &Conv, script: &Script) -> Vec<(String, Value)> {
    let probes = probes(&c.first_user);
    let folder = evidence_dir(&c.first_user);
    let dir = relative(&c.system, &folder);
    let group = folder.split("/evidence/").nth(1).unwrap_or("").to_string();
    let cited = |id: &str| format!("{group}/{id}.txt");
    let runnable: Vec<&Probe> = probes.iter().filter(|p| p.run.is_some()).collect();
    let driven: Vec<&Probe> = probes.iter().filter(|p| !p.drive.is_empty()).collect();
    // Turn batches: the probes' commands, then each driven assertion's steps.
    let mut batches: Vec<Vec<(String, Value)>> = Vec::new();
    if !runnable.is_empty() {
        batches.push(runnable.iter().map(|p| call("bash", json!({"command": format!("mkdir -p '{dir}' && {{ {} ; }} > '{dir}/{}.txt' 2>&1; echo '--- {}'; cat '{dir}/{}.txt'", p.run.as_deref().unwrap(), p.id, p.id, p.id)}))).collect());
    }
    for p in &driven {
        batches.push(p.drive.iter().map(|s| drive_call(s)).collect());
    }
    if script.broken_reports.contains(&"user-testing") {
        let broken = probes
            .iter()
            .map(|p| json!({"id": p.id, "status": "passed", "steps": [], "evidence": []}))
            .collect::<Vec<_>>();
        return vec![call("submit_validation", json!({"salientSummary": "all good", "assertions": broken}))];
    }
    if c.turns < batches.len() {
        return batches[c.turns].clone();
    }
    // What each driven assertion's steps answered, in order.
    let mut offset = if runnable.is_empty() { 0 } else { runnable.len() };
    let mut answered: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for p in &driven {
        answered.insert(
            p.id.clone(),
            c.results[offset.min(c.results.len())..(offset + p.drive.len()).min(c.results.len())].to_vec(),
        );
        offset += p.drive.len();
    }
    let mut assertions = Vec::new();
    for p in &probes {
        if let Some(results) = answered.get(&p.id) {
            let mut evidence: Vec<String> = results.iter().filter_map(|(r, _)| saved_evidence(r)).collect();
            if p.drive.iter().any(|s| {
                matches!(s.split(' ').next(), Some("open" | "fill" | "click" | "press" | "wait" | "screenshot"))
            }) {
                evidence.push(format!("{group}/browser-network.jsonl"));
                evidence.push(format!("{group}/browser-console.jsonl"));
            }
            let steps: Vec<Value> = p
                .drive
                .iter()
                .zip(results)
                .map(|(s, (r, _))| json!({"action": s, "observed": r.lines().next().unwrap_or("")}))
                .collect();
            match results.iter().find(|(_, error)| *error) {
                None => assertions.push(json!({"id": p.id, "status": "pass", "steps": steps, "evidence": evidence})),
                Some((why, _)) => assertions
                    .push(json!({"id": p.id, "status": "fail", "steps": steps, "evidence": evidence, "issues": why})),
            }
            continue;
        }
        let Some(run) = &p.run else {
            assertions.push(json!({"id": p.id, "status": "pass", "steps": [{"action": "read the assertion", "observed": "nothing to run"}], "evidence": []}));
            continue;
        };
        let output = probe_output(c, &p.id);
        let expect = p.expect.clone().unwrap_or_default();
        let step = json!({"action": run, "expected": expect, "observed": output.trim()});
        if output.lines().any(|l| l.trim() == expect) {
            assertions.push(json!({"id": p.id, "status": "pass", "steps": [step], "evidence": [cited(&p.id)]}));
        } else {
            assertions.push(json!({"id": p.id, "status": "fail", "steps": [step], "evidence": [cited(&p.id)], "issues": format!("`{run}` printed `{}`, expected `{expect}`", output.trim())}));
        }
    }
    let passed = assertions.iter().filter(|a| a["status"] == "pass").count();
    vec![call(
        "submit_validation",
        json!({"salientSummary": format!("{passed} of {} assertions passed", assertions.len()), "toolsUsed": ["bash"], "assertions": assertions}),
    )]
}

/// The features the scrutiny prompt lists for review, with the assertions each fulfills
/// (`- feat-sub: fulfills VAL-CALC-002`).
fn features_to_review(first_user: &str) -> Vec<(String, Vec<String>)> {
    let section = first_user.split("## The features to review").nth(1).unwrap_or("");
    section
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.strip_prefix("- "))
        .map(|l| {
            let (id, rest) = l.split_once(':').unwrap_or((l, ""));
            let claims = rest
                .trim()
                .strip_prefix("fulfills ")
                .map(|c| c.split(", ").map(str::to_string).collect())
                .unwrap_or_default();
            (id.trim().to_string(), claims)
        })
        .collect()
}

/// Runs the project's tests and each assertion's probe; reviews every feature it is given:
/// a feature fails its review when its assertion's probe fails and `script.issue_locations`
/// places the bug.
fn scrutiny(c: &Conv, script: &Script) -> Vec<(String, Value)> {
    let probes = probes(&c.first_user);
    if c.turns == 0 {
        let mut calls = vec![call("bash", json!({"command": "sh test.sh; git log --oneline | head -5"}))];
        calls.extend(probes.iter().filter_map(|p| {
            Some(call("bash", json!({"command": format!("echo '--- {}'; {}", p.id, p.run.as_deref()?)})))
        }));
        return calls;
    }
    let ok = c.results.iter().any(|(r, _)| r.contains("all tests passed"));
    let mut reviews = Vec::new();
    for (feature, claims) in features_to_review(&c.first_user) {
        let mut issues = Vec::new();
        for id in &claims {
            let Some(p) = probes.iter().find(|p| &p.id == id) else { continue };
            let expect = p.expect.clone().unwrap_or_default();
            let printed = probe_output(c, id);
            if p.run.is_some() && !printed.lines().any(|l| l.trim() == expect) {
                if let Some(at) = script.issue_locations.get(id) {
                    issues.push(json!({"file": at["file"], "line": at["line"], "severity": "blocking", "description": format!("{id}: `{}` prints `{}`, not `{expect}`", p.run.as_deref().unwrap_or(""), printed.trim())}));
                }
            }
        }
        let status = if issues.is_empty() { "pass" } else { "fail" };
        reviews.push(json!({"featureId": feature, "status": status, "summary": format!("{feature}: {status}"), "issues": issues}));
    }
    let test = json!({"passed": ok, "command": "sh test.sh", "exitCode": if ok { 0 } else { 1 }});
    vec![call(
        "submit_review",
        json!({"salientSummary": format!("reviewed {} feature(s); the tests {}", reviews.len(), if ok { "pass" } else { "fail" }), "reviews": reviews, "validatorsRun": {"test": test, "lint": {"passed": true, "command": "a lint it never ran", "exitCode": 0}}}),
    )]
}

// ---- the orchestrator (fix sessions) ----------------------------------------------------

/// Reads the failed round's assertions, adds one fix feature at the top of the queue per
/// assertion it has a fix for (first with a precondition naming no feature, which
/// `submit_plan`'s lint refuses; it then removes it).
fn orchestrator(c: &Conv, script: &Script) -> Vec<(String, Value)> {
    if c.first_user.starts_with("# Plan this mission") {
        return planner(c, script.plan.as_ref());
    }
    let mission = mission_folder(&c.system);
    let features = format!("{mission}/features.json");
    let milestone = Regex::new(r"of milestone `([^`]+)`")
        .unwrap()
        .captures(&c.first_user)
        .map(|m| m[1].to_string())
        .unwrap_or_default();
    let failing = Regex::new(r"(?m)^- (VAL-[A-Z0-9-]+-\d{3,}) \(").unwrap();
    let mut fixes: Vec<Value> = Vec::new();
    for m in failing.captures_iter(&c.first_user) {
        if let Some(spec) = script.fixes.get(&m[1]) {
            let mut f = json!({"id": spec["id"], "description": spec["description"], "skillName": "shell", "preconditions": ["no-such-feature"], "expectedBehavior": [format!("{} passes", &m[1])], "milestone": milestone, "status": "pending"});
            for (k, v) in spec.as_object().into_iter().flatten() {
                f[k] = v.clone();
            }
            if !fixes.iter().any(|x| x["id"] == f["id"]) {
                fixes.push(f);
            }
        }
    }
    let last_error = c.results.last().is_some_and(|(r, e)| *e && r.contains("no-such-feature"));
    // What an earlier, cut-off fix session already added is in the file it read.
    let read = c.results.first().map(|(r, _)| r.as_str()).unwrap_or_default();
    fixes.retain(|f| !read.contains(&format!("\"id\":{}", f["id"])) && !read.contains(&format!("\"id\": {}", f["id"])));
    let repair = call(
        "edit_file",
        json!({"path": features, "old": "\"preconditions\":[\"no-such-feature\"]", "new": "\"preconditions\":[]", "replace_all": true}),
    );
    match c.turns {
        0 => vec![call("read_file", json!({"path": features}))],
        1 if fixes.is_empty() && read.contains("no-such-feature") => vec![repair],
        1 if !fixes.is_empty() => {
            let added: Vec<String> = fixes.iter().map(|f| format!("\n    {f},")).collect();
            // Fixes go at the top of the queue, in a two-space file.
            vec![call(
                "edit_file",
                json!({"path": features, "old": "\"features\": [", "new": format!("\"features\": [{}", added.concat())}),
            )]
        }
        _ if last_error => vec![repair],
        _ => vec![call("submit_plan", json!({}))],
    }
}

/// A planning session, one step a turn.
fn planner(c: &Conv, plan: Option<&PlanScript>) -> Vec<(String, Value)> {
    let Some(plan) = plan else { return vec![] };
    let m = mission_folder(&c.system);
    let answered = c.first_user.contains("## Your questions and the person's answers");
    if !plan.questions.is_empty() && !answered && c.tools.iter().any(|t| t == "ask_user") {
        return vec![call("ask_user", json!({"questions": plan.questions}))];
    }
    let write =
        |rel: &str, content: String| call("write_file", json!({"path": format!("{m}/{rel}"), "content": content}));
    let mut broken = plan.features.clone();
    if let Some(first) = broken["features"].get_mut(0) {
        first["preconditions"] = json!(["no-such-feature"]);
    }
    let skills: Vec<String> = plan.features["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["skillName"].as_str().map(str::to_string))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut shared = vec![
        write("features.json", pretty(if plan.lint_error_once || plan.never_fix { &broken } else { &plan.features })),
        write("AGENTS.md", "# Conventions\nPOSIX sh only. One file per operation under ops/, its test under tests/. Commit each feature.\n".into()),
        write("architecture.md", "# Architecture\ncalc.sh dispatches `<op> <a> <b>` to ops/<op>.sh; test.sh runs tests/test_*.sh.\n".into()),
        write("services.yaml", SERVICES.into()),
    ];
    for skill in &skills {
        shared.push(write(&format!("skills/{skill}/SKILL.md"), format!("---\nname: {skill}\ndescription: POSIX shell features of the calculator\n---\nWrite tests/test_<op>.sh first and watch it fail, then ops/<op>.sh; run `sh test.sh`; commit.\n")));
    }
    let mut steps: Vec<Vec<(String, Value)>> = Vec::new();
    if plan.features_first {
        steps.push(vec![write("features.json", pretty(&plan.features))]);
    }
    steps.push(vec![write("validation-contract.md", plan.contract.clone())]);
    steps.push(shared);
    steps.push(vec![call("submit_plan", json!({}))]);
    if plan.lint_error_once {
        steps.push(vec![write("features.json", pretty(&plan.features))]);
        steps.push(vec![call("submit_plan", json!({}))]);
    }
    steps.get(c.turns).cloned().unwrap_or_else(|| vec![call("submit_plan", json!({}))])
}

// ---- the project --------------------------------------------------------------------------

pub struct Project {
    _dir: Option<tempfile::TempDir>,
    pub repo: PathBuf,
    pub mission: PathBuf,
}

pub fn git(repo: &Path, args: &[&str]) -> String {
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

/// services.yaml in droid's shape.
pub const SERVICES: &str = "commands:\n  test: sh test.sh\nservices: {}\n";

pub const CONTRACT: &str = "# Validation contract: calculator

## Arithmetic

### VAL-CALC-001: Adding two numbers
The user runs the calculator with `add` and two numbers.
Run: `sh calc.sh add 2 3`
Expect: `5`
Tool: terminal
Evidence: output

### VAL-CALC-002: Subtracting two numbers
Run: `sh calc.sh sub 5 3`
Expect: `2`
Tool: terminal
Evidence: output

## More

### VAL-CALC-003: Multiplying two numbers
Run: `sh calc.sh mul 4 5`
Expect: `20`
Tool: terminal
Evidence: output
Check: sh calc.sh mul 4 5 | grep -qx 20
";

/// A feature in droid's shape (its keys in droid's order), with the fake worker's script.
pub fn feature(
    id: &str,
    description: &str,
    milestone: &str,
    fulfills: &[&str],
    preconditions: &[&str],
    fake: Value,
) -> Value {
    json!({"id": id, "description": description, "skillName": "shell", "preconditions": preconditions, "expectedBehavior": [description],
           "fulfills": fulfills, "milestone": milestone, "status": "pending", "workerSessionIds": [], "currentWorkerSessionId": null, "completedWorkerSessionId": null, "x-fake": fake})
}

/// The plan: `feat-sub` is listed first but its precondition names `feat-add`; its
/// implementation has a bug its own test misses (the user-testing validator finds it);
/// `feat-mul` hands off partial work once.
pub fn features() -> Value {
    json!({"features": [
        feature("feat-sub", "Subtraction: `sh calc.sh sub A B` prints A-B", "basics", &["VAL-CALC-002"], &["feat-add is complete"],
            json!({"files": {"ops/sub.sh": "echo $(( $2 - $1 ))\n", "tests/test_sub.sh": "[ \"$(sh calc.sh sub 3 3)\" = 0 ] || { echo 'sub 3 3 is not 0'; exit 1; }\n"}})),
        feature("feat-add", "Addition: `sh calc.sh add A B` prints A+B", "basics", &["VAL-CALC-001"], &[],
            json!({"files": {"ops/add.sh": "echo $(( $1 + $2 ))\n", "tests/test_add.sh": "[ \"$(sh calc.sh add 2 3)\" = 5 ] || { echo 'add 2 3 is not 5'; exit 1; }\n"}})),
        feature("feat-mul", "Multiplication: `sh calc.sh mul A B` prints A*B", "more", &["VAL-CALC-003"], &[],
            json!({"behaviour": "partial-once", "files": {"ops/mul.sh": "echo $(( $1 * $2 ))\n", "tests/test_mul.sh": "[ \"$(sh calc.sh mul 4 5)\" = 20 ] || exit 1\n"}}))
    ], "x-plan-version": 3})
}

/// The fix the orchestrator writes when VAL-CALC-002 fails; the scrutiny validator places
/// that bug at line 1 of ops/sub.sh (where `feat-sub` swapped the operands).
pub fn sub_fix() -> Script {
    let mut fixes = BTreeMap::new();
    fixes.insert("VAL-CALC-002".to_string(), json!({"id": "fix-sub-order", "description": "sub prints B-A; it must print A-B",
        "x-fake": {"files": {"ops/sub.sh": "echo $(( $1 - $2 ))\n", "tests/test_sub_order.sh": "[ \"$(sh calc.sh sub 5 3)\" = 2 ] || { echo 'sub 5 3 is not 2'; exit 1; }\n"}}}));
    let mut issue_locations = BTreeMap::new();
    issue_locations.insert("VAL-CALC-002".to_string(), json!({"file": "ops/sub.sh", "line": 1}));
    Script { fixes, issue_locations, ..Default::default() }
}

/// Two-space JSON without a trailing newline, as droid writes its files.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

impl Project {
    /// A project whose mission has only its goal: the orchestrator plans it.
    pub fn unplanned(model: &MissionModel, limits: &str) -> Project {
        let p = Project::new(model, limits, CONTRACT, &features());
        for f in ["validation-contract.md", "features.json", "AGENTS.md", "services.yaml"] {
            std::fs::remove_file(p.mission.join(f)).unwrap();
        }
        std::fs::remove_dir_all(p.mission.join("skills")).unwrap();
        p
    }

    /// The project with its mission moved to `to` (outside the repository, where droid keeps
    /// its missions: `~/.factory/missions/<session uuid>/`).
    pub fn with_mission_at(mut self, to: PathBuf) -> Project {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::rename(&self.mission, &to).unwrap();
        self.mission = to;
        self
    }

    /// The planning script of the calculator: the contract and features above.
    pub fn calculator_plan() -> PlanScript {
        PlanScript { contract: CONTRACT.to_string(), features: features(), ..Default::default() }
    }

    /// A git repository with the calculator's dispatcher and test runner, missions.toml
    /// (committed, like a real team would) and a mission made by `missions new`, planned by
    /// hand with `contract` and `features`.
    pub fn new(model: &MissionModel, limits: &str, contract: &str, features: &Value) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("calc");
        std::fs::create_dir_all(repo.join("tests")).unwrap();
        std::fs::write(repo.join("calc.sh"), "op=$1; shift\n[ -f \"ops/$op.sh\" ] || { echo \"unknown operation: $op\" >&2; exit 2; }\nexec sh \"ops/$op.sh\" \"$@\"\n").unwrap();
        std::fs::write(
            repo.join("test.sh"),
            "set -e\nfor t in tests/test_*.sh; do sh \"$t\"; done\necho \"all tests passed\"\n",
        )
        .unwrap();
        std::fs::write(
            repo.join("tests/test_calc.sh"),
            "sh calc.sh nope 2>/dev/null && { echo 'unknown op must fail'; exit 1; }; exit 0\n",
        )
        .unwrap();
        std::fs::write(repo.join(".gitignore"), "*.tmp\n").unwrap();
        std::fs::write(repo.join("missions.toml"), model.config(limits)).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-qm", "calculator skeleton"]);
        let out = missions(&repo, &["new", "A shell calculator", "--name", "calc", "--quiet"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mission = repo.join(".missions/calc");
        std::fs::write(mission.join("validation-contract.md"), contract).unwrap();
        std::fs::write(mission.join("features.json"), pretty(features)).unwrap();
        std::fs::write(mission.join("AGENTS.md"), "# Conventions\nPOSIX sh only. One file per operation under ops/.\n")
            .unwrap();
        std::fs::write(mission.join("services.yaml"), SERVICES).unwrap();
        std::fs::create_dir_all(mission.join("skills/shell")).unwrap();
        std::fs::write(mission.join("skills/shell/SKILL.md"), "---\nname: shell\ndescription: POSIX shell features\n---\nWrite tests/test_<op>.sh first, then ops/<op>.sh.\n").unwrap();
        // MISSIONS_TEST_KEEP=1 keeps the repository to look at after a failure.
        let dir = match std::env::var_os("MISSIONS_TEST_KEEP") {
            Some(_) => {
                eprintln!("keeping {}", dir.keep().display());
                None
            }
            None => Some(dir),
        };
        Project { _dir: dir, repo, mission }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        missions(&self.repo, &all)
    }

    pub fn spawn_run(&self, args: &[&str]) -> std::process::Child {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        command(&self.repo, &all)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.mission.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn json(&self, rel: &str) -> Value {
        serde_json::from_str(&self.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn events(&self) -> Vec<Value> {
        self.read("progress_log.jsonl").lines().map(|l| serde_json::from_str(l).expect("whole lines")).collect()
    }

    pub fn event_types(&self) -> Vec<String> {
        self.events().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
    }

    pub fn count(&self, kind: &str) -> usize {
        std::fs::read_to_string(self.mission.join("progress_log.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&format!("\"type\":\"{kind}\"")))
            .count()
    }

    /// The handoff file a worker session wrote (`<time>__<feature>__<session>.json`).
    pub fn handoff_of(&self, session: &str) -> Option<PathBuf> {
        let suffix = format!("__{session}.json");
        std::fs::read_dir(self.mission.join("handoffs"))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(&suffix))
    }

    /// The features, validators left out, whose worker completed, in log order.
    pub fn completed_features(&self) -> Vec<String> {
        let validator = |id: &str| id.starts_with("scrutiny-validator-") || id.starts_with("user-testing-validator-");
        self.events()
            .iter()
            .filter(|e| e["type"] == "worker_completed")
            .filter_map(|e| e["featureId"].as_str())
            .filter(|id| !validator(id))
            .map(str::to_string)
            .collect()
    }

    pub fn feature(&self, id: &str) -> Value {
        self.json("features.json")["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no feature {id}"))
    }

    pub fn sh(&self, script: &str) -> String {
        let out = Command::new("sh").arg("-c").arg(script).current_dir(&self.repo).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

pub fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_missions"));
    c.args(args).current_dir(cwd).env(KEY_ENV, "sk-loop-test-not-a-real-key").env_remove("RUST_LOG");
    for k in ["GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"] {
        c.env_remove(k);
    }
    c
}

pub fn missions(cwd: &Path, args: &[&str]) -> Output {
    command(cwd, args).output().unwrap()
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A proxy in front of the mission model that answers the first request with HTTP 429 and
/// `retry-after: 1`, and passes every other one through.
pub struct RateLimitOnce {
    pub addr: std::net::SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl RateLimitOnce {
    pub fn start(model: std::net::SocketAddr) -> RateLimitOnce {
        use axum::body::{Body, Bytes};
        use axum::http::{HeaderMap, Method, Uri};
        use axum::response::Response;
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let limited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let http = reqwest::Client::new();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (limited, http) = (limited.clone(), http.clone());
            async move {
                if !limited.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    let error = json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}});
                    return Response::builder()
                        .status(429)
                        .header("retry-after", "1")
                        .header("content-type", "application/json")
                        .body(Body::from(error.to_string()))
                        .unwrap();
                }
                let mut request = http.request(method, format!("http://{model}{uri}")).body(body);
                for (name, value) in headers.iter().filter(|(n, _)| *n != "host" && *n != "content-length") {
                    request = request.header(name, value);
                }
                let answer = request.send().await.unwrap();
                let status = answer.status().as_u16();
                let kind = answer.headers().get("content-type").cloned();
                let bytes = answer.bytes().await.unwrap();
                let mut response = Response::builder().status(status);
                if let Some(kind) = kind {
                    response = response.header("content-type", kind);
                }
                response.body(Body::from(bytes)).unwrap()
            }
        });
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        RateLimitOnce { addr, _runtime: runtime }
    }
}

/// Waits (60 s at most) until the progress log holds `n` events of `kind`, failing at once if
/// the run `child` ended first.
pub fn wait_for_run(p: &Project, child: &mut std::process::Child, kind: &str, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while p.count(kind) < n {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before {kind} #{n}: {:?}", p.event_types());
        }
        assert!(std::time::Instant::now() < deadline, "no {kind} #{n}: {:?}", p.event_types());
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
