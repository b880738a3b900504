//! Red-green proof of a completed feature: the tests its handoff lists (droid's `tests.added`,
//! files and cases) run twice in throwaway worktrees (`scratch`): at the feature's start
//! commit, where they must fail or not exist, and at the handoff's commit, where they must
//! pass. The command is services.yaml's `commands.test` with the files when it takes files, else
//! a per-language default for them (`python3 -m pytest`, `sh FILE`, `node --test`, `bats`,
//! `go test ./DIR`, `cargo test`), else services.yaml's command as a whole. The proof (commands,
//! exit codes, output tails) is written into the handoff under `proof`; a refused proof sends
//! the feature to one more session with the exact output.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::git;
use super::scratch::{self, Scratch};
use crate::agent::cancel::CancellationToken;
use crate::agent::tools::bash::{kill_group, run_script, CommandSettings};
use crate::agent::tools::Roots;
use crate::model::folder;
pub use crate::model::proof::{Proof, ProofRun, ProofSide, RunResult, Verdict};
use crate::model::services;

/// Output lines kept per run.
const TAIL_LINES: usize = 30;

/// A command of the proof and the listed test files it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRun {
    pub command: String,
    pub files: Vec<String>,
    /// The command names the listed cases (pytest node ids, cargo test filters, `go test -run`),
    /// so a pass before the work means those very cases passed.
    pub selects_cases: bool,
}

/// What the worker's next session is told of a refused proof: the reasons, then every run
/// that says why, with its command, exit code and output.
pub fn for_worker(proof: &Proof) -> String {
    let mut t = format!(
        "The runner refused the previous session's success claim: its red-green proof failed: {}.\n",
        proof.reasons.join("; ")
    );
    for (side, label) in [
        (&proof.before, "at the feature's start commit (the tests must fail or not exist there)"),
        (&proof.after, "at the handoff's commit (the tests must pass there)"),
    ] {
        let Some(side) = side else { continue };
        for r in side.runs.iter().filter(|r| r.result != RunResult::Absent) {
            let code = r.exit_code.map_or(String::new(), |c| format!(", exit {c}"));
            t.push_str(&format!("\n$ {}   # {label}, {}{code}\n{}\n", r.command, short(&side.commit), r.output_tail));
        }
    }
    t.push_str("\nList in `tests.added` the tests this feature adds (each with its cases): tests that fail without the work and pass with it. Fix the tests or the code, commit, and hand off again.");
    t
}

