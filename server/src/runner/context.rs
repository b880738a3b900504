//! The first message of every session the runner starts. Each holds only what its role needs
//! (design §6): a worker gets its feature, the full text of the assertions it fulfills and
//! the shared knowledge files; validators get the milestone's assertions and where to look;
//! the orchestrator gets a failed validation's findings.

use std::fmt::Write;
use std::path::Path;

use crate::model::contract::{Assertion, Contract};
use crate::model::features::Feature;
use crate::model::folder;

/// Shared knowledge files are cut here, so one huge note cannot crowd out the task.
const MAX_SHARED_FILE_BYTES: usize = 32 * 1024;

/// The contract text of an assertion: its heading and whole body, as the person wrote it.
pub fn assertion_text(contract_text: &str, a: &Assertion) -> String {
    contract_text.get(a.heading_span.start..a.body_span.end).unwrap_or(&a.title).trim_end().to_string()
}

pub struct WorkerContext<'a> {
    pub mission_dir: &'a Path,
    pub feature: &'a Feature,
    /// The feature object as written in features.json.
    pub feature_raw: &'a str,
    pub contract_text: &'a str,
    pub contract: &'a Contract,
    /// What happened in the feature's previous session (a partial handoff, a failed session).
    pub previous: Option<&'a str>,
}

pub fn worker_task(c: &WorkerContext) -> String {
    let id = c.feature.id().unwrap_or("?");
    let mut t = String::new();
    let _ = writeln!(t, "# Your feature: {id}\n");
    if let Some(d) = &c.feature.description {
        let _ = writeln!(t, "{}\n", d.value);
    }
    let _ = writeln!(t, "## Feature\n\n```json\n{}\n```\n", dedent(c.feature_raw.trim()));
    let claims = c.feature.claims();
    if !claims.is_empty() {
        let _ = writeln!(t, "## Assertions it fulfills\n\nAn independent validator will check each of these as a black box.\n");
        for claim in claims {
            match c.contract.assertion(&claim.value) {
                Some(a) => {
                    let _ = writeln!(t, "{}\n", assertion_text(c.contract_text, a));
                }
                None => {
                    let _ = writeln!(t, "### {} (not found in validation-contract.md)\n", claim.value);
                }
            }
        }
    }
    if let Some(previous) = c.previous {
        let _ = writeln!(t, "## The previous session of this feature\n\n{previous}\n");
    }
    let mut shared: Vec<(String, String)> = vec![("AGENTS.md".into(), "AGENTS.md".into())];
    // A skill is found by its SKILL.md's front-matter name, wherever under skills/ it is.
    if let Some(file) = c.feature.skill().and_then(|s| folder::skill_file(c.mission_dir, s)) {
        let rel = file.strip_prefix(c.mission_dir).unwrap_or(&file).display().to_string();
        shared.push((format!("Skill `{}`", c.feature.skill().unwrap_or_default()), rel));
    }
    shared.push(("architecture.md".into(), "architecture.md".into()));
    shared.push(("services.yaml".into(), "services.yaml".into()));
    for (title, rel) in shared {
        if let Some(text) = read_shared(&c.mission_dir.join(&rel)) {
            let _ = writeln!(t, "## {title} ({rel})\n\n{text}\n");
        }
    }
    for (rel, text) in library_notes(c.mission_dir) {
        let _ = writeln!(t, "## Library note {rel}\n\n{text}\n");
    }
    let _ = write!(t, "Work test-first, commit, then call `submit_handoff` for feature \"{id}\".");
    t
}

pub struct ValidatorContext<'a> {
    pub mission_dir: &'a Path,
    pub milestone: &'a str,
    pub round: u32,
    pub assertions: &'a [String],
    /// The runner's own `Check:` results for this round.
    pub checks: &'a [super::validate::CheckResult],
    /// The milestone's completed features, to review, with the assertions each fulfills.
    pub features: &'a [(String, Vec<String>)],
    /// `(feature id, handoff path relative to the mission folder)` of the milestone's work.
    pub handoffs: &'a [(String, String)],
    /// The commit before the milestone's first feature.
    pub base_commit: Option<&'a str>,
}

