//! Code lens texts: above each feature its status and worker sessions; above each assertion
//! who claims it and its latest validation status; at the top of the contract the counts.
//!
//! Lenses come in two steps so that a request for 10,000 of them stays cheap: the *slots*
//! (where each lens sits and what it is about, [`contract_slots`], [`feature_slots`]) and, for
//! the few lenses an editor shows, their title and action ([`resolve`]).

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

/// What a lens is about, by index into the analysed documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LensTarget {
    /// The contract's counts, at its start.
    Counts,
    /// "Start mission", at the contract's start.
    Start,
    /// An assertion heading: index into `contract.assertions`.
    Assertion(usize),
    /// A feature's status and sessions: index into `features`.
    Feature(usize),
    /// "Run feature" beside a runnable feature: index into `features`.
    RunFeature(usize),
}

/// An unresolved lens: where it sits and what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LensSlot {
    pub span: Span,
    pub target: LensTarget,
}

/// The contract's counts: distinct assertion ids, those claimed by a feature that is not
/// cancelled, those validated as passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub claimed: usize,
    pub passed: usize,
}

/// The contract's counts and "Start mission" at its start, then one slot per assertion heading.
pub fn contract_slots(analysis: &MissionAnalysis) -> Vec<LensSlot> {
    let Some(contract) = analysis.contract() else { return Vec::new() };
    let mut out = Vec::with_capacity(contract.assertions.len() + 2);
    out.push(LensSlot { span: 0..0, target: LensTarget::Counts });
    out.push(LensSlot { span: 0..0, target: LensTarget::Start });
    out.extend(
        contract
            .assertions
            .iter()
            .enumerate()
            .map(|(i, a)| LensSlot { span: a.id.span.clone(), target: LensTarget::Assertion(i) }),
    );
    out
}

/// One slot per feature (status and sessions), plus "Run feature" beside the runnable ones.
pub fn feature_slots(analysis: &MissionAnalysis) -> Vec<LensSlot> {
    let Some(features) = analysis.features() else { return Vec::new() };
    let mut out = Vec::with_capacity(features.features.len() * 2);
    for (i, f) in features.features.iter().enumerate() {
        let span = f.id.as_ref().map_or(f.span.start..f.span.start + 1, |id| id.span.clone());
        out.push(LensSlot { span: span.clone(), target: LensTarget::Feature(i) });
        // Pending features get a button; the server still checks dependencies.
        if f.id().is_some() && f.is_pending() && !f.is_validator() {
            out.push(LensSlot { span, target: LensTarget::RunFeature(i) });
        }
    }
    out
}

/// Active (not cancelled) features claiming `id`, by id, adjacent repeats removed.
fn owners<'a>(analysis: &'a MissionAnalysis, id: &str) -> Option<Vec<&'a str>> {
    let f = analysis.features()?;
    let mut v: Vec<&str> = analysis
        .claims_of(id)
        .iter()
        .map(|c| &f.features[c.feature])
        .filter(|f| !f.is_cancelled())
        .map(|f| f.id().unwrap_or("(feature without id)"))
        .collect();
    v.dedup();
    Some(v)
}

/// The counts shown at the top of the contract (one pass over the assertions).
pub fn contract_counts(analysis: &MissionAnalysis) -> Counts {
    let mut counts = Counts::default();
    let Some(contract) = analysis.contract() else { return counts };
    for a in &contract.assertions {
        let id = a.id.value.as_str();
        if !analysis.assertion(id).is_some_and(|f| std::ptr::eq(f, a)) {
            continue;
        }
        counts.total += 1;
        counts.claimed += usize::from(owners(analysis, id).is_some_and(|o| !o.is_empty()));
        counts.passed += usize::from(analysis.validation_of(id).is_some_and(|v| v.status == "passed"));
    }
    counts
}

