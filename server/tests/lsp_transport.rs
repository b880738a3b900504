//! The real binary survives malformed client messages: a truncated body, a batch, a body that
//! is not JSON. Each is dropped with a log line and the session goes on.

mod stdio_frames;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

#[test]
fn malformed_messages_cost_only_themselves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_missions")).arg("lsp").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let rx = stdio_frames::reader(stdout);
    let wait_for = |id: i64| -> serde_json::Value {
        loop {
            let m = rx.recv_timeout(Duration::from_secs(20)).expect("the server answers");
            if m["id"] == id {
                return m;
            }
        }
    };
    stdin.write_all(&frame(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#)).unwrap();
    assert!(wait_for(1)["result"]["capabilities"].is_object());
    stdin.write_all(&frame(br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#)).unwrap();
    // A body cut short, a batch, and bytes that are not JSON at all.
    stdin.write_all(b"Content-Length: 35\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":777,\"method\":").unwrap();
    stdin.write_all(&frame(b"[1,2]")).unwrap();
    stdin.write_all(&frame(b"\xff\xfe not json")).unwrap();
    stdin.write_all(&frame(br#"{"jsonrpc":"2.0","id":2,"method":"workspace/symbol","params":{"query":"VAL"}}"#)).unwrap();
    assert!(wait_for(2).get("result").is_some(), "the session goes on after malformed messages");
    stdin.write_all(&frame(br#"{"jsonrpc":"2.0","id":3,"method":"shutdown"}"#)).unwrap();
    wait_for(3);
    stdin.write_all(&frame(br#"{"jsonrpc":"2.0","method":"exit"}"#)).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(stderr.matches("dropped a message from the client").count(), 3, "{stderr}");
}
