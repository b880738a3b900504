//! Byte spans <-> LSP positions, in the negotiated encoding. The only place positions convert.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use tower_lsp_server::ls_types::{Position, Range, Uri};

use super::documents::Document;
use crate::analysis::position::ColumnUnit;
use crate::model::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
}

impl Encoding {
    fn unit(self) -> ColumnUnit {
        match self {
            Encoding::Utf8 => ColumnUnit::Utf8,
            Encoding::Utf16 => ColumnUnit::Utf16,
        }
    }
}

pub fn position(doc: &Document, offset: usize, encoding: Encoding) -> Position {
    let (line, character) = doc.positions.line_col(offset, encoding.unit());
    Position { line, character }
}

pub fn range(doc: &Document, span: &Span, encoding: Encoding) -> Range {
    Range { start: position(doc, span.start, encoding), end: position(doc, span.end.max(span.start), encoding) }
}

/// The byte offset of an LSP position. Out-of-range lines and columns clamp to the end of the
/// text or line; a column inside a character or between `\r` and `\n` moves back to a boundary,
/// so the offset is always safe to slice and edit at. Lines end at `\n`, `\r\n` or `\r`.
pub fn offset(doc: &Document, position: Position, encoding: Encoding) -> usize {
    let text = doc.text.as_str();
    let mut at = doc.positions.offset(position.line, position.character, encoding.unit()).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let bytes = text.as_bytes();
    // A column past the end of its line clamps to the line's end, before its line break: a
    // `\r` or `\n` before `at` on this line can only be (part of) that break.
    let line_start = doc.positions.offset(position.line, 0, ColumnUnit::Utf8);
    if at > line_start && bytes[at - 1] == b'\n' {
        at -= 1;
    }
    if at > line_start && bytes[at - 1] == b'\r' {
        at -= 1;
    }
    at
}

/// The byte range of an LSP range; a reversed range is read as written backwards.
pub fn span(doc: &Document, range: Range, encoding: Encoding) -> Span {
    let (a, b) = (offset(doc, range.start, encoding), offset(doc, range.end, encoding));
    a.min(b)..a.max(b)
}

/// The local file a `file:` URI names (on this host: no authority, or `localhost`).
pub fn path_of(uri: &Uri) -> Option<PathBuf> {
    if !uri.scheme().as_str().eq_ignore_ascii_case("file")
        || uri.authority().is_some_and(|a| !matches!(a.host(), "" | "localhost"))
    {
        return None;
    }
    uri.to_file_path().map(Cow::into_owned)
}

pub fn uri_of(path: &Path) -> Option<Uri> {
    Uri::from_file_path(path)
}
