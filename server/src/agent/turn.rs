//! One model call made reliable: retries with backoff, whole-turn re-sends after a broken
//! stream, an overall deadline, cancellation, and notices while the provider keeps us waiting.

use crate::agent::accumulate::TurnAccumulator;
use crate::agent::cancel::{sleep_cancellable, CancellationToken};
use crate::agent::error::{ErrorKind, ProviderError};
use crate::agent::event::StreamEvent;
use crate::agent::message::{AssistantTurn, ModelRequest};
use crate::agent::provider::Provider;
use crate::agent::retry::{format_secs, RetryPolicy};
use futures::StreamExt;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

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

/// An attempt is still waiting for the provider's first event (no answer yet, or an answer
/// that has not begun to stream). Sent every `RetryPolicy::wait_notice_every` while it lasts,
/// then once with `over` when the first event or an error came; a short wait sends nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitNotice {
    /// When the request was sent.
    pub since: SystemTime,
    pub waited: Duration,
    /// The wait ended (the answer began, or the attempt failed).
    pub over: bool,
}

/// Watches a call as it happens: streamed events (for live display), waits and retries.
pub trait TurnObserver: Send {
    fn on_event(&mut self, _event: &StreamEvent) {}
    fn on_retry(&mut self, _retry: &RetryNotice) {}
    fn on_waiting(&mut self, _wait: &WaitNotice) {}
}

/// An observer that watches nothing.
pub struct NoObserver;
impl TurnObserver for NoObserver {}

/// Makes one model call and returns the finished turn.
///
/// Failures before the first event (HTTP errors, refused connections) are retried when their
/// kind allows; a stream that breaks after events arrived re-sends the whole turn. An unavailable
/// provider is retried until `policy.deadline` (`max_outage_attempts` is only a safety net);
/// broken or stalled streams stop at `policy.max_attempts` too, a silent server at
/// `policy.max_first_byte_attempts`, and the very same 5xx answer repeated
/// `policy.max_identical_server_errors` times ends the call as `repeated_server_error`.
/// Cancellation returns `Cancelled` at once.
pub async fn complete_turn(
    provider: &dyn Provider,
    request: &ModelRequest,
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    observer: &mut dyn TurnObserver,
) -> Result<AssistantTurn, ProviderError> {
    let started = Instant::now();
    let mut attempt = 0u32;
    let mut same_server_error = SameAnswer::default();
    loop {
        attempt += 1;
        let mut seen = 0usize;
        let error = match attempt_turn(provider, request, policy, cancel, observer, &mut seen).await {
            Ok(turn) => return Ok(turn),
            Err(e) => e,
        };
        let repeats = same_server_error.count(&error);
        if repeats >= policy.max_identical_server_errors.max(2) {
            return Err(ProviderError {
                kind: ErrorKind::RepeatedServerError,
                message: format!(
                    "{} (the same answer {repeats} times in a row: the server fails on this request, so it is not tried again)",
                    error.message
                ),
                ..error
            });
        }
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
                None => format!("retry deadline of {deadline} s reached after {attempt} attempts"),
            };
            return Err(ProviderError { message: format!("{} ({why})", error.message), ..error });
        }
        observer.on_retry(&RetryNotice { attempt, delay, error, discarded_events: seen });
        sleep_cancellable(cancel, delay).await?;
    }
}

/// Counts the same server failure (status and message) in a row.
#[derive(Default)]
struct SameAnswer {
    last: Option<(Option<u16>, String)>,
    times: u32,
}

impl SameAnswer {
    /// How many times in a row `error` has now been seen; 0 for anything but a server failure
    /// (overloaded and rate-limited answers are outages, waited out until the deadline).
    fn count(&mut self, error: &ProviderError) -> u32 {
        if error.kind != ErrorKind::Server {
            *self = SameAnswer::default();
            return 0;
        }
        let answer = (error.status, error.message.clone());
        if self.last.as_ref() == Some(&answer) {
            self.times += 1;
        } else {
            self.last = Some(answer);
            self.times = 1;
        }
        self.times
    }
}

/// The wait for a provider's first event, told to the observer every `every`.
struct Wait {
    since: SystemTime,
    started: Instant,
    every: Duration,
    told: bool,
    over: bool,
}

impl Wait {
    fn begin(every: Duration) -> Self {
        Wait {
            since: SystemTime::now(),
            started: Instant::now(),
            every: every.max(Duration::from_millis(10)),
            told: false,
            over: false,
        }
    }

    /// Awaits `fut` unless cancelled, telling the observer about the wait meanwhile.
    async fn on<T>(
        &mut self,
        fut: impl Future<Output = T>,
        cancel: &CancellationToken,
        observer: &mut dyn TurnObserver,
    ) -> Result<T, ProviderError> {
        tokio::pin!(fut);
        loop {
            let waited = self.started.elapsed();
            let next = self.every * (waited.as_millis() / self.every.as_millis() + 1) as u32;
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    self.end(observer);
                    return Err(ProviderError::cancelled());
                }
                out = &mut fut => return Ok(out),
                _ = tokio::time::sleep_until((self.started + next).into()) => {
                    self.told = true;
                    observer.on_waiting(&WaitNotice { since: self.since, waited: self.started.elapsed(), over: false });
                }
            }
        }
    }

    /// The first event or an error came: an observer that heard of the wait hears it ended.
    fn end(&mut self, observer: &mut dyn TurnObserver) {
        if self.told && !self.over {
            observer.on_waiting(&WaitNotice { since: self.since, waited: self.started.elapsed(), over: true });
        }
        self.over = true;
    }
}

async fn attempt_turn(
    provider: &dyn Provider,
    request: &ModelRequest,
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    observer: &mut dyn TurnObserver,
    seen: &mut usize,
) -> Result<AssistantTurn, ProviderError> {
    let mut wait = Wait::begin(policy.wait_notice_every);
    let answer = wait.on(provider.stream(request), cancel, observer).await;
    let mut stream = match answer.and_then(|r| r) {
        Ok(stream) => stream,
        Err(e) => {
            wait.end(observer);
            return Err(e);
        }
    };
    let mut acc = TurnAccumulator::new();
    loop {
        let next = if wait.over {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(ProviderError::cancelled()),
                next = stream.next() => next,
            }
        } else {
            let next = wait.on(stream.next(), cancel, observer).await?;
            wait.end(observer);
            next
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
        ErrorKind::StreamInterrupted => {
            ProviderError::new(ErrorKind::StreamInterrupted, format!("{} ({} events received)", e.message, *seen))
        }
        _ => e,
    })
}
