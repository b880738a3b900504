//! features.json in droid's format: the work queue (the array order is the execution order),
//! read with spans for every value so diagnostics point at the exact string. droid's shapes are
//! all accepted: a bare array root, `expectedBehavior` as a string or an array, a numeric
//! `milestone`, features without `fulfills`, `milestone` or `skillName`, and unknown keys (kept
//! by rewrites, see `features_edit`).

use std::sync::Arc;

use super::json::{self, JsonKind, JsonValue};
use super::span::{ParseProblem, ProblemKind, Span, Spanned, TextChange};

/// The only statuses droid accepts.
pub const FEATURE_STATUSES: [&str; 4] = [
    FeatureStatus::Pending.as_str(),
    FeatureStatus::InProgress.as_str(),
    FeatureStatus::Completed.as_str(),
    FeatureStatus::Cancelled.as_str(),
];

/// A feature's `status`, typed; a value droid does not know is kept as written (`Unknown`),
/// so it is reported, never lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureStatus<'a> {
    Pending,
    InProgress,
    Completed,
    Cancelled,
    Unknown(&'a str),
}

impl<'a> FeatureStatus<'a> {
    pub const fn as_str(self) -> &'a str {
        match self {
            FeatureStatus::Pending => "pending",
            FeatureStatus::InProgress => "in_progress",
            FeatureStatus::Completed => "completed",
            FeatureStatus::Cancelled => "cancelled",
            FeatureStatus::Unknown(s) => s,
        }
    }

    pub fn parse(s: &'a str) -> FeatureStatus<'a> {
        match s {
            "pending" => FeatureStatus::Pending,
            "in_progress" => FeatureStatus::InProgress,
            "completed" => FeatureStatus::Completed,
            "cancelled" => FeatureStatus::Cancelled,
            other => FeatureStatus::Unknown(other),
        }
    }
}

/// droid's built-in validator skills (they have no SKILL.md).
pub const SCRUTINY_SKILL: &str = "scrutiny-validator";
pub const USER_TESTING_SKILL: &str = "user-testing-validator";

/// The two validator features droid injects for a milestone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValidatorKind {
    Scrutiny,
    UserTesting,
}

impl ValidatorKind {
    pub const ALL: [ValidatorKind; 2] = [ValidatorKind::Scrutiny, ValidatorKind::UserTesting];

