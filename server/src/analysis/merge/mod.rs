//! Three-way merges for mirroring a file's change on disk into an editor buffer that has
//! unsaved edits (design §4, live documents). `base` is the text the buffer was last in step
//! with on disk, `ours` the buffer, `theirs` the new disk text (usually the runner's write).
//! The result is edits to `ours` that carry over every change of `theirs` the person did not
//! also make, plus the places both changed: those keep the person's text and are reported.
//!
//! JSON files merge field by field (features by `id`); anything else, and JSON that does not
//! parse cleanly, merges line by line.

mod json;
mod lines;

use std::ops::Range;

/// Replace `span` (bytes of `ours`) with `text`. Edits are sorted and never overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub span: Range<usize>,
    pub text: String,
}

/// What mirroring `theirs` into `ours` takes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mirror {
    pub edits: Vec<Edit>,
    /// The places both sides changed differently, for the person (`features[F1].status`,
    /// `lines 12-14`); `ours` keeps its text there.
    pub conflicts: Vec<String>,
}

/// How to merge a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

impl Format {
    /// JSON for `*.json` files, text for the rest.
    pub fn of_path(path: &str) -> Format {
        if path.ends_with(".json") {
            Format::Json
        } else {
            Format::Text
        }
    }
}

/// The edits that bring `theirs`' changes since `base` into `ours`.
pub fn mirror(base: &str, ours: &str, theirs: &str, format: Format) -> Mirror {
    let mut merged = match format {
        Format::Json => json::mirror(base, ours, theirs).unwrap_or_else(|| lines::mirror(base, ours, theirs)),
        Format::Text => lines::mirror(base, ours, theirs),
    };
    // Stable: an insertion at a position stays before a replacement starting there.
    merged.edits.sort_by_key(|e| (e.span.start, e.span.end));
    merged
}

/// `ours` with `edits` applied (for tests and for checking a mirror before sending it).
pub fn apply(ours: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(ours.len());
    let mut at = 0;
    for edit in edits {
        out.push_str(&ours[at..edit.span.start]);
        out.push_str(&edit.text);
        at = edit.span.end;
    }
    out.push_str(&ours[at..]);
    out
}

#[cfg(test)]
mod tests;
