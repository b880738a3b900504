//! droid 0.225's mission folder format as a table of rules, one per kind of file (what droid
//! writes, what it enforces on read, the conventions its agents follow), checked over every
//! file of a folder. The rules come from droid's format, not from our code: the genuine droid
//! folders in examples/droid pass them, and so must every folder `missions` writes.
#![allow(dead_code)]

use regex::Regex;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// How droid lays out a JSON file.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// Two-space JSON, no trailing newline (state.json, features.json, validation files).
    Pretty,
    /// Two-space JSON plus `\n` (handoffs).
    PrettyLine,
    /// One compact object per line, each ending in `\n` (the JSONL files).
    Lines,
}

type Check = fn(&Value, &mut Vec<String>);

/// A rule: which files (a regex over the path relative to the mission folder), their layout,
/// and the check of each JSON value (each line for JSONL).
struct Rule {
    files: &'static str,
    layout: Layout,
    check: Check,
}

const RULES: &[Rule] = &[
    Rule { files: r"^state\.json$", layout: Layout::Pretty, check: state },
    Rule { files: r"^features\.json$", layout: Layout::Pretty, check: features },
    Rule { files: r"^validation-state\.json$", layout: Layout::Pretty, check: validation_state },
    Rule { files: r"^progress_log\.jsonl$", layout: Layout::Lines, check: progress_line },
    Rule { files: r"^worker-transcripts\.jsonl$", layout: Layout::Lines, check: transcript_line },
    Rule { files: r"^handoffs/[^/]+\.json$", layout: Layout::PrettyLine, check: handoff },
    Rule { files: r"^validation/[^/]+/scrutiny/synthesis\.json$", layout: Layout::Pretty, check: scrutiny_synthesis },
    Rule {
        files: r"^validation/[^/]+/user-testing/synthesis\.json$",
        layout: Layout::Pretty,
        check: user_testing_synthesis,
    },
    Rule { files: r"^validation/[^/]+/scrutiny/reviews/[^/]+\.json$", layout: Layout::Pretty, check: review },
    Rule { files: r"^validation/[^/]+/user-testing/flows/[^/]+\.json$", layout: Layout::Pretty, check: flow },
    Rule { files: r"^model-settings\.json$", layout: Layout::Pretty, check: model_settings },
];

const STATES: [&str; 7] =
    ["planning", "awaiting_input", "initializing", "running", "paused", "orchestrator_turn", "completed"];
const FEATURE_STATUSES: [&str; 4] = ["pending", "in_progress", "completed", "cancelled"];
const DROID_FEATURE_KEYS: [&str; 11] = [
    "id",
    "description",
    "skillName",
    "preconditions",
    "expectedBehavior",
    "fulfills",
    "milestone",
    "status",
    "workerSessionIds",
    "currentWorkerSessionId",
    "completedWorkerSessionId",
];
const SUCCESS_STATES: [&str; 3] = ["success", "partial", "failure"];
const SEVERITIES: [&str; 3] = ["blocking", "non_blocking", "suggestion"];
const EVENT_TYPES: [&str; 11] = [
    "mission_accepted",
    "mission_run_started",
    "mission_paused",
    "mission_resumed",
    "worker_selected_feature",
    "worker_started",
    "worker_completed",
    "worker_failed",
    "worker_paused",
    "handoff_items_dismissed",
    "milestone_validation_triggered",
];

/// Fails the test, listing every problem, when the folder breaks droid's format.
pub fn assert_conforms(dir: &Path) {
    let problems = check_folder(dir);
    assert!(problems.is_empty(), "{} breaks droid's format:\n{}", dir.display(), problems.join("\n"));
}

/// Every way the folder's files break droid's format, as `path: problem` lines.
pub fn check_folder(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let rules: Vec<(Regex, &Rule)> = RULES.iter().map(|r| (Regex::new(r.files).unwrap(), r)).collect();
    for path in files(dir) {
        let rel = path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
        let Some((_, rule)) = rules.iter().find(|(re, _)| re.is_match(&rel)) else { continue };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{rel}: {e}"));
                continue;
            }
        };
        let mut found = Vec::new();
        check_file(&rel, &text, rule, &mut found);
        problems.extend(found.into_iter().map(|p| format!("{rel}: {p}")));
    }
    let wd = dir.join("working_directory.txt");
    if let Ok(text) = std::fs::read_to_string(&wd) {
        if text.ends_with('\n') || !text.starts_with('/') {
            problems
                .push(format!("working_directory.txt: an absolute path without a trailing newline, found {text:?}"));
        }
    }
    problems
}