    /// The skill name, which is also the feature id's prefix and the folder under
    /// `validation/<m>/` (`scrutiny`, `user-testing`) without `-validator`.
    pub fn skill(self) -> &'static str {
        match self {
            ValidatorKind::Scrutiny => SCRUTINY_SKILL,
            ValidatorKind::UserTesting => USER_TESTING_SKILL,
        }
    }

    /// `scrutiny` or `user-testing`: the folder of its reports under `validation/<m>/`.
    pub fn folder(self) -> &'static str {
        match self {
            ValidatorKind::Scrutiny => "scrutiny",
            ValidatorKind::UserTesting => "user-testing",
        }
    }

    /// The feature id droid gives the validator of `milestone`.
    pub fn feature_id(self, milestone: &str) -> String {
        format!("{}-{milestone}", self.skill())
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Feature {
    /// Span of the whole feature object.
    pub span: Span,
    pub id: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub skill_name: Option<Spanned<String>>,
    /// Free text; an entry that names a feature (see [`precondition_feature`]) is a dependency.
    pub preconditions: Vec<Spanned<String>>,
    /// A string `s` reads as `[s]`.
    pub expected_behavior: Vec<String>,
    /// `None` when the field is absent; items that are not strings are dropped (and reported).
    pub fulfills: Option<Spanned<Vec<Spanned<String>>>>,
    /// A number reads as its text.
    pub milestone: Option<Spanned<String>>,
    pub status: Option<Spanned<String>>,
    pub worker_session_ids: Vec<Spanned<String>>,
    pub current_worker_session_id: Option<Spanned<String>>,
    pub completed_worker_session_id: Option<Spanned<String>>,
}

impl Feature {
    pub fn id(&self) -> Option<&str> {
        self.id.as_ref().map(|s| s.value.as_str())
    }
    pub fn milestone(&self) -> Option<&str> {
        self.milestone.as_ref().map(|s| s.value.as_str())
    }
    pub fn status(&self) -> Option<&str> {
        self.status.as_ref().map(|s| s.value.as_str())
    }
    /// The typed status; a feature without one is pending (droid's reading).
    pub fn status_kind(&self) -> FeatureStatus<'_> {
        self.status().map_or(FeatureStatus::Pending, FeatureStatus::parse)
    }
    pub fn is_in_progress(&self) -> bool {
        self.status_kind() == FeatureStatus::InProgress
    }
    pub fn skill(&self) -> Option<&str> {
        self.skill_name.as_ref().map(|s| s.value.as_str()).filter(|s| !s.is_empty())
    }
    pub fn is_cancelled(&self) -> bool {
        self.status_kind() == FeatureStatus::Cancelled
    }
    pub fn is_completed(&self) -> bool {
        self.status_kind() == FeatureStatus::Completed
    }
    /// Completed or cancelled: nothing is left to run.
    pub fn is_done(&self) -> bool {
        self.is_completed() || self.is_cancelled()
    }
    /// Pending (or without a status): the runner may pick it.
    pub fn is_pending(&self) -> bool {
        self.status_kind() == FeatureStatus::Pending
    }
    /// Which validator this is: by its skill, or by droid's id for a validator feature.
    pub fn validator(&self) -> Option<ValidatorKind> {
        let by_skill = self.skill().and_then(|s| ValidatorKind::ALL.into_iter().find(|k| k.skill() == s));
        by_skill.or_else(|| {
            let id = self.id()?;
            ValidatorKind::ALL
                .into_iter()
                .find(|k| id.strip_prefix(k.skill()).is_some_and(|rest| rest.starts_with('-')))
        })
    }
    pub fn is_validator(&self) -> bool {
        self.validator().is_some()
    }
    /// The claimed assertion ids (empty when `fulfills` is absent).
    pub fn claims(&self) -> &[Spanned<String>] {
        self.fulfills.as_ref().map_or(&[], |f| f.value.as_slice())
    }

    /// The feature ids its preconditions name (see [`precondition_feature`]), each with the
    /// span of the id inside the entry's string and the index of the entry.
    pub fn dependency_refs<'a>(
        &'a self,
        is_feature: impl Fn(&str) -> bool + 'a,
    ) -> impl Iterator<Item = (usize, Spanned<&'a str>)> + 'a {
        self.preconditions.iter().enumerate().filter_map(move |(i, p)| {
            let id = precondition_feature(&p.value, &is_feature)?;
            // The id's place in the written string (`"calc-add is complete"`): after the quote.
            let at = p.value.find(id).unwrap_or(0);
            let start = (p.span.start + 1 + at).min(p.span.end);
            Some((i, Spanned::new(id, start..(start + id.len()).min(p.span.end))))
        })
    }
}

/// The feature a precondition names, when it names one: the entry is a feature id, or a
/// feature id followed by words saying it is done (`calc-add is complete`). Anything else is
/// free text for the worker. `is_feature` says which ids exist.
pub fn precondition_feature(entry: &str, is_feature: impl Fn(&str) -> bool) -> Option<&str> {
    let entry = entry.trim().trim_end_matches('.');
    let candidate = match entry.split_once(char::is_whitespace) {
        None => entry,
        Some((first, rest)) => {
            let rest = rest.trim().to_ascii_lowercase();
            let done =
                ["is complete", "is completed", "is done", "complete", "completed", "done", "is merged", "merged"];
            if !done.contains(&rest.as_str()) {
                return None;
            }
            first
        }
    };
    let candidate = candidate.trim_matches('`');
    (is_feature(candidate) || looks_like_feature_id(candidate)).then_some(candidate)
}

