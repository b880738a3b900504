//! `sessions.jsonl`: every agent session's requests, turns, tool calls and usage, one JSON
//! object a line, with usage rolled up per session, role and mission. Each session also keeps
//! droid's Markdown skeleton of its conversation, which the runner appends to
//! worker-transcripts.jsonl (droid's per-session record, which has no usage).

use crate::agent::cancel::CancellationToken;
use crate::agent::error::ProviderError;
use crate::agent::event::StreamEvent;
use crate::agent::message::{AssistantTurn, ModelRequest};
use crate::agent::provider::Provider;
use crate::agent::retry::RetryPolicy;
use crate::agent::secrets::redact;
use crate::agent::session::SessionObserver;
use crate::agent::turn::{complete_turn, RetryNotice, TurnObserver, WaitNotice};
use crate::agent::usage::{Usage, UsageRollup};
use crate::config::AgentRole;
use crate::model::timestamp::now_rfc3339;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub const TRANSCRIPT_FILE: &str = "sessions.jsonl";

/// A skeleton longer than this is cut (with a note): it is a summary for reviewers.
const SKELETON_MAX_BYTES: usize = 256 * 1024;
/// Strings in a tool call's parameters longer than this show as `[N chars]`, as droid does.
const SKELETON_PARAM_CHARS: usize = 200;
/// A tool result in the skeleton keeps this many characters.
const SKELETON_RESULT_CHARS: usize = 2000;
/// Beside the transcript: the exact (redacted) body of each request a server rejected.
pub const REJECTED_REQUESTS_DIR: &str = "rejected-requests";
pub const TRANSCRIPT_VERSION: u32 = 1;

/// Usage of a whole mission, shared by all its sessions.
pub type SharedUsage = Arc<Mutex<UsageRollup>>;

/// Serialises appends from this process, so parallel sessions never interleave a tail repair
/// with another session's write.
static APPEND_LOCK: Mutex<()> = Mutex::new(());

/// What a transcript line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    SessionStart,
    Request,
    AssistantTurn,
    ToolCall,
    ToolResult,
    Usage,
    Retry,
    Error,
    Handoff,
    SessionEnd,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::SessionStart => "session_start",
            LineKind::Request => "request",
            LineKind::AssistantTurn => "assistant_turn",
            LineKind::ToolCall => "tool_call",
            LineKind::ToolResult => "tool_result",
            LineKind::Usage => "usage",
            LineKind::Retry => "retry",
            LineKind::Error => "error",
            LineKind::Handoff => "handoff",
            LineKind::SessionEnd => "session_end",
        }
    }
}

/// The transcript of one agent session. Writing never fails the session: a failed write is
/// logged and kept in [`SessionTranscript::write_error`] for the runner to act on.
pub struct SessionTranscript {
    path: PathBuf,
    mission_id: String,
    session_id: String,
    role: AgentRole,
    seq: u64,
    usage: SharedUsage,
    session_usage: Usage,
    logged_messages: usize,
    logged_system: Option<Vec<String>>,
    logged_tools: Option<Vec<String>>,
    write_error: Option<String>,
    ended: bool,
    /// droid's skeleton of the conversation so far (`## User`, `## Assistant`, `## Tool: x`,
    /// `## Tool Result`).
    skeleton: String,
    /// The last model call's usage was estimated (the server reported none).
    last_estimated: bool,
    /// The session's model (`session_start`'s `model`, else the first request's), which its
    /// usage is priced by.
    model: Option<String>,
}

