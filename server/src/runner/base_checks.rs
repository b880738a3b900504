//! The contract's `Check:` commands run on the mission's base commit, before any work: a check
//! that already passes there is vacuous (`analysis::checks::base` turns the results into
//! diagnostics). Each runs in a throwaway worktree detached at the base (`scratch`), through
//! the `bash` tool's process runner (its own process group, the timeout kills the group, API
//! keys removed), as many at once as there are cores. Results are cached on disk by (command,
//! commit) under the repository's git directory, so linting again runs nothing.
//! `missions check --run-checks`, the approval gate of `missions run` and the language server
//! (in the background) call [`check`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::git;
use super::scratch::{self, Scratch};
use crate::agent::cancel::CancellationToken;
use crate::agent::tools::bash::{kill_group, run_script, CommandRun, CommandSettings, WELL_KNOWN_KEY_VARS};
use crate::agent::tools::{Roots, WritePolicy};
use crate::analysis::checks::base::{BaseChecks, BaseOutcome};
use crate::config::{find_config, AgentRole, Limits, MissionsConfig};
use crate::model::persist::write_json_atomic;
use crate::model::Contract;

/// The repository a mission works on and the commit its checks run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub repo: PathBuf,
    pub commit: String,
}

/// The mission's base: where its first milestone started (state.json's `milestoneBases`), or,
/// when no mission has run yet, HEAD of the repository it works on (working_directory.txt, else
/// the repository holding the folder).
pub fn mission_base(mission: &Path) -> Result<Base, String> {
    let repo =
        super::drift::repository(mission).ok_or_else(|| {
            match crate::model::folder::named_working_directory(mission) {
                Some(named) => format!("its working directory {} does not exist here", named.display()),
                None => format!(
                    "{} is not in a git repository (and names none in working_directory.txt)",
                    mission.display()
                ),
            }
        })?;
    let recorded =
        super::state::StateStore::open(mission).ok().and_then(|s| s.state.first_milestone_base().map(str::to_string));
    let commit = match recorded.and_then(|c| git::resolve_commit(&repo, &c)) {
        Some(c) => c,
        None => git::head(&repo).map_err(|e| format!("{} has no commit to run the checks on: {e}", repo.display()))?,
    };
    Ok(Base { repo, commit })
}

/// The contract's `Check:` commands, each once, in the contract's order.
pub fn commands(contract: &Contract) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in contract.assertions.iter().filter_map(|a| a.check.as_ref()) {
        if !c.value.trim().is_empty() && !out.contains(&c.value) {
            out.push(c.value.clone());
        }
    }
    out
}

/// How the checks run.
#[derive(Debug, Clone)]
pub struct Options {
    pub timeout: Duration,
    /// At most this many at once.
    pub parallel: usize,
    /// Removed from every command's environment (API keys).
    pub removed_env: Vec<String>,
}

impl Options {
    /// missions.toml's command timeout and key variables when it reads, else the defaults; one
    /// check per core.
    pub fn for_repo(repo: &Path) -> Options {
        Options::from_config(find_config(repo).and_then(|p| MissionsConfig::load(&p).ok()).as_ref())
    }

    /// A run's configuration's command timeout and key variables (the defaults without one).
    pub fn from_config(config: Option<&MissionsConfig>) -> Options {
        let limits = config.map_or_else(Limits::default, |c| c.limits.clone());
        let mut removed: Vec<String> = WELL_KNOWN_KEY_VARS.iter().map(|s| s.to_string()).collect();
        for role in AgentRole::ALL {
            if let Some(name) = config.and_then(|c| c.role(role).ok()).and_then(|r| r.api_key_env.clone()) {
                removed.push(name);
            }
        }
        Options { timeout: Duration::from_secs(limits.command_timeout_s), parallel: cores(), removed_env: removed }
    }
}

/// The cores this process may use (at least one).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One cached result, with the timeout it ran under (a timeout under a shorter limit is run
/// again under a longer one).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cached {
    #[serde(flatten)]
    outcome: BaseOutcome,
    timeout_s: u64,
}

fn cache_file(base: &Base) -> Result<PathBuf, String> {
    let dir = git::common_dir(&base.repo).map_err(|e| e.to_string())?;
    Ok(dir.join("missions-cache").join("base-checks").join(format!("{}.json", base.commit)))
}