/// A lone hyphenated word starting with a lower-case letter (`calc-add`, `feat-2`,
/// `feat-日本語`): what a feature id looks like, so a precondition that is one but names no
/// feature is reported, not read as prose.
pub fn looks_like_feature_id(s: &str) -> bool {
    s.starts_with(|c: char| c.is_lowercase())
        && s.contains('-')
        && !s.ends_with(['-', '.', ',', ';', ':'])
        && !s.contains(|c: char| {
            c.is_whitespace()
                || matches!(c, '"' | '\'' | '`' | '(' | ')' | '[' | ']' | '{' | '}' | ',' | ';' | ':' | '/')
        })
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeaturesFile {
    /// Shared, so a re-parse after an edit inside one feature copies pointers, not features.
    pub features: Vec<Arc<Feature>>,
    /// Syntax (`json-syntax`) and schema (`schema`) problems, in document order.
    pub problems: Vec<ParseProblem>,
}

impl FeaturesFile {
    pub fn feature(&self, id: &str) -> Option<&Feature> {
        self.features.iter().map(|f| &**f).find(|f| f.id() == Some(id))
    }

    /// Milestones in the order of their first appearance among the features that are not
    /// validators (a plan's order; the queue reorders as it runs, see `MissionState::milestones`).
    pub fn milestones(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for m in self.features.iter().filter(|f| !f.is_validator()).filter_map(|f| f.milestone()) {
            // A milestone's features usually follow each other: one comparison for most.
            if seen.last() != Some(&m) && !seen.contains(&m) {
                seen.push(m);
            }
        }
        seen
    }

    /// The ids of the features a feature's preconditions name.
    pub fn dependencies<'a>(&'a self, feature: &'a Feature) -> impl Iterator<Item = &'a str> {
        feature
            .preconditions
            .iter()
            .filter_map(move |p| precondition_feature(&p.value, |id| self.feature(id).is_some()))
            .filter(move |id| self.feature(id).is_some())
    }
}

/// Features and problems as they are read.
#[derive(Default)]
struct Read {
    features: Vec<Feature>,
    problems: Vec<ParseProblem>,
}

pub fn parse(text: &str) -> FeaturesFile {
    let parsed = json::parse(text);
    let mut read = Read { features: Vec::new(), problems: parsed.errors };
    if let Some(root) = &parsed.value {
        read_root(root, &mut read);
    }
    // The features go behind their `Arc`s once the JSON tree is freed, so that they lie next to
    // each other in memory: the checks walk all of them on every edit.
    drop(parsed.value);
    let mut out = FeaturesFile { features: read.features.into_iter().map(Arc::new).collect(), problems: read.problems };
    out.problems.sort_by_key(|p| (p.span.start, p.span.end));
    out
}

/// features.json after an edit inside one feature object: only that object is parsed again,
/// the rest of `old` (the parse of `old_text`) is reused with its spans moved. The result is
/// exactly what [`parse`] gives for `new_text`; `None` when that cannot be done this way (the
/// old text has syntax errors, the edit is not strictly inside one feature's braces, the object
/// no longer parses cleanly), and the caller parses the whole text.
///
/// `change` says where the texts differ when the caller knows (the editor sent the edit); it
/// spares comparing two whole documents. Without it, or when it does not fit the two texts,
/// the texts are compared.
pub fn reparse(old: &FeaturesFile, old_text: &str, new_text: &str, change: Option<TextChange>) -> Option<FeaturesFile> {
    if old.problems.iter().any(|p| p.kind == ProblemKind::Syntax) {
        return None;
    }
    let (a, b) = (old_text.as_bytes(), new_text.as_bytes());
    let (prefix, changed_end) = match change.filter(|c| c.fits(a.len(), b.len())) {
        Some(c) => (c.start, c.old_end),
        None => {
            let prefix = common_prefix(a, b);
            let room = a.len().min(b.len()) - prefix;
            (prefix, a.len() - common_suffix(&a[a.len() - room..], &b[b.len() - room..]))
        }
    };
    // The feature whose braces enclose the change: its `{` and `}` are unchanged.
    let i = old.features.partition_point(|f| f.span.end <= prefix);
    let f = old.features.get(i)?;
    if !(f.span.start < prefix && changed_end < f.span.end) {
        return None;
    }
    let delta = b.len() as isize - a.len() as isize;
    let slice = new_text.get(f.span.start..f.span.end.checked_add_signed(delta)?)?;
    // In the whole document the object sits two levels down; stay far from the nesting limit.
    if slice.bytes().filter(|c| matches!(c, b'{' | b'[')).count() >= json::MAX_DEPTH - 8 {
        return None;
    }
    let parsed = json::parse(slice);
    let value = parsed.value.as_ref()?;
    if !parsed.errors.is_empty() || value.span != (0..slice.len()) || value.as_object().is_none() {
        return None;
    }
    let mut one = Read::default();
    read_feature(value, &mut one);
    let mut feature = one.features.pop()?;
    let at = f.span.start as isize;
    shift_feature(&mut feature, at);
    one.problems.iter_mut().for_each(|p| shift(&mut p.span, at));
    one.problems.sort_by_key(|p| (p.span.start, p.span.end));

    let mut features = Vec::with_capacity(old.features.len());
    features.extend_from_slice(&old.features[..i]);
    features.push(Arc::new(feature));
    // The features after the edit moved by `delta`: a shifted copy each, unless nothing moved.
    features.extend(old.features[i + 1..].iter().map(|g| {
        if delta == 0 {
            return Arc::clone(g);
        }
        let mut g = Feature::clone(g);
        shift_feature(&mut g, delta);
        Arc::new(g)
    }));
    // Problems are sorted by position; the old feature's own lie within its span.
    let before = old.problems.partition_point(|p| p.span.start < f.span.start);
    let after = old.problems.partition_point(|p| p.span.start < f.span.end);
    let mut problems = Vec::with_capacity(old.problems.len() - (after - before) + one.problems.len());
    problems.extend_from_slice(&old.problems[..before]);
    problems.append(&mut one.problems);
    problems.extend(old.problems[after..].iter().map(|p| {
        let mut p = p.clone();
        shift(&mut p.span, delta);
        p
    }));
    Some(FeaturesFile { features, problems })
}

/// Bytes compared per step by [`common_prefix`] and [`common_suffix`]: a slice comparison is a
/// `memcmp`, many times faster than a byte loop over a 1 MB document.
const CHUNK: usize = 64;

/// Length of the longest common prefix of `a` and `b`.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + CHUNK <= n && a[i..i + CHUNK] == b[i..i + CHUNK] {
        i += CHUNK;
    }
    i + a[i..n].iter().zip(&b[i..n]).take_while(|(x, y)| x == y).count()
}

