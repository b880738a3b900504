//! `missions check [PATH...]`: lint mission folders or single mission files.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::analysis::checks::base::BaseChecks;
use crate::analysis::checks::{self, MissionInput};
use crate::analysis::drift::History;
use crate::analysis::position::{ColumnUnit, Positions};
use crate::analysis::{Diagnostic, DocKind, Severity, Target};
use crate::model::folder::{self, MissionTexts, CONTRACT_FILE, FEATURES_FILE};
use crate::model::{contract, features};
use crate::runner::{base_checks, drift};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub struct CheckOptions {
    pub paths: Vec<PathBuf>,
    pub format: Format,
    pub verbose: bool,
    pub quiet: bool,
    /// Run the contract's `Check:` commands on the mission's base commit (`--run-checks`).
    pub run_checks: bool,
}

/// Exit codes of design §3.
pub const EXIT_CLEAN: i32 = 0;
pub const EXIT_ERRORS: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;

/// One printable diagnostic, with both position styles computed.
struct Row {
    path: String,
    /// 1-based line and code-point column for text output.
    line: u32,
    column: u32,
    /// LSP range: 0-based lines, UTF-16 columns.
    range: [(u32, u32); 2],
    severity: Severity,
    code: &'static str,
    message: String,
}

/// What to check: a whole folder, or one file against its sibling.
enum Unit {
    Folder(PathBuf),
    File { dir: PathBuf, doc: DocKind, shown: PathBuf },
}

pub fn run(opts: &CheckOptions, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut bad_input = false;
    let mut units = Vec::new();
    let cwd = std::env::current_dir().unwrap_or_default();
    if opts.paths.is_empty() {
        match folder::find_workspace_missions(&cwd) {
            Some((_, missions)) if !missions.is_empty() => {
                units.extend(missions.into_iter().map(|m| Unit::Folder(relative_to(&m, &cwd))))
            }
            Some((dir, _)) => {
                let _ = writeln!(err, "missions: no mission folders in {}", dir.display());
                return EXIT_BAD_INPUT;
            }
            None => {
                let _ = writeln!(err, "missions: no .missions/ folder found from {} up to the git top level; pass a mission folder or file", cwd.display());
                return EXIT_BAD_INPUT;
            }
        }
    }
    for path in &opts.paths {
        match classify(path) {
            Ok(mut found) => units.append(&mut found),
            Err(message) => {
                let _ = writeln!(err, "missions: {}: {message}", path.display());
                bad_input = true;
            }
        }
    }

    let units = dedupe(units);
    let mut rows = Vec::new();
    let mut warned = std::collections::HashSet::new();
    for unit in &units {
        let (dir, only) = match unit {
            Unit::Folder(dir) => (dir.clone(), None),
            Unit::File { dir, doc, shown } => (dir.clone(), Some((*doc, shown.clone()))),
        };
        let started = std::time::Instant::now();
        let mut texts = folder::read_mission(&dir);
        tracing::debug!(mission = %dir.display(), contract_bytes = texts.contract.as_ref().map_or(0, String::len), features_bytes = texts.features.as_ref().map_or(0, String::len), skills = ?texts.skills, "read mission files");
        match &only {
            None => {
                for (path, e) in &texts.errors {
                    // A damaged validation-state.json is reported like a damaged features.json:
                    // a diagnostic at the place, and the documents are still checked.
                    if let Some(row) = validation_state_row(path) {
                        rows.push(row);
                        continue;
                    }
                    let _ = writeln!(err, "missions: {}: {e}", path.display());
                    bad_input = true;
                }
            }
            Some((doc, path)) => {
                // The checked file is read from the path given; its sibling is context, so a
                // sibling that cannot be read is mentioned but not fatal.
                for (p, e) in texts.errors.iter().filter(|(p, _)| p.file_name() != path.file_name()) {
                    // Once, when both documents of the folder are named.
                    if warned.insert(p.clone()) {
                        let _ = writeln!(err, "missions: warning: {}: {e} (checked without it)", p.display());
                    }
                }
                let own = folder::read_text(path);
                if let Err(e) = &own {
                    let _ = writeln!(err, "missions: {}: {e}", path.display());
                    bad_input = true;
                    continue;
                }
                match doc {
                    DocKind::Contract => texts.contract = own.ok(),
                    DocKind::Features => texts.features = own.ok(),
                }
            }
        }
        let before = rows.len();
        let facts = RepositoryFacts::gather(&texts, opts, err);
        rows.extend(check_texts(&texts, only.as_ref().map(|(d, p)| (*d, p.as_path())), &facts));
        tracing::debug!(mission = %dir.display(), diagnostics = rows.len() - before, elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "checked mission");
    }

    rows.sort_by(|a, b| (&a.path, a.line, a.column, a.code).cmp(&(&b.path, b.line, b.column, b.code)));
    let shown: Vec<&Row> = rows.iter().filter(|r| opts.verbose || r.severity != Severity::Hint).collect();
    match opts.format {
        Format::Text => {
            for r in &shown {
                let _ = writeln!(
                    out,
                    "{}:{}:{}: {}[{}]: {}",
                    r.path,
                    r.line,
                    r.column,
                    r.severity.as_str(),
                    r.code,
                    r.message
                );
            }
            if !opts.quiet && !shown.is_empty() {
                let _ = writeln!(err, "{}", summary(&shown, mission_count(&units)));
            }
        }
        Format::Json => {
            let array: Vec<_> = shown
                .iter()
                .map(|r| {
                    json!({
                        "path": r.path,
                        "range": {
                            "start": {"line": r.range[0].0, "character": r.range[0].1},
                            "end": {"line": r.range[1].0, "character": r.range[1].1},
                        },
                        "severity": r.severity.as_str(),
                        "code": r.code,
                        "message": r.message,
                    })
                })
                .collect();
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&array).unwrap_or_else(|_| "[]".into()));
        }
    }
    if bad_input {
        EXIT_BAD_INPUT
    } else if rows.iter().any(|r| r.severity == Severity::Error) {
        EXIT_ERRORS
    } else {
        EXIT_CLEAN
    }
}

