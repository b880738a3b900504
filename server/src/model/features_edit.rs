//! Rewrites of features.json. The editor's quick fixes touch only the bytes that change
//! (`set_feature_field`, `insert_feature`): indentation, unknown fields and every other byte
//! of the person's text stay, new members go where droid's key order puts them, and both root
//! shapes droid reads are kept. The runner rewrites the file as droid's runner does
//! (`DroidQueue`).

use serde_json::Value;

use super::json::{self, JsonValue};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("features.json has syntax errors; fix them before it can be rewritten")]
    Syntax,
    #[error("features.json has no `features` array")]
    NoFeaturesArray,
    #[error("no feature `{0}` in features.json")]
    NoSuchFeature(String),
}

/// The keys droid writes for a feature, in its order.
pub const DROID_KEY_ORDER: [&str; 11] = [
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

/// A new feature as droid writes one: its keys in droid's order, the arrays it manages empty,
/// no session yet. `fulfills` is left out when `None` (infrastructure, fix and validator
/// features claim nothing), `milestone` when `None`.
pub fn droid_feature(
    id: &str,
    description: &str,
    skill: &str,
    preconditions: &[String],
    expected_behavior: &[String],
    fulfills: Option<&[String]>,
    milestone: Option<&str>,
) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("id".into(), id.into());
    map.insert("description".into(), description.into());
    map.insert("skillName".into(), skill.into());
    map.insert("preconditions".into(), preconditions.into());
    map.insert("expectedBehavior".into(), expected_behavior.into());
    if let Some(claims) = fulfills {
        map.insert("fulfills".into(), claims.into());
    }
    if let Some(m) = milestone {
        map.insert("milestone".into(), m.into());
    }
    map.insert("status".into(), super::features::FeatureStatus::Pending.as_str().into());
    map.insert("workerSessionIds".into(), Value::Array(Vec::new()));
    map.insert("currentWorkerSessionId".into(), Value::Null);
    map.insert("completedWorkerSessionId".into(), Value::Null);
    Value::Object(map)
}

/// Sets `key` of the feature `feature_id` to `value`: replaces the old value in place, or
/// adds the member where droid's key order puts it (after the nearest earlier droid key the
/// feature has; unknown keys at the end).
pub fn set_feature_field(text: &str, feature_id: &str, key: &str, value: &Value) -> Result<String, EditError> {
    let root = parse_clean(text)?;
    let features = features_array(&root)?;
    let feature = features
        .iter()
        .find(|f| f.get("id").and_then(|m| m.value.as_str()) == Some(feature_id))
        .ok_or_else(|| EditError::NoSuchFeature(feature_id.to_string()))?;
    let style = Style::detect(text);
    let members = feature.as_object().expect("found by id, so an object");
    // A feature written over several lines (as droid writes) gets droid's layout for the new
    // value; a one-line feature stays on one line.
    let multiline = text[feature.span.clone()].contains('\n');
    if let Some(member) = members.iter().find(|m| m.key == key) {
        let indent = line_indent(text, member.key_span.start);
        let new = style.render(value, multiline, indent);
        return Ok(splice(text, member.value.span.clone(), &style.eol(&new)));
    }
    // After the last member whose droid position comes before `key`'s; a key droid does not
    // know, or one with no earlier droid key present, goes after the last member.
    let rank = |k: &str| DROID_KEY_ORDER.iter().position(|d| *d == k);
    let after = match rank(key) {
        Some(r) => members.iter().rev().find(|m| rank(&m.key).is_some_and(|mr| mr < r)).or(members.last()),
        None => members.last(),
    };
    let (at, insertion) = match after {
        Some(m) if multiline => {
            let indent = line_indent(text, m.key_span.start);
            (m.value.span.end, format!(",\n{indent}{}: {}", quote(key), style.render(value, true, indent)))
        }
        Some(m) => (m.value.span.end, format!(", {}: {}", quote(key), style.render(value, false, ""))),
        None => (feature.span.start + 1, format!("{}: {}", quote(key), style.render(value, false, ""))),
    };
    Ok(splice(text, at..at, &style.eol(&insertion)))
}

