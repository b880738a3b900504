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
