//! The one event model every wire format is decoded into.

use crate::agent::message::{AssistantTurn, ContentBlock, StopReason};
use crate::agent::usage::Usage;
use serde::{Deserialize, Serialize};

/// One streamed event of an assistant turn. A well-formed stream ends with `Stop`.
///
/// `index` identifies a tool call within the turn (the decoder assigns it, so two calls never
/// share one, whatever the wire format did).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    TextDelta {
        text: String,
    },
    ToolCallStart {
        index: usize,
        id: String,
        name: String,
    },
    ToolCallArgsDelta {
        index: usize,
        json: String,
    },
    ToolCallEnd {
        index: usize,
    },
    /// The turn's usage so far; a later `Usage` replaces an earlier one.
    Usage(Usage),
    Stop(StopReason),
}

/// The events that rebuild `turn` exactly: how a recorded turn is streamed again (replay).
pub fn events_from_turn(turn: &AssistantTurn) -> Vec<StreamEvent> {
    let mut out = Vec::new();
    for (index, block) in turn.content.iter().enumerate() {
        match block {
            ContentBlock::Text { text } => out.push(StreamEvent::TextDelta { text: text.clone() }),
            ContentBlock::ToolUse { id, name, input } => {
                out.push(StreamEvent::ToolCallStart { index, id: id.clone(), name: name.clone() });
                let json = match input {
                    serde_json::Value::String(raw) => raw.clone(),
                    other => other.to_string(),
                };
                out.push(StreamEvent::ToolCallArgsDelta { index, json });
                out.push(StreamEvent::ToolCallEnd { index });
            }
            // Tool results belong to user messages, never to an assistant turn.
            ContentBlock::ToolResult { .. } => {}
        }
    }
    out.push(StreamEvent::Usage(turn.usage));
    out.push(StreamEvent::Stop(turn.stop_reason.clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::accumulate::TurnAccumulator;
    use serde_json::json;

    #[test]
    fn a_turn_survives_events_and_json_round_trips() {
        let turn = AssistantTurn {
            content: vec![
                ContentBlock::Text { text: "Looking.".into() },
                ContentBlock::ToolUse { id: "t1".into(), name: "read_file".into(), input: json!({"path": "a"}) },
                ContentBlock::ToolUse { id: "t2".into(), name: "bash".into(), input: json!("{not json") },
            ],
            stop_reason: StopReason::Other("pause_turn".into()),
            usage: Usage { input: 1, cache_read: 2, cache_write: 3, output: 4 },
        };
        let mut acc = TurnAccumulator::new();
        for e in events_from_turn(&turn) {
            let e: StreamEvent = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
            acc.apply(&e).unwrap();
        }
        assert_eq!(acc.finish().unwrap(), turn);
        let back: AssistantTurn = serde_json::from_value(serde_json::to_value(&turn).unwrap()).unwrap();
        assert_eq!(back, turn);
    }
}
