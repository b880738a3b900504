//! A fake model provider for tests: a real HTTP server on 127.0.0.1 that answers each request
//! with the next step of a script, in either wire format, and records every request.
#![allow(dead_code)]

pub mod prompt_cache;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// `text/event-stream` frames, each cut into pieces of `chunk` bytes (0: whole), with
    /// `delay` before every frame. With `cut_after: Some(n)` the connection is aborted after n
    /// frames; with `stall_after: Some(n)` it stays open and silent after n frames.
    Stream { frames: Vec<String>, chunk: usize, delay: Duration, cut_after: Option<usize>, stall_after: Option<usize> },
    /// A status with headers and a body (an error answer, or garbage with a 200).
    Answer { status: u16, headers: Vec<(String, String)>, body: String },
}

impl Step {
    pub fn stream(frames: Vec<String>) -> Self {
        Step::Stream { frames, chunk: 7, delay: Duration::from_millis(1), cut_after: None, stall_after: None }
    }

    pub fn cut(frames: Vec<String>, after: usize) -> Self {
        Step::Stream { frames, chunk: 0, delay: Duration::ZERO, cut_after: Some(after), stall_after: None }
    }

    pub fn stall(frames: Vec<String>, after: usize) -> Self {
        Step::Stream { frames, chunk: 3, delay: Duration::ZERO, cut_after: None, stall_after: Some(after) }
    }

    /// A 200 with any content type and body (for garbage answers).
    pub fn raw(content_type: &str, body: &str) -> Self {
        Step::Answer { status: 200, headers: vec![("content-type".into(), content_type.into())], body: body.into() }
    }

    pub fn error(status: u16, headers: &[(&str, &str)], body: Value) -> Self {
        let mut headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        headers.push(("content-type".into(), "application/json".into()));
        Step::Answer { status, headers, body: body.to_string() }
    }

