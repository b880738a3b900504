//! Completion items: in features.json the assertion ids of `fulfills` (unclaimed first), the
//! feature ids of `preconditions`, the values of `milestone`, `skillName` and `status`, and
//! droid's field names of a feature; in the contract the values of `Tool:`.
//!
//! The cursor's place in features.json is found lexically, line by line from the cursor back
//! to the enclosing `[` or `{`: JSON strings cannot hold a raw line break, so lexing a line from
//! its start is exact, and the text being typed (often broken JSON) needs no parse.

use super::mission::MissionAnalysis;
use crate::model::contract::KNOWN_TOOLS;
use crate::model::features::FEATURE_STATUSES;
use crate::model::json::{self, JsonKind, Lexeme, LexemeKind};
use crate::model::lines;
use crate::model::{Feature, Span};

/// More items than this are cut (the answer then says it is incomplete, so the client asks
/// again as the user types): a contract of 10,000 assertions must not send 10,000 items.
pub const MAX_ITEMS: usize = 200;

/// How far back (in lines) the cursor's container is looked for.
const MAX_LINES_BACK: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Assertion,
    Feature,
    Milestone,
    Skill,
    Value,
    Field,
    Tool,
}

/// One completion, in the order it should be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub detail: Option<String>,
    pub kind: ItemKind,
    /// Replaces the bytes of `replace`.
    pub insert: String,
    pub replace: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completions {
    pub items: Vec<Completion>,
    /// True when items were cut at [`MAX_ITEMS`].
    pub incomplete: bool,
}

/// The fields of a feature object, in droid's order, with what each holds.
pub const FEATURE_FIELDS: [(&str, &str); 11] = [
    ("id", "unique feature id (kebab-case)"),
    ("description", "what the feature implements"),
    ("skillName", "the skill (front-matter name of a SKILL.md under skills/) its worker follows"),
    ("preconditions", "what must hold first; an entry naming a feature id is a dependency"),
    ("expectedBehavior", "what should be true when it is done"),
    ("fulfills", "assertion ids it claims"),
    ("milestone", "the milestone it belongs to; validation runs when its features are done"),
    ("status", "pending, in_progress, completed or cancelled"),
    ("workerSessionIds", "worker sessions that worked on it (the runner writes this)"),
    ("currentWorkerSessionId", "the session working on it now (the runner writes this)"),
    ("completedWorkerSessionId", "the session that completed it (the runner writes this)"),
];

