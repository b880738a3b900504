//! `workspace/executeCommand`: the mission commands of design §4. The first argument is the
//! mission folder's URI. Commands answer at once; a run reports through `missions/event`.

use std::path::PathBuf;

use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::{ExecuteCommandParams, Uri};

use super::guard::guarded;
use super::mission_task::{self, Launch};
use super::status::{self, StatusParams};
use super::{convert, Shared};
use crate::model::folder;

pub const START: &str = "missions.start";
pub const APPROVE_PLAN: &str = "missions.approvePlan";
pub const PAUSE: &str = "missions.pause";
pub const RESUME: &str = "missions.resume";
pub const CANCEL: &str = "missions.cancel";
pub const RUN_FEATURE: &str = "missions.runFeature";
pub const VALIDATE_MILESTONE: &str = "missions.validateMilestone";
pub const STATUS: &str = "missions.status";

/// The commands this server runs: design §4's whole set, in its order.
pub const ALL: [&str; 8] = [START, APPROVE_PLAN, PAUSE, RESUME, CANCEL, RUN_FEATURE, VALIDATE_MILESTONE, STATUS];

/// Whether `executeCommandProvider` (and the source action that runs these commands) is
/// advertised. The editors take the advertised list as design §4's whole set, which `ALL` is.
pub const ADVERTISED: bool = true;

/// A command that does not fit the mission's state (`already running`, `nothing to resume`).
fn refused(message: String) -> Error {
    Error { code: ErrorCode::InvalidRequest, message: message.into(), data: None }
}

fn invalid(message: String) -> Error {
    Error { code: ErrorCode::InvalidParams, message: message.into(), data: None }
}

/// The second argument (`runFeature`'s feature id, `validateMilestone`'s milestone).
fn second_arg(params: &ExecuteCommandParams, what: &str) -> Result<String> {
    match params.arguments.get(1) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(other) => Err(invalid(format!("{}: the second argument must be the {what}, got {other}", params.command))),
        None => Err(invalid(format!(
            "{} needs the {what} as its second argument (after the mission folder's URI)",
            params.command
        ))),
    }
}

/// The mission folder named by the first argument.
fn mission_arg(params: &ExecuteCommandParams) -> Result<(PathBuf, Uri)> {
    let Some(first) = params.arguments.first() else {
        return Err(invalid(format!("{} needs the mission folder's URI as its first argument", params.command)));
    };
    let uri = first.as_str().and_then(|s| s.parse::<Uri>().ok()).ok_or_else(|| {
        invalid(format!("{}: the first argument must be the mission folder's URI, got {first}", params.command))
    })?;
    let dir = convert::path_of(&uri).ok_or_else(|| invalid(format!("not a file URI: {}", uri.as_str())))?;
    // `file:///x/m/` and `file:///x/m` are the same folder.
    let dir: PathBuf = dir.components().collect();
    if !folder::is_mission_folder(&dir) {
        return Err(invalid(format!("{} is not a mission folder (it needs mission.md and state.json, or features.json and validation-contract.md)", dir.display())));
    }
    Ok((dir, uri))
}

pub async fn execute(shared: &Shared, params: ExecuteCommandParams) -> Result<Option<Value>> {
    if !shared.initialized.get().copied().unwrap_or(false) {
        return Err(refused("the server is not initialized yet (send `initialized` first)".into()));
    }
    if !ALL.contains(&params.command.as_str()) {
        return Err(invalid(format!("unknown command {}; this server runs {}", params.command, ALL.join(", "))));
    }
    let (dir, uri) = mission_arg(&params)?;
    if params.command == STATUS {
        return status::status(shared, StatusParams { mission_uri: uri }).await.map(Some);
    }
    let launch = match params.command.as_str() {
        START => Some(Launch::Start),
        RESUME => Some(Launch::Resume),
        APPROVE_PLAN => Some(Launch::ApprovePlan),
        RUN_FEATURE => Some(Launch::RunFeature(second_arg(&params, "feature id")?)),
        VALIDATE_MILESTONE => Some(Launch::ValidateMilestone(second_arg(&params, "milestone")?)),
        _ => None,
    };
    let missions = shared.missions.clone();
    let client = shared.client.clone();
    let command = params.command.clone();
    let (answer, events) = guarded("workspace/executeCommand", || match (launch, command.as_str()) {
        (Some(launch), _) => missions.start(&client, &dir, &uri, launch).map(|m| (m, Vec::new())),
        (None, PAUSE) => missions.pause(&dir).map(|m| (m, Vec::new())),
        (None, _) => missions.cancel(&dir),
    })?
    .map_err(refused)?;
    for event in &events {
        mission_task::send_event(&shared.client, &uri, event).await;
    }
    Ok(Some(json!({"missionUri": uri, "command": params.command, "message": answer})))
}
