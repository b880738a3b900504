//! Builds an [`AssistantTurn`] from stream events, whatever wire format they came from.

use crate::agent::error::{ErrorKind, ProviderError};
use crate::agent::event::StreamEvent;
use crate::agent::message::{AssistantTurn, ContentBlock, StopReason};
use crate::agent::usage::Usage;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct TurnAccumulator {
    blocks: Vec<PartialBlock>,
    /// Tool-call index -> position in `blocks`.
    tool_positions: HashMap<usize, usize>,
    usage: Usage,
    stop: Option<StopReason>,
    events_seen: usize,
}

#[derive(Debug)]
enum PartialBlock {
    Text(String),
    Tool { id: String, name: String, args: String, ended: bool },
}

impl TurnAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many events were applied; a retry after the first one must discard them.
    pub fn events_seen(&self) -> usize {
        self.events_seen
    }

    pub fn is_complete(&self) -> bool {
        self.stop.is_some()
    }

    pub fn apply(&mut self, event: &StreamEvent) -> Result<(), ProviderError> {
        if self.stop.is_some() {
            return Err(invalid("event after the stop event"));
        }
        self.events_seen += 1;
        match event {
            StreamEvent::TextDelta { text } => match self.blocks.last_mut() {
                Some(PartialBlock::Text(t)) => t.push_str(text),
                _ => self.blocks.push(PartialBlock::Text(text.clone())),
            },
            StreamEvent::ToolCallStart { index, id, name } => {
                if self.tool_positions.contains_key(index) {
                    return Err(invalid(&format!("tool call {index} started twice")));
                }
                self.tool_positions.insert(*index, self.blocks.len());
                self.blocks.push(PartialBlock::Tool {
                    id: id.clone(),
                    name: name.clone(),
                    args: String::new(),
                    ended: false,
                });
            }
            StreamEvent::ToolCallArgsDelta { index, json } => match self.tool_mut(*index)? {
                PartialBlock::Tool { args, ended: false, .. } => args.push_str(json),
                _ => return Err(invalid(&format!("arguments for ended tool call {index}"))),
            },
            StreamEvent::ToolCallEnd { index } => {
                if let PartialBlock::Tool { ended, .. } = self.tool_mut(*index)? {
                    *ended = true;
                }
            }
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Stop(reason) => self.stop = Some(reason.clone()),
        }
        Ok(())
    }

    fn tool_mut(&mut self, index: usize) -> Result<&mut PartialBlock, ProviderError> {
        let pos =
            *self.tool_positions.get(&index).ok_or_else(|| invalid(&format!("tool call {index} was never started")))?;
        Ok(&mut self.blocks[pos])
    }

    /// The finished turn. Fails when the stream never said it was done.
    pub fn finish(self) -> Result<AssistantTurn, ProviderError> {
        let Some(stop_reason) = self.stop else {
            return Err(ProviderError::new(ErrorKind::StreamInterrupted, "stream ended before the turn was complete"));
        };
        let content = self
            .blocks
            .into_iter()
            .filter_map(|b| match b {
                PartialBlock::Text(t) if t.is_empty() => None,
                PartialBlock::Text(text) => Some(ContentBlock::Text { text }),
                PartialBlock::Tool { id, name, args, .. } => {
                    Some(ContentBlock::ToolUse { id, name, input: parse_arguments(&args) })
                }
            })
            .collect();
        Ok(AssistantTurn { content, stop_reason, usage: self.usage })
    }
}

/// Empty arguments mean "no arguments"; invalid JSON is kept as raw text for the loop to reject.
fn parse_arguments(raw: &str) -> Value {
    if raw.trim().is_empty() {
        return Value::Object(Default::default());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

fn invalid(what: &str) -> ProviderError {
    ProviderError::new(ErrorKind::InvalidResponse, format!("malformed event stream: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(events: &[StreamEvent]) -> Result<AssistantTurn, ProviderError> {
        let mut acc = TurnAccumulator::new();
        for e in events {
            acc.apply(e)?;
        }
        acc.finish()
    }

    #[test]
    fn text_and_tool_calls_keep_their_order() {
        use StreamEvent::*;
        let turn = run(&[
            TextDelta { text: "Let me ".into() },
            TextDelta { text: "look.".into() },
            ToolCallStart { index: 1, id: "t1".into(), name: "read_file".into() },
            ToolCallArgsDelta { index: 1, json: "{\"pa".into() },
            ToolCallArgsDelta { index: 1, json: "th\": \"a.rs\"}".into() },
            ToolCallEnd { index: 1 },
            ToolCallStart { index: 2, id: "t2".into(), name: "list_files".into() },
            ToolCallEnd { index: 2 },
            Usage(crate::agent::usage::Usage { input: 5, output: 7, ..Default::default() }),
            Stop(StopReason::ToolUse),
        ])
        .unwrap();
        assert_eq!(turn.text(), "Let me look.");
        let calls = turn.tool_calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].input, &json!({"path": "a.rs"}));
        assert_eq!(calls[1].input, &json!({}));
        assert_eq!(turn.usage.output, 7);
        assert_eq!(turn.stop_reason, StopReason::ToolUse);
    }

    #[test]
    fn malformed_arguments_are_kept_raw() {
        use StreamEvent::*;
        let turn = run(&[
            ToolCallStart { index: 0, id: "t".into(), name: "bash".into() },
            ToolCallArgsDelta { index: 0, json: "{\"command\": ".into() },
            Stop(StopReason::ToolUse),
        ])
        .unwrap();
        assert_eq!(turn.tool_calls()[0].input, &json!("{\"command\": "));
    }

    #[test]
    fn protocol_violations_are_errors_not_panics() {
        use StreamEvent::*;
        let e = run(&[ToolCallArgsDelta { index: 3, json: "{}".into() }]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidResponse);
        let e = run(&[Stop(StopReason::EndTurn), TextDelta { text: "late".into() }]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidResponse);
        let e = run(&[TextDelta { text: "half".into() }]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::StreamInterrupted);
    }
}
