//! The real binary survives malformed client messages: a truncated body, a batch, a body that
//! is not JSON. Each is dropped with a log line and the session goes on.

use crate::stdio_client;

use std::process::{Command, Stdio};

use serde_json::json;
use stdio_client::{frame, Server};

#[test]
fn malformed_messages_cost_only_themselves() {
    let mut server = Server::spawn(Command::new(env!("CARGO_BIN_EXE_missions")).arg("lsp").stderr(Stdio::piped()));
    let init = server.request("initialize", json!({"capabilities": {}}));
    assert!(init["result"]["capabilities"].is_object(), "{init}");
    server.notify("initialized", json!({}));
    // A body cut short, a batch, and bytes that are not JSON at all.
    server.write_raw(b"Content-Length: 35\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":777,\"method\":");
    server.write_raw(&frame(b"[1,2]"));
    server.write_raw(&frame(b"\xff\xfe not json"));
    // Well-formed JSON but for one byte that is not UTF-8, inside a string.
    server.write_raw(&frame(
        b"{\"jsonrpc\":\"2.0\",\"id\":778,\"method\":\"workspace/symbol\",\"params\":{\"query\":\"caf\xe9\"}}",
    ));
    let symbols = server.request("workspace/symbol", json!({"query": "VAL"}));
    assert!(symbols.get("result").is_some(), "the session goes on after malformed messages: {symbols}");
    // `shutdown` with `"params": null`, as some clients send it, is taken like one without.
    server.write_raw(&frame(br#"{"jsonrpc":"2.0","id":900,"method":"shutdown","params":null}"#));
    let shutdown = server.response(900, std::time::Duration::from_secs(20));
    assert!(shutdown.get("error").is_none() && shutdown["result"].is_null(), "{shutdown}");
    server.write_raw(&frame(br#"{"jsonrpc":"2.0","method":"exit","params":null}"#));
    let status = server.wait_for_exit();
    assert_eq!(status.code(), Some(0));
    let stderr = server.stderr();
    assert_eq!(stderr.matches("dropped a message from the client").count(), 4, "{stderr}");
}
