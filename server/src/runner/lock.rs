//! One runner per mission: `run.lock` in the mission folder holds the runner's pid. A lock
//! whose process is gone (a crash, SIGKILL) is stale and taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "run.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another `missions run` (pid {pid}) is running this mission; wait for it, or stop it with Ctrl-C")]
    Held { pid: u32 },
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
                    let body = serde_json::json!({"pid": std::process::id(), "startedAt": crate::model::timestamp::now_rfc3339()});
                    file.write_all(format!("{body}\n").as_bytes()).map_err(io)?;
                    file.sync_all().map_err(io)?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).ok().and_then(|t| pid_of(&t));
                    match holder {
                        Some(pid) if is_runner_alive(pid) => return Err(LockError::Held { pid }),
                        _ => {
                            tracing::warn!("removing a stale lock {} (its runner is gone)", path.display());
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(io(e)),
            }
        }
        let pid = std::fs::read_to_string(&path).ok().and_then(|t| pid_of(&t)).unwrap_or(0);
        Err(LockError::Held { pid })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn pid_of(text: &str) -> Option<u32> {
    serde_json::from_str::<serde_json::Value>(text.trim()).ok()?.get("pid")?.as_u64().map(|p| p as u32)
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
        assert!(matches!(RunLock::acquire(dir.path()), Err(LockError::Held { pid }) if pid == std::process::id()));
        drop(lock);
        assert!(!dir.path().join(LOCK_FILE).exists());
        // A pid that cannot exist (above pid_max) is a crashed runner's.
        std::fs::write(dir.path().join(LOCK_FILE), "{\"pid\": 4194305}\n").unwrap();
        let taken = RunLock::acquire(dir.path()).unwrap();
        drop(taken);
        std::fs::write(dir.path().join(LOCK_FILE), "garbage").unwrap();
        assert!(RunLock::acquire(dir.path()).is_ok());
    }
}
