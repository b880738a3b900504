//! What the loop does next, decided from the files alone (so a resumed run decides the same):
//! the next feature to run, a milestone to validate, or the end; and whether a feature or a
//! milestone asked for by name can run now. Pure.

use std::collections::HashMap;

use crate::model::records::ValidationState;
use crate::model::FeaturesFile;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Run this feature (index into `features`).
    Feature(usize),
    /// Every feature of the milestone is done: validate it.
    Validate(String),
    /// Pending features whose dependencies can never complete. `feature` names the failed or
    /// blocked feature when that is the cause.
    Stuck { milestone: String, reason: String, feature: Option<String> },
    /// Every milestone passed.
    Completed,
}

/// The assertion ids a milestone's features claim, in feature order.
pub fn milestone_assertions<'a>(features: &'a FeaturesFile, milestone: &str) -> Vec<&'a str> {
    features
        .features
        .iter()
        .filter(|f| f.milestone() == Some(milestone) && !f.is_cancelled())
        .flat_map(|f| f.claims().iter().map(|c| c.value.as_str()))
        .collect()
}

/// A milestone has passed when every assertion its features claim passed.
pub fn milestone_passed(features: &FeaturesFile, validation: Option<&ValidationState>, milestone: &str) -> bool {
    let ids = milestone_assertions(features, milestone);
    let passed = |id: &&str| validation.and_then(|v| v.assertions.get(*id)).is_some_and(|s| s.status == "passed");
    !ids.is_empty() && ids.iter().all(passed) || ids.is_empty() && validated_empty(validation, milestone)
}

/// A milestone without assertions passes once a round recorded it (nothing to check).
fn validated_empty(validation: Option<&ValidationState>, milestone: &str) -> bool {
    validation.and_then(|v| v.extra.get("passedMilestones")).and_then(|m| m.as_array()).is_some_and(|m| m.iter().any(|x| x.as_str() == Some(milestone)))
}

/// How a person gets a failed or blocked feature run again.
pub const RETRY_HINT: &str = "to try it again, set its \"status\" to \"pending\" in features.json and run the mission again";

pub fn next(features: &FeaturesFile, validation: Option<&ValidationState>) -> Next {
    let status: HashMap<&str, &str> = features.features.iter().filter_map(|f| Some((f.id()?, f.status().unwrap_or("pending")))).collect();
    for milestone in features.milestones() {
        if milestone_passed(features, validation, milestone) {
            continue;
        }
        let members: Vec<(usize, &crate::model::Feature)> = features.features.iter().map(|f| &**f).enumerate().filter(|(_, f)| f.milestone() == Some(milestone) && !f.is_cancelled()).collect();
        let open: Vec<&(usize, &crate::model::Feature)> = members.iter().filter(|(_, f)| f.status() != Some("completed")).collect();
        if open.is_empty() {
            return Next::Validate(milestone.to_string());
        }
        // In order, the first feature whose dependencies all completed.
        for (i, f) in &open {
            if matches!(f.status(), Some("pending") | Some("in_progress") | None) && f.depends_on.iter().all(|d| status.get(d.value.as_str()) == Some(&"completed")) {
                return Next::Feature(*i);
            }
        }
        let (_, first) = open[0];
        let id = first.id().unwrap_or("?");
        let (reason, feature) = match first.status() {
            Some(s @ ("failed" | "blocked")) => (format!("feature `{id}` is {s}"), Some(id.to_string())),
            _ => {
                let waiting: Vec<&str> = first.depends_on.iter().map(|d| d.value.as_str()).filter(|d| status.get(d) != Some(&"completed")).collect();
                (format!("feature `{id}` waits on {} that cannot complete", waiting.join(", ")), None)
            }
        };
        return Next::Stuck { milestone: milestone.to_string(), reason, feature };
    }
    Next::Completed
}

/// The feature `id` when `missions.runFeature` may run it now: it is `pending`, `failed` or
/// `blocked` and every feature it depends on completed. Returns its index.
pub fn runnable_feature(features: &FeaturesFile, id: &str) -> Result<usize, String> {
    let (i, f) = features.features.iter().enumerate().find(|(_, f)| f.id() == Some(id)).ok_or_else(|| format!("there is no feature `{id}` in features.json"))?;
    let status = f.status().unwrap_or("pending");
    if !matches!(status, "pending" | "failed" | "blocked") {
        return Err(format!("feature `{id}` is {status}; only a pending, failed or blocked feature can be run"));
    }
    let completed = |d: &str| features.feature(d).is_some_and(|f| f.status() == Some("completed"));
    let waiting: Vec<&str> = f.depends_on.iter().map(|d| d.value.as_str()).filter(|d| !completed(d)).collect();
    if !waiting.is_empty() {
        return Err(format!("feature `{id}` depends on {} that did not complete yet", waiting.join(", ")));
    }
    Ok(i)
}