/// Inserts a feature object into the queue at `index` (0: the top; past the end: appended),
/// indented like its siblings.
pub fn insert_feature(text: &str, index: usize, feature: &Value) -> Result<String, EditError> {
    let root = parse_clean(text)?;
    let array = features_value(&root)?;
    let items = array.as_array().ok_or(EditError::NoFeaturesArray)?;
    let style = Style::detect(text);
    let multiline = text[array.span.clone()].contains('\n') || items.is_empty();
    let Some(neighbour) = items.get(index.min(items.len().saturating_sub(1))) else {
        // An empty array: the feature becomes its only item, one level in from the array.
        let outer = line_indent(text, array.span.start);
        let inner = format!("{outer}{}", style.unit);
        let rendered = style.render(feature, true, &inner);
        return Ok(splice(text, array.span.clone(), &style.eol(&format!("[\n{inner}{rendered}\n{outer}]"))));
    };
    let indent = if multiline { line_indent(text, neighbour.span.start) } else { "" };
    let rendered = style.render(feature, multiline, indent);
    let sep = if multiline { format!(",\n{indent}") } else { ", ".to_string() };
    let (at, insertion) = if index < items.len() {
        (neighbour.span.start, format!("{rendered}{sep}"))
    } else {
        (neighbour.span.end, format!("{sep}{rendered}"))
    };
    Ok(splice(text, at..at, &style.eol(&insertion)))
}

/// Appends a feature object at the end of the queue.
pub fn append_feature(text: &str, feature: &Value) -> Result<String, EditError> {
    insert_feature(text, usize::MAX, feature)
}

/// features.json as droid's runner rewrites it: `{"features": [...]}` (a bare array becomes
/// one), each feature with droid's keys in droid's order (the arrays it manages filled in, a
/// string `expectedBehavior` as a one-item array), two-space JSON without a trailing newline.
/// droid drops the keys it does not know; these are kept, after droid's.
#[derive(Debug, Clone, PartialEq)]
pub struct DroidQueue {
    features: Vec<serde_json::Map<String, Value>>,
    /// Root keys beside `features`, in order.
    extra: serde_json::Map<String, Value>,
}

impl DroidQueue {
    /// Reads strict JSON: a file that does not parse is never rewritten.
    pub fn parse(text: &str) -> Result<DroidQueue, EditError> {
        let value: Value = serde_json::from_str(text.trim_start_matches('\u{FEFF}')).map_err(|_| EditError::Syntax)?;
        let (items, extra) = match value {
            Value::Array(items) => (items, serde_json::Map::new()),
            Value::Object(mut root) => match root.shift_remove("features") {
                Some(Value::Array(items)) => (items, root),
                _ => return Err(EditError::NoFeaturesArray),
            },
            _ => return Err(EditError::NoFeaturesArray),
        };
        let features = items.into_iter().map(|f| match f {
            Value::Object(map) => Ok(map),
            _ => Err(EditError::NoFeaturesArray),
        });
        Ok(DroidQueue { features: features.collect::<Result<_, _>>()?, extra })
    }

    fn index(&self, id: &str) -> Result<usize, EditError> {
        self.features
            .iter()
            .position(|f| f.get("id").and_then(Value::as_str) == Some(id))
            .ok_or_else(|| EditError::NoSuchFeature(id.to_string()))
    }

    /// Sets `key` of the feature `id`.
    pub fn set(&mut self, id: &str, key: &str, value: Value) -> Result<(), EditError> {
        let i = self.index(id)?;
        self.features[i].insert(key.to_string(), value);
        Ok(())
    }

