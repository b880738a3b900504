//! Anthropic Messages API: `POST {base_url}/v1/messages`, streamed.

use super::http::{self, join_url, parse_data, str_at, u64_at, HttpSettings, WireDecoder};
use crate::agent::error::{ErrorKind, ProviderError};
use crate::agent::event::StreamEvent;
use crate::agent::message::{arguments_object, ContentBlock, Message, MessageRole, ModelRequest, StopReason};
use crate::agent::provider::{EventStream, Provider};
use crate::agent::secrets::ApiKey;
use crate::agent::sse::SseEvent;
use crate::agent::usage::Usage;
use crate::config::PromptCacheTtl;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const API_VERSION: &str = "2023-06-01";
/// The API requires `max_tokens`; this suits every current model.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u32 = 8192;
/// The API allows at most four `cache_control` breakpoints per request.
pub const MAX_CACHE_BREAKPOINTS: usize = 4;
/// The beta that `"ttl": "1h"` breakpoints have needed (sent only with one).
pub const EXTENDED_CACHE_TTL_BETA: &str = "extended-cache-ttl-2025-04-11";

pub struct AnthropicProvider {
    http: reqwest::Client,
    base_url: String,
    model: String,
    key: Option<ApiKey>,
    max_output_tokens: u32,
    prompt_caching: bool,
    /// The cache lifetime of the prefix every session of the role shares.
    shared_prefix_ttl: PromptCacheTtl,
    streaming: bool,
    settings: HttpSettings,
}

impl AnthropicProvider {
    pub fn new(http: reqwest::Client, model: impl Into<String>, key: Option<ApiKey>) -> Self {
        AnthropicProvider {
            http,
            base_url: DEFAULT_BASE_URL.to_string(),
            model: model.into(),
            key,
            max_output_tokens: DEFAULT_MAX_OUTPUT_TOKENS,
            prompt_caching: true,
            shared_prefix_ttl: PromptCacheTtl::default(),
            streaming: true,
            settings: HttpSettings::default(),
        }
    }

    pub fn with_base_url(mut self, url: &str) -> Self {
        self.base_url = url.to_string();
        self
    }

    pub fn with_max_output_tokens(mut self, n: u32) -> Self {
        self.max_output_tokens = n;
        self
    }

    pub fn with_prompt_caching(mut self, on: bool) -> Self {
        self.prompt_caching = on;
        self
    }

    pub fn with_prompt_cache_ttl(mut self, ttl: PromptCacheTtl) -> Self {
        self.shared_prefix_ttl = ttl;
        self
    }

    /// `stream = false`: ask for whole answers (for a server or gateway whose streaming
    /// loses tool calls).
    pub fn with_streaming(mut self, on: bool) -> Self {
        self.streaming = on;
        self
    }

    pub fn with_settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    pub fn endpoint(&self) -> String {
        join_url(&self.base_url, "v1/messages")
    }

    /// The JSON body for `request`, with cache breakpoints where the most tokens are reused
    /// (the API caches only at a breakpoint, and reads an entry found within 20 blocks of
    /// one):
    /// 1. the end of the system prompt's first block, the role's instructions, which with the
    ///    tools before it is the same for every session of the role in any mission and
    ///    working directory (the role's `prompt_cache_ttl`);
    /// 2. the end of the first message's first block when it has several: the mission's
    ///    shared context, the same for every session of the role in the mission (same TTL);
    /// 3. the end of the first message, the session's task, so a compacted conversation
    ///    still reads everything before the first tool output it shortened (5 minutes);
    /// 4. the end of the latest message, which moves every turn, so each call reads what the
    ///    call before it wrote (5 minutes).
    pub fn request_body(&self, request: &ModelRequest) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("max_tokens".into(), json!(request.max_output_tokens.unwrap_or(self.max_output_tokens)));
        body.insert("stream".into(), json!(self.streaming));
        if let Some(t) = request.temperature {
            body.insert("temperature".into(), json!(t));
        }
        let mut tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
        let mut system: Vec<Value> = request
            .system
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| json!({"type": "text", "text": s}))
            .collect();
        let mut messages: Vec<Value> = request.messages.iter().filter_map(message_json).collect();
        if self.prompt_caching {
            let shared = self.shared_prefix_ttl;
            let stable = match system.first_mut() {
                Some(block) => Some(block),
                None => tools.last_mut(),
            };
            if let Some(block) = stable {
                mark_cache(block, shared);
            }
            let count = messages.len();
            for (i, message) in messages.iter_mut().enumerate() {
                let Some(content) = message.get_mut("content").and_then(Value::as_array_mut) else { continue };
                let blocks = content.len();
                if i == 0 && blocks > 1 {
                    mark_cache(&mut content[0], shared);
                }
                if i == 0 || i + 1 == count {
                    if let Some(last) = content.last_mut() {
                        mark_cache(last, PromptCacheTtl::FiveMinutes);
                    }
                }
            }
        }
        if !tools.is_empty() {
            body.insert("tools".into(), Value::Array(tools));
        }
        if !system.is_empty() {
            body.insert("system".into(), Value::Array(system));
        }
        body.insert("messages".into(), Value::Array(messages));
        Value::Object(body)
    }
}

