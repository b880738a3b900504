//! Byte offsets <-> line/column in the encodings clients use (UTF-8, UTF-16, code points),
//! over the `line-index` crate. Out-of-range input is clamped, never a panic.

use line_index::{LineCol, LineIndex, TextSize, WideEncoding, WideLineCol};

/// How columns are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnUnit {
    Utf8,
    Utf16,
    /// Unicode scalar values, as `missions check` prints columns.
    CodePoint,
}

#[derive(Debug)]
pub struct Positions {
    index: LineIndex,
    len: usize,
}

impl Positions {
    pub fn new(text: &str) -> Self {
        Positions { index: LineIndex::new(text), len: text.len() }
    }

    /// 0-based line and column of byte `offset` (clamped to the text).
    pub fn line_col(&self, offset: usize, unit: ColumnUnit) -> (u32, u32) {
        let offset = TextSize::new(offset.min(self.len) as u32);
        let lc = self.index.line_col(offset);
        let wide = |enc| self.index.to_wide(enc, lc).map_or(lc.col, |w: WideLineCol| w.col);
        let col = match unit {
            ColumnUnit::Utf8 => lc.col,
            ColumnUnit::Utf16 => wide(WideEncoding::Utf16),
            ColumnUnit::CodePoint => wide(WideEncoding::Utf32),
        };
        (lc.line, col)
    }

    /// Byte offset of a 0-based line and column; a column past the line's end clamps to the end
    /// of that line, a line past the end clamps to the end of the text.
    pub fn offset(&self, line: u32, col: u32, unit: ColumnUnit) -> usize {
        let Some(range) = self.index.line(line) else { return self.len };
        let line_start: usize = range.start().into();
        let line_end = {
            let end: usize = range.end().into();
            end
        };
        let lc = match unit {
            ColumnUnit::Utf8 => Some(LineCol { line, col }),
            ColumnUnit::Utf16 => self.index.to_utf8(WideEncoding::Utf16, WideLineCol { line, col }),
            ColumnUnit::CodePoint => self.index.to_utf8(WideEncoding::Utf32, WideLineCol { line, col }),
        };
        match lc.and_then(|lc| self.index.offset(lc)) {
            Some(o) => usize::from(o).clamp(line_start, line_end),
            None => line_end,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_after_emoji_and_cjk() {
        let text = "ab\n🎉漢 VAL-A-001\n";
        let p = Positions::new(text);
        let at = text.find("VAL").unwrap();
        assert_eq!(p.line_col(at, ColumnUnit::Utf8), (1, 8));
        assert_eq!(p.line_col(at, ColumnUnit::Utf16), (1, 4));
        assert_eq!(p.line_col(at, ColumnUnit::CodePoint), (1, 3));
        assert_eq!(p.offset(1, 4, ColumnUnit::Utf16), at);
        assert_eq!(p.offset(1, 3, ColumnUnit::CodePoint), at);
    }

    #[test]
    fn out_of_range_clamps() {
        let p = Positions::new("abc\r\nde");
        assert_eq!(p.line_col(999, ColumnUnit::Utf16), (1, 2));
        assert_eq!(p.offset(9, 0, ColumnUnit::Utf16), 7);
        assert_eq!(p.offset(1, 99, ColumnUnit::Utf16), 7);
    }
}
