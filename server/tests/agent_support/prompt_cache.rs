//! A model of the providers' prompt caches, after their documented rules (not after our
//! requests), so that a fake provider can report the cache figures a real one would.
//!
//! Anthropic (Messages API, "Prompt caching"):
//! - the prompt is tools, then system, then messages, in that order; a prefix is cached only
//!   at a block marked `cache_control` (at most 4 per request), as a hash of everything up to
//!   and including that block;
//! - a read needs an entry an earlier request wrote with an identical prefix: from each
//!   breakpoint, latest first, the lookback checks at most 20 positions, the breakpoint itself
//!   first; a run of consecutive `tool_use` blocks is one position, and so is a run of
//!   `tool_result` blocks;
//! - a prefix shorter than the model's minimum (1,024 tokens; 2,048 for the smallest models)
//!   is not cached, silently;
//! - an entry lives 5 minutes, or an hour with `"ttl": "1h"`, from the start of the last
//!   request that wrote or read it (a request reads the entry it found, and the entries at
//!   its breakpoints before that one); a longer TTL may not follow a shorter one;
//! - `input_tokens` are the tokens after the read prefix that no breakpoint covers;
//!   `cache_creation_input_tokens` those from the read prefix to the last breakpoint.
//!
//! OpenAI (Chat Completions, "Prompt caching"): automatic; the prompt (tools, then messages)
//! is cached in steps of 128 tokens from 1,024 tokens on, and a request reads the longest
//! such step an earlier request shares with it, reported as
//! `prompt_tokens_details.cached_tokens` (part of `prompt_tokens`). In-memory retention keeps
//! an unused prefix 5 to 10 minutes (modelled: 5, refreshed on use); `prompt_cache_retention:
//! "24h"` keeps it a day.
//!
//! Tokens are counted by a fixed rule: 4 bytes of a block's text make a token.
//! Time is the caller's (`now`, since any origin), so a benchmark can run hours of mission
//! time in seconds.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

pub const BYTES_PER_TOKEN: usize = 4;
pub const MAX_BREAKPOINTS: usize = 4;
pub const LOOKBACK_POSITIONS: usize = 20;
pub const FIVE_MINUTES: Duration = Duration::from_secs(5 * 60);
pub const ONE_HOUR: Duration = Duration::from_secs(60 * 60);
/// OpenAI caches prefixes in steps of this many tokens…
pub const OPENAI_STEP_TOKENS: u64 = 128;
/// …from this many tokens on.
pub const OPENAI_MIN_TOKENS: u64 = 1024;

pub fn tokens(bytes: usize) -> u64 {
    bytes.div_ceil(BYTES_PER_TOKEN) as u64
}

/// Why a request is refused, as the provider would refuse it (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// An invalid request (too many breakpoints, a TTL out of order…), with the message.
    Invalid(String),
    /// The prompt does not fit the context window.
    TooLong { tokens: u64, max: u64 },
}

