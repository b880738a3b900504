//! The cross-document checks of design §3. Pure: parsed documents in, diagnostics out.

mod claims;
mod contract;
mod dependencies;
mod features;
mod validation;

use super::diagnostic::{DocKind, Target};
use super::index::MissionIndex;
use super::Diagnostic;
use crate::model::records::ValidationState;

/// What one mission folder gives the checks. A missing document (`None`) is not an error:
/// checks that need it are skipped.
#[derive(Debug, Default, Clone, Copy)]
pub struct MissionInput<'a> {
    pub contract: Option<&'a crate::model::Contract>,
    pub features: Option<&'a crate::model::FeaturesFile>,
    /// Skill names with a SKILL.md; `None` when the mission has no `skills/` folder.
    pub skills: Option<&'a [String]>,
    pub validation: Option<&'a ValidationState>,
}

/// Every diagnostic of the mission, in a stable order (document, position, code).
pub fn check(input: &MissionInput) -> Vec<Diagnostic> {
    let index = MissionIndex::new(input.contract, input.features);
    check_with_index(input, &index)
}

pub fn check_with_index(input: &MissionInput, index: &MissionIndex) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(c) = input.contract {
        contract::check(c, index, &mut out);
    }
    if let Some(f) = input.features {
        features::check(f, index, input.skills, &mut out);
        dependencies::check(f, index, &mut out);
    }
    claims::check(index, &mut out);
    if let Some(v) = input.validation {
        validation::check(v, index, &mut out);
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
