//! OpenAI Chat Completions: `POST {base_url}/chat/completions`, streamed. Also speaks to
//! Ollama, vLLM, llama.cpp server and LM Studio through `base_url`.

use super::http::{self, join_url, parse_data, str_at, u64_at, HttpSettings, WireDecoder};
use crate::agent::error::{ErrorKind, ProviderError};
use crate::agent::event::StreamEvent;
use crate::agent::message::{arguments_object, ContentBlock, Message, MessageRole, ModelRequest, StopReason};
use crate::agent::provider::{EventStream, Provider};
use crate::agent::secrets::ApiKey;
use crate::agent::sse::SseEvent;
use crate::agent::usage::Usage;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

pub struct OpenAiProvider {
    http: reqwest::Client,
    base_url: String,
    model: String,
    key: Option<ApiKey>,
    max_output_tokens: Option<u32>,
    /// `stream = false` asks for whole answers: llama-cpp-python's server answers a streamed
    /// request that offers tools with an empty body.
    streaming: bool,
    settings: HttpSettings,
    /// The server refused `stream_options` once (some OpenAI-compatible servers do): every
    /// later request goes without it, and usage comes only if the server sends it anyway.
    no_stream_options: AtomicBool,
}

impl OpenAiProvider {
    pub fn new(http: reqwest::Client, model: impl Into<String>, key: Option<ApiKey>) -> Self {
        OpenAiProvider {
            http,
            base_url: DEFAULT_BASE_URL.to_string(),
            model: model.into(),
            key,
            max_output_tokens: None,
            streaming: true,
            settings: HttpSettings::default(),
            no_stream_options: AtomicBool::new(false),
        }
    }

    pub fn with_base_url(mut self, url: &str) -> Self {
        self.base_url = url.to_string();
        self
    }

    pub fn with_max_output_tokens(mut self, n: u32) -> Self {
        self.max_output_tokens = Some(n);
        self
    }

    pub fn with_streaming(mut self, on: bool) -> Self {
        self.streaming = on;
        self
    }

    pub fn with_settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    pub fn endpoint(&self) -> String {
        join_url(&self.base_url, "chat/completions")
    }

    pub fn request_body(&self, request: &ModelRequest) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("messages".into(), Value::Array(messages_json(request)));
        body.insert("stream".into(), json!(self.streaming));
        if self.streaming && !self.no_stream_options.load(Ordering::Relaxed) {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        if !request.tools.is_empty() {
            let tools = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.input_schema}})
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
        }
        if let Some(n) = request.max_output_tokens.or(self.max_output_tokens) {
            // OpenAI's own reasoning models refuse `max_tokens`; local servers know only it.
            let key = if self.base_url.contains("api.openai.com") { "max_completion_tokens" } else { "max_tokens" };
            body.insert(key.into(), json!(n));
        }
        if let Some(t) = request.temperature {
            body.insert("temperature".into(), json!(t));
        }
        Value::Object(body)
    }
}

fn messages_json(request: &ModelRequest) -> Vec<Value> {
    let mut out = Vec::new();
    let system: Vec<&str> = request.system.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
    if !system.is_empty() {
        out.push(json!({"role": "system", "content": system.join("\n\n")}));
    }
    for message in &request.messages {
        push_message(&mut out, message);
    }
    out
}

fn push_message(out: &mut Vec<Value>, message: &Message) {
    let text: String = message
        .content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    match message.role {
        MessageRole::User => {
            // Tool answers are their own messages and must follow the assistant's calls directly.
            for block in &message.content {
                if let ContentBlock::ToolResult { tool_use_id, content, is_error } = block {
                    let content = if *is_error { format!("Error: {content}") } else { content.clone() };
                    out.push(json!({"role": "tool", "tool_call_id": tool_use_id, "content": content}));
                }
            }
            if !text.is_empty() {
                out.push(json!({"role": "user", "content": text}));
            }
        }
        MessageRole::Assistant => {
            let calls: Vec<Value> = message
                .content
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::ToolUse { id, name, input } => {
                        // A JSON object in a string, whatever the model sent (a cut-off call's
                        // half arguments would make the next request invalid).
                        let arguments = arguments_object(input).to_string();
                        Some(json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}))
                    }
                    _ => None,
                })
                .collect();
            // The API takes null content only beside tool_calls; an empty answer without calls
            // goes back as "" (kept, since many local chat templates require the roles to alternate).
            let content = if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) };
            let mut m = json!({"role": "assistant", "content": content});
            if !calls.is_empty() {
                m["tool_calls"] = Value::Array(calls);
            }
            out.push(m);
        }
    }
}

