//! The signals that ask a process running missions to stop: SIGINT (Ctrl-C), SIGTERM and
//! SIGHUP (the terminal closed, the ssh connection dropped, a service manager stopping it).
//! An async-signal-safe handler only counts them; tasks read the counts. `missions run` and
//! `missions lsp` both pause their runs on the first one.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::time::Duration;

/// SIGINT and SIGTERM received.
static INTERRUPTS: AtomicU32 = AtomicU32::new(0);
/// SIGHUP received.
static HANGUPS: AtomicU32 = AtomicU32::new(0);

extern "C" fn count_signal(sig: libc::c_int) {
    if sig == libc::SIGHUP {
        HANGUPS.fetch_add(1, Ordering::SeqCst);
    } else {
        INTERRUPTS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts the three signals from now on instead of dying of them (once per process).
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let handler = count_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only increments an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
            libc::signal(libc::SIGHUP, handler);
        }
    });
}

/// SIGINT and SIGTERM received so far.
pub fn interrupts() -> u32 {
    INTERRUPTS.load(Ordering::SeqCst)
}

/// SIGHUP received so far.
pub fn hangups() -> u32 {
    HANGUPS.load(Ordering::SeqCst)
}

/// Resolves once any of the three has arrived (after [`install`]).
pub async fn first() {
    while interrupts() + hangups() == 0 {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
