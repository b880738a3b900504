//! The tools of design §5. Names and arguments are a contract: the mission loop, recorded
//! transcripts and outside tests drive them.
//!
//! A [`Toolbox`] holds one session's context (its roots, its write rules, how commands run)
//! and runs a call by name. Every failure is an error *result* for the model, never a panic.

pub mod bash;
pub mod browser;
pub mod edit_file;
pub mod list_files;
pub mod paths;
pub mod read_file;
pub mod sandbox;
pub mod search;
pub mod terminal;
pub mod write_file;

pub use bash::CommandSettings;
pub use paths::{Roots, WritePolicy};

use crate::agent::cancel::CancellationToken;
use crate::agent::message::ToolSchema;
use crate::agent::schema;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// What a tool call gives back to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub content: String,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn ok(content: impl Into<String>) -> Self {
        ToolOutput { content: content.into(), is_error: false }
    }
    pub fn error(content: impl Into<String>) -> Self {
        ToolOutput { content: content.into(), is_error: true }
    }
}

impl From<Result<String, String>> for ToolOutput {
    fn from(r: Result<String, String>) -> Self {
        match r {
            Ok(s) => ToolOutput::ok(s),
            Err(e) => ToolOutput::error(e),
        }
    }
}

/// The file and command tools, by their stable names.
pub const FILE_TOOLS: [&str; 6] = ["read_file", "write_file", "edit_file", "list_files", "search", "bash"];

/// The schema of a built-in tool (file, command, final or `ask_user`), `None` for other names.
pub fn schema_of(name: &str) -> Option<ToolSchema> {
    let (description, input_schema) = match name {
        "read_file" => (
            "Read a text file. Lines come numbered (`<n>\\t<line>`). `path` is relative to the working directory; the mission folder is readable at the path the prompt gives. `offset` is the first line (1-based), `limit` the number of lines (default 2000).",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "minLength": 1},
                "offset": {"type": "integer", "minimum": 1},
                "limit": {"type": "integer", "minimum": 1}
            }, "required": ["path"], "additionalProperties": false}),
        ),
        "write_file" => (
            "Create or overwrite a file with `content`; missing folders are created.",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "minLength": 1},
                "content": {"type": "string"}
            }, "required": ["path", "content"], "additionalProperties": false}),
        ),
        "edit_file" => (
            "Replace the exact text `old` with `new` in a file. `old` must occur exactly once (include surrounding lines to make it unique) unless `replace_all` is true.",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "minLength": 1},
                "old": {"type": "string", "minLength": 1},
                "new": {"type": "string"},
                "replace_all": {"type": "boolean"}
            }, "required": ["path", "old", "new"], "additionalProperties": false}),
        ),
        "list_files" => (
            "List files under `path` (default: the working directory), honouring .gitignore. `glob` filters names, e.g. `**/*.rs`.",
            json!({"type": "object", "properties": {
                "path": {"type": "string"},
                "glob": {"type": "string"}
            }, "additionalProperties": false}),
        ),
        "search" => (
            "Search file contents with a regular expression (Rust regex syntax) under `path` (default: the working directory), honouring .gitignore. Answers `path:line: text`.",
            json!({"type": "object", "properties": {
                "pattern": {"type": "string", "minLength": 1},
                "path": {"type": "string"}
            }, "required": ["pattern"], "additionalProperties": false}),
        ),
        "bash" => (
            "Run `command` with `bash -c` in the working directory. `timeout_s` defaults to the mission's command timeout (at most 600); on timeout the whole process group is killed and the exit code is 124. Long output shows head and tail; the full output is saved and its path given.",
            json!({"type": "object", "properties": {
                "command": {"type": "string", "minLength": 1},
                "timeout_s": {"type": "integer", "minimum": 1, "maximum": crate::config::MAX_COMMAND_TIMEOUT_S}
            }, "required": ["command"], "additionalProperties": false}),
        ),
        "browser" => (
            "Use the app in a real headless browser as a person would: open a URL, read the page (`snapshot`: an outline with element refs), click, fill, press keys, select, wait for text or a request, and take screenshots as evidence. Every request and console message of the page is recorded as evidence by the runner; `network` and `console` show them.",
            browser::schema(),
        ),
        "terminal" => (
            "Run a program in a terminal of a given size and use it as a person would: type text, press keys, wait for text on the screen, read the screen. `snapshot` saves the screen as evidence; a transcript of everything typed and shown is kept as evidence too.",
            terminal::schema(),
        ),
        "submit_handoff" => (
            "Your final call (droid's EndFeatureRun): hand off the feature with an honest report. Commit your work first.",
            schema::handoff_schema(),
        ),
        "submit_review" => (
            "Your final call: your review of every feature of the milestone, with each issue found (file and line where it is about code).",
            schema::review_schema(),
        ),
        "submit_validation" => (
            "Your final call: the result of every assertion you tested, with the steps you took, what you observed and the evidence files you saved.",
            schema::validation_schema(),
        ),
        "submit_plan" => (
            "Your final call: submit the plan (validation-contract.md, features.json and the shared files you wrote). The answer lists the plan's diagnostics; fix every error and call again.",
            schema::plan_schema(),
        ),
        "ask_user" => (
            "Ask the person clarifying questions. They are written to mission.md under `## Questions` and the session ends until they answer.",
            json!({"type": "object", "properties": {
                "questions": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
            }, "required": ["questions"], "additionalProperties": false}),
        ),
        _ => return None,
    };
    Some(ToolSchema { name: name.to_string(), description: description.to_string(), input_schema })
}

