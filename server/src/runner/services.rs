//! The services of `services.yaml` that user testing needs, run for a validation round:
//! started in dependency order, each in its own process group with its output in
//! `<mission>/service-logs/<name>.log`, each waited for until its healthcheck passes
//! (bounded), and stopped (its `stop` command, then the whole group) after the round. Every
//! process is tagged as an agent's (`agent::processes`), so a runner killed outright takes
//! them with it; and the groups are written to `service-logs/running.json` before anything
//! waits on them, so what even that missed is stopped when a run starts services again (a
//! group is only killed when one of its processes still carries the token it was started with).

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::agent::cancel::CancellationToken;
use crate::agent::processes;
use crate::model::persist::write_json_atomic;
use crate::model::services::{Service, ServicesFile};
use crate::model::timestamp::now_rfc3339;
use rustix::process::Signal;

pub const SERVICE_LOGS_DIR: &str = "service-logs";
const RUNNING_FILE: &str = "running.json";
/// Set in every service's environment; a leftover group is ours only when it still has it.
const TOKEN_VAR: &str = "MISSIONS_SERVICE_TOKEN";
/// Lines of a service's log quoted when it does not come up.
const TAIL_LINES: usize = 30;

#[derive(Debug, Clone)]
pub struct ServiceLimits {
    /// How long a service has to pass its healthcheck.
    pub healthcheck_timeout: Duration,
    /// One run of a healthcheck command.
    pub check_timeout: Duration,
    pub poll: Duration,
    /// A `stop` command, and then the wait for the group to end after SIGTERM.
    pub stop_timeout: Duration,
}

impl Default for ServiceLimits {
    fn default() -> Self {
        ServiceLimits {
            healthcheck_timeout: Duration::from_secs(60),
            check_timeout: Duration::from_secs(10),
            poll: Duration::from_millis(200),
            stop_timeout: Duration::from_secs(10),
        }
    }
}

/// A service that did not come up: why, and the end of its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFailure {
    pub service: String,
    pub reason: String,
    pub log: PathBuf,
    pub log_tail: String,
}