pub fn scrutiny_task(c: &ValidatorContext) -> String {
    let mut t = header(c, "Review the work of milestone");
    let _ = writeln!(t, "## The features to review\n");
    if c.features.is_empty() {
        let _ = writeln!(t, "(none)");
    }
    for (id, claims) in c.features {
        match claims.as_slice() {
            [] => writeln!(t, "- {id}: fulfills no assertion"),
            _ => writeln!(t, "- {id}: fulfills {}", claims.join(", ")),
        }
        .ok();
    }
    t.push('\n');
    let _ = writeln!(t, "## What the workers handed off\n");
    if c.handoffs.is_empty() {
        let _ = writeln!(t, "(no handoffs)\n");
    }
    for (feature, path) in c.handoffs {
        let _ = writeln!(t, "- {feature}: {}", c.mission_dir.join(path).display());
    }
    match c.base_commit {
        Some(base) => {
            let _ = writeln!(t, "\nThe milestone's changes: `git log {base}..HEAD` and `git diff {base}..HEAD`.");
        }
        None => {
            let _ = writeln!(t, "\nThe milestone's changes are the recent commits (`git log`).");
        }
    }
    let _ = writeln!(t, "Each worker session's conversation: {} (one line per session, `workerSessionId`, Markdown `skeleton`).\n", c.mission_dir.join(folder::TRANSCRIPTS_FILE).display());
    if let Some(services) = read_shared(&c.mission_dir.join(folder::SERVICES_FILE)) {
        let _ = writeln!(t, "## services.yaml\n\n{services}\n");
    }
    let evidence = c.mission_dir.join(folder::EVIDENCE_DIR).join(folder::path_segment(c.milestone)).join("scrutiny");
    let _ = writeln!(t, "Save command output you rely on under {} (you may write only under evidence/).", evidence.display());
    let _ = write!(t, "Review each of these features with `submit_review`.");
    t
}

pub fn user_testing_task(c: &ValidatorContext) -> String {
    let mut t = header(c, "Test, as a user would, milestone");
    if let Some(services) = read_shared(&c.mission_dir.join(folder::SERVICES_FILE)) {
        let _ = writeln!(t, "## services.yaml\n\n{services}\n");
    }
    if let Some(guide) = read_shared(&c.mission_dir.join("library/user-testing.md")) {
        let _ = writeln!(t, "## library/user-testing.md\n\n{guide}\n");
    }
    let evidence = c.mission_dir.join(folder::EVIDENCE_DIR).join(folder::path_segment(c.milestone));
    let _ = writeln!(t, "Save evidence under {}/<group>/ (you may write only under evidence/) and cite each file relative to evidence/ (`{}/<group>/<file>`).", evidence.display(), folder::path_segment(c.milestone));
    let _ = write!(t, "Report on exactly these assertions with `submit_validation`.");
    t
}

fn header(c: &ValidatorContext, verb: &str) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "# {verb} `{}` (validation round {})\n", c.milestone, c.round);
    let _ = writeln!(t, "## Assertions\n");
    for a in c.assertions {
        let _ = writeln!(t, "{a}\n");
    }
    if !c.checks.is_empty() {
        let _ = writeln!(t, "## The runner's `Check:` commands (ground truth; you cannot overrule them)\n");
        for check in c.checks {
            let _ = writeln!(t, "- {}: {} (output: evidence/{})", check.id, check.status, check.evidence);
        }
        t.push('\n');
    }
    t
}

pub struct FixContext<'a> {
    pub milestone: &'a str,
    pub round: u32,
    /// `(assertion id, status, why)` of the assertions that did not pass.
    pub failing: &'a [(String, String, String)],
    /// Problems the scrutiny validator found: `(feature id, severity, description, file:line)`.
    pub findings: &'a [(String, String, String, Option<String>)],
    /// The syntheses and reviews to read for more.
    pub reports: &'a [String],
}

