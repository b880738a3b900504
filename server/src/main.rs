//! `missions`: the command-line entry point.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use missions::cli::check::{self, CheckOptions, Format};

#[derive(Parser)]
#[command(name = "missions", version, about = "Runs long, multi-agent software projects (\"missions\"): a validation contract first, then a feature queue, fresh workers, independent validators.", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--quiet`, for the commands that print more than their result.
#[derive(clap::Args)]
struct Quiet {
    /// Print less: only results and errors.
    #[arg(long, short)]
    quiet: bool,
}

/// `--quiet` and `--verbose` of `run` and `demo`.
#[derive(clap::Args)]
struct RunVerbosity {
    /// Print only the outcome and errors.
    #[arg(long, short, conflicts_with = "verbose")]
    quiet: bool,
    /// Print every tool call the agents make, besides the progress.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Lint mission folders or files: validation-contract.md and features.json, checked against each other.
    #[command(
        long_about = "Lint mission folders or files.\n\nEach PATH is a mission folder, a folder searched for mission folders, or one of validation-contract.md / features.json (checked against its sibling; only that file's diagnostics are printed). Without PATH, every mission under .missions/ (found by walking up to the git top level) is checked.\n\nOutput: `path:line:col: severity[code]: message`, 1-based line and column (Unicode code points). Exit status: 0 clean (warnings allowed), 1 errors, 2 bad usage or unreadable input."
    )]
    Check {
        /// Mission folders or files to check.
        paths: Vec<PathBuf>,
        /// Output format: `text` lines or a `json` array of {path, range, severity, code, message} (LSP ranges: 0-based lines, UTF-16 columns).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Also print hints (`unknown-tool`), which are left out by default.
        #[arg(long, short)]
        verbose: bool,
        #[command(flatten)]
        quiet: Quiet,
        /// Also run every assertion's `Check:` command on the mission's base commit (in a throwaway worktree, as many at once as there are cores, cached by command and commit): a check that already passes there is `check-passes-on-base`, one that cannot run `check-cannot-run`.
        #[arg(long)]
        run_checks: bool,
    },
    /// Create a mission: .missions/<slug>/ with mission.md and state.json, in the current git repository.
    New {
        /// What the mission should achieve, in your words (becomes mission.md).
        goal: String,
        /// Folder name under .missions/ (default: made from the goal). A name a mission already has is refused.
        #[arg(long)]
        name: Option<String>,
        /// Print only the new folder's path.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run a mission: plans it first when it has no plan (the plan waits for your approval unless --yes), then features in order, milestone validation, fix features, until completed or halted. Resumes an interrupted run.
    #[command(
        long_about = "Run a mission. A mission without a plan is planned first: an orchestrator session writes validation-contract.md, then features.json and the shared files; it may ask you questions in mission.md, and the plan waits for your approval (exit 4) unless --yes approves it.\n\nThen the features in queue order (preconditions that name features respected), each in a fresh worker session; at the end of each milestone the Check: commands, a scrutiny and a user-testing validator; fix features for a failed round, until every assertion passes or the mission halts.\n\nWorks on the branch missions/<slug>; refuses a dirty working tree. Resumes an interrupted run where its files say. Ctrl-C, SIGTERM and SIGHUP (the terminal closed, the ssh connection dropped) pause it.\n\nExit status: 0 completed, 3 halted, 4 waiting on you (approval, answers, paused), 2 usage or no mission, 1 internal error."
    )]
    Run {
        /// The mission folder (default: the only mission under .missions/).
        mission: Option<PathBuf>,
        /// Approve the plan and start without asking; the planner may not ask questions either.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        verbosity: RunVerbosity,
    },
    /// Show where a mission stands: status, milestone, round, features and assertions by status, recent events.
    Status {
        /// The mission folder (default: the only mission under .missions/).
        mission: Option<PathBuf>,
        /// Output format: `text` lines, or one `json` object (the counts, what runs now and what it waits for, tokens and cost so far, the last events).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// The mission breakdown: runtime by role and milestone, agent runs, tokens and cost, lines of code and test share, fix features, issues, turns, validation rounds.
    #[command(
        long_about = "The mission breakdown: runtime by role (orchestration, implementation, validation) and per milestone, agent runs, tokens by type and role, cost (with [prices.\"model\"] in missions.toml), lines of code and test share (git diff from the mission's base commit to its branch), fix features / features, issues by severity, median and p90 turns per role, validation rounds per milestone.\n\nExit status: 0, or 2 when there is no mission or the HTML file cannot be written."
    )]
    Report {
        /// The mission folder (default: the only mission under .missions/).
        mission: Option<PathBuf>,
        /// Output format: aligned `text` tables or `json` (stable keys).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Write one self-contained HTML page with the charts (milestone waterfall, agent runs over time) and the tables to FILE, and print where instead of the text tables (`--format json` still prints the JSON).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        #[command(flatten)]
        quiet: Quiet,
    },
    /// Run a whole bundled mission offline (a shell calculator), replaying a recorded scripted model, then print its report.
    Demo {
        /// Keep the demo's repository and mission in DIR (default: a temporary folder, removed afterwards).
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        #[command(flatten)]
        verbosity: RunVerbosity,
    },
    /// The language server, on stdin/stdout (diagnostics, hover, go to definition, references, symbols, rename).
    Lsp {
        /// Speak LSP on stdin/stdout: the only transport, and the default. Accepted because
        /// language clients pass it by convention (vscode-languageclient's stdio transport does).
        #[arg(long)]
        stdio: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap uses 0 for --help/--version and 2 for usage errors, as design §3 wants.
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    init_tracing(matches!(cli.command, Command::Lsp { .. }));
    missions::agent::secrets::protect_process_environment();
    let code = match cli.command {
        Command::Check { paths, format, verbose, quiet, run_checks } => {
            let opts = CheckOptions { paths, format, verbose, quiet: quiet.quiet, run_checks };
            check::run(&opts, &mut std::io::stdout().lock(), &mut std::io::stderr().lock())
        }
        Command::New { goal, name, quiet } => missions::cli::new::run(
            &goal,
            name.as_deref(),
            quiet,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        ),
        Command::Run { mission, yes, verbosity } => {
            let verbosity = verbosity.level();
            // Unlocked handles: the signal task and progress bars write to stderr while it runs.
            missions::cli::run::run(mission.as_deref(), yes, verbosity, &mut std::io::stdout(), &mut std::io::stderr())
        }
        Command::Status { mission, format } => missions::cli::status::run(
            mission.as_deref(),
            format,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        ),
        Command::Report { mission, format, html, quiet } => missions::cli::report::run(
            mission.as_deref(),
            format,
            html.as_deref(),
            quiet.quiet,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        ),
        Command::Demo { keep, verbosity } => {
            let verbosity = verbosity.level();
            missions::cli::demo::run(keep.as_deref(), verbosity, &mut std::io::stdout(), &mut std::io::stderr())
        }
        Command::Lsp { stdio: _ } => {
            missions::lsp::limit_allocator_arenas();
            lsp_on_stdio()
        }
    };
    ExitCode::from(code as u8)
}

