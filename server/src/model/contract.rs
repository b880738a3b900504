//! validation-contract.md: assertions are headings whose text is `ID: Title`; the body runs
//! to the next heading and carries `Tool:`, `Evidence:` and `Check:` fields. Other headings
//! are structure (droid's planner writes `## Area: <Name>`, `## Cross-Area Flows`, and may nest
//! `## Surface:` › `### Area:` › `#### VAL-…`); a `Tool:` or `Evidence:` line stated once under
//! a structure heading holds for the assertions inside it that do not state their own.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::ids;
use super::span::{Span, Spanned};

pub const KNOWN_TOOLS: [&str; 8] =
    ["agent-browser", "tuistory", "curl", "terminal", "http", "test-runner", "code-review", "file-inspection"];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Contract {
    pub title: Option<String>,
    pub assertions: Vec<Assertion>,
    /// Headings whose first word looks like an assertion id but breaks the grammar.
    pub malformed_ids: Vec<Spanned<String>>,
    /// Structure headings (areas), in order, for document symbols.
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub title: String,
    pub level: u8,
    pub heading_span: Span,
    /// A `Tool:` line of the section's own text (before its first sub-heading).
    pub tool: Option<Spanned<String>>,
    pub evidence: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Assertion {
    pub id: Spanned<String>,
    pub title: String,
    pub level: u8,
    /// The whole heading line.
    pub heading_span: Span,
    /// From the end of the heading to the next heading (or the end of the file).
    pub body_span: Span,
    /// The body's prose, without field lines, trimmed.
    pub description: String,
    /// Text of the nearest structure heading above it, e.g. `Auth` (shared by its assertions).
    pub area: Option<std::sync::Arc<str>>,
    /// Its own `Tool:` line, or the one of the nearest enclosing section that states one
    /// (then `tool_inherited`, and the span is the section's line).
    pub tool: Option<Spanned<String>>,
    pub tool_inherited: bool,
    pub evidence: Option<Spanned<Vec<String>>>,
    pub evidence_inherited: bool,
    pub check: Option<Spanned<String>>,
}

impl Contract {
    pub fn assertion(&self, id: &str) -> Option<&Assertion> {
        self.assertions.iter().find(|a| a.id.value == id)
    }
}

struct RawHeading {
    level: u8,
    span: Span,
    text: String,
    /// (offset in `text`, source span) per text piece, to map an id back to the source.
    pieces: Vec<(usize, Span)>,
}

pub fn parse(text: &str) -> Contract {
    // A byte-order mark would hide a first-line heading; three spaces keep every offset.
    let unmarked;
    let text = match text.strip_prefix('\u{FEFF}') {
        Some(rest) => {
            unmarked = format!("   {rest}");
            unmarked.as_str()
        }
        None => text,
    };
    let headings = collect_headings(text);
    let mut contract = Contract::default();
    let mut area: Option<std::sync::Arc<str>> = None;
    // Enclosing structure sections (indices into `contract.sections`), outermost first.
    let mut open: Vec<usize> = Vec::new();
    for (i, h) in headings.iter().enumerate() {
        let body_end = headings.get(i + 1).map_or(text.len(), |next| next.span.start);
        let body_span = h.span.end.min(body_end)..body_end;
        while open.last().is_some_and(|&s| contract.sections[s].level >= h.level) {
            open.pop();
        }
        let trimmed = h.text.trim_start();
        let lead = h.text.len() - trimmed.len();
        let word_end = trimmed.find(|c: char| c == ':' || c.is_whitespace()).unwrap_or(trimmed.len());
        let word = &trimmed[..word_end];
        if ids::is_assertion_id(word) {
            let title = trimmed[word_end..]
                .trim_start_matches(|c: char| c == ':' || c == '-' || c == '—' || c == '–' || c.is_whitespace())
                .trim()
                .to_string();
            let id_span = source_span(h, lead, word.len());
            let mut a = Assertion {
                id: Spanned::new(word.to_string(), id_span),
                title,
                level: h.level,
                heading_span: h.span.clone(),
                body_span: body_span.clone(),
                area: area.clone(),
                ..Assertion::default()
            };
            let fields = read_body(text, body_span);
            a.description = fields.description;
            a.check = fields.check;
            let enclosing = || open.iter().rev().map(|&s| &contract.sections[s]);
            a.tool = fields.tool.or_else(|| {
                a.tool_inherited = true;
                enclosing().find_map(|s| s.tool.clone())
            });
            a.tool_inherited &= a.tool.is_some();
            a.evidence = fields.evidence.or_else(|| {
                a.evidence_inherited = true;
                enclosing().find_map(|s| s.evidence.clone())
            });
            a.evidence_inherited &= a.evidence.is_some();
            contract.assertions.push(a);
        } else if ids::looks_like_assertion_id(word) {
            contract.malformed_ids.push(Spanned::new(word.to_string(), source_span(h, lead, word.len())));
        } else {
            let title = h.text.trim().to_string();
            if h.level == 1 && contract.title.is_none() {
                let named =
                    title.strip_prefix("Validation contract:").or_else(|| title.strip_prefix("Validation Contract:"));
                contract.title = Some(named.unwrap_or(&title).trim().to_string());
            } else {
                area = Some(title.strip_prefix("Area:").map_or(title.as_str(), str::trim).into());
            }
            let fields = read_body(text, body_span);
            contract.sections.push(Section {
                title,
                level: h.level,
                heading_span: h.span.clone(),
                tool: fields.tool,
                evidence: fields.evidence,
            });
            open.push(contract.sections.len() - 1);
        }
    }
    contract
}

fn source_span(h: &RawHeading, offset: usize, len: usize) -> Span {
    for (piece_start, span) in &h.pieces {
        let piece_len = span.end - span.start;
        if offset >= *piece_start && offset + len <= piece_start + piece_len {
            let start = span.start + (offset - piece_start);
            return start..start + len;
        }
    }
    h.span.clone()
}

fn collect_headings(text: &str) -> Vec<RawHeading> {
    let mut out = Vec::new();
    let mut current: Option<RawHeading> = None;
    // pulldown-cmark misses some lone CRs (in an indented code block); as LFs, every offset
    // stays where it is.
    let text = &*crate::model::lines::lone_cr_as_lf(text);
    for (event, range) in Parser::new_ext(text, Options::empty()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some(RawHeading {
                    level: level_number(level),
                    span: range,
                    text: String::new(),
                    pieces: Vec::new(),
                });
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(mut h) = current.take() {
                    // The span ends at the line end, not including the newline (setext: the underline).
                    while h.span.end > h.span.start && matches!(text.as_bytes()[h.span.end - 1], b'\n' | b'\r') {
                        h.span.end -= 1;
                    }
                    out.push(h);
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = current.as_mut() {
                    // Code spans' ranges include the backticks; point at the inner text.
                    let src = &text[range.clone()];
                    let inner = if src.len() == t.len() {
                        range.clone()
                    } else {
                        src.find(t.as_ref()).map_or(range.clone(), |i| range.start + i..range.start + i + t.len())
                    };
                    h.pieces.push((h.text.len(), inner));
                    h.text.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(h) = current.as_mut() {
                    h.text.push(' ');
                }
            }
            _ => {}
        }
    }
    out
}

fn level_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// The field lines and prose of a heading's body.
#[derive(Default)]
struct BodyFields {
    description: String,
    tool: Option<Spanned<String>>,
    evidence: Option<Spanned<Vec<String>>>,
    check: Option<Spanned<String>>,
}

/// Reads field lines (`Tool:`, `Evidence:`, `Check:`) of a body; fenced code is skipped.
fn read_body(text: &str, body: Span) -> BodyFields {
    let mut out = BodyFields::default();
    let mut description = Description::default();
    let mut fence: Option<&str> = None;
    let mut offset = body.start;
    for raw_line in crate::model::lines::split_inclusive(&text[body.clone()]) {
        let line_start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
            description.push(line);
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
            description.push(line);
            continue;
        }
        let (key, value, value_start) = match field_of(trimmed) {
            Some((k, v, at)) => (k, v, line_start + (line.len() - trimmed.len()) + at),
            None => {
                description.push(line);
                continue;
            }
        };
        let value_span = value_start..value_start + value.len();
        match key {
            "tool" if out.tool.is_none() => out.tool = Some(Spanned::new(value.to_string(), value_span)),
            "evidence" if out.evidence.is_none() => out.evidence = Some(Spanned::new(split_list(value), value_span)),
            "check" if out.check.is_none() => {
                out.check = Some(Spanned::new(value.trim_matches('`').to_string(), value_span))
            }
            _ => description.push(line),
        }
    }
    out.description = description.finish();
    out
}