/// A fresh session id.
pub fn new_session_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl SessionTranscript {
    /// Opens the session and writes `session_start` with `details` (provider, model, feature…).
    pub fn start(
        mission_dir: &Path,
        mission_id: &str,
        session_id: &str,
        role: AgentRole,
        usage: SharedUsage,
        details: Value,
    ) -> Self {
        let model = details.get("model").and_then(Value::as_str).map(str::to_string);
        let mut t = SessionTranscript {
            model,
            path: mission_dir.join(TRANSCRIPT_FILE),
            mission_id: mission_id.to_string(),
            session_id: session_id.to_string(),
            role,
            seq: 0,
            usage,
            session_usage: Usage::default(),
            logged_messages: 0,
            logged_system: None,
            logged_tools: None,
            write_error: None,
            ended: false,
            skeleton: String::new(),
            last_estimated: false,
        };
        t.write(LineKind::SessionStart, details);
        t
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    pub fn role(&self) -> AgentRole {
        self.role
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn session_usage(&self) -> Usage {
        self.session_usage
    }

    /// droid's Markdown skeleton of the session's conversation.
    pub fn skeleton(&self) -> &str {
        &self.skeleton
    }

    fn add_to_skeleton(&mut self, heading: &str, body: &str) {
        if self.skeleton.len() >= SKELETON_MAX_BYTES {
            return;
        }
        let _ = std::fmt::Write::write_fmt(&mut self.skeleton, format_args!("## {heading}\n{}\n\n", body.trim_end()));
        if self.skeleton.len() >= SKELETON_MAX_BYTES {
            let mut end = SKELETON_MAX_BYTES;
            while !self.skeleton.is_char_boundary(end) {
                end -= 1;
            }
            self.skeleton.truncate(end);
            self.skeleton.push_str("\n\n[skeleton cut: the session went on; sessions.jsonl has all of it]\n");
        }
    }

    /// Whether the last model call's usage is an estimate (the server reported none).
    pub fn last_usage_estimated(&self) -> bool {
        self.last_estimated
    }

    /// The last write failure, if any line could not be written.
    pub fn write_error(&self) -> Option<&str> {
        self.write_error.as_deref()
    }

    /// Logs a request: the messages added since the last one, and the system prompt and tool
    /// names when they changed, so the file holds the conversation once.
    pub fn request(&mut self, provider: &str, model: &str, request: &ModelRequest) {
        if self.model.is_none() {
            self.model = Some(model.to_string());
        }
        if request.messages.len() < self.logged_messages {
            self.logged_messages = 0; // the loop rebuilt its history (e.g. compaction)
        }
        let mut fields = json!({
            "provider": provider,
            "model": model,
            "messageCount": request.messages.len(),
            "newMessages": &request.messages[self.logged_messages..],
        });
        if self.logged_system.as_ref() != Some(&request.system) {
            fields["system"] = json!(request.system);
            self.logged_system = Some(request.system.clone());
        }
        let tools: Vec<String> = request.tools.iter().map(|t| t.name.clone()).collect();
        if self.logged_tools.as_ref() != Some(&tools) {
            fields["tools"] = json!(tools);
            self.logged_tools = Some(tools);
        }
        // The first message is the session's task: the skeleton's `## User`.
        if self.logged_messages == 0 && self.skeleton.is_empty() {
            if let Some(first) = request.messages.first() {
                let text = first.text();
                self.add_to_skeleton("User", &text);
            }
        }
        self.logged_messages = request.messages.len();
        self.write(LineKind::Request, fields);
    }

    pub fn assistant_turn(&mut self, turn: &AssistantTurn) {
        let text = turn.text();
        if !text.trim().is_empty() {
            self.add_to_skeleton("Assistant", &text);
        }
        self.write(LineKind::AssistantTurn, json!({"content": turn.content, "stopReason": turn.stop_reason}));
    }

    /// Adds one call's usage to the session, role and mission totals and logs all four.
    pub fn usage(&mut self, usage: Usage) {
        self.usage_line(usage, false);
    }

    /// [`SessionTranscript::usage`]; `estimated` marks usage the server did not report (the
    /// line then says `"estimated": true`, and the report flags it).
    pub fn usage_line(&mut self, usage: Usage, estimated: bool) {
        self.session_usage += usage;
        let (role_total, mission_total) = {
            let mut rollup = self.usage.lock().unwrap_or_else(|p| p.into_inner());
            rollup.record(&self.session_id, self.role.as_str(), self.model.as_deref(), usage);
            (rollup.role(self.role.as_str()), rollup.mission)
        };
        let mut fields = json!({"usage": usage, "sessionTotal": self.session_usage, "roleTotal": role_total, "missionTotal": mission_total});
        if estimated {
            fields["estimated"] = json!(true);
        }
        self.write(LineKind::Usage, fields);
    }

    pub fn tool_call(&mut self, id: &str, name: &str, input: &Value) {
        let params = serde_json::to_string_pretty(&shorten_strings(input)).unwrap_or_default();
        self.add_to_skeleton(&format!("Tool: {name}"), &params);
        self.write(LineKind::ToolCall, json!({"toolUseId": id, "name": name, "input": input}));
    }

    pub fn tool_result(&mut self, id: &str, name: &str, content: &str, is_error: bool) {
        let shown: String = content.chars().take(SKELETON_RESULT_CHARS).collect();
        let more = content.chars().count().saturating_sub(SKELETON_RESULT_CHARS);
        let body = if more > 0 { format!("{shown}\n[{more} more chars]") } else { shown };
        self.add_to_skeleton("Tool Result", &body);
        self.write(
            LineKind::ToolResult,
            json!({"toolUseId": id, "name": name, "content": content, "isError": is_error}),
        );
    }

    pub fn retry(&mut self, notice: &RetryNotice) {
        self.write(
            LineKind::Retry,
            json!({
                "attempt": notice.attempt,
                "delayMs": notice.delay.as_millis() as u64,
                "discardedEvents": notice.discarded_events,
                "error": error_json(&notice.error),
            }),
        );
    }

    pub fn error(&mut self, error: &ProviderError) {
        self.error_with(error, None);
    }

    /// An `error` line; `request_body` names the file keeping the rejected request's body.
    fn error_with(&mut self, error: &ProviderError, request_body: Option<String>) {
        let mut fields = json!({"error": error_json(error)});
        if let Some(file) = request_body {
            fields["requestBody"] = json!(file);
        }
        self.write(LineKind::Error, fields);
    }

    /// Keeps the body a server rejected, redacted, as `rejected-requests/<session>-<seq>.json`
    /// beside the transcript; the path relative to the mission folder, or `None` when the
    /// provider sends no body or it cannot be written (logged).
    fn keep_rejected_body(&mut self, body: Option<Value>) -> Option<String> {
        let body = body?;
        let dir = self.path.parent()?.join(REJECTED_REQUESTS_DIR);
        let name = format!("{}-{}.json", self.session_id, self.seq);
        let mut text = redact(&serde_json::to_string_pretty(&body).unwrap_or_default());
        text.push('\n');
        let written = std::fs::create_dir_all(&dir)
            .and_then(|_| crate::model::persist::write_atomic(&dir.join(&name), text.as_bytes()));
        match written {
            Ok(()) => Some(format!("{REJECTED_REQUESTS_DIR}/{name}")),
            Err(e) => {
                tracing::error!("cannot keep the rejected request in {}: {e}", dir.display());
                None
            }
        }
    }

    pub fn handoff(&mut self, handoff: &Value) {
        self.write(LineKind::Handoff, json!({"handoff": handoff}));
    }

    /// Writes `session_end` once; `status` is e.g. `completed`, `failed`, `cancelled`.
    pub fn end(&mut self, status: &str) {
        self.end_with(status, json!({}));
    }

    /// Writes `session_end` once, with more fields (the reason a session stopped, its turns).
    pub fn end_with(&mut self, status: &str, details: Value) {
        if self.ended {
            return;
        }
        self.ended = true;
        let mut fields = json!({"status": status, "usage": self.session_usage});
        if let (Value::Object(f), Value::Object(d)) = (&mut fields, details) {
            f.extend(d);
        }
        self.write(LineKind::SessionEnd, fields);
    }

    /// The whole mission's usage so far (all sessions sharing this roll-up).
    pub fn mission_usage(&self) -> Usage {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).mission
    }

    /// The whole mission's roll-up so far (per role and model, for its cost).
    pub fn mission_rollup(&self) -> UsageRollup {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// One model call with retries, logged: `request`, any `retry` lines, then
    /// `assistant_turn` + `usage`, or `error`. `on_event` sees the events as they stream.
    /// A server that reports no usage gets an estimate ([`Usage::estimate`], flagged
    /// `estimated`); a request the server rejects is kept beside the transcript.
    pub async fn model_call(
        &mut self,
        provider: &dyn Provider,
        request: &ModelRequest,
        policy: &RetryPolicy,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(&StreamEvent) + Send),
    ) -> Result<AssistantTurn, ProviderError> {
        let mut watch = EventsOnly { on_event };
        self.model_call_observed(provider, request, policy, cancel, &mut watch).await
    }

    /// [`SessionTranscript::model_call`] with an observer that also sees each retry as it
    /// is about to happen (after its `retry` line is written), for a live display.
    pub async fn model_call_observed(
        &mut self,
        provider: &dyn Provider,
        request: &ModelRequest,
        policy: &RetryPolicy,
        cancel: &CancellationToken,
        watch: &mut dyn TurnObserver,
    ) -> Result<AssistantTurn, ProviderError> {
        self.request(provider.name(), provider.model(), request);
        let mut observer = LoggingObserver { transcript: self, watch };
        let mut result = complete_turn(provider, request, policy, cancel, &mut observer).await;
        match &mut result {
            Ok(turn) => {
                // A real call is never free: all zeros means the server did not say.
                let estimated = turn.usage.is_zero();
                if estimated {
                    turn.usage = estimate_usage(provider, request, turn);
                }
                self.last_estimated = estimated;
                self.assistant_turn(turn);
                self.usage_line(turn.usage, estimated);
            }
            Err(e) if e.is_rejection() => {
                let file = self.keep_rejected_body(provider.wire_body(request));
                self.error_with(e, file);
            }
            Err(e) => self.error(e),
        }
        result
    }

    fn write(&mut self, kind: LineKind, fields: Value) {
        // The envelope wins over the fields: a detail named `kind` must not rename the line.
        let mut line = match fields {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        line.insert("v".into(), json!(TRANSCRIPT_VERSION));
        line.insert("ts".into(), json!(now_rfc3339()));
        line.insert("missionId".into(), json!(self.mission_id));
        line.insert("sessionId".into(), json!(self.session_id));
        line.insert("role".into(), json!(self.role));
        line.insert("seq".into(), json!(self.seq));
        line.insert("kind".into(), json!(kind.as_str()));
        self.seq += 1;
        let mut text = redact(&Value::Object(line).to_string());
        text.push('\n');
        let result = {
            let _guard = APPEND_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            crate::model::persist::append_line_bytes(&self.path, text.as_bytes())
        };
        if let Err(e) = result {
            let message = redact(&format!("cannot append to {}: {e}", self.path.display()));
            tracing::error!("{message}");
            self.write_error = Some(message);
        }
    }
}

impl Drop for SessionTranscript {
    /// A session dropped without `end` (a panic, an early return) still gets its end line.
    fn drop(&mut self) {
        self.end("abandoned");
    }
}

struct LoggingObserver<'a> {
    transcript: &'a mut SessionTranscript,
    watch: &'a mut dyn TurnObserver,
}

impl TurnObserver for LoggingObserver<'_> {
    fn on_event(&mut self, event: &StreamEvent) {
        self.watch.on_event(event);
    }

    fn on_retry(&mut self, retry: &RetryNotice) {
        self.transcript.retry(retry);
        self.watch.on_retry(retry);
    }

    fn on_waiting(&mut self, wait: &WaitNotice) {
        self.watch.on_waiting(wait);
    }
}

