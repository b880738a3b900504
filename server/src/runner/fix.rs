//! After a failed validation: a fresh orchestrator session gets the failures (assertions that
//! did not pass, review findings), adds fix features to features.json and calls
//! `submit_plan`, which answers with the plan's diagnostics until none is an error
//! (`PlanLint`). The new features go to the top of the queue, above the validators that
//! failed, with the milestone's name, as droid places fixes.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::agents::SessionCall;
use super::context::{self, FixContext};
use super::progress::{ToolFeed, Update};
use super::queue::{self, Queue};
use super::run::{Ctx, Step};
use super::schedule;
use super::state::ActiveFix;
use super::validate;
use crate::agent::final_tool::PlanLint;
use crate::agent::session::SessionEnd;
use crate::agent::transcript::new_session_id;
use crate::agent::SessionKind;
use crate::model::features::ValidatorKind;
use crate::model::progress_log::Event;

pub async fn add_fix_features(ctx: &mut Ctx, milestone: &str, round: u32) -> Result<Step, String> {
    let before = Queue::load(&ctx.mission)?;
    // A session that was cut keeps what it added: the fix is measured from before it.
    let active = match ctx.state.active_fix().filter(|f| f.milestone == milestone && f.round == round) {
        Some(active) => active,
        None => ActiveFix {
            milestone: milestone.to_string(),
            round,
            known: before.file.features.iter().filter_map(|f| f.id().map(str::to_string)).collect(),
        },
    };
    let known: HashSet<String> = active.known.iter().cloned().collect();
    let plan_problems = crate::agent::final_tool::lint_plan(&ctx.mission).err().map(|p| p.for_person(&ctx.mission));
    let records = validate::load_records(&ctx.mission);
    // The milestone's own assertions, and the stale ones of earlier milestones its round
    // validated again (its user-testing report names them).
    let mut ids: Vec<&str> = schedule::milestone_assertions(&before.file, milestone);
    let reported = records.milestone(milestone).and_then(|m| m.user_testing.as_ref());
    for id in reported.into_iter().flat_map(|u| {
        u.failed_assertions.iter().map(|f| f.id.as_str()).chain(u.blocked_assertions.iter().map(|b| b.id.as_str()))
    }) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let failing: Vec<(String, String, String)> = ids
        .into_iter()
        .filter_map(|id| {
            let status = crate::analysis::summary::assertion_status(Some(&records), id);
            let why = records
                .state
                .as_ref()
                .and_then(|s| s.assertions.get(id))
                .and_then(|a| a.issues.clone())
                .unwrap_or_default();
            (status != "passed").then(|| (id.to_string(), status.to_string(), why))
        })
        .collect();
    let mut findings = Vec::new();
    let mut reports = Vec::new();
    if let Some(m) = records.milestone(milestone) {
        for r in m.reviews.iter() {
            for i in r.code_review.issues.iter().filter(|i| i.severity != "suggestion") {
                let at = (!i.file.is_empty()).then(|| format!("{}:{}", i.file, i.line.unwrap_or(1)));
                findings.push((r.feature_id.clone(), i.severity.clone(), i.description.clone(), at));
            }
        }
        for kind in ValidatorKind::ALL {
            let path = validate::report_dir(&ctx.mission, milestone, kind).join("synthesis.json");
            if path.exists() {
                reports.push(path.display().to_string());
            }
        }
    }
    let task = context::fix_task(&FixContext {
        milestone,
        round,
        failing: &failing,
        findings: &findings,
        reports: &reports,
        plan_problems: plan_problems.as_deref(),
    });

    ctx.state.set_status(crate::model::records::MissionStatus::Running);
    ctx.state.set_active_fix(Some(&active));
    ctx.save_state()?;
    ctx.progress.update(Update::Fixing { milestone, round });
    let session_id = new_session_id();
    let mut lint = PlanLint { mission_dir: ctx.mission.clone() };
    let details = json!({"milestone": milestone, "round": round, "purpose": "fix"});
    let outcome = ctx
        .agents
        .run(
            SessionCall {
                kind: SessionKind::Orchestrator,
                session_id: &session_id,
                task,
                shared_context: None,
                details,
            },
            &mut lint,
            &ctx.cancel,
            &mut ToolFeed { progress: &mut *ctx.progress },
        )
        .await;
    match outcome.end {
        SessionEnd::Finished(_) => {}
        SessionEnd::Cancelled => return Ok(Step::Pause),
        SessionEnd::AwaitingAnswers(_) => return Ok(Step::AwaitingAnswers),
        end => {
            return Ok(Step::Halt(format!(
                "the orchestrator could not add fix features for round {round} of {milestone}: {}",
                end.reason()
            )))
        }
    }
    let after = Queue::load(&ctx.mission)?;
    let added: Vec<String> = after
        .file
        .features
        .iter()
        .filter(|f| !f.is_validator())
        .filter_map(|f| f.id())
        .filter(|id| !known.contains(*id))
        .map(str::to_string)
        .collect();
    if added.is_empty() {
        return Ok(Step::Halt(format!(
            "round {round} of {milestone} failed and the orchestrator added no fix features for it"
        )));
    }
    // A fix belongs to the failed milestone and waits to run; droid runs it first.
    for id in &added {
        let f = after.feature(id).ok_or("a fix feature vanished")?;
        let mut fields: Vec<(&str, Value)> = Vec::new();
        if f.milestone() != Some(milestone) {
            fields.push(("milestone", json!(milestone)));
        }
        if !f.is_pending() {
            fields.push(("status", json!(crate::model::features::FeatureStatus::Pending.as_str())));
        }
        if !fields.is_empty() {
            queue::update(&ctx.mission, id, &fields)?;
        }
    }
    let ids: Vec<&str> = added.iter().map(String::as_str).collect();
    queue::move_to_top(&ctx.mission, &ids)?;
    ctx.log(Event::FixFeaturesAdded {
        milestone: milestone.to_string(),
        round,
        session_id: session_id.clone(),
        feature_ids: added,
    })?;
    ctx.state.set_active_fix(None);
    ctx.save_state()?;
    Ok(Step::Continue)
}
