//! What the loop does next, decided from the files alone (so a resumed run, or a run that
//! continues a mission droid started, decides the same). As in droid, the features array is
//! the queue: the first pending feature runs; once every feature of a milestone is done its
//! validators are injected at the top; a milestone whose validators failed gets fix features
//! (above them) before it is validated again. Pure.

use std::collections::HashMap;

use crate::model::features::{Feature, ValidatorKind};
use crate::model::folder::{FoundHandoff, ValidationRecords};
use crate::model::FeaturesFile;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Every feature of the milestone is done: inject its validators at the top of the queue.
    TriggerValidation(String),
    /// Run this feature (index into `features`).
    Feature(usize),
    /// Run the milestone's pending validators: a validation round.
    Validate(String),
    /// The milestone's validation failed and nothing queued fixes it: the orchestrator adds
    /// fix features. `round` is the round that failed.
    Fix { milestone: String, round: u32 },
    /// Nothing can run and the mission is not done.
    Stuck { reason: String },
    /// Every assertion a feature claims passed, every validator succeeded.
    Completed,
}

/// What the schedule reads besides features.json.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// Every handoff, in time order.
    pub handoffs: &'a [FoundHandoff],
    /// Milestones with a `milestone_validation_triggered` event.
    pub triggered: &'a [String],
    pub validation: Option<&'a ValidationRecords>,
    /// The milestone of a validation round that was interrupted (state.json's `activeRound`).
    pub active_round: Option<&'a str>,
    /// A fix session that was interrupted (state.json's `activeFix`): milestone and round.
    pub active_fix: Option<(&'a str, u32)>,
}

/// The assertion ids a milestone's features claim (cancelled ones do not claim), in queue order.
pub fn milestone_assertions<'a>(features: &'a FeaturesFile, milestone: &str) -> Vec<&'a str> {
    let mut ids: Vec<&str> = features
        .features
        .iter()
        .filter(|f| f.milestone() == Some(milestone) && !f.is_cancelled() && !f.is_validator())
        .flat_map(|f| f.claims().iter().map(|c| c.value.as_str()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    ids
}

/// Whether every assertion the milestone's features claim passed.
pub fn assertions_passed(features: &FeaturesFile, validation: Option<&ValidationRecords>, milestone: &str) -> bool {
    let passed = |id: &&str| {
        validation.and_then(|v| v.state.as_ref()).and_then(|s| s.assertions.get(*id)).is_some_and(|a| a.is_passed())
    };
    milestone_assertions(features, milestone).iter().all(passed)
}

/// The latest handoff of a feature (by time).
pub fn latest_handoff<'a>(handoffs: &'a [FoundHandoff], feature_id: &str) -> Option<&'a FoundHandoff> {
    handoffs.iter().filter(|h| h.file.feature_id == feature_id).max_by(|a, b| a.file.timestamp.cmp(&b.file.timestamp))
}

/// The round a milestone's validation failed in and that no later work answered: a pending
/// validator whose latest handoff did not succeed, with no feature of the milestone completed
/// after it and none pending. `None` when the milestone needs no fix.
pub fn failed_round(features: &FeaturesFile, facts: &Facts, milestone: &str) -> Option<u32> {
    let of_milestone = |f: &&std::sync::Arc<Feature>| f.milestone() == Some(milestone);
    let work: Vec<&Feature> =
        features.features.iter().filter(of_milestone).filter(|f| !f.is_validator()).map(|f| &**f).collect();
    if work.iter().any(|f| f.is_pending() || f.is_in_progress()) {
        return None;
    }
    let failed_at = features
        .features
        .iter()
        .filter(of_milestone)
        .filter(|f| f.is_validator() && f.is_pending())
        .filter_map(|f| latest_handoff(facts.handoffs, f.id()?))
        .filter(|h| h.file.success_state.as_deref() != Some("success"))
        .map(|h| h.file.timestamp.as_str())
        .max()?;
    let answered = work
        .iter()
        .filter_map(|f| latest_handoff(facts.handoffs, f.id()?))
        .any(|h| h.file.timestamp.as_str() > failed_at && h.file.success_state.as_deref() == Some("success"));
    if answered {
        return None;
    }
    let round =
        facts.validation.and_then(|v| v.milestone(milestone)).map_or(1, crate::analysis::summary::latest_round).max(1);
    Some(round)
}