    pub fn json(body: Value) -> Self {
        Step::Answer {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Shared {
    script: Mutex<VecDeque<Step>>,
    requests: Mutex<Vec<Recorded>>,
    /// With a prompt-cache model, answers report the usage it measures.
    cache: Option<Mutex<CacheModel>>,
}

/// The providers' prompt caches (`prompt_cache`), on a clock the test moves.
struct CacheModel {
    anthropic: prompt_cache::AnthropicCache,
    openai: prompt_cache::OpenAiCache,
    now: Duration,
    measured: Vec<Measured>,
}

/// The input tokens of one request as the cache model counted them: uncached, read from the
/// cache, written to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Measured {
    pub input: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Measured {
    pub fn total(&self) -> u64 {
        self.input + self.cache_read + self.cache_write
    }
}

pub struct FakeProvider {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeProvider {
    pub async fn start(script: Vec<Step>) -> Self {
        Self::serve(script, None).await
    }

    /// Like `start`, but every answer reports the usage the prompt-cache model measures for
    /// its request (whatever the script's frames say), and a prompt over `context_window`
    /// tokens is refused as the provider refuses it, without taking a step.
    pub async fn start_with_cache(script: Vec<Step>, model: &str, context_window: u64) -> Self {
        let cache = CacheModel {
            anthropic: prompt_cache::AnthropicCache::for_model(model, context_window),
            openai: prompt_cache::OpenAiCache::new(context_window),
            now: Duration::ZERO,
            measured: Vec::new(),
        };
        Self::serve(script, Some(Mutex::new(cache))).await
    }

    async fn serve(script: Vec<Step>, cache: Option<Mutex<CacheModel>>) -> Self {
        let shared = Arc::new(Shared { script: Mutex::new(script.into()), requests: Mutex::new(Vec::new()), cache });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeProvider { addr, shared, server }
    }

    /// Base URL as missions.toml gives it for `anthropic`.
    pub fn anthropic_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Base URL as missions.toml gives it for `openai` (like Ollama's `…/v1`).
    pub fn openai_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn steps_left(&self) -> usize {
        self.shared.script.lock().unwrap().len()
    }

    /// Moves the cache model's clock on (time passes only when a test says so).
    pub fn advance(&self, by: Duration) {
        if let Some(cache) = &self.shared.cache {
            cache.lock().unwrap().now += by;
        }
    }

    /// What the cache model measured for each answered request, in order.
    pub fn measured(&self) -> Vec<Measured> {
        self.shared.cache.as_ref().map(|c| c.lock().unwrap().measured.clone()).unwrap_or_default()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::GET {
        // A gateway in front (LiteLLM) asks for `/v1/models`: answered, and no step taken.
        return Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(json!({"object": "list", "data": []}).to_string()))
            .unwrap();
    }
    let body = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    shared.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers: headers.clone(),
        body: body.clone(),
    });
    let openai = uri.path().ends_with("/chat/completions");
    let mut measured = None;
    if let Some(cache) = &shared.cache {
        let mut cache = cache.lock().unwrap();
        let now = cache.now;
        let usage = if openai {
            cache.openai.measure(&body, now).map(|u| Measured {
                input: u.prompt_tokens - u.cached_tokens,
                cache_read: u.cached_tokens,
                cache_write: 0,
            })
        } else {
            cache.anthropic.measure(&body, now).map(|u| Measured {
                input: u.input_tokens,
                cache_read: u.cache_read_input_tokens,
                cache_write: u.cache_creation_input_tokens,
            })
        };
        match usage {
            Ok(u) => {
                cache.measured.push(u);
                measured = Some(u);
            }
            Err(refusal) => {
                let error = if openai { refusal.openai_body() } else { refusal.anthropic_body() };
                return Response::builder()
                    .status(400)
                    .header("content-type", "application/json")
                    .body(Body::from(error.to_string()))
                    .unwrap();
            }
        }
    }
    let step = shared.script.lock().unwrap().pop_front();
    let step = match (step, measured) {
        (Some(step), Some(u)) => Some(with_usage(step, openai, u)),
        (step, _) => step,
    };
    match step {
        None => Response::builder().status(500).body(Body::from("fake provider: script exhausted")).unwrap(),
        Some(Step::Answer { status, headers, body }) => {
            let mut r = Response::builder().status(StatusCode::from_u16(status).unwrap());
            for (k, v) in headers {
                r = r.header(k, v);
            }
            r.body(Body::from(body)).unwrap()
        }
        Some(Step::Stream { frames, chunk, delay, cut_after, stall_after }) => {
            let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, std::io::Error>>();
            tokio::spawn(async move {
                for (i, frame) in frames.into_iter().enumerate() {
                    if cut_after == Some(i) {
                        // Let the frames already sent reach the client before the connection drops.
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        let _ = tx.unbounded_send(Err(std::io::Error::other("connection cut by the script")));
                        return;
                    }
                    if stall_after == Some(i) {
                        // Keep the sender alive, so the body stays open and silent.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        drop(tx);
                        return;
                    }
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let bytes = frame.into_bytes();
                    let size = if chunk == 0 { bytes.len().max(1) } else { chunk };
                    for piece in bytes.chunks(size) {
                        if tx.unbounded_send(Ok(Bytes::copy_from_slice(piece))).is_err() {
                            return; // the client went away
                        }
                    }
                }
            });
            Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(Body::from_stream(rx))
                .unwrap()
        }
    }
}

/// `step` with its usage replaced by the measured input tokens (the output tokens stay).
fn with_usage(step: Step, openai: bool, u: Measured) -> Step {
    let patch = |v: &mut Value| {
        if openai {
            if let Some(usage) = v.get_mut("usage").filter(|u| u.is_object()) {
                let completion = usage["completion_tokens"].as_u64().unwrap_or(0);
                usage["prompt_tokens"] = json!(u.total());
                usage["total_tokens"] = json!(u.total() + completion);
                usage["prompt_tokens_details"] = json!({"cached_tokens": u.cache_read});
            }
        } else {
            let usage = if v["type"] == "message_start" {
                v.get_mut("message").and_then(|m| m.get_mut("usage"))
            } else if v["type"] == "message" {
                v.get_mut("usage")
            } else {
                None
            };
            if let Some(usage) = usage {
                usage["input_tokens"] = json!(u.input);
                usage["cache_read_input_tokens"] = json!(u.cache_read);
                usage["cache_creation_input_tokens"] = json!(u.cache_write);
            }
        }
    };
    match step {
        Step::Stream { frames, chunk, delay, cut_after, stall_after } => {
            let frames = frames
                .into_iter()
                .map(|frame| {
                    frame
                        .lines()
                        .map(|line| {
                            match line.strip_prefix("data: ").and_then(|d| serde_json::from_str::<Value>(d).ok()) {
                                Some(mut v) => {
                                    patch(&mut v);
                                    format!("data: {v}")
                                }
                                None => line.to_string(),
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                        + "\n\n"
                })
                .collect();
            Step::Stream { frames, chunk, delay, cut_after, stall_after }
        }
        Step::Answer { status, headers, body } => {
            let body = match serde_json::from_str::<Value>(&body) {
                Ok(mut v) if status == 200 => {
                    patch(&mut v);
                    v.to_string()
                }
                _ => body,
            };
            Step::Answer { status, headers, body }
        }
    }
}

// ---- Anthropic frames -------------------------------------------------------------------

fn sse(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// A streamed Messages turn: optional text, then tool calls `(id, name, argument pieces)`.
pub fn anthropic_turn(
    text: &str,
    tools: &[(&str, &str, &[&str])],
    input: u64,
    cache_read: u64,
    cache_write: u64,
    output: u64,
) -> Vec<String> {
    let mut f = vec![sse(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input, "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_write, "output_tokens": 1}}}),
    )];
    f.push(sse("ping", json!({"type": "ping"})));
    let mut index = 0;
    if !text.is_empty() {
        f.push(sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ));
        let mid = text.char_indices().nth(text.chars().count() / 2).map(|(i, _)| i).unwrap_or(0);
        for piece in [&text[..mid], &text[mid..]] {
            f.push(sse(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
            ));
        }
        f.push(sse("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
        index = 1;
    }
    for (id, name, pieces) in tools {
        f.push(sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        ));
        for p in *pieces {
            f.push(sse("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": p}})));
        }
        f.push(sse("content_block_stop", json!({"type": "content_block_stop", "index": index})));
        index += 1;
    }
    let stop = if tools.is_empty() { "end_turn" } else { "tool_use" };
    f.push(sse("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": output}})));
    f.push(sse("message_stop", json!({"type": "message_stop"})));
    f
}

// ---- OpenAI frames ----------------------------------------------------------------------

fn chunk(delta: Value, finish: Value) -> String {
    let c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "test-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {c}\n\n")
}