/// Completions at byte `offset` of features.json (`text` is the text `analysis` was made from).
pub fn features_completions(analysis: &MissionAnalysis, text: &str, offset: usize) -> Completions {
    let Some(cursor) = json_cursor(text, offset) else { return Completions::default() };
    let typed = cursor.typed(text);
    let mut out = Builder::new(typed);
    match &cursor.slot {
        Slot::ArrayItem(key) if key == "fulfills" => {
            let listed: Vec<&str> = feature_around(analysis, cursor.offset)
                .map(|f| f.claims().iter().map(|c| c.value.as_str()).collect())
                .unwrap_or_default();
            let Some(contract) = analysis.contract() else { return Completions::default() };
            let fresh = |id: &str| !listed.contains(&id);
            // Unclaimed first, then the rest, each in contract order; a duplicate heading once.
            for unclaimed_pass in [true, false] {
                for a in &contract.assertions {
                    if out.is_full() {
                        break;
                    }
                    let id = a.id.value.as_str();
                    let first_heading = analysis.assertion(id).is_some_and(|first| std::ptr::eq(first, a));
                    if !fresh(id) || !first_heading {
                        continue;
                    }
                    let claimed = analysis.claiming_feature(id).is_some();
                    if claimed == unclaimed_pass {
                        continue;
                    }
                    let detail = if claimed { a.title.clone() } else { format!("{} (unclaimed)", a.title) };
                    out.push(&cursor, id, Some(detail), ItemKind::Assertion);
                }
            }
        }
        Slot::ArrayItem(key) if key == "preconditions" => {
            let current = feature_around(analysis, cursor.offset);
            let listed: Vec<&str> =
                current.map(|f| f.preconditions.iter().map(|d| d.value.as_str()).collect()).unwrap_or_default();
            for f in analysis.features().map_or(&[][..], |f| &f.features) {
                let Some(id) = f.id() else { continue };
                if listed.contains(&id) || current.and_then(Feature::id) == Some(id) {
                    continue;
                }
                if f.is_validator() {
                    continue;
                }
                out.push(&cursor, id, f.description.as_ref().map(|d| d.value.clone()), ItemKind::Feature);
            }
        }
        Slot::Value(key) => match key.as_str() {
            "milestone" => {
                // Milestones of the other features: the one being typed here is not one yet.
                let current = feature_around(analysis, cursor.offset).map(|f| f.span.start);
                let others: Vec<&Feature> = analysis
                    .features()
                    .map_or(&[][..], |f| &f.features)
                    .iter()
                    .map(|f| &**f)
                    .filter(|f| Some(f.span.start) != current)
                    .collect();
                for m in analysis.features().map(|f| f.milestones()).unwrap_or_default() {
                    let count = others.iter().filter(|f| f.milestone() == Some(m)).count();
                    if count == 0 || m.is_empty() {
                        continue;
                    }
                    out.push(
                        &cursor,
                        m,
                        Some(format!("{count} feature{}", if count == 1 { "" } else { "s" })),
                        ItemKind::Milestone,
                    );
                }
            }
            "skillName" => {
                for skill in analysis.parts.skills.iter().flatten() {
                    out.push(&cursor, skill, Some("a SKILL.md under skills/".to_string()), ItemKind::Skill);
                }
            }
            "status" => FEATURE_STATUSES.iter().for_each(|s| out.push(&cursor, s, None, ItemKind::Value)),
            _ => {}
        },
        Slot::Key { object_start, present } => {
            // Field names only inside a feature object.
            let Some(feature) =
                analysis.features().and_then(|f| f.features.iter().find(|f| f.span.start == *object_start))
            else {
                return Completions::default();
            };
            let mut present = present.clone();
            present.extend(keys_of(text, &feature.span));
            for (name, about) in FEATURE_FIELDS {
                if !present.iter().any(|p| p == name) {
                    out.push(&cursor, name, Some(about.to_string()), ItemKind::Field);
                }
            }
        }
        Slot::ArrayItem(_) => {}
    }
    out.finish()
}

/// Completions at byte `offset` of the contract: tool names after `Tool:`, the known tools
/// first, then the others the contract already uses.
pub fn contract_completions(analysis: &MissionAnalysis, text: &str, offset: usize) -> Completions {
    let offset = floor_boundary(text, offset);
    let line_start = lines::line_start(text, offset);
    let Some(value_start) = tool_value_start(&text[line_start..offset]).map(|v| line_start + v) else {
        return Completions::default();
    };
    // The tool name being typed: from the last comma (several tools) or the value's start.
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let word_start = text[value_start..offset]
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_name(c))
        .map_or(value_start, |(p, c)| value_start + p + c.len_utf8());
    let line_end = lines::line_end(text, offset);
    let word_end = text[offset..line_end].find(|c: char| !is_name(c)).map_or(line_end, |p| offset + p);
    let typed = &text[word_start..offset];
    let space = if text[..word_start].ends_with(':') || text[..word_start].ends_with("**") { " " } else { "" };
    let mut names: Vec<(String, Option<String>)> =
        KNOWN_TOOLS.iter().map(|t| (t.to_string(), Some("known tool".to_string()))).collect();
    for a in analysis.contract().map_or(&[][..], |c| &c.assertions) {
        for t in a.tool.iter().flat_map(|t| t.value.split(',')).map(|t| t.trim().trim_matches('`')) {
            if !t.is_empty() && !names.iter().any(|(n, _)| n == t) {
                names.push((t.to_string(), Some("used in this contract".to_string())));
            }
        }
    }
    let mut out = Completions::default();
    for (name, detail) in names {
        if !matches_typed(&name, typed) {
            continue;
        }
        out.items.push(Completion {
            insert: format!("{space}{name}"),
            label: name,
            detail,
            kind: ItemKind::Tool,
            replace: word_start..word_end,
        });
    }
    out
}

