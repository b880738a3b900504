//! textDocument/codeLens and codeLens/resolve: feature status and sessions, assertion owner and
//! validation, the contract's counts (see `analysis::lens`).
//!
//! `textDocument/codeLens` answers ranges only, with `data` = `[doc key, list id, index,
//! position among the lenses of its line]`. The list is built on the first request and kept
//! while the document's text is unchanged: a new analysis after an edit of the *other*
//! document keeps it (the titles change, the ranges do not), see [`LensCache::carried_over`].
//! `codeLens/resolve` adds the title and command from the newest analysis. A lens from a list
//! that is gone (its document changed) is resolved against the newest one: the lens now at the
//! same line and position, or an empty label when there is none.
//!
//! Information lenses are labels: a command with an empty id, which VS Code draws as plain text
//! and Neovim shows as its title. Action lenses ("Start mission", "Run feature") carry the
//! mission commands with the mission folder's URI first.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{CodeLens, CodeLensParams, Command};

use super::analyzer::{MissionSnapshot, Snapshot};
use super::convert::{self, Encoding};
use super::guard::guarded;
use super::mission_task::Missions;
use super::Shared;
use crate::analysis::lens::{contract_counts, contract_slots, feature_slots, resolve, Counts, LensAction, LensSlot};
use crate::analysis::DocKind;
use crate::model::records::MissionStatus;
use crate::runner::schedule::runnable_feature;
use crate::runner::state::StateStore;

/// Per analysed mission: its lenses without titles, per document, and the contract's counts.
#[derive(Debug, Default)]
pub struct LensCache {
    contract: OnceLock<Arc<Unresolved>>,
    features: OnceLock<Arc<Unresolved>>,
    counts: OnceLock<Counts>,
}

static NEXT_LIST: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
struct Unresolved {
    /// Unique per list: a lens whose `data` names another list is resolved by its line.
    id: u64,
    encoding: Encoding,
    slots: Vec<LensSlot>,
    /// What `textDocument/codeLens` answers, one per slot.
    lenses: Arc<Vec<CodeLens>>,
}

impl LensCache {
    /// The cache of a new analysis: the lens lists of the documents whose text (and so parse)
    /// did not change since `previous` stay valid; the counts do not.
    pub fn carried_over(previous: Option<&MissionSnapshot>, contract_same: bool, features_same: bool) -> LensCache {
        let cache = LensCache::default();
        if let Some(previous) = previous {
            for (kind, same) in [(DocKind::Contract, contract_same), (DocKind::Features, features_same)] {
                if let (true, Some(list)) = (same, previous.lenses.slot(kind).get()) {
                    let _ = cache.slot(kind).set(list.clone());
                }
            }
        }
        cache
    }

    fn slot(&self, kind: DocKind) -> &OnceLock<Arc<Unresolved>> {
        match kind {
            DocKind::Contract => &self.contract,
            DocKind::Features => &self.features,
        }
    }
}

/// The unresolved lenses of one document of `mission`, built at most once per analysis (for the
/// encoding negotiated at `initialize`, which does not change afterwards).
fn unresolved(mission: &MissionSnapshot, kind: DocKind, encoding: Encoding) -> Option<&Unresolved> {
    let doc = mission.doc(kind)?;
    let cached = mission.lenses.slot(kind).get_or_init(|| Arc::new(build(mission, kind, doc, encoding)));
    (cached.encoding == encoding).then_some(cached)
}

fn build(mission: &MissionSnapshot, kind: DocKind, doc: &super::documents::Document, encoding: Encoding) -> Unresolved {
    let slots = match kind {
        DocKind::Contract => contract_slots(&mission.analysis),
        DocKind::Features => feature_slots(&mission.analysis),
    };
    let key = doc_key(&mission.dir, kind);
    let id = NEXT_LIST.fetch_add(1, Ordering::Relaxed);
    let mut lenses = Vec::with_capacity(slots.len());
    let mut line_start = 0;
    for (i, s) in slots.iter().enumerate() {
        let range = convert::range(doc, &s.span, encoding);
        if lenses.last().is_some_and(|l: &CodeLens| l.range.start.line != range.start.line) {
            line_start = i;
        }
        let data = serde_json::json!([key, id, i, i - line_start]);
        lenses.push(CodeLens { range, command: None, data: Some(data) });
    }
    Unresolved { id, encoding, slots, lenses: Arc::new(lenses) }
}

