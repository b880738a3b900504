//! Code lens texts: above each feature its status and worker sessions; above each assertion
//! who claims it and its latest validation status; at the top of the contract the counts.

use super::diagnostic::DocKind;
use super::mission::MissionAnalysis;
use crate::model::Span;

/// Worker sessions named in a feature's lens; more are counted.
const MAX_SESSIONS_SHOWN: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lens {
    pub doc: DocKind,
    /// Where the lens sits (its line): an id, or the start of the document.
    pub span: Span,
    pub title: String,
    /// The mission command the lens runs when clicked; `None` for a label.
    pub action: Option<LensAction>,
}

/// Mission commands offered as lenses where they apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LensAction {
    /// `missions.start`, at the top of the contract.
    Start,
    /// `missions.runFeature`, beside a feature that can be run again or for the first time.
    RunFeature(String),
}

/// The contract's counts at its start, then one lens per assertion heading.
pub fn contract_lenses(analysis: &MissionAnalysis) -> Vec<Lens> {
    let Some(contract) = analysis.contract() else { return Vec::new() };
    let validation = analysis.parts.validation.as_deref();
    let status_of = |id: &str| validation.and_then(|v| v.assertions.get(id)).map(|s| if s.status.is_empty() { "pending" } else { s.status.as_str() });
    let mut out = Vec::with_capacity(contract.assertions.len() + 1);
    let (mut total, mut claimed, mut passed) = (0, 0, 0);
    out.push(Lens { doc: DocKind::Contract, span: 0..0, title: String::new(), action: None });
    for a in &contract.assertions {
        let id = a.id.value.as_str();
        let first = analysis.assertion(id).is_some_and(|f| std::ptr::eq(f, a));
        let owners: Vec<&str> = analysis.features().map_or_else(Vec::new, |f| {
            let mut v: Vec<&str> = analysis.claims_of(id).iter().map(|c| &f.features[c.feature]).filter(|f| !f.is_cancelled()).map(|f| f.id().unwrap_or("(feature without id)")).collect();
            v.dedup();
            v
        });
        let status = status_of(id);
        if first {
            total += 1;
            claimed += usize::from(!owners.is_empty());
            passed += usize::from(status == Some("passed"));
        }
        let claim = match owners.as_slice() {
            [] if analysis.features().is_none() => "no features.json".to_string(),
            [] => "unclaimed".to_string(),
            [one] => format!("claimed by {one}"),
            many => format!("claimed by {} features: {}", many.len(), many.join(", ")),
        };
        let validation = match (status, validation.and_then(|v| v.assertions.get(id))) {
            (Some(s), Some(state)) => match (&state.milestone, state.round) {
                (Some(m), Some(r)) => format!("{s} ({m}, round {r})"),
                (Some(m), None) => format!("{s} ({m})"),
                _ => s.to_string(),
            },
            _ => "not validated yet".to_string(),
        };
        out.push(Lens { doc: DocKind::Contract, span: a.id.span.clone(), title: format!("{claim} · {validation}"), action: None });
    }
    out[0].title = format!("{total} assertion{} · {claimed} claimed · {passed} passed", if total == 1 { "" } else { "s" });
    let top = out[0].span.clone();
    out.insert(1, Lens { doc: DocKind::Contract, span: top, title: "▶ Start mission".to_string(), action: Some(LensAction::Start) });
    out
}

/// One lens per feature: its status and worker sessions.
pub fn feature_lenses(analysis: &MissionAnalysis) -> Vec<Lens> {
    let Some(features) = analysis.features() else { return Vec::new() };
    features
        .features
        .iter()
        .flat_map(|f| {
            let status = f.status().unwrap_or("no status");
            let sessions = &f.worker_session_ids;
            let workers = match sessions.len() {
                0 => "no worker sessions".to_string(),
                n => {
                    let shown: Vec<&str> = sessions.iter().take(MAX_SESSIONS_SHOWN).map(|s| s.value.as_str()).collect();
                    let more = if n > MAX_SESSIONS_SHOWN { format!(" +{}", n - MAX_SESSIONS_SHOWN) } else { String::new() };
                    format!("{n} worker session{}: {}{more}", if n == 1 { "" } else { "s" }, shown.join(", "))
                }
            };
            let span = f.id.as_ref().map_or(f.span.start..f.span.start + 1, |id| id.span.clone());
            let label = Lens { doc: DocKind::Features, span: span.clone(), title: format!("{status} · {workers}"), action: None };
            // Features that can run (again) get a button; the server still checks dependencies.
            let run = match (f.id(), status) {
                (Some(id), "pending" | "failed" | "blocked") => {
                    Some(Lens { doc: DocKind::Features, span, title: "▶ Run feature".to_string(), action: Some(LensAction::RunFeature(id.to_string())) })
                }
                _ => None,
            };
            std::iter::once(label).chain(run)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::analysis::mission::MissionParts;
    use crate::model::{contract, features, records};

    #[test]
    fn counts_owners_and_validation() {
        let c = "### VAL-A-001: x\n### VAL-A-002: y\n### VAL-A-001: dup\n";
        let f = r#"{"features": [{"id": "f1", "status": "completed", "fulfills": ["VAL-A-001"], "workerSessionIds": ["s1", "s2", "s3", "s4"]}, {"id": "f2", "status": "cancelled", "fulfills": ["VAL-A-002"]}]}"#;
        let v = records::load::<records::ValidationState>(r#"{"assertions": {"VAL-A-001": {"status": "passed", "milestone": "m", "round": 2}}}"#).value.unwrap();
        let a = MissionAnalysis::new(MissionParts { contract: Some(Arc::new(contract::parse(c))), features: Some(Arc::new(features::parse(f))), validation: Some(Arc::new(v)), ..MissionParts::default() });
        let titles: Vec<String> = contract_lenses(&a).into_iter().map(|l| l.title).collect();
        assert_eq!(titles, ["2 assertions · 1 claimed · 1 passed", "▶ Start mission", "claimed by f1 · passed (m, round 2)", "unclaimed · not validated yet", "claimed by f1 · passed (m, round 2)"]);
        let titles: Vec<String> = feature_lenses(&a).into_iter().map(|l| l.title).collect();
        assert_eq!(titles, ["completed · 4 worker sessions: s1, s2, s3 +1", "cancelled · no worker sessions"]);
    }

    #[test]
    fn runnable_features_get_a_run_button() {
        let f = r#"{"features": [{"id": "a", "status": "pending"}, {"id": "b", "status": "failed"}, {"id": "c", "status": "in_progress"}, {"id": "d", "status": "completed"}]}"#;
        let a = MissionAnalysis::new(MissionParts { features: Some(Arc::new(features::parse(f))), ..MissionParts::default() });
        let actions: Vec<Option<LensAction>> = feature_lenses(&a).into_iter().map(|l| l.action).collect();
        assert_eq!(actions, [None, Some(LensAction::RunFeature("a".into())), None, Some(LensAction::RunFeature("b".into())), None, None]);
    }
}
