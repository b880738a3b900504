//! A contract's `Evidence:` items checked against what a validator session really left: the
//! files its report cites (inspected on disk: a screenshot must decode as an image) and what
//! the runner's tools recorded (every request and console message of the browser, the
//! terminal's programs). A `pass` whose evidence is missing or contradicted is not a pass.
//!
//! Items: `screenshot`, `screenshot(label)`, `console-errors`, `network`,
//! `network(METHOD path -> status)` (statuses `302|200`, classes `2xx`), `terminal-snapshot`,
//! `terminal-snapshot(label)` (also `terminal output`), `exit-code`, `file(name)`. Anything
//! else is not checked mechanically.

use crate::model::evidence::{ConsoleMessage, FileKind, FileRole, RecordedRequest, TerminalRecord};

/// One `Evidence:` item, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Screenshot {
        label: Option<String>,
    },
    ConsoleErrors,
    Network(Option<NetworkExpectation>),
    Terminal {
        label: Option<String>,
    },
    ExitCode,
    File {
        name: String,
    },
    /// Not checked mechanically; the validator's word stands.
    Other,
}

/// `POST /api/login -> 200`: a method (any when absent), a path or URL (`*` matches any run
/// of characters), the statuses that satisfy it (any when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkExpectation {
    pub method: Option<String>,
    pub target: String,
    pub statuses: Vec<Status>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Exact(u16),
    /// `2xx`: the hundreds digit.
    Class(u16),
}

impl Status {
    fn matches(self, code: u16) -> bool {
        match self {
            Status::Exact(s) => s == code,
            Status::Class(c) => code / 100 == c,
        }
    }
}

const METHODS: [&str; 9] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"];

/// Reads one item; a name it does not know, or a malformed `network(...)`, is [`Item::Other`].
pub fn parse_item(raw: &str) -> Item {
    let raw = raw.trim();
    let (name, arg) = match (raw.find('('), raw.rfind(')')) {
        (Some(open), Some(close)) if close > open => (&raw[..open], Some(raw[open + 1..close].trim())),
        _ => (raw, None),
    };
    let name: String =
        name.trim().chars().map(|c| if c == ' ' || c == '_' { '-' } else { c.to_ascii_lowercase() }).collect();
    let label = arg.filter(|a| !a.is_empty()).map(str::to_string);
    match name.as_str() {
        "screenshot" | "screenshots" | "page-screenshot" | "browser-screenshot" => Item::Screenshot { label },
        "console-errors" | "console-error" | "console" | "console-log" | "console-logs" => Item::ConsoleErrors,
        "network" | "network-log" | "request" => match arg {
            None => Item::Network(None),
            Some(a) => parse_network(a).map_or(Item::Other, |n| Item::Network(Some(n))),
        },
        "terminal-snapshot" | "terminal-snapshots" | "terminal-output" | "terminal" | "terminal-screen"
        | "tui-snapshot" | "screen-capture" => Item::Terminal { label },
        "exit-code" | "exit-status" => Item::ExitCode,
        "file" | "files" => label.map_or(Item::Other, |name| Item::File { name }),
        _ => Item::Other,
    }
}

fn parse_network(arg: &str) -> Option<NetworkExpectation> {
    let (request, statuses) = ["->", "=>", "→"].iter().find_map(|sep| arg.split_once(sep)).unwrap_or((arg, ""));
    let mut words = request.split_whitespace();
    let first = words.next()?;
    let (method, target) = if METHODS.iter().any(|m| m.eq_ignore_ascii_case(first)) {
        (Some(first.to_ascii_uppercase()), words.collect::<Vec<_>>().join(" "))
    } else {
        (None, request.trim().to_string())
    };
    if target.is_empty() {
        return None;
    }
    let mut parsed = Vec::new();
    for s in statuses.replace(" or ", "|").split(['|', '/', ',']).map(str::trim).filter(|s| !s.is_empty()) {
        parsed.push(parse_status(s)?);
    }
    Some(NetworkExpectation { method, target, statuses: parsed })
}