/// A streamed Chat Completions turn: text, then tool calls `(wire index, id, name, argument
/// pieces)` (the id only on a call's first fragment, as OpenAI and vLLM do), usage, `[DONE]`.
pub fn openai_turn(
    text: &str,
    tools: &[(u64, &str, &str, &[&str])],
    prompt: u64,
    cached: u64,
    completion: u64,
) -> Vec<String> {
    let mut f = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    for word in text.split_inclusive(' ') {
        f.push(chunk(json!({"content": word}), Value::Null));
    }
    for (index, id, name, pieces) in tools {
        f.push(chunk(json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}), Value::Null));
        for p in *pieces {
            f.push(chunk(json!({"tool_calls": [{"index": index, "function": {"arguments": p}}]}), Value::Null));
        }
    }
    let finish = if tools.is_empty() { "stop" } else { "tool_calls" };
    f.push(chunk(json!({}), json!(finish)));
    let usage = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "test-model", "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": cached}}});
    f.push(format!("data: {usage}\n\n"));
    f.push("data: [DONE]\n\n".to_string());
    f
}

/// `frames` with every occurrence of `from` replaced by `to`, e.g. to make a turn stop at the
/// output limit (`"stop_reason":"tool_use"` -> `"stop_reason":"max_tokens"`).
pub fn replace_in_frames(frames: Vec<String>, from: &str, to: &str) -> Vec<String> {
    frames.into_iter().map(|f| f.replace(from, to)).collect()
}

// ---- Mission folder helpers ------------------------------------------------------------

pub fn read_transcript(dir: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("sessions.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).expect("every transcript line is JSON")).collect()
}

pub fn kinds(lines: &[Value]) -> Vec<String> {
    lines.iter().map(|l| l["kind"].as_str().unwrap().to_string()).collect()
}

/// Every file under `dir`, with its bytes as text.
pub fn all_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                out.push((path, text));
            }
        }
    }
    out
}

// ---- A minimal agent loop, test-side ----------------------------------------------------

use missions::agent::transcript::SessionTranscript;
use missions::agent::{
    AssistantTurn, CancellationToken, Message, ModelRequest, Provider, RetryPolicy, ToolResult, ToolSchema,
};

/// Retries fast enough for tests, still exercising every path.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
        max_attempts: 6,
        max_first_byte_attempts: 2,
        max_identical_server_errors: 5,
        wait_notice_every: Duration::from_millis(100),
        max_outage_attempts: 6,
        deadline: Duration::from_secs(20),
        jitter: 0.5,
    }
}

pub fn read_file_tool() -> ToolSchema {
    ToolSchema {
        name: "read_file".into(),
        description: "Read a file of the working directory".into(),
        input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
    }
}

pub fn request(prompt: &str) -> ModelRequest {
    ModelRequest {
        system: vec!["You are a worker.".into(), "Feature: greet.".into()],
        messages: vec![Message::user_text(prompt)],
        tools: vec![read_file_tool()],
        ..Default::default()
    }
}

/// Sends, answers every tool call with a canned result, repeats until a turn calls no tool.
pub async fn run_exchange(
    provider: &dyn Provider,
    transcript: &mut SessionTranscript,
    request: &mut ModelRequest,
    policy: &RetryPolicy,
) -> Vec<AssistantTurn> {
    let cancel = CancellationToken::new();
    let mut turns = Vec::new();
    for _ in 0..5 {
        let turn = transcript.model_call(provider, request, policy, &cancel, &mut |_| {}).await.expect("model call");
        request.messages.push(turn.to_message());
        let results: Vec<ToolResult> = turn
            .tool_calls()
            .iter()
            .map(|c| {
                transcript.tool_call(c.id, c.name, c.input);
                let content = format!("1\tcontents of {}", c.input["path"].as_str().unwrap_or("?"));
                transcript.tool_result(c.id, c.name, &content, false);
                ToolResult { tool_use_id: c.id.to_string(), content, is_error: false }
            })
            .collect();
        let done = results.is_empty();
        turns.push(turn);
        if done {
            break;
        }
        request.messages.push(Message::tool_results(results));
    }
    transcript.end("completed");
    turns
}