/// Where the value of a `Tool:` field starts within `line_prefix` (the line up to the cursor),
/// for `Tool:`, `- Tool:` and `**Tool:**`, any case.
fn tool_value_start(line_prefix: &str) -> Option<usize> {
    let mut rest = line_prefix.trim_start();
    for bullet in ["- ", "* "] {
        if let Some(r) = rest.strip_prefix(bullet) {
            rest = r.trim_start();
        }
    }
    let bold = rest.starts_with("**");
    if bold {
        rest = &rest[2..];
    }
    // `get`: the line may hold any character where `Tool:` would be.
    if !rest.get(..4).is_some_and(|t| t.eq_ignore_ascii_case("tool")) || !rest[4..].starts_with(':') {
        return None;
    }
    rest = &rest[5..];
    if bold {
        rest = rest.strip_prefix("**")?;
    }
    Some(line_prefix.len() - rest.len())
}

fn matches_typed(label: &str, typed: &str) -> bool {
    typed.is_empty() || label.to_ascii_lowercase().contains(&typed.to_ascii_lowercase())
}

struct Builder<'t> {
    typed: &'t str,
    done: Completions,
}

impl<'t> Builder<'t> {
    fn new(typed: &'t str) -> Self {
        Builder { typed, done: Completions::default() }
    }

    fn push(&mut self, cursor: &JsonCursor, value: &str, detail: Option<String>, kind: ItemKind) {
        if self.done.incomplete || !matches_typed(value, self.typed) {
            return;
        }
        if self.done.items.len() == MAX_ITEMS {
            self.done.incomplete = true;
            return;
        }
        let (insert, replace) = cursor.edit(value, kind == ItemKind::Field);
        self.done.items.push(Completion { label: value.to_string(), detail, kind, insert, replace });
    }

    fn is_full(&self) -> bool {
        self.done.incomplete
    }

    fn finish(self) -> Completions {
        self.done
    }
}

/// The feature whose object holds byte `offset`.
fn feature_around(analysis: &MissionAnalysis, offset: usize) -> Option<&Feature> {
    let features = &analysis.features()?.features;
    let i = features.partition_point(|f| f.span.end <= offset);
    features.get(i).map(|f| &**f).filter(|f| f.span.start <= offset)
}

/// The member names of the object at `span`, when it parses.
fn keys_of(text: &str, span: &Span) -> Vec<String> {
    let Some(object) = text.get(span.clone()) else { return Vec::new() };
    match json::parse(object).value.map(|v| v.kind) {
        Some(JsonKind::Object(members)) => members.into_iter().map(|m| m.key.into_owned()).collect(),
        _ => Vec::new(),
    }
}

fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

// ---------------------------------------------------------------- the cursor in JSON text

#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// An item of the array that is the value of `key`.
    ArrayItem(String),
    /// The value of `key`.
    Value(String),
    /// A member name of the object starting at `object_start`; `present` are the names
    /// already written before the cursor.
    Key { object_start: usize, present: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Around {
    /// Inside the string at `span` (quotes included; `closed` when its end quote is there).
    String { span: Span, closed: bool },
    /// After a bare word being typed (`pen` of `"status": pen`), or nothing (empty span).
    Bare(Span),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct JsonCursor {
    offset: usize,
    slot: Slot,
    around: Around,
}

impl JsonCursor {
    /// What the user typed of the value so far.
    fn typed<'t>(&self, text: &'t str) -> &'t str {
        let from = match &self.around {
            Around::String { span, .. } => span.start + 1,
            Around::Bare(span) => span.start,
        };
        text.get(from.min(self.offset)..self.offset).unwrap_or("")
    }

    /// The text to insert for `value` and the bytes it replaces.
    fn edit(&self, value: &str, is_key: bool) -> (String, Span) {
        let quoted = serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""));
        let inner = &quoted[1..quoted.len() - 1];
        match &self.around {
            Around::String { span, closed: true } => (inner.to_string(), span.start + 1..span.end - 1),
            Around::String { span, closed: false } => (format!("{inner}\""), span.start + 1..self.offset),
            Around::Bare(span) => (if is_key { format!("{quoted}: ") } else { quoted }, span.clone()),
        }
    }
}

