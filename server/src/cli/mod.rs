//! Command-line subcommands. Each file is one command; they call `analysis` and `model`.

pub mod check;
pub mod demo;
pub mod new;
pub mod progress;
pub mod report;
pub mod run;
pub mod status;

/// Exit statuses of design §6 (0 is success): the program's outcomes become numbers only here.
pub const EXIT_INTERNAL: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_HALTED: i32 = 3;
pub const EXIT_WAITING: i32 = 4;

/// The mission a command means (its MISSION argument, or the only one under `.missions/`);
/// prints why there is none and gives the exit status 2 otherwise.
pub(crate) fn locate_mission(
    mission: Option<&std::path::Path>,
    err: &mut dyn std::io::Write,
) -> Result<std::path::PathBuf, i32> {
    let cwd = std::env::current_dir().unwrap_or_default();
    crate::runner::locate::locate(&cwd, mission).map_err(|e| {
        let _ = writeln!(err, "missions: {e}");
        EXIT_USAGE
    })
}
