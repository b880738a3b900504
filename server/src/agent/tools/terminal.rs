//! `terminal`: programs in pseudo-terminals, for validators testing a TUI or CLI as a person
//! would (tuistory's role). A program runs in its own session (its own process group) with a
//! terminal of a given size; the model types text and keys, waits for text on the screen and
//! reads it; a VT100 emulator (`vt100`) keeps the screen. Everything lands in the session's
//! evidence folder: a transcript per program (what was typed, screens, the exit code), the
//! raw output, and each snapshot's screen as text.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::BorrowedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::bash::{kill_group, shell_command};
use super::{CommandSettings, Roots, ToolOutput};
use crate::agent::cancel::CancellationToken;
use crate::model::evidence::{FileRole, RecordedFile, TerminalRecord};

pub const DEFAULT_COLS: u16 = 100;
pub const DEFAULT_ROWS: u16 = 30;
const MAX_TERMINALS: usize = 8;
const DEFAULT_WAIT: Duration = Duration::from_secs(10);
pub const MAX_WAIT_S: u64 = 120;
/// Lines kept above the screen, so a line-mode program's earlier output can be waited for.
const SCROLLBACK: usize = 2000;

/// The tool's schema (`input_schema`).
pub fn schema() -> Value {
    json!({"type": "object", "properties": {
        "action": {"enum": ["start", "type", "press", "wait", "snapshot", "stop"], "description": "start: run `command` in a new terminal; type: send `text`; press: send `key`; wait: until `text` is on the screen (or, without text, until the program exits); snapshot: save the screen as evidence under `name`; stop: end the program."},
        "terminal": {"type": "string", "minLength": 1, "maxLength": 40, "description": "Which terminal (default `main`); several can run at once."},
        "command": {"type": "string", "minLength": 1, "description": "start: the shell command line."},
        "cols": {"type": "integer", "minimum": 20, "maximum": 400},
        "rows": {"type": "integer", "minimum": 5, "maximum": 200},
        "text": {"type": "string", "description": "type: the characters to send (no Enter: press it); wait: the text to wait for."},
        "key": {"type": "string", "minLength": 1, "description": "press: Enter, Tab, Escape, Backspace, Delete, Up, Down, Left, Right, Home, End, PageUp, PageDown, Space, F1-F12, Ctrl+<letter>, Alt+<key>, or one character."},
        "timeout_s": {"type": "integer", "minimum": 1, "maximum": MAX_WAIT_S},
        "name": {"type": "string", "minLength": 1, "maxLength": 80, "description": "snapshot: the evidence file's label."}
    }, "required": ["action"], "additionalProperties": false})
}

/// Where a session's terminals keep their evidence.
#[derive(Debug, Clone)]
pub struct EvidenceDir {
    /// `<mission>/evidence`: paths in records are relative to it.
    pub root: PathBuf,
    /// `<mission>/evidence/<milestone>/<group>`.
    pub dir: PathBuf,
}

impl EvidenceDir {
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).to_string_lossy().into_owned()
    }
}

/// One program in a pseudo-terminal.
pub struct Terminal {
    name: String,
    command: String,
    cols: u16,
    rows: u16,
    writer: Arc<Mutex<File>>,
    parser: Arc<Mutex<vt100::Parser>>,
    /// Bytes read from the program so far (to tell when it is quiet).
    output_bytes: Arc<AtomicU64>,
    output_closed: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
    child: Child,
    pgid: i32,
    exit: Option<i32>,
    transcript: File,
    transcript_path: PathBuf,
    evidence: EvidenceDir,
    screens: Vec<RecordedFile>,
}