impl Refusal {
    /// The error body the Messages API answers with.
    pub fn anthropic_body(&self) -> Value {
        let message = match self {
            Refusal::Invalid(m) => m.clone(),
            Refusal::TooLong { tokens, max } => format!("prompt is too long: {tokens} tokens > {max} maximum"),
        };
        serde_json::json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}})
    }

    /// The error body Chat Completions answers with.
    pub fn openai_body(&self) -> Value {
        match self {
            Refusal::Invalid(m) => {
                serde_json::json!({"error": {"message": m, "type": "invalid_request_error", "param": null, "code": null}})
            }
            Refusal::TooLong { tokens, max } => serde_json::json!({"error": {
                "message": format!("This model's maximum context length is {max} tokens. However, your messages resulted in {tokens} tokens. Please reduce the length of the messages."),
                "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}),
        }
    }
}

// ---- Anthropic ----------------------------------------------------------------------------

/// The input side of a Messages `usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnthropicUsage {
    pub input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    /// The part of `cache_creation_input_tokens` written with the 1-hour TTL.
    pub cache_creation_1h: u64,
}

impl AnthropicUsage {
    pub fn total(&self) -> u64 {
        self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens
    }

    /// `usage` as the API reports it (with `output_tokens`).
    pub fn to_json(self, output_tokens: u64) -> Value {
        serde_json::json!({"input_tokens": self.input_tokens, "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_creation": {"ephemeral_5m_input_tokens": self.cache_creation_input_tokens - self.cache_creation_1h, "ephemeral_1h_input_tokens": self.cache_creation_1h},
            "output_tokens": output_tokens})
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    expires: Duration,
    ttl: Duration,
}

/// One model's prompt cache on the Messages API.
#[derive(Debug)]
pub struct AnthropicCache {
    /// The shortest prefix cached, in tokens.
    pub min_tokens: u64,
    /// The longest prompt accepted, in tokens.
    pub context_window: u64,
    entries: HashMap<u64, Entry>,
}

/// What a block of the prompt contributes: its text (for the hash and the token count), the
/// position it belongs to (for the lookback) and its breakpoint, if any.
struct Block {
    hash: u64,
    tokens: u64,
    position: usize,
    breakpoint: Option<Duration>,
}

#[derive(PartialEq, Clone, Copy)]
enum Run {
    ToolUse,
    ToolResult,
    Other,
}

impl AnthropicCache {
    pub fn new(min_tokens: u64, context_window: u64) -> Self {
        AnthropicCache { min_tokens, context_window, entries: HashMap::new() }
    }

    /// The documented minimum for `model`: 2,048 tokens for the Haiku models, 1,024 otherwise.
    pub fn for_model(model: &str, context_window: u64) -> Self {
        let min = if model.contains("haiku") { 2048 } else { 1024 };
        Self::new(min, context_window)
    }

    /// Entries alive at `now`.
    pub fn live_entries(&self, now: Duration) -> usize {
        self.entries.values().filter(|e| e.expires > now).count()
    }

    /// Reads and writes the cache for the request `body` made at `now`; answers the usage the
    /// API would report, or its refusal.
    pub fn measure(&mut self, body: &Value, now: Duration) -> Result<AnthropicUsage, Refusal> {
        let blocks = anthropic_blocks(body)?;
        let total: u64 = blocks.iter().map(|b| b.tokens).sum();
        if total > self.context_window {
            return Err(Refusal::TooLong { tokens: total, max: self.context_window });
        }
        let breakpoints: Vec<usize> = (0..blocks.len()).filter(|&i| blocks[i].breakpoint.is_some()).collect();
        if breakpoints.len() > MAX_BREAKPOINTS {
            return Err(Refusal::Invalid(format!(
                "A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {}.",
                breakpoints.len()
            )));
        }
        let mut shortest = Duration::MAX;
        for &b in &breakpoints {
            let ttl = blocks[b].breakpoint.unwrap();
            if ttl > shortest {
                return Err(Refusal::Invalid(
                    "a cache_control block with a longer ttl must not come after one with a shorter ttl".into(),
                ));
            }
            shortest = ttl;
        }
        let mut prefix_tokens = Vec::with_capacity(blocks.len());
        let mut sum = 0;
        for b in &blocks {
            sum += b.tokens;
            prefix_tokens.push(sum);
        }
        let live =
            |entries: &HashMap<u64, Entry>, i: usize| entries.get(&blocks[i].hash).is_some_and(|e| e.expires > now);
        // The read: from the latest breakpoint back, each looking back 20 positions.
        let mut read_at: Option<usize> = None;
        'breakpoints: for &b in breakpoints.iter().rev() {
            let oldest = blocks[b].position.saturating_sub(LOOKBACK_POSITIONS - 1);
            for i in (0..=b).rev() {
                if blocks[i].position < oldest {
                    break;
                }
                if live(&self.entries, i) {
                    read_at = Some(i);
                    break 'breakpoints;
                }
            }
        }
        let read = read_at.map_or(0, |i| prefix_tokens[i]);
        // The entry read, and those at this request's breakpoints before it, are used and live
        // on from now. (Whether a read also refreshes entries between earlier breakpoints is
        // not documented; the model assumes it does not.)
        let used = read_at.into_iter().chain(breakpoints.iter().copied().filter(|&b| read_at.is_some_and(|r| b < r)));
        for i in used {
            if let Some(e) = self.entries.get_mut(&blocks[i].hash).filter(|e| e.expires > now) {
                let ttl = blocks[i].breakpoint.map_or(e.ttl, |asked| asked.max(e.ttl));
                *e = Entry { expires: now + ttl, ttl };
            }
        }
        // Writes at each later breakpoint long enough to be cached.
        let mut written_to = read;
        let mut creation_1h = 0;
        for &b in breakpoints.iter().filter(|&&b| read_at.is_none_or(|r| b > r)) {
            if prefix_tokens[b] < self.min_tokens {
                continue;
            }
            let ttl = blocks[b].breakpoint.unwrap();
            if ttl >= ONE_HOUR {
                creation_1h += prefix_tokens[b] - written_to;
            }
            written_to = prefix_tokens[b];
            self.entries.insert(blocks[b].hash, Entry { expires: now + ttl, ttl });
        }
        Ok(AnthropicUsage {
            input_tokens: total - written_to,
            cache_read_input_tokens: read,
            cache_creation_input_tokens: written_to - read,
            cache_creation_1h: creation_1h,
        })
    }
}

/// The request's blocks in prompt order (tools, system, messages), each with the hash of the
/// prefix ending at it.
fn anthropic_blocks(body: &Value) -> Result<Vec<Block>, Refusal> {
    let mut out: Vec<Block> = Vec::new();
    let mut hasher = DefaultHasher::new();
    body["model"].as_str().unwrap_or_default().hash(&mut hasher);
    let mut position = 0usize;
    let mut last_run: Option<(usize, Run)> = None;
    let mut push = |text: String, section: &str, message: usize, run: Run, block: &Value| -> Result<(), Refusal> {
        let breakpoint = match block.get("cache_control") {
            None | Some(Value::Null) => None,
            Some(cc) => {
                if cc["type"] != "ephemeral" {
                    return Err(Refusal::Invalid(format!("cache_control.type: unknown type {}", cc["type"])));
                }
                if text.is_empty() {
                    return Err(Refusal::Invalid("cache_control cannot be set for empty text blocks".into()));
                }
                Some(match cc.get("ttl").and_then(Value::as_str) {
                    None | Some("5m") => FIVE_MINUTES,
                    Some("1h") => ONE_HOUR,
                    Some(other) => {
                        return Err(Refusal::Invalid(format!(
                            "cache_control.ttl: unknown value {other:?}; use \"5m\" or \"1h\""
                        )))
                    }
                })
            }
        };
        // Consecutive tool_use (or tool_result) blocks of one message are one position.
        let continues = matches!(run, Run::ToolUse | Run::ToolResult) && last_run == Some((message, run));
        if !out.is_empty() && !continues {
            position += 1;
        }
        last_run = Some((message, run));
        (section, message, &text).hash(&mut hasher);
        out.push(Block { hash: hasher.finish(), tokens: tokens(text.len()), position, breakpoint });
        Ok(())
    };
    for tool in body["tools"].as_array().into_iter().flatten() {
        let text = format!(
            "{}\n{}\n{}",
            tool["name"].as_str().unwrap_or_default(),
            tool["description"].as_str().unwrap_or_default(),
            canonical(&tool["input_schema"])
        );
        push(text, "tools", 0, Run::Other, tool)?;
    }
    match &body["system"] {
        Value::String(s) => push(s.clone(), "system", 0, Run::Other, &Value::Null)?,
        Value::Array(blocks) => {
            for b in blocks {
                push(b["text"].as_str().unwrap_or_default().to_string(), "system", 0, Run::Other, b)?;
            }
        }
        _ => {}
    }
    for (i, m) in body["messages"].as_array().into_iter().flatten().enumerate() {
        let section = m["role"].as_str().unwrap_or("user");
        match &m["content"] {
            Value::String(s) => push(s.clone(), section, i, Run::Other, &Value::Null)?,
            Value::Array(blocks) => {
                for b in blocks {
                    let (text, run) = match b["type"].as_str() {
                        Some("text") => (b["text"].as_str().unwrap_or_default().to_string(), Run::Other),
                        Some("tool_use") => (
                            format!(
                                "tool_use {} {} {}",
                                b["id"].as_str().unwrap_or_default(),
                                b["name"].as_str().unwrap_or_default(),
                                canonical(&b["input"])
                            ),
                            Run::ToolUse,
                        ),
                        Some("tool_result") => {
                            let content = match &b["content"] {
                                Value::String(s) => s.clone(),
                                other => canonical(other),
                            };
                            (
                                format!(
                                    "tool_result {} {}{content}",
                                    b["tool_use_id"].as_str().unwrap_or_default(),
                                    if b["is_error"] == true { "error " } else { "" }
                                ),
                                Run::ToolResult,
                            )
                        }
                        _ => (canonical(&without_cache_control(b)), Run::Other),
                    };
                    push(text, section, i, run, b)?;
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

// ---- OpenAI -------------------------------------------------------------------------------

/// The input side of a Chat Completions `usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenAiUsage {
    /// Every prompt token, cached ones included.
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
}

impl OpenAiUsage {
    pub fn to_json(self, completion_tokens: u64) -> Value {
        serde_json::json!({"prompt_tokens": self.prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens, "prompt_tokens_details": {"cached_tokens": self.cached_tokens}})
    }
}

/// One model's automatic prompt cache on Chat Completions.
#[derive(Debug)]
pub struct OpenAiCache {
    /// How long an unused prefix stays with in-memory retention.
    pub in_memory_ttl: Duration,
    pub context_window: u64,
    /// Prefix hashes at every 128-token step, with when they expire.
    steps: HashMap<u64, Duration>,
}

impl OpenAiCache {
    pub fn new(context_window: u64) -> Self {
        OpenAiCache { in_memory_ttl: FIVE_MINUTES, context_window, steps: HashMap::new() }
    }

    pub fn measure(&mut self, body: &Value, now: Duration) -> Result<OpenAiUsage, Refusal> {
        let prompt = openai_prompt(body);
        let prompt_tokens = tokens(prompt.len());
        if prompt_tokens > self.context_window {
            return Err(Refusal::TooLong { tokens: prompt_tokens, max: self.context_window });
        }
        let ttl = match body.get("prompt_cache_retention").and_then(Value::as_str) {
            None | Some("in_memory") | Some("in-memory") => self.in_memory_ttl,
            Some("24h") => Duration::from_secs(24 * 3600),
            Some(other) => {
                return Err(Refusal::Invalid(format!("Invalid value for 'prompt_cache_retention': {other:?}")))
            }
        };
        let step_bytes = OPENAI_STEP_TOKENS as usize * BYTES_PER_TOKEN;
        let first_step = (OPENAI_MIN_TOKENS / OPENAI_STEP_TOKENS) as usize;
        let mut hasher = DefaultHasher::new();
        let mut cached = 0;
        let mut hashes = Vec::new();
        for (k, chunk) in prompt.as_bytes().chunks_exact(step_bytes).enumerate() {
            chunk.hash(&mut hasher);
            let steps = k + 1;
            if steps < first_step {
                continue;
            }
            let h = hasher.finish();
            // A step's hash covers the whole prefix before it, so the longest live step is the
            // read.
            if self.steps.get(&h).is_some_and(|&expires| expires > now) {
                cached = steps as u64 * OPENAI_STEP_TOKENS;
            }
            hashes.push(h);
        }
        for h in hashes {
            self.steps.insert(h, now + ttl);
        }
        Ok(OpenAiUsage { prompt_tokens, cached_tokens: cached })
    }
}

/// The prompt as one text: the tools, then each message (role, content, calls, call id).
fn openai_prompt(body: &Value) -> String {
    let mut p = String::new();
    p.push_str(body["model"].as_str().unwrap_or_default());
    p.push('\n');
    for tool in body["tools"].as_array().into_iter().flatten() {
        p.push_str(&canonical(tool));
        p.push('\n');
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        p.push_str("<|");
        p.push_str(m["role"].as_str().unwrap_or_default());
        p.push_str("|>");
        if let Some(id) = m["tool_call_id"].as_str() {
            p.push_str(id);
            p.push(' ');
        }
        match &m["content"] {
            Value::String(s) => p.push_str(s),
            Value::Array(parts) => {
                for part in parts {
                    match part["text"].as_str() {
                        Some(t) => p.push_str(t),
                        None => p.push_str(&canonical(part)),
                    }
                }
            }
            _ => {}
        }
        if let Some(calls) = m.get("tool_calls").filter(|c| !c.is_null()) {
            p.push_str(&canonical(calls));
        }
        p.push_str("<|end|>\n");
    }
    p
}

// ---- shared -------------------------------------------------------------------------------

/// JSON with object keys sorted, so equal values give equal text whatever the key order.
pub fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

fn without_cache_control(block: &Value) -> Value {
    let mut b = block.clone();
    if let Some(o) = b.as_object_mut() {
        o.remove("cache_control");
    }
    b
}
