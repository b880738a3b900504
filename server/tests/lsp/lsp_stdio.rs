//! Black box: the real `missions lsp` binary over stdio, a whole session from initialize to
//! exit, with a completion, a quick fix and a file written on disk by someone else.

use crate::stdio_client;

use std::process::{Command, Stdio};

use serde_json::json;
use stdio_client::{apply_text_edits, url, Server};

#[test]
fn a_whole_session_over_stdio() {
    let root = tempfile::tempdir().unwrap();
    let mission = root.path().join("m");
    std::fs::create_dir_all(&mission).unwrap();
    let contract = "# C\n\n### VAL-A-001: One\nTool: terminal\nEvidence: log\n\n### VAL-A-002: Two\nTool: terminal\nEvidence: log\n";
    let features = r#"{"features": [{"id": "f1", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001"]}]}"#;
    std::fs::write(mission.join("validation-contract.md"), contract).unwrap();
    std::fs::write(mission.join("features.json"), features).unwrap();
    let features_uri = url(&mission.join("features.json"));
    let contract_uri = url(&mission.join("validation-contract.md"));

    let mut server = Server::start(
        Command::new(env!("CARGO_BIN_EXE_missions")).arg("lsp").stderr(Stdio::null()),
        Server::params(root.path(), json!({})),
    );
    assert_eq!(server.initialize["result"]["capabilities"]["textDocumentSync"]["change"], 2);
    // The workspace scan finds the mission: VAL-A-002 is unclaimed.
    let first = server.diagnostics_until(&contract_uri, |_| true);
    assert_eq!(first["diagnostics"][0]["code"], "unclaimed-assertion");

    server.open(&mission.join("features.json"), "json", features);
    server.diagnostics_until(&features_uri, |d| d["version"] == 1);
    // Completion right after `[` of `fulfills`: the unclaimed VAL-A-002, VAL-A-001 is listed.
    let after_bracket = features.find("[\"VAL-A-001\"").unwrap() as u32 + 1;
    let completion = server.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": features_uri}, "position": {"line": 0, "character": after_bracket}}),
    );
    assert_eq!(completion["result"]["items"][0]["label"], "VAL-A-002", "{completion}");
    assert_eq!(completion["result"]["items"].as_array().unwrap().len(), 1, "{completion}");
    // The quick fix of the unclaimed warning claims it in f1, inserting after the last claim.
    let heading = contract.lines().position(|l| l.starts_with("### VAL-A-002")).unwrap();
    let range = json!({"start": {"line": heading, "character": 4}, "end": {"line": heading, "character": 13}});
    let actions = server.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": contract_uri}, "range": range, "context": {"diagnostics": []}}),
    );
    assert_eq!(actions["result"][0]["title"], "Claim in feature `f1`", "{actions}");
    let edit = &actions["result"][0]["edit"]["changes"][&features_uri][0];
    assert_eq!(edit["newText"], ", \"VAL-A-002\"", "{actions}");
    assert!(
        apply_text_edits(features, std::slice::from_ref(edit)).contains(r#""fulfills": ["VAL-A-001", "VAL-A-002"]"#),
        "{actions}"
    );
    // Claim VAL-A-002 too: the contract's warning goes away.
    let at = features.find("\"VAL-A-001\"").unwrap() as u32;
    server.notify("textDocument/didChange", json!({"textDocument": {"uri": features_uri, "version": 2}, "contentChanges": [{"range": {"start": {"line": 0, "character": at}, "end": {"line": 0, "character": at}}, "text": "\"VAL-A-002\", "}]}));
    server.diagnostics_until(&features_uri, |d| d["version"] == 2);
    let cleared = server.diagnostics_until(&contract_uri, |d| d["diagnostics"] == json!([]));
    assert_eq!(cleared["diagnostics"], json!([]));

    let hover = server.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": features_uri}, "position": {"line": 0, "character": at + 3}}),
    );
    assert!(hover["result"]["contents"]["value"].as_str().unwrap().contains("**VAL-A-002**: Two"), "{hover}");

    // The runner writes the contract (not open) on disk: the server's own watcher reloads it.
    let temp = mission.join("contract.tmp");
    std::fs::write(&temp, format!("{contract}\n### VAL-A-003: Three\nTool: terminal\nEvidence: log\n")).unwrap();
    std::fs::rename(&temp, mission.join("validation-contract.md")).unwrap();
    let reloaded = server.diagnostics_until(&contract_uri, |d| d["diagnostics"].to_string().contains("VAL-A-003"));
    assert_eq!(reloaded["diagnostics"][0]["code"], "unclaimed-assertion", "{reloaded}");

    server.finish();
}