/// Length of the longest common suffix of `a` and `b`.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mut i = 0;
    while i + CHUNK <= n && a[n - i - CHUNK..n - i] == b[n - i - CHUNK..n - i] {
        i += CHUNK;
    }
    i + a[..n - i].iter().rev().zip(b[..n - i].iter().rev()).take_while(|(x, y)| x == y).count()
}

fn shift(span: &mut Span, by: isize) {
    span.start = span.start.wrapping_add_signed(by);
    span.end = span.end.wrapping_add_signed(by);
}

/// Moves every span of a feature (a new field with a span must be added here: the
/// destructuring does not compile without it).
fn shift_feature(f: &mut Feature, by: isize) {
    let Feature {
        span,
        id,
        description,
        skill_name,
        preconditions,
        expected_behavior: _,
        fulfills,
        milestone,
        status,
        worker_session_ids,
        current_worker_session_id,
        completed_worker_session_id,
    } = f;
    shift(span, by);
    for s in [id, description, skill_name, milestone, status, current_worker_session_id, completed_worker_session_id]
        .into_iter()
        .flatten()
    {
        shift(&mut s.span, by);
    }
    if let Some(list) = fulfills {
        shift(&mut list.span, by);
        list.value.iter_mut().for_each(|s| shift(&mut s.span, by));
    }
    for list in [worker_session_ids, preconditions] {
        list.iter_mut().for_each(|s| shift(&mut s.span, by));
    }
}