impl RunVerbosity {
    /// How much `run` and `demo` print.
    fn level(&self) -> missions::cli::progress::Verbosity {
        use missions::cli::progress::Verbosity;
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        }
    }
}

/// `missions lsp`: the server on its own runtime; the process exit status.
fn lsp_on_stdio() -> i32 {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => {
            let status = runtime.block_on(missions::lsp::run_stdio());
            // A blocking read of stdin would keep the runtime alive after `exit`.
            runtime.shutdown_background();
            status
        }
        Err(e) => {
            eprintln!("missions: cannot start the async runtime: {e}");
            1
        }
    }
}

/// Logs go to stderr at `warn` unless `RUST_LOG` says otherwise; `--verbose` is about output,
/// not logging (it would flood `check --verbose` with debug lines). In a terminal a warning
/// reads like the tool's other messages; editors' log panes get timestamps and targets.
fn init_tracing(server: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("missions=warn"));
    // Editors show stderr in their LSP log panes: colour only on a terminal.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi);
    let _ = if server {
        // The server's log never blocks it, even when nobody reads its stderr (`lsp::logging`).
        missions::lsp::logging::log_panics();
        builder.with_writer(missions::lsp::logging::StderrQueue::global().clone()).try_init()
    } else {
        builder.with_writer(std::io::stderr).without_time().with_target(false).try_init()
    };
}
