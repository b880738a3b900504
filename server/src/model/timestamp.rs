//! Timestamps as the mission files write them: RFC 3339, UTC, always three fractional digits
//! (fixed width, so lines sort and align as text).

pub fn now_rfc3339() -> String {
    format_utc(time::OffsetDateTime::now_utc())
}

/// `at` in the same form.
pub fn rfc3339(at: std::time::SystemTime) -> String {
    format_utc(time::OffsetDateTime::from(at))
}

/// Seconds since the Unix epoch of an RFC 3339 timestamp (`2026-01-05T09:00:00.5Z`, offsets
/// allowed; the date and time apart by `T`, `t` or a space), whoever wrote it.
pub fn unix_seconds(ts: &str) -> Option<f64> {
    let ts = ts.trim();
    if !matches!(ts.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let t = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp() as f64 + f64::from(t.nanosecond()) / 1e9)
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
            assert!(
                b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':' && b[19] == b'.',
                "{ts}"
            );
        }
        let at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_390_573_500);
        assert_eq!(super::rfc3339(at), "2026-11-22T23:36:13.500Z");
    }

    #[test]
    fn timestamps_parse_with_fractions_and_offsets() {
        assert_eq!(super::unix_seconds("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(super::unix_seconds("2026-11-22T23:36:13.5Z"), Some(1_795_390_573.5));
        assert_eq!(super::unix_seconds("2026-11-23T01:36:13.5+02:00"), Some(1_795_390_573.5));
        assert_eq!(super::unix_seconds("2000-02-29T12:00:00Z"), Some(951_825_600.0));
        assert_eq!(
            super::unix_seconds(" 2000-02-29 12:00:00z "),
            Some(951_825_600.0),
            "a space between, lower case, blanks around"
        );
        for bad in ["", "yesterday", "2026-13-01T00:00:00Z", "2026-11-22T23:36:13", "2026-11-22T23:36:13Zjunk"] {
            assert_eq!(super::unix_seconds(bad), None, "{bad}");
        }
    }
}