impl OpenAiProvider {
    async fn send(&self, request: &ModelRequest) -> Result<EventStream, ProviderError> {
        let endpoint = self.endpoint();
        let accept = if self.streaming { "text/event-stream" } else { "application/json" };
        let mut builder = self.http.post(&endpoint).header("accept", accept).json(&self.request_body(request));
        if let Some(key) = &self.key {
            builder = builder.bearer_auth(key.expose());
        }
        http::send(builder, &endpoint, &self.settings, OpenAiDecoder::default(), events_from_completion).await
    }
}

/// An HTTP 400 naming `stream_options`: "Unrecognized request argument supplied:
/// stream_options" (older Azure and OpenAI-compatible servers).
fn refuses_stream_options(e: &ProviderError) -> bool {
    e.status == Some(400) && e.message.contains("stream_options")
}

impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn stream<'a>(&'a self, request: &'a ModelRequest) -> BoxFuture<'a, Result<EventStream, ProviderError>> {
        async move {
            match self.send(request).await {
                Err(e) if refuses_stream_options(&e) && !self.no_stream_options.swap(true, Ordering::Relaxed) => {
                    tracing::warn!("{} refused stream_options; asking again without it (usage only if the server sends it unasked)", self.endpoint());
                    self.send(request).await
                }
                other => other,
            }
        }
        .boxed()
    }

    fn wire_body(&self, request: &ModelRequest) -> Option<Value> {
        Some(self.request_body(request))
    }

    fn output_limit(&self, request: &ModelRequest) -> Option<u32> {
        request.max_output_tokens.or(self.max_output_tokens)
    }
}

/// Decodes `chat.completion.chunk` events. Tool-call fragments are matched to calls by their
/// wire `index` and `id`: a fragment with a new id at a known index starts a new call, since
/// Ollama sends every call at index 0.
#[derive(Debug, Default)]
pub struct OpenAiDecoder {
    /// Wire index -> (our index, call id) of the call currently open there.
    open_calls: HashMap<u64, (usize, String)>,
    next_index: usize,
    finish_reason: Option<String>,
    done: bool,
}

impl OpenAiDecoder {
    fn close_calls(&mut self, out: &mut Vec<StreamEvent>) {
        let mut open: Vec<usize> = self.open_calls.drain().map(|(_, (i, _))| i).collect();
        open.sort_unstable();
        out.extend(open.into_iter().map(|index| StreamEvent::ToolCallEnd { index }));
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        self.close_calls(out);
        self.done = true;
        let made_calls = self.next_index > 0;
        let reason = match self.finish_reason.as_deref() {
            Some("tool_calls") | Some("function_call") => StopReason::ToolUse,
            // Some servers say "stop" after tool calls.
            Some("stop") | None if made_calls => StopReason::ToolUse,
            Some("stop") | None => StopReason::EndTurn,
            Some("length") => StopReason::MaxTokens,
            Some("content_filter") => StopReason::ContentFilter,
            Some(other) => StopReason::Other(other.to_string()),
        };
        out.push(StreamEvent::Stop(reason));
    }

    fn on_tool_fragment(&mut self, position: usize, fragment: &Value, out: &mut Vec<StreamEvent>) {
        let wire = u64_at(fragment, "index").unwrap_or(position as u64);
        let id = str_at(fragment, "id").filter(|s| !s.is_empty());
        let function = fragment.get("function").unwrap_or(&Value::Null);
        let starts_new = match (self.open_calls.get(&wire), id) {
            (None, _) => true,
            (Some((_, open_id)), Some(id)) => open_id != id,
            (Some(_), None) => false,
        };
        if starts_new {
            if let Some((old, _)) = self.open_calls.remove(&wire) {
                out.push(StreamEvent::ToolCallEnd { index: old });
            }
            let index = self.next_index;
            self.next_index += 1;
            let id = id.map(str::to_string).unwrap_or_else(|| format!("call_{index}"));
            self.open_calls.insert(wire, (index, id.clone()));
            out.push(StreamEvent::ToolCallStart {
                index,
                id,
                name: str_at(function, "name").unwrap_or_default().to_string(),
            });
        }
        let index = self.open_calls[&wire].0;
        let args = match function.get("arguments") {
            Some(Value::String(s)) => s.clone(),
            // Some servers send the arguments as an object rather than a JSON string.
            Some(v @ Value::Object(_)) => v.to_string(),
            _ => String::new(),
        };
        if !args.is_empty() {
            out.push(StreamEvent::ToolCallArgsDelta { index, json: args });
        }
    }
}

