//! A tolerant JSON parser that keeps the byte span of every value and key and recovers from
//! syntax errors, so a features.json with a typo is still checked. serde_json gives neither
//! spans nor recovery; this parser exists for that and only that.

use std::borrow::Cow;

use super::span::{ParseProblem, ProblemKind, Span};

const BOM: &[u8] = "\u{FEFF}".as_bytes();

/// Nesting deeper than this is reported and skipped (iteratively), so hostile input cannot
/// overflow the stack.
pub const MAX_DEPTH: usize = 256;

/// A parsed value. Strings borrow from the source text unless they hold escapes.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonValue<'a> {
    pub span: Span,
    pub kind: JsonKind<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JsonKind<'a> {
    Null,
    Bool(bool),
    /// The number's source text, unchanged.
    Number(&'a str),
    String(Cow<'a, str>),
    Array(Vec<JsonValue<'a>>),
    Object(Vec<JsonMember<'a>>),
    /// A value that could not be parsed; its error is in the problem list.
    Invalid,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JsonMember<'a> {
    pub key: Cow<'a, str>,
    pub key_span: Span,
    pub value: JsonValue<'a>,
}

impl<'a> JsonValue<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            JsonKind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[JsonValue<'a>]> {
        match &self.kind {
            JsonKind::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[JsonMember<'a>]> {
        match &self.kind {
            JsonKind::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The first member named `key` of an object.
    pub fn get(&self, key: &str) -> Option<&JsonMember<'a>> {
        self.as_object()?.iter().find(|m| m.key == key)
    }

    /// A short name of the value's type, for schema messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            JsonKind::Null => "null",
            JsonKind::Bool(_) => "a boolean",
            JsonKind::Number(_) => "a number",
            JsonKind::String(_) => "a string",
            JsonKind::Array(_) => "an array",
            JsonKind::Object(_) => "an object",
            JsonKind::Invalid => "invalid",
        }
    }
}

/// The result of parsing: the recovered value (if any token started one) and every syntax error.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonParse<'a> {
    pub value: Option<JsonValue<'a>>,
    pub errors: Vec<ParseProblem>,
}

pub fn parse(text: &str) -> JsonParse<'_> {
    let mut parser = Parser {
        lexer: Lexer { text, bytes: text.as_bytes(), pos: 0, string_closed: false },
        peeked: None,
        errors: Vec::new(),
        missing_comma_ok: false,
    };
    let value = if parser.peek().kind == Tok::Eof {
        parser.error(0..0, "empty document: expected a JSON value".to_string());
        None
    } else {
        Some(parser.value(0, false))
    };
    let next = parser.peek();
    if next.kind != Tok::Eof {
        let span = next.span.clone();
        parser.error(span, "unexpected content after the end of the JSON value".to_string());
    }
    JsonParse { value, errors: parser.errors }
}

/// A token as a reader of the text around a cursor needs it (completion): no values, no errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexemeKind {
    /// One of `{ } [ ] : ,`.
    Punct(u8),
    /// A string, its quotes included; `closed` when its end quote is there.
    Str { closed: bool },
    /// Anything else: a number, `true`, `false`, `null`, or a word that is no JSON.
    Word,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexeme {
    pub kind: LexemeKind,
    pub span: Span,
}

