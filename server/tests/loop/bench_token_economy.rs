//! The token-economy benchmark (issue 21; docs/benchmarks.md): a scripted mission of realistic
//! shape, run by the real `missions` binary against a loopback model whose usage figures come
//! from the prompt-cache model (`agent_support/prompt_cache.rs`), once on each wire format.
//! It prints input tokens by type, the cache-read share, what each session start and each
//! compaction lost, and the size of every worker's first message. Not a test of speed and
//! not run by `cargo test`:
//!
//! ```sh
//! cargo test --release --test loop bench_token_economy -- --ignored --nocapture
//! ```
//!
//! The mission: a planner that reads the repository and writes research notes (droid's
//! `library/research/`) before the plan; 20 features in 4 milestones, each worker taking 30 to 60 turns with tool outputs of
//! 1 to 20 KB; a scrutiny and a user-testing validator per milestone; one feature with a bug
//! its own test misses, so one fix round (a fix session that adds a note of its own, a fix
//! feature, a second validation).
//! Every figure is drawn from a seeded generator keyed by the session and turn, so both wire
//! formats, and the runs before and after a change, see the same mission. Time is simulated:
//! each answer advances a clock by the model's writing time and the tool's running time, so
//! cache lifetimes (5 minutes, an hour) play out as in a mission of several hours.

use crate::loop_support;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use loop_support::agent_support::prompt_cache::{tokens, AnthropicCache, OpenAiCache};
use loop_support::agent_support::{anthropic_turn, openai_turn};
use loop_support::{Conv, PlanScript, Script};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FEATURES: usize = 20;
const MILESTONES: usize = 4;
/// The feature whose implementation has a bug its own test misses (the fix round).
const BUGGY: usize = 3;
/// Both formats get the same window: 128K tokens (GPT-4o's; Claude's is 200K), so that
/// the longest sessions compact.
const CONTEXT_WINDOW: u64 = 128_000;
const ANTHROPIC_MODEL: &str = "claude-sonnet-4-5";
const OPENAI_MODEL: &str = "gpt-4.1";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Anthropic,
    OpenAi,
}

// ---- the scripted mission -----------------------------------------------------------------

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A number drawn for `what` in session `key` at `turn`, in `lo..=hi`.
fn draw(key: &str, turn: usize, what: &str, lo: u64, hi: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain(what.bytes()).chain((turn as u64).to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    lo + splitmix(h) % (hi - lo + 1)
}

fn op_value(n: usize, a: i64, b: i64) -> i64 {
    a * (n as i64) + b
}

fn milestone_of(n: usize) -> String {
    format!("m{}", (n - 1) / (FEATURES / MILESTONES) + 1)
}

/// The contract: one assertion per feature, each with a paragraph a tester follows.
fn contract() -> String {
    let mut c = String::from("# Validation contract: calculator operations\n\n");
    for n in 1..=FEATURES {
        if (n - 1) % (FEATURES / MILESTONES) == 0 {
            let _ = writeln!(c, "## Milestone {}\n", milestone_of(n));
        }
        let _ = writeln!(
            c,
            "### VAL-CALC-{n:03}: Operation op{n:02}\nThe user runs the calculator with `op{n:02}` and two whole numbers A and B and reads one line: A times {n} plus B. \
             Negative numbers and zero are accepted; anything that is not a whole number is refused with a message on stderr and exit status 2. \
             The result is printed without leading zeros or a plus sign, and nothing else is printed on stdout.\n\
             Run: `sh calc.sh op{n:02} 2 3`\nExpect: `{}`\nTool: terminal\nEvidence: the command's output\n",
            op_value(n, 2, 3)
        );
    }
    c
}

fn op_files(n: usize, buggy: bool) -> Value {
    // The bug: the operands swapped, which its own test (A = B) cannot see.
    let body = if buggy { format!("echo $(( $2 * {n} + $1 ))\n") } else { format!("echo $(( $1 * {n} + $2 ))\n") };
    let test = format!(
        "[ \"$(sh calc.sh op{n:02} 1 1)\" = {} ] || {{ echo 'op{n:02} 1 1 is wrong'; exit 1; }}\n",
        op_value(n, 1, 1)
    );
    json!({format!("ops/op{n:02}.sh"): body, format!("tests/test_op{n:02}.sh"): test})
}

fn features() -> Value {
    let features: Vec<Value> = (1..=FEATURES)
        .map(|n| {
            json!({"id": format!("feat-{n:02}"), "description": format!("Operation op{n:02}: `sh calc.sh op{n:02} A B` prints A*{n}+B"), "skillName": "shell",
                "milestone": milestone_of(n), "fulfills": [format!("VAL-CALC-{n:03}")], "status": "pending", "workerSessionIds": [],
                "expectedBehavior": format!("`sh calc.sh op{n:02} 2 3` prints {}; a non-number is refused with exit status 2", op_value(n, 2, 3)),
                "x-fake": {"files": op_files(n, n == BUGGY)}})
        })
        .collect();
    json!({"features": features})
}

fn script() -> Script {
    let mut fixes = BTreeMap::new();
    fixes.insert(
        format!("VAL-CALC-{BUGGY:03}"),
        json!({"id": format!("fix-op{BUGGY:02}"), "description": format!("op{BUGGY:02} swaps its operands; it must print A*{BUGGY}+B"), "x-fake": {"files": op_files(BUGGY, false)}}),
    );
    let plan = PlanScript { contract: contract(), features: features(), ..Default::default() };
    Script { fixes, plan: Some(plan), ..Default::default() }
}

/// Sizes of the repository's source files: 1 KB to 20 KB in half-KB steps.
fn source_sizes() -> impl Iterator<Item = usize> {
    (2..=40).map(|half_kb| half_kb * 512)
}

fn source_text(size: usize) -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < size {
        let _ = writeln!(s, "pub fn handler_{size}_{i:04}(request: &Request) -> Result<Response, Error> {{ validate(request)?; route(request, {i}) }}");
        i += 1;
    }
    s.truncate(size);
    s
}

