//! In-process LSP test harness: the real server (`missions::lsp::serve`) on one end of a duplex
//! pipe, a typed client on the other. Every server message must be consumed by the test:
//! `finish` (and dropping the client) fails on messages nobody read.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tower_lsp_server::ls_types::notification::{self, Notification};
use tower_lsp_server::ls_types::request::{self, Request};
use tower_lsp_server::ls_types::*;

const WAIT: Duration = Duration::from_secs(10);

pub struct Client {
    writer: WriteHalf<DuplexStream>,
    incoming: mpsc::UnboundedReceiver<Value>,
    /// Server messages received while the test waited for another one.
    unread: VecDeque<Value>,
    next_id: i64,
    server: Option<tokio::task::JoinHandle<bool>>,
    finished: bool,
    /// Replaced by `file:///WS` in snapshots.
    pub root: PathBuf,
    pub init: InitializeResult,
}

pub struct Options<'a> {
    pub root: &'a Path,
    /// `positionEncodings` the client offers.
    pub encodings: Vec<PositionEncodingKind>,
    /// Send the root as a workspace folder (the server then scans it for missions).
    pub workspace_folder: bool,
}

impl Client {
    pub async fn start(options: Options<'_>) -> Client {
        Client::start_with(options, |_| {}).await
    }

    /// Starts with client capabilities beyond the position encodings (`adjust` edits them).
    pub async fn start_with(options: Options<'_>, adjust: impl FnOnce(&mut ClientCapabilities)) -> Client {
        let (client_end, server_end) = tokio::io::duplex(1 << 20);
        let (server_read, server_write) = tokio::io::split(server_end);
        let server = tokio::spawn(missions::lsp::serve(server_read, server_write));
        let (reader, writer) = tokio::io::split(client_end);
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(read_frames(reader, tx));
        let mut client = Client {
            writer,
            incoming,
            unread: VecDeque::new(),
            next_id: 1,
            server: Some(server),
            finished: false,
            root: options.root.to_path_buf(),
            init: InitializeResult::default(),
        };
        let folders = options
            .workspace_folder
            .then(|| vec![WorkspaceFolder { uri: Uri::from_file_path(options.root).unwrap(), name: "ws".into() }]);
        let mut capabilities = ClientCapabilities {
            general: Some(GeneralClientCapabilities {
                position_encodings: Some(options.encodings),
                ..Default::default()
            }),
            ..Default::default()
        };
        adjust(&mut capabilities);
        let params = InitializeParams { capabilities, workspace_folders: folders, ..Default::default() };
        client.init = client.request::<request::Initialize>(params).await;
        client.notify::<notification::Initialized>(InitializedParams {}).await;
        client
    }

    pub fn uri(&self, relative: &str) -> Uri {
        Uri::from_file_path(self.root.join(relative)).unwrap()
    }

    async fn send(&mut self, message: Value) {
        let body = serde_json::to_vec(&message).unwrap();
        let frame = [format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes(), body].concat();
        self.writer.write_all(&frame).await.unwrap();
    }

    pub async fn send_raw(&mut self, message: Value) {
        self.send(message).await;
    }

    pub async fn notify<N: Notification>(&mut self, params: N::Params) {
        let mut message = json!({"jsonrpc": "2.0", "method": N::METHOD, "params": params});
        if message["params"].is_null() {
            message.as_object_mut().unwrap().remove("params");
        }
        self.send(message).await;
    }

