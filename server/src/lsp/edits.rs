//! Workspace edits in the form the client takes best: versioned `documentChanges` when it
//! supports them, so an edit made for an older text of an open buffer is refused instead of
//! landing at the wrong places (files not open carry no version), else plain `changes`.

use std::collections::HashMap;

use tower_lsp_server::ls_types::{
    DocumentChanges, OneOf, OptionalVersionedTextDocumentIdentifier, TextDocumentEdit, TextEdit, Uri, WorkspaceEdit,
};

/// The edits of one file, made against the text of `version` (None: the file on disk).
pub struct FileEdits {
    pub uri: Uri,
    pub version: Option<i32>,
    pub edits: Vec<TextEdit>,
}

pub fn workspace_edit(files: Vec<FileEdits>, versioned: bool) -> WorkspaceEdit {
    if versioned {
        let documents = files
            .into_iter()
            .map(|f| TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier { uri: f.uri, version: f.version },
                edits: f.edits.into_iter().map(OneOf::Left).collect(),
            })
            .collect();
        return WorkspaceEdit { document_changes: Some(DocumentChanges::Edits(documents)), ..WorkspaceEdit::default() };
    }
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for f in files {
        changes.entry(f.uri).or_default().extend(f.edits);
    }
    WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }
}

/// Groups per-file edits in first-seen order (a quick fix may edit a file in several places).
pub fn group(edits: impl IntoIterator<Item = (Uri, Option<i32>, TextEdit)>) -> Vec<FileEdits> {
    let mut files: Vec<FileEdits> = Vec::new();
    for (uri, version, edit) in edits {
        match files.iter_mut().find(|f| f.uri == uri) {
            Some(file) => file.edits.push(edit),
            None => files.push(FileEdits { uri, version, edits: vec![edit] }),
        }
    }
    files
}
