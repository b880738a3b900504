//! textDocument/definition (id -> contract heading or feature entry) and
//! textDocument/references (every claim, record and mention naming the id).

use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    GotoDefinitionParams, GotoDefinitionResponse, Location, ReferenceParams, TextDocumentPositionParams,
};

use super::analyzer::{MissionSnapshot, Snapshot};
use super::convert::{self, Encoding};
use super::folder::{self, MissionFile};
use super::guard::{guarded, guarded_blocking};
use super::Shared;
use crate::analysis::navigate::{self, FileRef};
use crate::analysis::{DocKind, IdAt};

pub async fn definition(shared: &Shared, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    guarded("textDocument/definition", || {
        let (mission, target) = target_at(&snapshot, &params.text_document_position_params, encoding)?;
        let locations: Vec<Location> = navigate::definition(&mission.analysis, &target)
            .into_iter()
            .filter_map(|l| {
                let FileRef::Doc(kind) = l.file else { return None };
                Some(Location {
                    uri: mission.doc_uri(kind)?,
                    range: convert::range(mission.doc(kind)?, &l.span, encoding),
                })
            })
            .collect();
        match locations.len() {
            0 => None,
            1 => locations.into_iter().next().map(GotoDefinitionResponse::Scalar),
            _ => Some(GotoDefinitionResponse::Array(locations)),
        }
    })
}

pub async fn references(shared: &Shared, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    let include_declaration = params.context.include_declaration;
    guarded_blocking("textDocument/references", move || {
        let (mission, target) = target_at(&snapshot, &params.text_document_position, encoding)?;
        let files = mission_files(&snapshot, mission, |_| true);
        let texts: Vec<(FileRef, &str)> = files.iter().map(|f| (f.file.clone(), f.doc.text.as_str())).collect();
        let found = navigate::references(&mission.analysis, &target, &texts, include_declaration);
        Some(
            found
                .into_iter()
                .filter_map(|l| {
                    let file = files.iter().find(|f| f.file == l.file)?;
                    Some(Location { uri: file.uri.clone(), range: convert::range(&file.doc, &l.span, encoding) })
                })
                .collect(),
        )
    })
    .await
}

/// The mission and the id under the cursor of an open document.
pub fn target_at<'a>(
    snapshot: &'a Snapshot,
    at: &TextDocumentPositionParams,
    encoding: Encoding,
) -> Option<(&'a Arc<MissionSnapshot>, IdAt)> {
    let doc = snapshot.docs.get(&at.text_document.uri)?;
    let mission = snapshot.mission_of(&at.text_document.uri)?;
    let offset = convert::offset(doc, at.position, encoding);
    Some((mission, mission.analysis.id_at(&doc.text, offset)?))
}

/// The mission's two documents (as analysed) and those of its record files `keep` accepts
/// (open buffers first, else disk).
pub fn mission_files(
    snapshot: &Snapshot,
    mission: &MissionSnapshot,
    keep: impl Fn(&FileRef) -> bool,
) -> Vec<MissionFile> {
    let mut files: Vec<MissionFile> = [DocKind::Contract, DocKind::Features]
        .into_iter()
        .filter_map(|kind| {
            Some(MissionFile { file: FileRef::Doc(kind), uri: mission.doc_uri(kind)?, doc: mission.doc(kind)?.clone() })
        })
        .filter(|f| keep(&f.file))
        .collect();
    let records: Vec<FileRef> =
        folder::record_files(&mission.dir).into_iter().map(FileRef::Other).filter(|f| keep(f)).collect();
    files.extend(folder::load(&mission.dir, records, &snapshot.docs));
    files
}