    /// Sends a request and returns the raw response (`result` or `error`).
    pub async fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        if message["params"].is_null() {
            message.as_object_mut().unwrap().remove("params");
        }
        self.send(message).await;
        self.take(|m| m.get("id") == Some(&json!(id)) && m.get("method").is_none()).await
    }

    pub async fn request<R: Request>(&mut self, params: R::Params) -> R::Result {
        let response = self.request_raw(R::METHOD, serde_json::to_value(params).unwrap()).await;
        assert!(response.get("error").is_none(), "{} failed: {response}", R::METHOD);
        serde_json::from_value(response.get("result").cloned().unwrap_or(Value::Null)).unwrap()
    }

    /// The error of a request that must fail.
    pub async fn request_error<R: Request>(&mut self, params: R::Params) -> Value {
        let response = self.request_raw(R::METHOD, serde_json::to_value(params).unwrap()).await;
        response.get("error").cloned().unwrap_or_else(|| panic!("{} should fail: {response}", R::METHOD))
    }

    /// The first server message matching `wanted`; others are kept for later.
    async fn take(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.unread.iter().position(&wanted) {
            return self.unread.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.incoming.recv())
                .await
                .unwrap_or_else(|_| panic!("no matching server message within {WAIT:?}; unread: {:#?}", self.unread))
                .expect("the server closed its output");
            if wanted(&message) {
                return message;
            }
            self.unread.push_back(message);
        }
    }

    /// Waits for the server's request `method`, answers it with `result`, returns its params.
    pub async fn answer_request(&mut self, method: &str, result: Value) -> Value {
        let request = self.take(|m| m.get("method") == Some(&json!(method)) && m.get("id").is_some()).await;
        self.send(json!({"jsonrpc": "2.0", "id": request["id"], "result": result})).await;
        request["params"].clone()
    }

    /// Reads publishDiagnostics for `relative` (any version) until one satisfies `done`; the
    /// earlier ones (e.g. of a file caught half-written) are dropped.
    pub async fn diagnostics_until(
        &mut self,
        relative: &str,
        done: impl Fn(&PublishDiagnosticsParams) -> bool,
    ) -> PublishDiagnosticsParams {
        let uri = json!(self.uri(relative));
        loop {
            let message = self
                .take(|m| {
                    m.get("method") == Some(&json!(notification::PublishDiagnostics::METHOD))
                        && m["params"]["uri"] == uri
                })
                .await;
            let params: PublishDiagnosticsParams = serde_json::from_value(message["params"].clone()).unwrap();
            if done(&params) {
                return params;
            }
        }
    }

    pub async fn notification<N: Notification>(&mut self) -> N::Params {
        let message = self.take(|m| m.get("method") == Some(&json!(N::METHOD))).await;
        serde_json::from_value(message["params"].clone()).unwrap()
    }

    /// The publishDiagnostics for `relative` carrying `version` (`None`: a file not open).
    pub async fn diagnostics(&mut self, relative: &str, version: Option<i32>) -> PublishDiagnosticsParams {
        let uri = json!(self.uri(relative));
        let message = self
            .take(|m| {
                m.get("method") == Some(&json!(notification::PublishDiagnostics::METHOD))
                    && m["params"]["uri"] == uri
                    && m["params"].get("version").cloned().unwrap_or(Value::Null) == json!(version)
            })
            .await;
        serde_json::from_value(message["params"].clone()).unwrap()
    }

    /// Drops the publishDiagnostics for `relative` received so far (e.g. intermediate versions
    /// of a burst, which the server may coalesce or not).
    pub fn discard_diagnostics(&mut self, relative: &str) {
        while let Ok(message) = self.incoming.try_recv() {
            self.unread.push_back(message);
        }
        let uri = json!(self.uri(relative));
        self.unread.retain(|m| {
            !(m.get("method") == Some(&json!(notification::PublishDiagnostics::METHOD)) && m["params"]["uri"] == uri)
        });
    }

    /// Fails if the server sends anything within `quiet`.
    pub async fn expect_silence(&mut self, quiet: Duration) {
        assert!(self.unread.is_empty(), "unread server messages: {:#?}", self.unread);
        if let Ok(Some(message)) = tokio::time::timeout(quiet, self.incoming.recv()).await {
            panic!("unexpected server message: {message:#}");
        }
    }

    pub async fn open(&mut self, relative: &str, text: &str) -> Uri {
        let uri = self.uri(relative);
        let language = if relative.ends_with(".json") { "json" } else { "markdown" };
        self.notify::<notification::DidOpenTextDocument>(DidOpenTextDocumentParams {
            text_document: TextDocumentItem {
                uri: uri.clone(),
                language_id: language.into(),
                version: 1,
                text: text.into(),
            },
        })
        .await;
        uri
    }

    pub async fn change(&mut self, relative: &str, version: i32, changes: Vec<TextDocumentContentChangeEvent>) {
        let uri = self.uri(relative);
        self.notify::<notification::DidChangeTextDocument>(DidChangeTextDocumentParams {
            text_document: VersionedTextDocumentIdentifier { uri, version },
            content_changes: changes,
        })
        .await;
    }

    pub fn at(&self, relative: &str, line: u32, character: u32) -> TextDocumentPositionParams {
        TextDocumentPositionParams {
            text_document: TextDocumentIdentifier { uri: self.uri(relative) },
            position: Position { line, character },
        }
    }

    /// `shutdown`, `exit`, then: the server task ended and every message it sent was read.
    pub async fn finish(mut self) {
        self.request::<request::Shutdown>(()).await;
        self.notify::<notification::Exit>(()).await;
        let server = self.server.take().unwrap();
        let clean = tokio::time::timeout(WAIT, server)
            .await
            .expect("the server did not stop after exit")
            .expect("the server task panicked");
        assert!(clean, "the server did not see shutdown before exit");
        while let Ok(message) = self.incoming.try_recv() {
            self.unread.push_back(message);
        }
        self.finished = true;
        assert!(self.unread.is_empty(), "server messages nobody read: {:#?}", self.unread);
    }

    /// A JSON value with the workspace path replaced, for snapshots.
    pub fn redact(&self, value: impl serde::Serialize) -> Value {
        let root = Uri::from_file_path(&self.root).unwrap().to_string();
        let text = serde_json::to_string(&value).unwrap().replace(&root, "file:///WS");
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if !self.finished && !std::thread::panicking() {
            while let Ok(message) = self.incoming.try_recv() {
                self.unread.push_back(message);
            }
            assert!(self.unread.is_empty(), "server messages nobody read: {:#?}", self.unread);
        }
    }
}

