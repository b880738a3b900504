//! A seeded fuzzer against the real `missions lsp` binary (issue 22): random edits of both
//! mission documents (out-of-range and mid-surrogate positions, reversed ranges, every kind of
//! line break, control characters, 5 MB documents), every request at random positions,
//! malformed frames and JSON that is not JSON-RPC, unknown and `$/` methods, documents closed
//! and opened again. Throughout and at the end:
//! - every request is answered, none with an internal error (a caught panic), none late;
//! - at checkpoints, the diagnostics the server published for each document equal what
//!   `missions check --format json` says about the same text;
//! - the server sends no `workspace/applyEdit` (the disk never changes here: nothing may
//!   change a buffer);
//! - the server still answers at the end and shuts down cleanly.
//!
//! `MISSIONS_FUZZ_SECONDS` (default 45) bounds it; `MISSIONS_FUZZ_SEED` picks the seed
//! (default 22; the failure messages name it); `MISSIONS_FUZZ_SERVER_LOG=FILE` keeps the
//! server's stderr (set `RUST_LOG` too).

use crate::stdio_client;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use stdio_client::{frame, url, Server};

/// An answer later than this is a hang.
const HANG: Duration = Duration::from_secs(30);

const CONTRACT: &str = "# Contract\n\n## Area\n\n### VAL-A-001: First 🚀 thing\nTool: terminal\nEvidence: output\n\n### VAL-A-002: Second é thing\r\nTool: http, pigeon\r\nEvidence: log\r\n\r### VAL-A-003: Third\rTool: terminal\rCheck: true\r";
const FEATURES: &str = "{\n  \"features\": [\n    {\"id\": \"feat-a\", \"description\": \"Does 🚀 a\", \"milestone\": \"m1\", \"status\": \"pending\", \"fulfills\": [\"VAL-A-001\"]},\n    {\"id\": \"feat-b\", \"description\": \"Does é b\", \"milestone\": \"m1\", \"status\": \"pending\", \"fulfills\": [\"VAL-A-002\", \"VAL-A-002\"], \"dependsOn\": [\"feat-a\"]},\r\n    {\"id\": \"feat-c\", \"description\": \"c\", \"milestone\": \"m2\", \"status\": \"pendin\", \"fulfills\": [\"VAL-A-9\"], \"dependsOn\": [\"feat-c\"]}\r  ]\n}\n";

/// Pieces of inserted text: the tokens the parsers care about and the characters that break
/// naive position arithmetic.
const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    " ",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\u{1}",
    "é",
    "🚀",
    "👩‍👩‍👧",
    "漢",
    "\\",
    "\\u12",
    "\\ud83d",
    "\"fulfills\": [\"VAL-A-001\"]",
    "\"status\": \"pending\"",
    "\"dependsOn\": [\"feat-a\"]",
    "\"id\": \"feat-z\"",
    "VAL-A-00",
    "VAL-B-001",
    "VAL-a-1",
    "### VAL-A-004: Fourth\n",
    "Tool: ",
    "Evidence: ",
    "Check: ",
    "**Tool:** htt",
    "```\n",
    "- ",
    "x",
    "yz",
    "1e400",
    "null",
    "//",
    "/*",
];

/// Raw frames: not JSON, not an object, or JSON that is not JSON-RPC. None has an id that
/// can be answered (those are sent separately).
const MALFORMED: &[&[u8]] = &[
    b"\xff\xfe garbage",
    b"not json at all",
    b"[1, 2, 3]",
    b"{}",
    br#"{"a": 1}"#,
    br#"{"jsonrpc": "2.0", "id": {}, "method": "textDocument/hover"}"#,
    br#"{"jsonrpc": "2.0", "id": 1e400, "method": "textDocument/hover"}"#,
    br#"{"jsonrpc": "2.0", "id": "\ud800", "method": "textDocument/hover"}"#,
    br#"{"jsonrpc": "2.0", "method": 5}"#,
    br#"{"jsonrpc": "2.0", "id": 99999999, "result": 1, "error": {"code": 1, "message": "x"}}"#,
    br#"{"jsonrpc": "2.0", "id": 99999998, "error": {"code": "bad"}}"#,
    br#"{"jsonrpc": "2.0", "id": 5, "method":"#,
    br#"{"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": "file:///nowhere/features.json", "version": 1}, "contentChanges": [{"text": "\udc00"}]}}"#,
];