impl Terminal {
    /// Starts `command` (through `bash -c`, in the working directory, as the session's
    /// commands run) in a `cols`×`rows` terminal.
    pub fn start(
        name: &str,
        command: &str,
        cols: u16,
        rows: u16,
        roots: &Roots,
        settings: &CommandSettings,
        evidence: &EvidenceDir,
    ) -> Result<Terminal, String> {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        std::fs::create_dir_all(&evidence.dir).map_err(|e| format!("cannot create {}: {e}", evidence.dir.display()))?;
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .map_err(|e| format!("cannot open a pseudo-terminal: {e}"))?;
        grantpt(&master)
            .and_then(|()| unlockpt(&master))
            .map_err(|e| format!("cannot set up the pseudo-terminal: {e}"))?;
        let slave_name = ptsname(&master, Vec::new()).map_err(|e| format!("cannot name the pseudo-terminal: {e}"))?;
        rustix::termios::tcsetwinsize(
            &master,
            rustix::termios::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 },
        )
        .map_err(|e| format!("cannot size the terminal: {e}"))?;
        let slave = {
            use std::os::unix::ffi::OsStrExt;
            use std::os::unix::fs::OpenOptionsExt;
            let path = std::ffi::OsStr::from_bytes(slave_name.as_bytes());
            OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
                .open(path)
                .map_err(|e| format!("cannot open the terminal's other end: {e}"))?
        };
        let stdio = || slave.try_clone().map(Stdio::from).map_err(|e| format!("cannot share the terminal: {e}"));
        let mut cmd = shell_command(roots, settings, command);
        cmd.stdin(stdio()?)
            .stdout(stdio()?)
            .stderr(stdio()?)
            .env("TERM", "xterm")
            .env_remove("COLUMNS")
            .env_remove("LINES");
        crate::agent::processes::tag(&mut cmd, &roots.mission_dir);
        // SAFETY: between fork and exec only raw system calls run (setsid, ioctl).
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::setsid()?;
                rustix::process::ioctl_tiocsctty(BorrowedFd::borrow_raw(0))?;
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("cannot start `{command}`: {e}"))?;
        drop(slave);
        let pgid = child.id() as i32;

        let master = File::from(master);
        let mut read_end = master.try_clone().map_err(|e| e.to_string())?;
        let writer = Arc::new(Mutex::new(master));
        let size = |n: u16| std::num::NonZeroU16::new(n).ok_or("a terminal needs at least one row and one column");
        let parser = Arc::new(Mutex::new(vt100::Parser::new(size(rows)?, size(cols)?, SCROLLBACK)));
        let output_bytes = Arc::new(AtomicU64::new(0));
        let output_closed = Arc::new(AtomicBool::new(false));
        let safe = super::file_safe_name(name, "terminal");
        let raw_path = evidence.dir.join(format!("{safe}.output.log"));
        let mut raw = File::create(&raw_path).map_err(|e| format!("cannot create {}: {e}", raw_path.display()))?;
        let reader = {
            let (parser, writer, bytes, closed) =
                (parser.clone(), writer.clone(), output_bytes.clone(), output_closed.clone());
            std::thread::Builder::new()
                .name(format!("terminal-{safe}"))
                .spawn(move || {
                    let mut buf = [0u8; 8192];
                    loop {
                        match read_end.read(&mut buf) {
                            Ok(0) | Err(_) => break, // EIO once the program and its children closed the terminal
                            Ok(n) => {
                                let chunk = &buf[..n];
                                let _ = raw.write_all(chunk);
                                let answer = {
                                    let mut p = parser.lock().unwrap_or_else(|e| e.into_inner());
                                    p.process(chunk);
                                    answers(chunk, p.screen())
                                };
                                if !answer.is_empty() {
                                    let _ = writer.lock().unwrap_or_else(|e| e.into_inner()).write_all(&answer);
                                }
                                bytes.fetch_add(n as u64, Ordering::SeqCst);
                            }
                        }
                    }
                    closed.store(true, Ordering::SeqCst);
                })
                .map_err(|e| format!("cannot start the terminal's reader: {e}"))?
        };
        let transcript_path = evidence.dir.join(format!("{safe}.transcript.txt"));
        let mut transcript =
            File::create(&transcript_path).map_err(|e| format!("cannot create {}: {e}", transcript_path.display()))?;
        let _ = writeln!(
            transcript,
            "$ {command}\n  ({cols}×{rows} terminal, started {})",
            crate::model::timestamp::now_rfc3339()
        );
        Ok(Terminal {
            name: name.to_string(),
            command: command.to_string(),
            cols,
            rows,
            writer,
            parser,
            output_bytes,
            output_closed,
            reader: Some(reader),
            child,
            pgid,
            exit: None,
            transcript,
            transcript_path,
            evidence: evidence.clone(),
            screens: Vec::new(),
        })
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.exited().is_some() {
            let status = self.status();
            return Err(format!("the program in terminal `{}` has exited ({status})", self.name));
        }
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        w.write_all(bytes).and_then(|()| w.flush()).map_err(|e| format!("cannot write to the terminal: {e}"))
    }

    /// Sends characters as typed (a newline is sent as Enter).
    pub fn type_text(&mut self, text: &str) -> Result<(), String> {
        let bytes = text.replace("\r\n", "\r").replace('\n', "\r");
        self.send(bytes.as_bytes())?;
        let _ = writeln!(self.transcript, "> type {text:?}");
        Ok(())
    }

    pub fn press(&mut self, key: &str) -> Result<(), String> {
        let app_cursor = self.parser.lock().unwrap_or_else(|e| e.into_inner()).screen().application_cursor();
        let bytes = key_bytes(key, app_cursor)?;
        self.send(&bytes)?;
        let _ = writeln!(self.transcript, "> press {key}");
        Ok(())
    }

    /// The screen as text: its rows, trailing blanks and blank bottom lines cut.
    pub fn screen(&self) -> String {
        let p = self.parser.lock().unwrap_or_else(|e| e.into_inner());
        let text = p.screen().contents();
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        let keep = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
        lines[..keep].join("\n")
    }

    /// The screen and the lines scrolled off above it.
    fn screen_with_scrollback(&self) -> String {
        let mut p = self.parser.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        let screen = p.screen_mut();
        screen.set_scrollback(usize::MAX);
        let above = screen.scrollback();
        for offset in (1..=above).rev() {
            screen.set_scrollback(offset);
            if let Some(row) = screen.rows(0, self.cols).next() {
                out.push_str(row.trim_end());
                out.push('\n');
            }
        }
        screen.set_scrollback(0);
        out.push_str(&screen.contents());
        out
    }

    /// The exit code once the program has exited (128 + signal when a signal ended it).
    pub fn exited(&mut self) -> Option<i32> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)));
                let _ = writeln!(self.transcript, "--- exited with {}", self.exit.unwrap_or_default());
            }
        }
        self.exit
    }

    fn status(&mut self) -> String {
        match self.exited() {
            Some(code) => format!("exited with {code}"),
            None => "running".to_string(),
        }
    }

    /// Waits until `text` is on the screen (or in the lines above it), or, without text, until
    /// the program exits; the screen either way. An error on timeout or when the program
    /// exits without showing it.
    pub async fn wait_for(
        &mut self,
        text: Option<&str>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<String, String> {
        let began = Instant::now();
        loop {
            let exited = self.exited().is_some();
            let found = match text {
                Some(t) => self.screen_with_scrollback().contains(t),
                None => exited,
            };
            // After the exit, the last output may still be on its way from the reader.
            if found || (exited && self.output_closed.load(Ordering::SeqCst)) || began.elapsed() >= timeout {
                let screen = self.screen();
                let what = text.map_or("the program's exit".to_string(), |t| format!("{t:?}"));
                let _ = writeln!(
                    self.transcript,
                    "--- screen after waiting for {what} ({}):\n{screen}\n---",
                    if found { "found" } else { "not found" }
                );
                if found {
                    return Ok(screen);
                }
                let why = if exited {
                    format!("the program {} without showing it", self.status())
                } else {
                    format!("not seen within {} s", timeout.as_secs())
                };
                return Err(format!("waited for {what}: {why}. The screen:\n{screen}"));
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err("cancelled".into()),
                _ = tokio::time::sleep(Duration::from_millis(40)) => {}
            }
        }
    }

    /// Waits until the program has written nothing for a moment (at most `max`).
    pub async fn settle(&self, max: Duration) {
        let began = Instant::now();
        let mut seen = self.output_bytes.load(Ordering::SeqCst);
        let mut quiet_since = Instant::now();
        while began.elapsed() < max && !self.output_closed.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let now = self.output_bytes.load(Ordering::SeqCst);
            if now != seen {
                seen = now;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= Duration::from_millis(150) {
                break;
            }
        }
    }

    /// Saves the screen as `<label>.screen.txt` in the evidence folder; its path relative to
    /// `evidence/`.
    pub fn snapshot(&mut self, label: &str) -> Result<String, String> {
        let screen = self.screen();
        let path = self.evidence.dir.join(format!("{}.screen.txt", super::file_safe_name(label, "terminal")));
        let mut body = screen.clone();
        body.push('\n');
        crate::model::persist::write_atomic(&path, body.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let relative = self.evidence.relative(&path);
        let _ = writeln!(self.transcript, "--- snapshot {relative}:\n{screen}\n---");
        self.screens.retain(|f| f.path != relative);
        self.screens.push(RecordedFile {
            path: relative.clone(),
            what: FileRole::TerminalScreen,
            label: label.to_string(),
        });
        Ok(relative)
    }

    /// Ends the program (its whole process group) unless it has exited; its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        if self.exited().is_none() {
            kill_group(self.pgid);
            let _ = self.child.wait();
            let _ = writeln!(self.transcript, "--- stopped");
        }
        if let Some(reader) = self.reader.take() {
            // The reader ends when the terminal's last user closes it; a grandchild keeping it
            // open is in the killed group too.
            let deadline = Instant::now() + Duration::from_secs(2);
            while !reader.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.exit
    }

    pub fn record(&mut self) -> TerminalRecord {
        TerminalRecord {
            name: self.name.clone(),
            command: self.command.clone(),
            exit_code: self.exited(),
            transcript: self.evidence.relative(&self.transcript_path),
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if self.exit.is_none() {
            kill_group(self.pgid);
            let _ = self.child.wait();
        }
    }
}

/// Answers a program's terminal queries the emulator does not: the cursor position (DSR 6)
/// and the device attributes (DA), which some TUI libraries wait for.
fn answers(chunk: &[u8], screen: &vt100::Screen) -> Vec<u8> {
    let mut out = Vec::new();
    if contains(chunk, b"\x1b[6n") {
        let (row, col) = screen.cursor_position();
        out.extend_from_slice(format!("\x1b[{};{}R", row + 1, col + 1).as_bytes());
    }
    if contains(chunk, b"\x1b[c") || contains(chunk, b"\x1b[0c") {
        out.extend_from_slice(b"\x1b[?1;2c");
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The bytes a key sends: names as in the schema, `Ctrl+x`, `Alt+x`, or one character.
pub fn key_bytes(key: &str, application_cursor: bool) -> Result<Vec<u8>, String> {
    let trimmed = key.trim();
    let lower = trimmed.to_ascii_lowercase();
    for prefix in ["ctrl+", "ctrl-", "control+", "c-", "^"] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            let c = rest
                .chars()
                .next()
                .filter(|_| rest.chars().count() == 1)
                .ok_or_else(|| format!("unknown key `{key}`: Ctrl+ takes one letter"))?;
            return match c {
                'a'..='z' => Ok(vec![c as u8 - b'a' + 1]),
                '[' => Ok(vec![0x1b]),
                '\\' => Ok(vec![0x1c]),
                ']' => Ok(vec![0x1d]),
                ' ' | '@' => Ok(vec![0]),
                _ => Err(format!("unknown key `{key}`")),
            };
        }
    }
    for prefix in ["alt+", "alt-", "meta+", "m-"] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            let original = &trimmed[trimmed.len() - rest.len()..];
            let mut bytes = vec![0x1b];
            bytes.extend(key_bytes(original, application_cursor)?);
            return Ok(bytes);
        }
    }
    let arrow = |c: char| if application_cursor { format!("\x1bO{c}") } else { format!("\x1b[{c}") };
    let named = match lower.as_str() {
        "enter" | "return" => "\r".to_string(),
        "tab" => "\t".to_string(),
        "shift+tab" | "backtab" => "\x1b[Z".to_string(),
        "escape" | "esc" => "\x1b".to_string(),
        "backspace" => "\x7f".to_string(),
        "delete" | "del" => "\x1b[3~".to_string(),
        "space" => " ".to_string(),
        "up" | "arrowup" => arrow('A'),
        "down" | "arrowdown" => arrow('B'),
        "right" | "arrowright" => arrow('C'),
        "left" | "arrowleft" => arrow('D'),
        "home" => "\x1b[H".to_string(),
        "end" => "\x1b[F".to_string(),
        "pageup" | "pgup" => "\x1b[5~".to_string(),
        "pagedown" | "pgdn" => "\x1b[6~".to_string(),
        "insert" => "\x1b[2~".to_string(),
        "f1" => "\x1bOP".to_string(),
        "f2" => "\x1bOQ".to_string(),
        "f3" => "\x1bOR".to_string(),
        "f4" => "\x1bOS".to_string(),
        "f5" => "\x1b[15~".to_string(),
        "f6" => "\x1b[17~".to_string(),
        "f7" => "\x1b[18~".to_string(),
        "f8" => "\x1b[19~".to_string(),
        "f9" => "\x1b[20~".to_string(),
        "f10" => "\x1b[21~".to_string(),
        "f11" => "\x1b[23~".to_string(),
        "f12" => "\x1b[24~".to_string(),
        _ if trimmed.chars().count() == 1 => trimmed.to_string(),
        _ => return Err(format!("unknown key `{key}`; use Enter, Tab, Escape, Backspace, Delete, Up, Down, Left, Right, Home, End, PageUp, PageDown, Space, F1-F12, Ctrl+<letter>, Alt+<key> or one character (type text with action `type`)")),
    };
    Ok(named.into_bytes())
}