/// How many distinct mission folders the units belong to (`X/features.json
/// X/validation-contract.md` is one mission).
fn mission_count(units: &[Unit]) -> usize {
    let mut dirs: Vec<PathBuf> = units
        .iter()
        .map(|u| match u {
            Unit::Folder(d) | Unit::File { dir: d, .. } => std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()),
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs.len()
}

/// The diagnostic for a validation-state.json that is text but not a validation state (torn,
/// not JSON, the wrong shape), at the place the parser stopped; `None` for other failures
/// (unreadable, not UTF-8), which stay bad input.
fn validation_state_row(path: &Path) -> Option<Row> {
    if path.file_name()? != folder::VALIDATION_STATE_FILE {
        return None;
    }
    let text = folder::read_text(path).ok()?;
    let e = serde_json::from_str::<crate::model::records::ValidationState>(&text).err()?;
    let code = if e.is_syntax() || e.is_eof() { "json-syntax" } else { "schema" };
    let full = e.to_string();
    let reason = full.rsplit_once(" at line ").map_or(full.as_str(), |(head, _)| head);
    let pos = Positions::new(&text);
    // serde_json counts 1-based lines and byte columns; column 0 means "before the line".
    let offset = pos.offset(e.line().saturating_sub(1) as u32, e.column().saturating_sub(1) as u32, ColumnUnit::Utf8);
    let (line, column) = pos.line_col(offset, ColumnUnit::CodePoint);
    let start = pos.line_col(offset, ColumnUnit::Utf16);
    Some(Row {
        path: display(path),
        line: line + 1,
        column: column + 1,
        range: [start, start],
        severity: Severity::Error,
        code,
        message: format!(
            "not a valid validation state ({reason}); validation results are not checked until it is fixed or removed"
        ),
    })
}

fn file_name(doc: DocKind) -> &'static str {
    match doc {
        DocKind::Contract => CONTRACT_FILE,
        DocKind::Features => FEATURES_FILE,
    }
}

