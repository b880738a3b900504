//! The editor's `missions.*` settings over missions.toml (design §5): the real `missions lsp`
//! binary over stdio asks for them with `workspace/configuration` (or takes them pushed with
//! `workspace/didChangeConfiguration`), and a run it starts uses them; a bad setting is one
//! `window/showMessage` warning and the run falls back to missions.toml. The models are the
//! loop tests' scripted fake (tests/loop_support).

use crate::loop_support;
use crate::stdio_frames;

use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use loop_support::*;
use serde_json::{json, Value};

/// Long enough for a worker session on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(120);

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// `missions lsp` in a project's repository. Answers the server's requests as a client
/// would: `workspace/configuration` with `settings`, everything else with null.
struct Editor {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Value>,
    settings: Value,
    next_id: u64,
    /// Every message the server sent, in order.
    seen: Vec<Value>,
}

impl Editor {
    fn start(p: &Project, capabilities: Value, settings: Value) -> Editor {
        let mut child = command(&p.repo, &["lsp"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let rx = stdio_frames::reader(child.stdout.take().unwrap());
        let mut editor = Editor { child, stdin, rx, settings, next_id: 1, seen: Vec::new() };
        let params = json!({"capabilities": capabilities, "workspaceFolders": [{"uri": url(&p.repo), "name": "calc"}]});
        let init = editor.request("initialize", params);
        assert!(init.get("result").is_some(), "{init}");
        editor.notify("initialized", json!({}));
        editor
    }

    fn send(&mut self, message: Value) {
        let body = serde_json::to_vec(&message).unwrap();
        self.stdin.write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes()).unwrap();
        self.stdin.write_all(&body).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.next(|m| m["id"] == id && m.get("method").is_none())
    }

    /// The next message matching `wanted`, answering the server's requests meanwhile.
    fn next(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        self.next_within(PATIENCE, wanted)
            .unwrap_or_else(|| panic!("no such message from the server; it sent {:#?}", self.seen))
    }

    fn next_within(&mut self, patience: Duration, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let message = match self.rx.recv_timeout(left) {
                Ok(message) => message,
                Err(mpsc::RecvTimeoutError::Timeout) => return None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("the server closed its output; it sent {:#?}", self.seen)
                }
            };
            self.seen.push(message.clone());
            if let (Some(id), Some(method)) = (message.get("id"), message["method"].as_str()) {
                let result = match method {
                    "workspace/configuration" => Value::Array(
                        message["params"]["items"].as_array().unwrap().iter().map(|_| self.settings.clone()).collect(),
                    ),
                    _ => Value::Null,
                };
                let id = id.clone();
                self.send(json!({"jsonrpc": "2.0", "id": id, "result": result}));
            }
            if wanted(&message) {
                return Some(message);
            }
        }
    }

    fn configuration_asked(&self) -> usize {
        self.seen.iter().filter(|m| m["method"] == "workspace/configuration").count()
    }

    /// Runs one feature through `missions.runFeature`; returns the run's closing message
    /// (every run ends with one, after its last `missions/event`).
    fn run_feature(&mut self, p: &Project, feature: &str) -> Value {
        let started = self.request(
            "workspace/executeCommand",
            json!({"command": "missions.runFeature", "arguments": [url(&p.mission), feature]}),
        );
        assert!(started.get("result").is_some(), "{started}");
        self.next(|m| m["method"] == "window/showMessage" && m["params"]["type"] != 2)
    }

    fn warnings(&self) -> Vec<String> {
        self.seen
            .iter()
            .filter(|m| m["method"] == "window/showMessage" && m["params"]["type"] == 2)
            .map(|m| m["params"]["message"].as_str().unwrap().to_string())
            .collect()
    }

    fn finish(mut self) {
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": "shutdown"}));
        let shutdown = self.next(|m| m["id"] == id && m.get("method").is_none());
        assert!(shutdown.get("error").is_none(), "{shutdown}");
        self.send(json!({"jsonrpc": "2.0", "method": "exit"}));
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exit status {status}");
    }
}

/// The settings that give every role to the fake model: `model.config` (missions.toml) as
/// JSON, which is the shape the VS Code extension sends.
fn settings_of(model: &MissionModel) -> Value {
    toml::from_str::<Value>(&model.config("max_turns = 40")).unwrap()
}

/// Commits the project's missions.toml as `text` (or its removal).
fn commit_config(p: &Project, text: Option<&str>) {
    match text {
        Some(text) => {
            std::fs::write(p.repo.join("missions.toml"), text).unwrap();
            git(&p.repo, &["add", "missions.toml"]);
        }
        None => {
            git(&p.repo, &["rm", "-q", "missions.toml"]);
        }
    }
    git(&p.repo, &["commit", "-qm", "missions.toml changed"]);
}

