//! Live documents with unsaved edits (design §4): when the runner writes a mission file the
//! person has open with unsaved edits, the real `missions lsp` binary mirrors the change into
//! the buffer with versioned `workspace/applyEdit`s, field by field, and names what both sides
//! changed. The client here keeps its own copy of the buffer and applies what it is sent.

use crate::loop_support;
use crate::stdio_client;

use std::process::Stdio;
use std::time::Duration;

use loop_support::*;
use serde_json::{json, Value};
use stdio_client::{apply_text_edits, edits_for, url, Server};

const LIMITS: &str = "max_validation_rounds = 3\ncommand_timeout_s = 30";

/// A client that applies workspace edits to versioned documents (as VS Code does); the
/// server watches the mission folders itself.
fn start(p: &Project) -> Server {
    start_watching(p, false)
}

/// With `registers`, the client accepts the server's watched-files registration (and then
/// sends no change: the server's own runs must not depend on it).
fn start_watching(p: &Project, registers: bool) -> Server {
    let capabilities = json!({"workspace": {"applyEdit": true, "workspaceEdit": {"documentChanges": true}, "didChangeWatchedFiles": {"dynamicRegistration": registers}}});
    let mut server =
        Server::start(command(&p.repo, &["lsp"]).stderr(Stdio::null()), Server::params(&p.repo, capabilities));
    if registers {
        server.answer_next("client/registerCapability", Value::Null);
    }
    server
}

/// The client's copy of an open document.
struct Buffer {
    uri: String,
    text: String,
    version: i64,
}

impl Buffer {
    fn open(server: &mut Server, uri: String, text: String) -> Buffer {
        server.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "json", "version": 1, "text": text}}),
        );
        Buffer { uri, text, version: 1 }
    }

    /// The person types: the whole new text, as a new version.
    fn edit(&mut self, server: &mut Server, text: String) {
        self.version += 1;
        self.text = text;
        server.notify("textDocument/didChange", json!({"textDocument": {"uri": self.uri, "version": self.version}, "contentChanges": [{"text": self.text}]}));
    }

    /// Applies a `workspace/applyEdit` for this buffer as an editor does: refused unless it
    /// names the buffer's version; applied, answered, and echoed as a didChange.
    fn apply(&mut self, server: &mut Server, request: &Value) -> bool {
        let change = &request["params"]["edit"]["documentChanges"][0];
        assert_eq!(change["textDocument"]["uri"], self.uri, "{request}");
        if change["textDocument"]["version"] != self.version {
            server.answer(request, json!({"applied": false, "failureReason": "the document changed"}));
            return false;
        }
        let text = apply_text_edits(&self.text, &edits_for(&request["params"]["edit"], &self.uri));
        server.answer(request, json!({"applied": true}));
        self.edit(server, text);
        true
    }
}

/// A project whose mission is not running, and the server once it analysed it (the model
/// is kept alive beside them).
fn idle_project() -> (MissionModel, Project, Server) {
    let model = MissionModel::start(Script::default());
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let mut server = start(&p);
    server.diagnostics_until(&url(&p.mission.join("features.json")), |_| true);
    (model, p, server)
}

fn is_apply_edit(m: &Value) -> bool {
    m["method"] == "workspace/applyEdit" && m.get("id").is_some()
}

#[test]
fn the_runners_writes_join_unsaved_edits_in_features_json_while_the_mission_runs() {
    // The server's own watcher, and a client that registered watching but reports nothing.
    for registers in [false, true] {
        runners_writes_join_unsaved_edits(registers);
    }
}

