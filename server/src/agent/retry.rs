//! When and how long to wait before trying a model call again.

use crate::agent::error::{ErrorKind, ProviderError};
use std::time::Duration;

/// Exponential backoff with jitter, bounded by an overall deadline. While the provider is
/// unavailable (rate limited, overloaded, 5xx) calls are retried until the deadline, so an
/// outage of a few minutes does not stop an unattended mission; broken and stalled streams,
/// which cost a whole turn each time, and unreachable servers also stop after `max_attempts`;
/// a server silent after the request after `max_first_byte_attempts`; the very same 5xx
/// answer `max_identical_server_errors` times in a row ends the call as a failure on this
/// request. Defaults follow design §5: 0.5 s doubling to 8 s, 15 minutes in all.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts in all, the first included, when the last failure was a broken or stalled
    /// stream (`stream_interrupted`, `timeout`).
    pub max_attempts: u32,
    /// Attempts in all when the last failure was a silent server (`first_byte_timeout`): each
    /// already waited the whole first-byte timeout.
    pub max_first_byte_attempts: u32,
    /// The same 5xx answer (status and body) this many times in a row is no outage but the
    /// server failing on this request: the call ends with `repeated_server_error`.
    pub max_identical_server_errors: u32,
    /// How often a call still waiting for the provider's first answer is reported to the
    /// observer ("waiting for the provider, 40 s").
    pub wait_notice_every: Duration,
    /// Attempts in all while the provider is unavailable (`rate_limited`, `overloaded`,
    /// `server`, `transport`): only a safety net, high enough that `deadline` ends the
    /// retries first.
    pub max_outage_attempts: u32,
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
            max_first_byte_attempts: 2,
            max_identical_server_errors: 5,
            wait_notice_every: Duration::from_secs(10),
            max_outage_attempts: 1000,
            deadline: Duration::from_secs(15 * 60),
            jitter: 0.25,
        }
    }
}

impl RetryPolicy {
    /// The defaults, with waits told a few times before `first_byte_timeout_s` ends them:
    /// every 10 s, or every quarter of a shorter first-byte timeout.
    pub fn from_limits(limits: &crate::config::Limits) -> Self {
        let quarter = Duration::from_secs(limits.first_byte_timeout_s) / 4;
        RetryPolicy {
            wait_notice_every: quarter.clamp(Duration::from_millis(100), Duration::from_secs(10)),
            ..Self::default()
        }
    }

    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy { max_attempts: 1, max_first_byte_attempts: 1, max_outage_attempts: 1, ..Self::default() }
    }

    /// Whether another attempt may follow attempt number `attempt` (from 1), which failed with
    /// `error`; the deadline is checked separately.
    pub fn allows_another(&self, attempt: u32, error: &ProviderError) -> bool {
        let limit = if is_outage(error.kind) {
            self.max_outage_attempts
        } else if error.kind == ErrorKind::FirstByteTimeout {
            self.max_first_byte_attempts
        } else {
            self.max_attempts
        };
        error.is_retryable() && attempt < limit.max(1)
    }

    /// Backoff before retry number `retry` (1 for the first retry), without jitter.
    pub fn base_backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1).min(30));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
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

/// Errors meaning the provider answered that it is unavailable for now: retried until the
/// deadline. A connection that cannot be made is not one of them: it is more often a wrong
/// `base_url` or a local server not started than an outage, and the person should hear of it
/// in seconds, not after the whole deadline (it is still retried up to `max_attempts`).
pub fn is_outage(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::RateLimited | ErrorKind::Overloaded | ErrorKind::Server)
}

/// Seconds as a person reads them: `900`, `0.3`.
pub fn format_secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        let s = format!("{:.3}", d.as_secs_f64());
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Reads `retry-after-ms` (milliseconds, may be fractional) or `retry-after` (seconds).
/// An HTTP-date `retry-after` is ignored and the backoff used instead.
pub fn parse_retry_after(retry_after_ms: Option<&str>, retry_after: Option<&str>) -> Option<Duration> {
    let secs = |s: &str, scale: f64| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| Duration::from_secs_f64((v * scale).min(24.0 * 3600.0)))
    };
    retry_after_ms.and_then(|s| secs(s, 0.001)).or_else(|| retry_after.and_then(|s| secs(s, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_bounded_by_the_deadline_streams_also_by_attempts() {
        let p = RetryPolicy::default();
        for kind in [ErrorKind::Server, ErrorKind::Overloaded, ErrorKind::RateLimited] {
            assert!(p.allows_another(8, &ProviderError::new(kind, "x")), "{kind:?}");
            assert!(p.allows_another(200, &ProviderError::new(kind, "x")), "{kind:?}");
        }
        // A connection that cannot be made (a wrong base_url?) is told within max_attempts.
        let refused = ProviderError::new(ErrorKind::Transport, "x");
        assert!(p.allows_another(7, &refused) && !p.allows_another(8, &refused));
        // 15 minutes of 8 s backoffs come nowhere near the safety net.
        assert!(p.deadline.as_secs() / p.max_backoff.as_secs() * 2 < u64::from(p.max_outage_attempts));
        let broken = ProviderError::new(ErrorKind::StreamInterrupted, "x");
        assert!(p.allows_another(7, &broken) && !p.allows_another(8, &broken));
        assert!(!p.allows_another(1, &ProviderError::new(ErrorKind::BadRequest, "x")));
        // A silent server already cost a whole first-byte timeout: tried twice, then named.
        let silent = ProviderError::new(ErrorKind::FirstByteTimeout, "x");
        assert!(p.allows_another(1, &silent) && !p.allows_another(2, &silent));
        assert!(!p.allows_another(1, &ProviderError::new(ErrorKind::RepeatedServerError, "x")));
        let none = RetryPolicy::none();
        assert!(!none.allows_another(1, &ProviderError::new(ErrorKind::Server, "x")));
        assert_eq!(format_secs(Duration::from_secs(900)), "900");
        assert_eq!(format_secs(Duration::from_millis(300)), "0.3");
        assert_eq!(format_secs(Duration::from_millis(1200)), "1.2");
        assert_eq!(format_secs(Duration::from_millis(50)), "0.05");
    }

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
            assert!(d <= Duration::from_secs(2) && d >= Duration::from_millis(1500), "{d:?}");
        }
    }

    #[test]
    fn retry_after_headers_win() {
        assert_eq!(parse_retry_after(Some("50"), Some("3")), Some(Duration::from_millis(50)));
        assert_eq!(parse_retry_after(None, Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(parse_retry_after(Some("-1"), None), None);
        let e = ProviderError::new(ErrorKind::RateLimited, "x").with_retry_after(Some(Duration::from_millis(50)));
        assert_eq!(RetryPolicy::default().delay_for(1, &e), Duration::from_millis(50));
    }
}
