//! Every request answers exactly once, even when the analysis behind it panics.

use std::panic::{catch_unwind, AssertUnwindSafe};

use tower_lsp_server::jsonrpc::{Error, Result};

/// Runs the pure part of a request; a panic becomes an internal error answer and a log line.
pub fn guarded<T>(method: &str, work: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(work)).map_err(|panic| {
        tracing::error!("{method} panicked: {}", panic_reason(panic.as_ref()));
        internal_error(method)
    })
}

/// The message a panic carries (`panic!("…")` gives a `&str` or a `String`), else empty.
pub fn panic_reason(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// The answer to a request whose handler failed: -32603 naming the method.
pub fn internal_error(method: &str) -> Error {
    Error { message: format!("internal error in {method}").into(), ..Error::internal_error() }
}

/// Runs blocking work (disk reads) off the async threads, with the same panic guarantee.
pub async fn guarded_blocking<T: Send + 'static>(
    method: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(move || guarded(method, work)).await {
        Ok(result) => result,
        Err(e) => {
            tracing::error!("{method} failed: {e}");
            Err(Error::internal_error())
        }
    }
}