/// A document as the client holds it.
struct Doc {
    path: PathBuf,
    uri: String,
    language: &'static str,
    text: String,
    version: i64,
    open: bool,
}

/// What happened, for the report.
#[derive(Default, Debug)]
struct Figures {
    frames: u64,
    edits: u64,
    requests: u64,
    answered: u64,
    /// Error answers by method and code.
    error_answers: BTreeMap<(String, i64), u64>,
    malformed: u64,
    big_documents: u64,
    reopened: u64,
    checkpoints: u64,
    drift: Vec<String>,
}

struct Fuzz {
    rng: StdRng,
    seed: u64,
    server: Server,
    docs: Vec<Doc>,
    /// The newest `publishDiagnostics` of each document.
    published: HashMap<String, Value>,
    figures: Figures,
    next_raw_id: i64,
}

/// The byte offset of an LSP position (UTF-16 columns) as the server takes it: lines end at
/// `\n`, `\r\n` or `\r`; past the last line is the end of the text; past a line's end is that
/// end; a column inside a character (half of a surrogate pair) is that character's start.
fn lsp_offset(text: &str, line: u64, character: u64) -> usize {
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
    let mut units = 0u64;
    for (i, c) in text[start..end].char_indices() {
        let width = c.len_utf16() as u64;
        if units + width > character {
            return start + i;
        }
        units += width;
    }
    end
}

/// Line count and longest line (in UTF-16 units) of `text`, to draw positions from.
fn extent(text: &str) -> (u64, u64) {
    let (mut lines, mut longest, mut current) = (1u64, 0u64, 0u64);
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        if c == '\n' || (c == '\r' && bytes.get(i + 1) != Some(&b'\n')) {
            lines += 1;
            longest = longest.max(current);
            current = 0;
        } else if c != '\r' {
            current += c.len_utf16() as u64;
        }
    }
    (lines, longest.max(current))
}

/// The LSP position of byte `at` (UTF-16 columns).
fn position_of(text: &str, at: usize) -> (u64, u64) {
    let bytes = text.as_bytes();
    let (mut line, mut start) = (0u64, 0usize);
    for i in 0..at {
        if bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            line += 1;
            start = i + 1;
        }
    }
    (line, text[start..at].encode_utf16().count() as u64)
}

fn severity_name(n: &Value) -> &'static str {
    match n.as_u64() {
        Some(1) => "error",
        Some(2) => "warning",
        Some(3) => "information",
        _ => "hint",
    }
}

/// A diagnostic reduced to what both sides print, as one comparable line.
fn shown(range: &Value, severity: &str, code: &Value, message: &Value) -> String {
    format!(
        "{}:{}-{}:{} {severity} {} {}",
        range["start"]["line"],
        range["start"]["character"],
        range["end"]["line"],
        range["end"]["character"],
        code.as_str().unwrap_or(""),
        message.as_str().unwrap_or("")
    )
}

/// A features.json or a contract of about 5 MB: thousands of features or assertions.
fn big_document(rng: &mut StdRng, contract: bool) -> String {
    let mut out = String::with_capacity(5 << 20);
    if contract {
        out.push_str("# Big\n\n");
        let mut i = 0;
        while out.len() < 5 << 20 {
            let end = ["\n", "\r\n", "\r"][rng.random_range(0..3)];
            out.push_str(&format!("### VAL-BIG-{i:05}: Assertion {i} 🚀{end}Tool: terminal{end}Evidence: output of a command that is long enough to matter{end}{end}"));
            i += 1;
        }
    } else {
        out.push_str("{\"features\": [\n");
        let mut i = 0;
        while out.len() < 5 << 20 {
            let claim = if rng.random_bool(0.5) {
                format!("VAL-A-{:03}", rng.random_range(1..5))
            } else {
                format!("VAL-Z-{i:05}")
            };
            out.push_str(&format!("  {{\"id\": \"big-{i}\", \"description\": \"Feature é {i} of a big plan, described at some length\", \"milestone\": \"m{}\", \"status\": \"pending\", \"fulfills\": [\"{claim}\"]}},\n", i % 7));
            i += 1;
        }
        out.push_str("  {\"id\": \"last\", \"description\": \"d\", \"milestone\": \"m1\", \"status\": \"pending\", \"fulfills\": []}\n]}\n");
    }
    out
}

