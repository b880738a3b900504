//! One model call made reliable: retries with backoff, whole-turn re-sends after a broken
//! stream, an overall deadline, and cancellation.

use crate::agent::accumulate::TurnAccumulator;
use crate::agent::cancel::{cancellable, sleep_cancellable, CancellationToken};
use crate::agent::error::{ErrorKind, ProviderError};
use crate::agent::event::StreamEvent;
use crate::agent::message::{AssistantTurn, ModelRequest};
use crate::agent::provider::Provider;
use crate::agent::retry::{format_secs, RetryPolicy};
use futures::StreamExt;
use std::time::{Duration, Instant};

/// A retry about to happen.
#[derive(Debug, Clone)]
pub struct RetryNotice {
    /// The attempt that failed, from 1.
    pub attempt: u32,
    pub delay: Duration,
    pub error: ProviderError,
    /// Events of the failed attempt already passed to `on_event`; a consumer showing them
    /// must drop them, the turn starts over.
    pub discarded_events: usize,
}

/// Watches a call as it happens: streamed events (for live display) and retries.
pub trait TurnObserver: Send {
    fn on_event(&mut self, _event: &StreamEvent) {}
    fn on_retry(&mut self, _retry: &RetryNotice) {}
}

/// An observer that watches nothing.
pub struct NoObserver;
impl TurnObserver for NoObserver {}

/// Makes one model call and returns the finished turn.
///
/// Failures before the first event (HTTP errors, refused connections) are retried when their
/// kind allows; a stream that breaks after events arrived re-sends the whole turn. An unavailable
/// provider is retried until `policy.deadline` (`max_outage_attempts` is only a safety net);
/// broken or stalled streams stop at `policy.max_attempts` too. Cancellation returns `Cancelled`
/// at once.
pub async fn complete_turn(
    provider: &dyn Provider,
    request: &ModelRequest,
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    observer: &mut dyn TurnObserver,
) -> Result<AssistantTurn, ProviderError> {
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let mut seen = 0usize;
        let error = match attempt_turn(provider, request, cancel, observer, &mut seen).await {
            Ok(turn) => return Ok(turn),
            Err(e) => e,
        };
        if !policy.allows_another(attempt, &error) {
            return Err(error);
        }
        let delay = policy.delay_for(attempt, &error);
        let elapsed = started.elapsed();
        if elapsed + delay > policy.deadline {
            let deadline = format_secs(policy.deadline);
            let why = match error.retry_after {
                Some(wait) if wait > policy.deadline => format!(
                    "the provider asked to wait {} s, beyond the {deadline} s retry deadline",
                    format_secs(wait)
                ),
                Some(wait) => format!(
                    "the provider asked to wait {} s, past the {deadline} s retry deadline after {} s of retries",
                    format_secs(wait),
                    elapsed.as_secs()
                ),
                None => format!(
                    "retry deadline of {deadline} s reached after {attempt} attempts"
                ),
            };
            return Err(ProviderError {
                message: format!("{} ({why})", error.message),
                ..error
            });
        }
        observer.on_retry(&RetryNotice {
            attempt,
            delay,
            error,
            discarded_events: seen,
        });
        sleep_cancellable(cancel, delay).await?;
    }
}

async fn attempt_turn(
    provider: &dyn Provider,
    request: &ModelRequest,
    cancel: &CancellationToken,
    observer: &mut dyn TurnObserver,
    seen: &mut usize,
) -> Result<AssistantTurn, ProviderError> {
    let mut stream = cancellable(cancel, provider.stream(request)).await?;
    let mut acc = TurnAccumulator::new();
    loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ProviderError::cancelled()),
            next = stream.next() => next,
        };
        match next {
            None => break,
            Some(Err(e)) => return Err(e),
            Some(Ok(event)) => {
                acc.apply(&event)?;
                *seen += 1;
                observer.on_event(&event);
                if acc.is_complete() {
                    break;
                }
            }
        }
    }
    acc.finish().map_err(|e| match e.kind {
        ErrorKind::StreamInterrupted => ProviderError::new(
            ErrorKind::StreamInterrupted,
            format!("{} ({} events received)", e.message, *seen),
        ),
        _ => e,
    })
}
