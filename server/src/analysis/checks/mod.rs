//! The cross-document checks of design §3. Pure: parsed documents in, diagnostics out.

pub mod base;
mod claims;
mod contract;
mod dependencies;
mod drift;
mod features;
mod validation;

use super::diagnostic::{Code, DocKind, Target};
use super::index::{MissionIndex, MissionTables};
use super::Diagnostic;
use crate::model::folder::ValidationRecords;

/// What one mission folder gives the checks. A missing document (`None`) is not an error:
/// checks that need it are skipped.
#[derive(Debug, Default, Clone, Copy)]
pub struct MissionInput<'a> {
    pub contract: Option<&'a crate::model::Contract>,
    pub features: Option<&'a crate::model::FeaturesFile>,
    /// Skill names with a SKILL.md; `None` when the mission has no `skills/` folder.
    pub skills: Option<&'a [String]>,
    /// validation-state.json and the validators' reports.
    pub validation: Option<&'a ValidationRecords>,
    /// The `Check:` commands' results on the mission's base commit, when they were run.
    pub base_checks: Option<&'a base::BaseChecks>,
    /// The mission's git history, for drift (`assertion-stale`), when it could be read.
    pub history: Option<&'a crate::analysis::drift::History>,
}

/// Every diagnostic of the mission, in a stable order (document, position, code).
pub fn check(input: &MissionInput) -> Vec<Diagnostic> {
    let tables = MissionTables::build(input.contract, input.features, None);
    check_with_index(input, &tables.view(input.contract, input.features))
}

/// [`check`] with the lookup tables of `input`'s documents built by the caller.
pub fn check_with_index(input: &MissionInput, index: &MissionIndex) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(c) = input.contract {
        contract::check(c, index, &mut out);
    }
    check_across(input, index, out)
}

/// Like [`check_with_index`], but the contract's own diagnostics (duplicate and malformed ids,
/// missing fields, unknown tools) are taken from `previous`: every diagnostic of an earlier
/// check of the very same contract parse. An edit of features.json then skips the per-assertion
/// pass.
pub fn check_reusing(input: &MissionInput, index: &MissionIndex, previous: Option<&[Diagnostic]>) -> Vec<Diagnostic> {
    match (input.contract, previous) {
        (Some(_), Some(previous)) if !cut_on_contract(previous) => {
            let out = previous.iter().filter(|d| contract::produced_here(d)).cloned().collect();
            check_across(input, index, out)
        }
        _ => check_with_index(input, index),
    }
}

/// At most this many diagnostics of one code on one document (or source file); the rest
/// become one summary diagnostic. Pathological input (a million control characters, three
/// thousand claimants of one id) must not cost the editor megabytes on every keystroke, nor
/// `missions check` gigabytes; a real mission stays far below it.
pub const MAX_PER_CODE: usize = 1000;

/// Every check but the contract's own, added to `out`; sorted and bounded.
fn check_across(input: &MissionInput, index: &MissionIndex, mut out: Vec<Diagnostic>) -> Vec<Diagnostic> {
    if let Some(f) = input.features {
        features::check(f, index, input.skills, &mut out);
        dependencies::check(f, index, &mut out);
    }
    claims::check(index, &mut out);
    if let Some(v) = input.validation {
        validation::check(v, index, &mut out);
        if let Some(h) = input.history {
            drift::check(h, v, index, &mut out);
        }
    }
    if let (Some(c), Some(b)) = (input.contract, input.base_checks) {
        base::check(c, b, &mut out);
    }
    sort(&mut out);
    bound(out)
}

/// Keeps the first [`MAX_PER_CODE`] diagnostics of each code on each document or source
/// file (in `sort` order); the rest of a code become one diagnostic of that code where the
/// first left out was, saying how many.
pub fn bound(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen: std::collections::HashMap<(TargetKey, Code), usize> = std::collections::HashMap::new();
    for d in &diags {
        *seen.entry((TargetKey::of(&d.target), d.code)).or_default() += 1;
    }
    if seen.values().all(|&n| n <= MAX_PER_CODE) {
        return diags;
    }
    let mut kept: std::collections::HashMap<(TargetKey, Code), usize> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(diags.len().min(seen.len() * (MAX_PER_CODE + 1)));
    for d in diags {
        let key = (TargetKey::of(&d.target), d.code);
        let n = kept.entry(key.clone()).or_default();
        *n += 1;
        if *n <= MAX_PER_CODE {
            out.push(d);
        } else if *n == MAX_PER_CODE + 1 {
            let more = seen[&key] - MAX_PER_CODE;
            let place = if matches!(d.target, Target::Doc { .. }) { "document" } else { "file" };
            let message = format!(
                "… and {} more `{}` {} in this {place} (only the first {} are listed)",
                thousands(more),
                d.code,
                plural(d.severity, more),
                thousands(MAX_PER_CODE)
            );
            out.push(Diagnostic { message, related: Vec::new(), ..d });
        }
    }
    sort(&mut out);
    out
}

