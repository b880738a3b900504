//! Checks of validation-contract.md on its own: duplicate and malformed ids, missing fields,
//! unknown tools.

use crate::analysis::diagnostic::{Code, Diagnostic, DocKind, Severity};
use crate::analysis::index::MissionIndex;
use crate::model::contract::{split_list, KNOWN_TOOLS};
use crate::model::span::Spanned;
use crate::model::{ids, Contract};

/// Whether `d` is one of the diagnostics [`check`] makes (no other check makes these), so an
/// unchanged contract's can be reused.
pub(super) fn produced_here(d: &Diagnostic) -> bool {
    d.doc() == Some(DocKind::Contract)
        && matches!(d.code, Code::MalformedId | Code::DuplicateAssertion | Code::MissingField | Code::UnknownTool)
}

pub(super) fn check(contract: &Contract, index: &MissionIndex, out: &mut Vec<Diagnostic>) {
    for m in &contract.malformed_ids {
        out.push(Diagnostic::on(
            DocKind::Contract,
            m.span.clone(),
            Code::MalformedId,
            Severity::Error,
            ids::explain_malformed(&m.value),
        ));
    }
    for (_, headings, _) in index.assertion_ids().filter(|(_, h, _)| h.len() > 1) {
        let original = &contract.assertions[headings[0]];
        for &i in &headings[1..] {
            let a = &contract.assertions[i];
            out.push(
                Diagnostic::on(
                    DocKind::Contract,
                    a.id.span.clone(),
                    Code::DuplicateAssertion,
                    Severity::Error,
                    format!("duplicate assertion id `{}`: it is already defined above", a.id.value),
                )
                .with_related(DocKind::Contract, original.id.span.clone(), "first defined here"),
            );
        }
    }
    for a in &contract.assertions {
        let tool_empty = a.tool.as_ref().map(|t| t.value.is_empty());
        let evidence_empty = a.evidence.as_ref().map(|e| e.value.is_empty());
        for (state, field) in [(tool_empty, "Tool:"), (evidence_empty, "Evidence:")] {
            let message = match state {
                None => format!("`{}` has no `{field}` line", a.id.value),
                Some(true) => format!("`{}` has an empty `{field}` line", a.id.value),
                Some(false) => continue,
            };
            out.push(Diagnostic::on(
                DocKind::Contract,
                a.id.span.clone(),
                Code::MissingField,
                Severity::Warning,
                message,
            ));
        }
        if !a.tool_inherited {
            if let Some(tool) = &a.tool {
                unknown_tools(tool, out);
            }
        }
    }
    // A tool stated once for an area is checked once, on its own line.
    for tool in contract.sections.iter().filter_map(|s| s.tool.as_ref()) {
        unknown_tools(tool, out);
    }
}

/// `unknown-tool` for the names of a `Tool:` line that are not known tools.
fn unknown_tools(tool: &Spanned<String>, out: &mut Vec<Diagnostic>) {
    // The usual single plain tool name, checked without splitting (this runs per assertion on
    // every analysis).
    let plain = !tool.value.bytes().any(|b| matches!(b, b',' | b'`' | b'(' | b'['));
    if plain && (tool.value.trim().is_empty() || KNOWN_TOOLS.contains(&tool.value.trim())) {
        return;
    }
    // `Tool: terminal, http` names several; `Tool: \`http\`` is a code span; `curl (POST /a)`
    // is a tool with a note.
    let names: Vec<String> = split_list(&tool.value)
        .into_iter()
        .map(|t| {
            t.trim_matches('`').split(['(', '[', ' ']).next().unwrap_or_default().trim().trim_matches('`').to_string()
        })
        .collect();
    let unknown: Vec<&str> =
        names.iter().map(String::as_str).filter(|t| !t.is_empty() && !KNOWN_TOOLS.contains(t)).collect();
    if !unknown.is_empty() {
        let listed = unknown.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ");
        let noun = if unknown.len() == 1 { "tool" } else { "tools" };
        out.push(Diagnostic::on(
            DocKind::Contract,
            tool.span.clone(),
            Code::UnknownTool,
            Severity::Hint,
            format!("unknown {noun} {listed}; known tools: {}", KNOWN_TOOLS.join(", ")),
        ));
    }
}
