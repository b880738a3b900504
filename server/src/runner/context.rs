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
/// The workers' shared context stays under this; files past it are named, not included.
const MAX_SHARED_CONTEXT_BYTES: usize = 48 * 1024;

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
        let _ = writeln!(
            t,
            "## Assertions it fulfills\n\nAn independent validator will check each of these as a black box.\n"
        );
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
    // A skill is found by its SKILL.md's front-matter name, wherever under skills/ it is.
    if let Some(file) = c.feature.skill().and_then(|s| folder::skill_file(c.mission_dir, s)) {
        let rel = file.strip_prefix(c.mission_dir).unwrap_or(&file).display().to_string();
        if let Some(text) = read_shared(&file) {
            let _ = writeln!(t, "## Skill `{}` ({rel})\n\n{text}\n", c.feature.skill().unwrap_or_default());
        }
    }
    let _ = write!(t, "Work test-first, commit, then call `submit_handoff` for feature \"{id}\".");
    t
}

/// What every worker of the mission starts from, the same bytes for each (the prompt cache
/// reads it): AGENTS.md, architecture.md, services.yaml and the library's top-level notes
/// (not its `research/` or `contract-work/` scratch, nor the validators' `user-testing.md`).
/// Past [`MAX_SHARED_CONTEXT_BYTES`] a file is named by its path instead.
pub fn worker_shared(mission_dir: &Path) -> String {
    let mut files: Vec<String> = vec!["AGENTS.md".into(), "architecture.md".into(), folder::SERVICES_FILE.into()];
    files.extend(library_notes(mission_dir));
    let mut t =
        String::from("# The mission's shared knowledge\n\nEvery worker of this mission starts from these files.\n\n");
    let mut left_out = Vec::new();
    for rel in files {
        let Some(text) = read_shared(&mission_dir.join(&rel)) else { continue };
        let section = format!("## {rel}\n\n{text}\n\n");
        if t.len() + section.len() > MAX_SHARED_CONTEXT_BYTES {
            left_out.push(mission_dir.join(&rel).display().to_string());
        } else {
            t.push_str(&section);
        }
    }
    if !left_out.is_empty() {
        let _ = writeln!(t, "Too long to include here; read them when you need them: {}", left_out.join(", "));
    }
    t.trim_end().to_string()
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
    /// The user-testing session's evidence folder, `<milestone>/<group>` under `evidence/`.
    pub evidence_group: Option<&'a str>,
    /// The services the runner started for user testing: `(name, port, log path)`.
    pub services: &'a [(String, Option<u16>, String)],
    /// services.yaml's test, typecheck and lint as the runner ran them for the review.
    pub commands: &'a [super::commands::CommandResult],
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
    let _ = writeln!(
        t,
        "Each worker session's conversation: {} (one line per session, `workerSessionId`, Markdown `skeleton`).\n",
        c.mission_dir.join(folder::TRANSCRIPTS_FILE).display()
    );
    if let Some(services) = read_shared(&c.mission_dir.join(folder::SERVICES_FILE)) {
        let _ = writeln!(t, "## services.yaml\n\n{services}\n");
    }
    if !c.commands.is_empty() {
        let _ = writeln!(t, "## The project's checks, as the runner ran them (services.yaml `commands`; these results are the review's `validatorsRun`)\n");
        for r in c.commands {
            let how = if r.timed_out { "timed out (exit 124)".to_string() } else { format!("exit {}", r.exit_code) };
            let _ = writeln!(t, "### {}: `{}`: {how}\n\n```\n{}\n```\n", r.name, r.command, r.output.trim_end());
        }
    }
    let evidence = c.mission_dir.join(folder::EVIDENCE_DIR).join(folder::path_segment(c.milestone)).join("scrutiny");
    let _ = writeln!(
        t,
        "Save command output you rely on under {} (you may write only under evidence/).",
        evidence.display()
    );
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
    if !c.services.is_empty() {
        let _ = writeln!(
            t,
            "## Services the runner started (they pass their healthchecks; it stops them after your session)\n"
        );
        for (name, port, log) in c.services {
            let port = port.map(|p| format!(" on port {p}")).unwrap_or_default();
            let _ = writeln!(t, "- {name}{port}; its output: {}", c.mission_dir.join(log).display());
        }
        t.push('\n');
    }
    let group =
        c.evidence_group.map_or_else(|| format!("{}/<group>", folder::path_segment(c.milestone)), str::to_string);
    let evidence = c.mission_dir.join(folder::EVIDENCE_DIR).join(&group);
    let _ = writeln!(t, "Save evidence under {}/ (`browser` and `terminal` save theirs there; you may write only under evidence/) and cite each file relative to evidence/ (`{group}/<file>`).", evidence.display());
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
    /// Why features.json does not lint now (an interrupted fix session left it so).
    pub plan_problems: Option<&'a str>,
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
    if let Some(problems) = c.plan_problems {
        let _ = writeln!(t, "## features.json does not lint now\n\nAn earlier fix session was cut off while it edited the file (its fix features may be there already). Repair these too; `submit_plan` accepts only a plan that lints clean:\n\n{}\n", problems.trim());
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

/// The library's shared notes: the Markdown files directly in `library/`, sorted, except
/// `user-testing.md` (the validators' guide). Subfolders are the planner's scratch.
fn library_notes(mission_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(mission_dir.join("library")) else { return Vec::new() };
    let mut found: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.ends_with(".md") && name != "user-testing.md")
        .map(|name| format!("library/{name}"))
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{contract, features};

    #[test]
    fn a_worker_sees_its_feature_its_assertions_and_its_skill_only() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path();
        std::fs::write(m.join("AGENTS.md"), "Use sh.\n").unwrap();
        std::fs::create_dir_all(m.join("skills/any-folder")).unwrap();
        std::fs::write(m.join("skills/any-folder/SKILL.md"), "---\nname: shell\n---\nTests first.\n").unwrap();
        let contract_text =
            "# C\n\n### VAL-A-001: One\nDo one.\nTool: terminal\nEvidence: output\n\n### VAL-A-002: Two\nDo two.\n";
        let features_text = r#"{"features": [{"id": "f1", "description": "first", "skillName": "shell", "milestone": "m", "fulfills": ["VAL-A-001"], "status": "pending", "x-extra": 1}, {"id": "f2", "description": "second", "milestone": "m", "fulfills": ["VAL-A-002"], "status": "pending"}]}"#;
        let c = contract::parse(contract_text);
        let f = features::parse(features_text);
        let feature = &f.features[0];
        let task = worker_task(&WorkerContext {
            mission_dir: m,
            feature,
            feature_raw: &features_text[feature.span.clone()],
            contract_text,
            contract: &c,
            previous: Some("left: docs"),
        });
        for expected in [
            "# Your feature: f1",
            "\"x-extra\": 1",
            "### VAL-A-001: One\nDo one.\nTool: terminal\nEvidence: output",
            "Tests first.",
            "left: docs",
        ] {
            assert!(task.contains(expected), "{expected:?} missing from\n{task}");
        }
        assert!(
            !task.contains("f2") && !task.contains("VAL-A-002") && !task.contains("Use sh."),
            "the shared files are the shared context's: {task}"
        );
    }

    #[test]
    fn the_shared_context_is_the_same_for_every_worker_and_leaves_scratch_out() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path();
        std::fs::write(m.join("AGENTS.md"), "Use sh.\n").unwrap();
        std::fs::write(m.join("services.yaml"), "commands:\n  test: sh test.sh\n").unwrap();
        std::fs::create_dir_all(m.join("library/research")).unwrap();
        std::fs::write(m.join("library/research/options.md"), "Planner's scratch.\n").unwrap();
        std::fs::write(m.join("library/user-testing.md"), "How to test.\n").unwrap();
        std::fs::write(m.join("library/git.md"), "Commit small.\n").unwrap();
        std::fs::write(m.join("library/api.md"), "The API.\n").unwrap();
        let shared = worker_shared(m);
        assert_eq!(shared, worker_shared(m), "byte for byte the same each time");
        assert_eq!(
            shared,
            "# The mission's shared knowledge\n\nEvery worker of this mission starts from these files.\n\n## AGENTS.md\n\nUse sh.\n\n## services.yaml\n\ncommands:\n  test: sh test.sh\n\n## library/api.md\n\nThe API.\n\n## library/git.md\n\nCommit small."
        );
        // Past the cap, files are named instead of included.
        std::fs::write(m.join("architecture.md"), "x".repeat(30 * 1024)).unwrap();
        std::fs::write(m.join("library/big.md"), "y".repeat(30 * 1024)).unwrap();
        let capped = worker_shared(m);
        assert!(capped.len() <= MAX_SHARED_CONTEXT_BYTES + 200, "{}", capped.len());
        assert!(capped.contains("## architecture.md") && !capped.contains("## library/big.md"));
        assert!(capped.contains("## library/git.md"), "a small file after the one left out still fits");
        assert!(
            capped.ends_with(&format!("read them when you need them: {}", m.join("library/big.md").display())),
            "{}",
            &capped[capped.len() - 300..]
        );
    }
}