/// The body's prose lines, joined with `\n` and trimmed, built in one buffer.
#[derive(Default)]
struct Description {
    text: String,
}

impl Description {
    fn push(&mut self, line: &str) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(line);
    }

    fn finish(mut self) -> String {
        let end = self.text.trim_end().len();
        self.text.truncate(end);
        let lead = self.text.len() - self.text.trim_start().len();
        self.text.drain(..lead);
        self.text
    }
}

/// Recognises `Tool: x`, `- Tool: x`, `**Tool:** x` (case-insensitive key); returns the key in
/// lower case, the trimmed value and the value's offset within `line`.
fn field_of(line: &str) -> Option<(&'static str, &str, usize)> {
    let mut rest = line;
    for prefix in ["- ", "* "] {
        if let Some(r) = rest.strip_prefix(prefix) {
            rest = r.trim_start();
        }
    }
    let bold = rest.starts_with("**");
    if bold {
        rest = &rest[2..];
    }
    let colon = rest.find(':')?;
    let name = rest[..colon].trim();
    let key = ["tool", "evidence", "check"].into_iter().find(|k| k.eq_ignore_ascii_case(name))?;
    let mut after = &rest[colon + 1..];
    if bold {
        after = after.strip_prefix("**").unwrap_or(after);
    }
    let value = after.trim();
    let value_at =
        if value.is_empty() { line.len() } else { line.len() - after.len() + (after.len() - after.trim_start().len()) };
    Some((key, value, value_at))
}