    /// Inserts a feature at `index` (past the end: appended).
    pub fn insert(&mut self, index: usize, feature: Value) {
        let map = match feature {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        self.features.insert(index.min(self.features.len()), map);
    }

    /// Moves the features `ids` (in their current order) to `index` of the queue without them.
    pub fn move_to(&mut self, ids: &[&str], index: usize) -> Result<(), EditError> {
        for id in ids {
            self.index(id)?;
        }
        let (moving, mut staying): (Vec<_>, Vec<_>) = std::mem::take(&mut self.features)
            .into_iter()
            .partition(|f| f.get("id").and_then(Value::as_str).is_some_and(|id| ids.contains(&id)));
        let at = index.min(staying.len());
        staying.splice(at..at, moving);
        self.features = staying;
        Ok(())
    }

    /// The file's text, as droid writes it.
    pub fn render(&self) -> String {
        let mut root = serde_json::Map::new();
        root.insert("features".into(), Value::Array(self.features.iter().map(canonical_feature).collect()));
        root.extend(self.extra.clone());
        serde_json::to_string_pretty(&Value::Object(root)).expect("JSON values serialise")
    }
}

/// A feature with droid's keys first, in droid's order, filled as droid fills them.
fn canonical_feature(f: &serde_json::Map<String, Value>) -> Value {
    let mut out = serde_json::Map::new();
    for key in DROID_KEY_ORDER {
        let value = match (key, f.get(key)) {
            ("expectedBehavior", Some(Value::String(s))) => Value::Array(vec![Value::String(s.clone())]),
            (_, Some(v)) => v.clone(),
            ("skillName", None) => Value::String(String::new()),
            ("preconditions" | "expectedBehavior" | "workerSessionIds", None) => Value::Array(Vec::new()),
            ("currentWorkerSessionId" | "completedWorkerSessionId", None) => Value::Null,
            // `fulfills` and `milestone` stay absent, as droid leaves them.
            _ => continue,
        };
        out.insert(key.to_string(), value);
    }
    for (k, v) in f.iter().filter(|(k, _)| !DROID_KEY_ORDER.contains(&k.as_str())) {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

fn parse_clean(text: &str) -> Result<JsonValue<'_>, EditError> {
    let parsed = json::parse(text);
    if !parsed.errors.is_empty() {
        return Err(EditError::Syntax);
    }
    parsed.value.ok_or(EditError::Syntax)
}

/// The queue: the `features` member's value, or the root when it is a bare array.
fn features_value<'r, 'a>(root: &'r JsonValue<'a>) -> Result<&'r JsonValue<'a>, EditError> {
    if root.as_array().is_some() {
        return Ok(root);
    }
    root.get("features").map(|m| &m.value).filter(|v| v.as_array().is_some()).ok_or(EditError::NoFeaturesArray)
}

fn features_array<'r, 'a>(root: &'r JsonValue<'a>) -> Result<&'r [JsonValue<'a>], EditError> {
    features_value(root)?.as_array().ok_or(EditError::NoFeaturesArray)
}

fn splice(text: &str, span: std::ops::Range<usize>, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..span.start]);
    out.push_str(with);
    out.push_str(&text[span.end..]);
    out
}