impl WireDecoder for OpenAiDecoder {
    fn on_event(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, ProviderError> {
        let data = event.data.trim();
        let mut out = Vec::new();
        if data.is_empty() {
            return Ok(out);
        }
        if data == "[DONE]" {
            self.finish(&mut out);
            return Ok(out);
        }
        let v = parse_data(event)?;
        if v.get("error").is_some_and(|e| !e.is_null()) {
            return Err(ProviderError::from_stream_error(data));
        }
        if let Some(choice) = v.get("choices").and_then(Value::as_array).and_then(|c| c.first()) {
            let delta = choice.get("delta").unwrap_or(&Value::Null);
            if let Some(text) = str_at(delta, "content").filter(|t| !t.is_empty()) {
                out.push(StreamEvent::TextDelta { text: text.to_string() });
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for (position, fragment) in calls.iter().enumerate() {
                    self.on_tool_fragment(position, fragment, &mut out);
                }
            }
            if let Some(reason) = str_at(choice, "finish_reason") {
                self.finish_reason = Some(reason.to_string());
                self.close_calls(&mut out);
            }
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            out.push(StreamEvent::Usage(usage(u)));
        }
        Ok(out)
    }

    fn on_end(&mut self) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut out = Vec::new();
        if self.done {
            return Ok(out);
        }
        // A server that closes after finish_reason without `[DONE]` still finished the turn.
        if self.finish_reason.is_some() {
            self.finish(&mut out);
            return Ok(out);
        }
        Err(ProviderError::new(ErrorKind::StreamInterrupted, "stream ended before finish_reason"))
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

fn usage(u: &Value) -> Usage {
    let cached = u.get("prompt_tokens_details").and_then(|d| u64_at(d, "cached_tokens")).unwrap_or(0);
    Usage::from_openai(u64_at(u, "prompt_tokens").unwrap_or(0), cached, u64_at(u, "completion_tokens").unwrap_or(0))
}

/// Events for a whole (non-streamed) `chat.completion` response.
pub fn events_from_completion(v: &Value) -> Result<Vec<StreamEvent>, ProviderError> {
    let choice = v.get("choices").and_then(Value::as_array).and_then(|c| c.first()).ok_or_else(|| {
        ProviderError::new(
            ErrorKind::InvalidResponse,
            format!("completion without choices: {}", http::preview(&v.to_string())),
        )
    })?;
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut decoder = OpenAiDecoder::default();
    let mut out = Vec::new();
    if let Some(text) = str_at(message, "content").filter(|t| !t.is_empty()) {
        out.push(StreamEvent::TextDelta { text: text.to_string() });
    }
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        for (position, call) in calls.iter().enumerate() {
            // Each whole call is its own fragment: give it a distinct wire index.
            let mut call = call.clone();
            if let Some(obj) = call.as_object_mut() {
                obj.insert("index".into(), json!(position));
            }
            decoder.on_tool_fragment(position, &call, &mut out);
        }
    }
    decoder.finish_reason = str_at(choice, "finish_reason").map(str::to_string);
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        out.push(StreamEvent::Usage(usage(u)));
    }
    decoder.finish(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::message::{ToolResult, ToolSchema};
    use crate::agent::providers::http::test_support::replay_recording;

    const PARALLEL: &str = include_str!("../../../tests/fixtures/agent/openai_parallel_tool_calls.sse");
    const OLLAMA: &str = include_str!("../../../tests/fixtures/agent/ollama_tool_calls.sse");
    const NO_DONE: &str = include_str!("../../../tests/fixtures/agent/openai_text_no_done.sse");

    #[tokio::test]
    async fn parallel_calls_are_assembled_by_index() {
        for chunk in [1, 13, 100_000] {
            let turn = replay_recording(PARALLEL, chunk, OpenAiDecoder::default()).await.unwrap();
            let calls = turn.tool_calls();
            assert_eq!(calls.len(), 2);
            assert_eq!(calls[0].id, "call_DdmO9pD3xa9XTPNJ32zg2hcA");
            assert_eq!(calls[0].input, &json!({"location": "Paris"}));
            assert_eq!(calls[1].input, &json!({"location": "Bogotá"}));
            assert_eq!(turn.stop_reason, StopReason::ToolUse);
            // prompt_tokens includes the cached ones; normalised input does not.
            assert_eq!(turn.usage, Usage { input: 176, cache_read: 1024, cache_write: 0, output: 42 });
        }
    }

    #[tokio::test]
    async fn ollama_calls_reusing_index_zero_stay_apart() {
        let turn = replay_recording(OLLAMA, 17, OpenAiDecoder::default()).await.unwrap();
        let calls = turn.tool_calls();
        assert_eq!(calls.len(), 2);
        assert_eq!((calls[0].id, calls[1].id), ("call_m1x2y3z4", "call_q9w8e7r6"));
        assert_eq!(calls[1].input, &json!({"path": "src/b.rs"}));
        // Ollama says "stop" even though it called tools.
        assert_eq!(turn.stop_reason, StopReason::ToolUse);
        assert_eq!(turn.usage.input, 310);
    }

    #[tokio::test]
    async fn a_server_that_omits_done_still_finishes_after_finish_reason() {
        let turn = replay_recording(NO_DONE, 4, OpenAiDecoder::default()).await.unwrap();
        assert_eq!(turn.text(), "Hello");
        assert_eq!(turn.stop_reason, StopReason::MaxTokens);
        assert_eq!(turn.usage.output, 2);
    }

    #[tokio::test]
    async fn cuts_garbage_and_error_chunks_are_classified() {
        let cut = &PARALLEL[..PARALLEL.find("\"finish_reason\":\"tool_calls\"").unwrap() - 200];
        let cut = &cut[..cut.rfind("\n\n").unwrap() + 2];
        let e = replay_recording(cut, 50, OpenAiDecoder::default()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::StreamInterrupted);
        let e = replay_recording("data: <html>\n\n", 50, OpenAiDecoder::default()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidResponse);
        let e = replay_recording(
            "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n",
            50,
            OpenAiDecoder::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Server);
    }

    #[test]
    fn a_whole_completion_decodes_like_a_stream() {
        let v = json!({"object": "chat.completion", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{\"command\":\"ls\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "bash", "arguments": {"command": "pwd"}}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3}});
        let mut acc = crate::agent::accumulate::TurnAccumulator::new();
        for e in events_from_completion(&v).unwrap() {
            acc.apply(&e).unwrap();
        }
        let turn = acc.finish().unwrap();
        assert_eq!(turn.tool_calls()[1].input, &json!({"command": "pwd"}));
        assert_eq!(turn.stop_reason, StopReason::ToolUse);
    }

    #[test]
    fn the_body_uses_chat_completions_shapes() {
        let p = OpenAiProvider::new(reqwest::Client::new(), "qwen", None).with_base_url("http://localhost:11434/v1/");
        assert_eq!(p.endpoint(), "http://localhost:11434/v1/chat/completions");
        let req = ModelRequest {
            system: vec!["a".into(), "b".into()],
            tools: vec![ToolSchema {
                name: "bash".into(),
                description: "run".into(),
                input_schema: json!({"type": "object"}),
            }],
            messages: vec![
                Message::user_text("go"),
                Message {
                    role: MessageRole::Assistant,
                    content: vec![ContentBlock::ToolUse {
                        id: "c1".into(),
                        name: "bash".into(),
                        input: json!({"command": "ls"}),
                    }],
                },
                Message::tool_results([ToolResult {
                    tool_use_id: "c1".into(),
                    content: "no such dir".into(),
                    is_error: true,
                }]),
            ],
            max_output_tokens: Some(100),
            ..Default::default()
        };
        let body = p.request_body(&req);
        assert_eq!(body["messages"][0], json!({"role": "system", "content": "a\n\nb"}));
        assert_eq!(body["messages"][2]["content"], Value::Null);
        assert_eq!(body["messages"][2]["tool_calls"][0]["function"]["arguments"], json!("{\"command\":\"ls\"}"));
        assert_eq!(body["messages"][3], json!({"role": "tool", "tool_call_id": "c1", "content": "Error: no such dir"}));
        assert_eq!(body["tools"][0]["function"]["parameters"], json!({"type": "object"}));
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert_eq!(body["max_tokens"], json!(100));
        let official = OpenAiProvider::new(reqwest::Client::new(), "gpt", None);
        assert_eq!(official.request_body(&req)["max_completion_tokens"], json!(100));
    }
}
