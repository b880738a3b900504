//! textDocument/codeAction: the quick fixes of `analysis::fixes` for the diagnostics under the
//! requested range, as workspace edits (a fix may edit the other mission document).

use std::collections::HashMap;

use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::{self as lsp, CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionResponse, NumberOrString, TextEdit, WorkspaceEdit};

use super::analyzer::MissionSnapshot;
use super::convert::{self, Encoding};
use super::guard::guarded;
use super::Shared;
use crate::analysis::fixes::{fixes_for, DocTexts, Fix};
use crate::analysis::{DocKind, Target};

pub async fn code_actions(shared: &Shared, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    guarded("textDocument/codeAction", || {
        if let Some(only) = &params.context.only {
            if !only.iter().any(|k| CodeActionKind::QUICKFIX.as_str().starts_with(k.as_str())) {
                return None;
            }
        }
        let (mission, kind, doc) = snapshot.mission_doc(&params.text_document.uri)?;
        let wanted = convert::span(doc, params.range, encoding);
        let texts = DocTexts { contract: mission.doc(DocKind::Contract).map(|d| d.text.as_str()), features: mission.doc(DocKind::Features).map(|d| d.text.as_str()) };
        let mut out: CodeActionResponse = Vec::new();
        for d in &mission.analysis.diagnostics {
            let Target::Doc { doc: on, span } = &d.target else { continue };
            if *on != kind || span.start > wanted.end || wanted.start > span.end {
                continue;
            }
            let shown = lsp::Diagnostic {
                range: convert::range(doc, span, encoding),
                code: Some(NumberOrString::String(d.code.as_str().to_string())),
                message: d.message.clone(),
                source: Some("missions".to_string()),
                ..lsp::Diagnostic::default()
            };
            // The client's own copy of the diagnostic when it sent one (same code and range).
            let sent = params.context.diagnostics.iter().find(|c| c.code == shown.code && c.range == shown.range).cloned().unwrap_or(shown);
            for fix in fixes_for(&mission.analysis, texts, d) {
                if let Some(action) = to_action(mission, fix, &sent, encoding) {
                    out.push(CodeActionOrCommand::CodeAction(action));
                }
            }
        }
        Some(out)
    })
}

fn to_action(mission: &MissionSnapshot, fix: Fix, shown: &lsp::Diagnostic, encoding: Encoding) -> Option<CodeAction> {
    let mut changes: HashMap<lsp::Url, Vec<TextEdit>> = HashMap::new();
    for edit in fix.edits {
        let doc = mission.doc(edit.doc)?;
        changes.entry(mission.doc_uri(edit.doc)?).or_default().push(TextEdit { range: convert::range(doc, &edit.span, encoding), new_text: edit.new_text });
    }
    Some(CodeAction {
        title: fix.title,
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![shown.clone()]),
        edit: Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }),
        is_preferred: fix.preferred.then_some(true),
        ..CodeAction::default()
    })
}
