//! Where lines end, the one rule for every file read here: at `\n`, `\r\n` or a lone `\r`
//! (LSP 3.17 and CommonMark both count a lone `\r`; an editor following the spec sends
//! positions by it). Line numbers, columns, per-line parsing and the language server's line
//! index all go by this.

/// Whether the byte at `i` is the last of a line break: `\n`, or `\r` not followed by `\n`.
pub fn ends_line(bytes: &[u8], i: usize) -> bool {
    match bytes[i] {
        b'\n' => true,
        b'\r' => bytes.get(i + 1) != Some(&b'\n'),
        _ => false,
    }
}

/// The start of the line holding byte `at`.
pub fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind(['\n', '\r']).map_or(0, |p| p + 1)
}

/// The end of the line holding byte `at`, before its line break (or the end of the text).
pub fn line_end(text: &str, at: usize) -> usize {
    text[at..].find(['\n', '\r']).map_or(text.len(), |p| at + p)
}

/// The lines of `text`, each with its line break (the last one may have none).
pub fn split_inclusive(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let end = (start..bytes.len()).find(|&i| ends_line(bytes, i)).map_or(bytes.len(), |i| i + 1);
        let line = &text[start..end];
        start = end;
        Some(line)
    })
}

/// `text` with each lone `\r` as `\n`: the same length, so every byte offset stays valid, for
/// readers that count only `\n` (or miss a lone `\r` somewhere).
pub fn lone_cr_as_lf(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let lone = |i: usize| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n');
    if !memchr::memchr_iter(b'\r', bytes).any(lone) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = bytes.to_vec();
    for i in memchr::memchr_iter(b'\r', bytes).filter(|&i| lone(i)) {
        out[i] = b'\n';
    }
    // Only ASCII bytes changed, for ASCII bytes.
    std::borrow::Cow::Owned(String::from_utf8(out).expect("still UTF-8"))
}

/// The 1-based line and column (in bytes) just after `bytes`.
pub fn line_and_column_after(bytes: &[u8]) -> (usize, usize) {
    let breaks = (0..bytes.len()).filter(|&i| ends_line(bytes, i)).count();
    let last_start = (0..bytes.len()).rev().find(|&i| ends_line(bytes, i)).map_or(0, |i| i + 1);
    (breaks + 1, bytes.len() - last_start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lf_crlf_and_a_lone_cr_each_end_a_line() {
        let text = "a\nb\r\nc\rd\r\r\ne";
        assert_eq!(split_inclusive(text).collect::<Vec<_>>(), ["a\n", "b\r\n", "c\r", "d\r", "\r\n", "e"]);
        assert_eq!(line_start(text, text.find('d').unwrap()), text.find('d').unwrap());
        assert_eq!(line_end(text, text.find('c').unwrap()), text.find('c').unwrap() + 1);
        assert_eq!(line_and_column_after(b"ab\rcd\r\nxyz"), (3, 4));
        assert_eq!(line_and_column_after(b""), (1, 1));
        assert_eq!(split_inclusive("").count(), 0);
        assert_eq!(lone_cr_as_lf("a\rb\r\nc\r"), "a\nb\r\nc\n");
        assert!(matches!(lone_cr_as_lf("a\r\nb"), std::borrow::Cow::Borrowed(_)));
    }
}
