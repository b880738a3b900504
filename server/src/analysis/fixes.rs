//! Quick fixes for diagnostics, as byte-range edits of the two mission documents. Each fix
//! leaves a document in which the analysis no longer reports the diagnostic it targets.
//! features.json edits are minimal: an inserted or removed array item keeps the siblings'
//! layout, and a new feature goes through `model::features_edit` (the file's own indentation).

use super::diagnostic::{Code, Diagnostic, DocKind, Target};
use super::mission::MissionAnalysis;
use crate::model::features_edit;
use crate::model::{ids, Assertion, Feature, Span, Spanned};

/// Placeholder the user replaces: obvious in the text, and flagged by the `unknown-tool` hint.
pub const PLACEHOLDER: &str = "TODO";

/// How many "Did you mean" suggestions at most.
const MAX_SUGGESTIONS: usize = 3;

/// Fixes of one kind for one diagnostic, at most: a plan where thousands of features share an
/// area or claim an id must not make one code action request build thousands of fixes (each
/// "keep the claim only here" removing every other claim: quadratic). The first features in
/// the file are offered.
const MAX_FEATURE_FIXES: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocEdit {
    pub doc: DocKind,
    pub span: Span,
    pub new_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    /// Non-overlapping edits, at most a few per document.
    pub edits: Vec<DocEdit>,
    /// The one fix a client may apply without asking (an unambiguous best choice).
    pub preferred: bool,
}

/// The texts `analysis` was made from.
#[derive(Debug, Clone, Copy, Default)]
pub struct DocTexts<'a> {
    pub contract: Option<&'a str>,
    pub features: Option<&'a str>,
}

/// The fixes for one diagnostic of `analysis` (none for codes without fixes).
pub fn fixes_for(analysis: &MissionAnalysis, texts: DocTexts, diagnostic: &Diagnostic) -> Vec<Fix> {
    let Target::Doc { doc, span } = &diagnostic.target else { return Vec::new() };
    let fixes = match (diagnostic.code, doc) {
        (Code::UnclaimedAssertion, DocKind::Contract) => unclaimed(analysis, texts, span),
        (Code::DuplicateClaim, _) => duplicate_claim(analysis, texts, *doc, span),
        (Code::UnknownAssertion, DocKind::Features) => unknown_assertion(analysis, texts, span),
        (Code::MissingField, DocKind::Contract) => missing_field(analysis, texts, span, &diagnostic.message),
        _ => None,
    };
    fixes.unwrap_or_default()
}

/// The assertion whose id is at `span` of the contract.
fn assertion_at<'a>(analysis: &'a MissionAnalysis, span: &Span) -> Option<&'a Assertion> {
    analysis.contract()?.assertions.iter().find(|a| a.id.span == *span)
}

/// `"Claim in feature X"` per feature claiming ids of the same area, and "Create a feature for it".
fn unclaimed(analysis: &MissionAnalysis, texts: DocTexts, span: &Span) -> Option<Vec<Fix>> {
    let features_text = texts.features?;
    let assertion = assertion_at(analysis, span)?;
    let id = assertion.id.value.as_str();
    let area = ids::area_of(id)?;
    let features = analysis.features()?;
    let shares_area = |f: &Feature| f.claims().iter().any(|c| ids::area_of(&c.value) == Some(area));
    let mut out = Vec::new();
    let mut named: Vec<&str> = Vec::new();
    for f in features.features.iter().filter(|f| !f.is_cancelled() && shares_area(f)) {
        let (Some(name), Some(fulfills)) = (f.id(), &f.fulfills) else { continue };
        if named.contains(&name) {
            continue; // a duplicate feature id: one fix is enough
        }
        if named.len() == MAX_FEATURE_FIXES {
            break;
        }
        named.push(name);
        out.push(Fix {
            title: format!("Claim in feature `{name}`"),
            edits: vec![append_item(features_text, fulfills, id)],
            preferred: false,
        });
    }
    let neighbour = features.features.iter().rfind(|f| shares_area(f) && !f.is_validator());
    let milestone =
        neighbour.and_then(|f| f.milestone()).or_else(|| features.milestones().last().copied()).unwrap_or("main");
    let skill = neighbour.and_then(|f| f.skill()).unwrap_or_default();
    let new_id = unique_feature_id(analysis, &format!("feat-{}", id.trim_start_matches("VAL-").to_ascii_lowercase()));
    let description = if assertion.title.is_empty() { id.to_string() } else { assertion.title.clone() };
    let feature =
        features_edit::droid_feature(&new_id, &description, skill, &[], &[], Some(&[id.to_string()]), Some(milestone));
    // The queue runs in array order: the new feature goes after its milestone's last feature.
    let at = features
        .features
        .iter()
        .rposition(|f| f.milestone() == Some(milestone) && !f.is_validator())
        .map_or(usize::MAX, |i| i + 1);
    if let Ok(rewritten) = features_edit::insert_feature(features_text, at, &feature) {
        out.push(Fix {
            title: format!("Create a feature for `{id}`"),
            edits: vec![minimal_edit(DocKind::Features, features_text, &rewritten)],
            preferred: false,
        });
    }
    if let [only] = out.as_mut_slice() {
        only.preferred = true;
    }
    Some(out)
}

