//! `missions/status` (design §4): a mission's state, milestone, round and counts of features
//! and assertions by status, for status bars and `:Mission status`.

use serde::Deserialize;
use serde_json::Value;
use tower_lsp::jsonrpc::{Error, Result};
use tower_lsp::lsp_types::Url;

use super::{convert, Shared};
use crate::analysis::summary::summarize;
use crate::model::folder::{self, STATE_FILE};
use crate::model::records::{self, MissionState};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusParams {
    pub mission_uri: Url,
}

pub async fn status(shared: &Shared, params: StatusParams) -> Result<Value> {
    let snapshot = shared.snapshot().await;
    let Some(dir) = convert::path_of(&params.mission_uri) else {
        return Err(Error::invalid_params(format!("not a file URI: {}", params.mission_uri)));
    };
    let Some(mission) = snapshot.missions.get(&dir) else {
        return Err(Error::invalid_params(format!("{} is not a mission folder the server knows (open one of its files first)", dir.display())));
    };
    // The runner owns state.json; a plan written by hand has none yet and is still planning.
    let state = match folder::read_optional(&dir.join(STATE_FILE)) {
        Ok(Some(text)) => records::load::<MissionState>(&text).value.unwrap_or_default(),
        Ok(None) => MissionState { status: "planning".into(), ..MissionState::default() },
        Err(e) => return Err(Error::invalid_params(format!("{}: {e}", dir.join(STATE_FILE).display()))),
    };
    let analysis = &mission.analysis;
    let summary = summarize(&state, analysis.contract(), analysis.features(), analysis.parts.validation.as_deref());
    let mut value = serde_json::to_value(summary).map_err(|e| Error::invalid_params(e.to_string()))?;
    value["missionUri"] = Value::String(params.mission_uri.to_string());
    Ok(value)
}
