//! Byte offsets <-> line/column in the encodings clients use (UTF-8, UTF-16, code points),
//! with a line index that an edit updates. Out-of-range input is clamped, never a panic.

use crate::model::TextChange;

/// How columns are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnUnit {
    Utf8,
    Utf16,
    /// Unicode scalar values, as `missions check` prints columns.
    CodePoint,
}

/// The line index of a text: where its lines start and where its non-ASCII characters are.
/// Own rather than the `line-index` crate's so that an edit updates it (copying two small
/// vectors) instead of scanning the whole document again on every keystroke; a line is ended
/// by `\n` only, as there.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    /// Byte offset of the start of every line after the first (one past each `\n`).
    line_starts: Vec<usize>,
    /// Byte offset and UTF-8 length of every character that is not ASCII, in order.
    wide: Vec<(usize, u8)>,
    len: usize,
}

impl Positions {
    pub fn new(text: &str) -> Self {
        let mut p = Positions { len: text.len(), ..Positions::default() };
        scan(text, 0, &mut p.line_starts, &mut p.wide);
        p
    }

    /// The index of `new_text`, which is the text of `self` changed by `change`: only the
    /// changed bytes are scanned. A change that does not fit the texts rebuilds the index.
    pub fn edited(&self, change: TextChange, new_text: &str) -> Self {
        let Some(inserted) = new_text.get(change.start..change.new_end).filter(|_| change.fits(self.len, new_text.len())) else {
            return Positions::new(new_text);
        };
        let shift = |at: usize| at - change.old_end + change.new_end;
        // Lines starting at or before the change keep their start; those whose `\n` was at or
        // after the change's old end move with it.
        let keep = self.line_starts.partition_point(|&s| s <= change.start);
        let moved = self.line_starts.partition_point(|&s| s <= change.old_end);
        let mut line_starts = Vec::with_capacity(self.line_starts.len() + 16);
        line_starts.extend_from_slice(&self.line_starts[..keep]);
        let keep_wide = self.wide.partition_point(|&(at, _)| at < change.start);
        let moved_wide = self.wide.partition_point(|&(at, _)| at < change.old_end);
        let mut wide = Vec::with_capacity(self.wide.len() + 16);
        wide.extend_from_slice(&self.wide[..keep_wide]);
        scan(inserted, change.start, &mut line_starts, &mut wide);
        line_starts.extend(self.line_starts[moved..].iter().map(|&s| shift(s)));
        wide.extend(self.wide[moved_wide..].iter().map(|&(at, n)| (shift(at), n)));
        Positions { line_starts, wide, len: new_text.len() }
    }

    fn line_start(&self, line: usize) -> Option<usize> {
        match line.checked_sub(1) {
            None => Some(0),
            Some(i) => self.line_starts.get(i).copied(),
        }
    }

    /// The non-ASCII characters from byte `from` on.
    fn wide_from(&self, from: usize) -> &[(usize, u8)] {
        &self.wide[self.wide.partition_point(|&(at, _)| at < from)..]
    }

    /// 0-based line and column of byte `offset` (clamped to the text).
    pub fn line_col(&self, offset: usize, unit: ColumnUnit) -> (u32, u32) {
        let offset = offset.min(self.len);
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_start(line).unwrap_or(0);
        let mut col = offset - start;
        if unit != ColumnUnit::Utf8 {
            // Characters wholly before `offset` count as their width in `unit`.
            for &(_, n) in self.wide_from(start).iter().take_while(|&&(at, n)| at + n as usize <= offset) {
                col -= n as usize - wide_len(n, unit);
            }
        }
        (line as u32, col as u32)
    }

