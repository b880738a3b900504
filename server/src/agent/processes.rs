//! Nothing an agent starts outlives the process that runs the mission, however that process
//! ends. Each command gets its own process group, which the session kills when it ends; but a
//! runner killed with SIGKILL kills nothing, and what the command left in the background (a
//! server, `sleep 60; touch x &`) would go on changing the repository under the next run. So:
//!
//! - every process an agent starts (the `bash` tool, `Check:` commands, an external agent,
//!   programs in the `terminal` tool, services.yaml's services for user testing)
//!   carries `MISSIONS_AGENT_PROCESS=<owner>:<mission folder>` in its environment, which its
//!   own children inherit, wherever they move (another process group, `setsid`, a sandbox);
//! - the first of them starts a supervisor: a small `bash` in a process group of its own that
//!   ignores the terminal's signals and waits on a pipe from this process. The pipe closes when
//!   this process ends, however it ends (a SIGKILL included); the supervisor then kills every
//!   process tagged with this owner and exits;
//! - a run that starts on a mission first kills every process tagged with that mission, of any
//!   owner ([`kill_orphans`]): what a supervisor could not reach (it was killed too, the
//!   machine ran out of memory) is stopped before anything else happens.
//!
//! Linux only (it reads `/proc`); elsewhere commands still get their process groups.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rustix::process::{Pid, Signal};

/// The environment variable that marks an agent's processes.
pub const TAG_ENV: &str = "MISSIONS_AGENT_PROCESS";

/// The supervisor: waits for its input to close, then stops the processes tagged with owner
/// `$1`: SIGTERM first (a `git` stopped that way removes its lock files, which a SIGKILL
/// leaves behind to block the next run's commits), SIGKILL a moment later to whatever is left,
/// scanning again until two scans in a row find none: a process may fork and exit between a
/// scan's listing of `/proc` and its reading of that process (`cmd &; exit`), and its child
/// shows only in the next listing.
const SUPERVISOR: &str = r#"trap '' INT TERM HUP QUIT PIPE
while read -r _; do :; done
tag="MISSIONS_AGENT_PROCESS=$1:"
signal=TERM
empty=0
for ((round = 0; round < 100; round++)); do
  found=
  for file in /proc/[0-9]*/environ; do
    { while IFS= read -r -d '' var; do
        if [[ $var == "$tag"* ]]; then
          pid=${file#/proc/}
          kill -$signal "${pid%/environ}" && found=1
          break
        fi
      done < "$file"; } 2>/dev/null
  done
  if [ "$signal" = TERM ]; then
    signal=KILL
    [ -n "$found" ] && sleep 0.3
    continue
  fi
  if [ -n "$found" ]; then empty=0; else empty=$((empty + 1)); fi
  [ "$empty" -ge 2 ] && exit 0
  sleep 0.02
done
"#;

/// This process's owner token: its pid and a random part (pids are reused).
/// Sends `signal` to process `pid`; quiet when it is already gone.
pub fn signal_process(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Sends `signal` to the process group `pgid`; quiet when it is already gone. Groups 0 and 1
/// (ours, init's) are never signalled.
pub fn signal_group(pgid: i32, signal: Signal) {
    if let Some(pgid) = Pid::from_raw(pgid).filter(|_| pgid > 1) {
        let _ = rustix::process::kill_process_group(pgid, signal);
    }
}

/// Whether process `pid` exists (also one of another user, which we may not signal).
pub fn process_exists(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else { return false };
    matches!(rustix::process::test_kill_process(pid), Ok(()) | Err(rustix::io::Errno::PERM))
}

/// Whether the process group `pgid` has a member.
pub fn group_exists(pgid: i32) -> bool {
    Pid::from_raw(pgid).is_some_and(|pgid| rustix::process::test_kill_process_group(pgid).is_ok())
}

fn owner() -> &'static str {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER.get_or_init(|| format!("{}-{:08x}", std::process::id(), rand::random::<u32>()))
}

/// Marks `command` as an agent's process of the mission in `mission_dir`, starting this
/// process's supervisor if it is not running yet.
pub fn tag(command: &mut Command, mission_dir: &Path) {
    let mut value = OsString::from(format!("{}:", owner())).into_vec();
    value.extend_from_slice(canonical(mission_dir).as_bytes());
    command.env(TAG_ENV, OsString::from_vec(value));
    ensure_supervisor();
}

fn canonical(dir: &Path) -> OsString {
    dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()).into_os_string()
}