fn check_file(rel: &str, text: &str, rule: &Rule, out: &mut Vec<String>) {
    match rule.layout {
        Layout::Lines => {
            if !text.is_empty() && !text.ends_with('\n') {
                out.push("the last line does not end with a newline".into());
            }
            for (i, line) in text.lines().enumerate() {
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => {
                        // The line must be the value's compact serialisation, not merely equal to it.
                        #[allow(clippy::cmp_owned)]
                        if v.to_string() != line {
                            out.push(format!("line {}: not one compact JSON object", i + 1));
                        }
                        let mut found = Vec::new();
                        (rule.check)(&v, &mut found);
                        out.extend(found.into_iter().map(|p| format!("line {}: {p}", i + 1)));
                    }
                    Err(e) => out.push(format!("line {}: not JSON ({e})", i + 1)),
                }
            }
        }
        Layout::Pretty | Layout::PrettyLine => {
            let value: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    out.push(format!("not JSON ({e})"));
                    return;
                }
            };
            let mut pretty = serde_json::to_string_pretty(&value).unwrap();
            if rule.layout == Layout::PrettyLine {
                pretty.push('\n');
            }
            if pretty != text {
                let what = if rule.layout == Layout::PrettyLine {
                    "two-space JSON with one trailing newline"
                } else {
                    "two-space JSON without a trailing newline"
                };
                out.push(format!("not laid out as droid writes it ({what})"));
            }
            if rel.starts_with("handoffs/") {
                handoff_name(rel, &value, out);
            }
            (rule.check)(&value, out);
        }
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

// ---- field helpers -------------------------------------------------------------------------

fn obj<'a>(v: &'a Value, what: &str, out: &mut Vec<String>) -> Option<&'a Map<String, Value>> {
    let o = v.as_object();
    if o.is_none() {
        out.push(format!("{what} must be an object"));
    }
    o
}

fn string(o: &Map<String, Value>, key: &str, required: bool, out: &mut Vec<String>) -> Option<String> {
    match o.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        None if !required => None,
        None => {
            out.push(format!("`{key}` is required"));
            None
        }
        Some(other) => {
            out.push(format!("`{key}` must be a string, found {other}"));
            None
        }
    }
}

fn one_of(o: &Map<String, Value>, key: &str, allowed: &[&str], required: bool, out: &mut Vec<String>) {
    if let Some(s) = string(o, key, required, out) {
        if !allowed.contains(&s.as_str()) {
            out.push(format!("`{key}` is `{s}`, not one of {}", allowed.join(", ")));
        }
    }
}

fn strings(o: &Map<String, Value>, key: &str, required: bool, out: &mut Vec<String>) {
    match o.get(key) {
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        None if !required => {}
        other => out.push(format!("`{key}` must be an array of strings, found {other:?}")),
    }
}

fn boolean(o: &Map<String, Value>, key: &str, required: bool, out: &mut Vec<String>) {
    match o.get(key) {
        Some(Value::Bool(_)) => {}
        None if !required => {}
        other => out.push(format!("`{key}` must be a boolean, found {other:?}")),
    }
}

fn iso_time(o: &Map<String, Value>, key: &str, required: bool, out: &mut Vec<String>) {
    if let Some(s) = string(o, key, required, out) {
        let re = Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$").unwrap();
        if !re.is_match(&s) {
            out.push(format!("`{key}` `{s}` is not ISO 8601 UTC with milliseconds"));
        }
    }
}

/// The keys of `o` that are in `order` appear in that order.
fn in_order(o: &Map<String, Value>, order: &[&str], what: &str, out: &mut Vec<String>) {
    let seen: Vec<&str> = o.keys().filter_map(|k| order.iter().find(|x| **x == k.as_str()).copied()).collect();
    let expected: Vec<&str> = order.iter().filter(|k| o.contains_key(**k)).copied().collect();
    if seen != expected {
        out.push(format!("{what}: keys {seen:?} are not in droid's order {expected:?}"));
    }
}

