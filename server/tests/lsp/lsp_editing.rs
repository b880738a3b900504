//! Completion, code lens, inlay hints, quick fixes (each applied and re-checked by the server),
//! semantic tokens, document links and watched-file reloads, through the in-process harness.

use crate::lsp_support;

use std::path::Path;

use lsp_support::{apply_edits, utf16_pos, write_atomically, write_mission, Client, Options, CONTRACT, FEATURES};
use serde_json::{json, Value};
use tower_lsp_server::ls_types::notification;
use tower_lsp_server::ls_types::request;
use tower_lsp_server::ls_types::*;

/// A clean-syntax mission with one diagnostic of each code that has quick fixes.
const FIX_CONTRACT: &str = "# Validation contract: Fixes

## Auth

### VAL-AUTH-001: Login
Tool: terminal
Evidence: log

### VAL-AUTH-002: Logout
Evidence: log

### VAL-AUTH-003: Reset password
Tool: http

## Links

### VAL-LINK-001: Share
Tool: http
Evidence: response
";

const FIX_FEATURES: &str = r#"{
  "features": [
    {
      "id": "feat-login",
      "description": "Login",
      "milestone": "foundation",
      "fulfills": ["VAL-AUTH-001", "VAL-LINK-001"],
      "status": "pending",
      "workerSessionIds": []
    },
    {
      "id": "feat-logout",
      "description": "Logout",
      "milestone": "foundation",
      "fulfills": [
        "VAL-AUTH-002",
        "VAL-LINK-001",
        "VAL-AUTH-010"
      ],
      "status": "pending"
    }
  ]
}
"#;

fn write_fix_mission(root: &Path) {
    let dir = root.join("fix");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("validation-contract.md"), FIX_CONTRACT).unwrap();
    std::fs::write(dir.join("features.json"), FIX_FEATURES).unwrap();
}

/// Opens the mission at `dir` (features.json, then the contract) and returns the first
/// diagnostics of each: deterministic, as the second open leaves features.json's unchanged.
async fn open_mission(
    client: &mut Client,
    dir: &str,
    features_text: &str,
    contract_text: &str,
) -> (PublishDiagnosticsParams, PublishDiagnosticsParams) {
    let (features_file, contract_file) = (format!("{dir}/features.json"), format!("{dir}/validation-contract.md"));
    client.open(&features_file, features_text).await;
    let features = client.diagnostics(&features_file, Some(1)).await;
    client.diagnostics(&contract_file, None).await;
    client.open(&contract_file, contract_text).await;
    let contract = client.diagnostics(&contract_file, Some(1)).await;
    (features, contract)
}

/// The rich fixture of the other tests, both documents open.
async fn rich_session(root: &Path) -> Client {
    write_mission(root);
    let mut client = Client::start(Options { root, encodings: vec![], workspace_folder: false }).await;
    client.open("mission/features.json", FEATURES).await;
    client.diagnostics("mission/features.json", Some(1)).await;
    client.diagnostics("mission/validation-contract.md", None).await;
    client.diagnostics("repo/src/auth.rs", None).await;
    client.open("mission/validation-contract.md", CONTRACT).await;
    client.diagnostics("mission/validation-contract.md", Some(1)).await;
    client
}

fn code(d: &Diagnostic) -> &str {
    match &d.code {
        Some(NumberOrString::String(s)) => s,
        _ => "",
    }
}

async fn complete(client: &mut Client, relative: &str, (line, character): (u32, u32)) -> Value {
    let params = CompletionParams {
        text_document_position: client.at(relative, line, character),
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
        context: None,
    };
    let Some(CompletionResponse::List(list)) = client.request::<request::Completion>(params).await else {
        panic!("a completion list expected")
    };
    let items: Vec<Value> = list
        .items
        .iter()
        .map(|i| {
            let Some(CompletionTextEdit::Edit(edit)) = &i.text_edit else { panic!("every item carries its edit") };
            json!({"label": i.label, "detail": i.detail, "sort": i.sort_text, "insert": edit.new_text, "range": edit.range})
        })
        .collect();
    json!({"incomplete": list.is_incomplete, "items": items})
}

