//! A small JSON Schema checker for tool arguments, and the schemas of the final tools.
//!
//! Tool schemas use a handful of keywords (`type`, `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `const`, `minItems`, `minLength`, `minimum`,
//! `maximum`, `anyOf`); this checks exactly those, so the schema sent to the model and the one
//! enforced are the same document. The `jsonschema` crate would pull in an HTTP client and a
//! regex engine per draft for a few dozen lines of work. Recursion follows the schema, never
//! the input, so hostile arguments cannot overflow the stack.

use serde_json::{json, Value};

/// Checks `value` against `schema`; every problem found, each naming where it is.
pub fn validate(schema: &Value, value: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    check(schema, value, "", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The errors as one message for a tool result.
pub fn describe(errors: &[String]) -> String {
    errors.join("; ")
}

fn at(path: &str) -> String {
    if path.is_empty() {
        "arguments".to_string()
    } else {
        format!("`{path}`")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(v: &Value, ty: &str) -> bool {
    match ty {
        "number" => v.is_number(),
        "integer" => match v {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        other => type_name(v) == other,
    }
}

fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return; // `true` or `{}`: anything goes
    };
    if let Some(ty) = schema.get("type") {
        let types: Vec<&str> = match ty {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
            errors.push(format!(
                "{}: expected {}, got {}",
                at(path),
                types.join(" or "),
                type_name(value)
            ));
            return;
        }
    }
    if let Some(c) = schema.get("const") {
        if c != value {
            errors.push(format!("{}: must be {c}", at(path)));
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum") {
        if !options.contains(value) {
            let list: Vec<String> = options.iter().map(Value::to_string).collect();
            errors.push(format!("{}: must be one of {}", at(path), list.join(", ")));
        }
    }
    if let Some(Value::Array(alternatives)) = schema.get("anyOf") {
        let fits = alternatives.iter().any(|alt| {
            let mut e = Vec::new();
            check(alt, value, path, &mut e);
            e.is_empty()
        });
        if !fits {
            errors.push(format!("{}: matches none of the allowed shapes", at(path)));
        }
    }
    match value {
        Value::String(s) => {
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                if (s.chars().count() as u64) < min {
                    errors.push(format!("{}: must not be empty", at(path)));
                }
            }
        }
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or(0.0);
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
                if n < min {
                    errors.push(format!("{}: must be at least {min}", at(path)));
                }
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
                if n > max {
                    errors.push(format!("{}: must be at most {max}", at(path)));
                }
            }
        }
        Value::Array(items) => {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    errors.push(format!("{}: needs at least {min} item(s)", at(path)));
                }
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item_schema, item, &format!("{path}[{i}]"), errors);
                }
            }
        }
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(Value::Array(required)) = schema.get("required") {
                for name in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(name) {
                        errors.push(format!("{}: missing required field `{name}`", at(path)));
                    }
                }
            }
            for (key, v) in map {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match props.and_then(|p| p.get(key)) {
                    Some(s) => check(s, v, &child, errors),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            let known: Vec<&str> = props
                                .map(|p| p.keys().map(String::as_str).collect())
                                .unwrap_or_default();
                            errors.push(format!(
                                "{}: unknown field `{key}` (known: {})",
                                at(path),
                                known.join(", ")
                            ));
                        }
                        Some(extra @ Value::Object(_)) => check(extra, v, &child, errors),
                        _ => {}
                    },
                }
            }
        }
        _ => {}
    }
}

