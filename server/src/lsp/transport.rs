//! A guard in front of tower-lsp-server's reader, which ends the whole session at the first body
//! it cannot decode as a JSON-RPC message (a truncated message, a stray batch, `{}`, a
//! `"jsonrpc": "1.0"`, an id that is an object): its framed reader stops at the first error.
//! Frames are checked here against JSON-RPC 2.0 as LSP uses it, and a bad one is dropped with a
//! log line, so it costs only itself; a bad request whose id can still be read is answered
//! -32600 (see `intercept`).

use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};

use super::intercept::INVALID_REQUEST;

/// Bodies larger than this are skipped (read and discarded to stay in step with the framing).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// Returns a stream carrying only the valid messages of `input`, re-framed.
pub fn well_formed<I: AsyncRead + Unpin + Send + 'static>(input: I) -> DuplexStream {
    let (mut writer, reader) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        while let Some(body) = next_body(&mut input).await {
            let body = match check(body) {
                Verdict::Pass(body) => body,
                Verdict::Drop(reason) => {
                    tracing::error!("dropped a message from the client: {reason}");
                    continue;
                }
                Verdict::Refuse { id, reason } => {
                    tracing::error!("dropped a message from the client (answered -32600): {reason}");
                    let marked = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": INVALID_REQUEST, "params": {"reason": reason}});
                    serde_json::to_vec(&marked).expect("a JSON value serializes")
                }
            };
            let header = format!("Content-Length: {}\r\n\r\n", body.len());
            if writer.write_all(header.as_bytes()).await.is_err() || writer.write_all(&body).await.is_err() {
                return;
            }
        }
        // Dropping the writer closes the server's input: the session ends as on a closed stdin.
    });
    reader
}

/// What becomes of one frame's body.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// A valid message, passed on as it is.
    Pass(Vec<u8>),
    /// Not a message anything can be answered to: dropped.
    Drop(String),
    /// An invalid request with a usable id: answered -32600.
    Refuse { id: Value, reason: String },
}

fn check(body: Vec<u8>) -> Verdict {
    // serde skips an ignored string's bytes unchecked; tower-lsp-server then ends the session on
    // them.
    if let Err(e) = std::str::from_utf8(&body) {
        return Verdict::Drop(format!("the body is not UTF-8 ({e})"));
    }
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    if start.map(|i| body[i]) != Some(b'{') {
        return Verdict::Drop("the body is not a JSON object (batches are not part of LSP)".to_string());
    }
    // Parsed exactly as tower-lsp-server will parse it (the same serde_json): a lone surrogate or
    // a number out of range anywhere fails here, not there.
    let message = match serde_json::from_slice::<Map<String, Value>>(&body) {
        Ok(message) => message,
        Err(e) => return Verdict::Drop(format!("the body is not valid JSON: {e}")),
    };
    match json_rpc_problem(&message) {
        None => Verdict::Pass(body),
        Some(problem) => {
            let is_response = message.contains_key("result") || message.contains_key("error");
            match message.get("id").filter(|id| usable_id(id)) {
                // A response is never answered, even a broken one.
                Some(id) if !is_response => Verdict::Refuse { id: id.clone(), reason: problem },
                _ => Verdict::Drop(problem),
            }
        }
    }
}

/// What makes `message` other than a JSON-RPC 2.0 request, notification or response that
/// tower-lsp-server can take; `None` when it is one.
fn json_rpc_problem(message: &Map<String, Value>) -> Option<String> {
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(format!("`jsonrpc` is {}, not \"2.0\"", shown(message.get("jsonrpc"))));
    }
    if let Some(id) = message.get("id").filter(|id| !usable_id(id) && !id.is_null()) {
        return Some(format!("the id {} is neither an integer nor a string", shown(Some(id))));
    }
    let is_response = message.contains_key("result") || message.contains_key("error");
    match message.get("method") {
        Some(Value::String(_)) if is_response => Some("a message with both a method and a result or error".to_string()),
        Some(Value::String(_)) => match message.get("params") {
            None | Some(Value::Null | Value::Object(_) | Value::Array(_)) => None,
            Some(other) => Some(format!("`params` is {}, not an object or an array", shown(Some(other)))),
        },
        Some(other) => Some(format!("the method {} is not a string", shown(Some(other)))),
        None if !is_response => Some("neither a method nor a result or error".to_string()),
        None if !message.contains_key("id") => Some("a response without an id".to_string()),
        None if message.contains_key("result") && message.contains_key("error") => {
            Some("a response with both a result and an error".to_string())
        }
        None => match message.get("error") {
            None => None,
            Some(Value::Object(error))
                if error.get("code").is_some_and(|c| c.as_i64().is_some())
                    && error.get("message").is_some_and(Value::is_string) =>
            {
                None
            }
            Some(other) => {
                Some(format!("the error {} lacks an integer `code` or a string `message`", shown(Some(other))))
            }
        },
    }
}

