//! Validation results shown on the plan: failed and blocked assertions on their headings,
//! and validator issues on the source line they name until their assertions pass.

use crate::analysis::diagnostic::{Code, Diagnostic, DocKind, Severity, Target};
use crate::analysis::index::MissionIndex;
use crate::model::records::{ValidationState, ValidatorIssue};

pub(super) fn check(state: &ValidationState, index: &MissionIndex, out: &mut Vec<Diagnostic>) {
    for (id, result) in &state.assertions {
        let heading = index.assertion(id).map(|a| a.id.span.clone());
        match (result.status.as_str(), heading) {
            ("failed", Some(span)) => {
                let message = match result.issues.first() {
                    Some(issue) => issue_line(issue, result.issues.len()),
                    None => format!("`{id}` failed validation{}", round_suffix(result.milestone.as_deref(), result.round)),
                };
                out.push(Diagnostic::on(DocKind::Contract, span, Code::AssertionFailed, Severity::Error, message));
            }
            ("blocked", Some(span)) => {
                let reason = result.issues.first().map_or_else(|| "validation could not run it".to_string(), |i| issue_line(i, result.issues.len()));
                out.push(Diagnostic::on(DocKind::Contract, span, Code::AssertionBlocked, Severity::Warning, format!("`{id}` is blocked: {reason}")));
            }
            _ => {}
        }
    }
    // An issue may be embedded under several assertions; show it once, and only while one of
    // its assertions has not passed.
    let mut seen: Vec<&str> = Vec::new();
    for result in state.assertions.values() {
        for issue in &result.issues {
            // A path outside the working directory (a hand-edited file) is not shown as a file.
            let Some((loc, path)) = issue.location.as_ref().and_then(|l| Some((l, l.path_inside()?))) else { continue };
            if seen.contains(&issue.id.as_str()) && !issue.id.is_empty() {
                continue;
            }
            let open = issue.assertion_ids.is_empty() && result.status != "passed" || issue.assertion_ids.iter().any(|a| state.assertions.get(a).is_none_or(|s| s.status != "passed"));
            if !open {
                continue;
            }
            seen.push(&issue.id);
            out.push(Diagnostic {
                target: Target::SourceLine { path, line: loc.line.max(1) },
                severity: Severity::of_issue(&issue.severity),
                code: Code::ValidatorIssue,
                message: format!("{}: {}", issue.id, issue.title),
                related: issue.assertion_ids.iter().filter_map(|a| index.assertion(a)).map(|a| crate::analysis::diagnostic::Related { doc: DocKind::Contract, span: a.id.span.clone(), message: format!("about `{}`", a.id.value) }).collect(),
            });
        }
    }
}

fn issue_line(issue: &ValidatorIssue, count: usize) -> String {
    let more = if count > 1 { format!(" (+{} more)", count - 1) } else { String::new() };
    if issue.id.is_empty() {
        format!("{}{more}", issue.title)
    } else {
        format!("{}: {}{more}", issue.id, issue.title)
    }
}

fn round_suffix(milestone: Option<&str>, round: Option<u32>) -> String {
    match (milestone, round) {
        (Some(m), Some(r)) => format!(" in `{m}`, round {r}"),
        (Some(m), None) => format!(" in `{m}`"),
        _ => String::new(),
    }
}
