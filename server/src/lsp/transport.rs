//! A guard in front of tower-lsp's reader, which stops serving at the first body that is not
//! a JSON object (a truncated message or a stray batch would end the whole session). Frames
//! are checked here and bad ones dropped with a log line, so one broken message costs only itself.

use serde::de::IgnoredAny;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};

/// Bodies larger than this are skipped (read and discarded to stay in step with the framing).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// Returns a stream carrying only the well-formed messages of `input`, re-framed.
pub fn well_formed<I: AsyncRead + Unpin + Send + 'static>(input: I) -> DuplexStream {
    let (mut writer, reader) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        while let Some(body) = next_body(&mut input).await {
            if let Err(reason) = check(&body) {
                tracing::error!("dropped a message from the client: {reason}");
                continue;
            }
            let body = without_null_params(body);
            let header = format!("Content-Length: {}\r\n\r\n", body.len());
            if writer.write_all(header.as_bytes()).await.is_err() || writer.write_all(&body).await.is_err() {
                return;
            }
        }
        // Dropping the writer closes the server's input: the session ends as on a closed stdin.
    });
    reader
}

fn check(body: &[u8]) -> Result<(), String> {
    // serde skips an ignored string's bytes unchecked; tower-lsp then ends the session on them.
    if let Err(e) = std::str::from_utf8(body) {
        return Err(format!("the body is not UTF-8 ({e})"));
    }
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    if start.map(|i| body[i]) != Some(b'{') {
        return Err("the body is not a JSON object (batches are not part of LSP)".to_string());
    }
    serde_json::from_slice::<IgnoredAny>(body).map(|_| ()).map_err(|e| format!("the body is not valid JSON: {e}"))
}

/// `"params": null` on a method without params (`shutdown`, `exit`: some clients send it) is
/// left out: tower-lsp refuses it. Only small bodies are looked at; those methods are short.
fn without_null_params(body: Vec<u8>) -> Vec<u8> {
    if body.len() > 512 || !body.windows(4).any(|w| w == b"null") {
        return body;
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(mut message)) if message.get("params").is_some_and(serde_json::Value::is_null) => {
            message.remove("params");
            serde_json::to_vec(&message).unwrap_or(body)
        }
        _ => body,
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
                Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => match value.trim().parse() {
                    Ok(n) => length = Some(n),
                    Err(_) => tracing::error!("ignored a bad Content-Length header: {text}"),
                },
                Some(_) => {} // Content-Type and other headers
                None => tracing::error!("ignored a line outside any message header: {}", text.chars().take(80).collect::<String>()),
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
