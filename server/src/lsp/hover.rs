//! textDocument/hover on an assertion or feature id in any file of a mission folder.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{Hover, HoverContents, HoverParams, MarkupContent, MarkupKind};

use super::guard::guarded;
use super::{convert, Shared};
use crate::analysis::hover::{assertion_hover, feature_hover};
use crate::analysis::IdAt;

pub async fn hover(shared: &Shared, params: HoverParams) -> Result<Option<Hover>> {
    let snapshot = shared.snapshot().await;
    // How the resilience tests make a handler panic outside `guarded` (see `intercept`).
    if crate::runner::failpoint::is_set("lsp-hover-panics") {
        panic!("failpoint lsp-hover-panics");
    }
    let encoding = shared.encoding();
    let at = params.text_document_position_params;
    guarded("textDocument/hover", || {
        let doc = snapshot.docs.get(&at.text_document.uri)?;
        let mission = snapshot.mission_of(&at.text_document.uri)?;
        let offset = convert::offset(doc, at.position, encoding);
        let (markdown, span) = match mission.analysis.id_at(&doc.text, offset)? {
            IdAt::Assertion { id, span } => (assertion_hover(&mission.analysis, &id), span),
            IdAt::Feature { id, span } => (feature_hover(&mission.analysis, &id), span),
        };
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: markdown }),
            range: Some(convert::range(doc, &span, encoding)),
        })
    })
}
