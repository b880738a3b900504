//! Agent runtime: model providers, tools, transcripts, token accounting, retries.
//!
//! A model call goes `ModelRequest` -> [`provider::Provider::stream`] (a wire format decoded
//! into [`event::StreamEvent`]s) -> [`accumulate::TurnAccumulator`] -> [`message::AssistantTurn`].
//! [`turn::complete_turn`] adds retries and cancellation on top; [`transcript::SessionTranscript`]
//! logs every call to the mission's `worker-transcripts.jsonl`.

pub mod accumulate;
pub mod cancel;
pub mod error;
pub mod event;
pub mod final_tool;
pub mod message;
pub mod processes;
pub mod provider;
pub mod providers;
pub mod retry;
pub mod roles;
pub mod schema;
pub mod secrets;
pub mod session;
pub mod sse;
pub mod tools;
pub mod transcript;
pub mod turn;
pub mod usage;

pub use cancel::CancellationToken;
pub use error::{ErrorKind, ProviderError};
pub use event::{events_from_turn, StreamEvent};
pub use final_tool::{AcceptValid, FinalDecision, FinalToolHandler, PlanLint};
pub use message::{
    AssistantTurn, ContentBlock, Message, MessageRole, ModelRequest, StopReason, ToolResult, ToolSchema,
};
pub use provider::{EventStream, Provider};
pub use retry::RetryPolicy;
pub use roles::SessionKind;
pub use session::{run_session, SessionEnd, SessionObserver, SessionOutcome, SessionSpec};
pub use turn::{complete_turn, RetryNotice, TurnObserver, WaitNotice};
pub use usage::Usage;
