//! The language server in process: initialize, document sync, diagnostics, robustness.

use crate::lsp_support;

use std::collections::BTreeSet;
use std::time::Duration;

use lsp_support::{change, write_mission, Client, Options, CONTRACT, FEATURES};
use serde_json::json;
use tower_lsp_server::ls_types::request;
use tower_lsp_server::ls_types::*;

async fn start(root: &std::path::Path, encodings: Vec<PositionEncodingKind>) -> Client {
    Client::start(Options { root, encodings, workspace_folder: false }).await
}

fn codes(p: &PublishDiagnosticsParams) -> Vec<String> {
    p.diagnostics
        .iter()
        .map(|d| match &d.code {
            Some(NumberOrString::String(s)) => s.clone(),
            other => panic!("diagnostic without a string code: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn initialize_negotiates_encoding_and_advertises_what_works() {
    let dir = tempfile::tempdir().unwrap();
    let client = start(dir.path(), vec![PositionEncodingKind::UTF16]).await;
    let mut init = client.init.clone();
    init.server_info.as_mut().unwrap().version = Some("[version]".into());
    insta::assert_json_snapshot!("initialize_utf16", init);
    let advertised = serde_json::to_value(&init.capabilities).unwrap();
    // Every mission command of design §4, in its order, and the source action running them.
    let commands = [
        "missions.start",
        "missions.approvePlan",
        "missions.pause",
        "missions.resume",
        "missions.cancel",
        "missions.runFeature",
        "missions.validateMilestone",
        "missions.status",
    ];
    assert_eq!(advertised["executeCommandProvider"]["commands"], serde_json::json!(commands), "{advertised}");
    assert_eq!(
        advertised["codeActionProvider"]["codeActionKinds"],
        serde_json::json!(["quickfix", "source"]),
        "{advertised}"
    );
    client.finish().await;

    let client = start(dir.path(), vec![PositionEncodingKind::UTF8, PositionEncodingKind::UTF16]).await;
    assert_eq!(client.init.capabilities.position_encoding, Some(PositionEncodingKind::UTF8));
    client.finish().await;
}

#[tokio::test]
async fn diagnostics_on_open_cover_every_code_on_both_documents() {
    let root = tempfile::tempdir().unwrap();
    write_mission(root.path());
    let mut client = start(root.path(), vec![]).await;
    client.open("mission/features.json", FEATURES).await;
    let features = client.diagnostics("mission/features.json", Some(1)).await;
    // The contract is not open: read from disk, published without a version.
    let contract = client.diagnostics("mission/validation-contract.md", None).await;
    let source = client.diagnostics("repo/src/auth.rs", None).await;
    let all: BTreeSet<String> = [&features, &contract, &source].iter().flat_map(|p| codes(p)).collect();
    // The codes from git (base checks, drift) have their own tests (`lsp_repository`).
    let expected: BTreeSet<String> = missions::analysis::Code::ALL
        .iter()
        .filter(|c| !c.needs_repository())
        .map(|c| c.as_str().to_string())
        .collect();
    assert_eq!(all, expected);
    assert!(features.diagnostics.iter().chain(&contract.diagnostics).all(|d| d.source.as_deref() == Some("missions")));
    // duplicate-claim on the contract points into features.json
    let claim =
        contract.diagnostics.iter().find(|d| d.code == Some(NumberOrString::String("duplicate-claim".into()))).unwrap();
    assert!(claim
        .related_information
        .as_ref()
        .unwrap()
        .iter()
        .all(|r| r.location.uri == client.uri("mission/features.json")));
    insta::assert_json_snapshot!("diagnostics_open_features", client.redact(&features));
    insta::assert_json_snapshot!("diagnostics_open_contract", client.redact(&contract));
    insta::assert_json_snapshot!("diagnostics_open_source", client.redact(&source));
    client.finish().await;
}

#[tokio::test]
async fn a_change_republishes_the_edited_document_and_the_other_when_it_changes() {
    let root = tempfile::tempdir().unwrap();
    write_mission(root.path());
    let mut client = start(root.path(), vec![]).await;
    client.open("mission/features.json", FEATURES).await;
    let first = client.diagnostics("mission/features.json", Some(1)).await;
    client.diagnostics("mission/validation-contract.md", None).await;
    client.diagnostics("repo/src/auth.rs", None).await;
    client.open("mission/validation-contract.md", CONTRACT).await;
    let opened = client.diagnostics("mission/validation-contract.md", Some(1)).await;
    assert!(codes(&opened).contains(&"unclaimed-assertion".to_string()));

    // A space inside features.json: same diagnostics, features republished, contract not.
    let (line, col) = lsp_support::utf16_pos(FEATURES, "\"features\"", 0);
    client.change("mission/features.json", 2, vec![change(((line, col), (line, col)), " ")]).await;
    let same = client.diagnostics("mission/features.json", Some(2)).await;
    assert_eq!(same.diagnostics, first.diagnostics);
    client.expect_silence(Duration::from_millis(150)).await;

    // Claim VAL-LINK-002 in feat-share: the contract's unclaimed-assertion goes away.
    let (line, col) = lsp_support::utf16_pos(FEATURES, "\"fulfills\": [], \"milestone\": \"sharing\"", 13);
    client.change("mission/features.json", 3, vec![change(((line, col), (line, col)), "\"VAL-LINK-002\"")]).await;
    let features = client.diagnostics("mission/features.json", Some(3)).await;
    let contract = client.diagnostics("mission/validation-contract.md", Some(1)).await;
    assert!(!codes(&contract).contains(&"unclaimed-assertion".to_string()));
    insta::assert_json_snapshot!("diagnostics_after_change_features", client.redact(&features));
    insta::assert_json_snapshot!("diagnostics_after_change_contract", client.redact(&contract));
    client.finish().await;
}

#[tokio::test]
async fn edits_in_a_burst_coalesce_and_the_newest_version_is_published() {
    let root = tempfile::tempdir().unwrap();
    write_mission(root.path());
    std::fs::remove_dir_all(root.path().join("repo")).unwrap();
    std::fs::remove_file(root.path().join("mission/working_directory.txt")).unwrap();
    let mut client = start(root.path(), vec![]).await;
    client.open("mission/validation-contract.md", CONTRACT).await;
    client.diagnostics("mission/validation-contract.md", Some(1)).await;
    client.diagnostics("mission/features.json", None).await;
    for version in 2..=30 {
        client.change("mission/validation-contract.md", version, vec![change(((0, 0), (0, 0)), "x")]).await;
    }
    let last = client.diagnostics("mission/validation-contract.md", Some(30)).await;
    assert!(!last.diagnostics.is_empty());
    // Intermediate versions may or may not have been published; drop them, nothing else.
    let hover = client
        .request::<request::HoverRequest>(HoverParams {
            text_document_position_params: client.at("mission/validation-contract.md", 4, 6),
            work_done_progress_params: Default::default(),
        })
        .await;
    assert!(hover.is_some(), "the hover sees version 30's text");
    client.discard_diagnostics("mission/validation-contract.md");
    client.finish().await;
}

#[tokio::test]
async fn crlf_documents_keep_positions_and_edits_never_split_a_line_break() {
    let root = tempfile::tempdir().unwrap();
    write_mission(root.path());
    let crlf = CONTRACT.replace('\n', "\r\n");
    std::fs::write(root.path().join("mission/validation-contract.md"), &crlf).unwrap();
    let mut client = start(root.path(), vec![]).await;
    client.open("mission/validation-contract.md", &crlf).await;
    let contract = client.diagnostics("mission/validation-contract.md", Some(1)).await;
    client.diagnostics("mission/features.json", None).await;
    client.diagnostics("repo/src/auth.rs", None).await;
    insta::assert_json_snapshot!("diagnostics_crlf_contract", client.redact(&contract));
    // Typing past the end of a heading lands before its \r\n: same line, title extended.
    client.change("mission/validation-contract.md", 2, vec![change(((4, 500), (4, 500)), "!")]).await;
    let after = client.diagnostics("mission/validation-contract.md", Some(2)).await;
    assert_eq!(
        after.diagnostics.iter().map(|d| d.range).collect::<Vec<_>>(),
        contract.diagnostics.iter().map(|d| d.range).collect::<Vec<_>>()
    );
    let hover = client
        .request::<request::HoverRequest>(HoverParams {
            text_document_position_params: client.at("mission/validation-contract.md", 4, 6),
            work_done_progress_params: Default::default(),
        })
        .await
        .unwrap();
    let HoverContents::Markup(markup) = hover.contents else { panic!("markdown hover expected") };
    assert!(markup.value.starts_with("**VAL-AUTH-001**: Successful login!\n"), "{}", markup.value);
    client.finish().await;
}

#[tokio::test]
async fn bad_input_never_breaks_the_server() {
    let root = tempfile::tempdir().unwrap();
    write_mission(root.path());
    // features.json on disk is not UTF-8: checked without it, and the person is told.
    std::fs::write(root.path().join("mission/features.json"), b"{\"features\": [\xff\xfe]}").unwrap();
    let mut client = start(root.path(), vec![]).await;
    client.open("mission/validation-contract.md", CONTRACT).await;
    let contract = client.diagnostics("mission/validation-contract.md", Some(1)).await;
    assert!(
        !codes(&contract).contains(&"unclaimed-assertion".to_string()),
        "no features: the claim checks are skipped"
    );
    client.diagnostics("repo/src/auth.rs", None).await;
    let told = client.notification::<notification::ShowMessage>().await;
    assert!(told.message.contains("features.json") && told.message.contains("UTF-8"), "{told:?}");

    // Unknown request: MethodNotFound. Unknown notification: ignored.
    let unknown = client.request_raw("missions/unknownThing", json!({})).await;
    assert_eq!(unknown["error"]["code"], json!(-32601));
    client.send_raw(json!({"jsonrpc": "2.0", "method": "missions/unknownNotification", "params": {}})).await;

    // Out-of-range positions answer (nothing), they do not fail.
    for (line, character) in [(9999, 0), (0, 9999), (u32::MAX, u32::MAX)] {
        let at = client.at("mission/validation-contract.md", line, character);
        client
            .request::<request::HoverRequest>(HoverParams {
                text_document_position_params: at.clone(),
                work_done_progress_params: Default::default(),
            })
            .await;
        client
            .request::<request::GotoDefinition>(GotoDefinitionParams {
                text_document_position_params: at,
                work_done_progress_params: Default::default(),
                partial_result_params: Default::default(),
            })
            .await;
    }
    // Requests on documents nobody opened.
    let nowhere = TextDocumentPositionParams {
        text_document: TextDocumentIdentifier { uri: "untitled:Untitled-1".parse().unwrap() },
        position: Position::default(),
    };
    assert!(client
        .request::<request::HoverRequest>(HoverParams {
            text_document_position_params: nowhere,
            work_done_progress_params: Default::default()
        })
        .await
        .is_none());

    // A stale change (old version) is ignored; an out-of-range and a reversed one are clamped.
    client.change("mission/validation-contract.md", 1, vec![change(((0, 0), (0, 0)), "STALE")]).await;
    client
        .change(
            "mission/validation-contract.md",
            2,
            vec![change(((500, 3), (400, 0)), "\n## Tail\n"), change(((3, 8), (3, 4)), "")],
        )
        .await;
    let after = client.diagnostics("mission/validation-contract.md", Some(2)).await;
    assert!(after.diagnostics.iter().all(|d| d.range.start.line < 40));
    // Changes to a document that is not open, and garbage params, are logged and ignored.
    client.change("mission/nope.md", 5, vec![change(((0, 0), (0, 0)), "x")]).await;
    client.send_raw(json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"bogus": true}})).await;

    // A 5 MB document: opened, checked, hovered.
    let mut big = String::from("# Big\n");
    let mut n = 0;
    while big.len() < 5 * 1024 * 1024 {
        n += 1;
        big.push_str(&format!("### VAL-BIG-{n:05}: Assertion {n} 🎉\nSome body text that is long enough to take space.\nTool: terminal\nEvidence: log\n"));
    }
    std::fs::create_dir_all(root.path().join("big")).unwrap();
    client.open("big/validation-contract.md", &big).await;
    let published = client.diagnostics("big/validation-contract.md", Some(1)).await;
    assert!(published.diagnostics.is_empty(), "no features.json: nothing to claim against");
    let hover = client
        .request::<request::HoverRequest>(HoverParams {
            text_document_position_params: client.at("big/validation-contract.md", 1 + 4 * 1000, 6),
            work_done_progress_params: Default::default(),
        })
        .await;
    assert!(format!("{hover:?}").contains("VAL-BIG-01001"));
    client.finish().await;
}

