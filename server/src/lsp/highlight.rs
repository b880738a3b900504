//! textDocument/documentHighlight: the id under the cursor, whole, everywhere in that file.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{DocumentHighlight, DocumentHighlightKind, DocumentHighlightParams};

use super::guard::guarded;
use super::{convert, Shared};
use crate::analysis::highlight::highlights;
use crate::analysis::navigate::FileRef;

pub async fn document_highlight(
    shared: &Shared,
    params: DocumentHighlightParams,
) -> Result<Option<Vec<DocumentHighlight>>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    let at = params.text_document_position_params;
    guarded("textDocument/documentHighlight", || {
        let uri = &at.text_document.uri;
        let doc = snapshot.docs.get(uri)?;
        let mission = snapshot.mission_of(uri)?;
        let file = match snapshot.mission_doc(uri) {
            Some((_, kind, _)) => FileRef::Doc(kind),
            None => {
                FileRef::Other(convert::path_of(uri)?.strip_prefix(&mission.dir).ok()?.to_string_lossy().into_owned())
            }
        };
        let offset = convert::offset(doc, at.position, encoding);
        let found = highlights(&mission.analysis, &file, &doc.text, offset);
        // The definition is where the id is written (a heading, a feature's `id`), the rest read it.
        let kind =
            |definition: bool| if definition { DocumentHighlightKind::WRITE } else { DocumentHighlightKind::READ };
        (!found.is_empty()).then(|| {
            found
                .into_iter()
                .map(|h| DocumentHighlight {
                    range: convert::range(doc, &h.span, encoding),
                    kind: Some(kind(h.definition)),
                })
                .collect()
        })
    })
}