fn ensure_supervisor() {
    #[cfg(target_os = "linux")]
    {
        // The write end of its input, never written to: held until this process ends.
        static SUPERVISOR_INPUT: OnceLock<Mutex<Option<ChildStdin>>> = OnceLock::new();
        SUPERVISOR_INPUT.get_or_init(|| Mutex::new(start_supervisor()));
    }
}

#[cfg(target_os = "linux")]
fn start_supervisor() -> Option<ChildStdin> {
    use std::os::unix::process::CommandExt;
    let spawned = Command::new("bash")
        .arg("-c")
        .arg(SUPERVISOR)
        .arg("missions-supervisor")
        .arg(owner())
        // Nothing of this process's environment (API keys): agents can read a process's
        // environment; the supervisor needs only `sleep`.
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        Ok(mut child) => {
            let input = child.stdin.take();
            // Not waited for: it outlives this process by design, then init reaps it.
            std::mem::forget(child);
            input
        }
        Err(e) => {
            tracing::warn!("cannot start the process supervisor (bash): {e}; an agent's background processes outlive a killed run until the next run of its mission");
            None
        }
    }
}

/// Kills every process tagged with the mission in `mission_dir` (by any owner: called while
/// holding the mission's run lock, so no live run has any); returns how many.
pub fn kill_orphans(mission_dir: &Path) -> usize {
    let mission = canonical(mission_dir);
    let killed = kill_tagged(|value| {
        value.iter().position(|&b| b == b':').is_some_and(|at| &value[at + 1..] == mission.as_bytes())
    });
    if killed > 0 {
        tracing::warn!("killed {killed} process(es) a killed run of {} left running", mission_dir.display());
    }
    killed
}

/// The processes tagged for the mission in `mission_dir` that are alive now.
pub fn tagged_processes(mission_dir: &Path) -> Vec<u32> {
    let mission = canonical(mission_dir);
    tagged(&|value: &[u8]| {
        value.iter().position(|&b| b == b':').is_some_and(|at| &value[at + 1..] == mission.as_bytes())
    })
}

/// Stops the tagged processes `matches` accepts as [`SUPERVISOR`] does: SIGTERM, then SIGKILL
/// until two scans in a row find none.
fn kill_tagged(matches: impl Fn(&[u8]) -> bool) -> usize {
    let terminated = tagged(&matches);
    for &pid in &terminated {
        signal_process(pid, Signal::TERM);
    }
    if !terminated.is_empty() {
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut stopped: std::collections::BTreeSet<u32> = terminated.into_iter().collect();
    let mut empty = 0;
    for _ in 0..100 {
        let found = tagged(&matches);
        stopped.extend(&found);
        if found.is_empty() {
            empty += 1;
            if empty == 2 {
                break;
            }
        } else {
            empty = 0;
        }
        for pid in found {
            signal_process(pid, Signal::KILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stopped.len()
}

/// Pids whose environment has [`TAG_ENV`] with a value `matches` accepts.
fn tagged(matches: &dyn Fn(&[u8]) -> bool) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let prefix = format!("{TAG_ENV}=");
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if pid == std::process::id() {
            continue;
        }
        // Another user's process, or one that just ended: not ours.
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        let found = environ.split(|&b| b == 0).any(|var| var.strip_prefix(prefix.as_bytes()).is_some_and(matches));
        if found {
            out.push(pid);
        }
    }
    out
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn sleeper(tag_value: Option<&[u8]>) -> std::process::Child {
        let mut c = Command::new("sleep");
        c.arg("30");
        if let Some(v) = tag_value {
            c.env(TAG_ENV, OsString::from_vec(v.to_vec()));
        }
        c.spawn().unwrap()
    }

    fn alive(child: &mut std::process::Child) -> bool {
        child.try_wait().unwrap().is_none()
    }

    #[test]
    fn orphans_of_a_mission_are_killed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (mission, other) = (dir.path().join("m"), dir.path().join("other"));
        std::fs::create_dir_all(&mission).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        let of = |owner: &str, d: &Path| [owner.as_bytes(), b":", canonical(d).as_bytes()].concat();
        let mut orphan = sleeper(Some(&of("123-dead", &mission)));
        let mut elsewhere = sleeper(Some(&of("123-dead", &other)));
        let mut untagged = sleeper(None);
        assert_eq!(tagged_processes(&mission), vec![orphan.id()]);
        assert_eq!(kill_orphans(&mission), 1);
        std::thread::sleep(Duration::from_millis(50));
        assert!(!alive(&mut orphan) && alive(&mut elsewhere) && alive(&mut untagged));
        for mut c in [elsewhere, untagged] {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}
