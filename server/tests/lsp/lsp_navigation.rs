//! Hover, definition, references, rename, symbols, and positions after emoji, CJK and a ZWJ
//! sequence in UTF-16 and UTF-8.

use crate::lsp_support;

use lsp_support::{utf16_pos, utf8_pos, write_mission, Client, Options, CONTRACT, FEATURES, MISSION};
use tower_lsp_server::ls_types::request;
use tower_lsp_server::ls_types::*;

/// A session with features.json, the contract and mission.md open, initial diagnostics read.
async fn session(root: &std::path::Path, encodings: Vec<PositionEncodingKind>) -> Client {
    write_mission(root);
    let mut client = Client::start(Options { root, encodings, workspace_folder: false }).await;
    client.open("mission/features.json", FEATURES).await;
    client.diagnostics("mission/features.json", Some(1)).await;
    client.diagnostics("mission/validation-contract.md", None).await;
    client.diagnostics("repo/src/auth.rs", None).await;
    client.open("mission/validation-contract.md", CONTRACT).await;
    client.diagnostics("mission/validation-contract.md", Some(1)).await;
    client.open("mission/mission.md", MISSION).await;
    client
}

fn hover_params(at: TextDocumentPositionParams) -> HoverParams {
    HoverParams { text_document_position_params: at, work_done_progress_params: Default::default() }
}

fn definition_params(at: TextDocumentPositionParams) -> GotoDefinitionParams {
    GotoDefinitionParams {
        text_document_position_params: at,
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
    }
}

#[tokio::test]
async fn hover_on_assertion_and_feature_ids_in_any_mission_file() {
    let root = tempfile::tempdir().unwrap();
    let mut client = session(root.path(), vec![]).await;
    let (l, c) = utf16_pos(FEATURES, "VAL-AUTH-001", 3);
    let in_features =
        client.request::<request::HoverRequest>(hover_params(client.at("mission/features.json", l, c))).await;
    insta::assert_json_snapshot!("hover_assertion_in_features", in_features);
    let (l, c) = utf16_pos(MISSION, "VAL-AUTH-001", 0);
    let in_mission = client.request::<request::HoverRequest>(hover_params(client.at("mission/mission.md", l, c))).await;
    assert_eq!(in_mission.as_ref().map(|h| &h.contents), in_features.as_ref().map(|h| &h.contents));
    let (l, c) = utf16_pos(MISSION, "feat-login", 2);
    let feature = client.request::<request::HoverRequest>(hover_params(client.at("mission/mission.md", l, c))).await;
    insta::assert_json_snapshot!("hover_feature_in_mission_md", feature);
    // A handoff that is not open is hovered once opened; prose is not an id.
    let (l, c) = utf16_pos(MISSION, "Ship", 1);
    assert!(client
        .request::<request::HoverRequest>(hover_params(client.at("mission/mission.md", l, c)))
        .await
        .is_none());
    client.finish().await;
}

#[tokio::test]
async fn definition_goes_from_a_claim_to_the_heading_and_from_a_dependency_to_the_feature() {
    let root = tempfile::tempdir().unwrap();
    let mut client = session(root.path(), vec![]).await;
    let (l, c) = utf16_pos(FEATURES, "\"VAL-AUTH-002\"", 5);
    let to_heading =
        client.request::<request::GotoDefinition>(definition_params(client.at("mission/features.json", l, c))).await;
    let (l, c) = utf16_pos(FEATURES, "\"preconditions\": [\"feat-share\"]", 21);
    let to_feature =
        client.request::<request::GotoDefinition>(definition_params(client.at("mission/features.json", l, c))).await;
    insta::assert_json_snapshot!("definition", client.redact((&to_heading, &to_feature)));
    client.finish().await;
}

