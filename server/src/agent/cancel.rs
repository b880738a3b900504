//! Cancellation: one token tree (mission -> agent -> turn -> tool). Cancelling a node cancels
//! everything below it; a child can be cancelled alone.

use crate::agent::error::ProviderError;
use std::future::Future;
pub use tokio_util::sync::CancellationToken;

/// Runs `fut` unless `token` fires first, in which case `fut` is dropped (closing any
/// connection it holds) and `Cancelled` comes back at once.
pub async fn cancellable<T>(
    token: &CancellationToken,
    fut: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    tokio::select! {
        biased;
        _ = token.cancelled() => Err(ProviderError::cancelled()),
        r = fut => r,
    }
}

/// Sleeps for `d` unless cancelled.
pub async fn sleep_cancellable(token: &CancellationToken, d: std::time::Duration) -> Result<(), ProviderError> {
    cancellable(token, async {
        tokio::time::sleep(d).await;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn cancelling_a_parent_stops_work_in_a_grandchild() {
        let mission = CancellationToken::new();
        let turn = mission.child_token().child_token();
        let t = turn.clone();
        let waiter = tokio::spawn(async move { sleep_cancellable(&t, Duration::from_secs(60)).await });
        mission.cancel();
        let r = tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert_eq!(r.unwrap_err().kind, crate::agent::error::ErrorKind::Cancelled);
    }

    #[tokio::test]
    async fn cancelling_a_child_leaves_the_parent_running() {
        let agent = CancellationToken::new();
        let tool = agent.child_token();
        tool.cancel();
        assert!(!agent.is_cancelled());
        assert!(sleep_cancellable(&agent, Duration::from_millis(1)).await.is_ok());
    }
}