#[tokio::test]
async fn completion_lists_in_order() {
    let root = tempfile::tempdir().unwrap();
    let mut client = rich_session(root.path()).await;
    let features = "mission/features.json";
    // `fulfills` of feat-share is `[]`: unclaimed ids first, with their titles.
    let fulfills =
        complete(&mut client, features, utf16_pos(FEATURES, "\"fulfills\": [], \"milestone\": \"sharing\"", 13)).await;
    let labels: Vec<&str> =
        fulfills["items"].as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["VAL-LINK-002", "VAL-AUTH-001", "VAL-AUTH-002", "VAL-LINK-001", "VAL-LINK-003"]);
    // Inside the string `"wip"`: status values replace the string's content.
    let status = complete(&mut client, features, utf16_pos(FEATURES, "\"wip\"", 1)).await;
    let milestone = complete(&mut client, features, utf16_pos(FEATURES, "\"sharing\"", 1)).await;
    let skill = complete(&mut client, features, utf16_pos(FEATURES, "\"frontend-worker\"", 1)).await;
    // After `{` of the last feature: field names it lacks.
    let fields = complete(&mut client, features, utf16_pos(FEATURES, "{\"id\": \"feat-share\"", 1)).await;
    let depends =
        complete(&mut client, features, utf16_pos(FEATURES, "\"preconditions\": [\"feat-ghost is complete\"]", 18))
            .await;
    let tools =
        complete(&mut client, "mission/validation-contract.md", utf16_pos(CONTRACT, "Tool: carrier-pigeon", 6)).await;
    insta::assert_json_snapshot!(
        "completion",
        json!({"fulfills": fulfills, "status": status, "milestone": milestone, "skillName": skill, "fields": fields, "preconditions": depends, "tools": tools})
    );
    // Past the end and in prose: an empty list, never an error.
    assert_eq!(complete(&mut client, features, (9999, 9999)).await["items"], json!([]));
    assert_eq!(complete(&mut client, "mission/validation-contract.md", (0, 3)).await["items"], json!([]));
    client.finish().await;
}

#[tokio::test]
async fn code_lenses_on_both_documents() {
    let root = tempfile::tempdir().unwrap();
    let mut client = rich_session(root.path()).await;
    let mut lenses = Vec::new();
    for relative in ["mission/validation-contract.md", "mission/features.json"] {
        let params = CodeLensParams {
            text_document: TextDocumentIdentifier { uri: client.uri(relative) },
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        };
        let unresolved = client.request::<request::CodeLensRequest>(params).await.unwrap();
        // Ranges only: titles and commands come with codeLens/resolve.
        assert!(unresolved.iter().all(|l| l.command.is_none() && l.data.is_some()), "{unresolved:?}");
        let mut found = Vec::new();
        for l in unresolved {
            let range = l.range;
            let resolved = client.request::<request::CodeLensResolve>(l).await;
            assert_eq!(resolved.range, range);
            found.push(resolved);
        }
        // Labels carry no command; action lenses carry a mission command with the mission first.
        for l in &found {
            let c = l.command.as_ref().expect("every lens resolves");
            assert!(!c.title.is_empty());
            if !c.command.is_empty() {
                assert!(["missions.start", "missions.runFeature"].contains(&c.command.as_str()), "{c:?}");
                assert!(
                    c.arguments.as_ref().is_some_and(|a| a[0].as_str().is_some_and(|u| u.starts_with("file://"))),
                    "{c:?}"
                );
            }
        }
        lenses.push(found.into_iter().map(|l| {
            let c = l.command.unwrap();
            json!({"line": l.range.start.line, "character": l.range.start.character, "title": c.title, "command": c.command})
        }).collect::<Vec<_>>());
    }
    insta::assert_json_snapshot!("code_lenses", lenses);
    client.finish().await;
}

