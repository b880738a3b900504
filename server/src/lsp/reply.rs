//! Requests to the client with a bound on the wait. tower-lsp 0.20 panics, and stops serving,
//! when an answer arrives for a request whose future was dropped (`pending.rs`: "receiver
//! already dropped"), so a request that outlives its bound is never dropped: it goes on in a
//! task of its own, which takes the late answer and discards it.

use std::future::Future;
use std::time::Duration;

/// The request's answer, or `None` when it did not come within `wait` (or its task failed).
pub async fn within<T: Send + 'static>(wait: Duration, request: impl Future<Output = T> + Send + 'static) -> Option<T> {
    let mut task = tokio::spawn(request);
    match tokio::time::timeout(wait, &mut task).await {
        Ok(Ok(answer)) => Some(answer),
        Ok(Err(e)) => {
            tracing::error!("a request to the client failed: {e}");
            None
        }
        // Not aborted: the late answer still has a request to go to.
        Err(_) => None,
    }
}
