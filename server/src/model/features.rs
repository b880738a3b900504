//! features.json: the work queue, read with spans for every value so diagnostics point at the
//! exact string. Unknown fields are allowed and ignored here (rewrites keep them, see `features_edit`).

use std::sync::Arc;

use super::json::{self, JsonKind, JsonValue};
use super::span::{ParseProblem, ProblemKind, Span, Spanned, TextChange};

pub const FEATURE_STATUSES: [&str; 6] = ["pending", "in_progress", "completed", "failed", "blocked", "cancelled"];
pub const FEATURE_KINDS: [&str; 2] = ["implementation", "fix"];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Feature {
    /// Span of the whole feature object.
    pub span: Span,
    pub id: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub skill_name: Option<Spanned<String>>,
    pub milestone: Option<Spanned<String>>,
    /// `None` when the field is absent; items that are not strings are dropped (and reported).
    pub fulfills: Option<Spanned<Vec<Spanned<String>>>>,
    pub status: Option<Spanned<String>>,
    pub worker_session_ids: Vec<Spanned<String>>,
    pub depends_on: Vec<Spanned<String>>,
    pub kind: Option<Spanned<String>>,
    pub fixes: Vec<Spanned<String>>,
    pub expected_behavior: Option<String>,
    pub verification_steps: Vec<String>,
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
    pub fn is_fix(&self) -> bool {
        self.kind.as_ref().is_some_and(|k| k.value == "fix")
    }
    pub fn is_cancelled(&self) -> bool {
        self.status() == Some("cancelled")
    }
    /// The claimed assertion ids (empty when `fulfills` is absent).
    pub fn claims(&self) -> &[Spanned<String>] {
        self.fulfills.as_ref().map_or(&[], |f| f.value.as_slice())
    }
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

    /// Milestones in the order of their first appearance.
    pub fn milestones(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for m in self.features.iter().filter_map(|f| f.milestone()) {
            // A milestone's features usually follow each other: one comparison for most.
            if seen.last() != Some(&m) && !seen.contains(&m) {
                seen.push(m);
            }
        }
        seen
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
    let Feature { span, id, description, skill_name, milestone, fulfills, status, worker_session_ids, depends_on, kind, fixes, expected_behavior: _, verification_steps: _ } = f;
    shift(span, by);
    for s in [id, description, skill_name, milestone, status, kind].into_iter().flatten() {
        shift(&mut s.span, by);
    }
    if let Some(list) = fulfills {
        shift(&mut list.span, by);
        list.value.iter_mut().for_each(|s| shift(&mut s.span, by));
    }
    for list in [worker_session_ids, depends_on, fixes] {
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
                _ => schema(&mut out.problems, member.value.span.clone(), format!("`features` must be an array, found {}", member.value.type_name())),
            },
            None => schema(&mut out.problems, root.span.start..root.span.start + 1, "missing field `features` (an array of features)".to_string()),
        },
        // Some tools write a bare array of features: read it, but say what is expected.
        JsonKind::Array(items) => {
            schema(&mut out.problems, root.span.start..root.span.start + 1, "expected an object `{ \"features\": [...] }`, found an array".to_string());
            for item in items {
                read_feature(item, out);
            }
        }
        JsonKind::Invalid => {}
        _ => schema(&mut out.problems, root.span.clone(), format!("expected an object `{{ \"features\": [...] }}`, found {}", root.type_name())),
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
            "milestone" => f.milestone = string(problems, "milestone", v),
            "status" => {
                f.status = string(problems, "status", v);
                if let Some(s) = &f.status {
                    if !FEATURE_STATUSES.contains(&s.value.as_str()) {
                        schema(problems, s.span.clone(), format!("unknown status `{}`: expected one of {}", s.value, FEATURE_STATUSES.join(", ")));
                    }
                }
            }
            "kind" => {
                f.kind = string(problems, "kind", v);
                if let Some(k) = &f.kind {
                    if !FEATURE_KINDS.contains(&k.value.as_str()) {
                        schema(problems, k.span.clone(), format!("unknown kind `{}`: expected `implementation` or `fix`", k.value));
                    }
                }
            }
            "fulfills" => f.fulfills = string_array(problems, "fulfills", v).map(|items| Spanned::new(items, v.span.clone())),
            "workerSessionIds" => f.worker_session_ids = string_array(problems, "workerSessionIds", v).unwrap_or_default(),
            "dependsOn" => f.depends_on = string_array(problems, "dependsOn", v).unwrap_or_default(),
            "fixes" => f.fixes = string_array(problems, "fixes", v).unwrap_or_default(),
            "expectedBehavior" => f.expected_behavior = string(problems, "expectedBehavior", v).map(|s| s.value),
            "verificationSteps" => {
                f.verification_steps = string_array(problems, "verificationSteps", v).unwrap_or_default().into_iter().map(|s| s.value).collect()
            }
            _ => {}
        }
    }
    let head = item.span.start..item.span.start + 1;
    for (present, name) in [(f.id.is_some(), "id"), (f.description.is_some(), "description"), (f.milestone.is_some(), "milestone"), (f.status.is_some(), "status")] {
        if !present && item.get(name).is_none() {
            schema(problems, head.clone(), format!("missing required field `{name}`{}", describe_feature(&f)));
        }
    }
    if f.fulfills.is_none() && !f.is_fix() && item.get("fulfills").is_none() {
        schema(problems, head, format!("missing field `fulfills`{} (only fix features may omit it)", describe_feature(&f)));
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

fn string_array(problems: &mut Vec<ParseProblem>, field: &str, v: &JsonValue) -> Option<Vec<Spanned<String>>> {
    match &v.kind {
        JsonKind::Array(items) => Some(
            items
                .iter()
                .filter_map(|item| match &item.kind {
                    JsonKind::String(s) => Some(Spanned::new(s.to_string(), item.span.clone())),
                    JsonKind::Invalid => None,
                    _ => {
                        schema(problems, item.span.clone(), format!("`{field}` items must be strings, found {}", item.type_name()));
                        None
                    }
                })
                .collect(),
        ),
        JsonKind::Invalid => None,
        _ => {
            schema(problems, v.span.clone(), format!("`{field}` must be an array of strings, found {}", v.type_name()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_factory_example() {
        let text = r#"{
  "features": [{
    "id": "feat-auth-login",
    "description": "Implement login form and session cookie",
    "skillName": "backend-worker",
    "milestone": "foundation",
    "fulfills": ["VAL-AUTH-001", "VAL-AUTH-002"],
    "status": "pending",
    "workerSessionIds": []
  }]
}"#;
        let file = parse(text);
        assert!(file.problems.is_empty(), "{:?}", file.problems);
        let f = &file.features[0];
        assert_eq!(f.id(), Some("feat-auth-login"));
        assert_eq!(&text[f.claims()[1].span.clone()], "\"VAL-AUTH-002\"");
        assert_eq!(file.milestones(), ["foundation"]);
    }

    const QUEUE: &str = r#"{
  "features": [
    {"id": "a", "description": "d", "milestone": "m", "fulfills": ["VAL-A-001"], "status": "pending", "workerSessionIds": ["s1"]},
    {"id": "b", "description": "d", "milestone": "m", "fulfills": ["VAL-A-002", 3], "status": "wip", "dependsOn": ["a"]},
    7,
    {"id": "c", "kind": "fix", "description": "d", "milestone": "n", "status": "pending", "fixes": ["x"], "id": "dup"}
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
    fn schema_problems() {
        let file = parse(r#"{"features": [{"id": 3, "description": "d", "milestone": "m", "status": "wip", "fulfills": ["A", 1]}, 7, {"id": "fix", "kind": "fix", "description": "d", "milestone": "m", "status": "pending"}]}"#);
        let messages: Vec<_> = file.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("unknown status `wip`")));
        assert!(messages.iter().any(|m| m.contains("feature must be an object")));
        assert_eq!(file.features.len(), 2);
    }
}