/// The whitespace that starts the line holding byte `at`.
fn line_indent(text: &str, at: usize) -> &str {
    let start = crate::model::lines::line_start(text, at);
    let line = &text[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// How the file is written: the indent unit of its first indented line, and its line ending.
struct Style {
    unit: String,
    crlf: bool,
}

impl Style {
    fn detect(text: &str) -> Style {
        let unit = text
            .lines()
            .map(|l| &l[..l.len() - l.trim_start_matches([' ', '\t']).len()])
            .find(|indent| !indent.is_empty())
            .unwrap_or("  ")
            .to_string();
        Style { unit, crlf: text.contains("\r\n") }
    }

    /// `inserted` with the file's line endings (it is built with `\n`).
    fn eol(&self, inserted: &str) -> String {
        if self.crlf {
            inserted.replace("\r\n", "\n").replace('\n', "\r\n")
        } else {
            inserted.to_string()
        }
    }

    /// Renders `value`. Multi-line, non-empty objects and arrays put each member or item on
    /// its own line, nested from `indent` (droid's layout, `JSON.stringify(v, null, 2)`);
    /// otherwise everything stays on one line.
    fn render(&self, value: &Value, multiline: bool, indent: &str) -> String {
        let inner = format!("{indent}{}", self.unit);
        match value {
            Value::Object(map) if multiline && !map.is_empty() => {
                let members: Vec<String> =
                    map.iter().map(|(k, v)| format!("{inner}{}: {}", quote(k), self.render(v, true, &inner))).collect();
                format!("{{\n{}\n{indent}}}", members.join(",\n"))
            }
            Value::Array(items) if multiline && !items.is_empty() => {
                let rendered: Vec<String> =
                    items.iter().map(|v| format!("{inner}{}", self.render(v, true, &inner))).collect();
                format!("[\n{}\n{indent}]", rendered.join(",\n"))
            }
            Value::Object(map) => {
                let members: Vec<String> =
                    map.iter().map(|(k, v)| format!("{}: {}", quote(k), self.render(v, false, indent))).collect();
                format!("{{{}}}", members.join(", "))
            }
            Value::Array(items) => {
                let rendered: Vec<String> = items.iter().map(|v| self.render(v, false, indent)).collect();
                format!("[{}]", rendered.join(", "))
            }
            scalar => scalar.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A feature as droid writes it (two-space JSON), plus an unknown key.
    const DROID: &str = "{\n  \"features\": [\n    {\n      \"id\": \"a\",\n      \"description\": \"d\",\n      \"status\": \"pending\",\n      \"workerSessionIds\": [],\n      \"x-owner\": {\n        \"team\": \"core\"\n      }\n    },\n    {\n      \"id\": \"b\",\n      \"description\": \"d\",\n      \"status\": \"completed\"\n    }\n  ]\n}";

    #[test]
    fn replaces_a_value_in_place_in_droids_layout() {
        let out = set_feature_field(DROID, "a", "status", &json!("in_progress")).unwrap();
        assert_eq!(out, DROID.replacen("\"pending\"", "\"in_progress\"", 1));
        let out = set_feature_field(DROID, "a", "workerSessionIds", &json!(["s1"])).unwrap();
        assert!(out.contains("\"workerSessionIds\": [\n        \"s1\"\n      ],\n      \"x-owner\""), "{out}");
    }

    #[test]
    fn adds_a_member_where_droids_key_order_puts_it() {
        let out = set_feature_field(DROID, "a", "skillName", &json!("w")).unwrap();
        assert!(out.contains("\"description\": \"d\",\n      \"skillName\": \"w\",\n      \"status\""), "{out}");
        let out = set_feature_field(&out, "a", "currentWorkerSessionId", &json!("s1")).unwrap();
        assert!(
            out.contains("\"workerSessionIds\": [],\n      \"currentWorkerSessionId\": \"s1\",\n      \"x-owner\""),
            "{out}"
        );
        let out = set_feature_field(&out, "b", "mine", &json!(1)).unwrap();
        assert!(out.contains("\"status\": \"completed\",\n      \"mine\": 1\n    }"), "{out}");
        assert!(json::parse(&out).errors.is_empty());
    }

    #[test]
    fn a_one_line_feature_stays_on_one_line() {
        let text = r#"{"features": [{"id": "a", "status": "pending"}]}"#;
        let out = set_feature_field(text, "a", "workerSessionIds", &json!(["s1", "s2"])).unwrap();
        assert_eq!(out, r#"{"features": [{"id": "a", "status": "pending", "workerSessionIds": ["s1", "s2"]}]}"#);
    }

    #[test]
    fn inserts_a_feature_at_the_top_like_its_siblings() {
        let out = insert_feature(DROID, 0, &json!({"id": "v", "preconditions": ["x"], "fulfills": []})).unwrap();
        assert!(out.starts_with("{\n  \"features\": [\n    {\n      \"id\": \"v\",\n      \"preconditions\": [\n        \"x\"\n      ],\n      \"fulfills\": []\n    },\n    {\n      \"id\": \"a\""), "{out}");
        let out = append_feature(&out, &json!({"id": "z"})).unwrap();
        assert!(out.ends_with("    },\n    {\n      \"id\": \"z\"\n    }\n  ]\n}"), "{out}");
        assert!(json::parse(&out).errors.is_empty());
    }

    #[test]
    fn edits_a_bare_array_root_and_an_empty_queue() {
        let out = insert_feature("[]", 0, &json!({"id": "a"})).unwrap();
        assert_eq!(out, "[\n  {\n    \"id\": \"a\"\n  }\n]");
        let out = set_feature_field(&out, "a", "status", &json!("pending")).unwrap();
        assert_eq!(out, "[\n  {\n    \"id\": \"a\",\n    \"status\": \"pending\"\n  }\n]");
        assert_eq!(
            insert_feature("{\"features\": []}", 0, &json!({"id": "a"})).unwrap(),
            "{\"features\": [\n  {\n    \"id\": \"a\"\n  }\n]}"
        );
        assert_eq!(set_feature_field("{\"features\": [", "a", "k", &json!(1)), Err(EditError::Syntax));
        assert_eq!(set_feature_field(DROID, "zz", "k", &json!(1)), Err(EditError::NoSuchFeature("zz".into())));
    }

    #[test]
    fn the_runner_rewrites_as_droid_does() {
        let text = "[{\"x\": 1, \"status\": \"pending\", \"id\": \"a\", \"description\": \"d\", \"expectedBehavior\": \"prints 2\", \"milestone\": 3},\n {\"id\": \"b\", \"description\": \"d\", \"status\": \"pending\", \"fulfills\": [\"VAL-A-001\"]}]";
        let mut q = DroidQueue::parse(text).unwrap();
        q.set("a", "status", json!("completed")).unwrap();
        q.move_to(&["a"], usize::MAX).unwrap();
        q.insert(0, json!({"id": "v", "description": "d", "status": "pending"}));
        let out = q.render();
        let v: Value = serde_json::from_str(&out).unwrap();
        let ids: Vec<&str> = v["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["v", "b", "a"]);
        let a = v["features"][2].as_object().unwrap();
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            [
                "id",
                "description",
                "skillName",
                "preconditions",
                "expectedBehavior",
                "milestone",
                "status",
                "workerSessionIds",
                "currentWorkerSessionId",
                "completedWorkerSessionId",
                "x"
            ]
        );
        assert_eq!(
            (a["expectedBehavior"].clone(), a["milestone"].clone(), a["skillName"].clone()),
            (json!(["prints 2"]), json!(3), json!(""))
        );
        assert!(v["features"][1].get("fulfills").is_some() && v["features"][0].get("fulfills").is_none());
        assert!(out.starts_with("{\n  \"features\": [\n    {\n      \"id\": \"v\"") && !out.ends_with('\n'));
        assert_eq!(DroidQueue::parse("{\"features\": [").unwrap_err(), EditError::Syntax);
        assert_eq!(DroidQueue::parse("{\"features\": 3}").unwrap_err(), EditError::NoFeaturesArray);
        assert_eq!(q.set("zz", "k", json!(1)).unwrap_err(), EditError::NoSuchFeature("zz".into()));
    }

    #[test]
    fn a_crlf_file_keeps_crlf_in_every_line_it_gains() {
        let file = DROID.replace('\n', "\r\n");
        let out = set_feature_field(&file, "a", "workerSessionIds", &json!(["s1"])).unwrap();
        let out = set_feature_field(&out, "a", "skillName", &json!("w")).unwrap();
        let out = insert_feature(&out, 0, &json!({"id": "fix-1", "fulfills": ["x"]})).unwrap();
        assert!(out.contains("fix-1") && out.contains("\"s1\""), "{out}");
        assert_eq!(out.matches('\n').count(), out.matches("\r\n").count(), "only CRLF: {out:?}");
    }
}