fn mark_cache(block: &mut Value, ttl: PromptCacheTtl) {
    if let Some(obj) = block.as_object_mut() {
        let control = match ttl {
            PromptCacheTtl::FiveMinutes => json!({"type": "ephemeral"}),
            PromptCacheTtl::OneHour => json!({"type": "ephemeral", "ttl": "1h"}),
        };
        obj.insert("cache_control".into(), control);
    }
}

/// Whether a body holds a `"ttl": "1h"` breakpoint (only the shared prefix gets one: the
/// tools, the system prompt, the first message's first block).
fn asks_one_hour(body: &Value) -> bool {
    let one_hour = |block: &Value| block["cache_control"]["ttl"] == "1h";
    let first = &body["messages"][0]["content"][0];
    [&body["tools"], &body["system"]].into_iter().filter_map(Value::as_array).flatten().chain([first]).any(one_hour)
}

fn message_json(message: &Message) -> Option<Value> {
    let role = match message.role {
        MessageRole::User => "user",
        MessageRole::Assistant => "assistant",
    };
    // Tool results must lead a user message.
    let mut blocks: Vec<&ContentBlock> = message.content.iter().collect();
    blocks.sort_by_key(|b| !matches!(b, ContentBlock::ToolResult { .. }));
    let content: Vec<Value> = blocks
        .into_iter()
        .filter_map(|b| match b {
            // The API rejects empty and whitespace-only text blocks.
            ContentBlock::Text { text } if text.trim().is_empty() => None,
            ContentBlock::Text { text } => Some(json!({"type": "text", "text": text})),
            ContentBlock::ToolUse { id, name, input } => {
                Some(json!({"type": "tool_use", "id": id, "name": name, "input": arguments_object(input)}))
            }
            ContentBlock::ToolResult { tool_use_id, content, is_error } => {
                let mut r = json!({"type": "tool_result", "tool_use_id": tool_use_id, "content": content});
                if *is_error {
                    r["is_error"] = json!(true);
                }
                Some(r)
            }
        })
        .collect();
    (!content.is_empty()).then(|| json!({"role": role, "content": content}))
}

impl Provider for AnthropicProvider {
    fn name(&self) -> &str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn stream<'a>(&'a self, request: &'a ModelRequest) -> BoxFuture<'a, Result<EventStream, ProviderError>> {
        async move {
            let endpoint = self.endpoint();
            let accept = if self.streaming { "text/event-stream" } else { "application/json" };
            let body = self.request_body(request);
            let mut builder =
                self.http.post(&endpoint).header("anthropic-version", API_VERSION).header("accept", accept);
            if asks_one_hour(&body) {
                builder = builder.header("anthropic-beta", EXTENDED_CACHE_TTL_BETA);
            }
            let mut builder = builder.json(&body);
            if let Some(key) = &self.key {
                builder = builder.header("x-api-key", key.expose());
            }
            http::send(builder, &endpoint, &self.settings, AnthropicDecoder::default(), events_from_message).await
        }
        .boxed()
    }

    fn wire_body(&self, request: &ModelRequest) -> Option<Value> {
        Some(self.request_body(request))
    }

