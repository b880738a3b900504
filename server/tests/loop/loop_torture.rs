//! Crash torture of `missions run` (issue 22): the real binary runs a scripted mission and is
//! killed with SIGKILL at random moments, then run again, until the mission completes. After
//! every kill and at the end the mission's files, its progress log, the processes its agents
//! started, its locks and the repository must be sound.
//!
//! The checks on files are tables of rules: droid's format over every file
//! (`droid_format`, the rules genuine droid folders pass), [`FILE_RULES`] for the files that
//! table does not cover, [`event_identity`], [`EVENT_RULES`] and [`completed`]: when the
//! mission folder's format changes, these change, not the loop. `MISSIONS_TORTURE_KILLS` (default 10) sets the number of kills,
//! `MISSIONS_TORTURE_SEED` (default 22) the seed of their moments.

use crate::loop_support;

use std::collections::HashSet;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use loop_support::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

// ---- the rules: what the mission folder's format promises -------------------------------

/// A rule over every file of the mission folder: `check` gets the file's path and bytes for
/// the files `applies` accepts, and says what is wrong.
struct FileRule {
    name: &'static str,
    applies: fn(&Path) -> bool,
    check: fn(&Path, &[u8]) -> Result<(), String>,
}

fn named_ext(p: &Path, ext: &str) -> bool {
    p.extension().is_some_and(|e| e == ext)
}

const FILE_RULES: &[FileRule] = &[
    FileRule {
        name: "a JSON file parses",
        applies: |p| named_ext(p, "json"),
        check: |_, bytes| serde_json::from_slice::<Value>(bytes).map(drop).map_err(|e| e.to_string()),
    },
    FileRule {
        name: "a JSONL file is whole lines that parse",
        applies: |p| named_ext(p, "jsonl"),
        check: |_, bytes| {
            if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                return Err("the last line is not whole".into());
            }
            for (i, line) in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
                serde_json::from_slice::<Value>(line).map_err(|e| format!("line {}: {e}", i + 1))?;
            }
            Ok(())
        },
    },
];

/// A temporary file of an atomic write: a kill in the middle of one leaves it (the file it
/// was to replace is whole). Counted, not an error: nothing sweeps them yet.
fn is_temporary(p: &Path) -> bool {
    p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.') && n.to_string_lossy().contains(".tmp-"))
}

fn temporaries(mission: &Path) -> usize {
    let mut stack = vec![mission.to_path_buf()];
    let mut n = 0;
    while let Some(dir) = stack.pop() {
        for path in std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()) {
            if path.is_dir() {
                stack.push(path);
            } else {
                n += usize::from(is_temporary(&path));
            }
        }
    }
    n
}