impl Fuzz {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    /// A position in document `d`: mostly inside, sometimes past a line's end or the last
    /// line, sometimes inside a surrogate pair.
    fn position(&mut self, d: usize) -> Value {
        let text = &self.docs[d].text;
        let (lines, longest) = extent(text);
        if self.rng.random_bool(0.15) {
            let wide: Vec<usize> =
                text.char_indices().filter(|(_, c)| c.len_utf16() == 2).map(|(i, _)| i).take(50).collect();
            if !wide.is_empty() {
                let at = wide[self.rng.random_range(0..wide.len())];
                let (line, character) = position_of(text, at);
                return json!({"line": line, "character": character + 1});
            }
        }
        let line = self.rng.random_range(0..lines + 2);
        let character = self.rng.random_range(0..longest + 4);
        json!({"line": line, "character": character})
    }

    fn take_notifications(&mut self) {
        for m in self.server.drain_unread() {
            if m["method"] == "textDocument/publishDiagnostics" {
                self.published.insert(m["params"]["uri"].as_str().unwrap_or("").to_string(), m["params"].clone());
            }
        }
    }

    /// A request whose answer must come; its error code is counted.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.figures.requests += 1;
        self.figures.frames += 1;
        let id = self.server.send_request(method, params.clone());
        let answer = self.answer_to(id, method, &params);
        self.figures.answered += 1;
        if let Some(code) = answer["error"]["code"].as_i64() {
            *self.figures.error_answers.entry((method.to_string(), code)).or_default() += 1;
            assert_ne!(
                code, -32603,
                "seed {}: {method} answered an internal error (a caught panic): {answer}\nparams: {params}",
                self.seed
            );
        }
        answer
    }

    /// The answer to request `id`; a hang (or the server's end) fails the test, naming it.
    fn answer_to(&mut self, id: i64, method: &str, params: &Value) -> Value {
        match self.server.try_take_within(|m| m["id"] == id && m.get("method").is_none(), HANG) {
            Some(answer) => answer,
            None => {
                let exited = self.server.has_exited();
                let sizes: Vec<usize> = self.docs.iter().map(|d| d.text.len()).collect();
                panic!("seed {}: no answer to {method} within {HANG:?} (the server {}); params: {params}; documents of {sizes:?} bytes; so far: {:?}", self.seed, if exited { "exited" } else { "is still running" }, self.figures)
            }
        }
    }

    fn edit(&mut self) {
        let d = self.rng.random_range(0..self.docs.len());
        if !self.docs[d].open {
            return self.reopen(d);
        }
        self.figures.edits += 1;
        let whole = self.docs[d].text.len() < 100_000 && self.rng.random_bool(0.05);
        let change = if whole {
            let mut text = self.docs[d].text.clone();
            let cut = self.rng.random_range(0..=text.len());
            let cut = (0..=cut).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            text.truncate(cut);
            json!({"text": text})
        } else {
            let (start, end) = (self.position(d), self.position(d));
            let pieces = self.rng.random_range(0..4);
            let inserted: String = (0..pieces).map(|_| *self.pick(PIECES)).collect();
            json!({"range": {"start": start, "end": end}, "text": inserted})
        };
        let doc = &mut self.docs[d];
        doc.text = match change.get("range") {
            None => change["text"].as_str().unwrap().to_string(),
            Some(range) => {
                let at =
                    |p: &Value| lsp_offset(&doc.text, p["line"].as_u64().unwrap(), p["character"].as_u64().unwrap());
                let (a, b) = (at(&range["start"]), at(&range["end"]));
                let (a, b) = (a.min(b), a.max(b));
                format!("{}{}{}", &doc.text[..a], change["text"].as_str().unwrap(), &doc.text[b..])
            }
        };
        doc.version += 1;
        let message = json!({"textDocument": {"uri": doc.uri, "version": doc.version}, "contentChanges": [change]});
        self.server.notify("textDocument/didChange", message);
        self.figures.frames += 1;
    }

    /// A document replaced by a 5 MB one, or a big one by its first text again.
    fn big(&mut self, initial: &[String]) {
        let d = self.rng.random_range(0..self.docs.len());
        if !self.docs[d].open {
            return self.reopen(d);
        }
        let text = if self.docs[d].text.len() > 1 << 20 {
            initial[d].clone()
        } else {
            self.figures.big_documents += 1;
            big_document(&mut self.rng, self.docs[d].language == "markdown")
        };
        let doc = &mut self.docs[d];
        doc.text = text;
        doc.version += 1;
        self.server.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": doc.uri, "version": doc.version}, "contentChanges": [{"text": doc.text}]}),
        );
        self.figures.frames += 1;
    }

    /// Closes a document (the server then reads it from disk) or opens it again.
    fn close_or_open(&mut self, initial: &[String]) {
        let d = self.rng.random_range(0..self.docs.len());
        if self.docs[d].open {
            let doc = &mut self.docs[d];
            self.server.notify("textDocument/didClose", json!({"textDocument": {"uri": doc.uri}}));
            doc.open = false;
            // Closed, the document is the file on disk, which never changes here.
            doc.text = initial[d].clone();
            self.figures.frames += 1;
        } else {
            self.reopen(d);
        }
    }

    fn reopen(&mut self, d: usize) {
        let doc = &mut self.docs[d];
        doc.version += 1;
        doc.open = true;
        self.server.notify("textDocument/didOpen", json!({"textDocument": {"uri": doc.uri, "languageId": doc.language, "version": doc.version, "text": doc.text}}));
        self.figures.frames += 1;
        self.figures.reopened += 1;
    }

    fn some_request(&mut self) {
        let d = self.rng.random_range(0..self.docs.len());
        let uri = self.docs[d].uri.clone();
        let at = self.position(d);
        let range = json!({"start": at, "end": self.position(d)});
        let (method, params) = match self.rng.random_range(0..14) {
            0 => ("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": at})),
            1 => ("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": at})),
            2 => ("textDocument/definition", json!({"textDocument": {"uri": uri}, "position": at})),
            3 => (
                "textDocument/references",
                json!({"textDocument": {"uri": uri}, "position": at, "context": {"includeDeclaration": true}}),
            ),
            4 => ("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}})),
            5 => ("workspace/symbol", json!({"query": *self.pick(&["", "VAL", "feat", "🚀", "é"])})),
            6 => (
                "textDocument/codeAction",
                json!({"textDocument": {"uri": uri}, "range": range, "context": {"diagnostics": []}}),
            ),
            7 => ("textDocument/codeLens", json!({"textDocument": {"uri": uri}})),
            8 => ("textDocument/inlayHint", json!({"textDocument": {"uri": uri}, "range": range})),
            9 => ("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}})),
            10 => ("textDocument/documentLink", json!({"textDocument": {"uri": uri}})),
            11 => ("textDocument/prepareRename", json!({"textDocument": {"uri": uri}, "position": at})),
            12 => (
                "textDocument/rename",
                json!({"textDocument": {"uri": uri}, "position": at, "newName": *self.pick(&["VAL-A-007", "feat-q", "bad name", "🚀"])}),
            ),
            _ => ("missions/status", json!({})),
        };
        let answer = self.request(method, params);
        // A lens is resolved with the data it came with.
        if method == "textDocument/codeLens" {
            if let Some(lens) = answer["result"].as_array().and_then(|l| l.first()).cloned() {
                self.request("codeLens/resolve", lens);
            }
        }
    }

    fn bad_frame(&mut self) {
        self.figures.frames += 1;
        match self.rng.random_range(0..4) {
            0 | 1 => {
                self.figures.malformed += 1;
                let body = *self.pick(MALFORMED);
                self.server.write_raw(&frame(body));
            }
            2 => {
                // Invalid requests whose id can be read are answered -32600.
                self.figures.malformed += 1;
                self.next_raw_id += 1;
                let id = self.next_raw_id;
                let bodies = [
                    json!({"jsonrpc": "1.0", "id": id, "method": "textDocument/hover"}),
                    json!({"jsonrpc": "2.0", "id": id, "method": 7}),
                    json!({"jsonrpc": "2.0", "id": id}),
                    json!({"jsonrpc": "2.0", "id": id, "method": "workspace/symbol", "params": "query"}),
                ];
                let body = bodies[self.rng.random_range(0..bodies.len())].to_string();
                self.server.write_raw(&frame(body.as_bytes()));
                let answer = self.answer_to(id, "an invalid request", &json!(body));
                assert_eq!(answer["error"]["code"], -32600, "seed {}: {body}: {answer}", self.seed);
            }
            _ => {
                // Unknown methods: requests get MethodNotFound, notifications nothing.
                let method = *self.pick(&["fuzz/unknown", "$/fuzz", "$/cancelRequest", "textDocument/unknown"]);
                if self.rng.random_bool(0.5) {
                    let answer = self.request(method, json!({}));
                    assert_eq!(answer["error"]["code"], -32601, "seed {}: {method}: {answer}", self.seed);
                } else {
                    self.server.notify(method, json!({"id": 424242}));
                }
            }
        }
    }

    /// The diagnostics published for each document equal `missions check` on the same texts.
    fn checkpoint(&mut self, mission: &Path) {
        self.figures.checkpoints += 1;
        for d in 0..self.docs.len() {
            if !self.docs[d].open {
                self.reopen(d);
            }
        }
        let copy = tempfile::tempdir().unwrap();
        for doc in &self.docs {
            std::fs::write(copy.path().join(doc.path.file_name().unwrap()), &doc.text).unwrap();
        }
        let out = Command::new(env!("CARGO_BIN_EXE_missions"))
            .args(["check", "--verbose", "--format", "json"])
            .arg(copy.path())
            .output()
            .unwrap();
        let checked: Vec<Value> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("seed {}: check's output: {e}", self.seed));
        let expected = |name: &str| -> Vec<String> {
            let mut v: Vec<String> = checked
                .iter()
                .filter(|d| d["path"].as_str().is_some_and(|p| p.ends_with(name)))
                .map(|d| shown(&d["range"], d["severity"].as_str().unwrap(), &d["code"], &d["message"]))
                .collect();
            v.sort();
            v
        };
        let mut last = String::new();
        for attempt in 0..4 {
            // A request waits for the analysis of every edit sent before it, which publishes
            // its diagnostics first; a big document may take longer than that wait.
            let uri = self.docs[0].uri.clone();
            self.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
            self.server.settle(Duration::from_millis(200 + 500 * attempt));
            self.take_notifications();
            let mut differs = Vec::new();
            for doc in &self.docs {
                let name = doc.path.file_name().unwrap().to_str().unwrap();
                let published = self.published.get(&doc.uri);
                let version_ok = published.is_some_and(|p| p["version"] == doc.version);
                let mut got: Vec<String> = published
                    .and_then(|p| p["diagnostics"].as_array())
                    .into_iter()
                    .flatten()
                    .map(|d| shown(&d["range"], severity_name(&d["severity"]), &d["code"], &d["message"]))
                    .collect();
                got.sort();
                let want = expected(name);
                if !version_ok || got != want {
                    let only_server: Vec<&String> = got.iter().filter(|g| !want.contains(g)).take(5).collect();
                    let only_check: Vec<&String> = want.iter().filter(|w| !got.contains(w)).take(5).collect();
                    differs.push(format!(
                        "{name} (version {} published {:?}): server only {only_server:#?}, check only {only_check:#?}",
                        doc.version,
                        published.map(|p| p["version"].clone())
                    ));
                }
            }
            if differs.is_empty() {
                let _ = mission;
                return;
            }
            last = differs.join("\n");
        }
        let texts: Vec<String> = self
            .docs
            .iter()
            .map(|d| if d.text.len() < 4000 { format!("{:?}", d.text) } else { format!("({} bytes)", d.text.len()) })
            .collect();
        self.figures.drift.push(format!("{last}\ntexts: {texts:#?}"));
    }
}