fn schema(problems: &mut Vec<ParseProblem>, span: Span, message: String) {
    problems.push(ParseProblem { kind: ProblemKind::Schema, span, message });
}

fn read_root(root: &JsonValue, out: &mut Read) {
    match &root.kind {
        JsonKind::Object(_) => match root.get("features") {
            Some(member) => match &member.value.kind {
                JsonKind::Array(items) => {
                    for item in items {
                        read_feature(item, out);
                    }
                }
                JsonKind::Invalid => {}
                _ => schema(
                    &mut out.problems,
                    member.value.span.clone(),
                    format!("`features` must be an array of features, found {}", member.value.type_name()),
                ),
            },
            None => schema(
                &mut out.problems,
                root.span.start..root.span.start + 1,
                "missing field `features`: features.json is `{ \"features\": [...] }` (or a bare array of features)"
                    .to_string(),
            ),
        },
        // droid still reads a legacy bare array of features.
        JsonKind::Array(items) => {
            for item in items {
                read_feature(item, out);
            }
        }
        JsonKind::Invalid => {}
        _ => schema(
            &mut out.problems,
            root.span.clone(),
            format!(
                "features.json must be `{{ \"features\": [...] }}` or an array of features, found {}",
                root.type_name()
            ),
        ),
    }
}

fn read_feature(item: &JsonValue, out: &mut Read) {
    let problems = &mut out.problems;
    let Some(members) = item.as_object() else {
        if !matches!(item.kind, JsonKind::Invalid) {
            schema(problems, item.span.clone(), format!("a feature must be an object, found {}", item.type_name()));
        }
        return;
    };
    let mut f = Feature { span: item.span.clone(), ..Feature::default() };
    let mut seen: Vec<&str> = Vec::new();
    for m in members {
        if seen.contains(&m.key.as_ref()) {
            schema(problems, m.key_span.clone(), format!("field `{}` appears twice in this feature", m.key));
            continue;
        }
        seen.push(&m.key);
        let v = &m.value;
        match m.key.as_ref() {
            "id" => f.id = string(problems, "id", v),
            "description" => f.description = string(problems, "description", v),
            "skillName" => f.skill_name = string(problems, "skillName", v),
            "milestone" => f.milestone = milestone(problems, v),
            "status" => {
                f.status = string(problems, "status", v);
                if let Some(s) = &f.status {
                    if let FeatureStatus::Unknown(_) = FeatureStatus::parse(&s.value) {
                        let hint = match s.value.as_str() {
                            "failed" | "blocked" => {
                                " (droid has no failed or blocked status: a failed attempt goes back to `pending`)"
                            }
                            _ => "",
                        };
                        schema(
                            problems,
                            s.span.clone(),
                            format!(
                                "unknown status `{}`: `status` is one of {}{hint}",
                                s.value,
                                FEATURE_STATUSES.join(", ")
                            ),
                        );
                    }
                }
            }
            "fulfills" => {
                f.fulfills = string_array(problems, "fulfills", v).map(|items| Spanned::new(items, v.span.clone()))
            }
            "preconditions" => f.preconditions = string_array(problems, "preconditions", v).unwrap_or_default(),
            "expectedBehavior" => {
                f.expected_behavior = match &v.kind {
                    JsonKind::String(s) => vec![s.to_string()],
                    _ => string_array(problems, "expectedBehavior", v)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| s.value)
                        .collect(),
                }
            }
            "workerSessionIds" => {
                f.worker_session_ids = string_array(problems, "workerSessionIds", v).unwrap_or_default()
            }
            "currentWorkerSessionId" => {
                f.current_worker_session_id = string_or_null(problems, "currentWorkerSessionId", v)
            }
            "completedWorkerSessionId" => {
                f.completed_worker_session_id = string_or_null(problems, "completedWorkerSessionId", v)
            }
            _ => {}
        }
    }
    let head = item.span.start..item.span.start + 1;
    for (present, name) in
        [(f.id.is_some(), "id"), (f.description.is_some(), "description"), (f.status.is_some(), "status")]
    {
        if !present && item.get(name).is_none() {
            schema(problems, head.clone(), format!("missing required field `{name}`{}", describe_feature(&f)));
        }
    }
    if let Some(id) = &f.id {
        if id.value.trim().is_empty() {
            schema(problems, id.span.clone(), "feature id must not be empty".to_string());
        }
    }
    out.features.push(f);
}