/// `submit_handoff`: design §2's handoff fields.
pub fn handoff_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "featureId": {"type": "string", "minLength": 1, "description": "The id of the feature you worked on."},
            "status": {"enum": ["completed", "partial", "blocked"], "description": "completed: everything done and committed; partial: some is left (say what); blocked: you cannot go on (say why)."},
            "salientSummary": {"type": "string", "minLength": 1, "description": "Two or three sentences a reviewer reads first."},
            "whatWasImplemented": {"type": "string", "description": "What you built, concretely."},
            "whatWasLeftUndone": {"type": "string", "description": "Everything not done, honestly; empty only when nothing is left."},
            "verification": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "object", "properties": {
                        "commandsRun": {"type": "array", "items": {"type": "string"}},
                        "interactiveChecks": {"type": "array", "items": {"type": "string"}}
                    }}
                ],
                "description": "How you checked the work: commands run and their results."
            },
            "commitId": {"type": "string", "description": "The commit holding the work (git rev-parse HEAD)."},
            "skillFeedback": {
                "type": "object",
                "properties": {"followedProcedure": {"type": "boolean"}, "notes": {"type": "string"}},
                "required": ["followedProcedure"]
            },
            "blockedReason": {"type": "string", "description": "Why you are blocked (status blocked)."},
            "testsAdded": {"type": "array", "items": {"type": "string"}, "description": "Paths of the test files you added or changed."}
        },
        "required": ["featureId", "status", "salientSummary", "whatWasImplemented", "whatWasLeftUndone", "verification", "skillFeedback", "testsAdded"]
    })
}

/// `submit_validation`: a result for each assertion checked, and the issues found.
pub fn validation_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "assertions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "minLength": 1},
                        "status": {"enum": ["passed", "failed", "blocked"]},
                        "evidence": {"type": "array", "items": {"type": "string"}, "description": "Paths under the mission's evidence/ folder, or short quoted output."},
                        "notes": {"type": "string"}
                    },
                    "required": ["id", "status", "evidence"]
                }
            },
            "issues": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "severity": {"enum": ["blocking", "non-blocking", "suggestion"]},
                        "title": {"type": "string", "minLength": 1},
                        "detail": {"type": "string"},
                        "assertionIds": {"type": "array", "items": {"type": "string"}},
                        "location": {
                            "type": "object",
                            "properties": {"path": {"type": "string", "minLength": 1}, "line": {"type": "integer", "minimum": 1}},
                            "required": ["path"]
                        }
                    },
                    "required": ["severity", "title", "detail", "assertionIds"]
                }
            }
        },
        "required": ["assertions", "issues"]
    })
}

/// `submit_plan` takes no arguments; a `command` agent says it is done with `{"planDone": true}`.
pub fn plan_schema() -> Value {
    json!({"type": "object", "properties": {"planDone": {"type": "boolean"}}})
}

/// What an external (`command`) orchestrator's last message must hold.
pub fn plan_done_schema() -> Value {
    json!({"type": "object", "properties": {"planDone": {"const": true}}, "required": ["planDone"]})
}

