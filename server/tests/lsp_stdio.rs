//! Black box: the real `missions lsp` binary over stdio, a whole session from initialize to
//! exit, with a completion, a quick fix and a file written on disk by someone else.

mod stdio_frames;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

fn frame(message: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(message).unwrap();
    [format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes(), body].concat()
}

fn next(rx: &mpsc::Receiver<Value>, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let message = rx.recv_timeout(Duration::from_secs(20)).expect("no message from the server");
        if wanted(&message) {
            return message;
        }
    }
}

#[test]
fn a_whole_session_over_stdio() {
    let root = tempfile::tempdir().unwrap();
    let mission = root.path().join("m");
    std::fs::create_dir_all(&mission).unwrap();
    let contract = "# C\n\n### VAL-A-001: One\nTool: terminal\nEvidence: log\n\n### VAL-A-002: Two\nTool: terminal\nEvidence: log\n";
    let features = r#"{"features": [{"id": "f1", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001"]}]}"#;
    std::fs::write(mission.join("validation-contract.md"), contract).unwrap();
    std::fs::write(mission.join("features.json"), features).unwrap();
    let root_uri = url(root.path());
    let features_uri = url(&mission.join("features.json"));
    let contract_uri = url(&mission.join("validation-contract.md"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_missions")).arg("lsp").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let rx = stdio_frames::reader(child.stdout.take().unwrap());
    let mut send = |m: Value| stdin.write_all(&frame(&m)).unwrap();

    send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}, "workspaceFolders": [{"uri": root_uri, "name": "ws"}]}}));
    let init = next(&rx, |m| m["id"] == 1);
    assert_eq!(init["result"]["capabilities"]["textDocumentSync"]["change"], 2);
    send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    // The workspace scan finds the mission: VAL-A-002 is unclaimed.
    let first = next(&rx, |m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == contract_uri);
    assert_eq!(first["params"]["diagnostics"][0]["code"], "unclaimed-assertion");

    send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": features_uri, "languageId": "json", "version": 1, "text": features}}}));
    next(&rx, |m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == features_uri && m["params"]["version"] == 1);
    // Completion right after `[` of `fulfills`: the unclaimed VAL-A-002, VAL-A-001 is listed.
    let after_bracket = features.find("[\"VAL-A-001\"").unwrap() as u32 + 1;
    send(json!({"jsonrpc": "2.0", "id": 10, "method": "textDocument/completion", "params": {"textDocument": {"uri": features_uri}, "position": {"line": 0, "character": after_bracket}}}));
    let completion = next(&rx, |m| m["id"] == 10);
    assert_eq!(completion["result"]["items"][0]["label"], "VAL-A-002", "{completion}");
    assert_eq!(completion["result"]["items"].as_array().unwrap().len(), 1, "{completion}");
    // The quick fix of the unclaimed warning claims it in f1, inserting after the last claim.
    let heading = contract.lines().position(|l| l.starts_with("### VAL-A-002")).unwrap();
    let range = json!({"start": {"line": heading, "character": 4}, "end": {"line": heading, "character": 13}});
    send(json!({"jsonrpc": "2.0", "id": 11, "method": "textDocument/codeAction", "params": {"textDocument": {"uri": contract_uri}, "range": range, "context": {"diagnostics": []}}}));
    let actions = next(&rx, |m| m["id"] == 11);
    assert_eq!(actions["result"][0]["title"], "Claim in feature `f1`", "{actions}");
    let edit = &actions["result"][0]["edit"]["changes"][&features_uri][0];
    assert_eq!(edit["newText"], ", \"VAL-A-002\"", "{actions}");
    // Claim VAL-A-002 too: the contract's warning goes away.
    let at = features.find("\"VAL-A-001\"").unwrap() as u32;
    send(json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": features_uri, "version": 2}, "contentChanges": [{"range": {"start": {"line": 0, "character": at}, "end": {"line": 0, "character": at}}, "text": "\"VAL-A-002\", "}]}}));
    next(&rx, |m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == features_uri && m["params"]["version"] == 2);
    let cleared = next(&rx, |m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == contract_uri);
    assert_eq!(cleared["params"]["diagnostics"], json!([]));

    send(json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover", "params": {"textDocument": {"uri": features_uri}, "position": {"line": 0, "character": at + 3}}}));
    let hover = next(&rx, |m| m["id"] == 2);
    assert!(hover["result"]["contents"]["value"].as_str().unwrap().contains("**VAL-A-002**: Two"), "{hover}");

    // The runner writes the contract (not open) on disk: the server's own watcher reloads it.
    let temp = mission.join("contract.tmp");
    std::fs::write(&temp, format!("{contract}\n### VAL-A-003: Three\nTool: terminal\nEvidence: log\n")).unwrap();
    std::fs::rename(&temp, mission.join("validation-contract.md")).unwrap();
    let reloaded = next(&rx, |m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == contract_uri && m["params"]["diagnostics"].to_string().contains("VAL-A-003"));
    assert_eq!(reloaded["params"]["diagnostics"][0]["code"], "unclaimed-assertion", "{reloaded}");

    send(json!({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}));
    let shutdown = next(&rx, |m| m["id"] == 3);
    assert_eq!(shutdown["result"], Value::Null);
    send(json!({"jsonrpc": "2.0", "method": "exit"}));
    drop(stdin);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn url(path: &std::path::Path) -> String {
    tower_lsp::lsp_types::Url::from_file_path(path).unwrap().to_string()
}