fn describe_feature(f: &Feature) -> String {
    f.id().map(|id| format!(" in feature `{id}`")).unwrap_or_default()
}

fn string(problems: &mut Vec<ParseProblem>, field: &str, v: &JsonValue) -> Option<Spanned<String>> {
    match &v.kind {
        JsonKind::String(s) => Some(Spanned::new(s.to_string(), v.span.clone())),
        JsonKind::Invalid => None,
        _ => {
            schema(problems, v.span.clone(), format!("`{field}` must be a string, found {}", v.type_name()));
            None
        }
    }
}

/// droid-managed session ids: a string, or `null` for none.
fn string_or_null(problems: &mut Vec<ParseProblem>, field: &str, v: &JsonValue) -> Option<Spanned<String>> {
    match &v.kind {
        JsonKind::Null => None,
        JsonKind::String(s) => Some(Spanned::new(s.to_string(), v.span.clone())),
        JsonKind::Invalid => None,
        _ => {
            schema(problems, v.span.clone(), format!("`{field}` must be a string or null, found {}", v.type_name()));
            None
        }
    }
}

/// A milestone name: a string, or a number read as its text (droid accepts both).
fn milestone(problems: &mut Vec<ParseProblem>, v: &JsonValue) -> Option<Spanned<String>> {
    match &v.kind {
        JsonKind::Number(n) => Some(Spanned::new(n.to_string(), v.span.clone())),
        JsonKind::String(s) => Some(Spanned::new(s.to_string(), v.span.clone())),
        JsonKind::Invalid => None,
        _ => {
            schema(
                problems,
                v.span.clone(),
                format!("`milestone` must be a string or a number, found {}", v.type_name()),
            );
            None
        }
    }
}