/// `missions check --format json` on `mission` (the real binary): its `validator-issue` rows
/// as (path, 0-based line, message).
fn check_validator_issues(mission: &std::path::Path) -> Vec<(String, u64, String)> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_missions"))
        .args(["check", "--format", "json"])
        .arg(mission)
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    rows.iter()
        .filter(|r| r["code"] == "validator-issue")
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_string(),
                r["range"]["start"]["line"].as_u64().unwrap(),
                r["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The editor and `missions check` place a validator's finding on the same source line, by the
/// same working directory: droid's folder outside the repository naming it in
/// working_directory.txt, and a `.missions/` folder of a repository subfolder naming none.
#[tokio::test]
async fn the_editor_and_check_agree_on_where_validator_issues_are() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    let elsewhere = write_mission(&root_path);
    // The same mission inside the repository (`repo/app/.missions/m`), without
    // working_directory.txt: its working directory is the repository, not `repo/app`.
    let inside = root_path.join("repo/app/.missions/m");
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    let copied = std::process::Command::new("cp").arg("-r").arg(&elsewhere).arg(&inside).status().unwrap();
    assert!(copied.success());
    std::fs::remove_file(inside.join("working_directory.txt")).unwrap();
    let init = std::process::Command::new("git")
        .args(["init", "--quiet"])
        .current_dir(root_path.join("repo"))
        .status()
        .unwrap();
    assert!(init.success());
    for (mission, features) in
        [("mission", "mission/features.json"), ("repo/app/.missions/m", "repo/app/.missions/m/features.json")]
    {
        let printed = check_validator_issues(&root_path.join(mission));
        let source = root_path.join("repo/src/auth.rs").display().to_string();
        assert_eq!(
            printed,
            vec![(
                source,
                41,
                "scrutiny review of `feat-login` (foundation): Login returns 500 on VAL-AUTH-001".to_string()
            )],
            "{mission}"
        );
        let mut client = start(&root_path, vec![]).await;
        client.open(features, FEATURES).await;
        let published = client.diagnostics("repo/src/auth.rs", None).await;
        let shown: Vec<(String, u64, String)> = published
            .diagnostics
            .iter()
            .filter(|d| d.code == Some(NumberOrString::String("validator-issue".into())))
            .map(|d| {
                (
                    published.uri.to_file_path().unwrap().display().to_string(),
                    d.range.start.line as u64,
                    d.message.clone(),
                )
            })
            .collect();
        assert_eq!(shown, printed, "{mission}");
        client.discard_diagnostics(features);
        client.discard_diagnostics(&format!("{}/validation-contract.md", mission));
        client.finish().await;
    }
}
