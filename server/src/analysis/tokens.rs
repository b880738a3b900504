//! Semantic tokens for ids, so clients without a grammar (Neovim, Helix) colour them:
//! assertion ids everywhere, feature ids in features.json; the defining occurrence (the
//! contract heading, a feature's `id`) is marked as a declaration.

use super::navigate::unquoted;
use crate::model::{ids, Contract, FeaturesFile, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Assertion,
    Feature,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdToken {
    pub span: Span,
    pub kind: TokenKind,
    pub declaration: bool,
}

/// Every assertion id of the contract text; headings' ids are declarations.
pub fn contract_tokens(contract: &Contract, text: &str) -> Vec<IdToken> {
    let mut headings: Vec<usize> = contract.assertions.iter().map(|a| a.id.span.start).collect();
    headings.sort_unstable();
    ids::find_assertion_ids(text)
        .into_iter()
        .map(|(span, _)| IdToken {
            declaration: headings.binary_search(&span.start).is_ok(),
            span,
            kind: TokenKind::Assertion,
        })
        .collect()
}

/// Feature ids (declarations), feature ids named by `preconditions` and `fulfills` assertion
/// ids, in text order.
pub fn features_tokens(file: &FeaturesFile) -> Vec<IdToken> {
    let mut out = Vec::new();
    for f in &file.features {
        let mut own = Vec::new();
        if let Some(id) = &f.id {
            own.push(IdToken { span: unquoted(&id.span), kind: TokenKind::Feature, declaration: true });
        }
        own.extend(f.claims().iter().filter(|c| ids::is_assertion_id(&c.value)).map(|c| IdToken {
            span: unquoted(&c.span),
            kind: TokenKind::Assertion,
            declaration: false,
        }));
        own.extend(f.dependency_refs(|id| file.feature(id).is_some()).map(|(_, d)| IdToken {
            span: d.span,
            kind: TokenKind::Feature,
            declaration: false,
        }));
        own.sort_by_key(|t| t.span.start);
        out.extend(own.into_iter().filter(|t| t.span.end > t.span.start));
    }
    out
}

/// Assertion ids in any other mission file (mission.md, handoffs, reports).
pub fn text_tokens(text: &str) -> Vec<IdToken> {
    ids::find_assertion_ids(text)
        .into_iter()
        .map(|(span, _)| IdToken { span, kind: TokenKind::Assertion, declaration: false })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{contract, features};

    #[test]
    fn declarations_and_references() {
        let c = "### VAL-A-001: x\nSee VAL-A-001.\n";
        let tokens = contract_tokens(&contract::parse(c), c);
        assert_eq!(
            tokens.iter().map(|t| (&c[t.span.clone()], t.declaration)).collect::<Vec<_>>(),
            [("VAL-A-001", true), ("VAL-A-001", false)]
        );
        let f = r#"{"features": [{"preconditions": ["b is complete"], "id": "a", "fulfills": ["VAL-A-001", "nope"]}, {"id": "b"}]}"#;
        let tokens = features_tokens(&features::parse(f));
        assert_eq!(
            tokens.iter().map(|t| (&f[t.span.clone()], t.kind, t.declaration)).collect::<Vec<_>>(),
            [
                ("b", TokenKind::Feature, false),
                ("a", TokenKind::Feature, true),
                ("VAL-A-001", TokenKind::Assertion, false),
                ("b", TokenKind::Feature, true)
            ]
        );
    }
}