fn unique_feature_id(analysis: &MissionAnalysis, base: &str) -> String {
    let mut candidate = base.to_string();
    let mut n = 2;
    while analysis.has_feature(&candidate) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    candidate
}

/// "Remove the claim from feature X" for each claimant (two claimants); with more, "Keep the
/// claim only in feature X", so that the fix clears the diagnostic.
fn duplicate_claim(analysis: &MissionAnalysis, texts: DocTexts, doc: DocKind, span: &Span) -> Option<Vec<Fix>> {
    let features_text = texts.features?;
    let id = match doc {
        DocKind::Contract => assertion_at(analysis, span)?.id.value.clone(),
        DocKind::Features => unquote(features_text.get(span.clone())?).to_string(),
    };
    let features = analysis.features()?;
    let mut claimants: Vec<usize> =
        analysis.claims_of(&id).iter().map(|c| c.feature).filter(|&i| !features.features[i].is_cancelled()).collect();
    claimants.dedup();
    let name = |i: usize| features.features[i].id().unwrap_or("(feature without id)").to_string();
    let removal = |i: usize| remove_items(features_text, features.features[i].fulfills.as_ref(), &id);
    let out = match (doc, claimants.len()) {
        (_, 0 | 1) => Vec::new(),
        // The diagnostic on one claim: removing that claim clears it, whatever the count.
        (DocKind::Features, _) => {
            let here =
                claimants.iter().copied().find(|&i| features.features[i].claims().iter().any(|c| c.span == *span))?;
            let mut fixes = vec![Fix {
                title: format!("Remove the claim from feature `{}`", name(here)),
                edits: removal(here),
                preferred: false,
            }];
            if claimants.len() == 2 {
                let other = claimants.iter().copied().find(|&i| i != here)?;
                fixes.push(Fix {
                    title: format!("Remove the claim from feature `{}`", name(other)),
                    edits: removal(other),
                    preferred: false,
                });
            }
            fixes
        }
        (DocKind::Contract, 2) => claimants
            .iter()
            .map(|&i| Fix {
                title: format!("Remove the claim from feature `{}`", name(i)),
                edits: removal(i),
                preferred: false,
            })
            .collect(),
        (DocKind::Contract, _) => claimants
            .iter()
            .take(MAX_FEATURE_FIXES)
            .map(|&keep| Fix {
                title: format!("Keep the claim only in feature `{}`", name(keep)),
                edits: claimants.iter().filter(|&&i| i != keep).flat_map(|&i| removal(i)).collect(),
                preferred: false,
            })
            .collect(),
    };
    Some(out)
}

/// "Did you mean VAL-…" (closest ids) and "Add the assertion to the contract".
fn unknown_assertion(analysis: &MissionAnalysis, texts: DocTexts, span: &Span) -> Option<Vec<Fix>> {
    let features_text = texts.features?;
    let id = unquote(features_text.get(span.clone())?);
    let inner = if span.end >= span.start + 2 { span.start + 1..span.end - 1 } else { span.clone() };
    let mut out = Vec::new();
    if let Some(contract) = analysis.contract() {
        let limit = (id.len() / 3).max(2);
        // Ids this feature already lists would become a second entry: not suggested.
        let listed: Vec<&str> = analysis
            .features()
            .and_then(|f| f.features.iter().find(|f| f.claims().iter().any(|c| c.span == *span)))
            .map(|f| f.claims().iter().map(|c| c.value.as_str()).collect())
            .unwrap_or_default();
        // Closest first; at equal distance an unclaimed id (the likelier intent) first.
        let mut scored: Vec<(usize, bool, usize, &str)> = contract
            .assertions
            .iter()
            .enumerate()
            .filter(|(_, a)| !listed.contains(&a.id.value.as_str()))
            .filter_map(|(order, a)| {
                let d = edit_distance(id, &a.id.value, limit)?;
                Some((d, analysis.claiming_feature(&a.id.value).is_some(), order, a.id.value.as_str()))
            })
            .collect();
        scored.sort();
        scored.dedup_by_key(|s| s.3);
        for (rank, (_, _, _, candidate)) in scored.into_iter().take(MAX_SUGGESTIONS).enumerate() {
            out.push(Fix {
                title: format!("Did you mean `{candidate}`?"),
                edits: vec![DocEdit { doc: DocKind::Features, span: inner.clone(), new_text: candidate.to_string() }],
                preferred: rank == 0,
            });
        }
    }
    if let (Some(contract_text), Some(contract)) = (texts.contract, analysis.contract()) {
        out.push(Fix {
            title: format!("Add `{id}` to the validation contract"),
            edits: vec![add_assertion(contract_text, contract, id)],
            preferred: false,
        });
    }
    Some(out)
}

