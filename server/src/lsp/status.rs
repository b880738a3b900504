//! `missions/status` (design §4): a mission's state, milestone, round and counts of features
//! and assertions by status, whether a run is alive, what it runs and waits for now, and the
//! tokens and cost so far, for status bars and `:Mission status`.

use serde::Deserialize;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::Uri;

use super::{convert, Shared};
use crate::runner::summary;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusParams {
    pub mission_uri: Uri,
}

pub async fn status(shared: &Shared, params: StatusParams) -> Result<Value> {
    let snapshot = shared.snapshot().await;
    let Some(dir) = convert::path_of(&params.mission_uri) else {
        return Err(Error::invalid_params(format!("not a file URI: {}", params.mission_uri.as_str())));
    };
    if !snapshot.missions.contains_key(&dir) {
        return Err(Error::invalid_params(format!(
            "{} is not a mission folder the server knows (open one of its files first)",
            dir.display()
        )));
    }
    // The files say where the runner is, not the editor's unsaved buffers.
    let read = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || (summary::on_disk(&dir), summary::run_now(&dir))).await
    };
    let (summary, now) = match read {
        Ok((Ok(found), now)) => (found.summary, now),
        Ok((Err(e), _)) => return Err(Error::invalid_params(e)),
        Err(e) => {
            return Err(Error {
                code: tower_lsp_server::jsonrpc::ErrorCode::InternalError,
                message: e.to_string().into(),
                data: None,
            })
        }
    };
    let mut value = serde_json::to_value(summary).map_err(|e| Error::invalid_params(e.to_string()))?;
    value["missionUri"] = Value::String(params.mission_uri.to_string());
    // Whether a runner (this server's or a terminal's `missions run`) holds the mission now: a
    // state.json left at `running` by a run that died is not a run in progress. What runs,
    // what it waits for, and the tokens and cost so far come with it.
    now.add_to(&mut value, std::time::SystemTime::now());
    Ok(value)
}