    /// Byte offset of a 0-based line and column; a column past the line's end clamps to the end
    /// of that line, a line past the end clamps to the end of the text.
    pub fn offset(&self, line: u32, col: u32, unit: ColumnUnit) -> usize {
        let Some(line_start) = self.line_start(line as usize) else { return self.len };
        let line_end = self.line_starts.get(line as usize).copied().unwrap_or(self.len);
        let mut col = col as usize;
        if unit != ColumnUnit::Utf8 {
            // Each character before the column is `n` bytes for its width in `unit`.
            for &(at, n) in self.wide_from(line_start).iter().take_while(|&&(at, _)| at < line_end) {
                if col <= at - line_start {
                    break;
                }
                col += n as usize - wide_len(n, unit);
            }
        }
        line_start.saturating_add(col).clamp(line_start, line_end)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Width in `unit` of a character of `n` UTF-8 bytes.
fn wide_len(n: u8, unit: ColumnUnit) -> usize {
    match unit {
        ColumnUnit::Utf16 if n == 4 => 2,
        ColumnUnit::Utf8 => n as usize,
        _ => 1,
    }
}

/// One character of `bytes` at `i` (UTF-8: a lead byte says the length); returns the next position.
fn step(bytes: &[u8], i: usize, base: usize, line_starts: &mut Vec<usize>, wide: &mut Vec<(usize, u8)>) -> usize {
    let b = bytes[i];
    if b == b'\n' {
        line_starts.push(base + i + 1);
        return i + 1;
    }
    if b < 0x80 {
        return i + 1;
    }
    let n: u8 = match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        _ => 2,
    };
    wide.push((base + i, n));
    i + n as usize
}

/// Adds the line starts and non-ASCII characters of `text`, found at byte `base` of the whole
/// text. Eight bytes at a time: a word of ASCII (nearly all of a mission file) has its newlines
/// found with bit operations, not byte by byte.
fn scan(text: &str, base: usize, line_starts: &mut Vec<usize>, wide: &mut Vec<(usize, u8)>) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(word) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        if w & HIGH == 0 {
            // ASCII only: the high bit of each byte of `zero` is set exactly where `w` holds a
            // `\n` (the has-zero-byte test, exact because no byte has its high bit set).
            let x = w ^ (ONES * u64::from(b'\n'));
            let mut zero = !(((x & !HIGH) + !HIGH) | x | !HIGH);
            while zero != 0 {
                line_starts.push(base + i + zero.trailing_zeros() as usize / 8 + 1);
                zero &= zero - 1;
            }
            i += 8;
            continue;
        }
        let end = i + 8;
        while i < end {
            i = step(bytes, i, base, line_starts, wide);
        }
    }
    while i < bytes.len() {
        i = step(bytes, i, base, line_starts, wide);
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

    fn oracle_line_col(index: &line_index::LineIndex, offset: usize, unit: ColumnUnit) -> Option<(u32, u32)> {
        use line_index::{TextSize, WideEncoding};
        let lc = index.try_line_col(TextSize::new(offset as u32))?;
        let col = match unit {
            ColumnUnit::Utf8 => lc.col,
            ColumnUnit::Utf16 => index.to_wide(WideEncoding::Utf16, lc)?.col,
            ColumnUnit::CodePoint => index.to_wide(WideEncoding::Utf32, lc)?.col,
        };
        Some((lc.line, col))
    }

    fn oracle_offset(index: &line_index::LineIndex, len: usize, line: u32, col: u32, unit: ColumnUnit) -> usize {
        use line_index::{LineCol, WideEncoding, WideLineCol};
        let Some(range) = index.line(line) else { return len };
        let (start, end) = (usize::from(range.start()), usize::from(range.end()));
        let lc = match unit {
            ColumnUnit::Utf8 => Some(LineCol { line, col }),
            ColumnUnit::Utf16 => index.to_utf8(WideEncoding::Utf16, WideLineCol { line, col }),
            ColumnUnit::CodePoint => index.to_utf8(WideEncoding::Utf32, WideLineCol { line, col }),
        };
        lc.and_then(|lc| index.offset(lc)).map_or(end, |o| usize::from(o).clamp(start, end))
    }

    fn text() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(vec!["a", "b", "\n", "\r\n", "é", "漢", "🎉", "\"x\": 1,", "abcdefghij"]), 0..40).prop_map(|parts| parts.concat())
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// Built fresh or updated by an edit, the index answers as the `line-index` crate's does.
        #[test]
        fn answers_as_the_line_index_crate(old in text(), cut in 0usize..400, resume in 0usize..400, inserted in text(), probes in proptest::collection::vec((0usize..500, 0u32..12, 0u32..30), 12)) {
            let floor = |t: &str, mut i: usize| { i = i.min(t.len()); while !t.is_char_boundary(i) { i -= 1; } i };
            let (a, b) = (floor(&old, cut), floor(&old, resume));
            let range = a.min(b)..a.max(b);
            let new = format!("{}{}{}", &old[..range.start], inserted, &old[range.end..]);
            let updated = Positions::new(&old).edited(TextChange::replace(range, inserted.len()), &new);
            let fresh = Positions::new(&new);
            let index = line_index::LineIndex::new(&new);
            for p in [&updated, &fresh] {
                proptest::prop_assert_eq!(&p.line_starts, &fresh.line_starts);
                proptest::prop_assert_eq!(&p.wide, &fresh.wide);
                for &(offset, line, col) in &probes {
                    for unit in [ColumnUnit::Utf8, ColumnUnit::Utf16, ColumnUnit::CodePoint] {
                        let offset = floor(&new, offset);
                        proptest::prop_assert_eq!(Some(p.line_col(offset, unit)), oracle_line_col(&index, offset, unit));
                        proptest::prop_assert_eq!(p.offset(line, col, unit), oracle_offset(&index, new.len(), line, col, unit));
                    }
                }
            }
        }
    }

    #[test]
    fn a_change_that_does_not_fit_rebuilds() {
        let p = Positions::new("ab\ncd");
        let q = p.edited(TextChange { start: 1, old_end: 9, new_end: 2 }, "a\n🎉");
        assert_eq!((q.line_starts.as_slice(), q.wide.as_slice()), ([2].as_slice(), [(2, 4)].as_slice()));
    }

    #[test]
    fn out_of_range_clamps() {
        let p = Positions::new("abc\r\nde");
        assert_eq!(p.line_col(999, ColumnUnit::Utf16), (1, 2));
        assert_eq!(p.offset(9, 0, ColumnUnit::Utf16), 7);
        assert_eq!(p.offset(1, 99, ColumnUnit::Utf16), 7);
    }
}