/// Usage for a call the server reported none for: the request body as the provider sends it
/// (or our own form of it) and the answer's text and tool calls, at
/// [`crate::agent::usage::ESTIMATE_BYTES_PER_TOKEN`].
fn estimate_usage(provider: &dyn Provider, request: &ModelRequest, turn: &AssistantTurn) -> Usage {
    let request_bytes = match provider.wire_body(request) {
        Some(body) => body.to_string().len(),
        None => serde_json::to_string(request).map_or(0, |s| s.len()),
    };
    let answer_bytes: usize = turn
        .content
        .iter()
        .map(|block| match block {
            crate::agent::message::ContentBlock::Text { text } => text.len(),
            crate::agent::message::ContentBlock::ToolUse { name, input, .. } => name.len() + input.to_string().len(),
            crate::agent::message::ContentBlock::ToolResult { content, .. } => content.len(),
        })
        .sum();
    Usage::estimate(request_bytes, answer_bytes)
}

struct EventsOnly<'a> {
    on_event: &'a mut (dyn FnMut(&StreamEvent) + Send),
}

impl TurnObserver for EventsOnly<'_> {
    fn on_event(&mut self, event: &StreamEvent) {
        (self.on_event)(event);
    }
}

/// A session's observer watching its model calls: events as they stream, and retries named
/// after `who` (the session's role).
pub(crate) struct SessionWatch<'a> {
    pub observer: &'a mut dyn SessionObserver,
    pub who: &'a str,
}