fn log_text() -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < 40 * 1024 {
        let _ = writeln!(
            s,
            "[{:>4}.{:03}s] test suite::case_{i:04} ... ok ({} assertions)",
            i / 7,
            (i * 137) % 1000,
            i % 13 + 1
        );
        i += 1;
    }
    s
}

/// The session a request belongs to, as the model can tell from the request: its role and
/// first message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SessionKey {
    role: String,
    first_user: String,
}

impl SessionKey {
    /// A name for seeding and reports: the feature, the milestone and round, or the plan.
    fn name(&self) -> String {
        if self.role == "worker" {
            return loop_support::feature_of(&self.first_user)["id"].as_str().unwrap_or("?").to_string();
        }
        format!("{} {}", self.role, self.first_user.lines().next().unwrap_or_default().trim_start_matches("# "))
    }

    /// The turns the session takes before the scripted role's own steps: the reading,
    /// running and writing that make a session long.
    fn padding(&self) -> usize {
        let name = self.name();
        let (lo, hi, own) = match self.role.as_str() {
            "worker" => (30, 60, 2),
            "scrutiny" | "user-testing" => (10, 20, 2),
            _ if self.first_user.starts_with("# Plan this mission") => (15, 25, 3),
            _ => (6, 10, 3),
        };
        draw(&name, 0, "turns", lo, hi) as usize - own
    }
}

/// One padding turn: a short thought and one tool call, with the seconds it runs.
fn padding_call(key: &SessionKey, system: &str, turn: usize) -> (String, (String, Value), f64) {
    let name = key.name();
    let size = draw(&name, turn, "size", 1024, 20 * 1024) as usize;
    let kind = draw(&name, turn, "kind", 0, 99);
    let thought =
        format!("Turn {turn} of {name}: looking at the next piece of the code base before changing anything.");
    let mission =
        system.lines().find_map(|l| l.strip_prefix("Mission folder: ")).unwrap_or_default().trim().to_string();
    // The planner's research notes, and the fix round's (the library grows mid-mission).
    let planning = key.first_user.starts_with("# Plan this mission");
    let writes_notes = key.role == "orchestrator" && (turn < 3 && planning || turn == 0 && !planning);
    let call = if writes_notes {
        // The planner's research notes (droid's `library/`), 6 to 10 KB each.
        let bytes = draw(&name, turn, "note", 6 * 1024, 10 * 1024) as usize;
        let file = if planning { format!("notes-{turn}.md") } else { "fix-round.md".to_string() };
        (
            "write_file".to_string(),
            json!({"path": format!("{mission}/library/research/{file}"), "content": source_text(bytes)}),
        )
    } else if key.role == "worker" && kind < 15 {
        // Code the worker writes: its arguments are output now and input on every later turn.
        (
            "write_file".to_string(),
            json!({"path": format!("work/{name}/draft-{turn}.tmp"), "content": source_text(size / 4)}),
        )
    } else if kind < 60 {
        let half_kb = size.div_ceil(512).clamp(2, 40);
        ("read_file".to_string(), json!({"path": format!("src/module_{half_kb:02}.rs")}))
    } else {
        ("bash".to_string(), json!({"command": format!("head -c {size} logs/build.log")}))
    };
    let seconds = match call.0.as_str() {
        "bash" => draw(&name, turn, "seconds", 2, 45) as f64,
        _ => 0.2,
    };
    (thought, call, seconds)
}

