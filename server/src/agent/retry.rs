//! When and how long to wait before trying a model call again.

use crate::agent::error::ProviderError;
use std::time::Duration;

/// Exponential backoff with jitter, bounded by attempts and by an overall deadline.
/// Defaults follow design §5: 0.5 s doubling to 8 s.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// No attempt starts, and no wait is begun, past this much time after the call began.
    pub deadline: Duration,
    /// Each backoff is shortened by a random fraction up to this (0.0 to 1.0), so parallel
    /// sessions that failed together do not come back together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_attempts: 8,
            deadline: Duration::from_secs(15 * 60),
            jitter: 0.25,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Backoff before retry number `retry` (1 for the first retry), without jitter.
    pub fn base_backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1).min(30));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// The wait before retry number `retry` after `error`: the server's `retry-after` when it
    /// gave one, else the jittered backoff.
    pub fn delay_for(&self, retry: u32, error: &ProviderError) -> Duration {
        if let Some(d) = error.retry_after {
            return d;
        }
        let base = self.base_backoff(retry);
        let jitter = self.jitter.clamp(0.0, 1.0) * rand::random::<f64>();
        base.mul_f64(1.0 - jitter)
    }
}

/// Reads `retry-after-ms` (milliseconds, may be fractional) or `retry-after` (seconds).
/// An HTTP-date `retry-after` is ignored and the backoff used instead.
pub fn parse_retry_after(
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
) -> Option<Duration> {
    let secs = |s: &str, scale: f64| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| Duration::from_secs_f64((v * scale).min(24.0 * 3600.0)))
    };
    retry_after_ms
        .and_then(|s| secs(s, 0.001))
        .or_else(|| retry_after.and_then(|s| secs(s, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::error::ErrorKind;

    #[test]
    fn backoff_doubles_from_half_a_second_to_eight() {
        let p = RetryPolicy::default();
        let secs: Vec<f64> = (1..=7).map(|r| p.base_backoff(r).as_secs_f64()).collect();
        assert_eq!(secs, vec![0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]);
        assert_eq!(p.base_backoff(1000), Duration::from_secs(8));
    }

    #[test]
    fn jitter_only_shortens() {
        let p = RetryPolicy::default();
        let e = ProviderError::new(ErrorKind::Server, "x");
        for _ in 0..100 {
            let d = p.delay_for(3, &e);
            assert!(
                d <= Duration::from_secs(2) && d >= Duration::from_millis(1500),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_after_headers_win() {
        assert_eq!(
            parse_retry_after(Some("50"), Some("3")),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            parse_retry_after(None, Some("2")),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(Some("-1"), None), None);
        let e = ProviderError::new(ErrorKind::RateLimited, "x")
            .with_retry_after(Some(Duration::from_millis(50)));
        assert_eq!(
            RetryPolicy::default().delay_for(1, &e),
            Duration::from_millis(50)
        );
    }
}