/// Whether `missions.validateMilestone` may validate `milestone` now: it has features and all
/// of them (but the cancelled) completed.
pub fn validatable_milestone(features: &FeaturesFile, milestone: &str) -> Result<(), String> {
    if !features.milestones().contains(&milestone) {
        return Err(format!("there is no milestone `{milestone}` in features.json (milestones: {})", features.milestones().join(", ")));
    }
    let open: Vec<String> = features
        .features
        .iter()
        .filter(|f| f.milestone() == Some(milestone) && !f.is_cancelled() && f.status() != Some("completed"))
        .map(|f| format!("{} ({})", f.id().unwrap_or("?"), f.status().unwrap_or("pending")))
        .collect();
    if !open.is_empty() {
        return Err(format!("milestone `{milestone}` has features that did not complete: {}", open.join(", ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{features, records};

    fn file(json: &str) -> FeaturesFile {
        features::parse(json)
    }

    #[test]
    fn runs_features_in_order_respecting_dependencies() {
        let f = file(r#"{"features": [
            {"id": "b", "milestone": "one", "status": "pending", "fulfills": ["VAL-A-002"], "dependsOn": ["a"]},
            {"id": "a", "milestone": "one", "status": "pending", "fulfills": ["VAL-A-001"]},
            {"id": "c", "milestone": "two", "status": "pending", "fulfills": ["VAL-A-003"]}]}"#);
        assert_eq!(next(&f, None), Next::Feature(1));
    }

    #[test]
    fn validates_a_finished_milestone_then_moves_on() {
        let f = file(r#"{"features": [
            {"id": "a", "milestone": "one", "status": "completed", "fulfills": ["VAL-A-001"]},
            {"id": "x", "milestone": "one", "status": "cancelled", "fulfills": []},
            {"id": "c", "milestone": "two", "status": "pending", "fulfills": ["VAL-A-003"]}]}"#);
        assert_eq!(next(&f, None), Next::Validate("one".into()));
        let v: ValidationState = records::load(r#"{"assertions": {"VAL-A-001": {"status": "passed"}}}"#).value.unwrap();
        assert_eq!(next(&f, Some(&v)), Next::Feature(2));
        let failed: ValidationState = records::load(r#"{"assertions": {"VAL-A-001": {"status": "failed"}}}"#).value.unwrap();
        assert_eq!(next(&f, Some(&failed)), Next::Validate("one".into()));
    }

    #[test]
    fn stuck_when_a_dependency_failed() {
        let f = file(r#"{"features": [
            {"id": "a", "milestone": "one", "status": "failed", "fulfills": ["VAL-A-001"]},
            {"id": "b", "milestone": "one", "status": "pending", "fulfills": ["VAL-A-002"], "dependsOn": ["a"]}]}"#);
        assert!(matches!(next(&f, None), Next::Stuck { reason, feature: Some(id), .. } if reason.contains("`a` is failed") && id == "a"));
    }

    #[test]
    fn completed_when_every_milestone_passed() {
        let f = file(r#"{"features": [{"id": "a", "milestone": "one", "status": "completed", "fulfills": ["VAL-A-001"]}]}"#);
        let v: ValidationState = records::load(r#"{"assertions": {"VAL-A-001": {"status": "passed"}}}"#).value.unwrap();
        assert_eq!(next(&f, Some(&v)), Next::Completed);
    }

    #[test]
    fn a_targeted_feature_needs_a_runnable_status_and_completed_dependencies() {
        let f = file(r#"{"features": [
            {"id": "a", "milestone": "one", "status": "failed", "fulfills": ["VAL-A-001"]},
            {"id": "b", "milestone": "one", "status": "pending", "fulfills": ["VAL-A-002"], "dependsOn": ["a"]},
            {"id": "c", "milestone": "one", "status": "completed", "fulfills": ["VAL-A-003"]}]}"#);
        assert_eq!(runnable_feature(&f, "a"), Ok(0));
        assert!(runnable_feature(&f, "b").unwrap_err().contains("depends on a"));
        assert!(runnable_feature(&f, "c").unwrap_err().contains("is completed"));
        assert!(runnable_feature(&f, "z").unwrap_err().contains("no feature `z`"));
    }

    #[test]
    fn a_targeted_milestone_needs_every_feature_completed() {
        let f = file(r#"{"features": [
            {"id": "a", "milestone": "one", "status": "completed", "fulfills": ["VAL-A-001"]},
            {"id": "x", "milestone": "one", "status": "cancelled", "fulfills": []},
            {"id": "b", "milestone": "two", "status": "pending", "fulfills": ["VAL-A-002"]}]}"#);
        assert_eq!(validatable_milestone(&f, "one"), Ok(()));
        assert!(validatable_milestone(&f, "two").unwrap_err().contains("b (pending)"));
        assert!(validatable_milestone(&f, "three").unwrap_err().contains("no milestone `three`"));
    }
}