async fn read_frames(reader: ReadHalf<DuplexStream>, tx: mpsc::UnboundedSender<Value>) {
    let mut reader = BufReader::new(reader);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                length = v.parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.expect("frame without Content-Length")];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        if tx.send(serde_json::from_slice(&body).expect("server sent invalid JSON")).is_err() {
            return;
        }
    }
}

pub fn change(range: ((u32, u32), (u32, u32)), text: &str) -> TextDocumentContentChangeEvent {
    TextDocumentContentChangeEvent {
        range: Some(Range {
            start: Position { line: range.0 .0, character: range.0 .1 },
            end: Position { line: range.1 .0, character: range.1 .1 },
        }),
        range_length: None,
        text: text.into(),
    }
}

/// Line and UTF-16 column of the first `needle` in `text` (plus `skip` bytes).
pub fn utf16_pos(text: &str, needle: &str, skip: usize) -> (u32, u32) {
    let at = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in text")) + skip;
    let line_start = text[..at].rfind('\n').map_or(0, |p| p + 1);
    (text[..at].matches('\n').count() as u32, text[line_start..at].encode_utf16().count() as u32)
}

/// Line and UTF-8 (byte) column of the first `needle` in `text` (plus `skip` bytes).
pub fn utf8_pos(text: &str, needle: &str, skip: usize) -> (u32, u32) {
    let at = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in text")) + skip;
    let line_start = text[..at].rfind('\n').map_or(0, |p| p + 1);
    (text[..at].matches('\n').count() as u32, (at - line_start) as u32)
}

pub const CONTRACT: &str = "# Validation contract: Chat

## Auth

### VAL-AUTH-001: Successful login
A user with valid credentials logs in and sees the dashboard.
Tool: agent-browser
Evidence: screenshot, network(POST /api/login -> 200)

### VAL-AUTH-002: Logout 🎉 works
The session cookie is cleared. See VAL-AUTH-001.
Tool: terminal
Evidence: log

### VAL-AUTH-002: Duplicate heading
Tool: terminal
Evidence: log

### VAL-auth-3: Malformed

## Links

### VAL-LINK-001: 漢字 share link 👩‍👩‍👧
Tool: carrier-pigeon

### VAL-LINK-002: Unclaimed
Tool: http
Evidence: response

### VAL-LINK-003: Blocked one
Tool: http
Evidence: response
";

pub const FEATURES: &str = r#"{
  "features": [
    {"id": "feat-login", "description": "Login form", "skillName": "backend-worker", "fulfills": ["VAL-AUTH-001", "VAL-LINK-001"], "milestone": "foundation", "status": "completed", "workerSessionIds": ["s1"]},
    {"id": "feat-logout", "description": "Logout", "skillName": "frontend-worker", "preconditions": ["feat-share"], "fulfills": ["VAL-AUTH-002", "VAL-LINK-001", "VAL-NOPE-001", "VAL-X-01"], "milestone": "foundation", "status": "wip"},
    {"id": "feat-login", "description": "Duplicate", "preconditions": ["feat-ghost is complete"], "fulfills": ["VAL-LINK-003"], "milestone": "foundation", "status": "pending"},
    {"id": "feat-share", "description": "Share links", "preconditions": ["feat-logout"], "fulfills": [], "milestone": "sharing", "status": "pending"},
  ]
}
"#;