/// Checks the schema cannot express: a blocked handoff says why; records deserialize.
pub fn check_final_semantics(tool: &str, args: &Value) -> Result<(), String> {
    use crate::model::records::{AssertionResult, Handoff, ValidatorIssue};
    match tool {
        "submit_handoff" => {
            let h: Handoff =
                serde_json::from_value(args.clone()).map_err(|e| format!("not a handoff: {e}"))?;
            if h.status.as_deref() == Some("blocked")
                && h.blocked_reason
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty())
            {
                return Err("`blockedReason` is required when status is \"blocked\"".into());
            }
            if h.status.as_deref() == Some("partial") && h.what_was_left_undone.trim().is_empty() {
                return Err(
                    "`whatWasLeftUndone` must say what is left when status is \"partial\"".into(),
                );
            }
            Ok(())
        }
        "submit_validation" => {
            let assertions: Vec<AssertionResult> =
                serde_json::from_value(args["assertions"].clone())
                    .map_err(|e| format!("`assertions`: {e}"))?;
            let issues: Vec<ValidatorIssue> = serde_json::from_value(args["issues"].clone())
                .map_err(|e| format!("`issues`: {e}"))?;
            for (i, issue) in issues.iter().enumerate() {
                if let Some(location) = issue.location.as_ref().filter(|l| l.path_inside().is_none()) {
                    return Err(format!("`issues[{i}].location.path` `{}` must be relative to the working directory and stay inside it (no leading `/`, no `..` above it)", location.path));
                }
            }
            let mut seen = std::collections::HashSet::new();
            for a in &assertions {
                if !seen.insert(a.id.as_str()) {
                    return Err(format!("assertion {} is reported twice", a.id));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handoff() -> Value {
        json!({"featureId": "feat-a", "status": "completed", "salientSummary": "s", "whatWasImplemented": "w",
               "whatWasLeftUndone": "", "verification": {"commandsRun": ["cargo test"]}, "commitId": "abc",
               "skillFeedback": {"followedProcedure": true}, "testsAdded": ["tests/a.rs"]})
    }

    #[test]
    fn a_full_handoff_passes_and_each_break_is_named() {
        assert_eq!(validate(&handoff_schema(), &handoff()), Ok(()));
        let mut h = handoff();
        h["verification"] = json!("ran cargo test: 3 passed");
        assert_eq!(validate(&handoff_schema(), &h), Ok(()));
        h["verification"] = json!(3);
        h["status"] = json!("done");
        h.as_object_mut().unwrap().remove("testsAdded");
        h["skillFeedback"] = json!({"followedProcedure": "yes"});
        let errors = validate(&handoff_schema(), &h).unwrap_err();
        let text = describe(&errors);
        assert!(text.contains("`verification`: matches none"), "{text}");
        assert!(text.contains("`status`: must be one of"), "{text}");
        assert!(
            text.contains("missing required field `testsAdded`"),
            "{text}"
        );
        assert!(
            text.contains("`skillFeedback.followedProcedure`: expected boolean, got string"),
            "{text}"
        );
    }

    #[test]
    fn semantics_need_a_reason_for_blocked_and_partial() {
        let mut h = handoff();
        h["status"] = json!("blocked");
        assert!(check_final_semantics("submit_handoff", &h)
            .unwrap_err()
            .contains("blockedReason"));
        h["blockedReason"] = json!("the API is down");
        assert_eq!(check_final_semantics("submit_handoff", &h), Ok(()));
        h["status"] = json!("partial");
        assert!(check_final_semantics("submit_handoff", &h)
            .unwrap_err()
            .contains("whatWasLeftUndone"));
    }

    #[test]
    fn validation_items_and_locations_are_checked() {
        let ok = json!({"assertions": [{"id": "VAL-A-001", "status": "passed", "evidence": ["evidence/m/a.log"]}],
                        "issues": [{"severity": "blocking", "title": "t", "detail": "d", "assertionIds": [], "location": {"path": "src/a.rs", "line": 3}}]});
        assert_eq!(validate(&validation_schema(), &ok), Ok(()));
        assert_eq!(check_final_semantics("submit_validation", &ok), Ok(()));
        // A location names a file of the working directory, nothing outside it.
        for outside in ["/etc/passwd", "../outside.txt", "src/../../x"] {
            let mut v = ok.clone();
            v["issues"][0]["location"]["path"] = json!(outside);
            let refused = check_final_semantics("submit_validation", &v).unwrap_err();
            assert!(refused.contains("must be relative to the working directory"), "{outside}: {refused}");
        }
        let bad = json!({"assertions": [{"id": "VAL-A-001", "status": "ok", "evidence": []}],
                         "issues": [{"severity": "blocking", "title": "t", "detail": "d", "assertionIds": [], "location": {"path": "a", "line": 0}}]});
        let text = describe(&validate(&validation_schema(), &bad).unwrap_err());
        assert!(text.contains("`assertions[0].status`"), "{text}");
        assert!(
            text.contains("`issues[0].location.line`: must be at least 1"),
            "{text}"
        );
        let twice = json!({"assertions": [{"id": "V", "status": "passed", "evidence": []}, {"id": "V", "status": "failed", "evidence": []}], "issues": []});
        assert!(check_final_semantics("submit_validation", &twice).is_err());
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let deep = (0..1_000).fold(json!(1), |v, _| json!([v]));
        assert!(validate(&handoff_schema(), &deep).is_err());
        assert!(validate(&handoff_schema(), &json!("{not json")).is_err());
        assert!(validate(
            &json!({"type": "object", "additionalProperties": false, "properties": {"a": {}}}),
            &json!({"b": 1})
        )
        .is_err());
        assert_eq!(validate(&plan_schema(), &json!({})), Ok(()));
        assert!(validate(&plan_done_schema(), &json!({"planDone": false})).is_err());
    }
}