#[tokio::test]
async fn code_lenses_from_an_older_analysis_resolve_against_the_newest() {
    let root = tempfile::tempdir().unwrap();
    let mut client = rich_session(root.path()).await;
    let features = "mission/features.json";
    let params = CodeLensParams {
        text_document: TextDocumentIdentifier { uri: client.uri(features) },
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
    };
    let old = client.request::<request::CodeLensRequest>(params).await.unwrap();
    let contract_lenses = |client: &Client| CodeLensParams {
        text_document: TextDocumentIdentifier { uri: client.uri("mission/validation-contract.md") },
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
    };
    let contract_before = client.request::<request::CodeLensRequest>(contract_lenses(&client)).await.unwrap();
    // feat-login (completed) becomes pending: its line gets a "Run feature" lens too.
    let (line, character) = utf16_pos(FEATURES, "\"completed\"", 1);
    client.change(features, 2, vec![lsp_support::change(((line, character), (line, character + 9)), "pending")]).await;
    client.diagnostics(features, Some(2)).await;
    let title = |l: &CodeLens| l.command.as_ref().map(|c| c.title.clone()).unwrap_or_default();
    let first = client.request::<request::CodeLensResolve>(old[0].clone()).await;
    assert_eq!(first.range, old[0].range);
    assert_eq!(title(&first), "pending · 1 worker session: s1");
    let wip = old.iter().find(|l| l.range.start.line == line + 1).unwrap().clone();
    assert_eq!(title(&client.request::<request::CodeLensResolve>(wip).await), "wip · no worker sessions");
    // A lens that names no line of the newest analysis, or carries nonsense: an empty label.
    let mut gone = old[0].clone();
    gone.range.start.line = 999;
    gone.range.end.line = 999;
    for data in [gone.data.clone().unwrap(), json!("x"), json!([1, 2]), json!([-1, -1, -1, -1]), Value::Null] {
        let lens = CodeLens { data: Some(data), ..gone.clone() };
        let resolved = client.request::<request::CodeLensResolve>(lens).await;
        assert_eq!(resolved.command.map(|c| (c.title, c.command)), Some((String::new(), String::new())));
    }
    let fresh = client
        .request::<request::CodeLensRequest>(CodeLensParams {
            text_document: TextDocumentIdentifier { uri: client.uri(features) },
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(fresh.len(), old.len() + 1);
    // The contract did not change: its lens list (and `data`) is kept across the analysis.
    assert_eq!(client.request::<request::CodeLensRequest>(contract_lenses(&client)).await.unwrap(), contract_before);
    client.finish().await;
}

#[tokio::test]
async fn inlay_hints_after_claims_and_dependencies() {
    let root = tempfile::tempdir().unwrap();
    let mut client = rich_session(root.path()).await;
    let whole = Range { start: Position { line: 0, character: 0 }, end: Position { line: 99, character: 0 } };
    let params = InlayHintParams {
        text_document: TextDocumentIdentifier { uri: client.uri("mission/features.json") },
        range: whole,
        work_done_progress_params: Default::default(),
    };
    let hints = client.request::<request::InlayHintRequest>(params).await.unwrap();
    insta::assert_json_snapshot!("inlay_hints", hints);
    // A range covering only the first feature's line gets only its hints.
    let line = utf16_pos(FEATURES, "feat-logout", 0).0;
    let params = InlayHintParams {
        text_document: TextDocumentIdentifier { uri: client.uri("mission/features.json") },
        range: Range { start: Position { line, character: 0 }, end: Position { line, character: 999 } },
        work_done_progress_params: Default::default(),
    };
    let one_line = client.request::<request::InlayHintRequest>(params).await.unwrap();
    assert!(!one_line.is_empty() && one_line.iter().all(|h| h.position.line == line));
    client.finish().await;
}

#[tokio::test]
async fn each_quick_fix_applied_clears_its_diagnostic() {
    let root = tempfile::tempdir().unwrap();
    write_fix_mission(root.path());
    let mut client = Client::start(Options { root: root.path(), encodings: vec![], workspace_folder: false }).await;
    let (features, contract) = open_mission(&mut client, "fix", FIX_FEATURES, FIX_CONTRACT).await;
    let mut report = Vec::new();
    for (on_contract, published) in [(false, &features), (true, &contract)] {
        let relative = if on_contract { "fix/validation-contract.md" } else { "fix/features.json" };
        for diagnostic in &published.diagnostics {
            let params = CodeActionParams {
                text_document: TextDocumentIdentifier { uri: client.uri(relative) },
                range: diagnostic.range,
                context: CodeActionContext { diagnostics: vec![diagnostic.clone()], only: None, trigger_kind: None },
                work_done_progress_params: Default::default(),
                partial_result_params: Default::default(),
            };
            let actions = client.request::<request::CodeActionRequest>(params).await.unwrap_or_default();
            for action in actions {
                let CodeActionOrCommand::CodeAction(action) = action else { panic!("code actions, not commands") };
                if !action.diagnostics.as_ref().is_some_and(|d| d.contains(diagnostic)) {
                    continue; // a fix of another diagnostic on the same range
                }
                let changes = action.edit.as_ref().and_then(|e| e.changes.clone()).unwrap();
                let edits_of = |file: &str| changes.get(&client.uri(file)).cloned().unwrap_or_default();
                let (features_edits, contract_edits) =
                    (edits_of("fix/features.json"), edits_of("fix/validation-contract.md"));
                let fixed_features = apply_edits(FIX_FEATURES, &features_edits);
                let fixed_contract = apply_edits(FIX_CONTRACT, &contract_edits);
                assert!(
                    serde_json::from_str::<Value>(&fixed_features).is_ok(),
                    "`{}` broke features.json:\n{fixed_features}",
                    action.title
                );
                // Re-check: the fixed texts as a mission of their own, through the server.
                let copy = format!("fixed-{}", report.len());
                std::fs::create_dir_all(root.path().join(&copy)).unwrap();
                std::fs::write(root.path().join(&copy).join("features.json"), &fixed_features).unwrap();
                std::fs::write(root.path().join(&copy).join("validation-contract.md"), &fixed_contract).unwrap();
                let (features_after, contract_after) =
                    open_mission(&mut client, &copy, &fixed_features, &fixed_contract).await;
                let rechecked = if on_contract { contract_after } else { features_after };
                let still = rechecked
                    .diagnostics
                    .iter()
                    .any(|d| code(d) == code(diagnostic) && d.message == diagnostic.message);
                assert!(
                    !still,
                    "`{}` did not clear `{}`:\n{fixed_features}\n{fixed_contract}",
                    action.title, diagnostic.message
                );
                let edits: Vec<Value> =
                    [("features.json", &features_edits), ("validation-contract.md", &contract_edits)]
                        .iter()
                        .filter(|(_, e)| !e.is_empty())
                        .map(|(f, e)| json!({"file": f, "edits": e}))
                        .collect();
                report.push(json!({
                    "diagnostic": format!("{}: {}", code(diagnostic), diagnostic.message),
                    "fix": action.title,
                    "preferred": action.is_preferred,
                    "edits": edits,
                    "codes_after": rechecked.diagnostics.iter().map(code).collect::<Vec<_>>(),
                }));
            }
        }
    }
    let titles: Vec<&str> = report.iter().map(|r| r["fix"].as_str().unwrap()).collect();
    for expected in [
        "Claim in feature `feat-login`",
        "Claim in feature `feat-logout`",
        "Create a feature for `VAL-AUTH-003`",
        "Remove the claim from feature `feat-login`",
        "Did you mean `VAL-AUTH-001`?",
        "Add `VAL-AUTH-010` to the validation contract",
        "Add a `Tool:` line to `VAL-AUTH-002`",
        "Add an `Evidence:` line to `VAL-AUTH-003`",
    ] {
        assert!(titles.contains(&expected), "no fix `{expected}` in {titles:#?}");
    }
    insta::assert_json_snapshot!("quick_fixes", report);
    client.finish().await;
}

#[tokio::test]
async fn semantic_tokens_and_document_links() {
    let root = tempfile::tempdir().unwrap();
    let mut client = rich_session(root.path()).await;
    let legend = match client.init.capabilities.semantic_tokens_provider.clone() {
        Some(SemanticTokensServerCapabilities::SemanticTokensOptions(o)) => o.legend,
        other => panic!("semantic tokens not advertised: {other:?}"),
    };
    let mut decoded = Vec::new();
    for (relative, text) in [("mission/validation-contract.md", CONTRACT), ("mission/features.json", FEATURES)] {
        let params = SemanticTokensParams {
            text_document: TextDocumentIdentifier { uri: client.uri(relative) },
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        };
        let Some(SemanticTokensResult::Tokens(tokens)) =
            client.request::<request::SemanticTokensFullRequest>(params).await
        else {
            panic!("full tokens expected")
        };
        // Decode the relative encoding back to the text each token covers.
        let lines: Vec<&str> = text.split('\n').collect();
        let (mut line, mut start) = (0u32, 0u32);
        for t in tokens.data {
            line += t.delta_line;
            start = if t.delta_line == 0 { start + t.delta_start } else { t.delta_start };
            let utf16: Vec<u16> = lines[line as usize].encode_utf16().collect();
            let covered = String::from_utf16(&utf16[start as usize..(start + t.length) as usize]).unwrap();
            let kind = legend.token_types[t.token_type as usize].as_str();
            let declaration = t.token_modifiers_bitset & 1 == 1;
            decoded.push(format!(
                "{relative}:{line}:{start} {kind}{} {covered}",
                if declaration { " (declaration)" } else { "" }
            ));
        }
    }
    insta::assert_json_snapshot!("semantic_tokens", decoded);

    std::fs::create_dir_all(root.path().join("mission/evidence/foundation")).unwrap();
    std::fs::write(root.path().join("mission/evidence/foundation/login.png"), b"png").unwrap();
    let state = std::fs::read_to_string(root.path().join("mission/validation-state.json")).unwrap();
    client.open("mission/validation-state.json", &state).await;
    let mut links = Vec::new();
    for relative in ["mission/validation-state.json", "mission/features.json"] {
        let params = DocumentLinkParams {
            text_document: TextDocumentIdentifier { uri: client.uri(relative) },
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        };
        links.push(client.request::<request::DocumentLinkRequest>(params).await.unwrap());
    }
    // evidence/foundation/logout.txt is named too, but does not exist: not linked.
    insta::assert_json_snapshot!("document_links", client.redact(&links));
    client.finish().await;
}

#[tokio::test]
async fn files_written_on_disk_reload_and_open_documents_keep_the_editors_text() {
    let root = tempfile::tempdir().unwrap();
    write_fix_mission(root.path());
    // No dynamic registration: the server watches the mission folder itself.
    let mut client = Client::start(Options { root: root.path(), encodings: vec![], workspace_folder: true }).await;
    client.diagnostics("fix/validation-contract.md", None).await;
    client.diagnostics("fix/features.json", None).await;
    client.open("fix/features.json", FIX_FEATURES).await;
    client.diagnostics("fix/features.json", Some(1)).await;
    // The runner adds an assertion and (while the editor has it open) rewrites features.json.
    let dir = root.path().join("fix");
    write_atomically(&dir.join("features.json"), "{\"features\": []}\n");
    write_atomically(
        &dir.join("validation-contract.md"),
        &format!("{FIX_CONTRACT}\n### VAL-LINK-002: Revoke\nTool: http\nEvidence: response\n"),
    );
    let contract = client
        .diagnostics_until("fix/validation-contract.md", |p| {
            p.diagnostics.iter().any(|d| d.message.contains("VAL-LINK-002"))
        })
        .await;
    let unclaimed: Vec<&str> =
        contract.diagnostics.iter().filter(|d| code(d) == "unclaimed-assertion").map(|d| d.message.as_str()).collect();
    // VAL-AUTH-001 stays claimed: the open features.json is the editor's text, not the disk's.
    assert_eq!(
        unclaimed,
        ["`VAL-AUTH-003` is not claimed by any feature", "`VAL-LINK-002` is not claimed by any feature"]
    );
    insta::assert_json_snapshot!("watched_disk_change_contract", client.redact(&contract));
    client.finish().await;
}

#[tokio::test]
async fn watched_files_are_registered_with_clients_that_can() {
    let root = tempfile::tempdir().unwrap();
    write_fix_mission(root.path());
    let mut client =
        Client::start_with(Options { root: root.path(), encodings: vec![], workspace_folder: false }, |caps| {
            caps.workspace = Some(WorkspaceClientCapabilities {
                did_change_watched_files: Some(DidChangeWatchedFilesClientCapabilities {
                    dynamic_registration: Some(true),
                    relative_pattern_support: None,
                }),
                ..Default::default()
            });
        })
        .await;
    let registration = client.answer_request("client/registerCapability", Value::Null).await;
    assert_eq!(registration["registrations"][0]["method"], "workspace/didChangeWatchedFiles");
    client.open("fix/validation-contract.md", FIX_CONTRACT).await;
    client.diagnostics("fix/validation-contract.md", Some(1)).await;
    client.diagnostics("fix/features.json", None).await;
    // features.json (not open) changes on disk; the client reports it.
    let claimed_all = FIX_FEATURES.replace("\"VAL-AUTH-001\", \"VAL-LINK-001\"", "\"VAL-AUTH-001\", \"VAL-AUTH-003\"");
    write_atomically(&root.path().join("fix/features.json"), &claimed_all);
    let changes = vec![
        FileEvent { uri: client.uri("fix/features.json"), typ: FileChangeType::CHANGED },
        FileEvent { uri: client.uri("fix/progress_log.jsonl"), typ: FileChangeType::CHANGED },
    ];
    client.notify::<notification::DidChangeWatchedFiles>(DidChangeWatchedFilesParams { changes }).await;
    let contract = client.diagnostics("fix/validation-contract.md", Some(1)).await;
    assert!(!contract.diagnostics.iter().any(|d| code(d) == "unclaimed-assertion"), "{contract:#?}");
    let features = client.diagnostics("fix/features.json", None).await;
    assert!(!features.diagnostics.iter().any(|d| code(d) == "duplicate-claim"), "{features:#?}");
    client.finish().await;
}