/// How a person gets a stopped feature run again.
pub const RETRY_HINT: &str =
    "its status is `pending` again: fix the cause (or edit the feature in features.json), then run the mission again";

pub fn next(features: &FeaturesFile, facts: &Facts) -> Next {
    // An interrupted fix session runs again first: the features it half added are not vetted.
    if let Some((milestone, round)) = facts.active_fix {
        return Next::Fix { milestone: milestone.to_string(), round };
    }
    // An interrupted validation round finishes first.
    if let Some(m) = facts.active_round {
        if features.features.iter().any(|f| f.milestone() == Some(m) && f.is_validator() && !f.is_done()) {
            return Next::Validate(m.to_string());
        }
    }
    let milestones = features.milestones();
    for m in &milestones {
        let members: Vec<&Feature> =
            features.features.iter().filter(|f| f.milestone() == Some(*m)).map(|f| &**f).collect();
        let has_validators = members.iter().any(|f| f.is_validator());
        let work_done = members.iter().filter(|f| !f.is_validator()).all(|f| f.is_done());
        if work_done && !has_validators && !facts.triggered.iter().any(|t| t == m) {
            return Next::TriggerValidation(m.to_string());
        }
        if let Some(round) = failed_round(features, facts, m) {
            return Next::Fix { milestone: m.to_string(), round };
        }
    }
    let status: HashMap<&str, &Feature> = features.features.iter().filter_map(|f| Some((f.id()?, &**f))).collect();
    let completed = |id: &str| status.get(id).is_some_and(|f| f.is_completed());
    let mut waiting: Option<(&Feature, Vec<&str>)> = None;
    for (i, f) in features.features.iter().enumerate() {
        if !(f.is_pending() || f.is_in_progress()) {
            continue;
        }
        let open: Vec<&str> = features.dependencies(f).filter(|d| !completed(d)).collect();
        if !open.is_empty() {
            waiting.get_or_insert((f, open));
            continue;
        }
        return match (f.validator(), f.milestone()) {
            (Some(_), Some(m)) => Next::Validate(m.to_string()),
            _ => Next::Feature(i),
        };
    }
    if let Some((f, open)) = waiting {
        return Next::Stuck {
            reason: format!(
                "feature `{}` waits on {} that cannot complete (its preconditions name them)",
                f.id().unwrap_or("?"),
                open.join(", ")
            ),
        };
    }
    // Nothing is left to run: every claimed assertion must have passed.
    let unvalidated: Vec<&str> = features
        .features
        .iter()
        .filter(|f| !f.is_cancelled() && !f.is_validator())
        .filter(|f| f.milestone().is_none())
        .flat_map(|f| f.claims().iter().map(|c| c.value.as_str()))
        .collect();
    if !unvalidated.is_empty() {
        return Next::Stuck { reason: format!("{} claimed by features without a milestone, so no validation ever checks them; give those features a milestone", unvalidated.join(", ")) };
    }
    let failing: Vec<&str> =
        milestones.iter().filter(|m| !assertions_passed(features, facts.validation, m)).copied().collect();
    if !failing.is_empty() {
        return Next::Stuck {
            reason: format!(
                "milestone {} has assertions that did not pass, and no validator of it is pending",
                failing.join(", ")
            ),
        };
    }
    Next::Completed
}

/// The validators droid injects for a milestone, as features (droid's fixed texts).
pub fn validator_feature(kind: ValidatorKind, milestone: &str) -> serde_json::Value {
    let (description, expected): (String, &[&str]) = match kind {
        ValidatorKind::Scrutiny => (
            format!("Scrutiny validation for milestone \"{milestone}\". Runs test suite, typecheck, and lint. Spawns review subagents for each completed feature. Synthesizes findings. Always returns to orchestrator."),
            &["Validators pass (test, typecheck, lint)", "Review subagents spawned for each feature", "Findings synthesized into scrutiny report"],
        ),
        ValidatorKind::UserTesting => (
            format!("User testing validation for milestone \"{milestone}\". Determines testable assertions from features' fulfills field, sets up environment, spawns flow validator subagents, synthesizes results. Always returns to orchestrator."),
            &["Testable assertions determined from fulfills mapping", "Environment set up (services started, data seeded)", "Flow validator subagents spawned and completed", "Results synthesized, validation-state.json updated"],
        ),
    };
    let preconditions = [format!("All implementation features for milestone \"{milestone}\" are complete")];
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    crate::model::features_edit::droid_feature(
        &kind.feature_id(milestone),
        &description,
        kind.skill(),
        &preconditions,
        &expected,
        None,
        Some(milestone),
    )
}