/// The commands that run `tests` (each file with its case names).
pub fn plan(services_test: Option<&str>, tests: &[(String, Vec<String>)]) -> Vec<PlannedRun> {
    if let Some(cmd) = services_test.filter(|c| takes_files(c)) {
        let py = cmd.contains("pytest");
        let (args, selects) = pytest_args(tests, py);
        return vec![PlannedRun {
            command: format!("{cmd} {args}"),
            files: tests.iter().map(|(f, _)| f.clone()).collect(),
            selects_cases: selects,
        }];
    }
    let mut runs = Vec::new();
    let mut by_kind: BTreeMap<&str, Vec<&(String, Vec<String>)>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for t in tests {
        match language(&t.0) {
            Some(kind) => by_kind.entry(kind).or_default().push(t),
            None => unknown.push(t.0.clone()),
        }
    }
    for (kind, group) in by_kind {
        let files = |g: &[&(String, Vec<String>)]| g.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>();
        match kind {
            "python" => {
                let owned: Vec<(String, Vec<String>)> = group.iter().map(|t| (*t).clone()).collect();
                let (args, selects) = pytest_args(&owned, true);
                runs.push(PlannedRun {
                    command: format!("python3 -m pytest -q {args}"),
                    files: files(&group),
                    selects_cases: selects,
                });
            }
            "sh" => runs.extend(group.iter().map(|(f, _)| PlannedRun {
                command: format!("sh {}", quote(f)),
                files: vec![f.clone()],
                selects_cases: false,
            })),
            "node" => runs.push(PlannedRun {
                command: format!("node --test {}", group.iter().map(|(f, _)| quote(f)).collect::<Vec<_>>().join(" ")),
                files: files(&group),
                selects_cases: false,
            }),
            "bats" => runs.push(PlannedRun {
                command: format!("bats {}", group.iter().map(|(f, _)| quote(f)).collect::<Vec<_>>().join(" ")),
                files: files(&group),
                selects_cases: false,
            }),
            "go" => {
                let mut dirs: BTreeMap<String, Vec<&(String, Vec<String>)>> = BTreeMap::new();
                for t in &group {
                    let dir = Path::new(&t.0)
                        .parent()
                        .map(|p| p.to_string_lossy().into_owned())
                        .filter(|d| !d.is_empty())
                        .unwrap_or_else(|| ".".into());
                    dirs.entry(dir).or_default().push(t);
                }
                for (dir, g) in dirs {
                    let cases: Vec<&String> = g.iter().flat_map(|(_, c)| c).collect();
                    let selects = !cases.is_empty() && cases.iter().all(|c| is_identifier(c));
                    let run = if selects {
                        format!(" -run '^({})$'", cases.iter().map(|c| c.as_str()).collect::<Vec<_>>().join("|"))
                    } else {
                        String::new()
                    };
                    runs.push(PlannedRun {
                        command: format!("go test ./{}{run}", dir.trim_start_matches("./")),
                        files: files(&g),
                        selects_cases: selects,
                    });
                }
            }
            _ => {
                let cases: Vec<&String> = group.iter().flat_map(|(_, c)| c).collect();
                let selects = !cases.is_empty() && cases.iter().all(|c| is_identifier(c));
                let filters = if selects {
                    format!(" -- {}", cases.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(" "))
                } else {
                    String::new()
                };
                runs.push(PlannedRun {
                    command: format!("cargo test{filters}"),
                    files: files(&group),
                    selects_cases: selects,
                });
            }
        }
    }
    if !unknown.is_empty() {
        if let Some(cmd) = services_test {
            runs.push(PlannedRun { command: cmd.to_string(), files: unknown, selects_cases: false });
        }
    }
    runs
}

/// Whether a test command takes test files as arguments (appended at its end): a single
/// command (no `&&`, `;`, `|`) of a runner that does.
fn takes_files(cmd: &str) -> bool {
    if ["&&", "||", ";", "|", "`", "$("].iter().any(|op| cmd.contains(op)) {
        return false;
    }
    let words: Vec<&str> = cmd.split_whitespace().filter(|w| !w.contains('=')).collect();
    let program = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    words
        .iter()
        .any(|w| matches!(program(w).as_str(), "pytest" | "py.test" | "bats" | "rspec" | "jest" | "vitest" | "mocha"))
        || cmd.contains("node --test")
        || cmd.contains("-m pytest")
}

/// pytest's arguments: node ids (`file::case`) when every case is a name, else the files.
fn pytest_args(tests: &[(String, Vec<String>)], pytest: bool) -> (String, bool) {
    let cases: Vec<&String> = tests.iter().flat_map(|(_, c)| c).collect();
    let selects = pytest
        && !cases.is_empty()
        && tests.iter().all(|(_, c)| !c.is_empty())
        && cases.iter().all(|c| is_identifier(c));
    let args: Vec<String> = if selects {
        tests.iter().flat_map(|(f, cs)| cs.iter().map(move |c| quote(&format!("{f}::{c}")))).collect()
    } else {
        tests.iter().map(|(f, _)| quote(f)).collect()
    };
    (args.join(" "), selects)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn language(file: &str) -> Option<&'static str> {
    let name = file.rsplit('/').next().unwrap_or(file);
    if name.ends_with("_test.go") {
        return Some("go");
    }
    match name.rsplit_once('.')?.1 {
        "py" => Some("python"),
        "sh" | "bash" => Some("sh"),
        "js" | "mjs" | "cjs" => Some("node"),
        "bats" => Some("bats"),
        "rs" => Some("rust"),
        _ => None,
    }
}

