//! Rewrites of features.json that touch only the bytes that change: key order, indentation,
//! unknown fields and every other byte stay as they were, so the runner's diffs stay minimal.

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

/// Sets `key` of the feature `feature_id` to `value`: replaces the old value in place, or
/// adds the member after the feature's last one.
pub fn set_feature_field(text: &str, feature_id: &str, key: &str, value: &Value) -> Result<String, EditError> {
    let root = parse_clean(text)?;
    let features = features_array(&root)?;
    let feature = features
        .iter()
        .find(|f| f.get("id").and_then(|m| m.value.as_str()) == Some(feature_id))
        .ok_or_else(|| EditError::NoSuchFeature(feature_id.to_string()))?;
    let style = Style::detect(text);
    let members = feature.as_object().expect("found by id, so an object");
    if let Some(member) = members.iter().find(|m| m.key == key) {
        let old = &member.value;
        let multiline = text[old.span.clone()].contains('\n');
        let indent = line_indent(text, member.key_span.start);
        let new = style.render(value, multiline, indent);
        return Ok(splice(text, old.span.clone(), &style.eol(&new)));
    }
    let last = members.last();
    let (at, insertion) = match last {
        Some(m) if text[feature.span.clone()].contains('\n') => {
            let indent = line_indent(text, m.key_span.start);
            (m.value.span.end, format!(",\n{indent}{}: {}", quote(key), style.render(value, false, indent)))
        }
        Some(m) => (m.value.span.end, format!(", {}: {}", quote(key), style.render(value, false, ""))),
        None => (feature.span.start + 1, format!("{}: {}", quote(key), style.render(value, false, ""))),
    };
    Ok(splice(text, at..at, &style.eol(&insertion)))
}

/// Appends a feature object at the end of the `features` array, indented like its siblings.
pub fn append_feature(text: &str, feature: &Value) -> Result<String, EditError> {
    let root = parse_clean(text)?;
    let array_member = root.get("features").ok_or(EditError::NoFeaturesArray)?;
    let array = &array_member.value;
    let items = array.as_array().ok_or(EditError::NoFeaturesArray)?;
    let style = Style::detect(text);
    match items.last() {
        Some(last) => {
            let indent = line_indent(text, last.span.start);
            let rendered = style.render(feature, true, indent);
            let sep = if text[array.span.clone()].contains('\n') { format!(",\n{indent}") } else { ", ".to_string() };
            Ok(splice(text, last.span.end..last.span.end, &style.eol(&format!("{sep}{rendered}"))))
        }
        None => {
            let outer = line_indent(text, array_member.key_span.start);
            let inner = format!("{outer}{}", style.unit);
            let rendered = style.render(feature, true, &inner);
            Ok(splice(text, array.span.clone(), &style.eol(&format!("[\n{inner}{rendered}\n{outer}]"))))
        }
    }
}

fn parse_clean(text: &str) -> Result<JsonValue<'_>, EditError> {
    let parsed = json::parse(text);
    if !parsed.errors.is_empty() {
        return Err(EditError::Syntax);
    }
    parsed.value.ok_or(EditError::Syntax)
}

fn features_array<'r, 'a>(root: &'r JsonValue<'a>) -> Result<&'r [JsonValue<'a>], EditError> {
    root.get("features").and_then(|m| m.value.as_array()).ok_or(EditError::NoFeaturesArray)
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

    /// Renders `value`; multi-line objects and arrays nest from `indent`. Arrays of scalars
    /// stay on one line (`["a", "b"]`), as in Factory's files.
    fn render(&self, value: &Value, multiline: bool, indent: &str) -> String {
        match value {
            Value::Object(map) if multiline && !map.is_empty() => {
                let inner = format!("{indent}{}", self.unit);
                let members: Vec<String> = map.iter().map(|(k, v)| format!("{inner}{}: {}", quote(k), self.render(v, matches!(v, Value::Object(_)), &inner))).collect();
                format!("{{\n{}\n{indent}}}", members.join(",\n"))
            }
            Value::Array(items) if multiline && items.iter().any(|v| v.is_object() || v.is_array()) => {
                let inner = format!("{indent}{}", self.unit);
                let rendered: Vec<String> = items.iter().map(|v| format!("{inner}{}", self.render(v, true, &inner))).collect();
                format!("[\n{}\n{indent}]", rendered.join(",\n"))
            }
            Value::Object(map) => {
                let members: Vec<String> = map.iter().map(|(k, v)| format!("{}: {}", quote(k), self.render(v, false, indent))).collect();
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

    const FILE: &str = "{\n    \"features\": [\n        {\n            \"id\": \"a\",\n            \"status\": \"pending\",\n            \"x-owner\": {\"team\": \"core\"},\n            \"fulfills\": [\"VAL-A-001\"]\n        }\n    ],\n    \"version\": 3\n}\n";

    #[test]
    fn replaces_a_value_in_place() {
        let out = set_feature_field(FILE, "a", "status", &json!("completed")).unwrap();
        assert_eq!(out, FILE.replace("\"pending\"", "\"completed\""));
    }

    #[test]
    fn adds_a_member_with_the_files_indentation() {
        let out = set_feature_field(FILE, "a", "workerSessionIds", &json!(["s1", "s2"])).unwrap();
        assert!(out.contains("\"fulfills\": [\"VAL-A-001\"],\n            \"workerSessionIds\": [\"s1\", \"s2\"]\n        }"), "{out}");
        assert!(out.contains("\"x-owner\": {\"team\": \"core\"}") && out.contains("\"version\": 3"));
    }

    #[test]
    fn appends_a_feature_like_its_siblings() {
        let out = append_feature(FILE, &json!({"id": "fix-1", "kind": "fix", "fixes": ["ISS-m-1-001"]})).unwrap();
        assert!(out.contains("        },\n        {\n            \"id\": \"fix-1\",\n            \"kind\": \"fix\",\n            \"fixes\": [\"ISS-m-1-001\"]\n        }\n    ],"), "{out}");
        assert!(json::parse(&out).errors.is_empty());
    }

    #[test]
    fn appends_into_an_empty_array_and_refuses_broken_files() {
        let out = append_feature("{\"features\": []}\n", &json!({"id": "a"})).unwrap();
        assert_eq!(out, "{\"features\": [\n  {\n    \"id\": \"a\"\n  }\n]}\n");
        assert_eq!(set_feature_field("{\"features\": [", "a", "k", &json!(1)), Err(EditError::Syntax));
        assert_eq!(set_feature_field(FILE, "zz", "k", &json!(1)), Err(EditError::NoSuchFeature("zz".into())));
    }

    #[test]
    fn a_crlf_file_keeps_crlf_in_every_line_it_gains() {
        let file = FILE.replace('\n', "\r\n");
        let out = set_feature_field(&file, "a", "workerSessionIds", &json!(["s1"])).unwrap();
        let out = set_feature_field(&out, "a", "status", &json!("completed")).unwrap();
        let out = append_feature(&out, &json!({"id": "fix-1", "kind": "fix"})).unwrap();
        assert!(out.contains("fix-1") && out.contains("\"workerSessionIds\": [\"s1\"]"), "{out}");
        assert_eq!(out.matches('\n').count(), out.matches("\r\n").count(), "only CRLF: {out:?}");
    }
}