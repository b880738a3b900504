//! What a user-testing session left as evidence, checked for each assertion: the files its
//! report cites and the files, requests, console messages and programs its `browser` and
//! `terminal` recorded, looked at on disk once (`model::evidence::inspect`: a screenshot must
//! decode), then matched against the assertion's `Evidence:` items by the pure
//! `analysis::evidence`. A claimed pass whose evidence is missing or contradicted does not
//! stand.

use std::path::Path;

use serde_json::{Map, Value};

use crate::analysis::evidence::{self, ItemCheck, Outcome, SeenFile, SessionView};
use crate::model::evidence::{inspect, FileKind, FileRole, Recorded};
use crate::model::records::relative_inside;

/// Every evidence file of one session, inspected once.
pub struct SessionEvidence<'a> {
    root: &'a Path,
    recorded: &'a Recorded,
    /// Tool-written files and every file a report cites, `cited` unset.
    files: Vec<SeenFile>,
    network_log: String,
    console_log: String,
}

/// One assertion's evidence, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssertionEvidence {
    /// Why a claimed pass does not stand (`None` when it stands, or nothing was claimed).
    pub overturned: Option<String>,
    /// The files that satisfy its items, then the other cited files that exist; relative to
    /// `evidence/`.
    pub paths: Vec<String>,
    /// The same files by kind, for a flow's `evidence` object (`screenshots`,
    /// `terminalSnapshots`, `networkLogs`…).
    pub by_kind: Map<String, Value>,
}

/// A cited path as a path inside `evidence/` (`root`): reports cite relative to it, but a
/// leading `evidence/`, or the folder's absolute path, is forgiven. `None` for a path that
/// leaves the folder.
pub fn cited_path(root: &Path, raw: &str) -> Option<String> {
    let raw = raw.trim();
    let relative = match Path::new(raw).strip_prefix(root) {
        Ok(rest) => rest.to_str()?.to_string(),
        Err(_) => raw.to_string(),
    };
    let inside = relative_inside(&relative)?;
    Some(inside.strip_prefix("evidence/").map(str::to_string).unwrap_or(inside))
}

impl<'a> SessionEvidence<'a> {
    /// `root`: the mission's `evidence/` folder; `cited`: every path any assertion of the
    /// report cites (as written).
    pub fn gather(root: &'a Path, recorded: &'a Recorded, cited: &[&str]) -> SessionEvidence<'a> {
        let mut files: Vec<SeenFile> = Vec::new();
        for f in &recorded.files {
            if files.iter().any(|x| x.path == f.path) {
                continue;
            }
            files.push(SeenFile {
                path: f.path.clone(),
                kind: inspect(&root.join(&f.path)),
                role: Some(f.what),
                label: f.label.clone(),
                cited: false,
            });
        }
        for raw in cited {
            let Some(path) = cited_path(root, raw) else { continue };
            if !files.iter().any(|x| x.path == path) {
                files.push(SeenFile {
                    kind: inspect(&root.join(&path)),
                    path,
                    role: None,
                    label: String::new(),
                    cited: false,
                });
            }
        }
        let log =
            |role: FileRole| recorded.files.iter().find(|f| f.what == role).map(|f| f.path.clone()).unwrap_or_default();
        SessionEvidence {
            root,
            recorded,
            network_log: log(FileRole::Network),
            console_log: log(FileRole::Console),
            files,
        }
    }

    /// Checks one assertion: its `Evidence:` items against the record and the files `cited`
    /// for it. With `claimed_pass`, a cited file that does not exist (or is not what its name
    /// says) and every unsatisfied item overturn the pass.
    pub fn check(&self, items: &[String], cited: &[String], claimed_pass: bool) -> AssertionEvidence {
        let raw = cited;
        let cited: Vec<Option<String>> = raw.iter().map(|c| cited_path(self.root, c)).collect();
        let files: Vec<SeenFile> = self
            .files
            .iter()
            .map(|f| SeenFile { cited: cited.iter().flatten().any(|c| *c == f.path), ..f.clone() })
            .collect();
        let view = SessionView {
            files: &files,
            network: self.recorded.network.as_deref(),
            console: self.recorded.console.as_deref(),
            terminals: &self.recorded.terminals,
            network_log: &self.network_log,
            console_log: &self.console_log,
        };
        let mut checks = evidence::check(items, &view);
        let mut paths = evidence::satisfied_paths(&checks);
        for (written, path) in raw.iter().zip(&cited) {
            let Some(path) = path else {
                checks.push(ItemCheck {
                    item: format!("the cited file {}", written.trim()),
                    outcome: Outcome::Missing("it is not inside evidence/".into()),
                });
                continue;
            };
            let Some(file) = files.iter().find(|f| &f.path == path) else { continue };
            match &file.kind {
                FileKind::Missing => checks.push(ItemCheck {
                    item: format!("the cited file {path}"),
                    outcome: Outcome::Missing("it does not exist".into()),
                }),
                FileKind::Broken(why) => checks
                    .push(ItemCheck { item: format!("the cited file {path}"), outcome: Outcome::Missing(why.clone()) }),
                _ if !paths.contains(path) => paths.push(path.clone()),
                _ => {}
            }
        }
        let overturned = claimed_pass.then(|| evidence::failure_reason(&checks)).flatten();
        let mut by_kind = Map::new();
        for p in &paths {
            let kind = files.iter().find(|f| &f.path == p).map_or("files", kind_of);
            match by_kind.entry(kind).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(list) => list.push(Value::String(p.clone())),
                _ => unreachable!("only arrays are inserted"),
            }
        }
        AssertionEvidence { overturned, paths, by_kind }
    }
}

