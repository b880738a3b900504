//! Timestamps as the mission files write them: RFC 3339, UTC, always three fractional digits
//! (fixed width, so lines sort and align as text).

pub fn now_rfc3339() -> String {
    format_utc(time::OffsetDateTime::now_utc())
}

/// `at` in the same form.
pub fn rfc3339(at: std::time::SystemTime) -> String {
    format_utc(time::OffsetDateTime::from(at))
}

fn format_utc(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn shape() {
        for _ in 0..50 {
            let ts = super::now_rfc3339();
            assert!(ts.ends_with('Z') && ts.len() == "2026-11-22T22:01:35.123Z".len(), "{ts}");
            let b = ts.as_bytes();
            assert!(b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':' && b[19] == b'.', "{ts}");
        }
        let at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_390_573_500);
        assert_eq!(super::rfc3339(at), "2026-11-22T23:36:13.500Z");
    }
}