fn runners_writes_join_unsaved_edits(registers: bool) {
    let model = MissionModel::start(sub_fix());
    let p = Project::new(&model, LIMITS, CONTRACT, &features());
    let mut server = start_watching(&p, registers);
    let features_path = p.mission.join("features.json");
    let features_uri = url(&features_path);
    server.diagnostics_until(&features_uri, |_| true);

    // The person opens features.json and rewords a description without saving.
    let on_disk = p.read("features.json");
    let (worded, reworded) = (
        "\"Addition: `sh calc.sh add A B` prints A+B\"",
        "\"Addition of two integers: `sh calc.sh add A B` prints A+B\"",
    );
    assert!(on_disk.contains(worded));
    let mut buffer = Buffer::open(&mut server, features_uri.clone(), on_disk.clone());
    buffer.edit(&mut server, on_disk.replace(worded, reworded));

    let started = server.command("missions.start", &p.mission);
    assert!(started.get("result").is_some(), "{started}");
    // Every write of the runner (statuses, sessions, the fix feature) arrives as edits.
    let mut applied = 0;
    loop {
        let m = server.take(|m| {
            is_apply_edit(m) || (m["method"] == "missions/event" && m["params"]["event"]["type"] == "mission_completed")
        });
        if is_apply_edit(&m) {
            applied += usize::from(buffer.apply(&mut server, &m));
        } else {
            break;
        }
    }
    // The last write may come after the last event: the buffer converges on the disk plus
    // the person's edit, as JSON (the orchestrator writes a fix feature in its own layout,
    // the runner rewrites it in droid's; the buffer keeps the layout it got first).
    let expected =
        |p: &Project| serde_json::from_str::<Value>(&p.read("features.json").replace(worded, reworded)).unwrap();
    while serde_json::from_str::<Value>(&buffer.text).ok() != Some(expected(&p)) {
        let request = server.take(is_apply_edit);
        applied += usize::from(buffer.apply(&mut server, &request));
    }
    assert!(applied >= 3, "the run wrote features.json several times: {applied} edits");
    let statuses: Vec<Value> =
        p.json("features.json")["features"].as_array().unwrap().iter().map(|f| f["status"].clone()).collect();
    assert!(
        statuses.iter().all(|s| s == "completed") && statuses.len() == 8,
        "the fix feature and two validators a milestone were added: {statuses:?}"
    );
    assert!(buffer.text.contains(reworded) && buffer.text.contains("fix-sub-order"), "{}", buffer.text);
    // Nothing conflicted: no warning was shown.
    assert!(
        !server.unread().iter().any(|m| m["method"] == "window/showMessage" && m["params"]["type"] == 2),
        "{:#?}",
        server.unread()
    );
    server.finish();
}