/// The first keys of `o` are exactly `first`, in order.
fn starts_with_keys(o: &Map<String, Value>, first: &[&str], what: &str, out: &mut Vec<String>) {
    let keys: Vec<&str> = o.keys().take(first.len()).map(String::as_str).collect();
    if keys != first {
        out.push(format!("{what}: starts with keys {keys:?}, droid writes {first:?} first"));
    }
}

// ---- the files -----------------------------------------------------------------------------

fn state(v: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(v, "state.json", out) else { return };
    starts_with_keys(o, &["missionId", "state", "workingDirectory", "createdAt", "updatedAt"], "state.json", out);
    if let Some(id) = string(o, "missionId", true, out) {
        if !Regex::new(r"^mis_[0-9a-f]{8}$").unwrap().is_match(&id) {
            out.push(format!("`missionId` `{id}` is not `mis_` and 8 hex digits"));
        }
    }
    one_of(o, "state", &STATES, true, out);
    if string(o, "workingDirectory", true, out).is_some_and(|w| !w.starts_with('/')) {
        out.push("`workingDirectory` must be absolute".into());
    }
    iso_time(o, "createdAt", true, out);
    iso_time(o, "updatedAt", true, out);
    for key in ["lastReviewedHandoffCount", "initialFeatureCount"] {
        if o.get(key).is_some_and(|v| !v.is_number()) {
            out.push(format!("`{key}` must be a number"));
        }
    }
}

fn features(v: &Value, out: &mut Vec<String>) {
    let list = match v {
        Value::Array(items) => items,
        Value::Object(o) => match o.get("features") {
            Some(Value::Array(items)) => items,
            _ => {
                out.push("`features` must be an array".into());
                return;
            }
        },
        _ => {
            out.push("features.json must be an object or an array".into());
            return;
        }
    };
    for (i, f) in list.iter().enumerate() {
        let mut found = Vec::new();
        feature(f, &mut found);
        out.extend(found.into_iter().map(|p| format!("features[{i}]: {p}")));
    }
}

fn feature(f: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(f, "a feature", out) else { return };
    let id = string(o, "id", true, out).unwrap_or_default();
    string(o, "description", true, out);
    one_of(o, "status", &FEATURE_STATUSES, true, out);
    string(o, "skillName", false, out);
    strings(o, "preconditions", false, out);
    strings(o, "fulfills", false, out);
    strings(o, "workerSessionIds", false, out);
    match o.get("expectedBehavior") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(other) => out.push(format!("`expectedBehavior` must be a string or an array of strings, found {other}")),
    }
    match o.get("milestone") {
        None | Some(Value::String(_)) | Some(Value::Number(_)) => {}
        Some(other) => out.push(format!("`milestone` must be a string or a number, found {other}")),
    }
    for key in ["currentWorkerSessionId", "completedWorkerSessionId"] {
        if o.get(key).is_some_and(|v| !v.is_string() && !v.is_null()) {
            out.push(format!("`{key}` must be a string or null"));
        }
    }
    // A planner writes features in any key order; droid's runner rewrites each feature with
    // every runner key, in its order. A feature with runner keys has been through that rewrite.
    if o.contains_key("workerSessionIds") {
        in_order(o, &DROID_FEATURE_KEYS, &format!("feature {id}"), out);
        for key in ["currentWorkerSessionId", "completedWorkerSessionId"] {
            if !o.contains_key(key) {
                out.push(format!("feature {id} has `workerSessionIds` but no `{key}` (droid writes all three)"));
            }
        }
    }
    let validator = ["scrutiny-validator", "user-testing-validator"].iter().find(|k| id.starts_with(&format!("{k}-")));
    if let Some(kind) = validator {
        if o.get("skillName").and_then(Value::as_str) != Some(kind) {
            out.push(format!("validator {id} must have skillName `{kind}`"));
        }
        if o.get("fulfills").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
            out.push(format!("validator {id} fulfills nothing"));
        }
        let m = o
            .get("milestone")
            .map(|m| m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string()))
            .unwrap_or_default();
        if id != format!("{kind}-{m}") {
            out.push(format!("validator {id} is not named `{kind}-<its milestone>`"));
        }
    }
}

