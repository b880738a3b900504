//! `bash`: `bash -c` in the working directory, in its own process group, with a timeout that
//! kills the whole group (exit 124). The full output goes to a file under the mission folder;
//! the model sees its head and tail within 10 KiB.

use super::paths::{Roots, WritePolicy};
use super::sandbox::Bwrap;
use crate::agent::cancel::CancellationToken;
use crate::config::{MissionsConfig, MAX_COMMAND_TIMEOUT_S};
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the model sees of an output, at most.
pub const SHOWN_BYTES: u64 = 10 * 1024;
pub const TIMEOUT_EXIT_CODE: i32 = 124;

/// Provider keys removed from every command's environment even when no role names them.
pub const WELL_KNOWN_KEY_VARS: [&str; 3] = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_AUTH_TOKEN"];

/// How a session's commands run.
#[derive(Debug, Clone)]
pub struct CommandSettings {
    pub default_timeout: Duration,
    /// Environment variables removed from every command (API keys).
    pub removed_env: Vec<String>,
    /// Set for every command (a git identity when none is configured).
    pub added_env: Vec<(String, String)>,
    pub sandbox: Option<Bwrap>,
    /// Who writes where, so the sandbox can mount the mission folder to match.
    pub write_policy: WritePolicy,
}

impl CommandSettings {
    /// From missions.toml: its timeout, every role's `api_key_env` plus the well-known key
    /// variables removed. The sandbox is set separately (it needs a probe).
    pub fn from_config(config: &MissionsConfig, write_policy: WritePolicy) -> Self {
        let mut removed: Vec<String> = WELL_KNOWN_KEY_VARS.iter().map(|s| s.to_string()).collect();
        for role in crate::config::AgentRole::ALL {
            if let Ok(Some(name)) = config.role(role).map(|r| r.api_key_env.clone()) {
                if !removed.contains(&name) {
                    removed.push(name);
                }
            }
        }
        CommandSettings {
            default_timeout: Duration::from_secs(config.limits.command_timeout_s),
            removed_env: removed,
            added_env: Vec::new(),
            sandbox: None,
            write_policy,
        }
    }

    /// Adds GIT_AUTHOR_*/GIT_COMMITTER_* when git has no user.email for `working_dir`, so
    /// agents' commits work on a fresh machine.
    pub fn with_git_identity_if_missing(mut self, working_dir: &Path) -> Self {
        if !git_identity_configured(working_dir) {
            for (k, v) in [
                ("GIT_AUTHOR_NAME", "missions agent"),
                ("GIT_AUTHOR_EMAIL", "agent@missions.invalid"),
                ("GIT_COMMITTER_NAME", "missions agent"),
                ("GIT_COMMITTER_EMAIL", "agent@missions.invalid"),
            ] {
                self.added_env.push((k.into(), v.into()));
            }
        }
        self
    }
}

