//! The report as JSON (`missions report --format json`).

use super::MissionReport;

/// Pretty JSON with stable (declared) key order; maps are sorted.
pub fn render_json(r: &MissionReport) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    s.push('\n');
    s
}
