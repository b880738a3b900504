//! Conversation types shared by every provider: what the agent loop sends and what it gets back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who wrote a message. System text travels separately in [`ModelRequest::system`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
}

/// One piece of a message. Tool results go in user messages, tool uses in assistant messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    /// A call the model asked for. `input` is the parsed JSON arguments; arguments that were not
    /// valid JSON are kept as a `Value::String` of the raw text so the loop can answer with an
    /// error result instead of losing the call.
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        #[serde(rename = "toolUseId")]
        tool_use_id: String,
        content: String,
        #[serde(rename = "isError", default, skip_serializing_if = "is_false")]
        is_error: bool,
    },
}

/// Tool-call arguments as they go back to a server in the conversation: always a JSON
/// object, as every wire format requires. Arguments that were not one (a call cut off at the
/// output limit, or malformed) go back as `{"_invalid_arguments": "<the raw text>"}`, so
/// the history stays valid (llama-server answers 500 to arguments that do not parse).
pub fn arguments_object(input: &Value) -> Value {
    match input {
        Value::Object(_) => input.clone(),
        Value::String(raw) => serde_json::json!({ "_invalid_arguments": raw }),
        other => serde_json::json!({ "_invalid_arguments": other.to_string() }),
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: MessageRole,
    pub content: Vec<ContentBlock>,
}

impl Message {
    pub fn user_text(text: impl Into<String>) -> Self {
        Message { role: MessageRole::User, content: vec![ContentBlock::Text { text: text.into() }] }
    }

    pub fn assistant_text(text: impl Into<String>) -> Self {
        Message { role: MessageRole::Assistant, content: vec![ContentBlock::Text { text: text.into() }] }
    }

    /// The message's text blocks, joined by blank lines.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    /// A user message carrying tool results, in the order the calls were made.
    pub fn tool_results(results: impl IntoIterator<Item = ToolResult>) -> Self {
        Message {
            role: MessageRole::User,
            content: results
                .into_iter()
                .map(|r| ContentBlock::ToolResult {
                    tool_use_id: r.tool_use_id,
                    content: r.content,
                    is_error: r.is_error,
                })
                .collect(),
        }
    }
}

/// The answer to one tool call, as the loop hands it back.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub tool_use_id: String,
    pub content: String,
    pub is_error: bool,
}

/// A tool the model may call: name, description and JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSchema {
    pub name: String,
    pub description: String,
    #[serde(rename = "inputSchema")]
    pub input_schema: Value,
}

/// Everything one model call needs. Providers translate it to their wire format.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelRequest {
    /// System prompt blocks, sent in order (Anthropic system blocks, or OpenAI system messages
    /// joined). The first is the role's instructions, the same for every session of the role
    /// (a prompt-cache breakpoint goes after it); later blocks are this session's.
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSchema>,
    /// Output token limit for this call; `None` uses the provider's setting.
    #[serde(rename = "maxOutputTokens", default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    StopSequence,
    ContentFilter,
    /// Any reason a server reports that has no name above.
    Other(String),
}

/// A finished assistant turn built by [`crate::agent::accumulate::TurnAccumulator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantTurn {
    pub content: Vec<ContentBlock>,
    #[serde(rename = "stopReason")]
    pub stop_reason: StopReason,
    pub usage: crate::agent::usage::Usage,
}

/// A tool call taken out of an assistant turn.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub input: &'a Value,
}

impl AssistantTurn {
    /// All text of the turn, blocks joined without separators.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn tool_calls(&self) -> Vec<ToolCall<'_>> {
        self.content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::ToolUse { id, name, input } => Some(ToolCall { id, name, input }),
                _ => None,
            })
            .collect()
    }

    /// The turn as a message to append to the conversation.
    pub fn to_message(&self) -> Message {
        Message { role: MessageRole::Assistant, content: self.content.clone() }
    }
}
