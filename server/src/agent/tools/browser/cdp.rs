//! A headless Chromium and its DevTools protocol over a pipe (`--remote-debugging-pipe`, the
//! transport Playwright and Puppeteer use): JSON messages separated by NUL bytes on file
//! descriptors 3 (to the browser) and 4 (from it). No port is opened, so nothing else on the
//! machine can drive the browser, and no WebSocket client is needed.
//!
//! The browser runs in its own process group (every helper process it starts included), with
//! a fresh profile folder; [`Chromium::close`] (or dropping it) ends the group and removes
//! the profile.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::super::bash::kill_group;

/// Names looked for on PATH, in order, when `MISSIONS_CHROMIUM` is not set.
const PROGRAMS: [&str; 5] = ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome", "chrome"];

/// The flags every launch gets (besides the pipe and the profile folder).
pub const FLAGS: [&str; 14] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--password-store=basic",
];

/// `MISSIONS_CHROMIUM`, else the first of [`PROGRAMS`] on PATH.
pub fn find_chromium() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("MISSIONS_CHROMIUM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("MISSIONS_CHROMIUM names {}, which is not a file", p.display()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    PROGRAMS
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
        .ok_or_else(|| "no Chromium found: install Debian's `chromium` (apt-get install chromium) or set MISSIONS_CHROMIUM to a Chrome or Chromium binary".to_string())
}

/// A protocol event: its method, parameters and the page session it belongs to.
#[derive(Debug, Clone)]
pub struct Event {
    pub method: String,
    pub params: Value,
    pub session_id: Option<String>,
}

type Pending = Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>;

struct Connection {
    writer: Mutex<File>,
    next_id: AtomicU64,
    pending: Pending,
    closed: AtomicBool,
}

/// A running browser.
pub struct Chromium {
    child: Child,
    pgid: i32,
    profile: PathBuf,
    conn: Arc<Connection>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Chromium {
    /// Starts `program` headless with a fresh profile, `extra` flags and `url`; its own output
    /// goes to `log`. Every event goes to `on_event`, on the reader's thread.
    pub fn launch(
        program: &Path,
        extra: &[String],
        log: &Path,
        on_event: impl FnMut(Event) + Send + 'static,
    ) -> Result<Chromium, String> {
        let profile = std::env::temp_dir().join(format!("missions-chromium-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).map_err(|e| format!("cannot create {}: {e}", profile.display()))?;
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let log_file = File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        // to_browser: we write, it reads on fd 3; from_browser: it writes on fd 4, we read.
        let (to_browser_read, to_browser_write) = pipe()?;
        let (from_browser_read, from_browser_write) = pipe()?;
        let mut command = Command::new(program);
        command
            .args(FLAGS)
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg("about:blank");
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log_file).process_group(0);
        let (child_in, child_out) = (to_browser_read.as_raw_fd(), from_browser_write.as_raw_fd());
        // SAFETY: between fork and exec only async-signal-safe calls run (fcntl, dup2).
        unsafe {
            command.pre_exec(move || {
                // Copied high first so that placing one on 3 or 4 cannot close the other.
                let high_in = libc::fcntl(child_in, libc::F_DUPFD_CLOEXEC, 10);
                let high_out = libc::fcntl(child_out, libc::F_DUPFD_CLOEXEC, 10);
                if high_in < 0 || high_out < 0 || libc::dup2(high_in, 3) < 0 || libc::dup2(high_out, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = match command.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&profile);
                return Err(format!("cannot start {}: {e}", program.display()));
            }
        };
        drop((to_browser_read, from_browser_write));
        let pgid = child.id() as i32;
        let conn = Arc::new(Connection {
            writer: Mutex::new(File::from(to_browser_write)),
            next_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        });
        let reader = {
            let conn = conn.clone();
            let input = File::from(from_browser_read);
            std::thread::Builder::new()
                .name("chromium-cdp".into())
                .spawn(move || read_messages(input, &conn, on_event))
                .map_err(|e| format!("cannot start the protocol reader: {e}"))?
        };
        Ok(Chromium { child, pgid, profile, conn, reader: Some(reader) })
    }

    /// Sends a command (to a page's `session`, or to the browser) and waits for its answer.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
        session: Option<&str>,
        timeout: Duration,
    ) -> Result<Value, String> {
        if self.conn.closed.load(Ordering::SeqCst) {
            return Err("the browser has closed".into());
        }
        let id = self.conn.next_id.fetch_add(1, Ordering::SeqCst);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.conn.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
        let mut bytes = serde_json::to_vec(&message).map_err(|e| e.to_string())?;
        bytes.push(0);
        let written = self.conn.writer.lock().unwrap_or_else(|e| e.into_inner()).write_all(&bytes);
        if let Err(e) = written {
            self.conn.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            return Err(format!("cannot talk to the browser: {e}"));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer.map_err(|e| format!("{method}: {e}")),
            Ok(Err(_)) => Err("the browser has closed".into()),
            Err(_) => {
                self.conn.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                Err(format!("{method}: no answer from the browser within {} s", timeout.as_secs()))
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.conn.closed.load(Ordering::SeqCst)
    }

    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// The profile folder (removed when the browser ends).
    pub fn profile(&self) -> &Path {
        &self.profile
    }

    /// Asks the browser to close, then ends its whole process group and removes its profile.
    pub async fn close(&mut self) {
        if !self.is_closed() {
            let _ = self.call("Browser.close", json!({}), None, Duration::from_secs(3)).await;
        }
        self.end();
    }

    fn end(&mut self) {
        kill_group(self.pgid);
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            // It ends when the pipe closes with the group; a stray holder must not hang us.
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while !reader.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        self.end();
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| format!("cannot create a pipe: {e}"))
}

/// Splits the browser's output on NUL bytes: answers go to their callers, events to
/// `on_event`. At the end every caller still waiting is told the browser closed.
fn read_messages(mut input: File, conn: &Connection, mut on_event: impl FnMut(Event)) {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let scanned = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        let mut from = scanned;
        while let Some(end) = memchr::memchr(0, &buf[from..]).map(|i| from + i) {
            let message = &buf[start..end];
            start = end + 1;
            from = start;
            let Ok(value) = serde_json::from_slice::<Value>(message) else { continue };
            if let Some(id) = value.get("id").and_then(Value::as_u64) {
                let sender = conn.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                if let Some(sender) = sender {
                    let answer = match value.get("error") {
                        Some(e) => Err(e.get("message").and_then(Value::as_str).unwrap_or("error").to_string()),
                        None => Ok(value.get("result").cloned().unwrap_or(Value::Null)),
                    };
                    let _ = sender.send(answer);
                }
            } else if let Some(method) = value.get("method").and_then(Value::as_str) {
                let session_id = value.get("sessionId").and_then(Value::as_str).map(str::to_string);
                let event = Event {
                    method: method.to_string(),
                    params: value.get("params").cloned().unwrap_or(Value::Null),
                    session_id,
                };
                on_event(event);
            }
        }
        buf.drain(..start);
    }
    conn.closed.store(true, Ordering::SeqCst);
    for (_, sender) in conn.pending.lock().unwrap_or_else(|e| e.into_inner()).drain() {
        let _ = sender.send(Err("the browser has closed".into()));
    }
}