/// Tokens before the cursor, nearest first, lexing earlier lines as needed.
struct Backwards<'t> {
    text: &'t str,
    /// Start of the line whose tokens are in `pending`.
    line_start: usize,
    pending: Vec<Lexeme>,
    lines: usize,
}

impl Iterator for Backwards<'_> {
    type Item = Lexeme;

    fn next(&mut self) -> Option<Lexeme> {
        loop {
            if let Some(t) = self.pending.pop() {
                return Some(t);
            }
            if self.line_start == 0 || self.lines >= MAX_LINES_BACK {
                return None;
            }
            // Back over the line break before this line (`\r\n` is one).
            let mut end = self.line_start - 1;
            if end > 0 && self.text.as_bytes()[end - 1..=end] == *b"\r\n" {
                end -= 1;
            }
            let start = lines::line_start(self.text, end);
            self.pending = json::lex(&self.text[start..end], start);
            self.line_start = start;
            self.lines += 1;
        }
    }
}

fn json_cursor(text: &str, offset: usize) -> Option<JsonCursor> {
    let offset = floor_boundary(text, offset);
    let (line_start, line_end) = (lines::line_start(text, offset), lines::line_end(text, offset));
    let mut line = json::lex(&text[line_start..line_end], line_start);
    // The token the cursor is in (a string) or right after (a bare word), and what precedes it.
    let inside = line.iter().position(|t| match t.kind {
        LexemeKind::Str { closed } => {
            t.span.start < offset && (offset < t.span.end || (!closed && offset <= t.span.end))
        }
        _ => false,
    });
    let around = match inside {
        Some(i) => {
            let t = line[i].clone();
            line.truncate(i);
            let LexemeKind::Str { closed } = t.kind else { unreachable!("found as a string") };
            Around::String { span: t.span, closed }
        }
        None => {
            line.retain(|t| t.span.end <= offset);
            match line.last() {
                Some(t) if t.kind == LexemeKind::Word && t.span.end == offset => {
                    Around::Bare(line.pop().map(|t| t.span).unwrap_or(offset..offset))
                }
                _ => Around::Bare(offset..offset),
            }
        }
    };
    let mut back = Backwards { text, line_start, pending: line, lines: 0 };
    // Walk to the enclosing bracket, noting the tokens just before the cursor at its level.
    let mut depth = 0usize;
    let mut recent: Vec<Lexeme> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let opener = loop {
        let t = back.next()?;
        match t.kind {
            LexemeKind::Punct(b'}' | b']') => depth += 1,
            LexemeKind::Punct(b'{' | b'[') if depth == 0 => break t,
            LexemeKind::Punct(b'{' | b'[') => depth -= 1,
            _ if depth == 0 => {
                if t.kind == (LexemeKind::Str { closed: true })
                    && recent.last().is_some_and(|r| r.kind == LexemeKind::Punct(b':'))
                {
                    keys.push(string_content(text, &t.span));
                }
                recent.push(t);
            }
            _ => {}
        }
    };
    let previous = recent.first().map(|t| &t.kind);
    let slot = if opener.kind == LexemeKind::Punct(b'[') {
        if !matches!(previous, None | Some(LexemeKind::Punct(b','))) {
            return None;
        }
        let colon = back.next()?;
        let key = back.next()?;
        if colon.kind != LexemeKind::Punct(b':') || key.kind != (LexemeKind::Str { closed: true }) {
            return None;
        }
        Slot::ArrayItem(string_content(text, &key.span))
    } else {
        match (previous, recent.get(1)) {
            (Some(LexemeKind::Punct(b':')), Some(key)) if key.kind == (LexemeKind::Str { closed: true }) => {
                Slot::Value(string_content(text, &key.span))
            }
            (None | Some(LexemeKind::Punct(b',')), _) => Slot::Key { object_start: opener.span.start, present: keys },
            _ => return None,
        }
    };
    Some(JsonCursor { offset, slot, around })
}

