//! textDocument/inlayHint: titles after the ids of `fulfills`, descriptions after `dependsOn`.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{InlayHint, InlayHintLabel, InlayHintParams, InlayHintTooltip};

use super::guard::guarded;
use super::{convert, Shared};
use crate::analysis::inlay::feature_hints;
use crate::analysis::DocKind;

pub async fn inlay_hints(shared: &Shared, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    guarded("textDocument/inlayHint", || {
        let (mission, kind, doc) = snapshot.mission_doc(&params.text_document.uri)?;
        if kind != DocKind::Features {
            return None;
        }
        let within = convert::span(doc, params.range, encoding);
        Some(
            feature_hints(&mission.analysis, &within)
                .into_iter()
                .map(|h| InlayHint {
                    position: convert::position(doc, h.at, encoding),
                    label: InlayHintLabel::String(h.label),
                    kind: None,
                    text_edits: None,
                    tooltip: h.full.map(InlayHintTooltip::String),
                    padding_left: Some(true),
                    padding_right: None,
                    data: None,
                })
                .collect(),
        )
    })
}