#[test]
fn the_server_survives_a_seeded_fuzz_and_agrees_with_check() {
    let seconds: u64 = std::env::var("MISSIONS_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(45);
    let seed: u64 = std::env::var("MISSIONS_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(22);
    let root = tempfile::tempdir().unwrap();
    let mission = root.path().join("m");
    std::fs::create_dir_all(&mission).unwrap();
    let initial = vec![CONTRACT.to_string(), FEATURES.to_string()];
    let docs: Vec<Doc> = [("validation-contract.md", "markdown"), ("features.json", "json")]
        .iter()
        .zip(&initial)
        .map(|(&(name, language), text)| {
            let path = mission.join(name);
            std::fs::write(&path, text).unwrap();
            Doc { uri: url(&path), path, language, text: text.clone(), version: 1, open: false }
        })
        .collect();
    let capabilities = json!({
        "workspace": {"applyEdit": true, "workspaceEdit": {"documentChanges": true}, "configuration": true, "codeLens": {"refreshSupport": true}, "inlayHint": {"refreshSupport": true}, "didChangeWatchedFiles": {"dynamicRegistration": false}},
        "window": {"workDoneProgress": true},
    });
    // MISSIONS_FUZZ_SERVER_LOG=FILE keeps the server's log (with RUST_LOG) for a failure.
    let log = std::env::var_os("MISSIONS_FUZZ_SERVER_LOG")
        .map_or(Stdio::null(), |f| Stdio::from(std::fs::File::create(f).unwrap()));
    let mut server = Server::start(
        Command::new(env!("CARGO_BIN_EXE_missions")).arg("lsp").current_dir(root.path()).stderr(log),
        Server::params(root.path(), capabilities),
    );
    for (method, answer) in [
        ("workspace/configuration", json!([null])),
        ("client/registerCapability", Value::Null),
        ("window/workDoneProgress/create", Value::Null),
        ("workspace/codeLens/refresh", Value::Null),
        ("workspace/inlayHint/refresh", Value::Null),
        ("workspace/semanticTokens/refresh", Value::Null),
        ("workspace/applyEdit", json!({"applied": false})),
    ] {
        server.always_answer(method, answer);
    }
    server.patience = HANG;
    let mut fuzz = Fuzz {
        rng: StdRng::seed_from_u64(seed),
        seed,
        server,
        docs,
        published: HashMap::new(),
        figures: Figures::default(),
        next_raw_id: 1_000_000,
    };
    for d in 0..fuzz.docs.len() {
        fuzz.reopen(d);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut actions = 0u64;
    while Instant::now() < deadline {
        actions += 1;
        match fuzz.rng.random_range(0..1000) {
            0..=449 => fuzz.edit(),
            450..=799 => fuzz.some_request(),
            800..=919 => fuzz.bad_frame(),
            920..=949 => fuzz.close_or_open(&initial),
            950..=953 => fuzz.big(&initial),
            _ => {
                // A burst: many edits and requests without waiting, as fast typing sends them.
                for _ in 0..fuzz.rng.random_range(5..30) {
                    fuzz.edit();
                }
            }
        }
        fuzz.take_notifications();
        assert!(
            !fuzz.server.has_exited(),
            "seed {seed}: the server exited after {actions} actions: {:?}",
            fuzz.figures
        );
        if actions.is_multiple_of(400) {
            fuzz.checkpoint(&mission);
        }
    }
    fuzz.checkpoint(&mission);
    let symbols = fuzz.request("workspace/symbol", json!({"query": "VAL"}));
    assert!(symbols["result"].is_array(), "seed {seed}: the server still answers: {symbols}");
    let edits_sent: Vec<Value> =
        fuzz.server.auto_answered().iter().filter(|m| m["method"] == "workspace/applyEdit").cloned().collect();
    let figures = &fuzz.figures;
    eprintln!(
        "lsp fuzz, seed {seed}, {:.0} s: {actions} actions, {} frames sent ({} edits, {} requests all answered, {} malformed or not JSON-RPC), {} 5 MB documents, {} reopened, {} checkpoints, {} drifted, {} buffer edits sent without a disk change; error answers by method and code: {:?}",
        started.elapsed().as_secs_f64(), figures.frames, figures.edits, figures.requests, figures.malformed, figures.big_documents, figures.reopened, figures.checkpoints, figures.drift.len(), edits_sent.len(), figures.error_answers
    );
    assert!(
        figures.drift.is_empty(),
        "seed {seed}: the server's diagnostics differ from `missions check` on the same text:\n{}",
        figures.drift.join("\n\n")
    );
    assert!(
        edits_sent.is_empty(),
        "seed {seed}: the server edited buffers although the disk never changed: {edits_sent:#?}"
    );
    assert_eq!(figures.requests, figures.answered);
    fuzz.server.finish();
}

#[test]
fn the_fuzzers_positions_follow_the_protocol() {
    let text = "a🚀b\r\nc\rd\n";
    assert_eq!(lsp_offset(text, 0, 1), 1);
    assert_eq!(lsp_offset(text, 0, 2), 1, "inside the surrogate pair: the character's start");
    assert_eq!(lsp_offset(text, 0, 3), 5);
    assert_eq!(lsp_offset(text, 0, 99), 6, "past the line's end: before `\\r\\n`");
    assert_eq!(lsp_offset(text, 1, 5), 9, "before the lone `\\r`");
    assert_eq!(lsp_offset(text, 2, 0), 10);
    assert_eq!(lsp_offset(text, 9, 0), text.len());
    assert_eq!(position_of(text, 10), (2, 0));
    assert_eq!(extent(text), (4, 4));
}
