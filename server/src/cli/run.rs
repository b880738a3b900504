//! `missions run [MISSION] [--yes]`: runs the mission loop until the mission completes,
//! halts or waits on the person. Ctrl-C (or SIGTERM, or SIGHUP when the terminal closes or
//! the ssh connection drops) pauses cleanly; a second Ctrl-C stops at once.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::agent::CancellationToken;
use crate::runner::progress::{Bars, Lines, Progress, Verbosity};
use crate::runner::run::{self, RunOptions, EXIT_INTERNAL};

pub fn run(mission: Option<&Path>, yes: bool, verbosity: Verbosity, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "missions: cannot start the async runtime: {e}");
            return EXIT_INTERNAL;
        }
    };
    let progress: Box<dyn Progress> = if verbosity != Verbosity::Quiet && std::io::stderr().is_terminal() {
        Box::new(Bars::new(verbosity))
    } else {
        Box::new(Lines::new(std::io::stdout(), verbosity))
    };
    let opts = RunOptions { cwd: std::env::current_dir().unwrap_or_default(), mission: mission.map(Path::to_path_buf), yes, allow_questions: !yes, origin: run::Origin::Terminal, target: run::Target::All, settings: None };
    let result = runtime.block_on(async {
        let cancel = CancellationToken::new();
        tokio::spawn(pause_on_signal(cancel.clone()));
        run::run(opts, progress, cancel).await
    });
    runtime.shutdown_background();
    if result.code == 0 {
        let _ = writeln!(out, "{}", result.message);
    } else {
        let _ = writeln!(err, "missions: {}", result.message);
    }
    result.code
}

/// Signals received: SIGINT and SIGTERM in `SIGNALS`, SIGHUP in `HANGUPS`; counted by an
/// async-signal-safe handler, read by a task. A plain flag keeps the handler trivially safe
/// and independent of the runtime.
static SIGNALS: AtomicU32 = AtomicU32::new(0);
static HANGUPS: AtomicU32 = AtomicU32::new(0);

extern "C" fn count_signal(sig: libc::c_int) {
    if sig == libc::SIGHUP {
        HANGUPS.fetch_add(1, Ordering::SeqCst);
    } else {
        SIGNALS.fetch_add(1, Ordering::SeqCst);
    }
}

/// The first Ctrl-C, SIGTERM or SIGHUP cancels the run (the loop then writes `paused`); a
/// second Ctrl-C or SIGTERM exits at once (the files are consistent at every point; the next
/// run resumes). Hangups never stop at once: a closing terminal often sends two (the kernel's
/// and the shell's), and the run should still pause cleanly.
async fn pause_on_signal(cancel: CancellationToken) {
    // SAFETY: the handler only increments an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, count_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::signal(libc::SIGTERM, count_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::signal(libc::SIGHUP, count_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        let n = SIGNALS.load(Ordering::SeqCst);
        if n + HANGUPS.load(Ordering::SeqCst) >= 1 && !cancel.is_cancelled() {
            cancel.cancel();
            // Not eprintln!: after SIGHUP the terminal may be gone, and a failed write must
            // not panic this task.
            let _ = writeln!(std::io::stderr(), "missions: pausing after the current step's cleanup (Ctrl-C again to stop now)");
        }
        if n >= 2 {
            std::process::exit(130);
        }
    }
}
