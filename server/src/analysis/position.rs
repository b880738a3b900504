//! Byte offsets <-> line/column in the encodings clients use (UTF-8, UTF-16, code points),
//! with a line index that an edit updates. Out-of-range input is clamped, never a panic.

use crate::model::lines::ends_line;
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
/// vectors) instead of scanning the whole document again on every keystroke. A line ends at
/// `\n`, `\r\n` or a lone `\r` (LSP 3.17, CommonMark: see `model::lines`).
#[derive(Debug, Clone, Default)]
pub struct Positions {
    /// Byte offset of the start of every line after the first (one past each line break).
    line_starts: Vec<usize>,
    /// Byte offset and UTF-8 length of every character that is not ASCII, in order.
    wide: Vec<(usize, u8)>,
    len: usize,
}

impl Positions {
    pub fn new(text: &str) -> Self {
        let mut p = Positions { len: text.len(), ..Positions::default() };
        scan(text.as_bytes(), 0..text.len(), &mut p.line_starts, &mut p.wide);
        p
    }

    /// The index of `new_text`, which is the text of `self` changed by `change`: only the
    /// changed bytes are scanned. A change that does not fit the texts rebuilds the index.
    pub fn edited(&self, change: TextChange, new_text: &str) -> Self {
        if new_text.get(change.start..change.new_end).is_none() || !change.fits(self.len, new_text.len()) {
            return Positions::new(new_text);
        }
        let shift = |at: usize| at - change.old_end + change.new_end;
        // A line start depends on the two bytes before it (`\r` ends a line unless `\n`
        // follows). Starts before the change keep their place; those past its old end move
        // with it; the ones between are found again: after the byte before the change (a `\r`
        // there may have become, or stopped being, half of a `\r\n`), then in the new bytes.
        let keep = self.line_starts.partition_point(|&s| s < change.start);
        let moved = self.line_starts.partition_point(|&s| s <= change.old_end);
        let mut line_starts = Vec::with_capacity(self.line_starts.len() + 16);
        line_starts.extend_from_slice(&self.line_starts[..keep]);
        let bytes = new_text.as_bytes();
        if change.start > 0 && ends_line(bytes, change.start - 1) {
            line_starts.push(change.start);
        }
        let keep_wide = self.wide.partition_point(|&(at, _)| at < change.start);
        let moved_wide = self.wide.partition_point(|&(at, _)| at < change.old_end);
        let mut wide = Vec::with_capacity(self.wide.len() + 16);
        wide.extend_from_slice(&self.wide[..keep_wide]);
        scan(bytes, change.start..change.new_end, &mut line_starts, &mut wide);
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
fn step(bytes: &[u8], i: usize, line_starts: &mut Vec<usize>, wide: &mut Vec<(usize, u8)>) -> usize {
    let b = bytes[i];
    if b < 0x80 {
        if ends_line(bytes, i) {
            line_starts.push(i + 1);
        }
        return i + 1;
    }
    let n: u8 = match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        _ => 2,
    };
    wide.push((i, n));
    i + n as usize
}

/// Adds the line starts ending in `range` of `bytes` (the whole text: a `\r` at the range's
/// end looks at the byte after it) and the non-ASCII characters starting there. Eight bytes at
/// a time: a word of ASCII (nearly all of a mission file) has its line breaks found with bit
/// operations, not byte by byte.
fn scan(bytes: &[u8], range: std::ops::Range<usize>, line_starts: &mut Vec<usize>, wide: &mut Vec<(usize, u8)>) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte set exactly where `w` holds `byte` (the has-zero-byte test,
    // exact because no byte of `w` has its high bit set).
    let found = |w: u64, byte: u8| {
        let x = w ^ (ONES * u64::from(byte));
        !(((x & !HIGH) + !HIGH) | x | !HIGH)
    };
    let mut i = range.start;
    while let Some(word) = bytes.get(i..i + 8).filter(|_| i + 8 <= range.end) {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        if w & HIGH == 0 {
            let lf = found(w, b'\n');
            // Each byte's bit moved down one byte: set where the next byte is `\n`.
            let lf_next = (lf >> 8) | if bytes.get(i + 8) == Some(&b'\n') { 1 << 63 } else { 0 };
            let mut ends = lf | (found(w, b'\r') & !lf_next);
            while ends != 0 {
                line_starts.push(i + ends.trailing_zeros() as usize / 8 + 1);
                ends &= ends - 1;
            }
            i += 8;
            continue;
        }
        let end = i + 8;
        while i < end {
            i = step(bytes, i, line_starts, wide);
        }
    }
    while i < range.end {
        i = step(bytes, i, line_starts, wide);
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
        proptest::collection::vec(
            proptest::sample::select(vec![
                "a",
                "b",
                "\n",
                "\r\n",
                "\r",
                "\r\r\n",
                "é",
                "漢",
                "🎉",
                "\"x\": 1,",
                "abcdefghij",
            ]),
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    /// The reference's view of `text`: the `line-index` crate ends lines at `\n` only, so each
    /// lone `\r` becomes a `\n` (the same length: every offset stays where it is).
    fn as_lf(text: &str) -> String {
        let bytes = text.as_bytes();
        text.char_indices().map(|(i, c)| if c == '\r' && bytes.get(i + 1) != Some(&b'\n') { '\n' } else { c }).collect()
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// Built fresh or updated by an edit (one that joins or splits a `\r\n` too), the index
        /// answers as the `line-index` crate's does on the same text with lone `\r`s as `\n`s.
        #[test]
        fn answers_as_the_line_index_crate(old in text(), cut in 0usize..400, resume in 0usize..400, inserted in text(), probes in proptest::collection::vec((0usize..500, 0u32..12, 0u32..30), 12)) {
            let floor = |t: &str, mut i: usize| { i = i.min(t.len()); while !t.is_char_boundary(i) { i -= 1; } i };
            let (a, b) = (floor(&old, cut), floor(&old, resume));
            let range = a.min(b)..a.max(b);
            let new = format!("{}{}{}", &old[..range.start], inserted, &old[range.end..]);
            let updated = Positions::new(&old).edited(TextChange::replace(range, inserted.len()), &new);
            let fresh = Positions::new(&new);
            let index = line_index::LineIndex::new(&as_lf(&new));
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
    fn lf_crlf_and_a_lone_cr_each_end_one_line() {
        let text = "a\nb\r\nc\rd\r\re\n\rf";
        let p = Positions::new(text);
        assert_eq!(p.line_starts, [2, 5, 7, 9, 10, 12, 13]);
        assert_eq!(p.line_col(text.find('f').unwrap(), ColumnUnit::Utf16), (7, 0));
        // An edit that makes a lone `\r` half of a `\r\n`, and one that splits it again.
        let joined = p.edited(TextChange::replace(7..7, 1), "a\nb\r\nc\r\nd\r\re\n\rf");
        assert_eq!(joined.line_starts, [2, 5, 8, 10, 11, 13, 14]);
        let split = joined.edited(TextChange::replace(7..7, 1), "a\nb\r\nc\rx\nd\r\re\n\rf");
        assert_eq!(split.line_starts, Positions::new("a\nb\r\nc\rx\nd\r\re\n\rf").line_starts);
    }

    #[test]
    fn out_of_range_clamps() {
        let p = Positions::new("abc\r\nde");
        assert_eq!(p.line_col(999, ColumnUnit::Utf16), (1, 2));
        assert_eq!(p.offset(9, 0, ColumnUnit::Utf16), 7);
        assert_eq!(p.offset(1, 99, ColumnUnit::Utf16), 7);
    }
}
