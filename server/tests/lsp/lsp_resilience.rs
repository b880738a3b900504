//! The real `missions lsp` binary never freezes and never dies on what a client sends (issue
//! 22): panicking handlers back to back, a stderr nobody reads, frames that are JSON but not
//! JSON-RPC, `$/` requests, completion where it once panicked.

use crate::stdio_client;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use stdio_client::{frame, url, Server};

/// A mission folder with both documents, and the server started on its parent.
fn mission_with(
    contract: &str,
    command: &mut Command,
    capabilities: Value,
) -> (tempfile::TempDir, std::path::PathBuf, Server) {
    let root = tempfile::tempdir().unwrap();
    let mission = root.path().join("m");
    std::fs::create_dir_all(&mission).unwrap();
    std::fs::write(mission.join("validation-contract.md"), contract).unwrap();
    std::fs::write(mission.join("features.json"), r#"{"features": []}"#).unwrap();
    let server = Server::start(command, Server::params(root.path(), capabilities));
    (root, mission, server)
}

fn lsp() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_missions"));
    c.arg("lsp");
    c
}

fn open_contract(server: &mut Server, mission: &Path, text: &str) -> String {
    let uri = url(&mission.join("validation-contract.md"));
    server.open(&mission.join("validation-contract.md"), "markdown", text);
    server.diagnostics_until(&uri, |d| d["version"] == 1);
    uri
}

/// Editors need not read a server's stderr. With a pipe nobody reads, panics logged with
/// backtraces used to fill it and block the thread serving the protocol: the second panic
/// froze the server for good. Here every hover panics (outside the handlers' own guard), and
/// each is answered, back to back, and so is everything after them.
#[test]
fn panicking_handlers_back_to_back_with_an_unread_stderr_never_freeze_the_server() {
    let mut command = lsp();
    command
        .stderr(Stdio::piped())
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LOG", "missions=debug")
        .env("MISSIONS_FAILPOINT", "lsp-hover-panics");
    let (_root, mission, mut server) =
        mission_with("### VAL-A-001: One\nTool: terminal\nEvidence: log\n", &mut command, json!({}));
    let uri = open_contract(&mut server, &mission, "### VAL-A-001: One\nTool: terminal\nEvidence: log\n");
    server.patience = Duration::from_secs(30);
    let ids: Vec<i64> = (0..40)
        .map(|_| {
            server.send_request(
                "textDocument/hover",
                json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 6}}),
            )
        })
        .collect();
    for id in ids {
        let answer = server.response(id, Duration::from_secs(30));
        assert_eq!(answer["error"]["code"], -32603, "{answer}");
    }
    let symbols = server.request("workspace/symbol", json!({"query": "VAL"}));
    assert_eq!(symbols["result"][0]["name"], "VAL-A-001", "{symbols}");
    server.finish();
}

/// The same stderr nobody reads, filled by the server's own log lines (one per bad frame):
/// lines are dropped, the protocol goes on.
#[test]
fn a_flood_of_log_lines_nobody_reads_does_not_block_the_server() {
    let mut server =
        Server::start(lsp().stderr(Stdio::piped()).env("RUST_LOG", "missions=debug"), json!({"capabilities": {}}));
    let junk: Vec<u8> =
        (0..3000).flat_map(|i| frame(format!("{{\"not\": \"json-rpc\", \"n\": {i}}}").as_bytes())).collect();
    server.write_raw(&junk);
    let symbols = server.request_within("workspace/symbol", json!({"query": "VAL"}), Duration::from_secs(60));
    assert!(symbols.get("result").is_some(), "{symbols}");
    server.finish();
}

/// Issue 22's two completions that panicked: after a multi-byte character in a `Tool:` value
/// (UTF-16 columns 12-15) and where `Tool:` would start with a 4-byte character (UTF-8
/// column 7). They answer, with items where there are some.
#[test]
fn completion_answers_where_it_once_panicked() {
    let text = "### VAL-A-001: One\nTool: htt\txéxx\nEvidence: log\n";
    let (_root, mission, mut server) = mission_with(text, lsp().stderr(Stdio::null()), json!({}));
    let uri = open_contract(&mut server, &mission, text);
    for character in 12..=15 {
        let answer = server.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": character}}),
        );
        assert!(answer["result"]["items"].is_array(), "column {character}: {answer}");
        if character == 12 {
            assert!(
                !answer["result"]["items"].as_array().unwrap().is_empty(),
                "right after `é` every tool is offered: {answer}"
            );
        }
    }
    server.finish();

    let text = "}VA🚀🚀 xx";
    let (_root, mission, mut server) =
        mission_with(text, lsp().stderr(Stdio::null()), json!({"general": {"positionEncodings": ["utf-8"]}}));
    assert_eq!(server.initialize["result"]["capabilities"]["positionEncoding"], "utf-8");
    let uri = open_contract(&mut server, &mission, text);
    for character in 0..=14 {
        let answer = server.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": character}}),
        );
        assert!(answer["result"]["items"].is_array(), "column {character}: {answer}");
    }
    server.finish();
}