/// Whether git would find a user.email in `dir` (or git's environment supplies one).
pub fn git_identity_configured(dir: &Path) -> bool {
    if std::env::var_os("GIT_AUTHOR_EMAIL").is_some() && std::env::var_os("GIT_COMMITTER_EMAIL").is_some() {
        return true;
    }
    Command::new("git")
        .args(["config", "--get", "user.email"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| o.status.success() && !o.stdout.trim_ascii().is_empty())
        .unwrap_or(false)
}

/// Kills a whole process group; quiet when it is already gone.
/// Makes the child die with the process that starts it (Linux: `PR_SET_PDEATHSIG`), so an
/// agent or command the runner started never outlives a runner killed with SIGKILL and goes
/// on changing the repository under the next run. Elsewhere a no-op.
pub fn die_with_parent(command: &mut std::process::Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = rustix::process::getpid();
        // SAFETY: between fork and exec only async-signal-safe calls run (rustix's prctl and
        // getppid are plain system calls; _exit).
        unsafe {
            command.pre_exec(move || {
                rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
                // The parent died before prctl took effect: nobody is left to stop this child.
                if rustix::process::getppid() != Some(parent) {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

pub fn kill_group(pgid: i32) {
    crate::agent::processes::signal_group(pgid, rustix::process::Signal::KILL);
}

/// A finished command: its exit code (124 on timeout) and what the model is shown of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRun {
    pub code: i32,
    pub timed_out: bool,
    pub timeout: Duration,
    /// The whole output, or its head and tail with the saved file's path between them.
    pub shown: String,
}

impl CommandRun {
    /// `exit code: N` (with the timeout note), then the output: what the model sees.
    pub fn render(&self) -> String {
        let mut header = format!("exit code: {}", self.code);
        if self.timed_out {
            header.push_str(&format!(" (timed out after {} s; the process group was killed)", self.timeout.as_secs()));
        }
        format!("{header}\n{}", self.shown)
    }
}

pub async fn run(
    roots: &Roots,
    settings: &CommandSettings,
    args: &Value,
    log_path: &Path,
    cancel: &CancellationToken,
    groups: &mut Vec<i32>,
) -> Result<String, String> {
    let script = args["command"].as_str().unwrap_or_default();
    let timeout = args["timeout_s"]
        .as_u64()
        .map(|s| Duration::from_secs(s.clamp(1, MAX_COMMAND_TIMEOUT_S)))
        .unwrap_or(settings.default_timeout);
    run_script(roots, settings, script, timeout, log_path, cancel, groups).await.map(|r| r.render())
}

/// Runs `script` like the `bash` tool does (process group, timeout, keys removed, sandbox),
/// for callers that need the exit code itself (the runner's `Check:` commands).
pub async fn run_script(
    roots: &Roots,
    settings: &CommandSettings,
    script: &str,
    timeout: Duration,
    log_path: &Path,
    cancel: &CancellationToken,
    groups: &mut Vec<i32>,
) -> Result<CommandRun, String> {
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let log = std::fs::File::create(log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;

    let mut command = shell_command(roots, settings, script);
    command.stdin(Stdio::null()).stdout(log).stderr(log_err).process_group(0);
    die_with_parent(&mut command);
    crate::agent::processes::tag(&mut command, &roots.mission_dir);
    let mut child = command.spawn().map_err(|e| format!("cannot start bash: {e}"))?;
    let pgid = child.id() as i32;
    groups.push(pgid);

    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(format!("cannot wait for bash: {e}")),
        }
        if started.elapsed() >= timeout {
            timed_out = true;
            kill_group(pgid);
            break child.wait().map_err(|e| e.to_string())?;
        }
        tokio::select! {
            _ = cancel.cancelled() => {
                kill_group(pgid);
                let _ = child.wait();
                return Err("cancelled; the command's process group was killed".into());
            }
            _ = tokio::time::sleep(Duration::from_millis(15)) => {}
        }
    };
    if timed_out {
        // A child forked while the first signal was being delivered escaped it: once more.
        kill_group(pgid);
    }
    redact_saved(log_path);
    let code =
        if timed_out { TIMEOUT_EXIT_CODE } else { status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)) };
    let shown = shown_output(log_path)?;
    Ok(CommandRun { code, timed_out, timeout, shown })
}

/// `bash -c script` in the working directory as the session's commands run: in the sandbox
/// when one is set, API keys removed, the added variables set. Standard streams and the
/// process group are the caller's.
pub(crate) fn shell_command(roots: &Roots, settings: &CommandSettings, script: &str) -> Command {
    let mut command = match &settings.sandbox {
        Some(bwrap) => {
            let mission = roots.mission_dir.clone();
            let (read_only, writable) = match settings.write_policy {
                WritePolicy::PlanFiles => (vec![], vec![]),
                WritePolicy::WorkingDirectory => (vec![mission], vec![]),
                WritePolicy::EvidenceOnly => {
                    let evidence = mission.join("evidence");
                    let _ = std::fs::create_dir_all(&evidence);
                    (vec![mission], vec![evidence])
                }
            };
            bwrap.command(&roots.working_dir, &read_only, &writable, script)
        }
        None => {
            let mut c = Command::new("bash");
            c.arg("-c").arg(script);
            c
        }
    };
    command.current_dir(&roots.working_dir);
    for name in &settings.removed_env {
        command.env_remove(name);
    }
    for (k, v) in &settings.added_env {
        command.env(k, v);
    }
    command
}

/// Largest saved output scanned for API keys (the environment has none; a command could
/// still print one from a file).
const REDACT_SCAN_BYTES: u64 = 64 * 1024 * 1024;

/// Replaces any registered secret in the saved output, so no key lands in the mission folder.
fn redact_saved(path: &Path) {
    let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= REDACT_SCAN_BYTES);
    if !small {
        return;
    }
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let text = String::from_utf8_lossy(&bytes);
    let clean = crate::agent::secrets::redact(&text);
    if clean != text {
        let _ = std::fs::write(path, clean);
    }
}

/// The whole output when it fits in [`SHOWN_BYTES`] (the file is then removed), else its head
/// and tail with the saved file's path between them.
fn shown_output(path: &Path) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    if size <= SHOWN_BYTES {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(path);
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    let note_room = 300;
    let half = (SHOWN_BYTES - note_room) / 2;
    let mut head = vec![0; half as usize];
    file.read_exact(&mut head).map_err(|e| e.to_string())?;
    let mut tail = vec![0; half as usize];
    file.seek(SeekFrom::Start(size - half)).map_err(|e| e.to_string())?;
    file.read_exact(&mut tail).map_err(|e| e.to_string())?;
    Ok(format!(
        "{}\n… [{} bytes omitted; the full output ({size} bytes) is in {}] …\n{}",
        String::from_utf8_lossy(&head),
        size - 2 * half,
        path.display(),
        String::from_utf8_lossy(&tail)
    ))
}