// ---- the model server -----------------------------------------------------------------------

/// One answered (or refused) request.
#[derive(Debug, Clone)]
struct Call {
    session: usize,
    turn: usize,
    input: u64,
    cache_read: u64,
    cache_write: u64,
    cache_write_1h: u64,
    output: u64,
    refused: bool,
    after_compaction: bool,
}

#[derive(Debug, Clone)]
struct SessionInfo {
    role: String,
    name: String,
    first_user_bytes: usize,
}

struct Shared {
    format: Format,
    script: Script,
    anthropic: Mutex<AnthropicCache>,
    openai: Mutex<OpenAiCache>,
    clock: Mutex<Duration>,
    calls: Mutex<Vec<Call>>,
    sessions: Mutex<Vec<(SessionKey, SessionInfo)>>,
    compacting: Mutex<HashSet<usize>>,
}

impl Shared {
    fn session(&self, key: &SessionKey) -> (usize, bool) {
        let mut sessions = self.sessions.lock().unwrap();
        if let Some(i) = sessions.iter().position(|(k, _)| k == key) {
            return (i, false);
        }
        let info = SessionInfo { role: key.role.clone(), name: key.name(), first_user_bytes: key.first_user.len() };
        sessions.push((key.clone(), info));
        (sessions.len() - 1, true)
    }
}

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let openai = uri.path().ends_with("/chat/completions");
    assert_eq!(openai, shared.format == Format::OpenAi, "a request on the other format: {uri}");
    let conv = if openai { loop_support::read_openai(&body) } else { loop_support::read_anthropic(&body) };
    let key = SessionKey { role: loop_support::role_of(&conv.system).to_string(), first_user: conv.first_user.clone() };
    let (session, now) = {
        let mut clock = shared.clock.lock().unwrap();
        let (session, new) = shared.session(&key);
        if new {
            *clock += Duration::from_secs(5); // the runner starting the session
        }
        (session, *clock)
    };
    let measured =
        if openai {
            shared
                .openai
                .lock()
                .unwrap()
                .measure(&body, now)
                .map(|u| (u.prompt_tokens - u.cached_tokens, u.cached_tokens, 0, 0))
        } else {
            shared.anthropic.lock().unwrap().measure(&body, now).map(|u| {
                (u.input_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens, u.cache_creation_1h)
            })
        };
    let (input, cache_read, cache_write, cache_write_1h) = match measured {
        Ok(u) => u,
        Err(refusal) => {
            shared.compacting.lock().unwrap().insert(session);
            shared.calls.lock().unwrap().push(Call {
                session,
                turn: conv.turns,
                input: 0,
                cache_read: 0,
                cache_write: 0,
                cache_write_1h: 0,
                output: 0,
                refused: true,
                after_compaction: false,
            });
            let error = if openai { refusal.openai_body() } else { refusal.anthropic_body() };
            return Response::builder()
                .status(400)
                .header("content-type", "application/json")
                .body(Body::from(error.to_string()))
                .unwrap();
        }
    };
    let after_compaction = shared.compacting.lock().unwrap().remove(&session);
    let padding = key.padding();
    let (text, calls, tool_seconds) = if conv.turns < padding {
        let (thought, call, seconds) = padding_call(&key, &conv.system, conv.turns);
        (thought, vec![call], seconds)
    } else {
        let own = Conv {
            system: conv.system.clone(),
            first_user: conv.first_user.clone(),
            turns: conv.turns - padding,
            results: conv.results[padding.min(conv.results.len())..].to_vec(),
            tools: conv.tools.clone(),
        };
        let calls = loop_support::answer(&key.role, &own, &shared.script);
        let seconds = calls.iter().map(|(name, _)| if name == "bash" { 10.0 } else { 0.2 }).sum();
        (String::new(), calls, seconds)
    };
    let output = tokens(text.len() + calls.iter().map(|(n, a)| n.len() + a.to_string().len()).sum::<usize>()).max(1);
    shared.calls.lock().unwrap().push(Call {
        session,
        turn: conv.turns,
        input,
        cache_read,
        cache_write,
        cache_write_1h,
        output,
        refused: false,
        after_compaction,
    });
    // The model writes at 60 tokens a second after 2 s to its first token; the tools run.
    *shared.clock.lock().unwrap() += Duration::from_secs_f64(2.0 + output as f64 / 60.0 + tool_seconds);
    let frames = render(openai, conv.turns, &text, &calls, (input, cache_read, cache_write), output);
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .body(Body::from(frames.concat()))
        .unwrap()
}

