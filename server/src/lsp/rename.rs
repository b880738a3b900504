//! textDocument/prepareRename and textDocument/rename of assertion and feature ids, across the
//! contract, features.json, mission.md and validation-state.json.

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{
    PrepareRenameResponse, RenameParams, TextDocumentPositionParams, TextEdit, WorkspaceEdit,
};

use super::definition::{mission_files, target_at};
use super::edits::{self, FileEdits};
use super::guard::{guarded, guarded_blocking};
use super::{convert, Shared};
use crate::analysis::rename::{self, in_scope};
use crate::analysis::IdAt;

pub async fn prepare_rename(
    shared: &Shared,
    params: TextDocumentPositionParams,
) -> Result<Option<PrepareRenameResponse>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    let found = guarded("textDocument/prepareRename", || {
        let doc = snapshot.docs.get(&params.text_document.uri)?;
        let (_, target) = target_at(&snapshot, &params, encoding)?;
        let (IdAt::Assertion { id, span } | IdAt::Feature { id, span }) = target;
        Some(PrepareRenameResponse::RangeWithPlaceholder {
            range: convert::range(doc, &span, encoding),
            placeholder: id,
        })
    })?;
    match found {
        Some(answer) => Ok(Some(answer)),
        None => Err(Error::invalid_params("only assertion ids and feature ids can be renamed")),
    }
}

pub async fn rename(shared: &Shared, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    let versioned = shared.versioned_edits();
    guarded_blocking("textDocument/rename", move || {
        let Some((mission, target)) = target_at(&snapshot, &params.text_document_position, encoding) else {
            return Err(Error::invalid_params("only assertion ids and feature ids can be renamed"));
        };
        let files = mission_files(&snapshot, mission, in_scope);
        let texts: Vec<_> = files.iter().map(|f| (f.file.clone(), f.doc.text.as_str())).collect();
        let edits = rename::rename(&mission.analysis, &target, &params.new_name, &texts)
            .map_err(|e| Error::invalid_params(e.0))?;
        let mut changed = Vec::new();
        for file_edits in edits {
            let Some(file) = files.iter().find(|f| f.file == file_edits.file) else { continue };
            let text_edits = file_edits
                .edits
                .into_iter()
                .map(|(span, new_text)| TextEdit { range: convert::range(&file.doc, &span, encoding), new_text })
                .collect::<Vec<_>>();
            changed.push(FileEdits { uri: file.uri.clone(), version: file.doc.version, edits: text_edits });
        }
        Ok(Some(edits::workspace_edit(changed, versioned)))
    })
    .await?
}
