//! Hover text (Markdown) for assertion and feature ids, the same wherever the id appears.

use std::fmt::Write;

use super::mission::MissionAnalysis;
use crate::model::proof::{Proof, RunResult, Verdict};
use crate::model::Feature;

/// Title, body, tool, evidence, check, claiming feature and latest validation status.
pub fn assertion_hover(analysis: &MissionAnalysis, id: &str) -> String {
    let mut out = String::new();
    let Some(a) = analysis.assertion(id) else {
        let _ = write!(out, "**{id}**: not an assertion of validation-contract.md");
        return out;
    };
    let _ = writeln!(out, "**{id}**: {}", a.title);
    if let Some(area) = &a.area {
        let _ = writeln!(out, "\n*Area:* {area}");
    }
    if !a.description.is_empty() {
        let _ = writeln!(out, "\n{}", shortened(&a.description));
    }
    let mut fields = Vec::new();
    fields.push(format!("*Tool:* {}", a.tool.as_ref().map_or("(missing)".to_string(), |t| format!("`{}`", t.value))));
    fields.push(format!("*Evidence:* {}", a.evidence.as_ref().map_or("(missing)".to_string(), |e| e.value.join(", "))));
    if let Some(check) = &a.check {
        fields.push(format!("*Check:* `{}`", check.value));
    }
    let claimants: Vec<&Feature> = analysis.features().map_or_else(Vec::new, |f| {
        analysis.claims_of(id).iter().map(|c| &*f.features[c.feature]).filter(|f| !f.is_cancelled()).collect()
    });
    fields.push(match claimants.as_slice() {
        [] => "*Claimed by:* no feature".to_string(),
        list => format!(
            "*Claimed by:* {}",
            super::checks::named(
                &list.iter().take(super::checks::MAX_NAMED + 1).map(|f| feature_label(f)).collect::<Vec<_>>(),
                list.len()
            )
        ),
    });
    match analysis.validation_of(id) {
        Some(v) => {
            let detail = v.label().strip_prefix(&v.status).unwrap_or_default().to_string();
            let mut line = format!("*Validation:* **{}**{detail}", v.status);
            if !v.evidence.is_empty() {
                line.push_str(&format!(
                    "; evidence: {}",
                    v.evidence.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
                ));
            }
            fields.push(line);
            if let Some(issues) = v.issues.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                fields.push(format!("- {}", shortened(issues)));
            }
        }
        None => fields.push("*Validation:* not validated yet".to_string()),
    }
    let _ = write!(out, "\n{}", fields.join("  \n"));
    out
}

