//! HTTP plumbing both providers share: send, classify the answer, decode SSE or a JSON body.

use crate::agent::error::{ErrorKind, ProviderError};
use crate::agent::event::StreamEvent;
use crate::agent::provider::EventStream;
use crate::agent::retry::parse_retry_after;
use crate::agent::sse::{sse_events, SseEvent};
use futures::stream::{BoxStream, StreamExt};
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Duration;

/// Timeouts for provider HTTP calls.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// From sending the request to the first byte of the answer (its headers):
    /// `first_byte_timeout_s`. A server that queues requests before answering (llama-server
    /// with every slot busy) spends its queue time here too; a non-streamed answer comes
    /// only when it is whole.
    pub first_byte_timeout: Duration,
    /// Longest time without a single byte inside a streamed answer (or while reading a whole
    /// one): `stream_idle_timeout_s`. The stream then counts as broken and is retried.
    pub idle_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings::from_limits(&crate::config::Limits::default())
    }
}

impl HttpSettings {
    /// The timeouts `[limits]` sets (the connect timeout is fixed at 30 s).
    pub fn from_limits(limits: &crate::config::Limits) -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(30),
            first_byte_timeout: Duration::from_secs(limits.first_byte_timeout_s),
            idle_timeout: Duration::from_secs(limits.stream_idle_timeout_s),
        }
    }
}

/// Turns one wire format's SSE events into [`StreamEvent`]s.
pub(crate) trait WireDecoder: Send + 'static {
    fn on_event(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, ProviderError>;
    /// The stream ended; fails with `StreamInterrupted` unless the turn was complete.
    fn on_end(&mut self) -> Result<Vec<StreamEvent>, ProviderError>;
    /// The turn is complete; nothing more needs reading.
    fn is_done(&self) -> bool;
}

/// Sends `request` (to `url`) and returns the decoded event stream. A JSON answer (a role
/// with `stream = false`, or a server that ignored `stream: true`) is decoded whole by
/// `from_json`.
pub(crate) async fn send<D: WireDecoder>(
    request: reqwest::RequestBuilder,
    url: &str,
    settings: &HttpSettings,
    decoder: D,
    from_json: fn(&Value) -> Result<Vec<StreamEvent>, ProviderError>,
) -> Result<EventStream, ProviderError> {
    let response = match tokio::time::timeout(settings.first_byte_timeout, request.send()).await {
        Err(_) => {
            return Err(ProviderError::new(
                ErrorKind::FirstByteTimeout,
                format!(
                    "{url} accepted the request but sent no answer within {} s (first_byte_timeout_s)",
                    crate::agent::retry::format_secs(settings.first_byte_timeout)
                ),
            ))
        }
        Ok(Err(e)) => return Err(from_reqwest(&e)),
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let content_type = header("content-type").unwrap_or_default().to_ascii_lowercase();
    if !status.is_success() {
        let retry_after = parse_retry_after(header("retry-after-ms").as_deref(), header("retry-after").as_deref());
        let body = read_body(response, settings).await.unwrap_or_default();
        return Err(ProviderError::from_http(status.as_u16(), &body, retry_after));
    }
    if content_type.contains("text/event-stream") {
        let bytes = response.bytes_stream();
        return Ok(decode(sse_events(bytes, settings.idle_timeout), decoder));
    }
    let body = read_body(response, settings).await?;
    if !content_type.contains("json") && !body.trim_start().starts_with('{') {
        return Err(ProviderError::new(
            ErrorKind::InvalidResponse,
            format!("unexpected content type `{content_type}`: {}", preview(&body)),
        ));
    }
    let value: Value = serde_json::from_str(&body).map_err(|e| {
        ProviderError::new(ErrorKind::InvalidResponse, format!("answer is not JSON ({e}): {}", preview(&body)))
    })?;
    if value.get("error").is_some_and(|e| !e.is_null()) {
        return Err(ProviderError::from_stream_error(&body));
    }
    let events = from_json(&value)?;
    Ok(futures::stream::iter(events.into_iter().map(Ok)).boxed())
}

async fn read_body(response: reqwest::Response, settings: &HttpSettings) -> Result<String, ProviderError> {
    match tokio::time::timeout(settings.idle_timeout, response.text()).await {
        Err(_) => Err(ProviderError::new(
            ErrorKind::Timeout,
            format!(
                "the answer's body was not whole within {} s (stream_idle_timeout_s)",
                crate::agent::retry::format_secs(settings.idle_timeout)
            ),
        )),
        Ok(Err(e)) => Err(from_reqwest(&e)),
        Ok(Ok(text)) => Ok(text),
    }
}

struct DecodeState<D> {
    sse: BoxStream<'static, Result<SseEvent, ProviderError>>,
    decoder: D,
    queue: VecDeque<StreamEvent>,
    finished: bool,
}

fn decode<D: WireDecoder>(sse: BoxStream<'static, Result<SseEvent, ProviderError>>, decoder: D) -> EventStream {
    let state = DecodeState { sse, decoder, queue: VecDeque::new(), finished: false };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(event) = st.queue.pop_front() {
                return Some((Ok(event), st));
            }
            if st.finished {
                return None;
            }
            // Stop reading once the turn is complete; dropping the stream closes the body.
            if st.decoder.is_done() {
                st.finished = true;
                continue;
            }
            let step = match st.sse.next().await {
                Some(Ok(event)) => st.decoder.on_event(&event),
                Some(Err(e)) => Err(e),
                None => {
                    st.finished = true;
                    st.decoder.on_end()
                }
            };
            match step {
                Ok(events) => st.queue.extend(events),
                Err(e) => {
                    st.finished = true;
                    st.queue.clear();
                    return Some((Err(e), st));
                }
            }
        }
    })
    .boxed()
}

/// Classifies a reqwest failure, with its cause chain (reqwest's own text omits it).
pub(crate) fn from_reqwest(e: &reqwest::Error) -> ProviderError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_body() || e.is_decode() {
        ErrorKind::StreamInterrupted
    } else {
        ErrorKind::Transport
    };
    ProviderError::new(kind, text)
}

pub(crate) fn preview(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &body[..i]),
        None => body.to_string(),
    }
}

/// Joins a configured base URL and a path without doubling or dropping the slash.
pub(crate) fn join_url(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// Parses an SSE `data` payload as JSON, as an `InvalidResponse` when it is not.
pub(crate) fn parse_data(event: &SseEvent) -> Result<Value, ProviderError> {
    serde_json::from_str(&event.data).map_err(|e| {
        ProviderError::new(
            ErrorKind::InvalidResponse,
            format!("stream event is not JSON ({e}): {}", preview(&event.data)),
        )
    })
}

pub(crate) fn u64_at(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

pub(crate) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::agent::accumulate::TurnAccumulator;
    use crate::agent::message::AssistantTurn;

    /// Runs a recorded SSE body, cut into `chunk`-byte pieces, through `decoder` and the
    /// accumulator, as a provider would.
    pub(crate) async fn replay_recording<D: WireDecoder>(
        text: &str,
        chunk: usize,
        decoder: D,
    ) -> Result<AssistantTurn, ProviderError> {
        let pieces: Vec<Result<Vec<u8>, String>> =
            text.as_bytes().chunks(chunk.max(1)).map(|c| Ok(c.to_vec())).collect();
        let mut events = decode(sse_events(futures::stream::iter(pieces), Duration::from_secs(5)), decoder);
        let mut acc = TurnAccumulator::new();
        while let Some(event) = events.next().await {
            acc.apply(&event?)?;
        }
        acc.finish()
    }
}