/// The settings are asked for after `initialized`; the run's answer comes back before the
/// command is sent, so the run must see them (a short pause lets the server store them).
fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn settings_alone_configure_a_mission_without_missions_toml() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, "", CONTRACT, &features());
    commit_config(&p, None);
    let mut editor = Editor::start(&p, json!({"workspace": {"configuration": true}}), settings_of(&model));
    editor.next(|m| m["method"] == "workspace/configuration");
    let item = &editor.seen.last().unwrap()["params"]["items"][0];
    assert_eq!(item["section"], "missions", "{item}");
    settle();
    let end = editor.run_feature(&p, "feat-add");
    assert_eq!(p.feature("feat-add")["status"], "completed", "{end}");
    assert_eq!(model.sessions("worker").len(), 1);
    assert!(editor.warnings().is_empty(), "{:?}", editor.warnings());
    editor.finish();

    // `missions run` in a terminal has no settings: it still needs missions.toml.
    let out = p.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no missions.toml"), "{}", text(&out));
}

/// A start sent right after `initialized`, before the client answered the server's
/// `workspace/configuration`: the run waits for the answer instead of starting without
/// the settings (and failing for want of a missions.toml).
#[test]
fn a_start_sent_before_the_settings_arrived_waits_for_them() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, "", CONTRACT, &features());
    commit_config(&p, None);
    let mut editor = Editor::start(&p, json!({"workspace": {"configuration": true}}), settings_of(&model));
    // No read since `initialized`: the server's question is still unanswered.
    assert_eq!(editor.configuration_asked(), 0);
    let end = editor.run_feature(&p, "feat-add");
    assert_eq!(editor.configuration_asked(), 1);
    assert_eq!(p.feature("feat-add")["status"], "completed", "{end}");
    assert!(!end["params"]["message"].as_str().unwrap_or_default().contains("missions.toml"), "{end}");
    editor.finish();
}

#[test]
fn pushed_settings_override_a_missions_toml_pointing_at_a_dead_model() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, "", CONTRACT, &features());
    // Every role's base_url in the file is a port nobody listens on.
    let alive = model.addr.to_string();
    commit_config(&p, Some(&model.config("").replace(&alive, "127.0.0.1:9")));
    // This client answers no workspace/configuration: it pushes the settings.
    let mut editor = Editor::start(&p, json!({}), Value::Null);
    let worker = json!({"base_url": format!("http://{alive}")});
    editor.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"missions": {"roles": {"worker": worker}, "limits": {"max_turns": 40}}}}),
    );
    settle();
    let end = editor.run_feature(&p, "feat-add");
    assert_eq!(p.feature("feat-add")["status"], "completed", "{end}");
    assert_eq!(model.sessions("worker").len(), 1);
    assert_eq!(editor.configuration_asked(), 0, "not asked of a client that does not answer it");
    assert!(editor.warnings().is_empty(), "{:?}", editor.warnings());
    editor.finish();
}

#[test]
fn a_bad_setting_is_one_warning_and_runs_fall_back_to_missions_toml() {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, "", CONTRACT, &features());
    // Asked for: a misspelt key (and a worker that would be wrong if it applied).
    let bad = json!({"roles": {"worker": {"modle": "x", "base_url": "http://127.0.0.1:9"}}});
    let mut editor = Editor::start(&p, json!({"workspace": {"configuration": true}}), bad.clone());
    let warning = editor.next(|m| m["method"] == "window/showMessage");
    assert_eq!(warning["params"]["type"], 2, "a warning: {warning}");
    let message = warning["params"]["message"].as_str().unwrap();
    assert!(message.contains("`missions.roles.worker.modle`: unknown setting"), "{message}");
    assert!(message.contains("missions.toml alone"), "{message}");
    // The same settings pushed again (and again asked for) are not reported twice.
    editor.notify("workspace/didChangeConfiguration", json!({"settings": {"missions": bad}}));
    editor.notify("workspace/didChangeConfiguration", json!({"settings": null}));
    editor.next(|m| m["method"] == "workspace/configuration");
    assert_eq!(editor.configuration_asked(), 2);
    settle();
    // Wrong types anywhere are a warning, never a crash.
    for odd in [
        json!({"settings": {"missions": {"limits": {"max_turns": "many"}}}}),
        json!({"settings": {"missions": [1, 2]}}),
        json!({"settings": {"missions": {"roles": {"worker": {"command": {"a": 1}}}}}}),
    ] {
        editor.notify("workspace/didChangeConfiguration", odd);
        editor.next(|m| m["method"] == "window/showMessage");
    }
    // Back to the bad one: the run uses missions.toml (the working fake model) alone.
    editor.notify("workspace/didChangeConfiguration", json!({"settings": {"missions": bad}}));
    editor.next(|m| m["method"] == "window/showMessage");
    settle();
    let end = editor.run_feature(&p, "feat-add");
    assert_eq!(p.feature("feat-add")["status"], "completed", "{end}");
    assert_eq!(model.sessions("worker").len(), 1);
    let warnings = editor.warnings();
    assert_eq!(warnings.len(), 5, "one per change of bad settings: {warnings:#?}");
    assert!(
        warnings[1].contains("`missions.limits.max_turns`: expected a whole number, found a string"),
        "{warnings:#?}"
    );
    assert!(warnings[2].contains("`missions`: expected an object"), "{warnings:#?}");
    assert!(warnings[3].contains("`missions.roles.worker.command`: expected a list of strings"), "{warnings:#?}");
    editor.finish();
}
