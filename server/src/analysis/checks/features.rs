//! Checks of features.json on its own and against the contract: syntax, schema, duplicate
//! features, unknown or malformed claimed ids, unknown skills.

use crate::analysis::diagnostic::{Code, Diagnostic, DocKind, Severity};
use crate::analysis::index::MissionIndex;
use crate::model::features::{SCRUTINY_SKILL, USER_TESTING_SKILL};
use crate::model::folder::normalize_skill_name;
use crate::model::{ids, FeaturesFile, ProblemKind};

pub(super) fn check(file: &FeaturesFile, index: &MissionIndex, skills: Option<&[String]>, out: &mut Vec<Diagnostic>) {
    unknown_assertions(file, index, out);
    for p in &file.problems {
        let code = match p.kind {
            ProblemKind::Syntax => Code::JsonSyntax,
            ProblemKind::Schema => Code::Schema,
        };
        out.push(Diagnostic::on(DocKind::Features, p.span.clone(), code, Severity::Error, p.message.clone()));
    }
    for same_id in index.feature_ids().filter(|f| f.len() > 1) {
        let (Some(original), later) = (&file.features[same_id[0]].id, &same_id[1..]) else { continue };
        for id in later.iter().filter_map(|&i| file.features[i].id.as_ref()) {
            out.push(
                Diagnostic::on(
                    DocKind::Features,
                    id.span.clone(),
                    Code::DuplicateFeature,
                    Severity::Error,
                    format!("duplicate feature id `{}`", id.value),
                )
                .with_related(DocKind::Features, original.span.clone(), "first defined here"),
            );
        }
    }
    for f in &file.features {
        let mut seen: Vec<&str> = Vec::new();
        for claim in f.claims() {
            let id = claim.value.as_str();
            if ids::looks_like_assertion_id(id) && !ids::is_assertion_id(id) {
                out.push(Diagnostic::on(
                    DocKind::Features,
                    claim.span.clone(),
                    Code::MalformedId,
                    Severity::Error,
                    ids::explain_malformed(id),
                ));
            } else if !ids::is_assertion_id(id) {
                out.push(Diagnostic::on(
                    DocKind::Features,
                    claim.span.clone(),
                    Code::Schema,
                    Severity::Error,
                    format!("`fulfills` holds assertion ids (`VAL-AREA-NNN`), found `{id}`"),
                ));
            } else if seen.contains(&id) {
                out.push(Diagnostic::on(
                    DocKind::Features,
                    claim.span.clone(),
                    Code::Schema,
                    Severity::Error,
                    format!("`{id}` is listed twice in this feature's `fulfills`"),
                ));
            }
            seen.push(id);
        }
        // droid's built-in validator skills have no SKILL.md; an empty skillName is droid's
        // "none". A skill is known by its SKILL.md's front-matter name, normalised.
        if let (Some(skills), Some(skill)) = (skills, &f.skill_name) {
            let name = normalize_skill_name(&skill.value);
            let builtin = [SCRUTINY_SKILL, USER_TESTING_SKILL].contains(&name.as_str());
            if !skill.value.trim().is_empty() && !builtin && !skills.contains(&name) {
                let known = if skills.is_empty() { "none".to_string() } else { skills.join(", ") };
                out.push(Diagnostic::on(
                    DocKind::Features,
                    skill.span.clone(),
                    Code::UnknownSkill,
                    Severity::Warning,
                    format!(
                        "no SKILL.md under skills/ is named `{}` (front-matter `name`; skills: {known})",
                        skill.value
                    ),
                ));
            }
        }
    }
}

/// Claims of well-formed ids that no heading defines (once per feature: a second listing in
/// the same feature is reported as a schema problem).
fn unknown_assertions(file: &FeaturesFile, index: &MissionIndex, out: &mut Vec<Diagnostic>) {
    if index.contract().is_none() {
        return;
    }
    for (id, claims) in index.claims_without_heading().filter(|(id, _)| ids::is_assertion_id(id)) {
        let mut last_feature = None;
        for c in claims {
            if last_feature == Some(c.feature) {
                continue;
            }
            last_feature = Some(c.feature);
            let span = file.features[c.feature].claims()[c.item].span.clone();
            out.push(Diagnostic::on(
                DocKind::Features,
                span,
                Code::UnknownAssertion,
                Severity::Error,
                format!("`{id}` is not an assertion of the validation contract"),
            ));
        }
    }
}
