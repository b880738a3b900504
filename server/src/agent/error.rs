//! Classified provider errors: what went wrong, and whether trying again can help.

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 429 or a `rate_limit_error`; `retry_after` says when to come back if the server said.
    RateLimited,
    /// 529, 503 or an `overloaded_error`.
    Overloaded,
    /// Other 5xx, 409 (the SDKs retry lock conflicts), or a server-side error event.
    Server,
    /// 408, or a whole answer body not read in time.
    Timeout,
    /// The request was sent but no answer (not even its headers) came within
    /// `first_byte_timeout_s`: a server that accepted the connection and is silent, or one
    /// still queueing the request.
    FirstByteTimeout,
    /// The prompt does not fit the model's context window; retrying unchanged cannot help.
    ContextLength,
    /// 401/403: a missing, wrong or unauthorised API key.
    Auth,
    /// Any other 4xx: the request itself is wrong.
    BadRequest,
    /// The connection could not be made or broke before a response arrived.
    Transport,
    /// The stream broke, ended before the turn was complete, or sent no bytes for
    /// `stream_idle_timeout_s`.
    StreamInterrupted,
    /// The server gave the very same 5xx answer several times in a row: it fails on this
    /// request, so trying it again cannot help (llama-server on malformed tool arguments).
    RepeatedServerError,
    /// A 2xx answer that is not the wire format (garbage SSE, non-JSON body, bad events).
    InvalidResponse,
    /// The caller's cancellation token fired.
    Cancelled,
}

impl ErrorKind {
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::Overloaded
                | ErrorKind::Server
                | ErrorKind::Timeout
                | ErrorKind::FirstByteTimeout
                | ErrorKind::Transport
                | ErrorKind::StreamInterrupted
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Server => "server",
            ErrorKind::Timeout => "timeout",
            ErrorKind::FirstByteTimeout => "first_byte_timeout",
            ErrorKind::ContextLength => "context_length",
            ErrorKind::Auth => "auth",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Transport => "transport",
            ErrorKind::StreamInterrupted => "stream_interrupted",
            ErrorKind::RepeatedServerError => "repeated_server_error",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

/// An error from one model call. `message` has every known secret redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub message: String,
    /// HTTP status when the server answered with one.
    pub status: Option<u16>,
    /// From `retry-after-ms` / `retry-after` headers.
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProviderError { kind, message: crate::agent::secrets::redact(&message.into()), status: None, retry_after: None }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    pub fn cancelled() -> Self {
        ProviderError::new(ErrorKind::Cancelled, "cancelled")
    }

    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// The server refused the request itself (its body is what to look at): a 4xx other
    /// than auth and rate limits, a context-length error, or the same 5xx over and over.
    pub fn is_rejection(&self) -> bool {
        matches!(self.kind, ErrorKind::BadRequest | ErrorKind::ContextLength | ErrorKind::RepeatedServerError)
    }

    /// Classifies an HTTP error answer from its status and body.
    pub fn from_http(status: u16, body: &str, retry_after: Option<Duration>) -> Self {
        let detail = error_detail(body);
        let kind = match status {
            401 | 403 => ErrorKind::Auth,
            408 => ErrorKind::Timeout,
            409 => ErrorKind::Server,
            413 => ErrorKind::ContextLength,
            429 => ErrorKind::RateLimited,
            503 | 529 => ErrorKind::Overloaded,
            500..=599 => ErrorKind::Server,
            _ if mentions_context_length(body) => ErrorKind::ContextLength,
            _ => match detail.error_type.as_deref() {
                Some("overloaded_error") => ErrorKind::Overloaded,
                Some("rate_limit_error") => ErrorKind::RateLimited,
                _ => ErrorKind::BadRequest,
            },
        };
        let text = detail.message.unwrap_or_else(|| truncate(body, 500));
        ProviderError::new(kind, format!("HTTP {status}: {text}")).with_status(status).with_retry_after(retry_after)
    }