/// The progress log, as a list of events.
fn events(mission: &Path) -> Vec<Value> {
    std::fs::read_to_string(mission.join("progress_log.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The identity of an event that must be logged once, however often its step is redone
/// after a crash (`paused`, `resumed`, `halted` may repeat; `None` for those).
fn event_identity(e: &Value) -> Option<String> {
    let f = |k: &str| e[k].to_string();
    let key = match e["type"].as_str()? {
        "worker_selected_feature" | "worker_started" | "worker_completed" | "worker_failed" => f("workerSessionId"),
        "milestone_started" | "milestone_passed" | "milestone_validation_triggered" => f("milestone"),
        "validation_round" | "fix_features_added" => format!("{}/{}", f("milestone"), f("round")),
        "mission_completed" | "mission_accepted" | "mission_created" => String::new(),
        _ => return None,
    };
    Some(format!("{}:{key}", e["type"]))
}

/// A rule over one event of a mission folder: its name and its check.
type EventRule = (&'static str, fn(&Path, &Value) -> Result<(), String>);

/// Rules over each event and the mission folder.
const EVENT_RULES: &[EventRule] = &[("a completed worker's handoff file exists", |mission, e| {
    if e["type"] != "worker_completed" {
        return Ok(());
    }
    let suffix = format!("__{}.json", e["workerSessionId"].as_str().unwrap_or(""));
    let found = std::fs::read_dir(mission.join("handoffs"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|f| f.file_name().to_string_lossy().ends_with(&suffix));
    if found {
        Ok(())
    } else {
        Err(format!("no handoffs/*{suffix}"))
    }
})];

/// Whether the mission folder says the mission completed.
fn completed(mission: &Path) -> bool {
    std::fs::read(mission.join("state.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .is_some_and(|s| s["state"] == "completed")
}

/// The locks a run holds, which no run holds once it ended or was killed and taken over.
fn locks(p: &Project) -> Vec<std::path::PathBuf> {
    vec![p.mission.join("run.lock"), p.repo.join(".git/missions-run.lock")]
}

// ---- the checks ------------------------------------------------------------------------

/// Every rule over every file and event; the broken ones, named.
/// `settled`: the run ended on its own. After a kill, features.json may be as an agent left
/// it (the orchestrator adds fix features with its edit tool, in its own layout, as droid's
/// does) until the runner's next rewrite: only its layout is excused then.
fn broken_rules(mission: &Path, settled: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![mission.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if is_temporary(&path) {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else { continue };
            for rule in FILE_RULES.iter().filter(|r| (r.applies)(&path)) {
                if let Err(e) = (rule.check)(&path, &bytes) {
                    out.push(format!("{}: {} ({e})", path.display(), rule.name));
                }
            }
        }
    }
    let agents_layout = |p: &String| !settled && p.starts_with("features.json: not laid out as droid writes it");
    out.extend(
        droid_format::check_folder(mission)
            .into_iter()
            .filter(|p| !agents_layout(p))
            .map(|p| format!("droid's format: {p}")),
    );
    let mut seen = HashSet::new();
    for e in events(mission) {
        if let Some(id) = event_identity(&e) {
            if !seen.insert(id.clone()) {
                out.push(format!("event logged twice: {id}"));
            }
        }
        for (name, rule) in EVENT_RULES {
            if let Err(why) = rule(mission, &e) {
                out.push(format!("{name}: {why}"));
            }
        }
    }
    out
}

/// Whether any process of the process group `pgid` is alive.
fn group_alive(pgid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks; a negative pid names a process group.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// Waits (10 s at most) until no process the run started is left: its own process group
/// and every process tagged with the mission. Returns those still alive after that.
fn leftovers(p: &Project, pgid: i32) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tagged = missions::agent::processes::tagged_processes(&p.mission);
        let group = group_alive(pgid);
        if tagged.is_empty() && !group {
            return Vec::new();
        }
        if Instant::now() > deadline {
            let mut out: Vec<String> = tagged
                .iter()
                .map(|pid| {
                    format!(
                        "pid {pid}: {}",
                        std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default().replace('\0', " ")
                    )
                })
                .collect();
            if group {
                out.push(format!("process group {pgid} of the killed run"));
            }
            return out;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn_run(p: &Project) -> std::process::Child {
    // A process group of its own: what the runner itself started is found by it.
    command(&p.repo, &["run", "--yes"]).stdout(Stdio::null()).stderr(Stdio::piped()).process_group(0).spawn().unwrap()
}

/// What one mission's torture came to.
#[derive(Default)]
struct Tally {
    missions: usize,
    kills: usize,
    runs: usize,
    failures: Vec<String>,
    leftovers: Vec<String>,
    broken: Vec<String>,
    /// Files a leftover process wrote into a repository (with what it says of itself), and
    /// other changes left in a working tree.
    stray: Vec<String>,
    locks_held: usize,
    fsck_problems: Vec<String>,
    completions_not_once: usize,
    /// Missions killed between `completed` in state.json and its `mission_completed` event:
    /// the event is lost and the locks stay (issue 22, item 8, fixed with the format change).
    completion_window: usize,
    /// Lock files of killed runs left on completed missions (stale: taken over by a next run).
    stale_locks: usize,
    temporaries: usize,
}

/// Runs a run of `p` to its end, at most `bound`; panics with the processes on a hang.
fn run_to_end(p: &Project, seed: u64, bound: Duration) -> (std::process::ExitStatus, String) {
    let mut run = spawn_run(p);
    let until = Instant::now() + bound;
    while run.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            let ps = std::process::Command::new("ps")
                .args(["-eo", "pid,ppid,pgid,stat,etime,args", "--forest"])
                .output()
                .unwrap();
            let _ = run.kill();
            panic!(
                "seed {seed}: a run hangs (over {bound:?}): {:?}\n{}",
                events(&p.mission).iter().map(|e| e["type"].clone()).collect::<Vec<_>>(),
                String::from_utf8_lossy(&ps.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = run.wait().unwrap();
    (status, std::io::read_to_string(run.stderr.take().unwrap()).unwrap_or_default())
}

/// One mission: killed at random moments (at most `kills`), then run to completion; every
/// rule checked after each kill and at the end.
fn torture_one(model: &MissionModel, rng: &mut StdRng, seed: u64, kills: usize, tally: &mut Tally) -> Project {
    // The project's tests leave a process in the background (a dev server does the like) that
    // would write into the repository a minute later: it must never outlive its run, and no
    // session here lasts that long, so only a leftover could write it.
    let mut plan = features();
    plan["features"][1]["x-fake"]["files"]["tests/test_bg.sh"] = serde_json::json!(
        "( sleep 60; { date; env | grep MISSIONS_AGENT_PROCESS; } > \"stray-$$.txt\" ) >/dev/null 2>&1 &\nexit 0\n"
    );
    let p = Project::new(model, "max_validation_rounds = 3\ncommand_timeout_s = 30", CONTRACT, &plan);
    tally.missions += 1;
    let (mut killed, mut failed_in_a_row) = (0, 0);
    // A whole run takes a few seconds here; kills land anywhere in it, early ones too.
    while killed < kills && !completed(&p.mission) && failed_in_a_row < 3 {
        let mut run = spawn_run(&p);
        tally.runs += 1;
        let pgid = run.id() as i32;
        let until = Instant::now() + Duration::from_millis(rng.random_range(0..2000));
        while Instant::now() < until && run.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        match run.try_wait().unwrap() {
            None => {
                run.kill().unwrap(); // SIGKILL
                run.wait().unwrap();
                killed += 1;
                failed_in_a_row = 0;
            }
            Some(status) if status.code() == Some(0) => {}
            Some(status) => {
                failed_in_a_row += 1;
                tally.failures.push(format!(
                    "a run ended {status}: {}",
                    std::io::read_to_string(run.stderr.take().unwrap()).unwrap_or_default()
                ));
            }
        }
        tally.leftovers.extend(leftovers(&p, pgid));
        tally.broken.extend(broken_rules(&p.mission, false).into_iter().map(|b| format!("after kill {killed}: {b}")));
    }
    tally.kills += killed;
    // Then run until it completes (a kill may have left nothing to do but finish).
    for _ in 0..5 {
        if completed(&p.mission) {
            break;
        }
        let (status, stderr) = run_to_end(&p, seed, Duration::from_secs(120));
        tally.runs += 1;
        if status.code() != Some(0) {
            tally.failures.push(format!("a run ended {status}: {stderr}"));
        }
    }
    if !completed(&p.mission) {
        tally.failures.push(format!(
            "the mission did not complete: {:?}",
            events(&p.mission).iter().map(|e| e["type"].clone()).collect::<Vec<_>>()
        ));
    }
    p
}

/// What must hold of a mission once it completed.
fn check_completed(p: &Project, tally: &mut Tally) {
    tally.broken.extend(broken_rules(&p.mission, true));
    tally.leftovers.extend(
        missions::agent::processes::tagged_processes(&p.mission)
            .into_iter()
            .map(|pid| format!("pid {pid} of the completed mission {}", p.mission.display())),
    );
    let fsck = std::process::Command::new("git").args(["fsck", "--no-progress"]).current_dir(&p.repo).output().unwrap();
    let problems = String::from_utf8_lossy(&fsck.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&fsck.stderr).lines())
        .filter(|l| !l.starts_with("dangling "))
        .map(str::to_string)
        .collect::<Vec<_>>();
    if !fsck.status.success() || !problems.is_empty() {
        tally.fsck_problems.push(format!("{}: {problems:?}", p.repo.display()));
    }
    for line in git(&p.repo, &["status", "--porcelain", "--untracked-files=all"]).lines() {
        let path = p.repo.join(line.get(3..).unwrap_or(""));
        tally.stray.push(format!(
            "{line} in {}: {}",
            p.repo.display(),
            std::fs::read_to_string(path).unwrap_or_default().trim()
        ));
    }
    tally.stray.extend(
        git(&p.repo, &["log", "--all", "--name-only", "--format="])
            .lines()
            .filter(|l| l.contains("stray-"))
            .map(|l| format!("{l} committed in {}", p.repo.display())),
    );
    let completions = events(&p.mission).iter().filter(|e| e["type"] == "mission_completed").count();
    tally.completion_window += usize::from(completed(&p.mission) && completions == 0);
    // A lock a killed run left names a dead process: the next run takes it over. One that
    // names a live process (or nothing readable) would block it.
    for lock in locks(p).into_iter().filter(|l| l.exists()) {
        let pid = std::fs::read(&lock)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["pid"].as_i64());
        // SAFETY: kill(2) with signal 0 only checks whether the process exists.
        let alive = pid.is_none_or(|pid| unsafe { libc::kill(pid as i32, 0) } == 0);
        if alive {
            tally.locks_held += 1;
        } else {
            tally.stale_locks += 1;
        }
    }
    tally.temporaries += temporaries(&p.mission);
    // `mission_completed` is logged before state.json says completed, and a run that finds
    // the state without the event logs it: exactly once, never missing.
    tally.completions_not_once += usize::from(completions > 1);
    if completed(&p.mission) && p.sh("sh calc.sh sub 5 3") != "2" {
        tally.failures.push("the completed mission's calculator is wrong".into());
    }
}

#[test]
fn random_sigkills_then_resumes_complete_missions_with_everything_sound() {
    let kills: usize = std::env::var("MISSIONS_TORTURE_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(12);
    let seed: u64 = std::env::var("MISSIONS_TORTURE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(22);
    let mut rng = StdRng::seed_from_u64(seed);
    // The orchestrator's fix session first writes a fix the plan lint refuses, then repairs
    // it: a kill between the two leaves a plan that does not lint, which the resume's fresh
    // fix session repairs (state.json's `activeFix`).
    let model = MissionModel::start(Script { latency: Duration::from_millis(40), ..sub_fix() });
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut projects = Vec::new();
    while tally.kills < kills {
        let per_mission = rng.random_range(1..=4).min(kills - tally.kills);
        projects.push(torture_one(&model, &mut rng, seed, per_mission, &mut tally));
    }
    for p in &projects {
        check_completed(p, &mut tally);
    }
    let t = &tally;
    eprintln!(
        "crash torture, seed {seed}, {:.0} s: {} SIGKILLs over {} runs of {} missions; {} runs failed or missions incomplete, 0 hangs, {} leftover processes, {} broken rules, git fsck problems in {}, {} stray files, {} locks held by a live process ({} stale ones of killed runs), {} missions logged mission_completed twice, {} killed between `completed` and its event, {} temporary files of interrupted writes left",
        started.elapsed().as_secs_f64(), t.kills, t.runs, t.missions, t.failures.len(), t.leftovers.len(), t.broken.len(), t.fsck_problems.len(), t.stray.len(), t.locks_held, t.stale_locks, t.completions_not_once, t.completion_window, t.temporaries
    );
    assert!(t.failures.is_empty(), "seed {seed}: {:#?}", t.failures);
    assert!(t.leftovers.is_empty(), "seed {seed}: processes outlived a killed run: {:#?}", t.leftovers);
    assert!(t.broken.is_empty(), "seed {seed}: {:#?}", t.broken);
    assert!(t.fsck_problems.is_empty(), "seed {seed}: git fsck: {:#?}", t.fsck_problems);
    assert!(
        t.stray.is_empty(),
        "seed {seed}: working trees not clean (a leftover process writes `stray-*.txt`): {:#?}",
        t.stray
    );
    assert_eq!(t.locks_held, 0, "seed {seed}: locks held by live processes after every run ended");
    assert_eq!(t.completions_not_once, 0, "seed {seed}: mission_completed logged twice");
    assert_eq!(t.completion_window, 0, "seed {seed}: a completed mission without its mission_completed");
}
