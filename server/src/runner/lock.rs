//! One runner per mission: `run.lock` in the mission folder holds the runner's pid; and one
//! mission at a time per repository: `missions-run.lock` in its git directory holds the pid
//! and the mission folder (missions share the working tree and its branches). A lock whose
//! process is gone (a crash, SIGKILL) is stale and taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "run.lock";
/// The repository's lock, in its common git directory.
pub const REPOSITORY_LOCK_FILE: &str = "missions-run.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}", held_message(*pid, by.as_deref(), mission.as_deref()))]
    Held {
        pid: u32,
        by: Option<String>,
        /// The mission the holder runs, for the repository's lock.
        mission: Option<String>,
    },
    #[error("cannot create the lock file {path}: {message}")]
    Io { path: PathBuf, message: String },
}

/// Held while the loop runs; the file is removed on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    /// It was taken over from a runner that died (its file named a process that is gone).
    took_over: bool,
}

impl RunLock {
    /// The mission's own lock (`run.lock` in its folder).
    pub fn acquire(mission: &Path) -> Result<RunLock, LockError> {
        acquire_file(mission.join(LOCK_FILE), None)
    }

    /// The repository's lock (`missions-run.lock` in `git_dir`, the common git directory),
    /// taken by a run of `mission`; a run of another mission in the same repository is
    /// refused, named.
    pub fn acquire_repository(git_dir: &Path, mission: &Path) -> Result<RunLock, LockError> {
        acquire_file(git_dir.join(REPOSITORY_LOCK_FILE), Some(mission))
    }

    /// Whether the lock was left by a runner that died, so what it started may have died
    /// halfway too (git's own lock files among it).
    pub fn took_over_from_a_dead_runner(&self) -> bool {
        self.took_over
    }
}

fn acquire_file(path: PathBuf, mission: Option<&Path>) -> Result<RunLock, LockError> {
    let io = |e: std::io::Error| LockError::Io { path: path.clone(), message: e.to_string() };
    // Two tries: the second after removing a stale lock.
    let mut took_over = false;
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                // `by`: the subcommand holding it (`run`, `lsp`, `demo`), for the refusal's words.
                let mut body = serde_json::json!({"pid": std::process::id(), "by": std::env::args().nth(1), "startedAt": crate::model::timestamp::now_rfc3339()});
                if let Some(m) = mission {
                    body["mission"] = serde_json::json!(m.display().to_string());
                }
                file.write_all(format!("{body}\n").as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                return Ok(RunLock { path, took_over });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&path).ok().and_then(|t| holder_of(&t));
                match holder {
                    Some((pid, by, mission)) if is_runner_alive(pid) => {
                        return Err(LockError::Held { pid, by, mission })
                    }
                    _ => {
                        tracing::warn!("removing a stale lock {} (its runner is gone)", path.display());
                        let _ = std::fs::remove_file(&path);
                        took_over = true;
                    }
                }
            }
            Err(e) => return Err(io(e)),
        }
    }
    let (pid, by, mission) = std::fs::read_to_string(&path).ok().and_then(|t| holder_of(&t)).unwrap_or((0, None, None));
    Err(LockError::Held { pid, by, mission })
}