/// The title and action of one lens; `counts` is asked only for [`LensTarget::Counts`] (so a
/// caller can cache them). `None` when the target is not in this analysis.
pub fn resolve(
    analysis: &MissionAnalysis,
    target: LensTarget,
    counts: impl FnOnce() -> Counts,
) -> Option<(String, Option<LensAction>)> {
    match target {
        LensTarget::Counts => {
            analysis.contract()?;
            let Counts { total, claimed, passed } = counts();
            Some((
                format!("{total} assertion{} · {claimed} claimed · {passed} passed", if total == 1 { "" } else { "s" }),
                None,
            ))
        }
        LensTarget::Start => {
            analysis.contract()?;
            Some(("▶ Start mission".to_string(), Some(LensAction::Start)))
        }
        LensTarget::Assertion(i) => {
            let a = analysis.contract()?.assertions.get(i)?;
            let id = a.id.value.as_str();
            let owners = owners(analysis, id);
            let claim = match owners.as_deref() {
                None => "no features.json".to_string(),
                Some([]) => "unclaimed".to_string(),
                Some([one]) => format!("claimed by {one}"),
                Some(many) => format!("claimed by {} features: {}", many.len(), many.join(", ")),
            };
            let validation = analysis.validation_of(id).map_or_else(|| "not validated yet".to_string(), |v| v.label());
            Some((format!("{claim} · {validation}"), None))
        }
        LensTarget::Feature(i) => {
            let f = analysis.features()?.features.get(i)?;
            let status = f.status().unwrap_or("no status");
            let sessions = &f.worker_session_ids;
            let workers = match sessions.len() {
                0 => "no worker sessions".to_string(),
                n => {
                    let shown: Vec<&str> = sessions.iter().take(MAX_SESSIONS_SHOWN).map(|s| s.value.as_str()).collect();
                    let more =
                        if n > MAX_SESSIONS_SHOWN { format!(" +{}", n - MAX_SESSIONS_SHOWN) } else { String::new() };
                    format!("{n} worker session{}: {}{more}", if n == 1 { "" } else { "s" }, shown.join(", "))
                }
            };
            Some((format!("{status} · {workers}"), None))
        }
        LensTarget::RunFeature(i) => {
            let id = analysis.features()?.features.get(i)?.id()?;
            Some(("▶ Run feature".to_string(), Some(LensAction::RunFeature(id.to_string()))))
        }
    }
}

fn resolve_all(analysis: &MissionAnalysis, doc: DocKind, slots: Vec<LensSlot>) -> Vec<Lens> {
    let counts = std::cell::OnceCell::new();
    slots
        .into_iter()
        .filter_map(|s| {
            let (title, action) = resolve(analysis, s.target, || *counts.get_or_init(|| contract_counts(analysis)))?;
            Some(Lens { doc, span: s.span, title, action })
        })
        .collect()
}

/// Every contract lens, resolved: the counts and "Start mission" at its start, then one lens
/// per assertion heading.
pub fn contract_lenses(analysis: &MissionAnalysis) -> Vec<Lens> {
    resolve_all(analysis, DocKind::Contract, contract_slots(analysis))
}

/// Every feature lens, resolved: its status and worker sessions, and "Run feature" where it
/// applies.
pub fn feature_lenses(analysis: &MissionAnalysis) -> Vec<Lens> {
    resolve_all(analysis, DocKind::Features, feature_slots(analysis))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::analysis::mission::MissionParts;
    use crate::model::folder::ValidationRecords;
    use crate::model::{contract, features, records};

    #[test]
    fn counts_owners_and_validation() {
        let c = "### VAL-A-001: x\n### VAL-A-002: y\n### VAL-A-001: dup\n";
        let f = r#"{"features": [{"id": "f1", "status": "completed", "fulfills": ["VAL-A-001"], "workerSessionIds": ["s1", "s2", "s3", "s4"]}, {"id": "f2", "status": "cancelled", "fulfills": ["VAL-A-002"]}]}"#;
        let v = ValidationRecords {
            state: records::load(
                r#"{"assertions": {"VAL-A-001": {"status": "passed", "validatedAtMilestone": "m", "round": 2}}}"#,
            )
            .value,
            milestones: Vec::new(),
        };
        let a = MissionAnalysis::new(MissionParts {
            contract: Some(Arc::new(contract::parse(c))),
            features: Some(Arc::new(features::parse(f))),
            validation: Some(Arc::new(v)),
            ..MissionParts::default()
        });
        let titles: Vec<String> = contract_lenses(&a).into_iter().map(|l| l.title).collect();
        assert_eq!(
            titles,
            [
                "2 assertions · 1 claimed · 1 passed",
                "▶ Start mission",
                "claimed by f1 · passed (m, round 2)",
                "unclaimed · not validated yet",
                "claimed by f1 · passed (m, round 2)"
            ]
        );
        let titles: Vec<String> = feature_lenses(&a).into_iter().map(|l| l.title).collect();
        assert_eq!(titles, ["completed · 4 worker sessions: s1, s2, s3 +1", "cancelled · no worker sessions"]);
    }

    #[test]
    fn runnable_features_get_a_run_button() {
        let f = r#"{"features": [{"id": "a", "status": "pending"}, {"id": "b", "status": "pending"}, {"id": "c", "status": "in_progress"}, {"id": "d", "status": "completed"}, {"id": "scrutiny-validator-m", "status": "pending", "skillName": "scrutiny-validator"}]}"#;
        let a = MissionAnalysis::new(MissionParts {
            features: Some(Arc::new(features::parse(f))),
            ..MissionParts::default()
        });
        let actions: Vec<Option<LensAction>> = feature_lenses(&a).into_iter().map(|l| l.action).collect();
        assert_eq!(
            actions,
            [
                None,
                Some(LensAction::RunFeature("a".into())),
                None,
                Some(LensAction::RunFeature("b".into())),
                None,
                None,
                None
            ],
            "validators run in a validation round, not one by one"
        );
    }
}
