//! features.json: the work queue, read with spans for every value so diagnostics point at the
//! exact string. Unknown fields are allowed and ignored here (rewrites keep them, see `features_edit`).

use super::json::{self, JsonKind, JsonValue};
use super::span::{ParseProblem, ProblemKind, Span, Spanned};

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
    pub features: Vec<Feature>,
    /// Syntax (`json-syntax`) and schema (`schema`) problems, in document order.
    pub problems: Vec<ParseProblem>,
}

impl FeaturesFile {
    pub fn feature(&self, id: &str) -> Option<&Feature> {
        self.features.iter().find(|f| f.id() == Some(id))
    }

    /// Milestones in the order of their first appearance.
    pub fn milestones(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for m in self.features.iter().filter_map(Feature::milestone) {
            if !seen.contains(&m) {
                seen.push(m);
            }
        }
        seen
    }
}

pub fn parse(text: &str) -> FeaturesFile {
    let parsed = json::parse(text);
    let mut out = FeaturesFile { features: Vec::new(), problems: parsed.errors };
    if let Some(root) = &parsed.value {
        read_root(root, &mut out);
    }
    out.problems.sort_by_key(|p| (p.span.start, p.span.end));
    out
}

fn schema(problems: &mut Vec<ParseProblem>, span: Span, message: String) {
    problems.push(ParseProblem { kind: ProblemKind::Schema, span, message });
}

fn read_root(root: &JsonValue, out: &mut FeaturesFile) {
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

fn read_feature(item: &JsonValue, out: &mut FeaturesFile) {
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