/// Whether a runner is alive on the mission at `mission` now: its `run.lock` names a live
/// `missions` process. A state.json that says `running` without one is a run that died (or a
/// folder copied from elsewhere); nothing is running it.
pub fn run_alive(mission: &Path) -> bool {
    std::fs::read_to_string(mission.join(LOCK_FILE))
        .ok()
        .and_then(|t| holder_of(&t))
        .is_some_and(|(pid, _, _)| is_runner_alive(pid))
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The pid in a lock file, the subcommand that wrote it and the mission it runs, when it says.
fn holder_of(text: &str) -> Option<(u32, Option<String>, Option<String>)> {
    let v = serde_json::from_str::<serde_json::Value>(text.trim()).ok()?;
    let pid = v.get("pid")?.as_u64()? as u32;
    let field = |k: &str| v.get(k).and_then(|b| b.as_str()).map(str::to_string);
    Some((pid, field("by"), field("mission")))
}

fn held_message(pid: u32, by: Option<&str>, mission: Option<&str>) -> String {
    if let Some(mission) = mission {
        let why = "missions in one repository run one at a time, since they share its working tree and branches";
        return match by {
            Some("lsp") => format!("the mission {mission} is running in this repository, in an editor's language server (`missions lsp`, pid {pid}); {why}: pause it there (the missions.pause command, `:Mission pause` in Neovim) or wait for it to finish"),
            _ => format!("the mission {mission} is running in this repository (`missions run`, pid {pid}); {why}: wait for it to finish, or stop it with Ctrl-C (it resumes later with `missions run`)"),
        };
    }
    match by {
        Some("lsp") => format!("an editor's language server (`missions lsp`, pid {pid}) is running this mission; pause it there (the missions.pause command, `:Mission pause` in Neovim) or wait for it"),
        _ => format!("another `missions run` (pid {pid}) is running this mission; wait for it, or stop it with Ctrl-C"),
    }
}

/// Whether `pid` is alive and (where /proc tells) still a `missions` process, so a pid the
/// system reused for something else does not keep a dead runner's lock.
pub(crate) fn is_runner_alive(pid: u32) -> bool {
    if pid == 0 || pid == std::process::id() {
        return pid != 0;
    }
    if !crate::agent::processes::process_exists(pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')));
            !zombie && String::from_utf8_lossy(&cmdline).contains("missions")
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_lock_refuses_and_a_stale_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let lock = RunLock::acquire(dir.path()).unwrap();
        assert!(matches!(RunLock::acquire(dir.path()), Err(LockError::Held { pid, .. }) if pid == std::process::id()));
        assert!(run_alive(dir.path()));
        drop(lock);
        assert!(!run_alive(dir.path()), "no lock file: nothing runs");
        // The refusal names what holds the lock: the editor's server, or a terminal's run.
        std::fs::write(dir.path().join(LOCK_FILE), format!("{{\"pid\": {}, \"by\": \"lsp\"}}\n", std::process::id()))
            .unwrap();
        let held = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(held.contains("language server") && held.contains("missions.pause"), "{held}");
        std::fs::remove_file(dir.path().join(LOCK_FILE)).unwrap();
        assert!(!dir.path().join(LOCK_FILE).exists());
        // A pid that cannot exist (above pid_max) is a crashed runner's.
        std::fs::write(dir.path().join(LOCK_FILE), "{\"pid\": 4194305}\n").unwrap();
        assert!(!run_alive(dir.path()), "a dead runner's lock");
        let taken = RunLock::acquire(dir.path()).unwrap();
        drop(taken);
        std::fs::write(dir.path().join(LOCK_FILE), "garbage").unwrap();
        assert!(RunLock::acquire(dir.path()).is_ok());
    }

    #[test]
    fn the_repository_lock_names_the_mission_that_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire_repository(dir.path(), Path::new("/repo/.missions/one")).unwrap();
        let held = RunLock::acquire_repository(dir.path(), Path::new("/repo/.missions/two")).unwrap_err();
        assert!(matches!(&held, LockError::Held { mission: Some(m), .. } if m == "/repo/.missions/one"), "{held:?}");
        let words = held.to_string();
        assert!(words.contains("/repo/.missions/one") && words.contains("one at a time"), "{words}");
        drop(first);
        assert!(!dir.path().join(REPOSITORY_LOCK_FILE).exists());
        // A crashed runner's repository lock is taken over, like a mission's.
        std::fs::write(dir.path().join(REPOSITORY_LOCK_FILE), "{\"pid\": 4194305, \"mission\": \"/x\"}\n").unwrap();
        assert!(RunLock::acquire_repository(dir.path(), Path::new("/repo/.missions/two")).is_ok());
    }
}