impl TurnObserver for SessionWatch<'_> {
    fn on_event(&mut self, event: &StreamEvent) {
        self.observer.on_event(event);
    }

    fn on_retry(&mut self, retry: &RetryNotice) {
        self.observer.on_retry(self.who, retry);
    }

    fn on_waiting(&mut self, wait: &WaitNotice) {
        self.observer.on_waiting(self.who, wait);
    }
}

/// Tool parameters as droid's skeleton shows them: long strings as `[N chars]`.
fn shorten_strings(value: &Value) -> Value {
    match value {
        Value::String(s) if s.chars().count() > SKELETON_PARAM_CHARS => {
            Value::String(format!("[{} chars]", s.chars().count()))
        }
        Value::Array(items) => Value::Array(items.iter().map(shorten_strings).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), shorten_strings(v))).collect()),
        other => other.clone(),
    }
}

fn error_json(e: &ProviderError) -> Value {
    json!({"kind": e.kind.as_str(), "status": e.status, "message": e.message})
}

/// Rebuilds the usage roll-up from a transcript (for a resumed mission or a report). Torn or
/// foreign lines are skipped. A session's model is its `session_start`'s, else its first
/// request's, as the session itself recorded it.
pub fn rollup_from_transcript(path: &Path) -> io::Result<UsageRollup> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(UsageRollup::default()),
        Err(e) => return Err(e),
    };
    let mut rollup = UsageRollup::default();
    let mut models: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let kind = v.get("kind").and_then(Value::as_str);
        if matches!(kind, Some("session_start" | "request")) {
            if let (Some(session), Some(model)) =
                (v.get("sessionId").and_then(Value::as_str), v.get("model").and_then(Value::as_str))
            {
                models.entry(session.to_string()).or_insert_with(|| model.to_string());
            }
            continue;
        }
        if kind != Some("usage") {
            continue;
        }
        let (Some(session), Some(role), Some(usage)) = (
            v.get("sessionId").and_then(Value::as_str),
            v.get("role").and_then(Value::as_str),
            v.get("usage").and_then(|u| serde_json::from_value::<Usage>(u.clone()).ok()),
        ) else {
            continue;
        };
        rollup.record(session, role, models.get(session).map(String::as_str), usage);
    }
    Ok(rollup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::message::{ContentBlock, Message, StopReason};

    fn read_lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn lines_carry_the_envelope_and_usage_rolls_up() {
        let dir = tempfile::tempdir().unwrap();
        let shared = SharedUsage::default();
        let u = Usage { input: 10, cache_read: 100, cache_write: 5, output: 7 };
        {
            let mut t = SessionTranscript::start(
                dir.path(),
                "mis_1",
                "s1",
                AgentRole::Worker,
                shared.clone(),
                json!({"model": "m"}),
            );
            let mut req = ModelRequest { system: vec!["sys".into()], ..Default::default() };
            req.messages.push(Message::user_text("hi"));
            t.request("openai", "m", &req);
            let turn = AssistantTurn {
                content: vec![ContentBlock::Text { text: "hello".into() }],
                stop_reason: StopReason::EndTurn,
                usage: u,
            };
            t.assistant_turn(&turn);
            t.usage(u);
            req.messages.push(turn.to_message());
            req.messages.push(Message::user_text("again"));
            t.request("openai", "m", &req);
            t.usage(u);
            t.handoff(&json!({"status": "completed"}));
            t.end("completed");
        }
        let mut v =
            SessionTranscript::start(dir.path(), "mis_1", "s2", AgentRole::Validator, shared.clone(), json!({}));
        v.usage(u);
        drop(v); // no explicit end: Drop writes it

        let lines = read_lines(&dir.path().join(TRANSCRIPT_FILE));
        let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "session_start",
                "request",
                "assistant_turn",
                "usage",
                "request",
                "usage",
                "handoff",
                "session_end",
                "session_start",
                "usage",
                "session_end"
            ]
        );
        for (i, l) in lines[..8].iter().enumerate() {
            assert_eq!(l["v"], 1);
            assert_eq!(l["missionId"], "mis_1");
            assert_eq!(l["sessionId"], "s1");
            assert_eq!(l["role"], "worker");
            assert_eq!(l["seq"], i as u64);
            assert!(l["ts"].as_str().unwrap().ends_with('Z'));
        }
        // The second request logs only what is new, and not the unchanged system prompt.
        assert_eq!(lines[4]["newMessages"].as_array().unwrap().len(), 2);
        assert!(lines[4].get("system").is_none());
        assert_eq!(lines[5]["sessionTotal"]["input"], 20);
        assert_eq!(lines[6]["handoff"]["status"], "completed");
        assert_eq!(lines[7]["usage"]["cacheRead"], 200);
        assert_eq!(lines[9]["missionTotal"]["output"], 21);
        assert_eq!(lines[9]["roleTotal"]["output"], 7);
        assert_eq!(lines[10]["status"], "abandoned");

        let rollup = shared.lock().unwrap().clone();
        assert_eq!(rollup.mission, u + u + u);
        assert_eq!(rollup_from_transcript(&dir.path().join(TRANSCRIPT_FILE)).unwrap(), rollup);
    }
}