/// An id a response can name: an integer tower-lsp-server holds (i64) or a string.
fn usable_id(id: &Value) -> bool {
    id.as_i64().is_some() || id.is_string()
}

/// A value as a log line shows it: short.
fn shown(value: Option<&Value>) -> String {
    let Some(value) = value else { return "missing".to_string() };
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Reads the next frame's body; `None` at the end of the input.
async fn next_body<R: AsyncRead + Unpin>(input: &mut BufReader<R>) -> Option<Vec<u8>> {
    loop {
        let mut length: Option<usize> = None;
        let mut line = Vec::new();
        loop {
            line.clear();
            if input.read_until(b'\n', &mut line).await.ok()? == 0 {
                return None;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            if text.is_empty() {
                if length.is_some() {
                    break;
                }
                continue; // stray blank line between frames
            }
            match text.split_once(':') {
                Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => match value.trim().parse()
                {
                    Ok(n) => length = Some(n),
                    Err(_) => tracing::error!("ignored a bad Content-Length header: {text}"),
                },
                Some(_) => {} // Content-Type and other headers
                None => tracing::error!(
                    "ignored a line outside any message header: {}",
                    text.chars().take(80).collect::<String>()
                ),
            }
        }
        let length = length.expect("loop exits with a length");
        if length > MAX_BODY {
            tracing::error!("skipped a {length}-byte message (over {MAX_BODY} bytes)");
            tokio::io::copy(&mut (&mut *input).take(length as u64), &mut tokio::io::sink()).await.ok()?;
            continue;
        }
        let mut body = vec![0; length];
        input.read_exact(&mut body).await.ok()?;
        return Some(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verdict(body: &str) -> Verdict {
        check(body.as_bytes().to_vec())
    }

    /// Frames issue 22 found ending the session, and their kin: each dropped, and answered
    /// -32600 when it is a request whose id can be read.
    #[test]
    fn frames_that_are_json_but_not_json_rpc_are_dropped_or_refused() {
        let dropped = [
            "{}",
            r#"{"a":1}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1e400,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":"\ud800","method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","method":"x","params":{"text":"\udc00"}}"#,
            r#"{"jsonrpc":"2.0","method":5}"#,
            r#"{"jsonrpc":"2.0","id":3,"result":1,"error":{"code":1,"message":"m"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":"x","message":"m"}}"#,
            r#"{"jsonrpc":"2.0","result":1}"#,
            r#"{"jsonrpc":"1.0","id":3,"result":1}"#,
        ];
        for body in dropped {
            assert!(matches!(verdict(body), Verdict::Drop(_)), "{body}: {:?}", verdict(body));
        }
        let refused = [
            (r#"{"jsonrpc":"1.0","id":7,"method":"initialize"}"#, json!(7)),
            (r#"{"id":"a","method":"x"}"#, json!("a")),
            (r#"{"jsonrpc":"2.0","id":8,"method":5}"#, json!(8)),
            (r#"{"jsonrpc":"2.0","id":9}"#, json!(9)),
            (r#"{"jsonrpc":"2.0","id":10,"method":"x","params":5}"#, json!(10)),
        ];
        for (body, id) in refused {
            assert!(
                matches!(verdict(body), Verdict::Refuse { id: ref got, .. } if *got == id),
                "{body}: {:?}",
                verdict(body)
            );
        }
    }

    #[test]
    fn json_rpc_messages_pass_as_they_are() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#,
            r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":"s","method":"shutdown"}"#,
            r#"{"jsonrpc":"2.0","id":2,"result":null}"#,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"no","data":[1]}}"#,
            r#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"x","params":[]}"#,
            // A null for no params (`shutdown`, `exit`: some clients send it) is taken as it is.
            r#"{"jsonrpc":"2.0","id":1,"method":"shutdown","params":null}"#,
        ] {
            assert_eq!(verdict(body), Verdict::Pass(body.as_bytes().to_vec()), "{body}");
        }
    }
}