/// Drops units named twice (`m m`, or a file and its own folder), comparing canonical paths.
fn dedupe(units: Vec<Unit>) -> Vec<Unit> {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let folders: Vec<PathBuf> =
        units.iter().filter_map(|u| if let Unit::Folder(d) = u { Some(canonical(d)) } else { None }).collect();
    let mut seen: Vec<PathBuf> = Vec::new();
    units
        .into_iter()
        .filter(|u| {
            let key = match u {
                Unit::Folder(d) => canonical(d),
                Unit::File { dir, shown, .. } => {
                    if folders.contains(&canonical(dir)) {
                        return false;
                    }
                    canonical(shown)
                }
            };
            if seen.contains(&key) {
                return false;
            }
            seen.push(key);
            true
        })
        .collect()
}

/// Turns a command-line path into what to check.
fn classify(path: &Path) -> Result<Vec<Unit>, String> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        _ => e.to_string(),
    })?;
    if meta.is_dir() {
        if folder::is_mission_folder(path) {
            return Ok(vec![Unit::Folder(path.to_path_buf())]);
        }
        let found = folder::find_mission_folders(path);
        if found.is_empty() {
            return Err("not a mission folder, and no mission folder below it (a mission folder holds features.json and validation-contract.md, or mission.md and state.json)".to_string());
        }
        return Ok(found.into_iter().map(Unit::Folder).collect());
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let doc = match name.as_str() {
        CONTRACT_FILE => DocKind::Contract,
        FEATURES_FILE => DocKind::Features,
        _ => {
            return Err(format!(
                "not a mission document: `missions check` takes {CONTRACT_FILE}, {FEATURES_FILE} or a mission folder"
            ))
        }
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(vec![Unit::File { dir, doc, shown: path.to_path_buf() }])
}

/// What the mission's git repository says: its history (for drift, always) and, with
/// `--run-checks`, the `Check:` commands' results on its base commit.
#[derive(Default)]
struct RepositoryFacts {
    history: Option<History>,
    base_checks: Option<BaseChecks>,
}

impl RepositoryFacts {
    fn gather(texts: &MissionTexts, opts: &CheckOptions, err: &mut dyn Write) -> RepositoryFacts {
        let history = drift::history(&texts.dir, &texts.validation);
        let base_checks = if opts.run_checks { run_base_checks(texts, opts.quiet, err) } else { None };
        RepositoryFacts { history, base_checks }
    }
}

/// The contract's checks on the mission's base commit: from the cache, the rest run now
/// (said on stderr unless `--quiet`). `None`, said on stderr, when they cannot run.
fn run_base_checks(texts: &MissionTexts, quiet: bool, err: &mut dyn Write) -> Option<BaseChecks> {
    let commands = base_checks::commands(&contract::parse(texts.contract.as_deref()?));
    if commands.is_empty() {
        return None;
    }
    let base = match base_checks::mission_base(&texts.dir) {
        Ok(b) => b,
        Err(e) => {
            let _ =
                writeln!(err, "missions: warning: {}: the `Check:` commands were not run: {e}", texts.dir.display());
            return None;
        }
    };
    let opts = base_checks::Options::for_repo(&base.repo);
    let (_, missing) = base_checks::cached(&base, &commands, opts.timeout);
    if !missing.is_empty() && !quiet {
        let _ = writeln!(
            err,
            "missions: running {} `Check:` command(s) on {} ({} at a time, at most {} s each)",
            missing.len(),
            base.commit.get(..10).unwrap_or(&base.commit),
            opts.parallel.min(missing.len()),
            opts.timeout.as_secs()
        );
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "missions: warning: cannot run the `Check:` commands: {e}");
            return None;
        }
    };
    let cancel = crate::agent::CancellationToken::new();
    match runtime.block_on(base_checks::check(&base, &texts.dir, &commands, &opts, &cancel, &mut |_, _| {})) {
        Ok((checks, _)) => Some(checks),
        Err(e) => {
            let _ =
                writeln!(err, "missions: warning: {}: the `Check:` commands were not run: {e}", texts.dir.display());
            None
        }
    }
}