fn parse_status(s: &str) -> Option<Status> {
    let lower = s.to_ascii_lowercase();
    if let Some(class) = lower.strip_suffix("xx") {
        return class.parse::<u16>().ok().filter(|c| (1..=5).contains(c)).map(Status::Class);
    }
    lower.parse::<u16>().ok().filter(|c| (100..=599).contains(c)).map(Status::Exact)
}

/// A file the check can use: cited by the assertion, or written by a tool, as it is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenFile {
    /// Relative to `evidence/`.
    pub path: String,
    pub kind: FileKind,
    /// Set when a runner tool wrote it.
    pub role: Option<FileRole>,
    /// The label a tool was given for it (empty for other files).
    pub label: String,
    /// The validator's report cites it for this assertion.
    pub cited: bool,
}

/// What one session left, for one assertion.
#[derive(Debug, Clone, Copy)]
pub struct SessionView<'a> {
    pub files: &'a [SeenFile],
    /// `None`: no browser ran in the session.
    pub network: Option<&'a [RecordedRequest]>,
    pub console: Option<&'a [ConsoleMessage]>,
    pub terminals: &'a [TerminalRecord],
    /// Where the browser's logs are, relative to `evidence/` (cited as their evidence).
    pub network_log: &'a str,
    pub console_log: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The files that satisfy it, relative to `evidence/`, and what was seen.
    Satisfied {
        paths: Vec<String>,
        note: String,
    },
    Missing(String),
    /// The record says otherwise (a request answered with another status).
    Contradicted(String),
    /// Not an item that can be checked mechanically.
    Unchecked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCheck {
    /// The item as the contract writes it.
    pub item: String,
    pub outcome: Outcome,
}

/// Checks every item of an assertion's `Evidence:` line.
pub fn check(items: &[String], view: &SessionView) -> Vec<ItemCheck> {
    items
        .iter()
        .map(|raw| ItemCheck { item: raw.trim().to_string(), outcome: check_item(&parse_item(raw), view) })
        .collect()
}

