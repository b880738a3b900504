//! The project's own checks from services.yaml's `commands:` (test, typecheck, lint), run by
//! the runner for the scrutiny validator's review, as droid's scrutiny does, so that its
//! `validatorsRun` says what really ran and how it ended, not what a model reported.

use std::path::Path;
use std::time::Duration;

use crate::agent::cancel::CancellationToken;
use crate::agent::tools::bash::run_script;
use crate::agent::tools::{CommandSettings, Roots};
use crate::model::services::{ServicesFile, REVIEW_COMMANDS};

/// One command's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// `test`, `typecheck` or `lint`.
    pub name: String,
    pub command: String,
    /// 124 when it timed out (its process group was killed).
    pub exit_code: i32,
    pub passed: bool,
    pub timed_out: bool,
    /// What it printed (head and tail within 10 KiB; the full output's path is named there).
    pub output: String,
}

/// Runs each of [`REVIEW_COMMANDS`] services.yaml has, in that order, in the working
/// directory as the session's commands run (sandbox, keys removed), each bounded by
/// `timeout`; outputs over 10 KiB are kept in full under `log_dir`. `Err` when cancelled or
/// a command cannot be started.
pub async fn run_review_commands(
    roots: &Roots,
    settings: &CommandSettings,
    file: &ServicesFile,
    timeout: Duration,
    log_dir: &Path,
    cancel: &CancellationToken,
) -> Result<Vec<CommandResult>, String> {
    let mut results = Vec::new();
    for name in REVIEW_COMMANDS {
        let Some(command) = file.command(name).filter(|c| !c.trim().is_empty()) else { continue };
        let log = log_dir.join(format!("{name}.log"));
        let mut groups = Vec::new();
        let run = run_script(roots, settings, command, timeout, &log, cancel, &mut groups).await?;
        results.push(CommandResult {
            name: name.to_string(),
            command: command.to_string(),
            exit_code: run.code,
            passed: run.code == 0,
            timed_out: run.timed_out,
            output: run.shown,
        });
    }
    Ok(results)
}