/// A word the shell reads as `s` itself.
fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:+=@,".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Whether a run that exited 0 ran no test, from the runners' own closing lines.
fn ran_no_test(command: &str, code: i32, output: &str) -> bool {
    if command.contains("pytest") && code == 5 {
        return true;
    }
    if code != 0 {
        return false;
    }
    let results: Vec<&str> = output.lines().filter(|l| l.trim_start().starts_with("test result:")).collect();
    if command.contains("cargo test") && !results.is_empty() {
        return results.iter().all(|l| l.contains(" 0 passed") && l.contains(" 0 failed"));
    }
    if command.contains("node --test") {
        return output.lines().any(|l| matches!(l.trim_start_matches(['#', 'ℹ', ' ']).trim(), "tests 0"));
    }
    if command.contains("go test") {
        return output
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.contains("no test files") || l.contains("[no tests to run]"));
    }
    false
}

/// Where the proof runs.
pub struct ProofContext<'a> {
    pub repo: &'a Path,
    pub mission: &'a Path,
    pub settings: &'a CommandSettings,
    pub timeout: Duration,
    pub cancel: &'a CancellationToken,
}

/// Proves a feature's handoff: `tests` at `start` then at `end`. `fulfills`: the feature
/// claims assertions (then a handoff without tests is refused). `None` when cancelled.
pub async fn prove(
    c: &ProofContext<'_>,
    start: &str,
    end: &str,
    tests: &[(String, Vec<String>)],
    fulfills: bool,
) -> Option<Proof> {
    if tests.is_empty() {
        let reason = "the handoff lists no tests in `tests.added`".to_string();
        let verdict = if fulfills { Verdict::Refused } else { Verdict::Unproven };
        let reason = if fulfills {
            format!(
                "{reason}; a feature that fulfills assertions needs tests that fail without its work and pass with it"
            )
        } else {
            reason
        };
        return Some(Proof { verdict, reasons: vec![reason], before: None, after: None });
    }
    let (test_cmd, install) = services_commands(c.mission);
    let runs = plan(test_cmd.as_deref(), tests);
    let mut reasons_unproven = Vec::new();
    let covered: Vec<&String> = runs.iter().flat_map(|r| &r.files).collect();
    let uncovered: Vec<&str> =
        tests.iter().map(|(f, _)| f.as_str()).filter(|f| !covered.iter().any(|c| c.as_str() == *f)).collect();
    if !uncovered.is_empty() {
        reasons_unproven
            .push(format!("no command runs {}: add `commands.test` to services.yaml", uncovered.join(", ")));
    }
    if runs.is_empty() {
        return Some(Proof { verdict: Verdict::Unproven, reasons: reasons_unproven, before: None, after: None });
    }
    let mut job = match Scratch::new(c.repo, "proofs") {
        Ok(j) => j,
        Err(e) => {
            return Some(Proof {
                verdict: Verdict::Unproven,
                reasons: vec![format!("no worktree could be made to prove it: {e}")],
                before: None,
                after: None,
            })
        }
    };
    let logs = c.mission.join("tool-output").join("proofs").join(short(end));
    let mut sides = Vec::new();
    for (label, commit) in [("before", start), ("after", end)] {
        let worktree = match job.checkout(commit) {
            Ok(w) => w,
            Err(e) => {
                return Some(Proof {
                    verdict: Verdict::Unproven,
                    reasons: vec![format!("cannot check out {commit} to prove it: {e}")],
                    before: None,
                    after: None,
                })
            }
        };
        let mut side = ProofSide { commit: commit.to_string(), runs: Vec::new() };
        if let Some(install) = &install {
            let run = run_in(c, &worktree, install, &[], &logs.join(format!("{label}-install.log"))).await?;
            if run.result != RunResult::Passed {
                side.runs.push(run);
                sides.push(side);
                continue;
            }
        }
        for (i, planned) in runs.iter().enumerate() {
            let present = planned.files.iter().any(|f| worktree.join(f).exists());
            if !present {
                side.runs.push(ProofRun {
                    command: planned.command.clone(),
                    files: planned.files.clone(),
                    result: RunResult::Absent,
                    exit_code: None,
                    output_tail: String::new(),
                });
                continue;
            }
            side.runs.push(
                run_in(c, &worktree, &planned.command, &planned.files, &logs.join(format!("{label}-{i}.log"))).await?,
            );
        }
        let _ = scratch::reset(&worktree);
        sides.push(side);
    }
    let after = sides.pop();
    let before = sides.pop();
    let unchanged = unchanged_files(c.repo, start, end, tests);
    Some(judge(&runs, before, after, &unchanged, reasons_unproven))
}