fn validation_state(v: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(v, "validation-state.json", out) else { return };
    let Some(assertions) = o.get("assertions").and_then(Value::as_object) else {
        out.push("`assertions` must be an object".into());
        return;
    };
    for (id, entry) in assertions {
        let Some(e) = obj(entry, id, out) else { continue };
        let mut found = Vec::new();
        one_of(e, "status", &["pending", "passed", "failed"], true, &mut found);
        string(e, "validatedAtMilestone", false, &mut found);
        string(e, "issues", false, &mut found);
        out.extend(found.into_iter().map(|p| format!("{id}: {p}")));
    }
}

fn progress_line(v: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(v, "a progress line", out) else { return };
    starts_with_keys(o, &["timestamp", "type"], "a progress line", out);
    iso_time(o, "timestamp", true, out);
    let kind = string(o, "type", true, out).unwrap_or_default();
    if !EVENT_TYPES.contains(&kind.as_str()) {
        return; // droid ignores types it does not know
    }
    let need = |key: &str, out: &mut Vec<String>| {
        string(o, key, true, out);
    };
    match kind.as_str() {
        "mission_accepted" => need("title", out),
        "mission_run_started" => {
            string(o, "message", false, out);
        }
        "mission_paused" => one_of(
            o,
            "pauseReason",
            &["feature_retry_limit_exceeded", "scope_growth_limit_exceeded", "unrecoverable_usage_402"],
            false,
            out,
        ),
        "mission_resumed" => {
            string(o, "resumeWorkerSessionId", false, out);
        }
        "worker_selected_feature" => {
            need("workerSessionId", out);
            need("featureId", out);
        }
        "worker_started" => {
            need("workerSessionId", out);
            if let Some(spawn) = string(o, "spawnId", true, out) {
                if !Regex::new(r"^worker_[0-9a-f]{8}$").unwrap().is_match(&spawn) {
                    out.push(format!("`spawnId` `{spawn}` is not `worker_` and 8 hex digits"));
                }
            }
        }
        "worker_completed" => {
            need("workerSessionId", out);
            need("featureId", out);
            one_of(o, "successState", &SUCCESS_STATES, true, out);
            boolean(o, "returnToOrchestrator", true, out);
            if o.get("exitCode") != Some(&Value::from(0)) {
                out.push("`exitCode` must be 0".into());
            }
            if let Some(c) = o.get("commitId") {
                if c.as_str().is_none_or(|c| c.trim().is_empty()) {
                    out.push("`commitId` must be a non-blank string".into());
                }
            }
            if let Some(h) = o.get("handoff") {
                handoff_body(h, out);
            }
        }
        "worker_failed" => {
            need("spawnId", out);
            need("reason", out);
            one_of(o, "failureReason", &["worker_exited_without_handoff", "unrecoverable_usage_402"], false, out);
        }
        "worker_paused" => need("workerSessionId", out),
        "milestone_validation_triggered" => {
            need("milestone", out);
            need("featureId", out);
        }
        _ => {}
    }
}

fn transcript_line(v: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(v, "a transcript line", out) else { return };
    string(o, "workerSessionId", true, out);
    string(o, "featureId", true, out);
    string(o, "milestone", false, out);
    string(o, "skeleton", true, out);
    iso_time(o, "timestamp", true, out);
    if o.keys().next_back().map(String::as_str) != Some("timestamp") {
        out.push("`timestamp` must be the last key".into());
    }
}

