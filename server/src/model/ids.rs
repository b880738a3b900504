//! The assertion id grammar: `VAL-` AREA `-` NUMBER, AREA = one or more `[A-Z][A-Z0-9]*`
//! segments joined by `-`, NUMBER = three or more digits.

/// True when `s` is a well-formed assertion id. One pass over the bytes: it runs for every
/// heading and claim on each analysis.
pub fn is_assertion_id(s: &str) -> bool {
    let Some(rest) = s.as_bytes().strip_prefix(b"VAL-") else {
        return false;
    };
    let mut segments = rest.split(|&b| b == b'-');
    let mut areas = 0;
    let mut last: &[u8] = &[];
    for (i, seg) in segments.by_ref().enumerate() {
        if i > 0 {
            // The previous segment was not the last: it must be an area.
            if !is_area_segment(last) {
                return false;
            }
            areas += 1;
        }
        last = seg;
    }
    areas > 0 && last.len() >= 3 && last.iter().all(u8::is_ascii_digit)
}

fn is_area_segment(seg: &[u8]) -> bool {
    matches!(seg.first(), Some(b'A'..=b'Z')) && seg[1..].iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// True when `s` is meant as an assertion id (starts with `VAL-` or `VAL_`, any case), so a
/// grammar violation is worth a `malformed-id` diagnostic. Prose is never passed here.
pub fn looks_like_assertion_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 4 && b[..3].eq_ignore_ascii_case(b"VAL") && matches!(b[3], b'-' | b'_')
}

/// Explains what is wrong with an id-looking string, for the `malformed-id` message.
pub fn explain_malformed(s: &str) -> String {
    if !s.starts_with("VAL-") {
        return format!("`{s}` is not a valid assertion id: ids start with `VAL-` (upper case)");
    }
    let rest = &s[4..];
    match rest.rsplit_once('-') {
        None => format!("`{s}` is not a valid assertion id: expected `VAL-AREA-NNN`"),
        Some((area, number)) => {
            if number.len() < 3 || !number.bytes().all(|b| b.is_ascii_digit()) {
                format!("`{s}` is not a valid assertion id: the number must be three or more digits (`VAL-AREA-001`)")
            } else if area.is_empty() || !area.split('-').all(|seg| is_area_segment(seg.as_bytes())) {
                format!("`{s}` is not a valid assertion id: the area must be upper-case letters and digits, starting with a letter")
            } else {
                format!("`{s}` is not a valid assertion id")
            }
        }
    }
}

/// The area part of a well-formed id (`VAL-CROSS-AUTH-001` -> `CROSS-AUTH`).
pub fn area_of(id: &str) -> Option<&str> {
    let rest = id.strip_prefix("VAL-")?;
    Some(rest.rsplit_once('-')?.0)
}

/// Finds the id-shaped token (letters, digits, `-`, `_`, starting with `VAL`) that covers byte
/// `offset` of `text`, returning its byte range. Used to resolve ids in any mission file.
pub fn token_at(text: &str, offset: usize) -> Option<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    if offset > bytes.len() {
        return None;
    }
    let is_tok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let mut start = offset;
    while start > 0 && is_tok(bytes[start - 1]) {
        start -= 1;
    }
    let mut end = offset;
    while end < bytes.len() && is_tok(bytes[end]) {
        end += 1;
    }
    // Trailing `-` or `_` belongs to prose ("VAL-A-001-"), not the token.
    while end > start && matches!(bytes[end - 1], b'-' | b'_') {
        end -= 1;
    }
    (end > start).then_some(start..end)
}

/// Every well-formed assertion id in `text` with its byte range, e.g. for references in
/// mission.md, handoffs and reports.
pub fn find_assertion_ids(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(found) = memchr_val(bytes, i) {
        let boundary_ok = found == 0
            || !(bytes[found - 1].is_ascii_alphanumeric() || bytes[found - 1] == b'-' || bytes[found - 1] == b'_');
        if let Some(range) = token_at(text, found) {
            let tok = &text[range.clone()];
            if boundary_ok && range.start == found && is_assertion_id(tok) {
                out.push((range.clone(), tok));
            }
            i = range.end.max(found + 1);
        } else {
            i = found + 1;
        }
    }
    out
}

fn memchr_val(bytes: &[u8], from: usize) -> Option<usize> {
    bytes.get(from..)?.windows(4).position(|w| w == b"VAL-").map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        for ok in ["VAL-AUTH-001", "VAL-CROSS-AUTH-001", "VAL-A1-0001", "VAL-X-123456"] {
            assert!(is_assertion_id(ok), "{ok}");
        }
        for bad in [
            "VAL-AUTH-01",
            "VAL-auth-001",
            "VAL--001",
            "VAL-1A-001",
            "VAL-AUTH",
            "val-AUTH-001",
            "VAL-AUTH-00a",
            "VAL-AUTH--001",
            "VAL_AUTH_001",
            "",
        ] {
            assert!(!is_assertion_id(bad), "{bad}");
        }
    }

    #[test]
    fn looks_like() {
        assert!(looks_like_assertion_id("VAL-AUTH-01"));
        assert!(looks_like_assertion_id("val_auth_001"));
        assert!(!looks_like_assertion_id("VALUE"));
        assert!(!looks_like_assertion_id("feat-auth"));
    }

    #[test]
    fn finds_ids_in_prose_with_boundaries() {
        let text = "see VAL-AUTH-001, and XVAL-A-001 or (VAL-CROSS-A-002). 🎉VAL-B-003";
        let ids: Vec<_> = find_assertion_ids(text).into_iter().map(|(_, s)| s).collect();
        assert_eq!(ids, ["VAL-AUTH-001", "VAL-CROSS-A-002", "VAL-B-003"]);
    }

    #[test]
    fn token_at_edges() {
        let text = "x VAL-A-001.";
        assert_eq!(token_at(text, 2), Some(2..11));
        assert_eq!(token_at(text, 11), Some(2..11));
        assert_eq!(token_at(text, 100), None);
        assert_eq!(token_at("", 0), None);
    }
}