fn render(
    openai: bool,
    turn: usize,
    text: &str,
    calls: &[(String, Value)],
    (input, read, write): (u64, u64, u64),
    output: u64,
) -> Vec<String> {
    let ids: Vec<String> = (0..calls.len()).map(|i| format!("call_{turn}_{i}")).collect();
    let args: Vec<String> = calls.iter().map(|(_, a)| a.to_string()).collect();
    let pieces: Vec<[&str; 1]> = args.iter().map(|a| [a.as_str()]).collect();
    let text = if calls.is_empty() && text.is_empty() { "done" } else { text };
    if openai {
        let tools: Vec<(u64, &str, &str, &[&str])> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (i as u64, ids[i].as_str(), name.as_str(), &pieces[i][..]))
            .collect();
        openai_turn(text, &tools, input + read, read, output)
    } else {
        let tools: Vec<(&str, &str, &[&str])> =
            calls.iter().enumerate().map(|(i, (name, _))| (ids[i].as_str(), name.as_str(), &pieces[i][..])).collect();
        anthropic_turn(text, &tools, input, read, write, output)
    }
}

// ---- running it -----------------------------------------------------------------------------

struct Run {
    calls: Vec<Call>,
    sessions: Vec<SessionInfo>,
    mission_time: Duration,
    wall: Duration,
    report: Value,
}

fn run_mission(format: Format) -> Run {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let shared = Arc::new(Shared {
        format,
        script: script(),
        anthropic: Mutex::new(AnthropicCache::for_model(ANTHROPIC_MODEL, CONTEXT_WINDOW)),
        openai: Mutex::new(OpenAiCache::new(CONTEXT_WINDOW)),
        clock: Mutex::new(Duration::ZERO),
        calls: Mutex::new(Vec::new()),
        sessions: Mutex::new(Vec::new()),
        compacting: Mutex::new(HashSet::new()),
    });
    let app = axum::Router::new().fallback(handle).with_state(shared.clone());
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("calc");
    // BENCH_PROMPT_CACHE_TTL=5m|1h sets every Anthropic role's `prompt_cache_ttl`.
    let ttl =
        std::env::var("BENCH_PROMPT_CACHE_TTL").map(|t| format!("prompt_cache_ttl = \"{t}\"\n")).unwrap_or_default();
    let role = |role: &str| {
        match format {
        Format::Anthropic => format!("[roles.{role}]\nprovider = \"anthropic\"\nmodel = \"{ANTHROPIC_MODEL}\"\nbase_url = \"http://{addr}\"\napi_key_env = \"{}\"\n{ttl}\n", loop_support::KEY_ENV),
        Format::OpenAi => format!("[roles.{role}]\nprovider = \"openai\"\nmodel = \"{OPENAI_MODEL}\"\nbase_url = \"http://{addr}/v1\"\napi_key_env = \"{}\"\n\n", loop_support::KEY_ENV),
    }
    };
    let config = format!("{}{}{}", role("orchestrator"), role("worker"), role("validator"));
    setup_repository(&repo, &config);
    let started = Instant::now();
    let out = loop_support::missions(&repo, &["run", "--yes"]);
    let wall = started.elapsed();
    assert!(out.status.success(), "the mission did not complete:\n{}", loop_support::text(&out));
    let report = loop_support::missions(&repo, &["report", "--format", "json"]);
    assert!(report.status.success(), "{}", loop_support::text(&report));
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let calls = shared.calls.lock().unwrap().clone();
    let sessions = shared.sessions.lock().unwrap().iter().map(|(_, s)| s.clone()).collect();
    let mission_time = *shared.clock.lock().unwrap();
    Run { calls, sessions, mission_time, wall, report }
}