/// The test client's copy of a document takes edits as an editor does: ranges in UTF-16 code
/// units of the original text, applied together.
#[test]
fn the_client_applies_text_edits_at_utf16_positions() {
    use stdio_client::edits_for;
    let edit = |l1: u32, c1: u32, l2: u32, c2: u32, text: &str| json!({"range": {"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}}, "newText": text});
    // `😀` is two UTF-16 units (four bytes), `é` one (two bytes).
    let text = "a😀b\r\néx\nlast";
    assert_eq!(apply_text_edits(text, &[edit(0, 3, 0, 4, "B")]), "a😀B\r\néx\nlast");
    assert_eq!(
        apply_text_edits(text, &[edit(1, 1, 1, 2, "y"), edit(0, 0, 0, 1, "A")]),
        "A😀b\r\néy\nlast",
        "each range is in the original text"
    );
    assert_eq!(apply_text_edits(text, &[edit(0, 1, 1, 0, "")]), "aéx\nlast", "across a CRLF");
    assert_eq!(
        apply_text_edits(text, &[edit(2, 0, 2, 0, "1"), edit(2, 0, 2, 0, "2")]),
        "a😀b\r\néx\n12last",
        "inserts at one place keep their order"
    );
    assert_eq!(
        apply_text_edits(text, &[edit(1, 99, 9, 0, "!")]),
        "a😀b\r\néx!",
        "past a line's end or the last line: the end"
    );
    let uri = "file:///m/features.json";
    let both = json!({"changes": {(uri): [edit(0, 0, 0, 0, "x")]}, "documentChanges": [{"textDocument": {"uri": uri, "version": 3}, "edits": [edit(0, 1, 0, 1, "y")]}, {"textDocument": {"uri": "file:///other", "version": 1}, "edits": [edit(0, 0, 0, 0, "z")]}]});
    assert_eq!(apply_text_edits("ab", &edits_for(&both, uri)), "xayb");
}

/// An editor may answer the server's own requests late (a prompt open, a busy extension host).
/// The server stops waiting after its bound and goes on; the late answer is then ignored and
/// the session keeps serving (tower-lsp 0.20 would panic on an answer to a dropped request).
#[test]
fn a_late_answer_to_the_servers_request_is_ignored_and_the_session_goes_on() {
    let root = tempfile::tempdir().unwrap();
    let mission = root.path().join("m");
    std::fs::create_dir_all(&mission).unwrap();
    std::fs::write(
        mission.join("validation-contract.md"),
        "# C\n\n### VAL-A-001: One\nTool: terminal\nEvidence: log\n",
    )
    .unwrap();
    std::fs::write(mission.join("features.json"), r#"{"features": [{"id": "f1", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001"]}]}"#).unwrap();
    let capabilities = json!({"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}}});
    let log = root.path().join("server.log");
    let stderr = std::fs::File::create(&log).unwrap();
    let mut server = Server::start(
        Command::new(env!("CARGO_BIN_EXE_missions")).arg("lsp").stderr(stderr),
        Server::params(root.path(), capabilities),
    );
    let registration = server.server_request("client/registerCapability");
    // The server waits 5 s for the answer, then says so and watches the files itself; only then
    // does the answer come.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("no answer to the watched-files registration") {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never gave up waiting: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server.answer(&registration, serde_json::Value::Null);
    let contract_uri = url(&mission.join("validation-contract.md"));
    server.open(
        &mission.join("validation-contract.md"),
        "markdown",
        "# C\n\n### VAL-A-001: One\nTool: terminal\nEvidence: log\n",
    );
    let hover = server.request_within(
        "textDocument/hover",
        json!({"textDocument": {"uri": contract_uri}, "position": {"line": 2, "character": 6}}),
        std::time::Duration::from_secs(20),
    );
    assert!(hover["result"]["contents"]["value"].as_str().unwrap_or_default().contains("One"), "{hover}");
    server.finish();
}

/// A mission file that cannot be read (not UTF-8 here) is checked without, and the person is
/// told once which file and why.
#[test]
fn an_unreadable_mission_file_is_named_once() {
    let root = tempfile::tempdir().unwrap();
    let mission = root.path().join("m");
    std::fs::create_dir_all(&mission).unwrap();
    std::fs::write(
        mission.join("validation-contract.md"),
        b"# C\n\n### VAL-A-001: One \xff\xfe\nTool: terminal\nEvidence: log\n",
    )
    .unwrap();
    std::fs::write(mission.join("features.json"), r#"{"features": [{"id": "f1", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001"]}]}"#).unwrap();
    let mut server = Server::start(
        Command::new(env!("CARGO_BIN_EXE_missions")).arg("lsp").stderr(Stdio::null()),
        Server::params(root.path(), json!({})),
    );
    let shown = server.show_message();
    assert_eq!(shown["type"], 2, "{shown}");
    let message = shown["message"].as_str().unwrap();
    assert!(message.contains("validation-contract.md") && message.contains("UTF-8"), "{message}");
    server.settle(std::time::Duration::from_millis(500));
    assert!(!server.unread().iter().any(|m| m["method"] == "window/showMessage"), "told once: {:#?}", server.unread());
    server.finish();
}

/// Language clients start servers with `--stdio` (vscode-languageclient's stdio transport
/// appends it): the server takes it and serves, here document highlights of an id, whole, in
/// both documents. Any other argument is refused, named, with clap's usage status 2.
#[test]
fn the_stdio_flag_clients_pass_is_taken_and_ids_highlight_whole_in_both_files() {
    let root = tempfile::tempdir().unwrap();
    let mission = root.path().join("m");
    std::fs::create_dir_all(&mission).unwrap();
    let contract = "# C\n\n### VAL-A-001: One\nTool: terminal\nEvidence: log\nSee also VAL-A-001.\n";
    let features = "{\"features\": [\n  {\"id\": \"f1\", \"description\": \"d\", \"milestone\": \"m\", \"status\": \"pending\", \"fulfills\": [\"VAL-A-001\"]},\n  {\"id\": \"f2\", \"description\": \"after f1\", \"milestone\": \"m\", \"status\": \"pending\", \"dependsOn\": [\"f1\"]}\n]}";
    std::fs::write(mission.join("validation-contract.md"), contract).unwrap();
    std::fs::write(mission.join("features.json"), features).unwrap();
    let (contract_uri, features_uri) =
        (url(&mission.join("validation-contract.md")), url(&mission.join("features.json")));
    let mut server = Server::start(
        Command::new(env!("CARGO_BIN_EXE_missions")).args(["lsp", "--stdio"]).stderr(Stdio::null()),
        Server::params(root.path(), json!({})),
    );
    assert_eq!(server.initialize["result"]["capabilities"]["documentHighlightProvider"], true);
    server.open(&mission.join("validation-contract.md"), "markdown", contract);
    server.open(&mission.join("features.json"), "json", features);
    server.diagnostics_until(&features_uri, |d| d["version"] == 1);
    let highlight = |server: &mut Server, uri: &str, line: u32, character: u32| {
        server.request(
            "textDocument/documentHighlight",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}),
        )["result"]
            .clone()
    };
    let range = |line: u32, start: u32, end: u32| json!({"start": {"line": line, "character": start}, "end": {"line": line, "character": end}});
    // On `001` of the heading: the heading (written, kind 3) and the mention (read, kind 2).
    assert_eq!(
        highlight(&mut server, &contract_uri, 2, 12),
        json!([{"range": range(2, 4, 13), "kind": 3}, {"range": range(5, 9, 18), "kind": 2}])
    );
    // On `VAL` of the claim in features.json: the whole id, without its quotes.
    let claim = features.lines().nth(1).unwrap().find("VAL-A-001").unwrap() as u32;
    assert_eq!(
        highlight(&mut server, &features_uri, 1, claim),
        json!([{"range": range(1, claim, claim + 9), "kind": 2}])
    );
    // A feature id: its entry (written) first, the dependsOn naming it last (a mention in
    // prose, `after f1`, reads it too).
    let id = features.lines().nth(1).unwrap().find("f1").unwrap() as u32;
    let found = highlight(&mut server, &features_uri, 1, id);
    let depends = features.lines().nth(2).unwrap().rfind("f1").unwrap() as u32;
    assert_eq!(found[0], json!({"range": range(1, id, id + 2), "kind": 3}), "{found}");
    assert_eq!(
        found.as_array().unwrap().last().unwrap(),
        &json!({"range": range(2, depends, depends + 2), "kind": 2}),
        "{found}"
    );
    // Off any id: nothing.
    assert_eq!(highlight(&mut server, &contract_uri, 0, 0), serde_json::Value::Null);
    server.finish();

    let refused = Command::new(env!("CARGO_BIN_EXE_missions"))
        .args(["lsp", "--socket=9000"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("unexpected argument '--socket'"), "{said}");
}