/// Parses and checks one mission; in single-file mode keeps that file's diagnostics only.
fn check_texts(texts: &MissionTexts, only: Option<(DocKind, &Path)>, facts: &RepositoryFacts) -> Vec<Row> {
    let (contract_text, features_text) = (texts.contract.as_deref(), texts.features.as_deref());
    // The two documents parse independently: use both cores.
    let (contract, features) = std::thread::scope(|s| {
        let contract = s.spawn(|| contract_text.map(contract::parse));
        let features = features_text.map(features::parse);
        (contract.join().unwrap_or_default(), features)
    });
    let input = MissionInput {
        contract: contract.as_ref(),
        features: features.as_ref(),
        skills: texts.skills.as_deref(),
        validation: Some(&texts.validation),
        base_checks: facts.base_checks.as_ref(),
        history: facts.history.as_ref(),
    };
    let diags = checks::check(&input);
    // The parsed documents are large trees of small allocations and the process is about to
    // print and exit: skip freeing them (as compilers do) to keep big missions fast.
    std::mem::forget(contract);
    std::mem::forget(features);
    // Line tables cost a pass over each text: build them only for a document with diagnostics.
    let contract_pos = std::cell::OnceCell::new();
    let features_pos = std::cell::OnceCell::new();
    let workdir = folder::working_directory(&texts.dir);
    let doc_path = |doc: DocKind| match only {
        Some((d, p)) if d == doc => p.to_path_buf(),
        _ => texts.dir.join(file_name(doc)),
    };
    diags
        .into_iter()
        .filter(|d| only.is_none_or(|(doc, _)| d.doc() == Some(doc)))
        .filter_map(|d: Diagnostic| {
            let code = d.code.as_str();
            match &d.target {
                Target::Doc { doc, span } => {
                    let pos = match doc {
                        DocKind::Contract => contract_pos.get_or_init(|| contract_text.map(Positions::new)).as_ref()?,
                        DocKind::Features => features_pos.get_or_init(|| features_text.map(Positions::new)).as_ref()?,
                    };
                    let (line, col) = pos.line_col(span.start, ColumnUnit::CodePoint);
                    Some(Row {
                        path: display(&doc_path(*doc)),
                        line: line + 1,
                        column: col + 1,
                        range: [pos.line_col(span.start, ColumnUnit::Utf16), pos.line_col(span.end, ColumnUnit::Utf16)],
                        severity: d.severity,
                        code,
                        message: d.message,
                    })
                }
                Target::SourceLine { path, line } => {
                    let full = folder::source_file(workdir.as_deref(), path)?;
                    Some(Row {
                        path: display(&full),
                        line: *line,
                        column: 1,
                        range: [(line - 1, 0), (line - 1, 0)],
                        severity: d.severity,
                        code,
                        message: d.message,
                    })
                }
            }
        })
        .collect()
}

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `path` relative to `base` (with `..` steps when it is above it), as ruff and cargo print paths.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let path_parts: Vec<_> = path.components().collect();
    let base_parts: Vec<_> = base.components().collect();
    let common = path_parts.iter().zip(&base_parts).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..base_parts.len() {
        out.push("..");
    }
    for part in &path_parts[common..] {
        out.push(part);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn summary(rows: &[&Row], missions: usize) -> String {
    let count = |s: Severity| rows.iter().filter(|r| r.severity == s).count();
    let mut parts = Vec::new();
    for (s, word) in [
        (Severity::Error, "error"),
        (Severity::Warning, "warning"),
        (Severity::Information, "information"),
        (Severity::Hint, "hint"),
    ] {
        let n = count(s);
        if n > 0 {
            parts.push(format!("{n} {word}{}", if n == 1 || word == "information" { "" } else { "s" }));
        }
    }
    format!("{} in {missions} mission{}", parts.join(", "), if missions == 1 { "" } else { "s" })
}