/// The feature `id` when `missions.runFeature` may run it now: it is pending, not a
/// validator, and every feature its preconditions name completed. Returns its index.
pub fn runnable_feature(features: &FeaturesFile, id: &str) -> Result<usize, String> {
    let (i, f) = features
        .features
        .iter()
        .enumerate()
        .find(|(_, f)| f.id() == Some(id))
        .ok_or_else(|| format!("there is no feature `{id}` in features.json"))?;
    if f.is_validator() {
        return Err(format!("`{id}` is a validator; validate its milestone instead"));
    }
    if !f.is_pending() {
        return Err(format!("feature `{id}` is {}; only a pending feature can be run", f.status_kind().as_str()));
    }
    let completed = |d: &str| features.feature(d).is_some_and(Feature::is_completed);
    let waiting: Vec<&str> = features.dependencies(f).filter(|d| !completed(d)).collect();
    if !waiting.is_empty() {
        return Err(format!("feature `{id}` depends on {} that did not complete yet", waiting.join(", ")));
    }
    Ok(i)
}

/// Whether `missions.validateMilestone` may validate `milestone` now: it has features and all
/// of them (but the cancelled and the validators) completed.
pub fn validatable_milestone(features: &FeaturesFile, milestone: &str) -> Result<(), String> {
    if !features.milestones().contains(&milestone) {
        return Err(format!(
            "there is no milestone `{milestone}` in features.json (milestones: {})",
            features.milestones().join(", ")
        ));
    }
    let open: Vec<String> = features
        .features
        .iter()
        .filter(|f| f.milestone() == Some(milestone) && !f.is_validator() && !f.is_done())
        .map(|f| format!("{} ({})", f.id().unwrap_or("?"), f.status_kind().as_str()))
        .collect();
    if !open.is_empty() {
        return Err(format!("milestone `{milestone}` has features that did not complete: {}", open.join(", ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::records::{self, HandoffFile};
    use crate::model::{features, folder};

    fn file(json: &str) -> FeaturesFile {
        features::parse(json)
    }

    fn handoff(feature: &str, at: &str, state: &str) -> FoundHandoff {
        FoundHandoff {
            path: format!("handoffs/{at}__{feature}__s.json"),
            file: HandoffFile {
                timestamp: at.into(),
                feature_id: feature.into(),
                worker_session_id: format!("s-{feature}-{at}"),
                success_state: Some(state.into()),
                ..Default::default()
            },
            proof: None,
        }
    }

    fn passed(ids: &[&str]) -> ValidationRecords {
        let entries: Vec<String> = ids.iter().map(|id| format!("\"{id}\": {{\"status\": \"passed\"}}")).collect();
        ValidationRecords {
            state: records::load(&format!("{{\"assertions\": {{{}}}}}", entries.join(","))).value,
            milestones: Vec::new(),
        }
    }

    #[test]
    fn the_first_pending_feature_runs_after_its_named_preconditions() {
        let f = file(
            r#"{"features": [
            {"id": "b", "description": "d", "milestone": "one", "status": "pending", "fulfills": ["VAL-A-002"], "preconditions": ["a is complete", "the database is up"]},
            {"id": "a", "description": "d", "milestone": "one", "status": "pending", "fulfills": ["VAL-A-001"]},
            {"id": "c", "description": "d", "milestone": "two", "status": "pending", "fulfills": ["VAL-A-003"]}]}"#,
        );
        assert_eq!(next(&f, &Facts::default()), Next::Feature(1));
    }

    #[test]
    fn a_finished_milestone_is_triggered_then_validated_then_the_queue_goes_on() {
        let f = file(
            r#"{"features": [
            {"id": "a", "description": "d", "milestone": "one", "status": "completed", "fulfills": ["VAL-A-001"]},
            {"id": "x", "description": "d", "milestone": "one", "status": "cancelled", "fulfills": []},
            {"id": "c", "description": "d", "milestone": "two", "status": "pending", "fulfills": ["VAL-A-003"]}]}"#,
        );
        assert_eq!(next(&f, &Facts::default()), Next::TriggerValidation("one".into()));
        let triggered = ["one".to_string()];
        let with_validators = file(
            r#"{"features": [
            {"id": "scrutiny-validator-one", "description": "d", "skillName": "scrutiny-validator", "milestone": "one", "status": "pending"},
            {"id": "user-testing-validator-one", "description": "d", "skillName": "user-testing-validator", "milestone": "one", "status": "pending"},
            {"id": "a", "description": "d", "milestone": "one", "status": "completed", "fulfills": ["VAL-A-001"]},
            {"id": "c", "description": "d", "milestone": "two", "status": "pending", "fulfills": ["VAL-A-003"]}]}"#,
        );
        let facts = Facts { triggered: &triggered, ..Facts::default() };
        assert_eq!(next(&with_validators, &facts), Next::Validate("one".into()));
        let done = file(&with_validators_text("completed", "completed"));
        assert_eq!(next(&done, &facts), Next::Feature(3));
    }

    fn with_validators_text(scrutiny: &str, testing: &str) -> String {
        format!(
            r#"{{"features": [
            {{"id": "scrutiny-validator-one", "description": "d", "skillName": "scrutiny-validator", "milestone": "one", "status": "{scrutiny}"}},
            {{"id": "user-testing-validator-one", "description": "d", "skillName": "user-testing-validator", "milestone": "one", "status": "{testing}"}},
            {{"id": "a", "description": "d", "milestone": "one", "status": "completed", "fulfills": ["VAL-A-001"]}},
            {{"id": "c", "description": "d", "milestone": "two", "status": "pending", "fulfills": ["VAL-A-003"]}}]}}"#
        )
    }

    #[test]
    fn a_failed_validator_asks_for_fixes_until_fix_work_completes_after_it() {
        let triggered = ["one".to_string()];
        let f = file(&with_validators_text("completed", "pending"));
        let failed = [
            handoff("a", "2026-01-01T00:00:01.000Z", "success"),
            handoff("user-testing-validator-one", "2026-01-01T00:00:02.000Z", "failure"),
        ];
        let facts = Facts { handoffs: &failed, triggered: &triggered, ..Facts::default() };
        assert_eq!(next(&f, &facts), Next::Fix { milestone: "one".into(), round: 1 });
        // A fix feature is queued: it runs first.
        let queued = file(&with_validators_text("completed", "pending").replacen(
            "[\n",
            "[\n{\"id\": \"fix-1\", \"description\": \"d\", \"milestone\": \"one\", \"status\": \"pending\"},\n",
            1,
        ));
        assert_eq!(next(&queued, &facts), Next::Feature(0));
        // The fix completed after the failure: validate again.
        let fixed = file(&with_validators_text("completed", "pending").replacen(
            "[\n",
            "[\n{\"id\": \"fix-1\", \"description\": \"d\", \"milestone\": \"one\", \"status\": \"completed\"},\n",
            1,
        ));
        let after = [failed[0].clone(), failed[1].clone(), handoff("fix-1", "2026-01-01T00:00:03.000Z", "success")];
        assert_eq!(next(&fixed, &Facts { handoffs: &after, ..facts }), Next::Validate("one".into()));
    }

    #[test]
    fn an_interrupted_round_finishes_before_anything_else() {
        let f = file(&with_validators_text("completed", "pending"));
        let failed = [handoff("user-testing-validator-one", "2026-01-01T00:00:02.000Z", "failure")];
        let facts =
            Facts { handoffs: &failed, triggered: &["one".to_string()], active_round: Some("one"), ..Facts::default() };
        assert_eq!(next(&f, &facts), Next::Validate("one".into()));
    }

    #[test]
    fn an_interrupted_fix_session_runs_again_before_anything_else() {
        // The session had added a fix feature (pending) before it was cut: not run unvetted.
        let f = file(&with_validators_text("completed", "pending").replace("\"features\": [", "\"features\": [{\"id\": \"fix-x\", \"description\": \"x\", \"milestone\": \"one\", \"status\": \"pending\"}, "));
        let facts = Facts { triggered: &["one".to_string()], active_fix: Some(("one", 1)), ..Facts::default() };
        assert_eq!(next(&f, &facts), Next::Fix { milestone: "one".into(), round: 1 });
    }

    #[test]
    fn completed_only_when_every_claimed_assertion_passed() {
        let f = file(
            &with_validators_text("completed", "completed")
                .replace("\"pending\", \"fulfills\": [\"VAL-A-003\"]", "\"completed\", \"fulfills\": [\"VAL-A-003\"]")
                .replace("\"two\"", "\"one\""),
        );
        let triggered = ["one".to_string()];
        let v = passed(&["VAL-A-001"]);
        assert!(
            matches!(next(&f, &Facts { triggered: &triggered, validation: Some(&v), ..Facts::default() }), Next::Stuck { reason } if reason.contains("milestone one"))
        );
        let v = passed(&["VAL-A-001", "VAL-A-003"]);
        assert_eq!(
            next(&f, &Facts { triggered: &triggered, validation: Some(&v), ..Facts::default() }),
            Next::Completed
        );
    }

    #[test]
    fn stuck_when_a_precondition_never_completes() {
        let f = file(
            r#"{"features": [
            {"id": "a", "description": "d", "milestone": "one", "status": "cancelled", "fulfills": ["VAL-A-001"]},
            {"id": "b", "description": "d", "milestone": "one", "status": "pending", "fulfills": ["VAL-A-002"], "preconditions": ["a"]}]}"#,
        );
        assert!(matches!(next(&f, &Facts::default()), Next::Stuck { reason } if reason.contains("`b` waits on a")));
    }

    #[test]
    fn droids_paused_folder_continues_with_its_fix_then_its_validator() {
        let dir =
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/droid/all-event-types-paused"));
        let f = file(&std::fs::read_to_string(dir.join("features.json")).unwrap());
        let (handoffs, _) = folder::read_handoffs(dir);
        let (validation, _) = folder::read_validation(dir);
        let triggered = ["core".to_string()];
        let facts = Facts {
            handoffs: &handoffs,
            triggered: &triggered,
            validation: Some(&validation),
            active_round: None,
            active_fix: None,
        };
        assert_eq!(next(&f, &facts), Next::Feature(0), "fix-divide-zero-message is at the top");
    }

    #[test]
    fn a_targeted_feature_needs_a_pending_status_and_completed_preconditions() {
        let f = file(
            r#"{"features": [
            {"id": "a", "description": "d", "milestone": "one", "status": "pending", "fulfills": ["VAL-A-001"]},
            {"id": "b", "description": "d", "milestone": "one", "status": "pending", "fulfills": ["VAL-A-002"], "preconditions": ["a"]},
            {"id": "c", "description": "d", "milestone": "one", "status": "completed", "fulfills": ["VAL-A-003"]}]}"#,
        );
        assert_eq!(runnable_feature(&f, "a"), Ok(0));
        assert!(runnable_feature(&f, "b").unwrap_err().contains("depends on a"));
        assert!(runnable_feature(&f, "c").unwrap_err().contains("is completed"));
        assert!(runnable_feature(&f, "z").unwrap_err().contains("no feature `z`"));
    }

    #[test]
    fn a_targeted_milestone_needs_every_feature_done() {
        let f = file(
            r#"{"features": [
            {"id": "a", "description": "d", "milestone": "one", "status": "completed", "fulfills": ["VAL-A-001"]},
            {"id": "x", "description": "d", "milestone": "one", "status": "cancelled", "fulfills": []},
            {"id": "b", "description": "d", "milestone": "two", "status": "pending", "fulfills": ["VAL-A-002"]}]}"#,
        );
        assert_eq!(validatable_milestone(&f, "one"), Ok(()));
        assert!(validatable_milestone(&f, "two").unwrap_err().contains("b (pending)"));
        assert!(validatable_milestone(&f, "three").unwrap_err().contains("no milestone `three`"));
    }

    #[test]
    fn injected_validators_are_droids() {
        let v = validator_feature(ValidatorKind::Scrutiny, "core");
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "id",
                "description",
                "skillName",
                "preconditions",
                "expectedBehavior",
                "milestone",
                "status",
                "workerSessionIds",
                "currentWorkerSessionId",
                "completedWorkerSessionId"
            ]
        );
        let droid: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../examples/droid/completed-all-passed/features.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let theirs =
            droid["features"].as_array().unwrap().iter().find(|f| f["id"] == "scrutiny-validator-core").unwrap();
        for key in ["id", "description", "skillName", "preconditions", "expectedBehavior", "milestone"] {
            assert_eq!(v[key], theirs[key], "{key}");
        }
    }
}
