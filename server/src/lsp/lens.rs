//! textDocument/codeLens: feature status and sessions, assertion owner and validation, the
//! contract's counts (see `analysis::lens`).
//!
//! Information lenses are labels: a command with an empty id, which VS Code draws as plain text
//! and Neovim shows as its title. Action lenses ("Start mission", "Run feature") carry the
//! mission commands with the mission folder's URI first. Every lens is complete, so
//! `codeLens/resolve` is not needed.

use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::{CodeLens, CodeLensParams, Command};

use super::guard::guarded;
use super::{convert, Shared};
use crate::analysis::lens::{contract_lenses, feature_lenses, LensAction};
use crate::analysis::DocKind;

pub async fn code_lens(shared: &Shared, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    guarded("textDocument/codeLens", || {
        let (mission, kind, doc) = snapshot.mission_doc(&params.text_document.uri)?;
        let lenses = match kind {
            DocKind::Contract => contract_lenses(&mission.analysis),
            DocKind::Features => feature_lenses(&mission.analysis),
        };
        let mission_uri = convert::uri_of(&mission.dir).map(|u| serde_json::Value::String(u.to_string()));
        let command = |title: String, action: Option<LensAction>| match (action, &mission_uri) {
            (Some(LensAction::Start), Some(uri)) => Command { title, command: "missions.start".into(), arguments: Some(vec![uri.clone()]) },
            (Some(LensAction::RunFeature(id)), Some(uri)) => Command { title, command: "missions.runFeature".into(), arguments: Some(vec![uri.clone(), id.into()]) },
            _ => Command { title, command: String::new(), arguments: None },
        };
        Some(lenses.into_iter().map(|l| CodeLens { range: convert::range(doc, &l.span, encoding), command: Some(command(l.title, l.action)), data: None }).collect())
    })
}