#[tokio::test]
async fn references_from_a_heading_find_claims_mentions_handoffs_and_records() {
    let root = tempfile::tempdir().unwrap();
    let mut client = session(root.path(), vec![]).await;
    let (l, c) = utf16_pos(CONTRACT, "VAL-AUTH-001", 1);
    let params = ReferenceParams {
        text_document_position: client.at("mission/validation-contract.md", l, c),
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
        context: ReferenceContext { include_declaration: false },
    };
    let found = client.request::<request::References>(params).await.unwrap();
    let files: Vec<String> = found.iter().map(|l| client.redact(&l.uri).as_str().unwrap().to_string()).collect();
    for expected in [
        "mission/features.json",
        "mission/mission.md",
        "mission/handoffs/2026-01-01T00-00-00-000Z__feat-login__s1.json",
        "mission/validation/foundation/user-testing/synthesis.json",
        "mission/validation-state.json",
        "mission/validation-contract.md",
    ] {
        assert!(files.iter().any(|f| f.ends_with(expected)), "no reference in {expected}: {files:?}");
    }
    insta::assert_json_snapshot!("references_assertion", client.redact(&found));
    client.finish().await;
}

#[tokio::test]
async fn rename_edits_plan_files_only_and_prepare_refuses_non_ids() {
    let root = tempfile::tempdir().unwrap();
    let mut client = session(root.path(), vec![]).await;
    let (l, c) = utf16_pos(CONTRACT, "VAL-AUTH-001", 4);
    let at = client.at("mission/validation-contract.md", l, c);
    let prepared = client.request::<request::PrepareRenameRequest>(at.clone()).await;
    insta::assert_json_snapshot!("prepare_rename", prepared);
    let edit = client
        .request::<request::Rename>(RenameParams {
            text_document_position: at.clone(),
            new_name: "VAL-LOGIN-001".into(),
            work_done_progress_params: Default::default(),
        })
        .await
        .unwrap();
    let mut changes: Vec<(String, Vec<TextEdit>)> =
        edit.changes.unwrap().into_iter().map(|(u, e)| (client.redact(&u).as_str().unwrap().to_string(), e)).collect();
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        changes.iter().all(|(u, _)| !u.contains("handoffs") && !u.contains("synthesis")),
        "history is not renamed: {changes:?}"
    );
    insta::assert_json_snapshot!("rename_assertion", changes);
    let bad = client
        .request_error::<request::Rename>(RenameParams {
            text_document_position: at,
            new_name: "VAL-login-1".into(),
            work_done_progress_params: Default::default(),
        })
        .await;
    assert!(bad["message"].as_str().unwrap().contains("not a valid assertion id"), "{bad}");
    let (l, c) = utf16_pos(CONTRACT, "credentials", 2);
    let refused =
        client.request_error::<request::PrepareRenameRequest>(client.at("mission/validation-contract.md", l, c)).await;
    assert!(refused["message"].as_str().unwrap().contains("can be renamed"), "{refused}");
    // A feature id renames its entry and the precondition naming it.
    let (l, c) = utf16_pos(FEATURES, "\"feat-logout\"", 3);
    let edit = client
        .request::<request::Rename>(RenameParams {
            text_document_position: client.at("mission/features.json", l, c),
            new_name: "feat-signout".into(),
            work_done_progress_params: Default::default(),
        })
        .await
        .unwrap();
    let features_edits = &edit.changes.as_ref().unwrap()[&client.uri("mission/features.json")];
    assert_eq!(features_edits.len(), 2);
    assert!(features_edits.iter().all(|e| e.new_text == "feat-signout"));
    client.finish().await;
}