/// A session's terminals, run by name through the tool's JSON.
pub struct Terminals {
    roots: Roots,
    settings: CommandSettings,
    evidence: EvidenceDir,
    open: Vec<Terminal>,
    /// Programs already stopped, kept for their records.
    records: Vec<TerminalRecord>,
    screens: Vec<RecordedFile>,
}

impl Terminals {
    pub fn new(roots: Roots, settings: CommandSettings, evidence: EvidenceDir) -> Self {
        Terminals { roots, settings, evidence, open: Vec::new(), records: Vec::new(), screens: Vec::new() }
    }

    /// Runs one call of the `terminal` tool (arguments already checked against [`schema`]).
    pub async fn run(&mut self, args: &Value, cancel: &CancellationToken) -> ToolOutput {
        self.call(args, cancel).await.into()
    }

    async fn call(&mut self, args: &Value, cancel: &CancellationToken) -> Result<String, String> {
        let name = args["terminal"].as_str().unwrap_or("main").to_string();
        let action = args["action"].as_str().unwrap_or_default();
        let need = |field: &str| {
            args[field].as_str().filter(|s| !s.is_empty()).ok_or_else(|| format!("`{action}` needs `{field}`"))
        };
        if action == "start" {
            let command = need("command")?;
            if self.open.iter().any(|t| t.name == name) {
                return Err(format!(
                    "terminal `{name}` is already running `{}`; stop it first or start another `terminal`",
                    self.find(&name)?.command
                ));
            }
            if self.open.len() >= MAX_TERMINALS {
                return Err(format!("at most {MAX_TERMINALS} terminals at once; stop one first"));
            }
            let cols = args["cols"].as_u64().map_or(DEFAULT_COLS, |c| c as u16);
            let rows = args["rows"].as_u64().map_or(DEFAULT_ROWS, |r| r as u16);
            let t = Terminal::start(&name, command, cols, rows, &self.roots, &self.settings, &self.evidence)?;
            self.open.push(t);
            let t = self.find(&name)?;
            t.settle(Duration::from_secs(1)).await;
            return Ok(format!("started `{command}` in terminal `{name}` ({cols}×{rows}).\n{}", shown(t)));
        }
        let t = self.find(&name)?;
        match action {
            "type" => {
                t.type_text(need("text")?)?;
                t.settle(Duration::from_secs(1)).await;
                Ok(shown(t))
            }
            "press" => {
                t.press(need("key")?)?;
                t.settle(Duration::from_secs(1)).await;
                Ok(shown(t))
            }
            "wait" => {
                let timeout =
                    args["timeout_s"].as_u64().map_or(DEFAULT_WAIT, |s| Duration::from_secs(s.min(MAX_WAIT_S)));
                t.wait_for(args["text"].as_str().filter(|s| !s.is_empty()), timeout, cancel).await?;
                Ok(shown(t))
            }
            "snapshot" => {
                let label = args["name"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{name}-{}", t.screens.len() + 1));
                let path = t.snapshot(&label)?;
                Ok(format!("saved the screen as evidence: {path}\n{}", shown(t)))
            }
            "stop" => {
                let code = t.stop();
                let screen = shown(t);
                let index = self.open.iter().position(|x| x.name == name).expect("found above");
                let mut t = self.open.remove(index);
                self.records.push(t.record());
                self.screens.append(&mut t.screens);
                Ok(format!(
                    "{}\n{screen}",
                    code.map_or("stopped the program".to_string(), |c| format!("the program exited with {c}"))
                ))
            }
            other => Err(format!("unknown action `{other}`")),
        }
    }

    fn find(&mut self, name: &str) -> Result<&mut Terminal, String> {
        let names: Vec<String> = self.open.iter().map(|t| t.name.clone()).collect();
        self.open.iter_mut().find(|t| t.name == name).ok_or_else(|| match names.as_slice() {
            [] => format!("no terminal `{name}` is running; start one with action `start`"),
            n => format!("no terminal `{name}` is running (running: {})", n.join(", ")),
        })
    }

    /// Every program's record and every screen saved, running ones included.
    pub fn recorded(&mut self) -> (Vec<TerminalRecord>, Vec<RecordedFile>) {
        let mut records = self.records.clone();
        let mut files = self.screens.clone();
        for t in &mut self.open {
            records.push(t.record());
            files.extend(t.screens.iter().cloned());
        }
        for r in &records {
            files.push(RecordedFile { path: r.transcript.clone(), what: FileRole::Transcript, label: r.name.clone() });
        }
        (records, files)
    }

    /// Stops every program still running.
    pub fn stop_all(&mut self) {
        for mut t in self.open.drain(..) {
            t.stop();
            self.records.push(t.record());
            self.screens.append(&mut t.screens);
        }
    }
}

/// The screen as the model is shown it, with the program's state.
fn shown(t: &mut Terminal) -> String {
    let screen = t.screen();
    let (row, col) = t.parser.lock().unwrap_or_else(|e| e.into_inner()).screen().cursor_position();
    let status = t.status();
    format!(
        "[terminal `{}` {}×{}, {status}, cursor at line {} column {}]\n{screen}",
        t.name,
        t.cols,
        t.rows,
        row + 1,
        col + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_bytes_a_terminal_sends() {
        let cases: [(&str, bool, &[u8]); 14] = [
            ("Enter", false, b"\r"),
            ("tab", false, b"\t"),
            ("Escape", false, b"\x1b"),
            ("Backspace", false, b"\x7f"),
            ("Up", false, b"\x1b[A"),
            ("Up", true, b"\x1bOA"),
            ("ArrowLeft", false, b"\x1b[D"),
            ("PageDown", false, b"\x1b[6~"),
            ("Ctrl+C", false, b"\x03"),
            ("C-d", false, b"\x04"),
            ("^z", false, b"\x1a"),
            ("Alt+x", false, b"\x1bx"),
            ("q", false, b"q"),
            ("F5", false, b"\x1b[15~"),
        ];
        for (key, app, want) in cases {
            assert_eq!(key_bytes(key, app).unwrap(), want, "{key}");
        }
        assert!(key_bytes("Ctrl+Enter", false).unwrap_err().contains("one letter"));
        assert!(key_bytes("Hyper", false).unwrap_err().starts_with("unknown key `Hyper`"));
    }

    #[test]
    fn queries_get_answers() {
        let mut p =
            vt100::Parser::new(std::num::NonZeroU16::new(5).unwrap(), std::num::NonZeroU16::new(20).unwrap(), 0);
        p.process(b"ab\r\ncd");
        assert_eq!(answers(b"x\x1b[6ny", p.screen()), b"\x1b[2;3R");
        assert_eq!(answers(b"\x1b[c", p.screen()), b"\x1b[?1;2c");
        assert!(answers(b"plain", p.screen()).is_empty());
    }
}
