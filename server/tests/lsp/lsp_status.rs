//! `missions/status` (design §4): the mission's state and counts, and a clear error for a
//! folder the server does not know.

use crate::lsp_support;

use lsp_support::{write_mission, Client, Options, FEATURES};
use serde_json::json;
use tower_lsp_server::ls_types::TextDocumentContentChangeEvent;

#[tokio::test]
async fn status_answers_with_counts_and_refuses_unknown_folders() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_mission(root.path());
    std::fs::write(dir.join("state.json"), r#"{"missionId": "mis_0badc0de", "state": "running", "workingDirectory": "/tmp/repo", "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z", "currentMilestone": "foundation", "lastReviewedHandoffCount": 1, "futureField": true}"#).unwrap();
    let mut client = Client::start(Options { root: root.path(), encodings: vec![], workspace_folder: false }).await;
    client.open("mission/features.json", FEATURES).await;
    client.diagnostics("mission/features.json", Some(1)).await;
    client.diagnostics("mission/validation-contract.md", None).await;
    client.diagnostics("repo/src/auth.rs", None).await;
    let uri = client.uri("mission");
    let status = client.request_raw("missions/status", json!({ "missionUri": uri })).await;
    let result = &status["result"];
    assert_eq!(result["id"], "mis_0badc0de");
    assert_eq!((result["status"].as_str(), result["state"].as_str()), (Some("running"), Some("running")));
    assert_eq!(result["currentMilestone"], "foundation");
    assert_eq!(result["missionUri"], json!(uri));
    let total = |v: &serde_json::Value| v.as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum::<u64>();
    assert!(total(&result["features"]) > 0 && total(&result["assertions"]) > 0, "{status}");
    // state.json says running, but no runner holds the mission's lock: no run is alive.
    assert_eq!(result["runAlive"], false, "{status}");
    // A live runner's lock (this process hosts the server here) makes it alive.
    std::fs::write(dir.join("run.lock"), format!("{{\"pid\": {}, \"by\": \"run\"}}\n", std::process::id())).unwrap();
    let alive = client.request_raw("missions/status", json!({ "missionUri": uri })).await;
    assert_eq!(alive["result"]["runAlive"], true, "{alive}");
    std::fs::remove_file(dir.join("run.lock")).unwrap();
    // Unsaved edits of features.json do not count: the files say where the runner is.
    let on_disk = result["features"].clone();
    let all_done = FEATURES.replace("\"pending\"", "\"completed\"").replace("\"in_progress\"", "\"completed\"");
    assert_ne!(all_done, FEATURES);
    client
        .change(
            "mission/features.json",
            2,
            vec![TextDocumentContentChangeEvent { range: None, range_length: None, text: all_done }],
        )
        .await;
    client.diagnostics("mission/features.json", Some(2)).await;
    let status = client.request_raw("missions/status", json!({ "missionUri": uri })).await;
    assert_eq!(status["result"]["features"], on_disk, "{status}");
    let unknown = client.request_raw("missions/status", json!({ "missionUri": client.uri("elsewhere") })).await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    client.finish().await;
}