#[test]
fn a_field_both_sides_changed_keeps_the_persons_value_and_is_named_and_clean_buffers_are_left_to_the_editor() {
    let (_model, p, mut server) = idle_project();
    let features_path = p.mission.join("features.json");
    let features_uri = url(&features_path);
    let original = p.read("features.json");
    let mut buffer = Buffer::open(&mut server, features_uri.clone(), original.clone());

    // `text` with feature `id`'s status changed from `from` to `to`.
    let set = |text: &str, id: &str, from: &str, to: &str| {
        let at = text.find(&format!("\"id\": \"{id}\"")).unwrap();
        let rel = text[at..].find(&format!("\"status\": \"{from}\"")).unwrap();
        let mut out = text.to_string();
        out.replace_range(
            at + rel..at + rel + format!("\"status\": \"{from}\"").len(),
            &format!("\"status\": \"{to}\""),
        );
        out
    };
    // A buffer without unsaved edits: the editor reloads it from disk itself.
    let first = set(&original, "feat-add", "pending", "in_progress");
    std::fs::write(&features_path, &first).unwrap();
    server.settle(Duration::from_secs(2));
    assert!(!server.unread().iter().any(is_apply_edit), "a clean buffer is not edited: {:#?}", server.unread());
    buffer.edit(&mut server, first.clone());

    // The person sets feat-add's status and rewords feat-sub, unsaved; the runner then
    // writes feat-add failed and feat-mul completed.
    let (worded, reworded) = ("\"Subtraction: `sh calc.sh sub A B` prints A-B\"", "\"Subtraction: prints A minus B\"");
    buffer.edit(&mut server, set(&first, "feat-add", "in_progress", "blocked").replace(worded, reworded));
    let second = set(&set(&first, "feat-add", "in_progress", "failed"), "feat-mul", "pending", "completed");
    std::fs::write(&features_path, &second).unwrap();

    // The person types again before the first edit arrives: it names an old version, is
    // refused, and the server merges again against the newer buffer.
    let request = server.take(is_apply_edit);
    let typed = buffer.text.replace(reworded, "\"Subtraction: prints A minus B.\"");
    buffer.edit(&mut server, typed);
    assert!(!buffer.apply(&mut server, &request), "the first edit named version {} of the buffer", buffer.version - 1);
    let retried = server.take(is_apply_edit);
    assert!(buffer.apply(&mut server, &retried), "{retried}");

    let warning = server.take(|m| m["method"] == "window/showMessage" && m["params"]["type"] == 2)["params"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(warning.contains("features.json") && warning.contains("features[feat-add].status"), "{warning}");
    // feat-mul's status came in; feat-add keeps the person's value; their wording stays.
    assert_eq!(
        buffer.text,
        set(&second, "feat-add", "failed", "blocked").replace(worded, "\"Subtraction: prints A minus B.\"")
    );
    server.finish();
}

/// The person's own save, written by an editor that truncates the file and writes it a moment
/// later, is not a change of someone else's: no edit, no warning.
#[test]
fn a_slow_save_of_the_persons_own_edits_is_not_taken_for_a_runner_write() {
    let (_model, p, mut server) = idle_project();
    let features_path = p.mission.join("features.json");
    let features_uri = url(&features_path);
    let original = p.read("features.json");
    let mut buffer = Buffer::open(&mut server, features_uri, original.clone());
    buffer.edit(&mut server, original.replace("\"Addition:", "\"Addition of integers:"));
    std::fs::write(&features_path, "").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    std::fs::write(&features_path, &buffer.text).unwrap();
    server.notify("textDocument/didSave", json!({"textDocument": {"uri": buffer.uri}}));
    server.settle(Duration::from_secs(2));
    let noise: Vec<&Value> =
        server.unread().iter().filter(|m| is_apply_edit(m) || m["method"] == "window/showMessage").collect();
    assert!(noise.is_empty(), "{noise:#?}");
    server.finish();
}

/// An editor restoring unsaved work opens features.json with other text than the disk's. The
/// person types once: nothing on disk changed since the buffer was opened, so nothing is sent
/// (the server once set the field back to the disk's value). A change the runner then makes
/// on disk comes in beside the person's text.
#[test]
fn a_buffer_opened_with_other_text_than_the_disk_is_the_persons_and_only_later_disk_changes_come_in() {
    let (_model, p, mut server) = idle_project();
    let features_path = p.mission.join("features.json");
    let on_disk = p.read("features.json");
    let (worded, restored) = ("\"Addition: `sh calc.sh add A B` prints A+B\"", "\"Addition, as I left it unsaved\"");
    let mut buffer = Buffer::open(&mut server, url(&features_path), on_disk.replace(worded, restored));
    // A moment later (the server has taken the buffer as opened), the person types.
    server.settle(Duration::from_millis(500));
    // Elsewhere in the file than what was restored.
    let (mul, typed) = ("\"Multiplication: `sh calc.sh mul A B` prints A*B\"", "\"Multiplication, typed\"");
    buffer.edit(&mut server, buffer.text.replace(mul, typed));
    server.settle(Duration::from_secs(2));
    let noise: Vec<&Value> =
        server.unread().iter().filter(|m| is_apply_edit(m) || m["method"] == "window/showMessage").collect();
    assert!(noise.is_empty(), "the person's text is left alone: {noise:#?}");

    let written = on_disk.replacen("\"status\": \"pending\"", "\"status\": \"in_progress\"", 1);
    std::fs::write(&features_path, &written).unwrap();
    let request = server.take(is_apply_edit);
    assert!(buffer.apply(&mut server, &request), "{request}");
    assert_eq!(buffer.text, written.replace(worded, restored).replace(mul, typed));
    server.finish();
}
