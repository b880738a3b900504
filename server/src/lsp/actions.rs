//! textDocument/codeAction: the quick fixes of `analysis::fixes` for the diagnostics under the
//! requested range, as workspace edits (a fix may edit the other mission document), then a
//! source action running the mission command that fits (start, approve the plan, resume or
//! pause).

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    self as lsp, CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionResponse, NumberOrString,
    TextEdit,
};

use super::analyzer::{MissionSnapshot, Snapshot};
use super::commands;
use super::convert::{self, Encoding};
use super::edits;
use super::guard::guarded;
use super::Shared;
use crate::analysis::fixes::{fixes_for, DocTexts, Fix};
use crate::analysis::{Code, DocKind, Target};
use crate::model::folder::{CONTRACT_FILE, FEATURES_FILE, MISSION_FILE};

pub async fn code_actions(shared: &Shared, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    let versioned = shared.versioned_edits();
    let wants = |kind: &CodeActionKind| {
        params.context.only.as_ref().is_none_or(|only| only.iter().any(|k| kind.as_str().starts_with(k.as_str())))
    };
    // The mission command of the folder of mission.md, the contract or features.json.
    let command = if commands::ADVERTISED && wants(&CodeActionKind::SOURCE) {
        mission_command(shared, &snapshot, &params.text_document.uri)
    } else {
        None
    };
    guarded("textDocument/codeAction", || {
        let quick_fixes =
            if wants(&CodeActionKind::QUICKFIX) { quick_fixes(&snapshot, &params, encoding, versioned) } else { None };
        match (quick_fixes, command) {
            (None, None) => None,
            (fixes, command) => Some(fixes.unwrap_or_default().into_iter().chain(command).collect()),
        }
    })
}

fn quick_fixes(
    snapshot: &Snapshot,
    params: &CodeActionParams,
    encoding: Encoding,
    versioned: bool,
) -> Option<CodeActionResponse> {
    let (mission, kind, doc) = snapshot.mission_doc(&params.text_document.uri)?;
    let wanted = convert::span(doc, params.range, encoding);
    let texts = DocTexts {
        contract: mission.doc(DocKind::Contract).map(|d| d.text.as_str()),
        features: mission.doc(DocKind::Features).map(|d| d.text.as_str()),
    };
    let mut out: CodeActionResponse = Vec::new();
    for d in &mission.analysis.diagnostics {
        let Target::Doc { doc: on, span } = &d.target else { continue };
        if *on != kind || span.start > wanted.end || wanted.start > span.end {
            continue;
        }
        let shown = lsp::Diagnostic {
            range: convert::range(doc, span, encoding),
            code: Some(NumberOrString::String(d.code.as_str().to_string())),
            message: d.message.clone(),
            source: Some("missions".to_string()),
            ..lsp::Diagnostic::default()
        };
        // The client's own copy of the diagnostic when it sent one (same code and range).
        let sent = params
            .context
            .diagnostics
            .iter()
            .find(|c| c.code == shown.code && c.range == shown.range)
            .cloned()
            .unwrap_or(shown);
        for fix in fixes_for(&mission.analysis, texts, d) {
            if let Some(action) = to_action(mission, fix, &sent, encoding, versioned) {
                out.push(CodeActionOrCommand::CodeAction(action));
            }
        }
        if d.code == Code::AssertionStale {
            out.extend(revalidate(mission, span, &sent).map(CodeActionOrCommand::CodeAction));
        }
    }
    Some(out)
}

/// A source action on mission.md, the contract and features.json: pause the mission when this
/// server runs it, else start (or resume) it unless it is over.
fn mission_command(shared: &Shared, snapshot: &Snapshot, uri: &lsp::Uri) -> Option<CodeActionOrCommand> {
    let path = convert::path_of(uri)?;
    let name = path.file_name()?.to_str()?;
    if ![MISSION_FILE, CONTRACT_FILE, FEATURES_FILE].contains(&name) {
        return None;
    }
    let dir = path.parent()?;
    snapshot.missions.get(dir)?;
    let (title, command) = if shared.missions.is_running(dir) {
        ("Pause the mission", commands::PAUSE)
    } else {
        use crate::model::records::MissionStatus;
        let status = crate::runner::state::StateStore::open(dir).ok()?.status();
        match status {
            MissionStatus::Completed | MissionStatus::Cancelled => return None,
            MissionStatus::Paused | MissionStatus::Halted => ("Resume the mission", commands::RESUME),
            MissionStatus::AwaitingApproval => ("Approve the plan and start the mission", commands::APPROVE_PLAN),
            _ => ("Start the mission (approves the plan, like `missions run --yes`)", commands::START),
        }
    };
    let folder = convert::uri_of(dir)?;
    Some(CodeActionOrCommand::CodeAction(CodeAction {
        title: title.to_string(),
        kind: Some(CodeActionKind::SOURCE),
        command: Some(lsp::Command {
            title: title.to_string(),
            command: command.to_string(),
            arguments: Some(vec![serde_json::Value::String(folder.to_string())]),
        }),
        ..CodeAction::default()
    }))
}

/// "Re-validate milestone": a validation round of the milestone of the feature fulfilling the
/// stale assertion whose heading is at `span` (`missions.validateMilestone`).
fn revalidate(mission: &MissionSnapshot, span: &crate::model::Span, shown: &lsp::Diagnostic) -> Option<CodeAction> {
    if !commands::ADVERTISED {
        return None;
    }
    let assertion = mission.analysis.contract()?.assertions.iter().find(|a| &a.id.span == span)?;
    let milestone = mission.analysis.claiming_feature(&assertion.id.value)?.milestone()?.to_string();
    let folder = convert::uri_of(&mission.dir)?;
    let title = format!("Re-validate milestone `{milestone}`");
    Some(CodeAction {
        title: title.clone(),
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![shown.clone()]),
        command: Some(lsp::Command {
            title,
            command: commands::VALIDATE_MILESTONE.to_string(),
            arguments: Some(vec![serde_json::Value::String(folder.to_string()), serde_json::Value::String(milestone)]),
        }),
        ..CodeAction::default()
    })
}

fn to_action(
    mission: &MissionSnapshot,
    fix: Fix,
    shown: &lsp::Diagnostic,
    encoding: Encoding,
    versioned: bool,
) -> Option<CodeAction> {
    let mut file_edits = Vec::new();
    for edit in fix.edits {
        let doc = mission.doc(edit.doc)?;
        file_edits.push((
            mission.doc_uri(edit.doc)?,
            doc.version,
            TextEdit { range: convert::range(doc, &edit.span, encoding), new_text: edit.new_text },
        ));
    }
    Some(CodeAction {
        title: fix.title,
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![shown.clone()]),
        edit: Some(edits::workspace_edit(edits::group(file_edits), versioned)),
        is_preferred: fix.preferred.then_some(true),
        ..CodeAction::default()
    })
}