/// droid's validation-state.json, with the runner's `round`, `evidence` and `blocked` keys.
pub const VALIDATION_STATE: &str = r#"{"assertions": {
  "VAL-AUTH-001": {"status": "failed", "issues": "Login returns 500", "round": 1, "evidence": ["evidence/foundation/login.png"]},
  "VAL-AUTH-002": {"status": "passed", "validatedAtMilestone": "foundation", "round": 1, "evidence": ["evidence/foundation/logout.txt"]},
  "VAL-LINK-003": {"status": "failed", "issues": "no test server", "blocked": true, "round": 1}
}}
"#;

pub const MISSION: &str = "# Chat\n\nShip login (VAL-AUTH-001) first; feat-login owns it.\n";

/// The handoff of session `s1` (feat-login), named and wrapped as droid writes it.
pub const HANDOFF_FILE: &str = "handoffs/2026-01-01T00-00-00-000Z__feat-login__s1.json";
pub const HANDOFF: &str = r#"{
  "timestamp": "2026-01-01T00:00:00.000Z",
  "workerSessionId": "s1",
  "featureId": "feat-login",
  "successState": "success",
  "handoff": {"salientSummary": "Login form and cookie done; VAL-AUTH-001 covered.", "whatWasImplemented": "form", "whatWasLeftUndone": "", "verification": {"commandsRun": []}, "tests": {"added": [], "coverage": "login"}, "discoveredIssues": []}
}
"#;

/// A scrutiny review of feat-login with a finding on src/auth.rs:42.
pub const REVIEW: &str = r#"{"featureId": "feat-login", "reviewedAt": "2026-01-01T00:00:00.000Z", "status": "fail", "codeReview": {"summary": "s", "issues": [{"file": "src/auth.rs", "line": 42, "severity": "blocking", "description": "Login returns 500 on VAL-AUTH-001"}]}, "summary": "fail"}"#;

/// A mission folder at `root/mission` with every diagnostic of design §3, records, and a
/// working directory at `root/repo`.
pub fn write_mission(root: &Path) -> PathBuf {
    let dir = root.join("mission");
    let write = |rel: &str, text: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("validation-contract.md", CONTRACT);
    write("features.json", FEATURES);
    write("validation-state.json", VALIDATION_STATE);
    write("mission.md", MISSION);
    write("skills/backend-worker/SKILL.md", "---\nname: backend-worker\ndescription: d\n---\n");
    write(HANDOFF_FILE, HANDOFF);
    write("validation/foundation/scrutiny/reviews/feat-login.json", REVIEW);
    write(
        "validation/foundation/user-testing/synthesis.json",
        r#"{"milestone": "foundation", "round": 1, "status": "fail", "passedAssertions": ["VAL-AUTH-002"], "failedAssertions": [{"id": "VAL-AUTH-001", "reason": "Login returns 500"}], "blockedAssertions": [{"id": "VAL-LINK-003", "blockedBy": "no test server"}], "previousRound": null}"#,
    );
    write("working_directory.txt", &root.join("repo").display().to_string());
    std::fs::create_dir_all(root.join("repo/src")).unwrap();
    dir
}

/// Applies LSP text edits (UTF-16 columns) to `text`, as a client does.
pub fn apply_edits(text: &str, edits: &[TextEdit]) -> String {
    let offset = |p: Position| {
        let mut at = 0;
        for _ in 0..p.line {
            at += text[at..].find('\n').map_or(text.len() - at, |i| i + 1);
        }
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let mut units = 0;
        for (i, ch) in text[at..line_end].char_indices() {
            if units >= p.character {
                return at + i;
            }
            units += ch.len_utf16() as u32;
        }
        line_end
    };
    let mut spans: Vec<(usize, usize, &str)> =
        edits.iter().map(|e| (offset(e.range.start), offset(e.range.end), e.new_text.as_str())).collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_string();
    for (start, end, new) in spans {
        out.replace_range(start..end, new);
    }
    out
}

/// Writes a file the way the runner does (a temporary file renamed over it), so a watcher
/// never sees it half-written.
pub fn write_atomically(path: &Path, text: &str) {
    let temp = path.with_extension("tmp-write");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}
