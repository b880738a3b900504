//! textDocument/documentSymbol (assertions by area, features by milestone) and
//! workspace/symbol (assertions and features of every known mission).

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    self as lsp, DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, Location, SymbolInformation,
    WorkspaceSymbolParams, WorkspaceSymbolResponse,
};

use super::convert::{self, Encoding};
use super::documents::Document;
use super::guard::guarded;
use super::Shared;
use crate::analysis::symbols::{self, Symbol, SymbolKind};
use crate::analysis::DocKind;

/// Workspace symbol answers are capped: a query of one letter must not send 20,000 symbols.
const MAX_WORKSPACE_SYMBOLS: usize = 500;

pub async fn document_symbols(shared: &Shared, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    guarded("textDocument/documentSymbol", || {
        let uri = &params.text_document.uri;
        let mission = snapshot.mission_of(uri)?;
        let kind =
            [DocKind::Contract, DocKind::Features].into_iter().find(|k| mission.doc_uri(*k).as_ref() == Some(uri))?;
        let doc = mission.doc(kind)?;
        let list = match kind {
            DocKind::Contract => symbols::contract_symbols(mission.analysis.contract()?),
            DocKind::Features => symbols::feature_symbols(mission.analysis.features()?),
        };
        Some(DocumentSymbolResponse::Nested(list.iter().map(|s| to_lsp(doc, s, encoding)).collect()))
    })
}

pub async fn workspace_symbols(
    shared: &Shared,
    params: WorkspaceSymbolParams,
) -> Result<Option<WorkspaceSymbolResponse>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    guarded("workspace/symbol", || {
        let mut out = Vec::new();
        for mission in snapshot.missions.values() {
            let left = MAX_WORKSPACE_SYMBOLS - out.len();
            for s in symbols::workspace_symbols(&mission.analysis, &params.query, left) {
                let (Some(doc), Some(uri)) = (mission.doc(s.doc), mission.doc_uri(s.doc)) else { continue };
                #[allow(deprecated)] // `deprecated` is a required field of SymbolInformation
                out.push(SymbolInformation {
                    name: s.name,
                    kind: kind_of(s.kind),
                    tags: None,
                    deprecated: None,
                    location: Location { uri, range: convert::range(doc, &s.selection, encoding) },
                    container_name: s.container,
                });
            }
            if out.len() >= MAX_WORKSPACE_SYMBOLS {
                break;
            }
        }
        Some(WorkspaceSymbolResponse::Flat(out))
    })
}

fn kind_of(kind: SymbolKind) -> lsp::SymbolKind {
    match kind {
        SymbolKind::Area => lsp::SymbolKind::NAMESPACE,
        SymbolKind::Assertion => lsp::SymbolKind::CONSTANT,
        SymbolKind::Milestone => lsp::SymbolKind::PACKAGE,
        SymbolKind::Feature => lsp::SymbolKind::CLASS,
    }
}

fn to_lsp(doc: &Document, s: &Symbol, encoding: Encoding) -> DocumentSymbol {
    #[allow(deprecated)] // `deprecated` is a required field of DocumentSymbol
    DocumentSymbol {
        name: if s.name.is_empty() { "(untitled)".to_string() } else { s.name.clone() },
        detail: s.detail.clone(),
        kind: kind_of(s.kind),
        tags: None,
        deprecated: None,
        range: convert::range(doc, &s.span, encoding),
        selection_range: convert::range(doc, &s.selection, encoding),
        children: (!s.children.is_empty()).then(|| s.children.iter().map(|c| to_lsp(doc, c, encoding)).collect()),
    }
}