pub fn fix_task(c: &FixContext) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "# Validation round {} of milestone `{}` failed\n", c.round, c.milestone);
    if !c.failing.is_empty() {
        let _ = writeln!(t, "## Assertions that did not pass\n");
        for (id, status, why) in c.failing {
            let _ = writeln!(t, "- {id} ({status}): {}", why.trim().replace('\n', "\n  "));
        }
        t.push('\n');
    }
    if !c.findings.is_empty() {
        let _ = writeln!(t, "## Review findings\n");
        for (feature, severity, description, at) in c.findings {
            let at = at.as_ref().map(|a| format!(" at {a}")).unwrap_or_default();
            let _ = writeln!(t, "- {feature} [{severity}]{at}: {}", description.trim().replace('\n', "\n  "));
        }
        t.push('\n');
    }
    if !c.reports.is_empty() {
        let _ = writeln!(t, "The reports: {}\n", c.reports.join(", "));
    }
    let _ = write!(
        t,
        "Add a fix feature for every actionable failure at the top of features.json's array (they run first): a new unique kebab-case `id`, a `description` and `expectedBehavior` a fresh worker can act on, `\"milestone\": \"{}\"`, no `fulfills`, `\"status\": \"pending\"`, droid's other keys as the plan's features have them. Keep every other byte of the file as it is. Then call `submit_plan`.",
        c.milestone
    );
    t
}

/// An object cut out of a file starts at its brace; its other lines lose the indentation
/// of its closing brace, so it reads as if written alone.
fn dedent(object: &str) -> String {
    let indent = object.lines().last().map_or(0, |l| l.len() - l.trim_start().len());
    let mut lines = object.lines();
    let mut out = lines.next().unwrap_or_default().to_string();
    for line in lines {
        out.push('\n');
        let cut = line.len() - line.trim_start().len();
        out.push_str(&line[cut.min(indent)..]);
    }
    out
}

fn read_shared(path: &Path) -> Option<String> {
    let text = folder::read_optional(path).ok().flatten()?;
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(match text.char_indices().nth(MAX_SHARED_FILE_BYTES) {
        Some((cut, _)) => format!("{}\n… [cut; read the whole file at {}]", &text[..cut], path.display()),
        None => text.to_string(),
    })
}

/// The library's notes (`library/**`, text files), sorted by path.
fn library_notes(mission_dir: &Path) -> Vec<(String, String)> {
    let root = mission_dir.join("library");
    let mut found = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.filter_map(Result::ok) {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(text) = read_shared(&path) {
                let rel = path.strip_prefix(mission_dir).unwrap_or(&path).display().to_string();
                found.push((rel, text));
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{contract, features};

    #[test]
    fn a_worker_sees_its_feature_its_assertions_and_the_shared_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path();
        std::fs::write(m.join("AGENTS.md"), "Use sh.\n").unwrap();
        std::fs::create_dir_all(m.join("skills/any-folder")).unwrap();
        std::fs::write(m.join("skills/any-folder/SKILL.md"), "---\nname: shell\n---\nTests first.\n").unwrap();
        std::fs::create_dir_all(m.join("library/notes")).unwrap();
        std::fs::write(m.join("library/notes/git.md"), "Commit small.\n").unwrap();
        let contract_text = "# C\n\n### VAL-A-001: One\nDo one.\nTool: terminal\nEvidence: output\n\n### VAL-A-002: Two\nDo two.\n";
        let features_text = r#"{"features": [{"id": "f1", "description": "first", "skillName": "shell", "milestone": "m", "fulfills": ["VAL-A-001"], "status": "pending", "x-extra": 1}, {"id": "f2", "description": "second", "milestone": "m", "fulfills": ["VAL-A-002"], "status": "pending"}]}"#;
        let c = contract::parse(contract_text);
        let f = features::parse(features_text);
        let feature = &f.features[0];
        let task = worker_task(&WorkerContext { mission_dir: m, feature, feature_raw: &features_text[feature.span.clone()], contract_text, contract: &c, previous: Some("left: docs") });
        for expected in ["# Your feature: f1", "\"x-extra\": 1", "### VAL-A-001: One\nDo one.\nTool: terminal\nEvidence: output", "Use sh.", "Tests first.", "Commit small.", "left: docs"] {
            assert!(task.contains(expected), "{expected:?} missing from\n{task}");
        }
        assert!(!task.contains("f2") && !task.contains("VAL-A-002") && !task.contains("architecture.md"), "{task}");
    }
}