/// `<timestamp>__<featureId>__<workerSessionId>.json`, naming what the wrapper names.
fn handoff_name(rel: &str, v: &Value, out: &mut Vec<String>) {
    let name = rel.trim_start_matches("handoffs/");
    let re = Regex::new(r"^(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)__([A-Za-z0-9._-]+)__([A-Za-z0-9._-]+)\.json$")
        .unwrap();
    let Some(c) = re.captures(name) else {
        out.push(format!("the name `{name}` is not `<timestamp>__<featureId>__<workerSessionId>.json`"));
        return;
    };
    let sanitize = |s: &str| Regex::new(r"[^A-Za-z0-9._-]+").unwrap().replace_all(s, "_").into_owned();
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    if c[1] != field("timestamp").replace([':', '.'], "-") {
        out.push("the name's timestamp is not the wrapper's".into());
    }
    if c[2] != sanitize(&field("featureId")) || c[3] != sanitize(&field("workerSessionId")) {
        out.push("the name's feature or session is not the wrapper's".into());
    }
}

fn handoff(v: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(v, "a handoff", out) else { return };
    iso_time(o, "timestamp", true, out);
    string(o, "workerSessionId", true, out);
    string(o, "featureId", true, out);
    if o.contains_key("sessionId") {
        out.push("droid names the session `workerSessionId`, not `sessionId`".into());
    }
    string(o, "milestone", false, out);
    string(o, "repoPath", false, out);
    if let Some(c) = string(o, "commitId", false, out) {
        if c.trim().is_empty() {
            out.push("`commitId` must not be blank".into());
        }
    }
    one_of(o, "successState", &SUCCESS_STATES, false, out);
    boolean(o, "returnToOrchestrator", false, out);
    // droid checks handoff files against its schema: nothing of ours goes into one.
    only_keys(o, &HANDOFF_KEYS, "a handoff file", out);
    match o.get("handoff") {
        Some(h) => {
            if let Some(body) = h.as_object() {
                only_keys(body, &HANDOFF_BODY_KEYS, "`handoff`", out);
            }
            handoff_body(h, out)
        }
        None => out.push("`handoff` is required".into()),
    }
}

const HANDOFF_KEYS: [&str; 9] = [
    "timestamp",
    "workerSessionId",
    "featureId",
    "milestone",
    "repoPath",
    "commitId",
    "successState",
    "returnToOrchestrator",
    "handoff",
];
const HANDOFF_BODY_KEYS: [&str; 7] = [
    "salientSummary",
    "whatWasImplemented",
    "whatWasLeftUndone",
    "verification",
    "tests",
    "discoveredIssues",
    "skillFeedback",
];

fn only_keys(o: &Map<String, Value>, allowed: &[&str], what: &str, out: &mut Vec<String>) {
    for key in o.keys().filter(|k| !allowed.contains(&k.as_str())) {
        out.push(format!("{what} has `{key}`, which is not droid's"));
    }
}

fn handoff_body(h: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(h, "`handoff`", out) else { return };
    string(o, "salientSummary", false, out);
    string(o, "whatWasImplemented", true, out);
    string(o, "whatWasLeftUndone", true, out);
    match o.get("verification").and_then(Value::as_object) {
        Some(v) => match v.get("commandsRun") {
            Some(Value::Array(runs)) => {
                for r in runs {
                    let Some(r) = obj(r, "a command run", out) else { continue };
                    string(r, "command", true, out);
                    string(r, "observation", true, out);
                    if !r.get("exitCode").is_some_and(Value::is_number) {
                        out.push("`commandsRun[].exitCode` must be a number".into());
                    }
                }
            }
            _ => out.push("`verification.commandsRun` must be an array".into()),
        },
        None => out.push("`verification` must be an object".into()),
    }
    match o.get("tests").and_then(Value::as_object) {
        Some(t) => {
            for added in t.get("added").and_then(Value::as_array).into_iter().flatten() {
                let Some(a) = obj(added, "tests.added[]", out) else { continue };
                string(a, "file", true, out);
                for case in a.get("cases").and_then(Value::as_array).into_iter().flatten() {
                    if let Some(c) = obj(case, "a test case", out) {
                        string(c, "name", true, out);
                        string(c, "verifies", true, out);
                    }
                }
            }
            if !t.get("added").is_some_and(Value::is_array) {
                out.push("`tests.added` must be an array".into());
            }
            string(t, "coverage", true, out);
        }
        None => out.push("`tests` must be an object".into()),
    }
    match o.get("discoveredIssues") {
        Some(Value::Array(issues)) => {
            for i in issues {
                if let Some(i) = obj(i, "a discovered issue", out) {
                    one_of(i, "severity", &SEVERITIES, true, out);
                    string(i, "description", true, out);
                }
            }
        }
        _ => out.push("`discoveredIssues` must be an array".into()),
    }
    if let Some(fb) = o.get("skillFeedback") {
        if let Some(fb) = obj(fb, "`skillFeedback`", out) {
            boolean(fb, "followedProcedure", true, out);
            if !fb.get("deviations").is_some_and(Value::is_array) {
                out.push("`skillFeedback.deviations` is required".into());
            }
        }
    }
}