/// Inserts `### ID: TODO` with `Tool:` and `Evidence:` placeholders after the last assertion
/// of the id's area, else in the area's section, else in a new section at the end.
fn add_assertion(text: &str, contract: &crate::model::Contract, id: &str) -> DocEdit {
    let area = ids::area_of(id).unwrap_or("");
    let nl = newline(text);
    let same_area = contract.assertions.iter().rev().find(|a| ids::area_of(&a.id.value) == Some(area));
    let titled = |title: &str| title.to_ascii_uppercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-") == area;
    let area_level = contract.sections.iter().filter(|s| s.level > 1).map(|s| s.level).min().unwrap_or(2);
    let (at, level, section) = match same_area {
        Some(a) => (a.body_span.end, a.level, None),
        None => match contract.sections.iter().position(|s| s.level > 1 && titled(&s.title)) {
            Some(i) => {
                let s = &contract.sections[i];
                let next_heading =
                    contract.sections[i + 1..].iter().find(|n| n.level <= s.level).map(|n| n.heading_span.start);
                (next_heading.unwrap_or(text.len()), s.level + 1, None)
            }
            None => (text.len(), area_level + 1, Some(format!("{} {area}", "#".repeat(area_level as usize)))),
        },
    };
    let before = &text[..at];
    let lead = if before.is_empty() || before.ends_with(&format!("{nl}{nl}")) {
        String::new()
    } else if before.ends_with('\n') {
        nl.to_string()
    } else {
        format!("{nl}{nl}")
    };
    let mut block = lead;
    if let Some(heading) = section {
        block.push_str(&format!("{heading}{nl}{nl}"));
    }
    block.push_str(&format!(
        "{} {id}: {PLACEHOLDER}{nl}Tool: {PLACEHOLDER}{nl}Evidence: {PLACEHOLDER}{nl}",
        "#".repeat(level.clamp(1, 6) as usize)
    ));
    if at < text.len() {
        block.push_str(nl);
    }
    DocEdit { doc: DocKind::Contract, span: at..at, new_text: block }
}

/// Inserts the missing `Tool:` or `Evidence:` line after the body's last line, or fills an
/// empty one.
fn missing_field(analysis: &MissionAnalysis, texts: DocTexts, span: &Span, message: &str) -> Option<Vec<Fix>> {
    let text = texts.contract?;
    let a = assertion_at(analysis, span)?;
    let (field, existing) = if message.contains("`Tool:`") {
        ("Tool", a.tool.as_ref().map(|t| t.span.clone()))
    } else if message.contains("`Evidence:`") {
        ("Evidence", a.evidence.as_ref().map(|e| e.span.clone()))
    } else {
        return None;
    };
    let edit = match existing {
        // `Tool:` with nothing after it: the value goes at the end of that line.
        Some(value) => {
            let space = if text[..value.start].ends_with(' ') { "" } else { " " };
            DocEdit {
                doc: DocKind::Contract,
                span: value.start..value.start,
                new_text: format!("{space}{PLACEHOLDER}"),
            }
        }
        None => {
            let body = text.get(a.body_span.clone()).unwrap_or("");
            let content_end = a.body_span.start + body.trim_end().len();
            let at = if body.trim().is_empty() { a.heading_span.end } else { content_end };
            DocEdit {
                doc: DocKind::Contract,
                span: at..at,
                new_text: format!("{}{field}: {PLACEHOLDER}", newline(text)),
            }
        }
    };
    let article = if field == "Evidence" { "an" } else { "a" };
    Some(vec![Fix {
        title: format!("Add {article} `{field}:` line to `{}`", a.id.value),
        edits: vec![edit],
        preferred: true,
    }])
}