/// Why a `pass` cannot stand, or `None` when every checkable item is satisfied:
/// `evidence missing: …` and/or `the recorded evidence contradicts it: …`.
pub fn failure_reason(checks: &[ItemCheck]) -> Option<String> {
    let list = |want_missing: bool| -> Vec<String> {
        checks
            .iter()
            .filter_map(|c| match &c.outcome {
                Outcome::Missing(why) if want_missing => Some(format!("{} ({why})", c.item)),
                Outcome::Contradicted(why) if !want_missing => Some(format!("{} ({why})", c.item)),
                _ => None,
            })
            .collect()
    };
    let (missing, contradicted) = (list(true), list(false));
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("evidence missing: {}", missing.join("; ")));
    }
    if !contradicted.is_empty() {
        parts.push(format!("the recorded evidence contradicts it: {}", contradicted.join("; ")));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Every file that satisfies an item, in order, once each.
pub fn satisfied_paths(checks: &[ItemCheck]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in checks {
        if let Outcome::Satisfied { paths, .. } = &c.outcome {
            for p in paths {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
    }
    out
}

pub fn check_item(item: &Item, view: &SessionView) -> Outcome {
    match item {
        Item::Screenshot { label } => check_screenshot(label.as_deref(), view),
        Item::ConsoleErrors => match view.console {
            None => Outcome::Missing("no browser ran in this session, so no console was recorded".into()),
            Some(messages) => {
                let errors: Vec<&ConsoleMessage> = messages.iter().filter(|m| m.is_error()).collect();
                let note = match errors.as_slice() {
                    [] => "no console errors recorded".to_string(),
                    e => format!("{} console error(s) recorded, first: {}", e.len(), one_line(&e[0].text)),
                };
                Outcome::Satisfied { paths: vec![view.console_log.to_string()], note }
            }
        },
        Item::Network(expectation) => check_network(expectation.as_ref(), view),
        Item::Terminal { label } => check_terminal(label.as_deref(), view),
        Item::ExitCode => match view.terminals.iter().find(|t| t.exit_code.is_some()) {
            Some(t) => Outcome::Satisfied {
                paths: vec![t.transcript.clone()],
                note: format!("`{}` exited with {}", t.command, t.exit_code.unwrap_or_default()),
            },
            None if view.terminals.is_empty() => Outcome::Missing("no program ran in the terminal tool".into()),
            None => Outcome::Missing(
                "no program run in the terminal tool exited (its exit code is recorded when it does)".into(),
            ),
        },
        Item::File { name } => check_file(name, view),
        Item::Other => Outcome::Unchecked,
    }
}

fn check_screenshot(label: Option<&str>, view: &SessionView) -> Outcome {
    let images: Vec<&SeenFile> =
        view.files.iter().filter(|f| f.cited && matches!(f.kind, FileKind::Image { .. })).collect();
    let fitting: Vec<&SeenFile> = images.iter().copied().filter(|f| label.is_none_or(|l| labelled(f, l))).collect();
    if let Some(first) = fitting.first() {
        let FileKind::Image { width, height } = first.kind else { unreachable!("filtered to images") };
        return Outcome::Satisfied {
            paths: fitting.iter().map(|f| f.path.clone()).collect(),
            note: format!("{width}×{height} PNG"),
        };
    }
    let cited_broken: Vec<String> = view
        .files
        .iter()
        .filter(|f| f.cited && (f.role == Some(FileRole::Screenshot) || f.path.to_ascii_lowercase().ends_with(".png")))
        .filter_map(|f| match &f.kind {
            FileKind::Image { .. } => None,
            FileKind::Missing => Some(format!("{} does not exist", f.path)),
            FileKind::Empty => Some(format!("{} is empty", f.path)),
            FileKind::Broken(why) => Some(format!("{} is {why}", f.path)),
            _ => Some(format!("{} is not an image", f.path)),
        })
        .collect();
    let taken: Vec<&str> = view
        .files
        .iter()
        .filter(|f| f.role == Some(FileRole::Screenshot) && !f.cited)
        .map(|f| f.path.as_str())
        .collect();
    let mut why = match label {
        Some(l) if !images.is_empty() => format!("no cited screenshot is labelled `{l}`"),
        _ => "no cited file is a screenshot that decodes as an image".to_string(),
    };
    if !cited_broken.is_empty() {
        why.push_str(&format!(": {}", cited_broken.join(", ")));
    }
    if !taken.is_empty() {
        why.push_str(&format!("; the session took {} not cited for this assertion", taken.join(", ")));
    }
    Outcome::Missing(why)
}

fn check_terminal(label: Option<&str>, view: &SessionView) -> Outcome {
    // The browser's logs are text too, but no capture of a terminal.
    let texts: Vec<&SeenFile> = view
        .files
        .iter()
        .filter(|f| {
            f.cited
                && matches!(f.kind, FileKind::Text { .. })
                && !matches!(f.role, Some(FileRole::Network | FileRole::Console))
        })
        .collect();
    let fitting: Vec<&SeenFile> = texts.iter().copied().filter(|f| label.is_none_or(|l| labelled(f, l))).collect();
    if !fitting.is_empty() {
        let recorded = fitting.iter().filter(|f| f.role == Some(FileRole::TerminalScreen)).count();
        return Outcome::Satisfied {
            paths: fitting.iter().map(|f| f.path.clone()).collect(),
            note: format!("{} text file(s), {recorded} captured by the terminal tool", fitting.len()),
        };
    }
    let captured: Vec<&str> = view
        .files
        .iter()
        .filter(|f| f.role == Some(FileRole::TerminalScreen) && !f.cited)
        .map(|f| f.path.as_str())
        .collect();
    let mut why = match label {
        Some(l) if !texts.is_empty() => format!("no cited terminal capture is labelled `{l}`"),
        _ => "no cited file is a non-empty text capture of the terminal".to_string(),
    };
    if !captured.is_empty() {
        why.push_str(&format!("; the session captured {} not cited for this assertion", captured.join(", ")));
    }
    Outcome::Missing(why)
}

fn check_file(name: &str, view: &SessionView) -> Outcome {
    let wanted = name.trim_start_matches("./");
    let named: Vec<&SeenFile> = view
        .files
        .iter()
        .filter(|f| f.cited && (f.path == wanted || f.path.ends_with(&format!("/{wanted}"))))
        .collect();
    match named
        .iter()
        .find(|f| matches!(f.kind, FileKind::Image { .. } | FileKind::Text { .. } | FileKind::Binary { .. }))
    {
        Some(f) => Outcome::Satisfied { paths: vec![f.path.clone()], note: String::new() },
        None => match named.first() {
            Some(f) => Outcome::Missing(format!("{} is {}", f.path, describe(&f.kind))),
            None => Outcome::Missing(format!("no cited file is named {wanted}")),
        },
    }
}

fn describe(kind: &FileKind) -> String {
    match kind {
        FileKind::Missing => "missing".into(),
        FileKind::Empty => "empty".into(),
        FileKind::Broken(why) => why.clone(),
        FileKind::Image { .. } => "an image".into(),
        FileKind::Text { .. } => "a text".into(),
        FileKind::Binary { .. } => "a binary file".into(),
    }
}

fn check_network(expectation: Option<&NetworkExpectation>, view: &SessionView) -> Outcome {
    let Some(requests) = view.network else {
        return Outcome::Missing("no browser ran in this session, so no request was recorded".into());
    };
    let Some(want) = expectation else {
        return match requests.len() {
            0 => Outcome::Missing("the browser made no request".into()),
            n => Outcome::Satisfied {
                paths: vec![view.network_log.to_string()],
                note: format!("{n} request(s) recorded"),
            },
        };
    };
    let same: Vec<&RecordedRequest> = requests
        .iter()
        .filter(|r| {
            want.method.as_ref().is_none_or(|m| r.method.eq_ignore_ascii_case(m)) && url_matches(&want.target, &r.url)
        })
        .collect();
    let wanted = || format!("{}{}", want.method.as_ref().map(|m| format!("{m} ")).unwrap_or_default(), want.target);
    if same.is_empty() {
        let seen: Vec<String> = requests
            .iter()
            .filter(|r| {
                r.resource_type == "Document"
                    || r.resource_type == "XHR"
                    || r.resource_type == "Fetch"
                    || r.method != "GET"
            })
            .take(6)
            .map(|r| format!("{} {}", r.method, path_and_query(&r.url)))
            .collect();
        let seen = if seen.is_empty() { String::new() } else { format!(" (recorded: {})", seen.join(", ")) };
        return Outcome::Missing(format!("no {} was recorded{seen}", wanted()));
    }
    let fits = |r: &&&RecordedRequest| {
        (want.statuses.is_empty() && r.status.is_some())
            || r.status.is_some_and(|s| want.statuses.iter().any(|p| p.matches(s)))
    };
    if let Some(r) = same.iter().find(fits) {
        return Outcome::Satisfied {
            paths: vec![view.network_log.to_string()],
            note: format!("{} {} -> {}", r.method, path_and_query(&r.url), r.status.unwrap_or_default()),
        };
    }
    let answers: Vec<String> = same
        .iter()
        .map(|r| match (r.status, &r.error) {
            (Some(s), _) => s.to_string(),
            (None, Some(e)) => format!("failed: {e}"),
            (None, None) => "no response".to_string(),
        })
        .collect();
    let expected = if want.statuses.is_empty() {
        String::from("a response")
    } else {
        want.statuses
            .iter()
            .map(|s| match s {
                Status::Exact(c) => c.to_string(),
                Status::Class(c) => format!("{c}xx"),
            })
            .collect::<Vec<_>>()
            .join("|")
    };
    Outcome::Contradicted(format!("{} answered {} (expected {expected})", wanted(), answers.join(", ")))
}

/// Whether a recorded URL is the one an item names: a full URL compares without fragment, a
/// path with `?` compares path and query, a bare path the path alone; a trailing `/` is
/// ignored and `*` matches any run of characters.
pub fn url_matches(target: &str, url: &str) -> bool {
    let url = url.split('#').next().unwrap_or(url);
    let against = if target.contains("://") {
        url.to_string()
    } else if target.contains('?') {
        path_and_query(url)
    } else {
        path_and_query(url).split('?').next().unwrap_or_default().to_string()
    };
    let norm = |s: &str| s.strip_suffix('/').filter(|s| !s.is_empty() && !s.ends_with('/')).unwrap_or(s).to_string();
    glob(&norm(target), &norm(&against))
}

/// `/path?query` of a URL (`/` when it has no path).
pub fn path_and_query(url: &str) -> String {
    let url = url.split('#').next().unwrap_or(url);
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => return url.to_string(),
    };
    match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('?') => format!("/{}", &rest[i..]),
        Some(i) => rest[i..].to_string(),
        None => "/".to_string(),
    }
}

/// `*` matches any run of characters; everything else literally.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// A label matches a file whose tool label or file name holds it (case and separators aside).
fn labelled(file: &SeenFile, label: &str) -> bool {
    let want = slug(label);
    let stem = file.path.rsplit('/').next().unwrap_or(&file.path);
    !want.is_empty() && (slug(&file.label).contains(&want) || slug(stem).contains(&want))
}

fn slug(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

fn one_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(160).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(method: Option<&str>, target: &str, statuses: &[Status]) -> Item {
        Item::Network(Some(NetworkExpectation {
            method: method.map(str::to_string),
            target: target.into(),
            statuses: statuses.to_vec(),
        }))
    }

    #[test]
    fn items_are_read() {
        use Status::*;
        let cases: Vec<(&str, Item)> = vec![
            ("screenshot", Item::Screenshot { label: None }),
            ("Screenshot(login form)", Item::Screenshot { label: Some("login form".into()) }),
            ("screenshots()", Item::Screenshot { label: None }),
            ("console-errors", Item::ConsoleErrors),
            ("console errors", Item::ConsoleErrors),
            ("network", Item::Network(None)),
            ("network(POST /api/auth/login -> 200)", net(Some("POST"), "/api/auth/login", &[Exact(200)])),
            ("network(post /login -> 302|200)", net(Some("POST"), "/login", &[Exact(302), Exact(200)])),
            ("network(GET /health => 2xx)", net(Some("GET"), "/health", &[Class(2)])),
            ("network(/x -> 301 or 308)", net(None, "/x", &[Exact(301), Exact(308)])),
            ("network(GET /items?page=2)", net(Some("GET"), "/items?page=2", &[])),
            ("network(GET /x -> two hundred)", Item::Other),
            ("network(GET -> 200)", Item::Other),
            ("network(GET /x -> 999)", Item::Other),
            ("terminal-snapshot", Item::Terminal { label: None }),
            ("terminal-snapshot(stderr)", Item::Terminal { label: Some("stderr".into()) }),
            ("terminal output", Item::Terminal { label: None }),
            ("exit-code", Item::ExitCode),
            ("file(report.csv)", Item::File { name: "report.csv".into() }),
            ("file", Item::Other),
            ("curl response body", Item::Other),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_item(raw), want, "{raw}");
        }
    }

    #[test]
    fn urls_match_as_paths_queries_or_whole() {
        let cases = [
            ("/login", "http://127.0.0.1:8080/login", true),
            ("/login", "http://127.0.0.1:8080/login?next=/", true),
            ("/login", "http://127.0.0.1:8080/login/", true),
            ("/login", "http://127.0.0.1:8080/login2", false),
            ("/login?next=/", "http://h/login?next=/", true),
            ("/login?next=/", "http://h/login", false),
            ("/", "http://h", true),
            ("/", "http://h/", true),
            ("/api/*/items", "http://h/api/v2/items", true),
            ("/api/*", "http://h/other", false),
            ("http://h:1/x", "http://h:1/x#top", true),
            ("http://h:1/x", "http://h:2/x", false),
        ];
        for (target, url, want) in cases {
            assert_eq!(url_matches(target, url), want, "{target} vs {url}");
        }
    }

    fn req(method: &str, path: &str, status: Option<u16>) -> RecordedRequest {
        RecordedRequest {
            method: method.into(),
            url: format!("http://127.0.0.1:4000{path}"),
            status,
            error: status.is_none().then(|| "net::ERR_CONNECTION_REFUSED".to_string()),
            resource_type: "Document".into(),
        }
    }

    fn file(path: &str, kind: FileKind, role: Option<FileRole>, label: &str, cited: bool) -> SeenFile {
        SeenFile { path: path.into(), kind, role, label: label.into(), cited }
    }

    fn image() -> FileKind {
        FileKind::Image { width: 1280, height: 800 }
    }

    fn text(t: &str) -> FileKind {
        FileKind::Text { bytes: t.len() as u64, text: t.into() }
    }

    /// What a session left, and what each item makes of it.
    #[test]
    fn items_are_checked_against_the_session() {
        let requests = vec![
            req("GET", "/", Some(200)),
            req("POST", "/login", Some(302)),
            req("GET", "/home", Some(200)),
            req("POST", "/broken", Some(500)),
            req("GET", "/down", None),
        ];
        let console = vec![ConsoleMessage {
            level: "error".into(),
            text: "Uncaught TypeError: x is undefined".into(),
            source: "exception".into(),
            url: String::new(),
        }];
        let files = vec![
            file("m/g/login.png", image(), Some(FileRole::Screenshot), "login form", true),
            file("m/g/other.png", image(), Some(FileRole::Screenshot), "other", false),
            file("m/g/main.screen.txt", text("$ calc\n5\n"), Some(FileRole::TerminalScreen), "main", true),
            file("m/g/report.csv", text("a,b\n"), None, "", true),
            file("m/g/empty.csv", FileKind::Empty, None, "", true),
            file("m/g/browser-network.jsonl", text("{}\n"), Some(FileRole::Network), "", true),
        ];
        let terminals = vec![TerminalRecord {
            name: "main".into(),
            command: "calc".into(),
            exit_code: Some(0),
            transcript: "m/g/main.transcript.txt".into(),
        }];
        let view = SessionView {
            files: &files,
            network: Some(&requests),
            console: Some(&console),
            terminals: &terminals,
            network_log: "m/g/browser-network.jsonl",
            console_log: "m/g/browser-console.jsonl",
        };
        type Expect = Box<dyn Fn(&Outcome) -> bool>;
        fn satisfied(paths: &'static [&'static str]) -> Expect {
            Box::new(
                move |o| matches!(o, Outcome::Satisfied { paths: p, .. } if p.iter().map(String::as_str).eq(paths.iter().copied())),
            )
        }
        let cases: Vec<(&str, Expect)> = vec![
            ("screenshot", satisfied(&["m/g/login.png"])),
            ("screenshot(login-form)", satisfied(&["m/g/login.png"])),
            (
                "screenshot(other)",
                Box::new(
                    |o: &Outcome| matches!(o, Outcome::Missing(w) if w.contains("labelled `other`") && w.contains("m/g/other.png not cited")),
                ),
            ),
            ("network(POST /login -> 302|200)", satisfied(&["m/g/browser-network.jsonl"])),
            ("network(GET /home)", satisfied(&["m/g/browser-network.jsonl"])),
            (
                "network(POST /broken -> 2xx)",
                Box::new(|o: &Outcome| *o == Outcome::Contradicted("POST /broken answered 500 (expected 2xx)".into())),
            ),
            (
                "network(GET /down -> 200)",
                Box::new(|o: &Outcome| {
                    *o == Outcome::Contradicted(
                        "GET /down answered failed: net::ERR_CONNECTION_REFUSED (expected 200)".into(),
                    )
                }),
            ),
            (
                "network(DELETE /login)",
                Box::new(
                    |o: &Outcome| matches!(o, Outcome::Missing(w) if w.starts_with("no DELETE /login was recorded (recorded: GET /, POST /login")),
                ),
            ),
            ("network", satisfied(&["m/g/browser-network.jsonl"])),
            (
                "console-errors",
                Box::new(
                    |o: &Outcome| matches!(o, Outcome::Satisfied { note, .. } if note.starts_with("1 console error(s) recorded, first: Uncaught TypeError")),
                ),
            ),
            ("terminal-snapshot", satisfied(&["m/g/main.screen.txt", "m/g/report.csv"])),
            ("terminal-snapshot(main)", satisfied(&["m/g/main.screen.txt"])),
            ("exit-code", satisfied(&["m/g/main.transcript.txt"])),
            ("file(report.csv)", satisfied(&["m/g/report.csv"])),
            ("file(empty.csv)", Box::new(|o: &Outcome| *o == Outcome::Missing("m/g/empty.csv is empty".into()))),
            (
                "file(nothing.csv)",
                Box::new(|o: &Outcome| *o == Outcome::Missing("no cited file is named nothing.csv".into())),
            ),
            ("a video of it", Box::new(|o: &Outcome| *o == Outcome::Unchecked)),
        ];
        for (raw, ok) in cases {
            let got = check_item(&parse_item(raw), &view);
            assert!(ok(&got), "{raw}: {got:?}");
        }
    }

    #[test]
    fn a_session_without_browser_or_terminal_satisfies_none_of_theirs() {
        let files = vec![
            file(
                "m/g/fake.png",
                FileKind::Broken("not a PNG image that decodes (Invalid PNG signature.)".into()),
                None,
                "",
                true,
            ),
            file("m/g/gone.png", FileKind::Missing, Some(FileRole::Screenshot), "gone", true),
        ];
        let view = SessionView {
            files: &files,
            network: None,
            console: None,
            terminals: &[],
            network_log: "",
            console_log: "",
        };
        let items: Vec<String> = [
            "screenshot",
            "network(POST /login -> 200)",
            "console-errors",
            "exit-code",
            "terminal-snapshot",
            "Tool notes",
        ]
        .map(String::from)
        .to_vec();
        let checks = check(&items, &view);
        let reason = failure_reason(&checks).unwrap();
        insta::assert_snapshot!(reason, @"evidence missing: screenshot (no cited file is a screenshot that decodes as an image: m/g/fake.png is not a PNG image that decodes (Invalid PNG signature.), m/g/gone.png does not exist); network(POST /login -> 200) (no browser ran in this session, so no request was recorded); console-errors (no browser ran in this session, so no console was recorded); exit-code (no program ran in the terminal tool); terminal-snapshot (no cited file is a non-empty text capture of the terminal)");
        assert!(satisfied_paths(&checks).is_empty());
    }

    #[test]
    fn a_contradiction_and_a_gap_are_both_named() {
        let requests = vec![req("POST", "/login", Some(500))];
        let view = SessionView {
            files: &[],
            network: Some(&requests),
            console: Some(&[]),
            terminals: &[],
            network_log: "n",
            console_log: "c",
        };
        let checks =
            check(&["screenshot".into(), "network(POST /login -> 302|200)".into(), "console-errors".into()], &view);
        assert_eq!(
            failure_reason(&checks).unwrap(),
            "evidence missing: screenshot (no cited file is a screenshot that decodes as an image); the recorded evidence contradicts it: network(POST /login -> 302|200) (POST /login answered 500 (expected 302|200))"
        );
        assert_eq!(satisfied_paths(&checks), vec!["c".to_string()]);
    }
}
