//! A test client for the real `missions lsp` binary over stdio, shared by the tests that spawn
//! it. It plays the editor's side of the protocol: requests and notifications out; responses,
//! notifications and the server's own requests (`workspace/applyEdit`,
//! `window/workDoneProgress/create`, `client/registerCapability`, ...) in. Messages are read on
//! a thread (tests/stdio_frames), so a silent server fails a wait instead of hanging the test;
//! every wait is bounded by `patience`.
//!
//! Messages arrive interleaved (a running mission sends events while a hover is answered), so
//! a wait takes the first message it wants and keeps the others, in order, for later waits.
#![allow(dead_code)]

#[path = "../stdio_frames/mod.rs"]
pub mod stdio_frames;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long a wait lasts by default: generous, to catch hangs, not to measure speed (a whole
/// mission runs within it on a loaded machine).
pub const PATIENCE: Duration = Duration::from_secs(120);

/// The `file://` URI of `path`, as the server spells it.
pub fn url(path: &Path) -> String {
    tower_lsp_server::ls_types::Uri::from_file_path(path).unwrap().to_string()
}

/// The message of an error response; panics on any other message.
pub fn error_message(response: &Value) -> String {
    response["error"]["message"].as_str().unwrap_or_else(|| panic!("an error answer: {response}")).to_string()
}

/// One LSP frame around `body`.
pub fn frame(body: &[u8]) -> Vec<u8> {
    [format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes(), body.to_vec()].concat()
}

/// The server process and what it sent that no wait has taken yet.
pub struct Server {
    child: Child,
    /// `None` once closed (`close_input`).
    stdin: Option<ChildStdin>,
    rx: mpsc::Receiver<Value>,
    unread: Vec<Value>,
    next_id: i64,
    /// Server requests answered without the test asking: method -> result.
    auto_answers: BTreeMap<String, Value>,
    auto_answered: Vec<Value>,
    /// The `initialize` response (from `start`).
    pub initialize: Value,
    /// The longest a wait without its own bound lasts.
    pub patience: Duration,
}

impl Server {
    /// Spawns `command` (a `missions lsp` command line; its stderr as the caller set it: null
    /// keeps test output clean, piped lets `stderr` read it) with piped stdin and stdout.
    /// Nothing is sent yet.
    pub fn spawn(command: &mut Command) -> Server {
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn the server");
        let stdin = child.stdin.take().unwrap();
        let rx = stdio_frames::reader(child.stdout.take().unwrap());
        Server {
            child,
            stdin: Some(stdin),
            rx,
            unread: Vec::new(),
            next_id: 1,
            auto_answers: BTreeMap::new(),
            auto_answered: Vec::new(),
            initialize: Value::Null,
            patience: PATIENCE,
        }
    }

    /// Spawns `command` and initializes the session: `initialize` with `params` (which must
    /// succeed; its response is kept in `initialize`), then `initialized`.
    pub fn start(command: &mut Command, params: Value) -> Server {
        let mut server = Server::spawn(command);
        let init = server.request("initialize", params);
        assert!(init.get("result").is_some(), "initialize: {init}");
        server.initialize = init;
        server.notify("initialized", json!({}));
        server
    }

    /// `initialize` params for a client with `capabilities` and one workspace folder `root`.
    pub fn params(root: &Path, capabilities: Value) -> Value {
        json!({"capabilities": capabilities, "workspaceFolders": [{"uri": url(root), "name": root.file_name().and_then(|n| n.to_str()).unwrap_or("root")}]})
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes bytes as they are (a test of malformed frames).
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.stdin.as_mut().expect("the input is open").write_all(bytes).expect("the server reads its stdin");
    }

    /// Sends one message; a `null` `params` is left out (as for `shutdown` and `exit`).
    pub fn send(&mut self, mut message: Value) {
        if message.get("params").is_some_and(Value::is_null) {
            message.as_object_mut().unwrap().remove("params");
        }
        let body = serde_json::to_vec(&message).unwrap();
        self.write_raw(&frame(&body));
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// `textDocument/didOpen` of `path` with `text` (version 1).
    pub fn open(&mut self, path: &Path, language: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": url(path), "languageId": language, "version": 1, "text": text}}),
        );
    }

    /// The person types `text` into the open buffer of `path` (a whole-text change) and
    /// saves it, in an editor's order: `didChange` to `version`, the file written, `didSave`.
    /// (A file written behind an open buffer that still shows the old text is a change on
    /// disk under the person's feet, which the server treats differently.)
    pub fn save(&mut self, path: &Path, version: i64, text: &str) {
        let uri = url(path);
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}}));
    }

    /// Sends a request and returns its id, without waiting (for a response taken later).
    pub fn send_request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// The response (`result` or `error`) to request `id`.
    pub fn response(&mut self, id: i64, within: Duration) -> Value {
        self.take_within(|m| m["id"] == id && m.get("method").is_none(), within)
    }

    /// Sends a request and waits for its response (`result` or `error`).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let patience = self.patience;
        self.request_within(method, params, patience)
    }

    /// A request whose response must come within `within` (a hover while a mission runs).
    pub fn request_within(&mut self, method: &str, params: Value, within: Duration) -> Value {
        let id = self.send_request(method, params);
        self.response(id, within)
    }

    /// `workspace/executeCommand` of a mission command on the mission folder `mission`.
    pub fn command(&mut self, command: &str, mission: &Path) -> Value {
        self.request("workspace/executeCommand", json!({"command": command, "arguments": [url(mission)]}))
    }

    /// A mission command with a second argument (a feature id or a milestone).
    pub fn command_on(&mut self, command: &str, mission: &Path, item: &str) -> Value {
        self.request("workspace/executeCommand", json!({"command": command, "arguments": [url(mission), item]}))
    }

    /// The first message, kept or new, that `wanted` accepts, waiting at most `patience`.
    pub fn take(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        let patience = self.patience;
        self.take_within(wanted, patience)
    }

    /// Like `take_within`, but `None` when nothing wanted came in time (or the server ended).
    pub fn try_take_within(&mut self, wanted: impl Fn(&Value) -> bool, within: Duration) -> Option<Value> {
        if let Some(i) = self.unread.iter().position(&wanted) {
            return Some(self.unread.remove(i));
        }
        let deadline = Instant::now() + within;
        loop {
            let message = self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()?;
            if self.answer_automatically(&message) {
                continue;
            }
            if wanted(&message) {
                return Some(message);
            }
            self.unread.push(message);
        }
    }

    /// The first message, kept or new, that `wanted` accepts, waiting at most `within`; the
    /// others are kept. Server requests with an automatic answer are answered, not kept.
    pub fn take_within(&mut self, wanted: impl Fn(&Value) -> bool, within: Duration) -> Value {
        if let Some(i) = self.unread.iter().position(&wanted) {
            return self.unread.remove(i);
        }
        let deadline = Instant::now() + within;
        loop {
            let message = self.receive(deadline, within);
            if self.answer_automatically(&message) {
                continue;
            }
            if wanted(&message) {
                return message;
            }
            self.unread.push(message);
        }
    }

    fn receive(&mut self, deadline: Instant, within: Duration) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        self.rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no matching message within {within:?} ({e}); unread: {:#?}", self.unread))
    }

    /// Messages received and not taken yet, oldest first.
    pub fn unread(&self) -> &[Value] {
        &self.unread
    }

    /// Takes every message received and not taken yet, and whatever has arrived meanwhile
    /// (answering the server's requests that have an automatic answer).
    pub fn drain_unread(&mut self) -> Vec<Value> {
        while let Ok(message) = self.rx.try_recv() {
            if !self.answer_automatically(&message) {
                self.unread.push(message);
            }
        }
        std::mem::take(&mut self.unread)
    }

    /// Whether the server process has ended.
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    /// Collects what arrives during `time` into `unread` (to check something was *not* sent).
    pub fn settle(&mut self, time: Duration) {
        let deadline = Instant::now() + time;
        while let Ok(message) = self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if !self.answer_automatically(&message) {
                self.unread.push(message);
            }
        }
    }

    // ---- the server's requests --------------------------------------------------------

    /// Answers a request the server sent.
    pub fn answer(&mut self, request: &Value, result: Value) {
        assert!(request.get("id").is_some() && request.get("method").is_some(), "a request from the server: {request}");
        self.send(json!({"jsonrpc": "2.0", "id": request["id"], "result": result}));
    }

    /// Refuses a request the server sent with a JSON-RPC error.
    pub fn answer_error(&mut self, request: &Value, code: i64, message: &str) {
        assert!(request.get("id").is_some() && request.get("method").is_some(), "a request from the server: {request}");
        self.send(json!({"jsonrpc": "2.0", "id": request["id"], "error": {"code": code, "message": message}}));
    }

    /// The next request of `method` from the server, not answered yet.
    pub fn server_request(&mut self, method: &str) -> Value {
        self.take(|m| m["method"] == method && m.get("id").is_some())
    }

    /// The next request of `method` from the server, answered with `result`; returns it (its
    /// `params` say what the server asked).
    pub fn answer_next(&mut self, method: &str, result: Value) -> Value {
        let request = self.server_request(method);
        self.answer(&request, result);
        request
    }

    /// From now on, requests of `method` from the server are answered with `result` as they
    /// arrive (during any wait) instead of being kept; they are listed in `auto_answered`.
    pub fn always_answer(&mut self, method: &str, result: Value) {
        self.auto_answers.insert(method.to_string(), result);
        let kept: Vec<Value> = std::mem::take(&mut self.unread);
        for message in kept {
            if !self.answer_automatically(&message) {
                self.unread.push(message);
            }
        }
    }

    /// The server requests answered by `always_answer`, in order.
    pub fn auto_answered(&self) -> &[Value] {
        &self.auto_answered
    }

    fn answer_automatically(&mut self, message: &Value) -> bool {
        let Some(method) = message["method"].as_str() else { return false };
        if message.get("id").is_none() {
            return false;
        }
        let Some(result) = self.auto_answers.get(method).cloned() else { return false };
        self.answer(message, result);
        self.auto_answered.push(message.clone());
        true
    }

    /// `window/workDoneProgress/create`, answered with success; returns its token.
    pub fn accept_progress(&mut self) -> Value {
        self.answer_next("window/workDoneProgress/create", Value::Null)["params"]["token"].clone()
    }

    /// `workspace/applyEdit`, applied to `text` (the client's copy of document `uri`) and
    /// answered `applied: true`; returns the request and the edited text.
    pub fn apply_next_edit(&mut self, uri: &str, text: &str) -> (Value, String) {
        let request = self.server_request("workspace/applyEdit");
        let edits = edits_for(&request["params"]["edit"], uri);
        let edited = apply_text_edits(text, &edits);
        self.answer(&request, json!({"applied": true}));
        (request, edited)
    }

    // ---- notifications ----------------------------------------------------------------

    /// The next `missions/event` (its params: `missionUri`, `event`), in the order sent.
    pub fn event(&mut self) -> Value {
        self.take(|m| m["method"] == "missions/event")["params"].clone()
    }

    /// The `event`s of `missions/event` up to and including the first of type `last`.
    pub fn events_until(&mut self, last: &str) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let event = self.event()["event"].clone();
            let done = event["type"] == last;
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// `missions/event`s and the `$/progress` of `token`, whole messages in the order sent,
    /// up to and including the progress `end`.
    pub fn run_until_progress_end(&mut self, token: &Value) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let m = self.take(|m| {
                m["method"] == "missions/event" || (m["method"] == "$/progress" && m["params"]["token"] == *token)
            });
            let end = m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end";
            out.push(m);
            if end {
                return out;
            }
        }
    }

    /// The params of the next `window/showMessage`.
    pub fn show_message(&mut self) -> Value {
        self.take(|m| m["method"] == "window/showMessage")["params"].clone()
    }

    /// The params of the first `textDocument/publishDiagnostics` of `uri` that `wanted`
    /// accepts. The earlier publications of `uri` are dropped (each replaces the one before),
    /// so successive calls see a document's publications in the order they were sent.
    pub fn diagnostics_until(&mut self, uri: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let of_uri = |m: &Value| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri;
        if let Some(i) = self.unread.iter().position(|m| of_uri(m) && wanted(&m["params"])) {
            let found = self.unread.remove(i);
            let mut at = 0;
            self.unread.retain(|m| {
                at += 1;
                at > i || !of_uri(m)
            });
            return found["params"].clone();
        }
        self.unread.retain(|m| !of_uri(m));
        let found = self.take(|m| of_uri(m) && wanted(&m["params"]));
        // What arrived of `uri` meanwhile was sent before `found`.
        self.unread.retain(|m| !of_uri(m));
        found["params"].clone()
    }

    // ---- the end ----------------------------------------------------------------------

    /// `shutdown` (which must answer `null`), `exit`, then waits (at most 20 s) for the process to
    /// end; its exit status.
    pub fn shut_down(&mut self) -> ExitStatus {
        let shutdown = self.request("shutdown", Value::Null);
        assert!(shutdown.get("error").is_none() && shutdown["result"].is_null(), "{shutdown}");
        self.notify("exit", Value::Null);
        self.wait_for_exit()
    }

    /// Waits (at most 20 s) for the process to end after `exit`; its exit status.
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        self.exit_status_within(Duration::from_secs(20))
    }

    /// Closes the server's input without `shutdown` (an editor that went away), then waits (at
    /// most 30 s: its runs pause first) for the process to end; its exit status.
    pub fn close_input(&mut self) -> ExitStatus {
        drop(self.stdin.take());
        self.exit_status_within(Duration::from_secs(30))
    }

    fn exit_status_within(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ends the session cleanly: the server must exit with success.
    pub fn finish(mut self) {
        let status = self.shut_down();
        assert!(status.success(), "exit status {status}");
    }

    /// What the server wrote to stderr (spawned with `Stdio::piped()`), read to its end: call
    /// it once the server has exited.
    pub fn stderr(&mut self) -> String {
        let mut out = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            stderr.read_to_string(&mut out).unwrap();
        }
        out
    }
}

