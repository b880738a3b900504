//! `missions run [MISSION] [--yes]`: runs the mission loop until the mission completes,
//! halts or waits on the person. Ctrl-C (or SIGTERM, or SIGHUP when the terminal closes or
//! the ssh connection drops) pauses cleanly; a second Ctrl-C stops at once.

use std::io::{IsTerminal, Write};
use std::path::Path;

use super::{EXIT_HALTED, EXIT_INTERNAL, EXIT_USAGE, EXIT_WAITING};
use crate::cli::progress::{Bars, Lines, Verbosity};
use crate::runner::control::{self, Stop};
use crate::runner::progress::Progress;
use crate::runner::run::{self, RunOptions, RunOutcome};
use crate::runner::signals;

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
    let opts = RunOptions {
        cwd: std::env::current_dir().unwrap_or_default(),
        mission: mission.map(Path::to_path_buf),
        yes,
        allow_questions: !yes,
        origin: run::Origin::Terminal,
        target: run::Target::All,
        settings: None,
    };
    let result = runtime.block_on(async {
        let stop = Stop::new();
        tokio::spawn(pause_on_signal(stop.clone()));
        control::run(opts, progress, &stop).await
    });
    runtime.shutdown_background();
    if result.outcome == RunOutcome::Completed {
        let _ = writeln!(out, "{}", result.message);
    } else {
        let _ = writeln!(err, "missions: {}", result.message);
    }
    exit_code(result.outcome)
}

/// The exit status of a run's outcome (design §6; `missions run --help` lists them).
pub fn exit_code(outcome: RunOutcome) -> i32 {
    match outcome {
        RunOutcome::Completed => 0,
        RunOutcome::Failed => EXIT_INTERNAL,
        RunOutcome::Refused => EXIT_USAGE,
        RunOutcome::Halted => EXIT_HALTED,
        RunOutcome::Paused | RunOutcome::AwaitingPerson | RunOutcome::Cancelled => EXIT_WAITING,
    }
}

/// The first Ctrl-C, SIGTERM or SIGHUP cancels the run (the loop then writes `paused`); a
/// second Ctrl-C or SIGTERM exits at once (the files are consistent at every point; the next
/// run resumes). Hangups never stop at once: a closing terminal often sends two (the kernel's
/// and the shell's), and the run should still pause cleanly.
async fn pause_on_signal(stop: Stop) {
    signals::install();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        let n = signals::interrupts();
        if n + signals::hangups() >= 1 && !stop.token().is_cancelled() {
            stop.pause();
            // Not eprintln!: after SIGHUP the terminal may be gone, and a failed write must
            // not panic this task.
            let _ = writeln!(
                std::io::stderr(),
                "missions: pausing after the current step's cleanup (Ctrl-C again to stop now)"
            );
        }
        if n >= 2 {
            std::process::exit(130);
        }
    }
}
