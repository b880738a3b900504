//! One runner per mission: `run.lock` in the mission folder holds the runner's pid. A lock
//! whose process is gone (a crash, SIGKILL) is stale and taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "run.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}", held_message(*pid, by.as_deref()))]
    Held { pid: u32, by: Option<String> },
    #[error("cannot create the lock file {path}: {message}")]
    Io { path: PathBuf, message: String },
}

/// Held while the loop runs; the file is removed on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    pub fn acquire(mission: &Path) -> Result<RunLock, LockError> {
        let path = mission.join(LOCK_FILE);
        let io = |e: std::io::Error| LockError::Io { path: path.clone(), message: e.to_string() };
        // Two tries: the second after removing a stale lock.
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    // `by`: the subcommand holding it (`run`, `lsp`, `demo`), for the refusal's words.
                    let body = serde_json::json!({"pid": std::process::id(), "by": std::env::args().nth(1), "startedAt": crate::model::timestamp::now_rfc3339()});
                    file.write_all(format!("{body}\n").as_bytes()).map_err(io)?;
                    file.sync_all().map_err(io)?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).ok().and_then(|t| holder_of(&t));
                    match holder {
                        Some((pid, by)) if is_runner_alive(pid) => return Err(LockError::Held { pid, by }),
                        _ => {
                            tracing::warn!("removing a stale lock {} (its runner is gone)", path.display());
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(io(e)),
            }
        }
        let (pid, by) = std::fs::read_to_string(&path).ok().and_then(|t| holder_of(&t)).unwrap_or((0, None));
        Err(LockError::Held { pid, by })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The pid in a lock file, and the subcommand that wrote it when it says.
fn holder_of(text: &str) -> Option<(u32, Option<String>)> {
    let v = serde_json::from_str::<serde_json::Value>(text.trim()).ok()?;
    let pid = v.get("pid")?.as_u64()? as u32;
    Some((pid, v.get("by").and_then(|b| b.as_str()).map(str::to_string)))
}

fn held_message(pid: u32, by: Option<&str>) -> String {
    match by {
        Some("lsp") => format!("an editor's language server (`missions lsp`, pid {pid}) is running this mission; pause it there (the missions.pause command, `:Mission pause` in Neovim) or wait for it"),
        _ => format!("another `missions run` (pid {pid}) is running this mission; wait for it, or stop it with Ctrl-C"),
    }
}

/// Whether `pid` is alive and (where /proc tells) still a `missions` process, so a pid the
/// system reused for something else does not keep a dead runner's lock.
fn is_runner_alive(pid: u32) -> bool {
    if pid == 0 || pid == std::process::id() {
        return pid != 0;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is delivered.
    let exists = unsafe { libc::kill(pid as i32, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')));
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
        drop(lock);
        // The refusal names what holds the lock: the editor's server, or a terminal's run.
        std::fs::write(dir.path().join(LOCK_FILE), format!("{{\"pid\": {}, \"by\": \"lsp\"}}\n", std::process::id())).unwrap();
        let held = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(held.contains("language server") && held.contains("missions.pause"), "{held}");
        std::fs::remove_file(dir.path().join(LOCK_FILE)).unwrap();
        assert!(!dir.path().join(LOCK_FILE).exists());
        // A pid that cannot exist (above pid_max) is a crashed runner's.
        std::fs::write(dir.path().join(LOCK_FILE), "{\"pid\": 4194305}\n").unwrap();
        let taken = RunLock::acquire(dir.path()).unwrap();
        drop(taken);
        std::fs::write(dir.path().join(LOCK_FILE), "garbage").unwrap();
        assert!(RunLock::acquire(dir.path()).is_ok());
    }
}