/// The key a file goes under in a flow's `evidence` object.
fn kind_of(f: &SeenFile) -> &'static str {
    match (f.role, &f.kind) {
        (Some(FileRole::Network), _) => "networkLogs",
        (Some(FileRole::Console), _) => "consoleLogs",
        (Some(FileRole::TerminalScreen), _) => "terminalSnapshots",
        (Some(FileRole::Transcript), _) => "terminalTranscripts",
        (_, FileKind::Image { .. }) => "screenshots",
        _ => "files",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::evidence::{ConsoleMessage, RecordedFile, RecordedRequest};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(&vec![9; (width * height * 3) as usize]).unwrap();
        out
    }

    /// A session that took a screenshot, made a failing login request and left a text file;
    /// each claim is judged by what is on disk and in the record.
    #[test]
    fn claimed_passes_stand_or_fall_by_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("m/round-1")).unwrap();
        std::fs::write(root.join("m/round-1/home.png"), png(4, 3)).unwrap();
        std::fs::write(root.join("m/round-1/fake.png"), b"not a picture").unwrap();
        std::fs::write(root.join("m/round-1/notes.txt"), b"seen\n").unwrap();
        std::fs::write(root.join("m/round-1/browser-network.jsonl"), b"{}\n").unwrap();
        std::fs::write(root.join("m/round-1/browser-console.jsonl"), b"").unwrap();
        let recorded = Recorded {
            files: vec![
                RecordedFile { path: "m/round-1/home.png".into(), what: FileRole::Screenshot, label: "home".into() },
                RecordedFile {
                    path: "m/round-1/browser-network.jsonl".into(),
                    what: FileRole::Network,
                    label: String::new(),
                },
                RecordedFile {
                    path: "m/round-1/browser-console.jsonl".into(),
                    what: FileRole::Console,
                    label: String::new(),
                },
            ],
            network: Some(vec![RecordedRequest {
                method: "POST".into(),
                url: "http://127.0.0.1:9/api/login".into(),
                status: Some(500),
                error: None,
                resource_type: "Fetch".into(),
            }]),
            console: Some(vec![ConsoleMessage {
                level: "error".into(),
                text: "boom".into(),
                source: "console".into(),
                url: String::new(),
            }]),
            terminals: Vec::new(),
        };
        let cited = [
            "m/round-1/home.png",
            "evidence/m/round-1/notes.txt",
            "m/round-1/fake.png",
            "m/round-1/gone.png",
            "../../etc/passwd",
        ];
        let session = SessionEvidence::gather(root, &recorded, &cited);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();

        let absolute = root.join("m/round-1/home.png").display().to_string();
        let good = session.check(
            &s(&["screenshot(home)", "console-errors"]),
            &s(&[&absolute, "evidence/m/round-1/notes.txt"]),
            true,
        );
        assert_eq!(good.overturned, None);
        assert_eq!(good.paths, s(&["m/round-1/home.png", "m/round-1/browser-console.jsonl", "m/round-1/notes.txt"]));
        assert_eq!(
            Value::Object(good.by_kind),
            serde_json::json!({"screenshots": ["m/round-1/home.png"], "consoleLogs": ["m/round-1/browser-console.jsonl"], "files": ["m/round-1/notes.txt"]})
        );

        let contradicted = session.check(
            &s(&["screenshot(home)", "network(POST /api/login -> 200)"]),
            &s(&["m/round-1/home.png"]),
            true,
        );
        assert_eq!(contradicted.overturned.as_deref(), Some("the recorded evidence contradicts it: network(POST /api/login -> 200) (POST /api/login answered 500 (expected 200))"));
        assert_eq!(contradicted.paths, s(&["m/round-1/home.png"]), "only what satisfies an item, and what exists");

        let lies = session.check(
            &s(&["a video"]),
            &s(&["m/round-1/fake.png", "m/round-1/gone.png", "../../etc/passwd"]),
            true,
        );
        let why = lies.overturned.unwrap();
        assert!(
            why.starts_with("evidence missing: the cited file m/round-1/fake.png (not a PNG image that decodes"),
            "{why}"
        );
        assert!(
            why.contains("the cited file m/round-1/gone.png (it does not exist)")
                && why.contains("the cited file ../../etc/passwd (it is not inside evidence/)"),
            "{why}"
        );
        assert!(lies.paths.is_empty());

        let failed = session.check(&s(&["screenshot(home)", "network(POST /api/login -> 200)"]), &[], false);
        assert_eq!(failed.overturned, None, "only a claimed pass is overturned");
    }
}