/// Identifies a mission document across analyses: a hash of the folder and the kind, small
/// enough to stay exact as a JSON number in any client.
fn doc_key(dir: &Path, kind: DocKind) -> u64 {
    // FNV-1a, 32 bits.
    let mut h: u32 = 0x811c_9dc5;
    for b in dir.as_os_str().as_encoded_bytes() {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    u64::from(h) * 2 + u64::from(kind == DocKind::Features)
}

pub async fn code_lens(shared: &Shared, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    guarded("textDocument/codeLens", || {
        let (mission, kind, _) = snapshot.mission_doc(&params.text_document.uri)?;
        match unresolved(mission, kind, encoding) {
            Some(cached) => Some(cached.lenses.as_ref().clone()),
            None => mission.doc(kind).map(|doc| build(mission, kind, doc, encoding).lenses.as_ref().clone()),
        }
    })
}

pub async fn code_lens_resolve(shared: &Shared, lens: CodeLens) -> Result<CodeLens> {
    let snapshot = shared.snapshot().await;
    let encoding = shared.encoding();
    guarded("codeLens/resolve", || {
        let command =
            resolve_command(&snapshot, &lens, encoding, &shared.missions).unwrap_or_else(|| label(String::new()));
        CodeLens { command: Some(command), ..lens }
    })
}

fn label(title: String) -> Command {
    Command { title, command: String::new(), arguments: None }
}

fn resolve_command(snapshot: &Snapshot, lens: &CodeLens, encoding: Encoding, missions: &Missions) -> Option<Command> {
    let data = lens.data.as_ref()?.as_array()?;
    let number = |i: usize| data.get(i).and_then(serde_json::Value::as_u64);
    let (key, list, index, in_line) = (number(0)?, number(1)?, number(2)?, number(3)?);
    let (mission, kind) = snapshot.missions.values().find_map(|m| {
        [DocKind::Contract, DocKind::Features].into_iter().find(|k| doc_key(&m.dir, *k) == key).map(|k| (m, k))
    })?;
    let target = match unresolved(mission, kind, encoding) {
        Some(cached) if cached.id == list => cached.slots.get(usize::try_from(index).ok()?)?.target,
        // Another encoding than the list was built for (not after `initialize`): uncached.
        None => slots_of(mission, kind).get(usize::try_from(index).ok()?)?.target,
        // A list that is gone: whatever lens now sits at the same line and position.
        Some(cached) => {
            let line = lens.range.start.line;
            let first = cached.lenses.partition_point(|l| l.range.start.line < line);
            let at = first.checked_add(usize::try_from(in_line).ok()?)?;
            if cached.lenses.get(at).is_none_or(|l| l.range.start.line != line) {
                return None;
            }
            cached.slots.get(at)?.target
        }
    };
    let counts = || *mission.lenses.counts.get_or_init(|| contract_counts(&mission.analysis));
    let (title, action) = resolve(&mission.analysis, target, counts)?;
    let uri = || convert::uri_of(&mission.dir).map(|u| serde_json::Value::String(u.to_string()));
    let running = || missions.is_running(&mission.dir);
    Some(match (action, uri()) {
        (Some(LensAction::Start), Some(uri)) => mission_lens(&mission.dir, running(), title, uri),
        (Some(LensAction::RunFeature(_)), Some(_)) if running() => label("(the mission is running)".into()),
        // Offered only when the command would take it; else a label saying why not.
        (Some(LensAction::RunFeature(id)), Some(uri)) => {
            match (mission.analysis.features().map(|f| runnable_feature(f, &id)), plan_approved(&mission.dir)) {
                (Some(Err(why)), _) => label(format!("({why})")),
                (_, false) => label("(approve the plan first)".into()),
                _ => Command { title, command: "missions.runFeature".into(), arguments: Some(vec![uri, id.into()]) },
            }
        }
        (_, _) => label(title),
    })
}

/// Whether the mission's plan may run: not waiting for the person's answers or approval (a
/// plan written by hand is approved by the command that runs it).
fn plan_approved(dir: &Path) -> bool {
    StateStore::open(dir)
        .map_or(true, |s| !matches!(s.status(), MissionStatus::AwaitingAnswers | MissionStatus::AwaitingApproval))
}

/// The contract's mission lens offers what fits the mission's state: pause a running one,
/// resume a paused or halted one, approve a plan awaiting approval, start the rest; a finished
/// mission gets a label.
fn mission_lens(dir: &Path, running: bool, start_title: String, uri: serde_json::Value) -> Command {
    let state = StateStore::open(dir).ok();
    let status = state.as_ref().map(|s| s.status());
    let (title, command) = match status {
        _ if running => ("⏸ Pause mission".to_string(), "missions.pause"),
        Some(MissionStatus::Completed) => return label("✓ Mission completed".into()),
        Some(MissionStatus::Cancelled) => return label("Mission cancelled".into()),
        Some(MissionStatus::Paused) => ("▶ Resume mission".to_string(), "missions.resume"),
        // The reason shows whether resuming can help before the person tries it.
        Some(MissionStatus::Halted) => {
            (halted_title(state.as_ref().and_then(|s| s.state.halt_reason.as_deref())), "missions.resume")
        }
        Some(MissionStatus::AwaitingApproval) => ("▶ Approve plan and start".to_string(), "missions.approvePlan"),
        _ => return Command { title: start_title, command: "missions.start".into(), arguments: Some(vec![uri]) },
    };
    Command { title, command: command.into(), arguments: Some(vec![uri]) }
}

fn halted_title(reason: Option<&str>) -> String {
    const MAX_CHARS: usize = 80;
    let Some(reason) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
        return "▶ Resume mission (halted)".into();
    };
    let first_line = reason.lines().next().unwrap_or_default();
    let mut cut: String = first_line.chars().take(MAX_CHARS).collect();
    if cut.len() < reason.len() {
        cut.push('…');
    }
    format!("▶ Resume mission (halted: {cut})")
}

fn slots_of(mission: &MissionSnapshot, kind: DocKind) -> Vec<LensSlot> {
    match kind {
        DocKind::Contract => contract_slots(&mission.analysis),
        DocKind::Features => feature_slots(&mission.analysis),
    }
}

#[cfg(test)]
mod tests {
    use super::halted_title;

    #[test]
    fn a_halted_lens_names_the_first_line_of_its_reason_cut_short() {
        assert_eq!(halted_title(None), "▶ Resume mission (halted)");
        assert_eq!(halted_title(Some("  ")), "▶ Resume mission (halted)");
        assert_eq!(halted_title(Some("feat-a is blocked")), "▶ Resume mission (halted: feat-a is blocked)");
        assert_eq!(halted_title(Some("first\nsecond")), "▶ Resume mission (halted: first…)");
        let long = "é".repeat(200);
        assert_eq!(halted_title(Some(&long)), format!("▶ Resume mission (halted: {}…)", "é".repeat(80)));
    }
}
