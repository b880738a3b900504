//! `missions demo [--keep DIR]`: runs a whole bundled mission offline (planning, two
//! milestones, a failed validation round, a fix feature, a passing re-validation) by
//! replaying a recorded scripted model, then prints the mission's report. See
//! `runner::demo`.

use std::io::Write;
use std::path::Path;

use super::{EXIT_INTERNAL, EXIT_USAGE};
use crate::agent::CancellationToken;
use crate::cli::check::Format;
use crate::cli::progress::{Lines, Verbosity};
use crate::model::persist::write_atomic;
use crate::runner::demo;
use crate::runner::run::{self, RunOptions, RunOutcome};

pub fn run(keep: Option<&Path>, verbosity: Verbosity, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    // The replayed workers commit through `bash`, which inherits this environment; pinned
    // identity and dates make their commits the recorded ones. Set before any thread starts.
    for (k, v) in demo::GIT_ENV {
        std::env::set_var(k, v);
    }
    if let Some(message) = keep.and_then(unusable_keep) {
        let _ = writeln!(err, "missions: {message}");
        return EXIT_USAGE;
    }
    let root = match demo::workspace(keep) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "missions: {e}");
            return EXIT_INTERNAL;
        }
    };
    let code = run_in(&root, verbosity, out, err);
    match keep {
        Some(_) => {
            let _ = writeln!(
                out,
                "\nThe demo's repository and mission are in {} (try `missions status` or `missions check` there).",
                root.join("calc").display()
            );
        }
        None => {
            let _ = std::fs::remove_dir_all(&root);
        }
    }
    code
}

/// Why `--keep DIR` cannot take the demo (a usage error, exit 2): DIR is a file, or a folder
/// that is not empty (the demo never writes over anything).
fn unusable_keep(dir: &Path) -> Option<String> {
    let meta = std::fs::metadata(dir).ok()?;
    if !meta.is_dir() {
        return Some(format!("--keep {}: not a folder; give --keep an empty or new folder", dir.display()));
    }
    let mut entries = std::fs::read_dir(dir).ok()?;
    entries.next().is_some().then(|| {
        format!("--keep {}: exists already and is not empty; give --keep an empty or new folder", dir.display())
    })
}

fn run_in(root: &Path, verbosity: Verbosity, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let fail = |err: &mut dyn Write, m: String| {
        let _ = writeln!(err, "missions: demo: {m}");
        EXIT_INTERNAL
    };
    let (repo, mission) = match demo::setup(root) {
        Ok(x) => x,
        Err(e) => return fail(err, e),
    };
    let recording = root.join("recording.jsonl");
    if let Err(e) = write_atomic(&recording, demo::RECORDING.as_bytes()) {
        return fail(err, format!("cannot write {}: {e}", recording.display()));
    }
    if let Err(e) = write_atomic(&repo.join("missions.toml"), demo::replay_config(&recording).as_bytes()) {
        return fail(err, format!("cannot write missions.toml: {e}"));
    }
    if verbosity != Verbosity::Quiet {
        let _ = writeln!(out, "missions demo: a shell calculator in {}\nEvery role replays a recorded *scripted* model (no network, no API key); the tools, git, the tests and the checks really run.\n", repo.display());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(err, format!("cannot start the async runtime: {e}")),
    };
    let opts = RunOptions {
        cwd: repo.clone(),
        mission: Some(mission.clone()),
        yes: true,
        allow_questions: false,
        origin: run::Origin::Terminal,
        target: run::Target::All,
        settings: None,
    };
    let progress = Box::new(Lines::new(std::io::stdout(), verbosity));
    let result = runtime.block_on(run::run(opts, progress, CancellationToken::new()));
    runtime.shutdown_background();
    if result.outcome != RunOutcome::Completed {
        let _ = writeln!(err, "missions: demo: the replayed mission did not complete: {}", result.message);
        return super::run::exit_code(result.outcome);
    }
    let _ = writeln!(out, "{}\n", result.message);
    crate::cli::report::run(Some(&mission), Format::Text, None, verbosity == Verbosity::Quiet, out, err)
}
