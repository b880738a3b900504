//! Outline symbols: assertions grouped by area in the contract, features grouped by milestone
//! in features.json; and the flat list a workspace symbol search filters.

use super::diagnostic::DocKind;
use super::mission::MissionAnalysis;
use super::navigate::unquoted;
use crate::model::{Contract, FeaturesFile, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    /// A structure heading of the contract.
    Area,
    Assertion,
    Milestone,
    Feature,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    pub detail: Option<String>,
    pub kind: SymbolKind,
    /// The whole construct (heading and body, feature object).
    pub span: Span,
    /// What to highlight when the symbol is picked (the id).
    pub selection: Span,
    pub children: Vec<Symbol>,
}

/// The contract's outline: every area heading (except the document title) with the
/// assertions under it; assertions before any area are top level.
pub fn contract_symbols(contract: &Contract) -> Vec<Symbol> {
    let mut out: Vec<Symbol> = Vec::new();
    let title_heading = contract.sections.iter().find(|s| s.level == 1).map(|s| s.heading_span.start);
    let mut areas = contract.sections.iter().filter(|s| Some(s.heading_span.start) != title_heading).peekable();
    for a in &contract.assertions {
        while let Some(area) = areas.next_if(|s| s.heading_span.start < a.heading_span.start) {
            out.push(Symbol {
                name: area.title.clone(),
                detail: None,
                kind: SymbolKind::Area,
                span: area.heading_span.clone(),
                selection: area.heading_span.clone(),
                children: Vec::new(),
            });
        }
        let symbol = Symbol {
            name: a.id.value.clone(),
            detail: (!a.title.is_empty()).then(|| first_line(&a.title)),
            kind: SymbolKind::Assertion,
            span: a.heading_span.start..a.body_span.end.max(a.heading_span.end),
            selection: a.id.span.clone(),
            children: Vec::new(),
        };
        match out.last_mut() {
            Some(area) if area.kind == SymbolKind::Area => {
                area.span.end = area.span.end.max(symbol.span.end);
                area.children.push(symbol);
            }
            _ => out.push(symbol),
        }
    }
    for area in areas {
        out.push(Symbol {
            name: area.title.clone(),
            detail: None,
            kind: SymbolKind::Area,
            span: area.heading_span.clone(),
            selection: area.heading_span.clone(),
            children: Vec::new(),
        });
    }
    out
}

/// features.json's outline: milestones in order of first appearance, each with its features.
/// Features without a milestone are listed at the top level.
pub fn feature_symbols(file: &FeaturesFile) -> Vec<Symbol> {
    let mut out: Vec<Symbol> = Vec::new();
    for f in &file.features {
        let selection = f.id.as_ref().map_or(f.span.start..f.span.start + 1, |s| unquoted(&s.span));
        let symbol = Symbol {
            name: f.id().unwrap_or("(feature without id)").to_string(),
            detail: f.description.as_ref().map(|d| first_line(&d.value)),
            kind: SymbolKind::Feature,
            span: f.span.clone(),
            selection,
            children: Vec::new(),
        };
        let Some(milestone) = &f.milestone else {
            out.push(symbol);
            continue;
        };
        match out.iter_mut().find(|s| s.kind == SymbolKind::Milestone && s.name == milestone.value) {
            Some(group) => {
                group.span = group.span.start.min(symbol.span.start)..group.span.end.max(symbol.span.end);
                group.children.push(symbol);
            }
            None => out.push(Symbol {
                name: milestone.value.clone(),
                detail: Some("milestone".to_string()),
                kind: SymbolKind::Milestone,
                span: symbol.span.clone(),
                selection: unquoted(&milestone.span),
                children: vec![symbol],
            }),
        }
    }
    out
}

/// A workspace symbol: an assertion or feature of one mission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatSymbol {
    pub name: String,
    pub kind: SymbolKind,
    /// The assertion's title or the feature's milestone.
    pub container: Option<String>,
    pub doc: DocKind,
    pub selection: Span,
}

/// Assertions and features whose id (or assertion title) contains every character of
/// `query` in order, case-insensitively; an empty query matches everything. At most `limit`.
pub fn workspace_symbols(analysis: &MissionAnalysis, query: &str, limit: usize) -> Vec<FlatSymbol> {
    let query: Vec<char> = query.chars().flat_map(char::to_lowercase).filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    if let Some(c) = analysis.contract() {
        for a in &c.assertions {
            if out.len() >= limit {
                return out;
            }
            if fuzzy_match(&query, &a.id.value) || fuzzy_match(&query, &a.title) {
                out.push(FlatSymbol {
                    name: a.id.value.clone(),
                    kind: SymbolKind::Assertion,
                    container: Some(a.title.clone()),
                    doc: DocKind::Contract,
                    selection: a.id.span.clone(),
                });
            }
        }
    }
    if let Some(f) = analysis.features() {
        for feature in &f.features {
            if out.len() >= limit {
                return out;
            }
            let Some(id) = &feature.id else { continue };
            if fuzzy_match(&query, &id.value) {
                out.push(FlatSymbol {
                    name: id.value.clone(),
                    kind: SymbolKind::Feature,
                    container: feature.milestone().map(str::to_string),
                    doc: DocKind::Features,
                    selection: unquoted(&id.span),
                });
            }
        }
    }
    out
}

fn fuzzy_match(query: &[char], candidate: &str) -> bool {
    let mut wanted = query.iter().peekable();
    for c in candidate.chars().flat_map(char::to_lowercase) {
        if wanted.peek() == Some(&&c) {
            wanted.next();
        }
    }
    wanted.peek().is_none()
}

/// The first line, at most 120 characters: an outline shows a glimpse, not the text.
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    match line.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::analysis::mission::MissionParts;
    use crate::model::{contract, features};

    #[test]
    fn outlines_group_by_area_and_milestone() {
        let c = contract::parse("# Validation contract: X\n### VAL-TOP-001: Before any area\n## Auth\n### VAL-AUTH-001: Login\n### VAL-AUTH-002: Logout\n## Empty\n");
        let symbols = contract_symbols(&c);
        let names: Vec<(&str, usize)> = symbols.iter().map(|s| (s.name.as_str(), s.children.len())).collect();
        assert_eq!(names, [("VAL-TOP-001", 0), ("Auth", 2), ("Empty", 0)]);
        let f = features::parse(
            r#"{"features":[{"id":"a","milestone":"one"},{"id":"b","milestone":"two"},{"id":"c","milestone":"one"},{"id":"d"}]}"#,
        );
        let symbols = feature_symbols(&f);
        let names: Vec<(&str, usize)> = symbols.iter().map(|s| (s.name.as_str(), s.children.len())).collect();
        assert_eq!(names, [("one", 2), ("two", 1), ("d", 0)]);
    }

    #[test]
    fn workspace_search_is_fuzzy_and_limited() {
        let a = MissionAnalysis::new(MissionParts {
            contract: Some(Arc::new(contract::parse("### VAL-AUTH-001: Login\n### VAL-LINK-002: Share a link\n"))),
            features: Some(Arc::new(features::parse(r#"{"features":[{"id":"feat-auth-login"}]}"#))),
            ..MissionParts::default()
        });
        let names = |q: &str| workspace_symbols(&a, q, 10).into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(names("auth"), ["VAL-AUTH-001", "feat-auth-login"]);
        assert_eq!(names("share"), ["VAL-LINK-002"]);
        assert_eq!(names("").len(), 3);
        assert_eq!(workspace_symbols(&a, "", 1).len(), 1);
    }
}
