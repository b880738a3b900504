//! textDocument/codeLens: feature status and sessions, assertion owner and validation, the
//! contract's counts (see `analysis::lens`).
//!
//! These lenses are labels. No command is registered yet (mission commands arrive with the
//! loop in the editor), so each lens carries a command with an empty id: VS Code draws such a
//! lens as plain text, not a link, and Neovim shows its title; `codeLens/resolve` is not
//! needed because every lens is complete.

use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::{CodeLens, CodeLensParams, Command};

use super::guard::guarded;
use super::{convert, Shared};
use crate::analysis::lens::{contract_lenses, feature_lenses};
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
        Some(lenses.into_iter().map(|l| CodeLens { range: convert::range(doc, &l.span, encoding), command: Some(Command { title: l.title, command: String::new(), arguments: None }), data: None }).collect())
    })
}