fn read_cache(path: &Path) -> HashMap<String, Cached> {
    std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

/// What the cache knows of `commands` on the base, and the commands it must still run.
pub fn cached(base: &Base, commands: &[String], timeout: Duration) -> (BaseChecks, Vec<String>) {
    let known = cache_file(base).map(|p| read_cache(&p)).unwrap_or_default();
    let mut checks = BaseChecks { commit: base.commit.clone(), results: HashMap::new() };
    let mut missing = Vec::new();
    for command in commands {
        match known.get(command) {
            Some(c) if !(matches!(c.outcome, BaseOutcome::CannotRun { .. }) && c.timeout_s < timeout.as_secs()) => {
                checks.results.insert(command.clone(), c.outcome.clone());
            }
            _ => missing.push(command.clone()),
        }
    }
    (checks, missing)
}

/// Adds results to the cache file (merged with what another process wrote meanwhile).
fn remember(base: &Base, results: &[(String, BaseOutcome)], timeout: Duration) {
    let Ok(path) = cache_file(base) else { return };
    let mut known = read_cache(&path);
    for (command, outcome) in results {
        known.insert(command.clone(), Cached { outcome: outcome.clone(), timeout_s: timeout.as_secs() });
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = write_json_atomic(&path, &known) {
        tracing::warn!("cannot write the check cache {}: {e}", path.display());
    }
}

/// The results of every command on the base: the cached ones, then the others run
/// `opts.parallel` at a time, each result cached as it comes and given to `on_result`.
/// Returns the results and how many commands ran; `Err` when none can run (no worktree).
pub async fn check(
    base: &Base,
    mission: &Path,
    commands: &[String],
    opts: &Options,
    cancel: &CancellationToken,
    on_result: &mut (dyn FnMut(&str, &BaseOutcome) + Send),
) -> Result<(BaseChecks, usize), String> {
    let (mut checks, missing) = cached(base, commands, opts.timeout);
    if missing.is_empty() {
        return Ok((checks, 0));
    }
    let mut job = Scratch::new(&base.repo, "checks")
        .map_err(|e| format!("cannot prepare a worktree of {}: {e}", base.repo.display()))?;
    let settings = CommandSettings {
        default_timeout: opts.timeout,
        removed_env: opts.removed_env.clone(),
        added_env: Vec::new(),
        sandbox: None,
        write_policy: WritePolicy::WorkingDirectory,
    };
    let slots = opts.parallel.max(1).min(missing.len());
    let mut free = Vec::new();
    for _ in 0..slots {
        free.push(
            job.checkout(&base.commit).map_err(|e| format!("cannot check out {} in a worktree: {e}", base.commit))?,
        );
    }
    let free = Mutex::new(free);
    let logs = job.dir().to_path_buf();
    let runs = futures::stream::iter(missing.iter().enumerate())
        .map(|(i, command)| {
            let (free, settings, logs) = (&free, &settings, &logs);
            async move {
                let worktree =
                    free.lock().unwrap_or_else(|e| e.into_inner()).pop().expect("one free worktree per running check");
                let outcome = run_one(
                    &worktree,
                    mission,
                    settings,
                    command,
                    opts.timeout,
                    &logs.join(format!("check-{i}.log")),
                    cancel,
                )
                .await;
                // What the check wrote goes, so the next check sees the commit as it is.
                let _ = scratch::reset(&worktree);
                free.lock().unwrap_or_else(|e| e.into_inner()).push(worktree);
                (command.clone(), outcome)
            }
        })
        .buffer_unordered(slots);
    futures::pin_mut!(runs);
    let mut ran = 0;
    while let Some((command, outcome)) = runs.next().await {
        if cancel.is_cancelled() {
            break;
        }
        ran += 1;
        remember(base, &[(command.clone(), outcome.clone())], opts.timeout);
        on_result(&command, &outcome);
        checks.results.insert(command, outcome);
    }
    Ok((checks, ran))
}

async fn run_one(
    worktree: &Path,
    mission: &Path,
    settings: &CommandSettings,
    command: &str,
    timeout: Duration,
    log: &Path,
    cancel: &CancellationToken,
) -> BaseOutcome {
    let roots = match Roots::new(worktree, mission) {
        Ok(r) => r,
        Err(e) => {
            return BaseOutcome::CannotRun { reason: format!("cannot use the worktree {}: {e}", worktree.display()) }
        }
    };
    let mut groups = Vec::new();
    let run = run_script(&roots, settings, command, timeout, log, cancel, &mut groups).await;
    groups.into_iter().for_each(kill_group);
    classify(run)
}

/// How a check's run ended, for the lint.
pub fn classify(run: Result<CommandRun, String>) -> BaseOutcome {
    match run {
        Err(e) => BaseOutcome::CannotRun { reason: e },
        Ok(r) if r.timed_out => BaseOutcome::CannotRun {
            reason: format!("it timed out after {} s (the process group was killed)", r.timeout.as_secs()),
        },
        Ok(r) if r.code == 127 && r.shown.contains("command not found") => {
            let missing = r
                .shown
                .lines()
                .find_map(|l| l.strip_suffix(": command not found"))
                .map(|l| l.rsplit(": ").next().unwrap_or(l).trim().to_string())
                .unwrap_or_default();
            BaseOutcome::CannotRun { reason: format!("`{missing}` is not installed (command not found)") }
        }
        Ok(r) if r.code == 126 => BaseOutcome::CannotRun {
            reason: format!("a command is not executable (exit 126): {}", last_line(&r.shown)),
        },
        Ok(r) if r.code == 0 => BaseOutcome::Passed { output_tail: tail(&r.shown, 20) },
        Ok(r) => BaseOutcome::Failed { exit_code: r.code },
    }
}

fn last_line(text: &str) -> &str {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim()
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: i32, shown: &str, timed_out: bool) -> Result<CommandRun, String> {
        Ok(CommandRun { code, timed_out, timeout: Duration::from_secs(3), shown: shown.into() })
    }

    #[test]
    fn outcomes_are_told_apart() {
        assert_eq!(classify(run(0, "ok\n", false)), BaseOutcome::Passed { output_tail: "ok".into() });
        assert_eq!(classify(run(1, "FAILED\n", false)), BaseOutcome::Failed { exit_code: 1 });
        assert_eq!(
            classify(run(124, "", true)),
            BaseOutcome::CannotRun { reason: "it timed out after 3 s (the process group was killed)".into() }
        );
        assert_eq!(
            classify(run(127, "bash: line 1: pytest: command not found\n", false)),
            BaseOutcome::CannotRun { reason: "`pytest` is not installed (command not found)".into() }
        );
        // A program the work has not written yet is a plain failure: the check is honest.
        assert_eq!(
            classify(run(127, "bash: line 1: ./calc: No such file or directory\n", false)),
            BaseOutcome::Failed { exit_code: 127 }
        );
        assert_eq!(
            classify(Err("cannot start bash: x".into())),
            BaseOutcome::CannotRun { reason: "cannot start bash: x".into() }
        );
    }
}
