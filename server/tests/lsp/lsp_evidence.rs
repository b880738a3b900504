//! Evidence in the editor: a user-testing flow's evidence (droid's object of lists, paths
//! relative to `evidence/`) links to the files that exist, and the hover on an assertion
//! names the evidence of its latest round (validation-state.json), not older rounds' flows.

use crate::lsp_support;

use lsp_support::{utf16_pos, write_mission, Client, Options, CONTRACT, FEATURES};
use tower_lsp_server::ls_types::request;
use tower_lsp_server::ls_types::*;

const FLOW: &str = r#"{
  "groupId": "round-2",
  "testedAt": "2026-01-02T00:00:00.000Z",
  "assertions": [
    {
      "id": "VAL-AUTH-001",
      "title": "Successful login",
      "status": "pass",
      "steps": [],
      "evidence": {
        "screenshots": ["foundation/round-2/login.png"],
        "networkLogs": ["foundation/round-2/browser-network.jsonl"],
        "consoleLogs": ["foundation/round-2/gone.jsonl"]
      },
      "issues": null
    }
  ]
}
"#;

#[tokio::test]
async fn a_flows_evidence_is_linked_and_the_hover_names_the_latest_rounds_evidence() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_mission(root.path());
    let write = |rel: &str, bytes: &[u8]| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write("evidence/foundation/round-2/login.png", b"\x89PNG");
    write("evidence/foundation/round-2/browser-network.jsonl", b"{}\n");
    write("validation/foundation/user-testing/flows/round-2.json", FLOW.as_bytes());
    write("validation/foundation/user-testing/flows/round-1.json", br#"{"groupId": "round-1", "assertions": [{"id": "VAL-AUTH-001", "status": "fail", "evidence": {"screenshots": ["foundation/round-1/old.png"]}, "issues": "500"}]}"#);
    write(
        "validation-state.json",
        br#"{"assertions": {"VAL-AUTH-001": {"status": "passed", "validatedAtMilestone": "foundation", "round": 2, "evidence": ["evidence/foundation/round-2/login.png", "evidence/foundation/round-2/browser-network.jsonl"]}}}"#,
    );

    let mut client = Client::start(Options { root: root.path(), encodings: vec![], workspace_folder: false }).await;
    client.open("mission/features.json", FEATURES).await;
    client.diagnostics("mission/features.json", Some(1)).await;
    client.diagnostics("mission/validation-contract.md", None).await;
    client.diagnostics("repo/src/auth.rs", None).await;
    client.open("mission/validation-contract.md", CONTRACT).await;
    client.diagnostics("mission/validation-contract.md", Some(1)).await;

    let flow = "mission/validation/foundation/user-testing/flows/round-2.json";
    client.open(flow, FLOW).await;
    let params = DocumentLinkParams {
        text_document: TextDocumentIdentifier { uri: client.uri(flow) },
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
    };
    let links = client.request::<request::DocumentLinkRequest>(params).await.unwrap();
    let found: Vec<(Position, String)> = links
        .iter()
        .map(|l| (l.range.start, client.redact(l.target.as_ref().unwrap()).as_str().unwrap().to_string()))
        .collect();
    let at = |needle: &str| {
        let (line, character) = utf16_pos(FLOW, needle, 0);
        Position { line, character }
    };
    assert_eq!(
        found,
        [
            (
                at("foundation/round-2/login.png"),
                "file:///WS/mission/evidence/foundation/round-2/login.png".to_string()
            ),
            (
                at("foundation/round-2/browser-network.jsonl"),
                "file:///WS/mission/evidence/foundation/round-2/browser-network.jsonl".to_string()
            ),
        ],
        "the console log does not exist, so it is not linked"
    );

    let (line, character) = utf16_pos(CONTRACT, "VAL-AUTH-001: Successful", 0);
    let hover = client
        .request::<request::HoverRequest>(HoverParams {
            text_document_position_params: client.at("mission/validation-contract.md", line, character + 2),
            work_done_progress_params: Default::default(),
        })
        .await
        .unwrap();
    let HoverContents::Markup(text) = hover.contents else { panic!("markdown expected") };
    assert!(text.value.contains("*Validation:* **passed** (foundation, round 2); evidence: `evidence/foundation/round-2/login.png`, `evidence/foundation/round-2/browser-network.jsonl`"), "{}", text.value);
    assert!(!text.value.contains("round-1/old.png"), "an older round's flow is history: {}", text.value);
    client.finish().await;
}
