//! After a failed round: a fresh orchestrator session gets the round's issues, appends fix
//! features to features.json and calls `submit_plan`, which answers with the plan's
//! diagnostics until none is an error (`PlanLint`).

use std::collections::HashSet;

use serde_json::json;

use super::context::{self, FixContext};
use super::agents::SessionCall;
use super::progress::{ToolFeed, Update};
use super::queue::Queue;
use super::run::{Ctx, Step};
use super::schedule;
use super::validate;
use crate::agent::final_tool::PlanLint;
use crate::agent::session::SessionEnd;
use crate::agent::transcript::new_session_id;
use crate::agent::SessionKind;
use crate::model::records::ValidatorIssue;

/// Whether fix features for round `round` of `milestone` exist already (recorded in
/// state.json, or found in features.json after a crash before that record).
pub fn fixes_added(ctx: &Ctx, queue: &Queue, milestone: &str, round: u32) -> bool {
    if ctx.state.fixed_round(milestone, round) {
        return true;
    }
    let issue_ids: HashSet<String> = validate::read_round(&ctx.mission, milestone, round).map(|r| r.validators.into_iter().flat_map(|v| v.issues.into_iter().map(|i| i.id)).collect()).unwrap_or_default();
    queue.file.features.iter().any(|f| f.fixes.iter().any(|x| issue_ids.contains(&x.value)))
}

pub async fn add_fix_features(ctx: &mut Ctx, milestone: &str, round: u32) -> Result<Step, String> {
    let before = Queue::load(&ctx.mission)?;
    let known: HashSet<String> = before.file.features.iter().filter_map(|f| f.id().map(str::to_string)).collect();
    let record = validate::read_round(&ctx.mission, milestone, round).ok_or_else(|| format!("round {round} of {milestone} cannot be read"))?;
    let issues: Vec<ValidatorIssue> = record.validators.iter().flat_map(|v| v.issues.iter().cloned()).collect();
    let states = validate::load_state(&ctx.mission).unwrap_or_default();
    let failing: Vec<(String, String)> = schedule::milestone_assertions(&before.file, milestone)
        .into_iter()
        .map(|id| (id.to_string(), states.assertions.get(id).map_or("pending".to_string(), |s| s.status.clone())))
        .filter(|(_, s)| s != "passed")
        .collect();
    let round_file = validate::round_path(&ctx.mission, milestone, round);
    let task = context::fix_task(&FixContext { milestone, round, failing: &failing, issues: &issues, round_file: &round_file.display().to_string() });

    ctx.state.state.status = "running".into();
    ctx.save_state()?;
    ctx.progress.update(Update::Fixing { milestone, round });
    let session_id = new_session_id();
    let mut lint = PlanLint { mission_dir: ctx.mission.clone() };
    let details = json!({"milestone": milestone, "round": round, "purpose": "fix"});
    let outcome = ctx.agents.run(SessionCall { kind: SessionKind::Orchestrator, session_id: &session_id, task, details }, &mut lint, &ctx.cancel, &mut ToolFeed { progress: &mut *ctx.progress }).await;
    match outcome.end {
        SessionEnd::Finished(_) => {}
        SessionEnd::Cancelled => return Ok(Step::Pause),
        SessionEnd::AwaitingAnswers(_) => return Ok(Step::AwaitingAnswers),
        end => return Ok(Step::Halt(format!("the orchestrator could not add fix features for round {round} of {milestone}: {}", end.reason()))),
    }
    let after = Queue::load(&ctx.mission)?;
    let added: Vec<String> = after.file.features.iter().filter_map(|f| f.id()).filter(|id| !known.contains(*id)).map(str::to_string).collect();
    let fixes: Vec<&String> = added.iter().filter(|id| after.feature(id).is_some_and(|f| f.is_fix() && f.milestone() == Some(milestone))).collect();
    if fixes.is_empty() {
        return Ok(Step::Halt(format!("round {round} of {milestone} failed and the orchestrator added no fix features for it")));
    }
    ctx.state.mark_fixed_round(milestone, round);
    ctx.save_state()?;
    ctx.log("fix_features_added", json!({"milestone": milestone, "round": round, "sessionId": session_id, "featureIds": fixes}))?;
    Ok(Step::Continue)
}