impl Drop for Server {
    /// A failed test leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the client's copy of a document ----------------------------------------------------

/// The `TextEdit`s a `WorkspaceEdit` makes to `uri`, from `changes` or `documentChanges`
/// (text document edits only: file operations are not applied here).
pub fn edits_for(workspace_edit: &Value, uri: &str) -> Vec<Value> {
    let mut out: Vec<Value> = workspace_edit["changes"][uri].as_array().cloned().unwrap_or_default();
    for change in workspace_edit["documentChanges"].as_array().into_iter().flatten() {
        if change["textDocument"]["uri"] == uri {
            out.extend(change["edits"].as_array().cloned().unwrap_or_default());
        }
    }
    out
}

/// `text` with LSP `TextEdit`s applied as a client does: every range refers to the original
/// text, positions count UTF-16 code units (the default encoding), lines end at `\n`, `\r\n`
/// or `\r`, and a position past a line's end (or past the last line) means that end. Edits
/// starting at the same position are inserted in the order given.
pub fn apply_text_edits(text: &str, edits: &[Value]) -> String {
    let mut spans: Vec<(usize, usize, usize, &str)> = edits
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let start = offset(text, &e["range"]["start"]);
            let end = offset(text, &e["range"]["end"]).max(start);
            (start, end, i, e["newText"].as_str().unwrap_or_else(|| panic!("a TextEdit: {e}")))
        })
        .collect();
    spans.sort_by_key(|&(start, end, i, _)| (start, end, i));
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping edits: {edits:?}");
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, _, new_text) in spans {
        out.push_str(&text[at..start]);
        out.push_str(new_text);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// The byte offset of an LSP position (UTF-16 columns) in `text`.
pub fn offset(text: &str, position: &Value) -> usize {
    let line = position["line"].as_u64().unwrap_or_else(|| panic!("a position: {position}"));
    let character = position["character"].as_u64().unwrap_or_else(|| panic!("a position: {position}"));
    let bytes = text.as_bytes();
    let mut start = 0;
    for _ in 0..line {
        match bytes[start..].iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) => {
                let at = start + i;
                start = at + if bytes[at] == b'\r' && bytes.get(at + 1) == Some(&b'\n') { 2 } else { 1 };
            }
            None => return text.len(),
        }
    }
    let end = bytes[start..].iter().position(|&b| b == b'\n' || b == b'\r').map_or(text.len(), |i| start + i);
    let mut units = 0;
    for (i, c) in text[start..end].char_indices() {
        if units >= character {
            return start + i;
        }
        units += c.len_utf16() as u64;
    }
    end
}
