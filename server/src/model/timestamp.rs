//! Timestamps as the mission files write them: RFC 3339, UTC, millisecond precision.

pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(now.millisecond() as u32 * 1_000_000).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn shape() {
        let ts = super::now_rfc3339();
        assert!(ts.ends_with('Z') && ts.len() == "2026-11-22T22:01:35.123Z".len(), "{ts}");
    }
}