impl std::fmt::Display for ServiceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.log.as_os_str().is_empty() {
            // Nothing was started: services.yaml itself is the problem.
            return write!(f, "cannot start the services: {}", self.reason);
        }
        write!(f, "service `{}` did not come up: {}", self.service, self.reason)?;
        if !self.log_tail.trim().is_empty() {
            write!(f, "\nlast lines of {}:\n{}", self.log.display(), self.log_tail.trim_end())?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct RunningEntry {
    name: String,
    pgid: i32,
    token: String,
    command: String,
    started_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RunningFile {
    services: Vec<RunningEntry>,
}

struct Started {
    name: String,
    child: Child,
    pgid: i32,
    stop: Option<String>,
    log: PathBuf,
}

/// Services started for a round; stop them with [`RunningServices::stop`]. Dropped without
/// that, their groups are killed.
pub struct RunningServices {
    mission: PathBuf,
    working_dir: PathBuf,
    removed_env: Vec<String>,
    limits: ServiceLimits,
    started: Vec<Started>,
}

/// Where a service's output goes.
pub fn log_path(mission: &Path, name: &str) -> PathBuf {
    mission.join(SERVICE_LOGS_DIR).join(format!("{}.log", file_safe(name)))
}

/// Starts `wanted` (every service when empty) and their dependencies, in order, each once it
/// is up. Leftovers of a killed run are stopped first. On a failure everything started so
/// far is stopped again.
pub async fn start(
    mission: &Path,
    working_dir: &Path,
    file: &ServicesFile,
    wanted: &[&str],
    limits: &ServiceLimits,
    removed_env: &[String],
    cancel: &CancellationToken,
) -> Result<RunningServices, ServiceFailure> {
    let order = file.start_order(wanted).map_err(|reason| ServiceFailure {
        service: wanted.join(", "),
        reason,
        log: PathBuf::new(),
        log_tail: String::new(),
    })?;
    stop_leftovers(mission);
    let mut running = RunningServices {
        mission: mission.to_path_buf(),
        working_dir: working_dir.to_path_buf(),
        removed_env: removed_env.to_vec(),
        limits: limits.clone(),
        started: Vec::new(),
    };
    for service in order {
        let log = log_path(mission, &service.name);
        let failure = |reason: String| ServiceFailure {
            service: service.name.clone(),
            reason,
            log: log.clone(),
            log_tail: tail(&log, TAIL_LINES),
        };
        let started = running.spawn(service).map_err(&failure)?;
        running.started.push(started);
        if let Err(reason) = running.wait_until_up(service, cancel).await {
            // The log's tail is taken before stopping adds to it.
            let failure = failure(reason);
            running.stop();
            return Err(failure);
        }
    }
    Ok(running)
}

impl RunningServices {
    pub fn names(&self) -> Vec<&str> {
        self.started.iter().map(|s| s.name.as_str()).collect()
    }

    /// Process group ids, in start order.
    pub fn groups(&self) -> Vec<i32> {
        self.started.iter().map(|s| s.pgid).collect()
    }

    fn spawn(&mut self, service: &Service) -> Result<Started, String> {
        let log = log_path(&self.mission, &service.name);
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let mut out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let _ = writeln!(out, "--- {} starting: {}", now_rfc3339(), service.start);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(&service.start)
            .current_dir(&self.working_dir)
            .stdin(Stdio::null())
            .env(TOKEN_VAR, &token)
            .process_group(0);
        // A runner killed outright takes its services with it (its supervisor stops them).
        crate::agent::processes::tag(&mut command, &self.mission);
        command.stdout(out.try_clone().map_err(|e| e.to_string())?).stderr(out);
        for name in &self.removed_env {
            command.env_remove(name);
        }
        let child = command.spawn().map_err(|e| format!("cannot start `{}`: {e}", service.start))?;
        let pgid = child.id() as i32;
        // Written before any wait, so a run killed from here on finds the group on resume.
        let mut file = read_running(&self.mission);
        file.services.retain(|e| e.name != service.name);
        file.services.push(RunningEntry {
            name: service.name.clone(),
            pgid,
            token,
            command: service.start.clone(),
            started_at: now_rfc3339(),
        });
        let written = write_running(&self.mission, &file);
        let started = Started { name: service.name.clone(), child, pgid, stop: service.stop.clone(), log };
        if let Err(e) = written {
            let mut started = started;
            processes::signal_group(started.pgid, Signal::KILL);
            let _ = started.child.wait();
            return Err(e);
        }
        Ok(started)
    }

    /// Waits until the service answers: its healthcheck exits 0, else its port accepts a
    /// connection, else it is still running after a second.
    async fn wait_until_up(&mut self, service: &Service, cancel: &CancellationToken) -> Result<(), String> {
        let began = Instant::now();
        let mut last = String::new();
        let check_log =
            self.mission.join(SERVICE_LOGS_DIR).join(format!("{}.healthcheck.log", file_safe(&service.name)));
        loop {
            let started = self.started.last_mut().expect("the service was just started");
            if let Ok(Some(status)) = started.child.try_wait() {
                return Err(format!("`{}` exited ({}) before it was up", service.start, describe(status)));
            }
            let up = match (&service.healthcheck, service.port) {
                (Some(check), _) => match run_check(
                    check,
                    &self.mission,
                    &self.working_dir,
                    &self.removed_env,
                    self.limits.check_timeout,
                    &check_log,
                    cancel,
                )
                .await
                {
                    Ok(()) => true,
                    Err(why) => {
                        last = why;
                        false
                    }
                },
                (None, Some(port)) => {
                    let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
                    matches!(tokio::time::timeout(Duration::from_secs(1), connect).await, Ok(Ok(_)))
                }
                (None, None) => began.elapsed() >= Duration::from_secs(1),
            };
            if up {
                return Ok(());
            }
            if began.elapsed() >= self.limits.healthcheck_timeout {
                let secs = self.limits.healthcheck_timeout.as_secs_f64();
                return Err(match (&service.healthcheck, service.port) {
                    (Some(check), _) => {
                        format!("its healthcheck `{check}` did not pass within {secs} s (last: {last})")
                    }
                    (None, Some(port)) => format!("nothing accepted connections on port {port} within {secs} s"),
                    (None, None) => unreachable!("a service without healthcheck or port is up after a second"),
                });
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err("cancelled while waiting for it".into()),
                _ = tokio::time::sleep(self.limits.poll) => {}
            }
        }
    }

    /// Stops every service, last started first: its `stop` command (bounded), SIGTERM to its
    /// group, SIGKILL to what is left after the stop timeout. Returns a note per service that
    /// had to be killed.
    pub fn stop(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        while let Some(mut s) = self.started.pop() {
            if let Some(stop) = &s.stop {
                let mut out = OpenOptions::new().append(true).create(true).open(&s.log).ok();
                if let Some(out) = out.as_mut() {
                    let _ = writeln!(out, "--- {} stopping: {stop}", now_rfc3339());
                }
                let mut command = Command::new("bash");
                command.arg("-c").arg(stop).current_dir(&self.working_dir).stdin(Stdio::null()).process_group(0);
                crate::agent::processes::tag(&mut command, &self.mission);
                match out.as_ref().and_then(|o| Some((o.try_clone().ok()?, o.try_clone().ok()?))) {
                    Some((a, b)) => command.stdout(a).stderr(b),
                    None => command.stdout(Stdio::null()).stderr(Stdio::null()),
                };
                for name in &self.removed_env {
                    command.env_remove(name);
                }
                if let Ok(mut child) = command.spawn() {
                    let pgid = child.id() as i32;
                    if wait_child(&mut child, self.limits.stop_timeout).is_none() {
                        notes.push(format!(
                            "service `{}`: its stop command `{stop}` did not finish within {} s and was killed",
                            s.name,
                            self.limits.stop_timeout.as_secs()
                        ));
                    }
                    processes::signal_group(pgid, Signal::KILL);
                    let _ = child.wait();
                }
            }
            processes::signal_group(s.pgid, Signal::TERM);
            let deadline = Instant::now() + self.limits.stop_timeout;
            loop {
                let _ = s.child.try_wait();
                if !group_alive(s.pgid) {
                    break;
                }
                if Instant::now() >= deadline {
                    notes.push(format!(
                        "service `{}` did not end within {} s of SIGTERM and was killed",
                        s.name,
                        self.limits.stop_timeout.as_secs()
                    ));
                    processes::signal_group(s.pgid, Signal::KILL);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = s.child.wait();
            let mut file = read_running(&self.mission);
            file.services.retain(|e| e.pgid != s.pgid);
            let _ = write_running(&self.mission, &file);
        }
        notes
    }
}

impl Drop for RunningServices {
    fn drop(&mut self) {
        for s in &mut self.started {
            processes::signal_group(s.pgid, Signal::KILL);
            let _ = s.child.wait();
        }
        if !self.started.is_empty() {
            let mut file = read_running(&self.mission);
            file.services.retain(|e| !self.started.iter().any(|s| s.pgid == e.pgid));
            let _ = write_running(&self.mission, &file);
        }
    }
}

/// Kills the service groups a killed run left behind (named in `running.json`, still
/// carrying their token) and forgets them. Returns the names of those it killed.
pub fn stop_leftovers(mission: &Path) -> Vec<String> {
    let path = mission.join(SERVICE_LOGS_DIR).join(RUNNING_FILE);
    if !path.exists() {
        return Vec::new();
    }
    let mut killed = Vec::new();
    for entry in read_running(mission).services {
        let marker = format!("{TOKEN_VAR}={}", entry.token);
        let members = group_members(entry.pgid);
        if members.iter().any(|&pid| has_env(pid, &marker)) {
            processes::signal_group(entry.pgid, Signal::KILL);
            killed.push(entry.name);
        }
    }
    let _ = std::fs::remove_file(&path);
    killed
}

fn read_running(mission: &Path) -> RunningFile {
    std::fs::read(mission.join(SERVICE_LOGS_DIR).join(RUNNING_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn write_running(mission: &Path, file: &RunningFile) -> Result<(), String> {
    let path = mission.join(SERVICE_LOGS_DIR).join(RUNNING_FILE);
    if file.services.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("cannot remove {}: {e}", path.display())),
            _ => Ok(()),
        };
    }
    write_json_atomic(&path, file).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Runs a healthcheck once, in its own group, bounded; its output goes to `log`.
async fn run_check(
    check: &str,
    mission: &Path,
    working_dir: &Path,
    removed_env: &[String],
    timeout: Duration,
    log: &Path,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let out = std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(check)
        .current_dir(working_dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out)
        .process_group(0);
    crate::agent::processes::tag(&mut command, mission);
    for name in removed_env {
        command.env_remove(name);
    }
    let mut child = command.spawn().map_err(|e| format!("cannot run the healthcheck: {e}"))?;
    let pgid = child.id() as i32;
    let began = Instant::now();
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if began.elapsed() >= timeout {
            break None;
        }
        tokio::select! {
            _ = cancel.cancelled() => break None,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    };
    processes::signal_group(pgid, Signal::KILL);
    let _ = child.wait();
    let said = std::fs::read_to_string(log).unwrap_or_default();
    let said = said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string();
    let said = if said.is_empty() { String::new() } else { format!(": {said}") };
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!("{}{said}", describe(s))),
        None => Err(format!("it ran longer than {} s{said}", timeout.as_secs())),
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "ended".to_string(),
    }
}

fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Living (not zombie) processes whose process group is `pgid`, from /proc.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            // `pid (comm) state ppid pgrp …`: comm may hold spaces and parentheses.
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return false };
            let mut fields = after.split_whitespace();
            let state = fields.next().unwrap_or("Z");
            let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
            state != "Z" && state != "X" && pgrp == Some(pgid)
        })
        .collect()
}

fn group_alive(pgid: i32) -> bool {
    if std::path::Path::new("/proc/self/stat").exists() {
        return !group_members(pgid).is_empty();
    }
    processes::group_exists(pgid)
}

fn has_env(pid: i32, marker: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
}

/// The last `lines` lines of a log (at most 8 KiB of it).
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(8 * 1024);
    if file.seek(SeekFrom::Start(from)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    // A cut first line is dropped unless it is all there is.
    let skip = usize::from(from > 0 && all.len() > 1);
    let kept = &all[skip..];
    kept[kept.len().saturating_sub(lines)..].join("\n")
}

fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}
