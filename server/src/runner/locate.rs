//! Which mission a command means: the MISSION argument, or the only mission under the
//! workspace's `.missions/`.

use std::path::{Path, PathBuf};

use crate::model::folder;

#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error(
        "{0} is not a mission folder (it needs mission.md and state.json, or features.json and validation-contract.md)"
    )]
    NotAMission(PathBuf),
    #[error("no mission here: no .missions/ folder from {0} up to the git top level (create one with `missions new \"<goal>\"`)")]
    NoMissions(PathBuf),
    #[error("several missions; name one:\n{}", .0.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n"))]
    Several(Vec<PathBuf>),
}

pub fn locate(cwd: &Path, mission: Option<&Path>) -> Result<PathBuf, LocateError> {
    if let Some(m) = mission {
        let dir = if m.is_absolute() { m.to_path_buf() } else { cwd.join(m) };
        return if folder::is_mission_folder(&dir) { Ok(dir) } else { Err(LocateError::NotAMission(m.to_path_buf())) };
    }
    match folder::find_workspace_missions(cwd) {
        Some((_, mut found)) if found.len() == 1 => Ok(found.remove(0)),
        Some((_, found)) if found.len() > 1 => Err(LocateError::Several(found)),
        _ => Err(LocateError::NoMissions(cwd.to_path_buf())),
    }
}