/// The verdict from both sides' runs; `unchanged`: the listed files the work did not change.
fn judge(
    runs: &[PlannedRun],
    before: Option<ProofSide>,
    after: Option<ProofSide>,
    unchanged: &[String],
    mut unproven: Vec<String>,
) -> Proof {
    let mut refused = Vec::new();
    let after_runs = after.as_ref().map_or(&[][..], |s| s.runs.as_slice());
    let before_runs = before.as_ref().map_or(&[][..], |s| s.runs.as_slice());
    // A run that is none of the planned ones is services.yaml's install, which stopped that side.
    for r in after_runs.iter().filter(|r| !runs.iter().any(|p| p.command == r.command)) {
        refused.push(format!("services.yaml's install command `{}` fails at the handoff's commit", r.command));
    }
    for r in after_runs.iter().filter(|r| runs.iter().any(|p| p.command == r.command)) {
        match r.result {
            RunResult::Passed => {}
            RunResult::NoTests => refused.push(format!("`{}` runs no test at the handoff's commit", r.command)),
            RunResult::Absent => refused.push(format!("{} does not exist at the handoff's commit", r.files.join(", "))),
            RunResult::Failed | RunResult::CannotRun => refused.push(format!(
                "`{}` fails at the handoff's commit{}",
                r.command,
                r.exit_code.map_or(String::new(), |c| format!(" (exit {c})"))
            )),
        }
    }
    for r in before_runs.iter().filter(|r| r.result == RunResult::Passed) {
        let Some(planned) = runs.iter().find(|p| p.command == r.command) else { continue };
        let existing_unchanged = planned.files.iter().all(|f| unchanged.contains(f));
        if planned.selects_cases || existing_unchanged {
            refused.push(format!("`{}` passes already at the feature's start commit, before the work", r.command));
        } else {
            unproven.push(format!("`{}` passes at the start commit, where {} already existed; the cases the work adds to them could not be run alone", r.command, planned.files.join(", ")));
        }
    }
    let verdict = if !refused.is_empty() {
        Verdict::Refused
    } else if !unproven.is_empty() {
        Verdict::Unproven
    } else {
        Verdict::Proven
    };
    refused.extend(unproven);
    Proof { verdict, reasons: refused, before, after }
}

async fn run_in(
    c: &ProofContext<'_>,
    worktree: &Path,
    command: &str,
    files: &[String],
    log: &Path,
) -> Option<ProofRun> {
    let roots = match Roots::new(worktree, c.mission) {
        Ok(r) => r,
        Err(e) => {
            return Some(ProofRun {
                command: command.into(),
                files: files.to_vec(),
                result: RunResult::CannotRun,
                exit_code: None,
                output_tail: format!("cannot use the worktree: {e}"),
            })
        }
    };
    let mut groups = Vec::new();
    let run = run_script(&roots, c.settings, command, c.timeout, log, c.cancel, &mut groups).await;
    groups.into_iter().for_each(kill_group);
    if c.cancel.is_cancelled() {
        return None;
    }
    Some(match run {
        Ok(r) => {
            let result = if r.timed_out {
                RunResult::CannotRun
            } else if ran_no_test(command, r.code, &r.shown) {
                RunResult::NoTests
            } else if r.code == 0 {
                RunResult::Passed
            } else {
                RunResult::Failed
            };
            let mut tail = super::base_checks::tail(&r.shown, TAIL_LINES);
            if r.timed_out {
                tail.push_str(&format!("\n(timed out after {} s; the process group was killed)", r.timeout.as_secs()));
            }
            ProofRun {
                command: command.into(),
                files: files.to_vec(),
                result,
                exit_code: Some(r.code),
                output_tail: tail,
            }
        }
        Err(e) => ProofRun {
            command: command.into(),
            files: files.to_vec(),
            result: RunResult::CannotRun,
            exit_code: None,
            output_tail: e,
        },
    })
}