/// Appends `"id"` to a JSON array of strings, on its own line when the items are.
fn append_item(text: &str, array: &Spanned<Vec<Spanned<String>>>, id: &str) -> DocEdit {
    let quoted = serde_json::to_string(id).unwrap_or_else(|_| format!("\"{id}\""));
    match array.value.last() {
        Some(last) => {
            let multiline = text.get(array.span.start..last.span.start).is_some_and(|s| s.contains('\n'));
            let new_text = if multiline {
                format!(",{}{}{quoted}", newline(text), line_indent(text, last.span.start))
            } else {
                format!(", {quoted}")
            };
            DocEdit { doc: DocKind::Features, span: last.span.end..last.span.end, new_text }
        }
        None => DocEdit { doc: DocKind::Features, span: array.span.start + 1..array.span.start + 1, new_text: quoted },
    }
}

/// Removes every item equal to `id` from a JSON array of strings, with its separator.
fn remove_items(text: &str, array: Option<&Spanned<Vec<Spanned<String>>>>, id: &str) -> Vec<DocEdit> {
    let Some(array) = array else { return Vec::new() };
    let items = &array.value;
    let removed: Vec<bool> = items.iter().map(|i| i.value == id).collect();
    let Some(last_kept) = removed.iter().rposition(|r| !r) else {
        // Nothing left: empty the array, keeping its brackets.
        let inner = array.span.start + 1..array.span.end.saturating_sub(1).max(array.span.start + 1);
        return if text.get(inner.clone()).is_some_and(|s| !s.is_empty()) {
            vec![DocEdit { doc: DocKind::Features, span: inner, new_text: String::new() }]
        } else {
            Vec::new()
        };
    };
    let mut edits = Vec::new();
    for (i, item) in items.iter().enumerate().filter(|(i, _)| removed[*i]) {
        // Before the last kept item: up to the next item; after it: from the previous item's end.
        let span =
            if i < last_kept { item.span.start..items[i + 1].span.start } else { items[i - 1].span.end..item.span.end };
        edits.push(DocEdit { doc: DocKind::Features, span, new_text: String::new() });
    }
    edits
}

/// One edit turning `old` into `new`: their common prefix and suffix stay.
fn minimal_edit(doc: DocKind, old: &str, new: &str) -> DocEdit {
    let mut prefix = old.bytes().zip(new.bytes()).take_while(|(a, b)| a == b).count();
    while !old.is_char_boundary(prefix) || !new.is_char_boundary(prefix) {
        prefix -= 1;
    }
    let max_suffix = old.len().min(new.len()) - prefix;
    let mut suffix = old.bytes().rev().zip(new.bytes().rev()).take(max_suffix).take_while(|(a, b)| a == b).count();
    while !old.is_char_boundary(old.len() - suffix) || !new.is_char_boundary(new.len() - suffix) {
        suffix -= 1;
    }
    DocEdit { doc, span: prefix..old.len() - suffix, new_text: new[prefix..new.len() - suffix].to_string() }
}

/// Levenshtein distance of two ids, or `None` when it exceeds `limit` (checked cheaply first).
fn edit_distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        let mut best = row[0];
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb)).min(above + 1).min(row[j] + 1);
            diagonal = above;
            best = best.min(row[j + 1]);
        }
        if best > limit {
            return None;
        }
    }
    Some(row[b.len()]).filter(|&d| d <= limit)
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s)
}

fn newline(text: &str) -> &'static str {
    if text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