    fn output_limit(&self, request: &ModelRequest) -> Option<u32> {
        Some(request.max_output_tokens.unwrap_or(self.max_output_tokens))
    }
}

/// Decodes the Messages streaming events (`message_start`, `content_block_*`, `message_delta`,
/// `message_stop`, `ping`, `error`).
#[derive(Debug, Default)]
pub struct AnthropicDecoder {
    usage: Usage,
    stop_reason: Option<StopReason>,
    tool_blocks: HashSet<u64>,
    /// Tool blocks whose `content_block_start` carried a whole, non-empty `input` (some
    /// gateways send it there instead of `input_json_delta`s): used at `content_block_stop`
    /// unless deltas came.
    start_inputs: HashMap<u64, String>,
    done: bool,
}

impl AnthropicDecoder {
    fn merge_usage(&mut self, u: &Value) {
        let field = |key: &str, old: u64| u64_at(u, key).unwrap_or(old);
        self.usage = Usage::from_anthropic(
            field("input_tokens", self.usage.input),
            field("cache_read_input_tokens", self.usage.cache_read),
            field("cache_creation_input_tokens", self.usage.cache_write),
            field("output_tokens", self.usage.output),
        );
    }
}

impl WireDecoder for AnthropicDecoder {
    fn on_event(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, ProviderError> {
        if event.data.trim().is_empty() {
            return Ok(vec![]);
        }
        let v = parse_data(event)?;
        let index = u64_at(&v, "index").unwrap_or(0);
        let mut out = Vec::new();
        match str_at(&v, "type").unwrap_or(event.event.as_str()) {
            "message_start" => {
                if let Some(u) = v.get("message").and_then(|m| m.get("usage")) {
                    self.merge_usage(u);
                    out.push(StreamEvent::Usage(self.usage));
                }
            }
            "content_block_start" => {
                let block = v.get("content_block").unwrap_or(&Value::Null);
                match str_at(block, "type") {
                    Some("text") => {
                        if let Some(text) = str_at(block, "text").filter(|t| !t.is_empty()) {
                            out.push(StreamEvent::TextDelta { text: text.to_string() });
                        }
                    }
                    Some("tool_use") => {
                        self.tool_blocks.insert(index);
                        if let Some(input) = block.get("input").and_then(Value::as_object).filter(|o| !o.is_empty()) {
                            self.start_inputs.insert(index, Value::Object(input.clone()).to_string());
                        }
                        out.push(StreamEvent::ToolCallStart {
                            index: index as usize,
                            id: str_at(block, "id").unwrap_or_default().to_string(),
                            name: str_at(block, "name").unwrap_or_default().to_string(),
                        });
                    }
                    // Thinking and server-tool blocks are not part of the turn we hand back.
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = v.get("delta").unwrap_or(&Value::Null);
                match str_at(delta, "type") {
                    Some("text_delta") => {
                        let text = str_at(delta, "text").unwrap_or_default();
                        if !text.is_empty() {
                            out.push(StreamEvent::TextDelta { text: text.to_string() });
                        }
                    }
                    Some("input_json_delta") if self.tool_blocks.contains(&index) => {
                        let json = str_at(delta, "partial_json").unwrap_or_default();
                        if !json.is_empty() {
                            self.start_inputs.remove(&index);
                            out.push(StreamEvent::ToolCallArgsDelta { index: index as usize, json: json.to_string() });
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" if self.tool_blocks.contains(&index) => {
                if let Some(json) = self.start_inputs.remove(&index) {
                    out.push(StreamEvent::ToolCallArgsDelta { index: index as usize, json });
                }
                out.push(StreamEvent::ToolCallEnd { index: index as usize });
            }
            "message_delta" => {
                if let Some(reason) = v.get("delta").and_then(|d| str_at(d, "stop_reason")) {
                    self.stop_reason = Some(stop_reason(reason));
                }
                if let Some(u) = v.get("usage") {
                    self.merge_usage(u);
                    out.push(StreamEvent::Usage(self.usage));
                }
            }
            "message_stop" => {
                self.done = true;
                out.push(StreamEvent::Stop(self.stop_reason.clone().unwrap_or(StopReason::EndTurn)));
            }
            "error" => return Err(ProviderError::from_stream_error(&event.data)),
            // `ping` and event types added after this was written.
            _ => {}
        }
        Ok(out)
    }

    fn on_end(&mut self) -> Result<Vec<StreamEvent>, ProviderError> {
        if self.done {
            Ok(vec![])
        } else {
            Err(ProviderError::new(ErrorKind::StreamInterrupted, "stream ended before message_stop"))
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

pub fn stop_reason(s: &str) -> StopReason {
    match s {
        "end_turn" => StopReason::EndTurn,
        "tool_use" => StopReason::ToolUse,
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        "refusal" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_string()),
    }
}

/// Events for a whole (non-streamed) Messages response.
pub fn events_from_message(v: &Value) -> Result<Vec<StreamEvent>, ProviderError> {
    let content = v.get("content").and_then(Value::as_array).ok_or_else(|| {
        ProviderError::new(
            ErrorKind::InvalidResponse,
            format!("message without content: {}", http::preview(&v.to_string())),
        )
    })?;
    let mut out = Vec::new();
    for (index, block) in content.iter().enumerate() {
        match str_at(block, "type") {
            Some("text") => {
                out.push(StreamEvent::TextDelta { text: str_at(block, "text").unwrap_or_default().to_string() })
            }
            Some("tool_use") => {
                out.push(StreamEvent::ToolCallStart {
                    index,
                    id: str_at(block, "id").unwrap_or_default().to_string(),
                    name: str_at(block, "name").unwrap_or_default().to_string(),
                });
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                out.push(StreamEvent::ToolCallArgsDelta { index, json: input.to_string() });
                out.push(StreamEvent::ToolCallEnd { index });
            }
            _ => {}
        }
    }
    let mut decoder = AnthropicDecoder::default();
    if let Some(u) = v.get("usage") {
        decoder.merge_usage(u);
        out.push(StreamEvent::Usage(decoder.usage));
    }
    out.push(StreamEvent::Stop(str_at(v, "stop_reason").map(stop_reason).unwrap_or(StopReason::EndTurn)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::message::{ToolResult, ToolSchema};
    use crate::agent::providers::http::test_support::replay_recording;

    const TOOL_USE: &str = include_str!("../../../tests/fixtures/agent/anthropic_tool_use.sse");
    const THINKING_THEN_ERROR: &str = include_str!("../../../tests/fixtures/agent/anthropic_thinking_then_error.sse");

    #[tokio::test]
    async fn the_documented_tool_use_stream_builds_one_turn_at_any_chunk_size() {
        for chunk in [1, 5, 64, 100_000] {
            let turn = replay_recording(TOOL_USE, chunk, AnthropicDecoder::default()).await.unwrap();
            assert_eq!(turn.text(), "Okay, let's check the weather for San Francisco, CA:");
            let calls = turn.tool_calls();
            assert_eq!(calls.len(), 1);
            assert_eq!(calls[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
            assert_eq!(calls[0].input, &json!({"location": "San Francisco, CA", "unit": "fahrenheit"}));
            assert_eq!(turn.stop_reason, StopReason::ToolUse);
            // input_tokens excludes the cached tokens, which are counted on their own.
            assert_eq!(turn.usage, Usage { input: 472, cache_read: 2048, cache_write: 1024, output: 89 });
        }
    }

    #[tokio::test]
    async fn thinking_is_skipped_and_an_error_event_after_200_is_classified() {
        let err = replay_recording(THINKING_THEN_ERROR, 9, AnthropicDecoder::default()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Overloaded);
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn a_stream_cut_before_message_stop_is_interrupted() {
        let cut = &TOOL_USE[..TOOL_USE.find("event: message_delta").unwrap()];
        let err = replay_recording(cut, 100, AnthropicDecoder::default()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::StreamInterrupted);
    }

    #[tokio::test]
    async fn garbage_data_is_an_invalid_response() {
        let err = replay_recording("event: message_start\ndata: {not json\n\n", 3, AnthropicDecoder::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidResponse);
    }

    #[test]
    fn a_whole_message_decodes_like_a_stream() {
        let v = json!({"type": "message", "content": [
            {"type": "text", "text": "Hi"},
            {"type": "tool_use", "id": "t1", "name": "bash", "input": {"command": "ls"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 4}});
        let mut acc = crate::agent::accumulate::TurnAccumulator::new();
        for e in events_from_message(&v).unwrap() {
            acc.apply(&e).unwrap();
        }
        let turn = acc.finish().unwrap();
        assert_eq!(turn.tool_calls()[0].input, &json!({"command": "ls"}));
        assert_eq!(turn.usage.output, 4);
        assert_eq!(events_from_message(&json!({"nope": 1})).unwrap_err().kind, ErrorKind::InvalidResponse);
    }

    #[test]
    fn breakpoints_mark_the_shared_prefix_the_task_and_the_latest_block() {
        let p = AnthropicProvider::new(reqwest::Client::new(), "claude", None);
        let tool = |name: &str| ToolSchema {
            name: name.into(),
            description: "".into(),
            input_schema: json!({"type": "object"}),
        };
        let mut req = ModelRequest {
            system: vec!["stable".into(), "role prompt".into()],
            tools: vec![tool("a"), tool("b")],
            messages: vec![Message::user_text("go")],
            ..Default::default()
        };
        // The first request: the task is the latest message, marked once.
        let body = p.request_body(&req);
        assert_eq!(body.to_string().matches("cache_control").count(), 2, "{body}");
        req.messages.push(Message {
            role: MessageRole::Assistant,
            content: vec![
                ContentBlock::Text { text: "".into() },
                ContentBlock::ToolUse { id: "t1".into(), name: "a".into(), input: json!("{broken") },
            ],
        });
        req.messages.push(Message::tool_results([ToolResult {
            tool_use_id: "t1".into(),
            content: "bad args".into(),
            is_error: true,
        }]));
        let body = p.request_body(&req);
        let ttl = |v: &Value| v.get("cache_control").map(|c| c["ttl"].as_str().unwrap_or("5m").to_string());
        // The tools come before the system prompt: its breakpoint covers them too; the second
        // system block (where this session works) is covered by the task's.
        assert_eq!((ttl(&body["tools"][0]), ttl(&body["tools"][1])), (None, None));
        assert_eq!((ttl(&body["system"][0]), ttl(&body["system"][1])), (Some("1h".into()), None));
        assert_eq!(ttl(&body["messages"][0]["content"][0]), Some("5m".into()), "the task");
        assert_eq!(ttl(&body["messages"][2]["content"][0]), Some("5m".into()), "the latest block");
        assert_eq!(body.to_string().matches("cache_control").count(), 3);
        assert!(asks_one_hour(&body));
        // The empty text block is dropped; broken arguments still go back as an object.
        assert_eq!(body["messages"][1]["content"].as_array().unwrap().len(), 1);
        assert_eq!(body["messages"][1]["content"][0]["input"], json!({"_invalid_arguments": "{broken"}));
        assert_eq!(body["messages"][2]["content"][0]["is_error"], json!(true));
        assert_eq!(body["max_tokens"], json!(DEFAULT_MAX_OUTPUT_TOKENS));

        // A first message of two blocks: the mission's shared context, then the task.
        req.messages[0] = Message {
            role: MessageRole::User,
            content: vec![
                ContentBlock::Text { text: "AGENTS.md …".into() },
                ContentBlock::Text { text: "your feature".into() },
            ],
        };
        let body = p.request_body(&req);
        assert_eq!(ttl(&body["messages"][0]["content"][0]), Some("1h".into()), "the shared context");
        assert_eq!(ttl(&body["messages"][0]["content"][1]), Some("5m".into()), "the task");
        assert_eq!(body.to_string().matches("cache_control").count(), MAX_CACHE_BREAKPOINTS);

        // With `prompt_cache_ttl = "5m"` nothing asks for the hour (nor its beta header).
        let body = p.with_prompt_cache_ttl(PromptCacheTtl::FiveMinutes).request_body(&req);
        assert_eq!(body.to_string().matches("cache_control").count(), MAX_CACHE_BREAKPOINTS);
        assert!(!body.to_string().contains("\"ttl\"") && !asks_one_hour(&body));
    }
}