/// Description, milestone, status, claims and the last handoff's salient summary.
pub fn feature_hover(analysis: &MissionAnalysis, id: &str) -> String {
    let mut out = String::new();
    let Some(f) = analysis.feature(id) else {
        let _ = write!(out, "**{id}**: not a feature of features.json");
        return out;
    };
    let kind = match f.validator() {
        Some(k) => format!(" ({} validator)", k.folder()),
        None => String::new(),
    };
    let _ = writeln!(out, "**{id}**{kind}");
    if let Some(d) = &f.description {
        let _ = writeln!(out, "\n{}", shortened(&d.value));
    }
    let mut fields = vec![
        format!("*Milestone:* {}", f.milestone().map_or("none".to_string(), |m| format!("`{m}`"))),
        format!("*Status:* {}", f.status().map_or("(missing)".to_string(), |s| format!("`{s}`"))),
    ];
    if let Some(skill) = f.skill() {
        fields.push(format!("*Skill:* `{skill}`"));
    }
    if !f.claims().is_empty() {
        fields.push(format!(
            "*Fulfills:* {}",
            f.claims().iter().map(|c| c.value.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    if !f.preconditions.is_empty() {
        fields.push(format!(
            "*Preconditions:* {}",
            f.preconditions.iter().map(|p| shortened(&p.value).into_owned()).collect::<Vec<_>>().join("; ")
        ));
    }
    if !f.expected_behavior.is_empty() {
        fields.push(format!(
            "*Expected behavior:* {}",
            f.expected_behavior.iter().map(|b| shortened(b).into_owned()).collect::<Vec<_>>().join("; ")
        ));
    }
    let mut proof = None;
    match analysis.last_handoff(f) {
        Some(h) => {
            let state = h.file.success_state.as_deref().map(|s| format!(", {s}")).unwrap_or_default();
            fields.push(format!("*Last handoff* (`{}`{state}): {}", h.path, shortened(h.file.handoff.summary())));
            proof = h.proof.clone();
        }
        None => fields.push("*Last handoff:* none yet".to_string()),
    }
    let _ = write!(out, "\n{}", fields.join("  \n"));
    if let Some(p) = proof {
        out.push_str(&proof_text(&p));
    }
    out
}

/// The red-green proof of the last handoff: the verdict, why, and each run on both sides with
/// its exit code; the output of runs that failed where they had to pass, or passed where they
/// had to fail.
fn proof_text(p: &Proof) -> String {
    let verdict = match p.verdict {
        Verdict::Proven => "proven",
        Verdict::Unproven => "unproven",
        Verdict::Refused => "refused",
    };
    let mut out = format!("\n\n*Red-green proof:* **{verdict}**");
    for reason in &p.reasons {
        out.push_str(&format!("\n- {}", shortened(reason)));
    }
    for (side, label, want) in
        [(&p.before, "at the start", RunResult::Failed), (&p.after, "at the handoff", RunResult::Passed)]
    {
        let Some(side) = side else { continue };
        let commit = side.commit.get(..10).unwrap_or(&side.commit);
        for r in &side.runs {
            let how = match (r.result, r.exit_code) {
                (RunResult::Absent, _) => "not there yet".to_string(),
                (RunResult::NoTests, Some(c)) => format!("exit {c}, no test ran"),
                (_, Some(c)) => format!("exit {c}"),
                (_, None) => "could not run".to_string(),
            };
            out.push_str(&format!("\n- {label} (`{commit}`): `{}`: {how}", r.command));
            let unexpected = match want {
                RunResult::Failed => r.result == RunResult::Passed,
                _ => r.result != RunResult::Passed,
            };
            if unexpected && !r.output_tail.trim().is_empty() {
                out.push_str(&format!("\n\n```text\n{}\n```", shortened(r.output_tail.trim_end())));
            }
        }
    }
    out
}

/// Hover text longer than this is cut: a hover is a glance, and a megabyte description would
/// be sent whole on every hover.
const HOVER_TEXT_MAX: usize = 4000;

/// `text` up to `HOVER_TEXT_MAX` bytes (at a character boundary), marked when cut.
fn shortened(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= HOVER_TEXT_MAX {
        return text.into();
    }
    let mut end = HOVER_TEXT_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… *({} more bytes; the rest is in the file)*", &text[..end], text.len() - end).into()
}

fn feature_label(f: &Feature) -> String {
    let id = f.id().unwrap_or("(feature without id)");
    let mut details = Vec::new();
    if let Some(m) = f.milestone() {
        details.push(format!("milestone `{m}`"));
    }
    if let Some(s) = f.status() {
        details.push(s.to_string());
    }
    if details.is_empty() {
        format!("`{id}`")
    } else {
        format!("`{id}` ({})", details.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crowd_of_claimants_is_named_by_its_first_few() {
        use crate::analysis::mission::{MissionAnalysis, MissionParts};
        use crate::model::{contract, features};
        use std::sync::Arc;
        let claimants: Vec<String> =
            (0..3000).map(|i| format!(r#"{{"id": "f{i}", "fulfills": ["VAL-A-001"]}}"#)).collect();
        let analysis = MissionAnalysis::new(MissionParts {
            contract: Some(Arc::new(contract::parse("### VAL-A-001: one\n"))),
            features: Some(Arc::new(features::parse(&format!(r#"{{"features": [{}]}}"#, claimants.join(","))))),
            ..MissionParts::default()
        });
        let hover = assertion_hover(&analysis, "VAL-A-001");
        assert!(hover.contains("`f4` and 2,995 more") && !hover.contains("`f5`"), "{hover}");
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        assert_eq!(shortened("short"), "short");
        let long = "é".repeat(HOVER_TEXT_MAX);
        let cut = shortened(&long);
        assert!(cut.len() < HOVER_TEXT_MAX + 100 && cut.contains("more bytes"), "{}", cut.len());
    }
}
