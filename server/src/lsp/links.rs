//! textDocument/documentLink: evidence files (named in any mission file, and cited by a
//! user-testing flow) and worker sessions' handoff files.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{DocumentLink, DocumentLinkParams};

use super::guard::guarded_blocking;
use super::{convert, Shared};
use crate::analysis::links::{evidence_links, flow_evidence_links, handoff_links, is_flow_file};
use crate::analysis::DocKind;

pub async fn document_links(shared: &Shared, params: DocumentLinkParams) -> Result<Option<Vec<DocumentLink>>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    guarded_blocking("textDocument/documentLink", move || {
        let uri = &params.text_document.uri;
        let mission = snapshot.mission_of(uri)?;
        let doc = snapshot.docs.get(uri)?;
        let mut found = evidence_links(&doc.text);
        let relative = convert::path_of(uri)
            .and_then(|p| Some(p.strip_prefix(&mission.dir).ok()?.to_string_lossy().replace('\\', "/")));
        if relative.as_deref().is_some_and(is_flow_file) {
            found.extend(flow_evidence_links(&doc.text));
        }
        // Evidence is linked only when the file is there (checked on disk, off the async threads).
        found.retain(|l| mission.dir.join(&l.target).is_file());
        if let Some((mission, DocKind::Features, _)) = snapshot.mission_doc(uri) {
            found.extend(handoff_links(mission.analysis.features()?, &mission.analysis.parts.handoffs));
        }
        found.sort_by_key(|l| l.span.start);
        Some(
            found
                .into_iter()
                .filter_map(|l| {
                    Some(DocumentLink {
                        range: convert::range(doc, &l.span, encoding),
                        target: Some(convert::uri_of(&mission.dir.join(&l.target))?),
                        tooltip: Some(l.target),
                        data: None,
                    })
                })
                .collect(),
        )
    })
    .await
}
