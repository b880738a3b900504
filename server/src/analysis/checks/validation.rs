//! Validation results shown on the plan, from droid's files: failed and blocked assertions on
//! their headings (validation-state.json records a blocked assertion as `failed`; the
//! user-testing synthesis or our `blocked` key tells it apart), and the scrutiny reviews'
//! findings with a `file` on that source line, while their milestone has not passed.

use crate::analysis::diagnostic::{Code, Diagnostic, DocKind, Related, Severity, Target};
use crate::analysis::index::MissionIndex;
use crate::model::folder::{MilestoneRecords, ValidationRecords};
use crate::model::records::AssertionState;

pub(super) fn check(records: &ValidationRecords, index: &MissionIndex, out: &mut Vec<Diagnostic>) {
    if let Some(state) = &records.state {
        for (id, result) in &state.assertions {
            let Some(heading) = index.assertion(id).map(|a| a.id.span.clone()) else { continue };
            if result.status != "failed" {
                continue;
            }
            match blocked_reason(records, id, result) {
                Some(reason) => out.push(Diagnostic::on(
                    DocKind::Contract,
                    heading,
                    Code::AssertionBlocked,
                    Severity::Warning,
                    format!("`{id}` could not be validated: {reason}"),
                )),
                None => {
                    let why = result.issues.as_deref().map(str::trim).filter(|s| !s.is_empty()).map_or_else(
                        || format!("`{id}` failed validation"),
                        |s| format!("`{id}` failed validation: {s}"),
                    );
                    out.push(Diagnostic::on(DocKind::Contract, heading, Code::AssertionFailed, Severity::Error, why));
                }
            }
        }
    }
    for m in &records.milestones {
        if milestone_passed(records, index, m) {
            continue;
        }
        for review in &m.reviews {
            for issue in &review.code_review.issues {
                // A path outside the working directory (a hand-edited file) is not shown as a file.
                let Some(path) = issue.path_inside() else { continue };
                let related: Vec<Related> = index
                    .feature(&review.feature_id)
                    .into_iter()
                    .flat_map(|f| f.claims())
                    .filter_map(|c| index.assertion(&c.value))
                    .map(|a| Related {
                        doc: DocKind::Contract,
                        span: a.id.span.clone(),
                        message: format!("`{}` is claimed by `{}`", a.id.value, review.feature_id),
                    })
                    .collect();
                out.push(Diagnostic {
                    target: Target::SourceLine { path, line: issue.line.unwrap_or(1).max(1) },
                    severity: Severity::of_issue(&issue.severity),
                    code: Code::ValidatorIssue,
                    message: format!(
                        "scrutiny review of `{}` ({}): {}",
                        review.feature_id,
                        m.folder,
                        issue.description.trim()
                    ),
                    related,
                });
            }
        }
    }
}

/// Why a failed assertion was not really checked: our `blocked` key, or droid's latest
/// user-testing synthesis listing it under `blockedAssertions`. `None` for a real failure.
fn blocked_reason(records: &ValidationRecords, id: &str, result: &AssertionState) -> Option<String> {
    let listed = records
        .milestones
        .iter()
        .filter_map(|m| m.user_testing.as_ref())
        .find_map(|u| u.blocked_assertions.iter().find(|b| b.id == id));
    if !result.blocked && listed.is_none() {
        return None;
    }
    let reason = result
        .issues
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| listed.map(|b| b.blocked_by.clone()).filter(|s| !s.trim().is_empty()));
    Some(reason.unwrap_or_else(|| "validation could not run it".to_string()))
}

/// A milestone whose every claimed assertion passed (or, with none, whose latest scrutiny
/// passed): its reviews' findings are history.
fn milestone_passed(records: &ValidationRecords, index: &MissionIndex, m: &MilestoneRecords) -> bool {
    let Some(features) = index.features() else { return false };
    let claims: Vec<&str> = features
        .features
        .iter()
        .filter(|f| {
            !f.is_cancelled() && f.milestone().is_some_and(|name| crate::model::folder::path_segment(name) == m.folder)
        })
        .flat_map(|f| f.claims().iter().map(|c| c.value.as_str()))
        .collect();
    if claims.is_empty() {
        return m.scrutiny.as_ref().is_some_and(|s| s.status == "pass");
    }
    let passed =
        |id: &&str| records.state.as_ref().and_then(|s| s.assertions.get(*id)).is_some_and(AssertionState::is_passed);
    claims.iter().all(passed)
}