/// The text of a JSON string token without its quotes (escapes kept as written: keys of
/// interest have none).
fn string_content(text: &str, span: &Span) -> String {
    let inner = span.start + 1..span.end.saturating_sub(1).max(span.start + 1);
    text.get(inner).unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::analysis::mission::MissionParts;
    use crate::model::{contract, features};

    const CONTRACT: &str = "## Auth\n### VAL-AUTH-001: Login\nTool: terminal\nEvidence: log\n### VAL-AUTH-002: Logout\nTool: carrier-pigeon\nEvidence: log\n### VAL-AUTH-003: Reset\n";

    fn analysis(features_text: &str) -> MissionAnalysis {
        MissionAnalysis::new(MissionParts {
            contract: Some(Arc::new(contract::parse(CONTRACT))),
            features: Some(Arc::new(features::parse(features_text))),
            skills: Some(vec!["backend-worker".into()]),
            ..MissionParts::default()
        })
    }

    fn at(text: &str, marker: &str) -> (String, usize) {
        let offset = text.find(marker).unwrap();
        (text.replacen(marker, "", 1), offset)
    }

    fn labels(c: &Completions) -> Vec<&str> {
        c.items.iter().map(|i| i.label.as_str()).collect()
    }

    #[test]
    fn fulfills_offers_unclaimed_first_and_skips_listed_ids() {
        let (text, offset) = at(
            r#"{"features": [{"id": "a", "description": "d", "milestone": "m", "status": "pending", "fulfills": ["VAL-AUTH-002", |]}]}"#,
            "|",
        );
        let a = analysis(&text);
        let c = features_completions(&a, &text, offset);
        assert_eq!(labels(&c), ["VAL-AUTH-001", "VAL-AUTH-003"]);
        assert_eq!(c.items[0].insert, "\"VAL-AUTH-001\"");
        assert_eq!(c.items[0].replace, offset..offset);
    }

    #[test]
    fn inside_a_string_the_content_is_replaced() {
        let (text, offset) =
            at("{\"features\": [{\"id\": \"a\",\n  \"status\": \"pen|ding\", \"fulfills\": []}]}", "|");
        let c = features_completions(&analysis(&text), &text, offset);
        assert_eq!(labels(&c), ["pending"]);
        assert_eq!(&text[c.items[0].replace.clone()], "pending");
        let (text, offset) = at("{\"features\": [{\"id\": \"a\", \"milestone\": \"|", "|");
        let c = features_completions(&analysis(&text), &text, offset);
        assert!(c.items.is_empty(), "no milestones in a file without features");
        let (text, offset) = at("{\"features\": [{\"id\": \"a\", \"skillName\": \"b|", "|");
        let c = features_completions(&analysis(&text), &text, offset);
        assert_eq!(c.items[0].insert, "backend-worker\"");
    }

    #[test]
    fn keys_are_offered_in_feature_objects_only() {
        let (text, offset) = at("{\"features\": [\n  {\"id\": \"a\", |\"status\": \"pending\"}\n]}", "|");
        let c = features_completions(&analysis(&text), &text, offset);
        assert!(
            !labels(&c).contains(&"id") && !labels(&c).contains(&"status") && labels(&c).contains(&"fulfills"),
            "{:?}",
            labels(&c)
        );
        assert_eq!(c.items.iter().find(|i| i.label == "fulfills").unwrap().insert, "\"fulfills\": ");
        let (text, offset) = at("{|\"features\": []}", "|");
        assert!(features_completions(&analysis(&text), &text, offset).items.is_empty());
    }

    #[test]
    fn tools_after_the_tool_field() {
        let a = analysis("{\"features\": []}");
        let text = "### VAL-A-001: x\nTool: te\n";
        let c = contract_completions(&a, text, text.find("te\n").unwrap() + 2);
        assert_eq!(labels(&c), ["terminal", "test-runner"]);
        assert_eq!(&text[c.items[0].replace.clone()], "te");
        let text = "**Tool:**\n";
        let c = contract_completions(&a, text, 9);
        assert!(labels(&c).contains(&"carrier-pigeon"));
        assert_eq!(c.items[0].insert, " agent-browser");
        assert!(contract_completions(&a, "Tools: x", 8).items.is_empty());
    }

    #[test]
    fn odd_offsets_and_broken_text_answer_nothing() {
        let a = analysis("{}");
        for text in ["", "\"", "[[[", "{\"fulfills\": [\"é", "}}}]]]"] {
            for offset in 0..=text.len() + 2 {
                let _ = features_completions(&a, text, offset);
                let _ = contract_completions(&a, text, offset);
            }
        }
    }
}