fn synthesis_common(o: &Map<String, Value>, out: &mut Vec<String>) {
    string(o, "milestone", true, out);
    if !o.get("round").is_some_and(Value::is_u64) {
        out.push("`round` must be a number".into());
    }
    one_of(o, "status", &["pass", "fail"], true, out);
    if !matches!(o.get("previousRound"), Some(Value::Null) | Some(Value::String(_))) {
        out.push("`previousRound` must be null or a path".into());
    }
}

fn scrutiny_synthesis(v: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(v, "a scrutiny synthesis", out) else { return };
    synthesis_common(o, out);
    for (name, run) in o.get("validatorsRun").and_then(Value::as_object).into_iter().flatten() {
        if let Some(r) = obj(run, name, out) {
            boolean(r, "passed", true, out);
            string(r, "command", true, out);
        }
    }
    if let Some(s) = o.get("reviewsSummary").and_then(Value::as_object) {
        strings(s, "failedFeatures", true, out);
    }
    for b in o.get("blockingIssues").and_then(Value::as_array).into_iter().flatten() {
        if let Some(b) = obj(b, "a blocking issue", out) {
            string(b, "featureId", true, out);
            string(b, "description", true, out);
        }
    }
}

fn user_testing_synthesis(v: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(v, "a user-testing synthesis", out) else { return };
    synthesis_common(o, out);
    strings(o, "passedAssertions", false, out);
    for f in o.get("failedAssertions").and_then(Value::as_array).into_iter().flatten() {
        if let Some(f) = obj(f, "a failed assertion", out) {
            string(f, "id", true, out);
            string(f, "reason", true, out);
        }
    }
    for b in o.get("blockedAssertions").and_then(Value::as_array).into_iter().flatten() {
        if let Some(b) = obj(b, "a blocked assertion", out) {
            string(b, "id", true, out);
            if !b.contains_key("blockedBy") {
                out.push("`blockedAssertions[].blockedBy` is required".into());
            }
        }
    }
}

fn review(v: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(v, "a review", out) else { return };
    string(o, "featureId", true, out);
    iso_time(o, "reviewedAt", true, out);
    one_of(o, "status", &["pass", "fail"], true, out);
    for issue in o.get("codeReview").and_then(|c| c.get("issues")).and_then(Value::as_array).into_iter().flatten() {
        if let Some(i) = obj(issue, "a review issue", out) {
            one_of(i, "severity", &SEVERITIES, true, out);
            string(i, "description", true, out);
        }
    }
}

fn flow(v: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(v, "a flow", out) else { return };
    string(o, "groupId", true, out);
    iso_time(o, "testedAt", true, out);
    for a in o.get("assertions").and_then(Value::as_array).into_iter().flatten() {
        let Some(a) = obj(a, "a flow assertion", out) else { continue };
        string(a, "id", true, out);
        one_of(a, "status", &["pass", "fail", "blocked", "skipped"], true, out);
        if !a.get("evidence").is_some_and(Value::is_object) {
            out.push("`assertions[].evidence` must be an object".into());
        }
        if !matches!(a.get("issues"), Some(Value::Null) | Some(Value::String(_))) {
            out.push("`assertions[].issues` must be null or a string".into());
        }
    }
}

fn model_settings(v: &Value, out: &mut Vec<String>) {
    let Some(o) = obj(v, "model-settings.json", out) else { return };
    for key in ["workerModel", "validationWorkerModel", "workerReasoningEffort", "validationWorkerReasoningEffort"] {
        string(o, key, false, out);
    }
    boolean(o, "skipScrutiny", false, out);
    boolean(o, "skipUserTesting", false, out);
}