/// A client that takes versioned edits gets the rename as `documentChanges`: open buffers with
/// the version the edits were made for (a buffer that moved on refuses them), files on disk
/// with none.
#[tokio::test]
async fn rename_names_the_versions_of_open_buffers_for_clients_that_take_them() {
    let root = tempfile::tempdir().unwrap();
    write_mission(root.path());
    let mut client =
        Client::start_with(Options { root: root.path(), encodings: vec![], workspace_folder: false }, |caps| {
            caps.workspace = Some(WorkspaceClientCapabilities {
                workspace_edit: Some(WorkspaceEditClientCapabilities {
                    document_changes: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            });
        })
        .await;
    client.open("mission/validation-contract.md", CONTRACT).await;
    client.diagnostics("mission/validation-contract.md", Some(1)).await;
    client.diagnostics("mission/features.json", None).await;
    client.diagnostics("repo/src/auth.rs", None).await;
    let (l, c) = utf16_pos(CONTRACT, "VAL-AUTH-001", 4);
    let at = client.at("mission/validation-contract.md", l, c);
    let edit = client
        .request::<request::Rename>(RenameParams {
            text_document_position: at,
            new_name: "VAL-LOGIN-001".into(),
            work_done_progress_params: Default::default(),
        })
        .await
        .unwrap();
    assert!(edit.changes.is_none());
    let Some(DocumentChanges::Edits(documents)) = edit.document_changes else { panic!("documentChanges: {edit:?}") };
    let version_of = |file: &str| {
        documents
            .iter()
            .find(|d| d.text_document.uri == client.uri(file))
            .unwrap_or_else(|| panic!("no edit of {file}: {documents:?}"))
            .text_document
            .version
    };
    assert_eq!(version_of("mission/validation-contract.md"), Some(1), "the open buffer's version");
    assert_eq!(version_of("mission/features.json"), None, "a file on disk");
    client.finish().await;
}

#[tokio::test]
async fn document_and_workspace_symbols() {
    let root = tempfile::tempdir().unwrap();
    let mut client = session(root.path(), vec![]).await;
    let contract = client
        .request::<request::DocumentSymbolRequest>(DocumentSymbolParams {
            text_document: TextDocumentIdentifier { uri: client.uri("mission/validation-contract.md") },
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .await;
    insta::assert_json_snapshot!("document_symbols_contract", contract);
    let features = client
        .request::<request::DocumentSymbolRequest>(DocumentSymbolParams {
            text_document: TextDocumentIdentifier { uri: client.uri("mission/features.json") },
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .await;
    insta::assert_json_snapshot!("document_symbols_features", features);
    let found = client
        .request::<request::WorkspaceSymbolRequest>(WorkspaceSymbolParams {
            query: "link".into(),
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .await;
    insta::assert_json_snapshot!("workspace_symbols_link", client.redact(&found));
    client.finish().await;
}

/// The same ids, after an emoji, CJK and a ZWJ family on the same line, in both encodings.
#[tokio::test]
async fn positions_after_emoji_cjk_and_zwj_in_utf16_and_utf8() {
    let text = "# Wide 🎉 漢字 👩‍👩‍👧 VAL-AUTH-001 and feat-login\n";
    let mut results = Vec::new();
    for (encoding, pos) in [
        (PositionEncodingKind::UTF16, utf16_pos as fn(&str, &str, usize) -> (u32, u32)),
        (PositionEncodingKind::UTF8, utf8_pos),
    ] {
        let root = tempfile::tempdir().unwrap();
        let mut client = session(root.path(), vec![encoding.clone()]).await;
        assert_eq!(client.init.capabilities.position_encoding.as_ref(), Some(&encoding));
        client.open("mission/notes.md", text).await;
        let (l, c) = pos(text, "VAL-AUTH-001", 5);
        let assertion =
            client.request::<request::HoverRequest>(hover_params(client.at("mission/notes.md", l, c))).await.unwrap();
        let (l, c) = pos(text, "feat-login", 0);
        let feature =
            client.request::<request::HoverRequest>(hover_params(client.at("mission/notes.md", l, c))).await.unwrap();
        // Definition from the feature id, converted back in the same encoding.
        let heading =
            client.request::<request::GotoDefinition>(definition_params(client.at("mission/notes.md", l, c))).await;
        results.push((encoding.as_str().to_string(), assertion.range, feature.range, client.redact(&heading)));
        client.finish().await;
    }
    insta::assert_json_snapshot!("positions_wide_characters", results);
}