/// Splits a `Tool:` or `Evidence:` list (`screenshot, network(POST /a, b -> 200)`) on the
/// commas outside parentheses, brackets and code spans.
pub fn split_list(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut in_code = false;
    let mut start = 0;
    let bytes = value.as_bytes();
    let mut push = |from: usize, to: usize| {
        let item = value[from..to].trim();
        if !item.is_empty() {
            items.push(item.to_string());
        }
    };
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'`' => in_code = !in_code,
            _ if in_code => {}
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth <= 0 => {
                push(start, i);
                start = i + 1;
            }
            _ => {}
        }
    }
    push(start, bytes.len());
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Validation contract: Slack clone\n\n## Auth\n\n### VAL-AUTH-001: Successful login\nA user with valid credentials submits the login form\nand is redirected to the dashboard.\nTool: agent-browser\nEvidence: screenshot, network(POST /api/auth/login -> 200)\n\n#### VAL-AUTH-01: Bad id\n\n## Cross\n\n#### VAL-CROSS-AUTH-002: Logout\n- **Tool:** terminal\nCheck: `cargo test logout`\n";

    #[test]
    fn parses_assertions_fields_and_areas() {
        let c = parse(SAMPLE);
        assert_eq!(c.title.as_deref(), Some("Slack clone"));
        assert_eq!(c.assertions.len(), 2);
        let a = &c.assertions[0];
        assert_eq!(a.id.value, "VAL-AUTH-001");
        assert_eq!(&SAMPLE[a.id.span.clone()], "VAL-AUTH-001");
        assert_eq!(a.title, "Successful login");
        assert_eq!(a.area.as_deref(), Some("Auth"));
        assert_eq!(a.tool.as_ref().unwrap().value, "agent-browser");
        assert_eq!(&SAMPLE[a.tool.as_ref().unwrap().span.clone()], "agent-browser");
        assert_eq!(a.evidence.as_ref().unwrap().value, ["screenshot", "network(POST /api/auth/login -> 200)"]);
        assert_eq!(
            a.description,
            "A user with valid credentials submits the login form\nand is redirected to the dashboard."
        );
        let b = &c.assertions[1];
        assert_eq!(b.tool.as_ref().unwrap().value, "terminal");
        assert_eq!(&SAMPLE[b.tool.as_ref().unwrap().span.clone()], "terminal");
        assert_eq!(b.check.as_ref().unwrap().value, "cargo test logout");
        assert_eq!(b.area.as_deref(), Some("Cross"));
        assert_eq!(c.malformed_ids.len(), 1);
        assert_eq!(&SAMPLE[c.malformed_ids[0].span.clone()], "VAL-AUTH-01");
    }

    #[test]
    fn a_byte_order_mark_does_not_hide_the_first_heading() {
        let text = "\u{FEFF}### VAL-A-001: x\nTool: http\n";
        let c = parse(text);
        assert_eq!(&text[c.assertions[0].id.span.clone()], "VAL-A-001");
    }

    #[test]
    fn droids_contract_layout_states_a_tool_once_per_area() {
        let text = "# Validation Contract\n\n## Surface: CLI\nTool: tuistory\n\n### Area: M3A\n\n#### VAL-M3A-001: one\nEvidence: terminal output\n\n### Area: Web\nTool: agent-browser, curl (`POST /a, b`)\nEvidence: screenshot\n\n#### VAL-WEB-001: two\n\n#### VAL-WEB-002: three\nTool: curl\n\n## Cross-Area Flows\n\n### VAL-CROSS-001: four\n";
        let c = parse(text);
        let tool = |i: usize| c.assertions[i].tool.as_ref().map(|t| (t.value.as_str(), c.assertions[i].tool_inherited));
        assert_eq!(tool(0), Some(("tuistory", true)));
        assert_eq!(tool(1), Some(("agent-browser, curl (`POST /a, b`)", true)));
        assert_eq!(tool(2), Some(("curl", false)));
        assert_eq!(tool(3), None, "a new level-two section closes the surface");
        assert_eq!(c.assertions[1].evidence.as_ref().map(|e| e.value.clone()), Some(vec!["screenshot".to_string()]));
        assert!(c.assertions[1].evidence_inherited && !c.assertions[0].evidence_inherited);
        assert_eq!(c.assertions[3].area.as_deref(), Some("Cross-Area Flows"));
        assert_eq!(split_list("agent-browser, curl (`POST /a, b`)"), ["agent-browser", "curl (`POST /a, b`)"]);
        assert_eq!(split_list("`a, b`, [c, d], e"), ["`a, b`", "[c, d]", "e"]);
    }

    #[test]
    fn fields_in_code_fences_are_not_fields() {
        let c = parse("### VAL-A-001: x\n```\nTool: terminal\n```\n");
        assert!(c.assertions[0].tool.is_none());
    }

    #[test]
    fn ids_in_emphasis_and_code_map_to_source() {
        let text = "### `VAL-A-001`: x\n### **VAL-B-002**: y\n";
        let c = parse(text);
        assert_eq!(&text[c.assertions[0].id.span.clone()], "VAL-A-001");
        assert_eq!(&text[c.assertions[1].id.span.clone()], "VAL-B-002");
    }
}
