//! Path confinement: every path a tool touches resolves inside the working directory (or the
//! mission folder), after following symlinks, and writes obey the role's rules.

use std::path::{Component, Path, PathBuf};

/// Where a session may write, besides reading everything under its roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePolicy {
    /// Workers: the working directory, never the mission folder.
    WorkingDirectory,
    /// Validators: only the mission's `evidence/` folder.
    EvidenceOnly,
    /// The orchestrator: the mission folder's plan files, not the runner's own records.
    PlanFiles,
}

/// Files and folders of the mission folder only the runner writes.
const RUNNER_RECORDS: [&str; 10] = [
    "state.json",
    "progress_log.jsonl",
    "validation-state.json",
    "worker-transcripts.jsonl",
    "working_directory.txt",
    "handoffs",
    "validation",
    "tool-output",
    "rejected-requests",
    "evidence",
];

/// The two roots a session sees, canonical (symlinks resolved) so comparisons are exact.
#[derive(Debug, Clone)]
pub struct Roots {
    pub working_dir: PathBuf,
    pub mission_dir: PathBuf,
}

impl Roots {
    pub fn new(working_dir: &Path, mission_dir: &Path) -> std::io::Result<Self> {
        Ok(Roots { working_dir: working_dir.canonicalize()?, mission_dir: mission_dir.canonicalize()? })
    }

    /// Resolves a path argument for reading: relative to the working directory, or absolute
    /// inside the mission folder (the prompt gives that path). `..`, other absolute paths and
    /// symlinks that lead out are refused.
    pub fn resolve(&self, arg: &str) -> Result<PathBuf, String> {
        if arg.contains('\0') {
            return Err("path contains a NUL byte".into());
        }
        let raw = Path::new(if arg.trim().is_empty() { "." } else { arg });
        if raw.components().any(|c| c == Component::ParentDir) {
            return Err(format!("`{arg}`: `..` is not allowed; use a path inside the working directory"));
        }
        let joined = if raw.is_absolute() {
            let inside_mission = raw.starts_with(&self.mission_dir) || self.mission_alias(raw);
            if !inside_mission {
                return Err(format!(
                    "`{arg}`: absolute paths are refused; use a path relative to the working directory {}",
                    self.working_dir.display()
                ));
            }
            raw.to_path_buf()
        } else {
            self.working_dir.join(raw)
        };
        let real = real_path(&joined).map_err(|e| format!("`{arg}`: {e}"))?;
        if real.starts_with(&self.working_dir) || real.starts_with(&self.mission_dir) {
            Ok(real)
        } else {
            Err(format!("`{arg}` leads outside the working directory (through a symlink); refused"))
        }
    }

    /// Resolves a path argument for writing under `policy`.
    pub fn resolve_for_write(&self, arg: &str, policy: WritePolicy) -> Result<PathBuf, String> {
        let real = self.resolve(arg)?;
        if real.starts_with(self.working_dir.join(".git")) {
            return Err(format!("`{arg}`: writing inside .git is refused; use git through `bash`"));
        }
        let in_mission = real.strip_prefix(&self.mission_dir).ok();
        match (policy, in_mission) {
            (WritePolicy::WorkingDirectory, None) => Ok(real),
            (WritePolicy::WorkingDirectory, Some(_)) => Err(format!(
                "`{arg}` is in the mission folder, which workers read but never write; report through submit_handoff"
            )),
            (WritePolicy::EvidenceOnly, Some(rel)) if rel.starts_with("evidence") && rel != Path::new("evidence") => Ok(real),
            (WritePolicy::EvidenceOnly, _) => Err(format!(
                "`{arg}`: validators write only under {}; report problems as issues, never fix them",
                self.mission_dir.join("evidence").display()
            )),
            (WritePolicy::PlanFiles, Some(rel)) => {
                let first = rel.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
                match first {
                    Some(f) if RUNNER_RECORDS.contains(&f.as_str()) => {
                        Err(format!("`{arg}`: `{f}` is the runner's record; the orchestrator writes the plan files"))
                    }
                    None => Err(format!("`{arg}` is the mission folder itself")),
                    // Correctness before features (design §6): the queue is written against
                    // a contract that exists, never the other way round.
                    Some(f) if f == "features.json" && rel == Path::new("features.json") && !self.mission_dir.join("validation-contract.md").is_file() => Err(format!(
                        "`{arg}`: features.json is written after validation-contract.md; write the contract (the assertions that define done) first, then the features that claim them"
                    )),
                    Some(_) => Ok(real),
                }
            }
            (WritePolicy::PlanFiles, None) => Err(format!(
                "`{arg}`: the orchestrator writes only the plan files in the mission folder {}; workers change the code",
                self.mission_dir.display()
            )),
        }
    }

