//! Byte spans into a document's text and values carrying them.

use std::ops::Range;

/// A half-open byte range into the document text.
pub type Span = Range<usize>;

/// A value together with the byte range of its source text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// A problem found while parsing, before any cross-document check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseProblem {
    pub kind: ProblemKind,
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The text is not valid JSON (`json-syntax`).
    Syntax,
    /// A field is missing, mistyped or has an unknown value (`schema`).
    Schema,
}

/// Where an edited text differs from the text before: bytes `start..old_end` of the old text
/// became bytes `start..new_end` of the new one; everything before and after is the same.
/// A change may cover more than what really differs (never less).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextChange {
    pub start: usize,
    pub old_end: usize,
    pub new_end: usize,
}

impl TextChange {
    /// Replacing `range` of the old text by `inserted` bytes.
    pub fn replace(range: Span, inserted: usize) -> Self {
        TextChange { start: range.start, old_end: range.end.max(range.start), new_end: range.start + inserted }
    }

    /// One change covering `self` and then `next` (a change of the text `self` produced).
    pub fn then(self, next: TextChange) -> TextChange {
        let start = self.start.min(next.start);
        // The end of both in the middle text: past it, the text is only shifted by either change.
        let end = self.new_end.max(next.old_end);
        TextChange { start, old_end: end - self.new_end + self.old_end, new_end: end - next.old_end + next.new_end }
    }

    /// Whether this change can be one between texts of these lengths (a change handed over from
    /// elsewhere is checked before it is trusted).
    pub fn fits(&self, old_len: usize, new_len: usize) -> bool {
        self.start <= self.old_end
            && self.start <= self.new_end
            && self.old_end <= old_len
            && self.new_end <= new_len
            && old_len - self.old_end == new_len - self.new_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(text: &str, range: Span, insert: &str) -> String {
        format!("{}{}{}", &text[..range.start], insert, &text[range.end..])
    }

    proptest::proptest! {
        #[test]
        fn composed_changes_cover_both(a in 0usize..40, b in 0usize..40, x in "[a-c]{0,5}", c in 0usize..40, d in 0usize..40, y in "[a-c]{0,5}") {
            let base = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
            let first = a.min(b)..a.max(b);
            let mid = apply(base, first.clone(), &x);
            let second = c.min(d).min(mid.len())..c.max(d).min(mid.len());
            let end = apply(&mid, second.clone(), &y);
            let both = TextChange::replace(first, x.len()).then(TextChange::replace(second, y.len()));
            proptest::prop_assert!(both.fits(base.len(), end.len()));
            proptest::prop_assert_eq!(&base[..both.start], &end[..both.start]);
            proptest::prop_assert_eq!(&base[both.old_end..], &end[both.new_end..]);
        }
    }
}