/// The tools that drive the system as a person would, offered only to sessions that have an
/// evidence folder (the user-testing validator's).
pub const PERSON_TOOLS: [&str; 2] = ["browser", "terminal"];

/// One session's tools and the context they run in.
pub struct Toolbox {
    roots: Roots,
    write_policy: WritePolicy,
    session_id: String,
    commands: CommandSettings,
    bash_calls: u64,
    /// Process groups this session started, ended with the session.
    process_groups: Vec<i32>,
    /// The browser and the terminals, when the session has an evidence folder.
    browser: Option<browser::BrowserTool>,
    terminals: Option<terminal::Terminals>,
}

impl Toolbox {
    pub fn new(
        working_dir: &Path,
        mission_dir: &Path,
        write_policy: WritePolicy,
        session_id: &str,
        mut commands: CommandSettings,
    ) -> std::io::Result<Self> {
        commands.write_policy = write_policy;
        Ok(Toolbox {
            roots: Roots::new(working_dir, mission_dir)?,
            write_policy,
            session_id: session_id.to_string(),
            commands,
            bash_calls: 0,
            process_groups: Vec::new(),
            browser: None,
            terminals: None,
        })
    }

    /// Turns on `browser` and `terminal`, which keep what they see in `evidence` (Chromium's
    /// own output goes beside `bash`'s full outputs).
    pub fn with_evidence(mut self, evidence: terminal::EvidenceDir) -> Self {
        let log = self.output_dir().join("chromium.log");
        self.browser = Some(browser::BrowserTool::new(evidence.clone(), log));
        self.terminals = Some(terminal::Terminals::new(self.roots.clone(), self.commands.clone(), evidence));
        self
    }

    /// Whether `browser` and `terminal` can run in this session.
    pub fn has_person_tools(&self) -> bool {
        self.browser.is_some()
    }

    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    /// Ends the browser and every program in a terminal, and returns what they recorded.
    pub async fn finish(&mut self) -> crate::model::evidence::Recorded {
        let mut recorded = crate::model::evidence::Recorded::default();
        if let Some(b) = self.browser.as_mut() {
            b.close().await;
            if let Some(r) = b.record() {
                recorded.files.extend(r.files);
                recorded.network = Some(r.requests);
                recorded.console = Some(r.console);
            }
        }
        if let Some(t) = self.terminals.as_mut() {
            t.stop_all();
            let (programs, files) = t.recorded();
            recorded.terminals = programs;
            recorded.files.extend(files);
        }
        recorded
    }

    /// Where `bash` saves full outputs of this session.
    pub fn output_dir(&self) -> PathBuf {
        let safe: String = self
            .session_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
            .collect();
        self.roots.mission_dir.join("tool-output").join(safe)
    }

    /// Runs a file or command tool. Arguments are checked against the tool's schema first.
    pub async fn run(&mut self, name: &str, args: &Value, cancel: &CancellationToken) -> ToolOutput {
        let person_tool = PERSON_TOOLS.contains(&name) && self.has_person_tools();
        if !FILE_TOOLS.contains(&name) && !person_tool {
            return ToolOutput::error(format!("unknown tool `{name}`"));
        }
        if let Err(e) = check_args(name, args) {
            return ToolOutput::error(e);
        }
        match name {
            "browser" => match self.browser.as_mut() {
                Some(b) => b.run(args, cancel).await,
                None => ToolOutput::error("unknown tool `browser`"),
            },
            "terminal" => match self.terminals.as_mut() {
                Some(t) => t.run(args, cancel).await,
                None => ToolOutput::error("unknown tool `terminal`"),
            },
            "read_file" => read_file::run(&self.roots, args).into(),
            "write_file" => write_file::run(&self.roots, self.write_policy, args).into(),
            "edit_file" => edit_file::run(&self.roots, self.write_policy, args).into(),
            "list_files" => list_files::run(&self.roots, args).into(),
            "search" => search::run(&self.roots, args).into(),
            _ => {
                self.bash_calls += 1;
                let log = self.output_dir().join(format!("{}.log", self.bash_calls));
                let r = bash::run(&self.roots, &self.commands, args, &log, cancel, &mut self.process_groups).await;
                r.into()
            }
        }
    }
}

impl Drop for Toolbox {
    /// Background processes a session left running end with it.
    fn drop(&mut self) {
        for pgid in self.process_groups.drain(..) {
            bash::kill_group(pgid);
        }
    }
}

/// Checks `args` against the schema of tool `name`: an error message for the model, or Ok.
pub fn check_args(name: &str, args: &Value) -> Result<(), String> {
    let Some(tool) = schema_of(name) else {
        return Err(format!("unknown tool `{name}`"));
    };
    if let Value::String(raw) = args {
        let shown: String = raw.chars().take(200).collect();
        return Err(format!("the arguments of `{name}` are not valid JSON: {shown}"));
    }
    schema::validate(&tool.input_schema, args).map_err(|errors| {
        format!("invalid arguments for `{name}`: {}. Fix them and call again.", schema::describe(&errors))
    })
}

/// `name` as a file name of evidence: ASCII letters, digits, `-`, `_` and `.` kept, anything
/// else a `-`, no leading or trailing dot; `fallback` when nothing is left.
pub(crate) fn file_safe_name(name: &str, fallback: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '-' })
        .collect();
    match safe.trim_matches('.') {
        "" => fallback.to_string(),
        trimmed => trimmed.to_string(),
    }
}

/// Text cut to at most `max` bytes on a char boundary.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
