//! `initialize`: position encoding negotiation, workspace folders, and the capabilities of
//! this server (sync, diagnostics, hover, navigation, symbols, rename, completion, code lens,
//! inlay hints, quick fixes and the mission commands, semantic tokens, document links).

use std::path::PathBuf;

use tower_lsp_server::ls_types::*;

use super::convert::{self, Encoding};
use super::Shared;

pub fn initialize(shared: &Shared, params: InitializeParams) -> InitializeResult {
    let offered = params.capabilities.general.as_ref().and_then(|g| g.position_encodings.as_ref());
    let encoding = if offered.is_some_and(|list| list.contains(&PositionEncodingKind::UTF8)) {
        Encoding::Utf8
    } else {
        Encoding::Utf16
    };
    if shared.encoding.set(encoding).is_err() {
        tracing::warn!("initialize received twice; keeping the first position encoding");
    }
    let _ = shared.roots.set(workspace_roots(&params));
    let watches = params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.did_change_watched_files.as_ref())
        .and_then(|d| d.dynamic_registration)
        .unwrap_or(false);
    let _ = shared.client_watches.set(watches);
    shared
        .missions
        .settings
        .set_client_answers(params.capabilities.workspace.as_ref().and_then(|w| w.configuration).unwrap_or(false));
    let workspace = params.capabilities.workspace.as_ref();
    let _ = shared.edit_support.set(super::mirror::EditSupport {
        apply_edit: workspace.and_then(|w| w.apply_edit).unwrap_or(false),
        versioned: workspace.and_then(|w| w.workspace_edit.as_ref()).and_then(|e| e.document_changes).unwrap_or(false),
    });
    let _ = shared.refresh.set(super::analyzer::Refresh {
        code_lens: workspace.and_then(|w| w.code_lens.as_ref()).and_then(|c| c.refresh_support).unwrap_or(false),
        inlay_hints: workspace.and_then(|w| w.inlay_hint.as_ref()).and_then(|c| c.refresh_support).unwrap_or(false),
    });
    let window = params.capabilities.window.as_ref();
    shared.missions.set_client_support(super::mission_task::ClientSupport {
        work_done_progress: window.and_then(|w| w.work_done_progress).unwrap_or(false),
        show_document: window.and_then(|w| w.show_document.as_ref()).is_some_and(|d| d.support),
    });
    InitializeResult {
        capabilities: capabilities(encoding),
        server_info: Some(ServerInfo {
            name: "missions".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        offset_encoding: None,
    }
}

/// Workspace folders, or the root URI of clients that send only that.
#[allow(deprecated)] // root_uri / root_path: older clients send only these
fn workspace_roots(params: &InitializeParams) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> =
        params.workspace_folders.iter().flatten().filter_map(|f| convert::path_of(&f.uri)).collect();
    if roots.is_empty() {
        roots.extend(params.root_uri.as_ref().and_then(convert::path_of));
    }
    if roots.is_empty() {
        roots.extend(params.root_path.as_ref().map(PathBuf::from));
    }
    roots
}

pub fn capabilities(encoding: Encoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(match encoding {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
        }),
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::INCREMENTAL),
            // mission.md saved with the planner's answers resumes planning (see `questions`).
            save: Some(TextDocumentSyncSaveOptions::Supported(true)),
            ..TextDocumentSyncOptions::default()
        })),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        document_highlight_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Right(DocumentSymbolOptions {
            label: Some("missions".to_string()),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["\"".to_string(), ":".to_string()]),
            resolve_provider: Some(false),
            ..CompletionOptions::default()
        }),
        code_lens_provider: Some(CodeLensOptions { resolve_provider: Some(true) }),
        inlay_hint_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(if super::commands::ADVERTISED {
                vec![CodeActionKind::QUICKFIX, CodeActionKind::SOURCE]
            } else {
                vec![CodeActionKind::QUICKFIX]
            }),
            resolve_provider: Some(false),
            ..CodeActionOptions::default()
        })),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: super::tokens::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                range: None,
                work_done_progress_options: WorkDoneProgressOptions::default(),
            },
        )),
        document_link_provider: Some(DocumentLinkOptions {
            resolve_provider: Some(false),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        }),
        execute_command_provider: super::commands::ADVERTISED.then(|| ExecuteCommandOptions {
            commands: super::commands::ALL.iter().map(|c| c.to_string()).collect(),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        }),
        ..ServerCapabilities::default()
    }
}