/// The tokens of `text` (which starts at byte `base` of its document) by the parser's own
/// lexer: comments skipped, a string ends at the end of its line.
pub fn lex(text: &str, base: usize) -> Vec<Lexeme> {
    let mut lexer = Lexer { text, bytes: text.as_bytes(), pos: 0, string_closed: false };
    let mut ignored = Vec::new();
    let mut out = Vec::new();
    loop {
        let t = lexer.next(&mut ignored);
        let kind = match t.kind {
            Tok::Eof => return out,
            Tok::LBrace => LexemeKind::Punct(b'{'),
            Tok::RBrace => LexemeKind::Punct(b'}'),
            Tok::LBracket => LexemeKind::Punct(b'['),
            Tok::RBracket => LexemeKind::Punct(b']'),
            Tok::Colon => LexemeKind::Punct(b':'),
            Tok::Comma => LexemeKind::Punct(b','),
            Tok::Str(_) => LexemeKind::Str { closed: lexer.string_closed },
            Tok::Number(_) | Tok::True | Tok::False | Tok::Null | Tok::Bad => LexemeKind::Word,
        };
        ignored.clear();
        out.push(Lexeme { kind, span: base + t.span.start..base + t.span.end });
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Colon,
    Comma,
    Str(Cow<'a, str>),
    Number(&'a str),
    True,
    False,
    Null,
    /// Something that is no JSON token; the lexer already reported it.
    Bad,
    Eof,
}

#[derive(Debug, Clone)]
struct Token<'a> {
    kind: Tok<'a>,
    span: Span,
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Whether the last string token ended with its closing quote.
    string_closed: bool,
}

impl<'a> Lexer<'a> {
    fn next(&mut self, errors: &mut Vec<ParseProblem>) -> Token<'a> {
        if self.pos == 0 && self.bytes.starts_with(BOM) {
            self.pos = BOM.len();
        }
        loop {
            while let Some(&b) = self.bytes.get(self.pos) {
                if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    self.pos += 1;
                } else {
                    break;
                }
            }
            if !self.skip_comment(errors) {
                break;
            }
        }
        let start = self.pos;
        let Some(&b) = self.bytes.get(start) else {
            return Token { kind: Tok::Eof, span: start..start };
        };
        let single = |kind| (kind, start + 1);
        let (kind, end) = match b {
            b'{' => single(Tok::LBrace),
            b'}' => single(Tok::RBrace),
            b'[' => single(Tok::LBracket),
            b']' => single(Tok::RBracket),
            b':' => single(Tok::Colon),
            b',' => single(Tok::Comma),
            b'"' => return self.string(errors),
            _ => {
                let end = self.word_end(start);
                let word: &'a str = &self.text[start..end];
                let kind = match word {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "null" => Tok::Null,
                    _ if is_json_number(word) => Tok::Number(word),
                    _ => {
                        errors.push(syntax(
                            start..end,
                            format!(
                                "unexpected `{}`: expected a JSON value (strings need double quotes)",
                                abbreviate(word)
                            ),
                        ));
                        Tok::Bad
                    }
                };
                (kind, end)
            }
        };
        self.pos = end;
        Token { kind, span: start..end }
    }

    /// Skips a `//` or `/* */` comment (one error each, as editors' JSONC slips are common)
    /// and returns whether there was one.
    fn skip_comment(&mut self, errors: &mut Vec<ParseProblem>) -> bool {
        let start = self.pos;
        let end = match self.bytes.get(start..start + 2) {
            Some(b"//") => self.text[start..].find('\n').map_or(self.bytes.len(), |p| start + p),
            Some(b"/*") => self.text[start + 2..].find("*/").map_or(self.bytes.len(), |p| start + 2 + p + 2),
            _ => return false,
        };
        errors.push(syntax(start..end, "comments are not allowed in JSON".to_string()));
        self.pos = end;
        true
    }

    /// End of a run of characters that are not structural, quote or whitespace (at least one char).
    fn word_end(&self, start: usize) -> usize {
        let mut end = start;
        for (i, ch) in self.text[start..].char_indices() {
            if i > 0 && matches!(ch, '{' | '}' | '[' | ']' | ':' | ',' | '"' | ' ' | '\t' | '\n' | '\r') {
                break;
            }
            end = start + i + ch.len_utf8();
        }
        end
    }

    fn string(&mut self, errors: &mut Vec<ParseProblem>) -> Token<'a> {
        let start = self.pos;
        let mut i = start + 1;
        // Escapes force a copy; until the first one the value borrows from the source.
        let mut owned: Option<String> = None;
        let mut chunk_start = i;
        let text = self.text;
        let finish = |owned: Option<String>, chunk_start: usize, end: usize| -> Cow<'a, str> {
            match owned {
                None => Cow::Borrowed(&text[chunk_start..end]),
                Some(mut s) => {
                    s.push_str(&text[chunk_start..end]);
                    Cow::Owned(s)
                }
            }
        };
        loop {
            let Some(&b) = self.bytes.get(i) else {
                errors.push(syntax(start..i, "unterminated string".to_string()));
                self.pos = i;
                self.string_closed = false;
                return Token { kind: Tok::Str(finish(owned, chunk_start, i)), span: start..i };
            };
            match b {
                b'"' => {
                    self.pos = i + 1;
                    self.string_closed = true;
                    return Token { kind: Tok::Str(finish(owned, chunk_start, i)), span: start..i + 1 };
                }
                b'\n' | b'\r' => {
                    // A string never spans lines in JSON: end it here so the next line still parses.
                    errors.push(syntax(
                        start..i,
                        "unterminated string (missing `\"` before the end of the line)".to_string(),
                    ));
                    self.pos = i;
                    self.string_closed = false;
                    return Token { kind: Tok::Str(finish(owned, chunk_start, i)), span: start..i };
                }
                b'\\' => {
                    let out = owned.get_or_insert_with(String::new);
                    out.push_str(&text[chunk_start..i]);
                    i = self.escape(i, out, errors);
                    chunk_start = i;
                }
                0x00..=0x1f => {
                    // One problem per run of them: a million tabs pasted into a string are one
                    // mistake, not a million.
                    let run = self.bytes[i..].iter().take_while(|&&b| b < 0x20 && b != b'\n' && b != b'\r').count();
                    let message = if run == 1 {
                        "control character in string: escape it".to_string()
                    } else {
                        format!("{run} control characters in string: escape them")
                    };
                    errors.push(syntax(i..i + run, message));
                    i += run;
                }
                _ => {
                    // Jump to the next byte that can end or escape the string.
                    let rest = &self.bytes[i..];
                    let stop = memchr::memchr3(b'"', b'\\', b'\n', rest).unwrap_or(rest.len());
                    // Other control characters are rare; look for them only in the skipped run.
                    i += rest[..stop].iter().position(|&b| b < 0x20).unwrap_or(stop);
                }
            }
        }
    }

    /// Decodes the escape at `i` (the backslash) into `out`, returning the index after it.
    fn escape(&self, i: usize, out: &mut String, errors: &mut Vec<ParseProblem>) -> usize {
        let Some(&e) = self.bytes.get(i + 1) else {
            return i + 1;
        };
        let simple = match e {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            return i + 2;
        }
        if e == b'u' {
            if let Some(hi) = self.hex4(i + 2) {
                if (0xD800..0xDC00).contains(&hi) && self.bytes.get(i + 6..i + 8) == Some(b"\\u") {
                    if let Some(lo) = self.hex4(i + 8).filter(|lo| (0xDC00..0xE000).contains(lo)) {
                        let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                        return i + 12;
                    }
                }
                out.push(char::from_u32(hi).unwrap_or('\u{FFFD}'));
                return i + 6;
            }
            errors.push(syntax(
                i..(i + 2).min(self.bytes.len()),
                "invalid unicode escape: expected `\\u` and four hex digits".to_string(),
            ));
            return i + 2;
        }
        let end = i + 1 + self.text[i + 1..].chars().next().map_or(1, char::len_utf8);
        errors.push(syntax(i..end, format!("invalid escape `{}`", &self.text[i..end])));
        out.push_str(&self.text[i + 1..end]);
        end
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes.get(at..at + 4)?;
        let s = std::str::from_utf8(digits).ok()?;
        u32::from_str_radix(s, 16).ok().filter(|_| digits.iter().all(u8::is_ascii_hexdigit))
    }
}

fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let d = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == d {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let d = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == d {
            return false;
        }
    }
    i == b.len()
}

fn abbreviate(s: &str) -> String {
    match s.char_indices().nth(24) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn syntax(span: Span, message: String) -> ParseProblem {
    ParseProblem { kind: ProblemKind::Syntax, span, message }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token<'a>>,
    errors: Vec<ParseProblem>,
    /// Set when an object was closed by recovery, so the array does not also report a comma.
    missing_comma_ok: bool,
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> &Token<'a> {
        if self.peeked.is_none() {
            let t = self.lexer.next(&mut self.errors);
            self.peeked = Some(t);
        }
        self.peeked.as_ref().expect("just filled")
    }

    /// The peeked token with any string payload left out: cheap to copy for matching.
    fn peek_shape(&mut self) -> Token<'a> {
        let t = self.peek();
        let kind = match t.kind {
            Tok::Str(_) => Tok::Str(Cow::Borrowed("")),
            ref k => k.clone(),
        };
        Token { kind, span: t.span.clone() }
    }

    fn bump(&mut self) -> Token<'a> {
        match self.peeked.take() {
            Some(t) => t,
            None => self.lexer.next(&mut self.errors),
        }
    }

    fn error(&mut self, span: Span, message: String) {
        self.errors.push(syntax(span, message));
    }

    fn value(&mut self, depth: usize, in_array: bool) -> JsonValue<'a> {
        let (is_open, span) = {
            let tok = self.peek();
            (matches!(tok.kind, Tok::LBrace | Tok::LBracket), tok.span.clone())
        };
        if is_open && depth >= MAX_DEPTH {
            self.error(
                span.clone(),
                format!("nested deeper than {MAX_DEPTH} levels; the rest of this value is skipped"),
            );
            let end = self.skip_nested();
            return JsonValue { span: span.start..end, kind: JsonKind::Invalid };
        }
        match self.peek().kind {
            Tok::LBrace => return self.object(depth, in_array),
            Tok::LBracket => return self.array(depth),
            Tok::RBrace | Tok::RBracket | Tok::Comma | Tok::Colon | Tok::Eof => {
                self.error(span.clone(), "expected a value".to_string());
                return JsonValue { span: span.start..span.start, kind: JsonKind::Invalid };
            }
            _ => {}
        }
        let tok = self.bump();
        let kind = match tok.kind {
            Tok::Str(s) => JsonKind::String(s),
            Tok::Number(n) => JsonKind::Number(n),
            Tok::True => JsonKind::Bool(true),
            Tok::False => JsonKind::Bool(false),
            Tok::Null => JsonKind::Null,
            _ => JsonKind::Invalid,
        };
        JsonValue { span: tok.span, kind }
    }

    /// Skips one bracketed value starting at the peeked token without recursion; returns its end.
    fn skip_nested(&mut self) -> usize {
        let mut depth = 0usize;
        loop {
            let t = self.bump();
            match t.kind {
                Tok::LBrace | Tok::LBracket => depth += 1,
                Tok::RBrace | Tok::RBracket => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return t.span.end;
                    }
                }
                Tok::Eof => return t.span.end,
                _ => {}
            }
        }
    }

    /// Error recovery inside a container: skips tokens (and whole nested values) up to, not
    /// including, the next `,` or closing bracket at this level.
    fn skip_to_separator(&mut self) {
        loop {
            match self.peek().kind {
                Tok::Comma | Tok::RBrace | Tok::RBracket | Tok::Eof => return,
                Tok::LBrace | Tok::LBracket => {
                    self.skip_nested();
                }
                _ => {
                    self.bump();
                }
            }
        }
    }

    fn object(&mut self, depth: usize, in_array: bool) -> JsonValue<'a> {
        let open = self.bump();
        // Feature objects have about eight members: one allocation instead of three growths.
        let mut members = Vec::with_capacity(8);
        loop {
            let tok_span = self.peek().span.clone();
            match self.peek().kind {
                Tok::RBrace => {
                    self.bump();
                    return JsonValue { span: open.span.start..tok_span.end, kind: JsonKind::Object(members) };
                }
                Tok::Eof | Tok::RBracket => {
                    self.error(open.span.clone(), "unclosed object: expected `}`".to_string());
                    let end = members.last().map_or(open.span.end, |m: &JsonMember<'a>| m.value.span.end);
                    return JsonValue { span: open.span.start..end, kind: JsonKind::Object(members) };
                }
                Tok::Str(_) => {
                    let key = match self.bump().kind {
                        Tok::Str(key) => key,
                        _ => unreachable!("peeked a string"),
                    };
                    let value = if self.peek().kind == Tok::Colon {
                        self.bump();
                        self.value(depth + 1, false)
                    } else {
                        self.error(
                            tok_span.clone(),
                            format!("expected `:` after the property name \"{}\"", abbreviate(&key)),
                        );
                        if matches!(self.peek().kind, Tok::Comma | Tok::RBrace | Tok::Eof) {
                            JsonValue { span: tok_span.end..tok_span.end, kind: JsonKind::Invalid }
                        } else {
                            self.value(depth + 1, false)
                        }
                    };
                    members.push(JsonMember { key, key_span: tok_span, value });
                }
                Tok::LBrace if in_array => {
                    // Most likely a missing `}`: close this object so the next one still parses.
                    self.error(open.span.clone(), "unclosed object: expected `}` before the next object".to_string());
                    let end = members.last().map_or(open.span.end, |m: &JsonMember<'a>| m.value.span.end);
                    self.missing_comma_ok = true;
                    return JsonValue { span: open.span.start..end, kind: JsonKind::Object(members) };
                }
                _ => {
                    self.error(tok_span, "expected a property name in double quotes".to_string());
                    self.bump();
                    self.skip_to_separator();
                }
            }
            // After a member: `,` or `}`.
            let sep = self.peek_shape();
            match sep.kind {
                Tok::Comma => {
                    self.bump();
                    if self.peek().kind == Tok::RBrace {
                        self.error(sep.span, "trailing comma before `}`".to_string());
                    }
                }
                Tok::RBrace | Tok::Eof | Tok::RBracket => {}
                Tok::Str(_) => {
                    let at = members.last().map_or(sep.span.start, |m| m.value.span.end);
                    self.error(at..at, "expected `,` between properties".to_string());
                }
                Tok::LBrace if in_array => {}
                _ => {
                    self.error(sep.span, "expected `,` or `}`".to_string());
                    self.skip_to_separator();
                    if self.peek().kind == Tok::Comma {
                        self.bump();
                    }
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> JsonValue<'a> {
        let open = self.bump();
        let mut items = Vec::new();
        loop {
            let tok = self.peek_shape();
            match tok.kind {
                Tok::RBracket => {
                    self.bump();
                    return JsonValue { span: open.span.start..tok.span.end, kind: JsonKind::Array(items) };
                }
                Tok::Eof | Tok::RBrace => {
                    self.error(open.span.clone(), "unclosed array: expected `]`".to_string());
                    let end = items.last().map_or(open.span.end, |v: &JsonValue<'a>| v.span.end);
                    return JsonValue { span: open.span.start..end, kind: JsonKind::Array(items) };
                }
                Tok::Comma => {
                    self.error(tok.span.clone(), "expected a value before `,`".to_string());
                    self.bump();
                    continue;
                }
                _ => items.push(self.value(depth + 1, true)),
            }
            let sep = self.peek_shape();
            match sep.kind {
                Tok::Comma => {
                    self.bump();
                    if self.peek().kind == Tok::RBracket {
                        self.error(sep.span, "trailing comma before `]`".to_string());
                    }
                }
                Tok::RBracket | Tok::Eof | Tok::RBrace => {}
                Tok::Str(_) | Tok::Number(_) | Tok::LBrace | Tok::LBracket | Tok::True | Tok::False | Tok::Null => {
                    // After an object closed by recovery, the missing `}` was already reported.
                    if !std::mem::take(&mut self.missing_comma_ok) {
                        let at = items.last().map_or(sep.span.start, |v| v.span.end);
                        self.error(at..at, "expected `,` between array items".to_string());
                    }
                }
                _ => {
                    self.error(sep.span, "expected `,` or `]`".to_string());
                    self.skip_to_separator();
                    if self.peek().kind == Tok::Comma {
                        self.bump();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexemes_keep_spans_and_say_whether_a_string_is_closed() {
        let kinds = |text: &str| lex(text, 100).into_iter().map(|l| (l.kind, l.span)).collect::<Vec<_>>();
        use LexemeKind::{Punct, Str, Word};
        assert_eq!(
            kinds(r#"{"a": tru, "b\"": [1]"#),
            vec![
                (Punct(b'{'), 100..101),
                (Str { closed: true }, 101..104),
                (Punct(b':'), 104..105),
                (Word, 106..109),
                (Punct(b','), 109..110),
                (Str { closed: true }, 111..116),
                (Punct(b':'), 116..117),
                (Punct(b'['), 118..119),
                (Word, 119..120),
                (Punct(b']'), 120..121)
            ]
        );
        assert_eq!(kinds("\"open \\\""), vec![(Str { closed: false }, 100..108)], "an escaped quote does not close it");
        assert_eq!(kinds("\"x\" // note"), vec![(Str { closed: true }, 100..103)], "comments are skipped");
    }

    fn errors(text: &str) -> Vec<(Span, String)> {
        parse(text).errors.into_iter().map(|e| (e.span, e.message)).collect()
    }

    #[test]
    fn valid_document_has_spans_and_no_errors() {
        let text = r#"{"a": [1, "x\u00e9\ud83d\ude00", true, null], "b": {"c": -1.5e3}}"#;
        let p = parse(text);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let v = p.value.unwrap();
        let a = &v.get("a").unwrap().value;
        assert_eq!(&text[a.span.clone()], r#"[1, "x\u00e9\ud83d\ude00", true, null]"#);
        assert_eq!(a.as_array().unwrap()[1].as_str(), Some("xé😀"));
        assert_eq!(&text[v.get("b").unwrap().key_span.clone()], "\"b\"");
    }

    #[test]
    fn missing_comma_recovers_and_keeps_later_members() {
        let text = "{\"a\": 1\n \"b\": 2}";
        let p = parse(text);
        assert_eq!(p.errors.len(), 1);
        assert!(p.value.unwrap().get("b").is_some());
    }

    #[test]
    fn unquoted_value_and_trailing_comma() {
        let e = errors(r#"{"status": wip, "x": [1,],}"#);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].1.contains("`wip`"));
    }

    #[test]
    fn unterminated_string_ends_at_line_end() {
        let p = parse("{\"a\": \"oops\n, \"b\": 1}");
        assert!(p.value.unwrap().get("b").is_some());
        assert_eq!(p.errors.len(), 1);
    }

    #[test]
    fn truncated_document() {
        let p = parse(r#"{"features": [{"id": "f1"}, {"id": "f2", "fulfills": ["VAL-A-001""#);
        let v = p.value.unwrap();
        let features = v.get("features").unwrap().value.as_array().unwrap().to_vec();
        assert_eq!(features.len(), 2);
        assert!(!p.errors.is_empty());
    }

    #[test]
    fn bom_comments_and_a_missing_brace_each_cost_one_error() {
        let text = "\u{FEFF}{\"features\": [\n  {\"id\": \"a\", \"x\": 1,\n  // old one\n  {\"id\": \"b\"},\n  /* c */ {\"id\": \"c\"}\n]}";
        let mut p = parse(text);
        p.errors.sort_by_key(|e| e.span.start);
        let messages: Vec<_> = p.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "unclosed object: expected `}` before the next object",
                "comments are not allowed in JSON",
                "comments are not allowed in JSON"
            ]
        );
        let ids: Vec<_> = p
            .value
            .unwrap()
            .get("features")
            .unwrap()
            .value
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.get("id").unwrap().value.as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn deep_nesting_is_skipped_without_recursion() {
        let text = "[".repeat(100_000) + &"]".repeat(100_000);
        let p = parse(&text);
        assert_eq!(p.errors.len(), 1);
        assert!(p.errors[0].message.contains("nested deeper"));
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "",
            "}",
            "]]]",
            ":",
            ",",
            "\"",
            "\\",
            "{\"a\"",
            "{\"a\":",
            "[1 2]",
            "{,}",
            "tru",
            "\"\\u12\"",
            "\"\\ud800\"",
            "{\"a\" 1}",
            "-",
            "01",
            "1.",
            "1e",
        ] {
            let _ = parse(text);
        }
    }
}