fn line_indent(text: &str, at: usize) -> &str {
    let start = crate::model::lines::line_start(text, at);
    let line = &text[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// Applies non-overlapping edits of one document (any order) to its text.
pub fn apply(text: &str, edits: &[&DocEdit]) -> String {
    let mut sorted: Vec<&&DocEdit> = edits.iter().collect();
    sorted.sort_by_key(|e| e.span.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for e in sorted {
        out.push_str(&text[at..e.span.start.max(at)]);
        out.push_str(&e.new_text);
        at = e.span.end.max(at);
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(contract_text: &str, features_text: &str) -> MissionAnalysis {
        MissionAnalysis::of_texts(contract_text, features_text)
    }

    /// Applies `fix` and re-analyses: the texts after the fix.
    fn applied(contract_text: &str, features_text: &str, fix: &Fix) -> (String, String) {
        let of = |doc| fix.edits.iter().filter(|e| e.doc == doc).collect::<Vec<_>>();
        (apply(contract_text, &of(DocKind::Contract)), apply(features_text, &of(DocKind::Features)))
    }

    /// Found by the language server fuzzer: thousands of features sharing an area or claiming
    /// one id made one code action request build a fix per feature, each removing every other
    /// claim (quadratic: it did not answer within 30 s). A few fixes of each kind are offered.
    #[test]
    fn a_crowd_of_claimants_gets_a_few_fixes() {
        let contract_text =
            "### VAL-A-001: one\nTool: terminal\nEvidence: e\n\n### VAL-A-002: two\nTool: terminal\nEvidence: e\n";
        let features: Vec<String> = (0..3000).map(|i| format!(r#"{{"id": "f{i}", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001"]}}"#)).collect();
        let features_text = format!(r#"{{"features": [{}]}}"#, features.join(", "));
        let a = analysis(contract_text, &features_text);
        let texts = DocTexts { contract: Some(contract_text), features: Some(&features_text) };
        let on_contract =
            |code| a.diagnostics.iter().find(|d| d.code == code && d.doc() == Some(DocKind::Contract)).unwrap();
        let keep = fixes_for(&a, texts, on_contract(Code::DuplicateClaim));
        assert_eq!(
            keep.iter().map(|f| f.title.as_str()).collect::<Vec<_>>(),
            (0..5).map(|i| format!("Keep the claim only in feature `f{i}`")).collect::<Vec<_>>()
        );
        let (_, after) = applied(contract_text, &features_text, &keep[3]);
        assert_eq!(after.matches("VAL-A-001").count(), 1, "keeping it in f3 removes the other 2,999 claims");
        let claim = fixes_for(&a, texts, on_contract(Code::UnclaimedAssertion));
        assert_eq!(
            claim.len(),
            MAX_FEATURE_FIXES + 1,
            "five features to claim it in, and a new one: {:?}",
            claim.iter().map(|f| &f.title).collect::<Vec<_>>()
        );
    }

    #[test]
    fn edit_distance_is_bounded() {
        assert_eq!(edit_distance("VAL-AUTH-010", "VAL-AUTH-001", 4), Some(2));
        assert_eq!(edit_distance("VAL-A-001", "VAL-LONGER-AREA-001", 4), None);
        assert_eq!(edit_distance("", "", 0), Some(0));
    }

    #[test]
    fn removing_items_keeps_valid_json() {
        let text = r#"{"a": ["X", "Y", "X"], "b": ["X"], "c": ["Y", "X"]}"#;
        let f = crate::model::json::parse(text).value.unwrap();
        for (key, expected) in [
            ("a", r#"{"a": ["Y"], "b": ["X"], "c": ["Y", "X"]}"#),
            ("b", r#"{"a": ["X", "Y", "X"], "b": [], "c": ["Y", "X"]}"#),
            ("c", r#"{"a": ["X", "Y", "X"], "b": ["X"], "c": ["Y"]}"#),
        ] {
            let v = &f.get(key).unwrap().value;
            let items = v
                .as_array()
                .unwrap()
                .iter()
                .map(|i| Spanned::new(i.as_str().unwrap().to_string(), i.span.clone()))
                .collect();
            let edits = remove_items(text, Some(&Spanned::new(items, v.span.clone())), "X");
            assert_eq!(apply(text, &edits.iter().collect::<Vec<_>>()), expected);
        }
    }

    #[test]
    fn minimal_edit_keeps_common_ends() {
        let e = minimal_edit(DocKind::Features, "abc🎉xyz", "abc🎉NEWxyz");
        assert_eq!((e.span, e.new_text.as_str()), (7..7, "NEW"));
    }

    #[test]
    fn missing_tool_line_is_added_after_the_body() {
        let c = "### VAL-A-001: x\nSome text.\nEvidence: log\n\n### VAL-A-002: y\nTool:\nEvidence: log\n";
        let f = r#"{"features": [{"id": "a", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-A-001", "VAL-A-002"]}]}"#;
        let a = analysis(c, f);
        let texts = DocTexts { contract: Some(c), features: Some(f) };
        let missing: Vec<&Diagnostic> = a.diagnostics.iter().filter(|d| d.code == Code::MissingField).collect();
        assert_eq!(missing.len(), 2);
        for d in missing {
            let fixes = fixes_for(&a, texts, d);
            let (c2, f2) = applied(c, f, &fixes[0]);
            let again = analysis(&c2, &f2);
            assert!(!again.diagnostics.iter().any(|x| x.code == Code::MissingField && x.message == d.message), "{c2}");
        }
    }
}