fn setup_repository(repo: &Path, config: &str) {
    std::fs::create_dir_all(repo.join("tests")).unwrap();
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::create_dir_all(repo.join("logs")).unwrap();
    std::fs::write(repo.join("calc.sh"), "op=$1; shift\n[ -f \"ops/$op.sh\" ] || { echo \"unknown operation: $op\" >&2; exit 2; }\nexec sh \"ops/$op.sh\" \"$@\"\n").unwrap();
    std::fs::write(
        repo.join("test.sh"),
        "set -e\nfor t in tests/test_*.sh; do sh \"$t\"; done\necho \"all tests passed\"\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("tests/test_calc.sh"),
        "sh calc.sh nope 2>/dev/null && { echo 'unknown op must fail'; exit 1; }; exit 0\n",
    )
    .unwrap();
    std::fs::write(repo.join(".gitignore"), "*.tmp\n").unwrap();
    for size in source_sizes() {
        std::fs::write(repo.join(format!("src/module_{:02}.rs", size / 512)), source_text(size)).unwrap();
    }
    std::fs::write(repo.join("logs/build.log"), log_text()).unwrap();
    std::fs::write(repo.join("missions.toml"), config).unwrap();
    loop_support::git(repo, &["init", "-q", "-b", "main"]);
    loop_support::git(repo, &["add", "-A"]);
    loop_support::git(repo, &["commit", "-qm", "calculator skeleton"]);
    let out = loop_support::missions(
        repo,
        &["new", "A shell calculator with twenty operations", "--name", "calc", "--quiet"],
    );
    assert!(out.status.success(), "{}", loop_support::text(&out));
}

// ---- the figures ----------------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct Tokens {
    input: u64,
    read: u64,
    write: u64,
    write_1h: u64,
    output: u64,
}

