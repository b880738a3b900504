//! textDocument/completion in features.json and the contract (see `analysis::completion`).

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionList, CompletionParams, CompletionResponse, CompletionTextEdit,
    TextEdit,
};

use super::guard::guarded;
use super::{convert, Shared};
use crate::analysis::completion::{contract_completions, features_completions, ItemKind};
use crate::analysis::DocKind;

pub async fn completion(shared: &Shared, params: CompletionParams) -> Result<Option<CompletionResponse>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    let at = params.text_document_position;
    guarded("textDocument/completion", || {
        let (mission, kind, doc) = snapshot.mission_doc(&at.text_document.uri)?;
        let offset = convert::offset(doc, at.position, encoding);
        let found = match kind {
            DocKind::Contract => contract_completions(&mission.analysis, &doc.text, offset),
            DocKind::Features => features_completions(&mission.analysis, &doc.text, offset),
        };
        let items = found
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| CompletionItem {
                kind: Some(kind_of(item.kind)),
                detail: item.detail,
                // The server's order (unclaimed ids first) is the order shown.
                sort_text: Some(format!("{i:05}")),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                    range: convert::range(doc, &item.replace, encoding),
                    new_text: item.insert,
                })),
                label: item.label,
                ..CompletionItem::default()
            })
            .collect();
        Some(CompletionResponse::List(CompletionList { is_incomplete: found.incomplete, items }))
    })
}

fn kind_of(kind: ItemKind) -> CompletionItemKind {
    match kind {
        ItemKind::Assertion => CompletionItemKind::CONSTANT,
        ItemKind::Feature => CompletionItemKind::CLASS,
        ItemKind::Milestone => CompletionItemKind::MODULE,
        ItemKind::Skill => CompletionItemKind::FILE,
        ItemKind::Value | ItemKind::Tool => CompletionItemKind::ENUM_MEMBER,
        ItemKind::Field => CompletionItemKind::PROPERTY,
    }
}
