//! textDocument/semanticTokens/full: assertion ids (enumMember) and feature ids (class), the
//! defining occurrence with the `declaration` modifier.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokens, SemanticTokensLegend,
    SemanticTokensParams, SemanticTokensResult,
};

use super::guard::guarded;
use super::{convert, Shared};
use crate::analysis::tokens::{self, IdToken, TokenKind};
use crate::analysis::DocKind;

/// Indices into these lists are what the tokens carry.
pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: vec![SemanticTokenType::ENUM_MEMBER, SemanticTokenType::CLASS],
        token_modifiers: vec![SemanticTokenModifier::DECLARATION],
    }
}

pub async fn semantic_tokens(shared: &Shared, params: SemanticTokensParams) -> Result<Option<SemanticTokensResult>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    guarded("textDocument/semanticTokens/full", || {
        let uri = &params.text_document.uri;
        let (doc, found) = match snapshot.mission_doc(uri) {
            Some((mission, DocKind::Contract, doc)) => {
                (doc, tokens::contract_tokens(mission.analysis.contract()?, &doc.text))
            }
            Some((mission, DocKind::Features, doc)) => (doc, tokens::features_tokens(mission.analysis.features()?)),
            None => {
                snapshot.mission_of(uri)?;
                let doc = snapshot.docs.get(uri)?;
                (doc, tokens::text_tokens(&doc.text))
            }
        };
        let mut data = Vec::with_capacity(found.len());
        let (mut line, mut start) = (0u32, 0u32);
        for IdToken { span, kind, declaration } in found {
            let (from, to) = (convert::position(doc, span.start, encoding), convert::position(doc, span.end, encoding));
            if from.line != to.line || to.character <= from.character || (from.line, from.character) < (line, start) {
                continue; // tokens are single-line and in order
            }
            let delta_start = if from.line == line { from.character - start } else { from.character };
            data.push(SemanticToken {
                delta_line: from.line - line,
                delta_start,
                length: to.character - from.character,
                token_type: match kind {
                    TokenKind::Assertion => 0,
                    TokenKind::Feature => 1,
                },
                token_modifiers_bitset: u32::from(declaration),
            });
            (line, start) = (from.line, from.character);
        }
        Some(SemanticTokensResult::Tokens(SemanticTokens { result_id: None, data }))
    })
}