impl Tokens {
    fn add(&mut self, c: &Call) {
        self.input += c.input;
        self.read += c.cache_read;
        self.write += c.cache_write;
        self.write_1h += c.cache_write_1h;
        self.output += c.output;
    }
    fn prompt(&self) -> u64 {
        self.input + self.read + self.write
    }
    fn share(&self) -> f64 {
        pct(self.read, self.prompt())
    }
    /// Input priced in uncached-input tokens at Anthropic's multipliers (read 0.1, 5-minute
    /// write 1.25, 1-hour write 2).
    fn cost_equivalent(&self) -> f64 {
        self.input as f64
            + 0.1 * self.read as f64
            + 1.25 * (self.write - self.write_1h) as f64
            + 2.0 * self.write_1h as f64
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

fn m(n: u64) -> String {
    format!("{:.2}M", n as f64 / 1e6)
}

fn k(n: u64) -> String {
    format!("{:.1}K", n as f64 / 1e3)
}

fn print_run(format: Format, run: &Run) -> Tokens {
    let mut all = Tokens::default();
    let mut by_role: BTreeMap<&str, (Tokens, usize, usize)> = BTreeMap::new();
    for c in run.calls.iter().filter(|c| !c.refused) {
        all.add(c);
        let e = by_role.entry(run.sessions[c.session].role.as_str()).or_default();
        e.0.add(c);
        e.2 += 1;
    }
    for s in &run.sessions {
        by_role.entry(s.role.as_str()).or_default().1 += 1;
    }
    println!("\n=== {format:?} format: {} sessions, {} requests ({} refused as too long), mission time {:.1} h, wall {:.1} s ===",
        run.sessions.len(), run.calls.iter().filter(|c| !c.refused).count(), run.calls.iter().filter(|c| c.refused).count(), run.mission_time.as_secs_f64() / 3600.0, run.wall.as_secs_f64());
    println!(
        "input tokens: {} uncached, {} cache read, {} cache write ({} of it 1-hour), {} in all; output {}",
        m(all.input),
        m(all.read),
        m(all.write),
        m(all.write_1h),
        m(all.prompt()),
        m(all.output)
    );
    println!(
        "cache-read share: {:.2} %   input priced as uncached tokens (Anthropic's multipliers): {}",
        all.share(),
        m(all.cost_equivalent() as u64)
    );
    println!(
        "{:<14} {:>8} {:>8} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "role", "sessions", "requests", "uncached", "read", "write", "all", "read %"
    );
    for (role, (t, sessions, requests)) in &by_role {
        println!(
            "{:<14} {:>8} {:>8} {:>10} {:>10} {:>10} {:>10} {:>7.2}%",
            role,
            sessions,
            requests,
            m(t.input),
            m(t.read),
            m(t.write),
            m(t.prompt()),
            t.share()
        );
    }

    // Session starts: the first request of each session, and what it did not read.
    let mut lost_at_start = 0;
    println!("session starts (first request: tokens, read, lost = not read):");
    let mut line = String::new();
    for (i, s) in run.sessions.iter().enumerate() {
        let Some(first) = run.calls.iter().find(|c| c.session == i && !c.refused) else { continue };
        let lost = first.input + first.cache_write;
        lost_at_start += lost;
        let _ = write!(
            line,
            "  {} {}: {} read {} lost {};",
            s.role,
            s.name.split(' ').next().unwrap_or(""),
            k(first.input + first.cache_read + first.cache_write),
            k(first.cache_read),
            k(lost)
        );
        if line.len() > 150 {
            println!("{line}");
            line.clear();
        }
    }
    if !line.is_empty() {
        println!("{line}");
    }
    println!(
        "lost at session starts: {} tokens, {:.3} % of all input",
        k(lost_at_start),
        pct(lost_at_start, all.prompt())
    );

    // Compactions: the request after each, and what it did not read.
    let mut lost_after = 0;
    let after: Vec<&Call> = run.calls.iter().filter(|c| c.after_compaction).collect();
    for c in &after {
        let lost = c.input + c.cache_write;
        lost_after += lost;
        println!(
            "  compaction in {} at turn {}: {} tokens after it, read {}, lost {}",
            run.sessions[c.session].name,
            c.turn,
            k(c.input + c.cache_read + c.cache_write),
            k(c.cache_read),
            k(lost)
        );
    }
    println!(
        "compactions: {}; lost after them: {} tokens, {:.3} % of all input",
        after.len(),
        k(lost_after),
        pct(lost_after, all.prompt())
    );

    // The rest: what each turn adds is written (or uncached) once.
    let other = all.prompt() - all.read - lost_at_start - lost_after;
    println!(
        "not read otherwise (each turn's new blocks, expiries): {} tokens, {:.3} % of all input",
        k(other),
        pct(other, all.prompt())
    );
    // The most any placement of breakpoints could read from these requests: each call all of
    // the call before it in its session, each session start what it read.
    let mut ceiling = 0;
    let mut previous: HashMap<usize, u64> = HashMap::new();
    for c in run.calls.iter().filter(|c| !c.refused) {
        let total = c.input + c.cache_read + c.cache_write;
        ceiling += match previous.insert(c.session, total) {
            Some(before) => before.min(total),
            None => c.cache_read,
        };
    }
    println!("ceiling: {:.2} % if every call read all of the call before it", pct(ceiling, all.prompt()));

    let firsts: Vec<String> = run
        .sessions
        .iter()
        .filter(|s| s.role == "worker")
        .map(|s| format!("{} {:.1}K", s.name, s.first_user_bytes as f64 / 1024.0))
        .collect();
    println!("worker first messages (bytes, in run order): {}", firsts.join(", "));

    // The report reads what our providers decoded and the transcripts recorded: it must
    // match what the server measured.
    let by_type = &run.report["tokens"]["byType"];
    let reported = (
        by_type["input"].as_u64().unwrap_or(0),
        by_type["cacheRead"].as_u64().unwrap_or(0),
        by_type["cacheWrite"].as_u64().unwrap_or(0),
    );
    assert_eq!(reported, (all.input, all.read, all.write), "missions report disagrees with the server's figures");
    println!("missions report agrees: input {}, cache read {}, cache write {}", reported.0, reported.1, reported.2);
    all
}

#[test]
#[ignore = "a benchmark: cargo test --release --test loop bench_token_economy -- --ignored --nocapture"]
fn token_economy_of_a_scripted_mission() {
    let mut summary = Vec::new();
    for format in [Format::Anthropic, Format::OpenAi] {
        let run = run_mission(format);
        let sessions: HashMap<&str, usize> = run.sessions.iter().fold(HashMap::new(), |mut m, s| {
            *m.entry(s.role.as_str()).or_default() += 1;
            m
        });
        assert_eq!(sessions.get("worker"), Some(&(FEATURES + 1)), "every feature and the fix ran once: {sessions:?}");
        summary.push((format, print_run(format, &run)));
    }
    println!("\n=== summary ===");
    for (format, t) in summary {
        println!(
            "{format:?}: cache-read share {:.2} % of {} input tokens ({} uncached, {} written)",
            t.share(),
            m(t.prompt()),
            m(t.input),
            m(t.write)
        );
    }
}