/// Frames that are well-framed JSON objects but not JSON-RPC 2.0 used to end the session
/// (exit 1, nothing logged). Each is dropped with a log line; a request whose id can be read
/// is answered -32600; the session goes on and ends cleanly.
#[test]
fn frames_that_are_json_but_not_json_rpc_cost_only_themselves() {
    let mut server = Server::start(lsp().stderr(Stdio::piped()), json!({"capabilities": {}}));
    let unanswerable: [&[u8]; 9] = [
        b"{}",
        br#"{"a":1}"#,
        br#"{"jsonrpc":"1.0","method":"initialized"}"#,
        br#"{"jsonrpc":"2.0","id":{},"method":"workspace/symbol","params":{"query":""}}"#,
        br#"{"jsonrpc":"2.0","method":5}"#,
        br#"{"jsonrpc":"2.0","id":1e400,"method":"workspace/symbol","params":{"query":""}}"#,
        br#"{"jsonrpc":"2.0","id":"\ud800","method":"workspace/symbol","params":{"query":""}}"#,
        br#"{"jsonrpc":"2.0","id":12345,"error":{"code":"bad"}}"#,
        br#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///x/features.json","languageId":"json","version":1,"text":"\udc00"}}}"#,
    ];
    for body in unanswerable {
        server.write_raw(&frame(body));
    }
    let answerable = [
        (br#"{"jsonrpc":"1.0","id":801,"method":"workspace/symbol","params":{"query":""}}"#.as_slice(), 801),
        (br#"{"jsonrpc":"2.0","id":802,"method":5}"#.as_slice(), 802),
        (br#"{"jsonrpc":"2.0","id":803}"#.as_slice(), 803),
        (br#"{"jsonrpc":"2.0","id":804,"method":"workspace/symbol","params":"query"}"#.as_slice(), 804),
    ];
    for (body, _) in &answerable {
        server.write_raw(&frame(body));
    }
    for (body, id) in answerable {
        let answer = server.response(id, Duration::from_secs(20));
        assert_eq!(answer["error"]["code"], -32600, "{}: {answer}", String::from_utf8_lossy(body));
    }
    let symbols = server.request("workspace/symbol", json!({"query": "VAL"}));
    assert!(symbols.get("result").is_some(), "the session goes on: {symbols}");
    let status = server.shut_down();
    assert_eq!(status.code(), Some(0));
    let stderr = server.stderr();
    assert_eq!(stderr.matches("dropped a message from the client").count(), 13, "{stderr}");
}

/// LSP: a request whose method starts with `$/` and that the server does not know is answered
/// MethodNotFound; such notifications are ignored.
#[test]
fn dollar_requests_are_answered_method_not_found_and_dollar_notifications_ignored() {
    let mut server = Server::start(lsp().stderr(Stdio::null()), json!({"capabilities": {}}));
    server.notify("$/setTrace", json!({"value": "verbose"}));
    server.notify("$/somethingNew", json!({}));
    for method in ["$/somethingNew", "$/cancelRequest", "$/progress"] {
        let answer = server.request_within(method, json!({}), Duration::from_secs(20));
        assert_eq!(answer["error"]["code"], -32601, "{method}: {answer}");
    }
    server.settle(Duration::from_millis(300));
    assert!(
        server.unread().iter().all(|m| m.get("id").is_none() || m.get("method").is_some()),
        "no answer to the notifications: {:?}",
        server.unread()
    );
    server.finish();
}

/// A client following LSP 3.17 counts a lone CR as a line break: its positions, in the
/// diagnostics it is sent and in the edits it sends, are by that count.
#[test]
fn a_lone_cr_ends_a_line_for_positions_and_edits() {
    let contract = "### VAL-A-001: One\rTool: terminal\rEvidence: log\r";
    let features = "{\"features\": [\r  {\"id\": \"f\", \"description\": \"d\", \"milestone\": \"m\",\r   \"status\": \"pendin\", \"fulfills\": [\"VAL-A-001\"]}\r]}\r";
    let (_root, mission, mut server) = mission_with(contract, lsp().stderr(Stdio::null()), json!({}));
    std::fs::write(mission.join("features.json"), features).unwrap();
    let uri = url(&mission.join("features.json"));
    server.open(&mission.join("features.json"), "json", features);
    let published = server.diagnostics_until(&uri, |d| d["version"] == 1);
    // `"pendin"` is at column 13 of line 2 (`   "status": "pendin"`).
    assert_eq!(
        published["diagnostics"][0]["range"],
        json!({"start": {"line": 2, "character": 13}, "end": {"line": 2, "character": 21}}),
        "{published}"
    );
    // The client types `g` at the end of `pendin`, on line 2 as it counts.
    let at = json!({"line": 2, "character": 20});
    server.notify("textDocument/didChange", json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"range": {"start": at, "end": at}, "text": "g"}]}));
    let published = server.diagnostics_until(&uri, |d| d["version"] == 2);
    assert_eq!(published["diagnostics"], json!([]), "the edit landed inside `pendin`: {published}");
    server.finish();
}