/// services.yaml's `test` and `install` commands, when it has them and reads.
fn services_commands(mission: &Path) -> (Option<String>, Option<String>) {
    let Ok(Some(text)) = folder::read_optional(&mission.join(services::SERVICES_FILE)) else { return (None, None) };
    match services::parse(&text) {
        Ok(file) => {
            let get = |name: &str| file.command(name).map(str::trim).filter(|c| !c.is_empty()).map(str::to_string);
            (get("test"), get("install"))
        }
        Err(e) => {
            tracing::warn!("{e}; the proof uses the per-language test commands");
            (None, None)
        }
    }
}

/// The listed test files that did not change between the two commits.
fn unchanged_files(repo: &Path, start: &str, end: &str, tests: &[(String, Vec<String>)]) -> Vec<String> {
    let changed = git::git(repo, &["diff", "--name-only", "--no-renames", start, end]).unwrap_or_default();
    let changed: Vec<&str> = changed.lines().collect();
    tests.iter().map(|(f, _)| f.clone()).filter(|f| !changed.contains(&f.as_str())).collect()
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(file: &str, cases: &[&str]) -> (String, Vec<String>) {
        (file.to_string(), cases.iter().map(|c| c.to_string()).collect())
    }

    #[test]
    fn each_kind_of_test_gets_its_command() {
        let cases = [
            (Some("sh test.sh"), vec![t("tests/test_add.sh", &["main"])], vec![("sh tests/test_add.sh", false)]),
            (
                Some("pytest -q"),
                vec![t("tests/test_a.py", &["test_one"]), t("tests/test_b.py", &["test_two"])],
                vec![("pytest -q tests/test_a.py::test_one tests/test_b.py::test_two", true)],
            ),
            (
                Some("pytest -q"),
                vec![t("tests/test_a.py", &["adds two numbers"])],
                vec![("pytest -q tests/test_a.py", false)],
            ),
            (None, vec![t("t/x.py", &[]), t("t/y.py", &[])], vec![("python3 -m pytest -q t/x.py t/y.py", false)]),
            (
                Some("npm test"),
                vec![t("test/a.test.js", &[]), t("my tests/b.sh", &[])],
                vec![("node --test test/a.test.js", false), ("sh 'my tests/b.sh'", false)],
            ),
            (Some("make check"), vec![t("spec/a.rb", &[])], vec![("make check", false)]),
            (None, vec![t("spec/a.rb", &[])], vec![]),
            (
                None,
                vec![t("pkg/calc/add_test.go", &["TestAdd"])],
                vec![("go test ./pkg/calc -run '^(TestAdd)$'", true)],
            ),
            (None, vec![t("tests/cli.rs", &["adds", "subtracts"])], vec![("cargo test -- adds subtracts", true)]),
            (
                Some("cd app && pytest"),
                vec![t("tests/test_x.py", &[])],
                vec![("python3 -m pytest -q tests/test_x.py", false)],
            ),
            (Some("node --test"), vec![t("a.test.mjs", &[])], vec![("node --test a.test.mjs", false)]),
        ];
        for (services, tests, want) in cases {
            let got: Vec<(String, bool)> =
                plan(services, &tests).into_iter().map(|r| (r.command, r.selects_cases)).collect();
            let want: Vec<(String, bool)> = want.into_iter().map(|(c, s)| (c.to_string(), s)).collect();
            assert_eq!(got, want, "{services:?} {tests:?}");
        }
    }

    #[test]
    fn runs_without_a_test_are_not_passes() {
        assert!(ran_no_test("python3 -m pytest -q x.py", 5, ""));
        assert!(ran_no_test(
            "cargo test -- adds",
            0,
            "running 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored\n"
        ));
        assert!(!ran_no_test(
            "cargo test -- adds",
            0,
            "test result: ok. 0 passed; 0 failed\ntest result: ok. 1 passed; 0 failed\n"
        ));
        assert!(ran_no_test("node --test a.mjs", 0, "ℹ tests 0\nℹ pass 0\n"));
        assert!(ran_no_test("go test ./pkg -run '^(TestX)$'", 0, "ok  \tcalc/pkg\t0.002s [no tests to run]\n"));
        assert!(!ran_no_test("sh tests/t.sh", 0, ""));
    }

    fn side(commit: &str, runs: Vec<(&str, RunResult, i32)>) -> Option<ProofSide> {
        Some(ProofSide {
            commit: commit.into(),
            runs: runs
                .into_iter()
                .map(|(c, r, code)| ProofRun {
                    command: c.into(),
                    files: vec![c.rsplit(' ').next().unwrap().into()],
                    result: r,
                    exit_code: Some(code),
                    output_tail: String::new(),
                })
                .collect(),
        })
    }

    #[test]
    fn the_verdict_follows_both_sides() {
        let runs = vec![PlannedRun { command: "sh t/a.sh".into(), files: vec!["t/a.sh".into()], selects_cases: false }];
        let absent = || side("s", vec![("sh t/a.sh", RunResult::Absent, 0)]);
        let judged = |before, after, unchanged: &[&str]| {
            judge(&runs, before, after, &unchanged.iter().map(|s| s.to_string()).collect::<Vec<_>>(), Vec::new())
        };
        assert_eq!(
            judged(absent(), side("e", vec![("sh t/a.sh", RunResult::Passed, 0)]), &[]).verdict,
            Verdict::Proven
        );
        let failing = judged(absent(), side("e", vec![("sh t/a.sh", RunResult::Failed, 1)]), &[]);
        assert_eq!(
            (failing.verdict, failing.reasons.clone()),
            (Verdict::Refused, vec!["`sh t/a.sh` fails at the handoff's commit (exit 1)".to_string()])
        );
        // Passing before the work: refused when the file is the same, unproven when the work changed it.
        let green_before = || side("s", vec![("sh t/a.sh", RunResult::Passed, 0)]);
        let green_after = || side("e", vec![("sh t/a.sh", RunResult::Passed, 0)]);
        let vacuous = judged(green_before(), green_after(), &["t/a.sh"]);
        assert_eq!(
            (vacuous.verdict, vacuous.reasons[0].as_str()),
            (Verdict::Refused, "`sh t/a.sh` passes already at the feature's start commit, before the work")
        );
        assert_eq!(judged(green_before(), green_after(), &[]).verdict, Verdict::Unproven);
        assert_eq!(
            judged(side("s", vec![("sh t/a.sh", RunResult::Failed, 1)]), green_after(), &["t/a.sh"]).verdict,
            Verdict::Proven
        );
        let text = for_worker(&vacuous);
        assert!(text.contains("$ sh t/a.sh   # at the feature's start commit") && text.contains("exit 0"), "{text}");
    }

    #[test]
    fn a_proof_is_kept_beside_its_handoff_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let proof = judge(&[], None, side("e", vec![]), &[], vec!["x".into()]);
        let handoff = crate::model::records::HandoffFile {
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            feature_id: "f".into(),
            worker_session_id: "s".into(),
            ..Default::default()
        };
        crate::runner::handoffs::write_proof(dir.path(), &handoff, &proof).unwrap();
        assert!(dir.path().join("proofs/2026-01-01T00-00-00-000Z__f__s.json").is_file());
        assert_eq!(crate::model::folder::read_proof(dir.path(), &handoff), Some(proof));
        assert_eq!(serde_json::to_value(Verdict::Unproven).unwrap(), "unproven");
    }
}
