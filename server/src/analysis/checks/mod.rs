//! The cross-document checks of design §3. Pure: parsed documents in, diagnostics out.

pub mod base;
mod claims;
mod contract;
mod dependencies;
mod drift;
mod features;
mod validation;

use super::diagnostic::{DocKind, Target};
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
        (Some(_), Some(previous)) => {
            let out = previous.iter().filter(|d| contract::produced_here(d)).cloned().collect();
            check_across(input, index, out)
        }
        _ => check_with_index(input, index),
    }
}

/// Every check but the contract's own, added to `out`; sorted.
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
        let v = ValidationRecords { state: records::load(r#"{"assertions": {"VAL-B-001": {"status": "failed", "issues": "no"}}}"#).value, milestones: Vec::new() };
        let queues = [
            r#"{"features": [{"id": "f", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001", "VAL-A-01", "VAL-C-001"], "preconditions": ["feat-x is complete"]}]}"#,
            r#"{"features": [{"id": "f", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001", "VAL-B-001"]}, {"id": "g", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-B-001"]}]}"#,
            r#"{"features": [}"#,
        ];
        let parsed: Vec<_> = queues.iter().map(|q| features::parse(q)).collect();
        for before in &parsed {
            let first = check(&MissionInput { contract: Some(&c), features: Some(before), skills: None, validation: Some(&v), ..Default::default() });
            assert!(first.iter().any(super::contract::produced_here));
            for after in &parsed {
                let input = MissionInput { contract: Some(&c), features: Some(after), skills: None, validation: Some(&v), ..Default::default() };
                let tables = MissionTables::build(input.contract, input.features, None);
                assert_eq!(check_reusing(&input, &tables.view(input.contract, input.features), Some(&first)), check(&input));
            }
        }
        // Without an earlier check, or without a contract, it is `check`.
        let input = MissionInput { contract: None, features: Some(&parsed[0]), skills: None, validation: None, ..Default::default() };
        let tables = MissionTables::build(input.contract, input.features, None);
        assert_eq!(check_reusing(&input, &tables.view(input.contract, input.features), Some(&[])), check(&input));
    }
}