fn string_array(problems: &mut Vec<ParseProblem>, field: &str, v: &JsonValue) -> Option<Vec<Spanned<String>>> {
    match &v.kind {
        JsonKind::Array(items) => Some(
            items
                .iter()
                .filter_map(|item| match &item.kind {
                    JsonKind::String(s) => Some(Spanned::new(s.to_string(), item.span.clone())),
                    JsonKind::Invalid => None,
                    _ => {
                        schema(
                            problems,
                            item.span.clone(),
                            format!("`{field}` items must be strings, found {}", item.type_name()),
                        );
                        None
                    }
                })
                .collect(),
        ),
        JsonKind::Invalid => None,
        _ => {
            let shapes =
                if field == "expectedBehavior" { "a string or an array of strings" } else { "an array of strings" };
            schema(problems, v.span.clone(), format!("`{field}` must be {shapes}, found {}", v.type_name()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_typed_and_an_unknown_one_is_kept() {
        for s in FEATURE_STATUSES {
            assert_eq!(FeatureStatus::parse(s).as_str(), s);
            assert!(!matches!(FeatureStatus::parse(s), FeatureStatus::Unknown(_)));
        }
        assert_eq!(FeatureStatus::parse("blocked"), FeatureStatus::Unknown("blocked"));
        assert_eq!(FeatureStatus::parse("blocked").as_str(), "blocked");
    }

    #[test]
    fn reads_droids_feature() {
        let text = r#"{"features":[{"id":"calc-div","description":"div","skillName":"py-worker","preconditions":["calc-add is complete"],"expectedBehavior":["prints 3.5"],"fulfills":["VAL-CALC-002"],"milestone":"core","status":"pending","workerSessionIds":["s1"],"currentWorkerSessionId":null,"completedWorkerSessionId":"s1"}]}"#;
        let file = parse(text);
        assert!(file.problems.is_empty(), "{:?}", file.problems);
        let f = &file.features[0];
        assert_eq!(
            (f.id(), f.skill(), f.milestone(), f.status()),
            (Some("calc-div"), Some("py-worker"), Some("core"), Some("pending"))
        );
        assert_eq!(&text[f.claims()[0].span.clone()], "\"VAL-CALC-002\"");
        assert_eq!(f.expected_behavior, ["prints 3.5"]);
        assert_eq!(
            (f.current_worker_session_id.as_ref(), f.completed_worker_session_id.as_ref().map(|s| s.value.as_str())),
            (None, Some("s1"))
        );
        assert_eq!(file.milestones(), ["core"]);
    }

    #[test]
    fn every_shape_droid_accepts_reads_clean() {
        // A bare array, a string `expectedBehavior`, a numeric milestone, features without
        // `fulfills`, `milestone` or `skillName`, an empty `fulfills`, unknown keys.
        let text = r#"[
  {"id": "m3a", "description": "d", "skillName": "w", "milestone": 3, "preconditions": ["scaffold exists"], "expectedBehavior": "prints 2", "fulfills": ["VAL-M3A-001"], "status": "pending", "x-owner": {"team": 1}},
  {"id": "add", "description": "add", "status": "pending"},
  {"id": "infra", "description": "d", "milestone": "3", "fulfills": [], "status": "completed"}
]"#;
        let file = parse(text);
        assert!(file.problems.is_empty(), "{:?}", file.problems);
        assert_eq!(file.features.len(), 3);
        assert_eq!(file.features[0].milestone(), Some("3"));
        assert_eq!(file.features[0].expected_behavior, ["prints 2"]);
        assert_eq!(file.milestones(), ["3"]);
    }

    #[test]
    fn validators_are_known_by_skill_or_by_droids_id() {
        let file = parse(
            r#"{"features":[
            {"id":"scrutiny-validator-core","description":"d","skillName":"scrutiny-validator","milestone":"core","status":"pending"},
            {"id":"user-testing-validator-core","description":"d","milestone":"core","status":"pending"},
            {"id":"scrutiny-validatorx","description":"d","status":"pending"},
            {"id":"a","description":"d","milestone":"first","status":"pending"}]}"#,
        );
        let kinds: Vec<_> = file.features.iter().map(|f| f.validator()).collect();
        assert_eq!(kinds, [Some(ValidatorKind::Scrutiny), Some(ValidatorKind::UserTesting), None, None]);
        assert_eq!(file.milestones(), ["first"], "validators injected at the top do not set the order");
        assert_eq!(ValidatorKind::UserTesting.feature_id("core"), "user-testing-validator-core");
    }

    #[test]
    fn preconditions_that_name_a_feature_are_dependencies() {
        let is_feature = |id: &str| ["calc-add", "add"].contains(&id);
        for (entry, named) in [
            ("calc-add", Some("calc-add")),
            ("calc-add is complete", Some("calc-add")),
            ("`calc-add` is completed.", Some("calc-add")),
            ("add", Some("add")),
            ("project-scaffold is complete", Some("project-scaffold")),
            ("calc-add exists and works", None),
            ("scaffold exists", None),
            ("core milestone validated", None),
            ("All implementation features for milestone \"core\" are complete", None),
            ("Empty git repository with README.md", None),
            ("scaffold", None),
        ] {
            assert_eq!(precondition_feature(entry, is_feature), named, "{entry}");
        }
    }

    const QUEUE: &str = r#"{
  "features": [
    {"id": "a", "description": "d", "milestone": "m", "fulfills": ["VAL-A-001"], "status": "pending", "workerSessionIds": ["s1"]},
    {"id": "b", "description": "d", "milestone": 2, "fulfills": ["VAL-A-002", 3], "status": "wip", "preconditions": ["a"]},
    7,
    {"id": "c", "description": "d", "milestone": "n", "status": "pending", "expectedBehavior": "x", "currentWorkerSessionId": null, "id": "dup"}
  ]
}
"#;

    #[test]
    fn reparse_of_an_edit_inside_one_feature_equals_a_full_parse() {
        let old = parse(QUEUE);
        let new_text = QUEUE.replacen(r#""status": "wip""#, r#""status": "completed", "skillName": "w""#, 1);
        let re = reparse(&old, QUEUE, &new_text, None).expect("inside one feature");
        assert_eq!(re, parse(&new_text));
        // Across features, or a syntax error: the caller parses everything.
        assert_eq!(reparse(&old, QUEUE, &QUEUE.replacen("\"d\"}", "\"d\"", 1), None), None);
        assert_eq!(reparse(&old, QUEUE, &QUEUE.replacen("\"a\"", "\"a", 1), None), None);
        assert_eq!(reparse(&old, QUEUE, &QUEUE.replacen("7", "8", 1), None), None);
        // A change that does not fit the texts is not trusted: the texts are compared.
        let wrong = TextChange { start: 0, old_end: 1, new_end: 1 };
        assert_eq!(reparse(&old, QUEUE, &new_text, Some(wrong)).expect("compared"), re);
    }

    proptest::proptest! {
        #[test]
        fn reparse_equals_parse(at in 0usize..600, remove in 0usize..6, insert in "[ a\"{}\\[\\],:0-9\\\\\n]{0,4}") {
            let old = parse(QUEUE);
            let at = at.min(QUEUE.len());
            let end = (at + remove).min(QUEUE.len());
            let new_text = format!("{}{}{}", &QUEUE[..at], insert, &QUEUE[end..]);
            let full = parse(&new_text);
            // With the edit's range as the editor sends it, and found by comparing the texts.
            let change = TextChange::replace(at..end, insert.len());
            for given in [Some(change), None] {
                if let Some(re) = reparse(&old, QUEUE, &new_text, given) {
                    proptest::prop_assert_eq!(&re, &full);
                }
            }
            // And from the edited text back (its parse may hold syntax errors).
            let back = TextChange { start: at, old_end: change.new_end, new_end: end };
            for given in [Some(back), None] {
                if let Some(re) = reparse(&full, &new_text, QUEUE, given) {
                    proptest::prop_assert_eq!(&re, &old);
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn common_prefix_and_suffix_match_a_byte_loop(base in proptest::collection::vec(0u8..3, 0..400), cut in 0usize..400, resume in 0usize..400, middle in proptest::collection::vec(0u8..3, 0..3)) {
            // `base` with `base[cut..resume]` replaced by `middle`: long common ends, as an edit makes.
            let cut = cut.min(base.len());
            let resume = resume.clamp(cut, base.len());
            let other = [&base[..cut], &middle[..], &base[resume..]].concat();
            let naive_prefix = base.iter().zip(&other).take_while(|(x, y)| x == y).count();
            let naive_suffix = base.iter().rev().zip(other.iter().rev()).take_while(|(x, y)| x == y).count();
            proptest::prop_assert_eq!(common_prefix(&base, &other), naive_prefix);
            proptest::prop_assert_eq!(common_suffix(&base, &other), naive_suffix);
        }
    }

    #[test]
    fn schema_problems_name_the_field_and_the_shapes() {
        let file = parse(
            r#"{"features": [{"id": 3, "description": "d", "milestone": true, "status": "failed", "fulfills": ["A", 1], "expectedBehavior": 5, "currentWorkerSessionId": 1}, 7, {"description": "d"}]}"#,
        );
        let messages: Vec<_> = file.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages, [
            "`id` must be a string, found a number",
            "`milestone` must be a string or a number, found a boolean",
            "unknown status `failed`: `status` is one of pending, in_progress, completed, cancelled (droid has no failed or blocked status: a failed attempt goes back to `pending`)",
            "`fulfills` items must be strings, found a number",
            "`expectedBehavior` must be a string or an array of strings, found a number",
            "`currentWorkerSessionId` must be a string or null, found a number",
            "a feature must be an object, found a number",
            "missing required field `id`",
            "missing required field `status`",
        ]);
        assert_eq!(file.features.len(), 2);
    }
}