/// Whether `diags` were cut by [`bound`] for some contract code: an earlier check that was is
/// no complete source of the contract's own diagnostics.
fn cut_on_contract(diags: &[Diagnostic]) -> bool {
    let mut counts: std::collections::HashMap<Code, usize> = std::collections::HashMap::new();
    diags.iter().filter(|d| d.doc() == Some(DocKind::Contract)).any(|d| {
        let n = counts.entry(d.code).or_default();
        *n += 1;
        *n > MAX_PER_CODE
    })
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum TargetKey {
    Doc(DocKind),
    File(String),
}

impl TargetKey {
    fn of(target: &Target) -> Self {
        match target {
            Target::Doc { doc, .. } => TargetKey::Doc(*doc),
            Target::SourceLine { path, .. } => TargetKey::File(path.clone()),
        }
    }
}

fn plural(severity: super::Severity, n: usize) -> String {
    let noun = match severity {
        super::Severity::Error => "error",
        super::Severity::Warning => "warning",
        super::Severity::Information => "note",
        super::Severity::Hint => "hint",
    };
    if n == 1 {
        noun.to_string()
    } else {
        format!("{noun}s")
    }
}

/// Features a message names (and points at), at most.
pub const MAX_NAMED: usize = 5;

/// The first names of `total` (at least the first [`MAX_NAMED`] + 1 of them are given), and
/// how many more there are: `a, b, c, d, e and 2,995 more`.
pub fn named(first: &[String], total: usize) -> String {
    if total <= MAX_NAMED {
        return first.join(", ");
    }
    format!("{} and {} more", first[..MAX_NAMED].join(", "), thousands(total - MAX_NAMED))
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Sorts by target (contract, features, then source lines), position, code, message.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        let key = |d: &Diagnostic| match &d.target {
            Target::Doc { doc, span } => (0, *doc as u8, String::new(), span.start, span.end),
            Target::SourceLine { path, line } => (1, 0, path.clone(), *line as usize, 0),
        };
        key(a).cmp(&key(b)).then(a.code.cmp(&b.code)).then_with(|| a.message.cmp(&b.message))
    });
}

/// Diagnostics of one document only.
pub fn for_doc(diags: &[Diagnostic], doc: DocKind) -> impl Iterator<Item = &Diagnostic> {
    diags.iter().filter(move |d| d.doc() == Some(doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{contract, features, records};

    const CONTRACT: &str = "### VAL-A-001: x\nTool: terminal\nEvidence: e\n\n### VAL-A-001: dup\nTool: pigeon, `http`\n\n### VAL-A-2: bad id\n\n### VAL-B-001: y\nTool:\nEvidence: e\n";

    #[test]
    fn reusing_the_contracts_own_diagnostics_changes_nothing() {
        let c = contract::parse(CONTRACT);
        let v = ValidationRecords {
            state: records::load(r#"{"assertions": {"VAL-B-001": {"status": "failed", "issues": "no"}}}"#).value,
            milestones: Vec::new(),
        };
        let queues = [
            r#"{"features": [{"id": "f", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001", "VAL-A-01", "VAL-C-001"], "preconditions": ["feat-x is complete"]}]}"#,
            r#"{"features": [{"id": "f", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001", "VAL-B-001"]}, {"id": "g", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-B-001"]}]}"#,
            r#"{"features": [}"#,
        ];
        let parsed: Vec<_> = queues.iter().map(|q| features::parse(q)).collect();
        for before in &parsed {
            let first = check(&MissionInput {
                contract: Some(&c),
                features: Some(before),
                skills: None,
                validation: Some(&v),
                ..Default::default()
            });
            assert!(first.iter().any(super::contract::produced_here));
            for after in &parsed {
                let input = MissionInput {
                    contract: Some(&c),
                    features: Some(after),
                    skills: None,
                    validation: Some(&v),
                    ..Default::default()
                };
                let tables = MissionTables::build(input.contract, input.features, None);
                assert_eq!(
                    check_reusing(&input, &tables.view(input.contract, input.features), Some(&first)),
                    check(&input)
                );
            }
        }
        // An earlier check cut at the bound is no source of the contract's own diagnostics.
        let big: String = (0..MAX_PER_CODE + 500).map(|i| format!("### VAL-A-{i:04}: x\nTool: terminal\n\n")).collect();
        let big = contract::parse(&big);
        let input = MissionInput {
            contract: Some(&big),
            features: Some(&parsed[0]),
            skills: None,
            validation: None,
            ..Default::default()
        };
        let first = check(&input);
        let missing: Vec<&Diagnostic> = first.iter().filter(|d| d.code == Code::MissingField).collect();
        assert_eq!(missing.len(), MAX_PER_CODE + 1);
        assert_eq!(
            missing[MAX_PER_CODE].message,
            "… and 500 more `missing-field` warnings in this document (only the first 1,000 are listed)"
        );
        let tables = MissionTables::build(input.contract, input.features, None);
        assert_eq!(check_reusing(&input, &tables.view(input.contract, input.features), Some(&first)), first);
        // Without an earlier check, or without a contract, it is `check`.
        let input = MissionInput {
            contract: None,
            features: Some(&parsed[0]),
            skills: None,
            validation: None,
            ..Default::default()
        };
        let tables = MissionTables::build(input.contract, input.features, None);
        assert_eq!(check_reusing(&input, &tables.view(input.contract, input.features), Some(&[])), check(&input));
    }
}
