//! The `Provider` trait: one model call -> a stream of events.

use crate::agent::error::ProviderError;
use crate::agent::event::StreamEvent;
use crate::agent::message::ModelRequest;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::Value;

/// Events of one assistant turn. It ends after `StreamEvent::Stop`, or with an error.
pub type EventStream = BoxStream<'static, Result<StreamEvent, ProviderError>>;

/// A model backend. `stream` sends the request and resolves once the server has answered
/// (so an HTTP error comes back from the future, before any event); the events follow.
/// Dropping the future or the stream abandons the call and closes its connection, which is
/// how cancellation reaches a provider.
pub trait Provider: Send + Sync {
    /// The backend's name as missions.toml spells it (`anthropic`, `openai`, …).
    fn name(&self) -> &str;
    fn model(&self) -> &str;
    fn stream<'a>(&'a self, request: &'a ModelRequest) -> BoxFuture<'a, Result<EventStream, ProviderError>>;
    /// The JSON body `stream` sends for `request` (kept beside the transcript when the server
    /// rejects it); `None` for a provider that sends no HTTP body.
    fn wire_body(&self, _request: &ModelRequest) -> Option<Value> {
        None
    }
    /// The output-token limit the call runs under, when known: the request's, else the
    /// provider's own setting.
    fn output_limit(&self, request: &ModelRequest) -> Option<u32> {
        request.max_output_tokens
    }
}