    /// A path as the model should see it: relative to the working directory when inside it.
    pub fn display(&self, path: &Path) -> String {
        match path.strip_prefix(&self.working_dir) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
            Ok(rel) => rel.display().to_string(),
            Err(_) => path.display().to_string(),
        }
    }

    /// The mission folder may be given in its non-canonical spelling (e.g. /tmp vs /private/tmp).
    fn mission_alias(&self, raw: &Path) -> bool {
        raw.canonicalize().map(|c| c.starts_with(&self.mission_dir)).unwrap_or(false)
    }
}

/// The real location of `path`: the deepest existing ancestor canonicalized, the rest (which
/// does not exist yet, so holds no symlink) appended. A dangling symlink is resolved by hand.
fn real_path(path: &Path) -> Result<PathBuf, String> {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(meta) = std::fs::symlink_metadata(&existing) {
            if meta.file_type().is_symlink() && std::fs::metadata(&existing).is_err() {
                // Dangling: writing would create its target, wherever it points.
                let target = std::fs::read_link(&existing).map_err(|e| e.to_string())?;
                let parent = existing.parent().unwrap_or(Path::new("/")).to_path_buf();
                let next = if target.is_absolute() { target } else { parent.join(target) };
                if next.components().any(|c| c == Component::ParentDir) || rest.len() > 40 {
                    return Err("a dangling symlink leads outside".into());
                }
                existing = next;
                continue;
            }
            let mut real = existing.canonicalize().map_err(|e| e.to_string())?;
            for part in rest.iter().rev() {
                real.push(part);
            }
            return Ok(real);
        }
        match (existing.file_name().map(|n| n.to_os_string()), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return Err("no existing ancestor".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Roots) {
        let dir = tempfile::tempdir().unwrap();
        let wd = dir.path().join("repo");
        let mission = wd.join(".missions/m");
        std::fs::create_dir_all(&mission).unwrap();
        let roots = Roots::new(&wd, &mission).unwrap();
        (dir, roots)
    }

    #[test]
    fn writes_follow_the_role() {
        let (_d, r) = setup();
        let m = r.mission_dir.clone();
        let w = WritePolicy::WorkingDirectory;
        assert!(r.resolve_for_write("src/a.rs", w).is_ok());
        assert!(r.resolve_for_write(".missions/m/features.json", w).is_err());
        assert!(r.resolve_for_write(".git/config", w).is_err());
        let v = WritePolicy::EvidenceOnly;
        assert!(r.resolve_for_write(".missions/m/evidence/m1/a.log", v).is_ok());
        assert!(r.resolve_for_write("src/a.rs", v).is_err());
        assert!(r.resolve_for_write(".missions/m/features.json", v).is_err());
        let o = WritePolicy::PlanFiles;
        let features = m.join("features.json").display().to_string();
        let early = r.resolve_for_write(&features, o).unwrap_err();
        assert!(early.contains("after validation-contract.md"), "{early}");
        assert!(r.resolve_for_write(".missions/m/validation-contract.md", o).is_ok());
        std::fs::write(m.join("validation-contract.md"), "# C\n").unwrap();
        assert!(r.resolve_for_write(&features, o).is_ok());
        assert!(r.resolve_for_write(".missions/m/features.json", o).is_ok());
        assert!(r.resolve_for_write(".missions/m/skills/w/SKILL.md", o).is_ok());
        assert!(r.resolve_for_write(".missions/m/state.json", o).is_err());
        assert!(r.resolve_for_write(".missions/m/handoffs/x.json", o).is_err());
        assert!(r.resolve_for_write("src/a.rs", o).is_err());
    }

    #[test]
    fn a_dangling_symlink_out_is_refused() {
        let (d, r) = setup();
        std::os::unix::fs::symlink(d.path().join("outside.txt"), r.working_dir.join("link")).unwrap();
        assert!(r.resolve_for_write("link", WritePolicy::WorkingDirectory).is_err());
    }
}