    /// Classifies an error reported inside a stream (Anthropic `event: error`, or an OpenAI-style
    /// `{"error": …}` chunk) after a 200.
    pub fn from_stream_error(payload: &str) -> Self {
        let detail = error_detail(payload);
        let kind = match detail.error_type.as_deref() {
            _ if mentions_context_length(payload) => ErrorKind::ContextLength,
            Some("overloaded_error") => ErrorKind::Overloaded,
            Some("rate_limit_error") | Some("rate_limit_exceeded") => ErrorKind::RateLimited,
            Some("authentication_error") | Some("permission_error") => ErrorKind::Auth,
            Some("invalid_request_error") | Some("not_found_error") => ErrorKind::BadRequest,
            Some("request_too_large") => ErrorKind::ContextLength,
            Some("timeout_error") => ErrorKind::Timeout,
            // api_error, server_error and anything unnamed: the server failed mid-turn.
            _ => ErrorKind::Server,
        };
        let text = detail.message.unwrap_or_else(|| truncate(payload, 500));
        ProviderError::new(kind, format!("error event in stream: {text}"))
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for ProviderError {}

struct ErrorDetail {
    error_type: Option<String>,
    message: Option<String>,
}

/// Pulls `error.type`/`error.code` and `error.message` out of either vendor's error JSON.
fn error_detail(body: &str) -> ErrorDetail {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return ErrorDetail { error_type: None, message: None };
    };
    let err = v.get("error").unwrap_or(&v);
    let as_text = |key: &str| err.get(key).and_then(|x| x.as_str()).map(str::to_string);
    let message = match err {
        serde_json::Value::String(s) => Some(s.clone()),
        _ => as_text("message"),
    };
    ErrorDetail { error_type: as_text("type").or_else(|| as_text("code")), message }
}

/// Context-window errors of Anthropic, OpenAI, vLLM, llama.cpp, Ollama and LM Studio.
fn mentions_context_length(body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    [
        "context_length_exceeded",
        "context length",
        "context_length",
        "context window",
        "context size",
        "exceed_context_size",
        "prompt is too long",
        "maximum context",
        "too many tokens",
    ]
    .iter()
    .any(|needle| b.contains(needle))
}

fn truncate(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        let k = |s, body| ProviderError::from_http(s, body, None).kind;
        assert_eq!(k(429, ""), ErrorKind::RateLimited);
        assert_eq!(k(529, ""), ErrorKind::Overloaded);
        assert_eq!(k(500, "oops"), ErrorKind::Server);
        assert_eq!(k(408, ""), ErrorKind::Timeout);
        assert_eq!(k(409, ""), ErrorKind::Server);
        assert_eq!(k(401, ""), ErrorKind::Auth);
        assert_eq!(k(404, "{}"), ErrorKind::BadRequest);
        for s in [408, 409, 429, 500, 502, 503, 529] {
            assert!(ProviderError::from_http(s, "", None).is_retryable(), "{s}");
        }
    }

    #[test]
    fn context_length_is_recognised_in_each_dialect_and_not_retried() {
        let bodies = [
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208000 tokens > 200000 maximum"}}"#,
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
            r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#,
        ];
        for body in bodies {
            let e = ProviderError::from_http(400, body, None);
            assert_eq!(e.kind, ErrorKind::ContextLength, "{body}");
            assert!(!e.is_retryable());
        }
    }

    #[test]
    fn message_comes_from_the_error_json_or_the_raw_body() {
        let e = ProviderError::from_http(400, r#"{"error":{"message":"bad tool"}}"#, None);
        assert_eq!(e.message, "HTTP 400: bad tool");
        let e = ProviderError::from_http(502, "<html>Bad Gateway</html>", None);
        assert_eq!(e.message, "HTTP 502: <html>Bad Gateway</html>");
    }

    #[test]
    fn stream_error_events_are_classified_by_type() {
        let e = ProviderError::from_stream_error(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::Overloaded);
        assert!(e.is_retryable());
        assert_eq!(ProviderError::from_stream_error("not json").kind, ErrorKind::Server);
    }
}
