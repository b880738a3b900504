//! `replay` provider: answers model calls from a recorded `worker-transcripts.jsonl`, so a
//! recorded mission runs again offline. Sessions are matched by role and order (the n-th
//! worker session of the replay gets the n-th recorded worker session's turns); the tools
//! really run, only the model is replayed.

use crate::agent::error::{ErrorKind, ProviderError};
use crate::agent::event::events_from_turn;
use crate::agent::message::{AssistantTurn, ContentBlock, ModelRequest, StopReason};
use crate::agent::provider::{EventStream, Provider};
use crate::agent::usage::Usage;
use crate::config::AgentRole;
use futures::future::BoxFuture;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;

/// One recorded session's model answers.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedSession {
    pub session_id: String,
    pub role: AgentRole,
    pub model: Option<String>,
    pub turns: Vec<AssistantTurn>,
}

/// A recording, with a cursor per role handing out its sessions in order.
#[derive(Debug, Default)]
pub struct Recording {
    sessions: Vec<RecordedSession>,
    next: Mutex<HashMap<AgentRole, usize>>,
}

impl Recording {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read the recording {}: {e}", path.display()))?;
        let recording = Self::parse(&text);
        if recording.sessions.is_empty() {
            return Err(format!("the recording {} holds no agent session", path.display()));
        }
        Ok(recording)
    }

    /// Reads transcript lines; torn, foreign and unknown lines are skipped.
    pub fn parse(text: &str) -> Self {
        let mut sessions: Vec<RecordedSession> = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        // Usage reported before a session's next turn (external agents report it early).
        let mut pending: HashMap<usize, Usage> = HashMap::new();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let (Some(id), Some(role)) = (
                v["sessionId"].as_str(),
                v.get("role").and_then(|r| serde_json::from_value::<AgentRole>(r.clone()).ok()),
            ) else {
                continue;
            };
            let index = *by_id.entry(id.to_string()).or_insert_with(|| {
                sessions.push(RecordedSession { session_id: id.to_string(), role, model: None, turns: Vec::new() });
                sessions.len() - 1
            });
            let session = &mut sessions[index];
            match v["kind"].as_str().unwrap_or_default() {
                "session_start" => session.model = v["model"].as_str().map(str::to_string),
                "assistant_turn" => {
                    let Ok(content) = serde_json::from_value::<Vec<ContentBlock>>(v["content"].clone()) else {
                        continue;
                    };
                    let stop_reason =
                        serde_json::from_value::<StopReason>(v["stopReason"].clone()).unwrap_or(StopReason::EndTurn);
                    let usage = pending.remove(&index).unwrap_or_default();
                    session.turns.push(AssistantTurn { content, stop_reason, usage });
                }
                "usage" => {
                    let Ok(usage) = serde_json::from_value::<Usage>(v["usage"].clone()) else {
                        continue;
                    };
                    match session.turns.last_mut() {
                        Some(turn) if turn.usage.is_zero() => turn.usage = usage,
                        _ => *pending.entry(index).or_default() += usage,
                    }
                }
                _ => {}
            }
        }
        Recording { sessions, next: Mutex::new(HashMap::new()) }
    }

    pub fn sessions(&self) -> &[RecordedSession] {
        &self.sessions
    }

    /// The provider for the next session of `role`, or `None` when the recording has no more.
    pub fn next_session(&self, role: AgentRole) -> Option<ReplayProvider> {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let seen = next.entry(role).or_insert(0);
        let session = self.sessions.iter().filter(|s| s.role == role).nth(*seen)?;
        *seen += 1;
        Some(ReplayProvider::new(session.clone()))
    }
}

/// Streams a recorded session's turns, one per model call, in order.
pub struct ReplayProvider {
    recorded_session_id: String,
    model: String,
    turns: Mutex<VecDeque<AssistantTurn>>,
}

impl ReplayProvider {
    pub fn new(session: RecordedSession) -> Self {
        ReplayProvider {
            recorded_session_id: session.session_id,
            model: session.model.unwrap_or_else(|| "replay".into()),
            turns: Mutex::new(session.turns.into()),
        }
    }

    /// The session of the recording this provider replays.
    pub fn recorded_session_id(&self) -> &str {
        &self.recorded_session_id
    }

    pub fn turns_left(&self) -> usize {
        self.turns.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Provider for ReplayProvider {
    fn name(&self) -> &str {
        "replay"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn stream<'a>(&'a self, _request: &'a ModelRequest) -> BoxFuture<'a, Result<EventStream, ProviderError>> {
        let turn = self.turns.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        Box::pin(async move {
            let turn = turn.ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::BadRequest,
                    format!(
                        "the recording has no more turns for session {} (the replay diverged from it)",
                        self.recorded_session_id
                    ),
                )
            })?;
            let events: Vec<_> = events_from_turn(&turn).into_iter().map(Ok).collect();
            Ok(Box::pin(futures::stream::iter(events)) as EventStream)
        })
    }
}
