//! A small JSON Schema checker for tool arguments, and the schemas of the final tools.
//!
//! Tool schemas use a handful of keywords (`type`, `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `const`, `minItems`, `minLength`, `maxLength`,
//! `minimum`, `maximum`, `anyOf`); this checks exactly those, so the schema sent to the model and the one
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
            Value::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
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
            errors.push(format!("{}: expected {}, got {}", at(path), types.join(" or "), type_name(value)));
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
            let chars = s.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                if chars < min {
                    errors.push(match min {
                        1 => format!("{}: must not be empty", at(path)),
                        _ => format!("{}: must be at least {min} characters (it has {chars})", at(path)),
                    });
                }
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                if chars > max {
                    errors.push(format!("{}: must be at most {max} characters (it has {chars})", at(path)));
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
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match props.and_then(|p| p.get(key)) {
                    Some(s) => check(s, v, &child, errors),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            let known: Vec<&str> =
                                props.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                            errors.push(format!("{}: unknown field `{key}` (known: {})", at(path), known.join(", ")));
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

/// `submit_handoff`: droid's `EndFeatureRun` arguments, generated from
/// [`EndFeatureRun`](crate::model::records::EndFeatureRun), which the runner wraps as droid's
/// handoff file; this schema checks droid's limits, as `EndFeatureRun` does. Inline (no `$ref`,
/// which [`validate`] does not follow) and without `$schema` or `title`, as tool schemas are sent.
pub fn handoff_schema() -> Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    settings.into_generator().subschema_for::<crate::model::records::EndFeatureRun>().to_value()
}

/// `submit_review`: the scrutiny validator's reviews of the milestone's features, written to
/// `validation/<m>/scrutiny/reviews/<featureId>.json` and summed up in its synthesis (whose
/// `validatorsRun` the runner fills from the commands it ran itself).
pub fn review_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "salientSummary": {"type": "string", "minLength": 1, "description": "The verdict in one or two sentences."},
            "reviews": {"type": "array", "items": {"type": "object", "properties": {
                "featureId": {"type": "string", "minLength": 1},
                "status": {"enum": ["pass", "fail"]},
                "summary": {"type": "string", "minLength": 1},
                "issues": {"type": "array", "items": {"type": "object", "properties": {
                    "file": {"type": "string", "minLength": 1, "description": "Relative to the working directory."},
                    "line": {"type": "integer", "minimum": 1},
                    "severity": {"enum": ["blocking", "non_blocking", "suggestion"]},
                    "description": {"type": "string", "minLength": 1}
                }, "required": ["severity", "description"]}}
            }, "required": ["featureId", "status", "summary", "issues"]}},
            "sharedStateObservations": {"type": "array", "items": {"type": "object", "properties": {
                "area": {"type": "string"}, "observation": {"type": "string"}, "evidence": {"type": "string"}
            }, "required": ["area", "observation"]}},
            "suggestedGuidanceUpdates": {"type": "array", "items": {"type": "object", "properties": {
                "target": {"type": "string"}, "suggestion": {"type": "string"}, "evidence": {"type": "string"}, "isSystemic": {"type": "boolean"}
            }, "required": ["target", "suggestion"]}},
            "rejectedObservations": {"type": "array", "items": {"type": "object", "properties": {
                "observation": {"type": "string"}, "reason": {"type": "string"}
            }, "required": ["observation", "reason"]}}
        },
        "required": ["salientSummary", "reviews"]
    })
}

/// `submit_validation`: the user-testing validator's result for every assertion it tested, as
/// one flow (`validation/<m>/user-testing/flows/<group>.json`; the runner names the group after
/// the round, as it names the evidence folder).
pub fn validation_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "salientSummary": {"type": "string", "minLength": 1, "description": "The verdict in one or two sentences."},
            "toolsUsed": {"type": "array", "items": {"type": "string"}},
            "assertions": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string", "minLength": 1},
                "status": {"enum": ["pass", "fail", "blocked"]},
                "steps": {"type": "array", "items": {"type": "object", "properties": {
                    "action": {"type": "string"}, "expected": {"type": "string"}, "observed": {"type": "string"}
                }, "required": ["action", "observed"]}},
                "evidence": {"type": "array", "items": {"type": "string"}, "description": "Paths of the evidence files for this assertion (screenshots, terminal snapshots, the browser's logs, files you saved), relative to the mission's evidence/ folder (`<milestone>/<group>/<file>`). A pass is checked against its assertion's `Evidence:` items and these files."},
                "issues": {"type": "string", "description": "For fail: what happened instead; for blocked: why it could not be tested."}
            }, "required": ["id", "status", "steps", "evidence"]}},
            "frictions": {"type": "array", "items": {"type": "object"}},
            "blockers": {"type": "array", "items": {"type": "object"}}
        },
        "required": ["salientSummary", "assertions"]
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

/// Checks the schema cannot express: a partial or failed handoff says what is left; a success
/// names its commit; review files stay inside the working directory; nothing is reported twice.
pub fn check_final_semantics(tool: &str, args: &Value) -> Result<(), String> {
    use crate::model::records::relative_inside;
    match tool {
        "submit_handoff" => {
            let state = args["successState"].as_str().unwrap_or_default();
            let left = args["whatWasLeftUndone"].as_str().unwrap_or_default().trim();
            if matches!(state, "partial" | "failure") && left.is_empty() {
                return Err(format!(
                    "`whatWasLeftUndone` must say what is left (and why) when successState is \"{state}\""
                ));
            }
            if state == "success" && args["commitId"].as_str().is_none_or(|c| c.trim().is_empty()) {
                return Err("`commitId` is required when successState is \"success\": give the commit holding the work (`git rev-parse HEAD`)".into());
            }
            Ok(())
        }
        "submit_review" => {
            let mut seen = std::collections::HashSet::new();
            for (r, review) in args["reviews"].as_array().into_iter().flatten().enumerate() {
                let feature = review["featureId"].as_str().unwrap_or_default();
                if !seen.insert(feature) {
                    return Err(format!("feature {feature} is reviewed twice"));
                }
                for (i, issue) in review["issues"].as_array().into_iter().flatten().enumerate() {
                    if let Some(file) = issue["file"].as_str().filter(|f| relative_inside(f).is_none()) {
                        return Err(format!("`reviews[{r}].issues[{i}].file` `{file}` must be relative to the working directory and stay inside it (no leading `/`, no `..` above it)"));
                    }
                }
            }
            Ok(())
        }
        "submit_validation" => {
            let mut seen = std::collections::HashSet::new();
            for a in args["assertions"].as_array().into_iter().flatten() {
                let id = a["id"].as_str().unwrap_or_default();
                if !seen.insert(id) {
                    return Err(format!("assertion {id} is reported twice"));
                }
                if matches!(a["status"].as_str(), Some("fail" | "blocked"))
                    && a["issues"].as_str().is_none_or(|s| s.trim().is_empty())
                {
                    return Err(format!("assertion {id}: `issues` must say what happened (fail) or why it could not be tested (blocked)"));
                }
                for e in a["evidence"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    if relative_inside(e).is_none() {
                        return Err(format!("assertion {id}: evidence path `{e}` must be relative to the evidence/ folder and stay inside it"));
                    }
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
        json!({"successState": "success", "commitId": "abc", "returnToOrchestrator": false,
               "salientSummary": "Added add(); unittest passes (3 tests).", "whatWasImplemented": "calc/ops.py add(a, b) and tests/test_ops.py with three cases.",
               "whatWasLeftUndone": "", "verification": {"commandsRun": [{"command": "python3 -m unittest", "exitCode": 0, "observation": "OK"}]},
               "tests": {"added": [{"file": "tests/test_ops.py", "cases": [{"name": "test_add", "verifies": "2+3 == 5"}]}], "coverage": "add"},
               "discoveredIssues": [{"severity": "non_blocking", "description": "README lacks usage"}],
               "skillFeedback": {"followedProcedure": true, "deviations": []}})
    }

    /// The `submit_handoff` schema as the model saw it before it was generated from the record
    /// types: the same document (only the order of keys inside an object may differ), so a
    /// change to the types that would change what the model is asked for fails here.
    #[test]
    fn the_handoff_schema_is_the_one_the_model_always_saw() {
        let saved: Value = serde_json::from_str(include_str!("final_schemas/submit_handoff.json")).unwrap();
        let generated = handoff_schema();
        assert_eq!(generated, saved, "{}", serde_json::to_string_pretty(&generated).unwrap());
    }

    #[test]
    fn a_full_handoff_passes_and_each_break_is_named() {
        assert_eq!(validate(&handoff_schema(), &handoff()), Ok(()));
        assert_eq!(check_final_semantics("submit_handoff", &handoff()), Ok(()));
        let mut h = handoff();
        h["verification"] = json!("ran cargo test: 3 passed");
        h["successState"] = json!("done");
        h["salientSummary"] = json!("short");
        h["discoveredIssues"][0]["severity"] = json!("non-blocking");
        h.as_object_mut().unwrap().remove("tests");
        h["skillFeedback"] = json!({"followedProcedure": "yes"});
        let text = describe(&validate(&handoff_schema(), &h).unwrap_err());
        for expected in [
            "`verification`: expected object, got string",
            "`successState`: must be one of",
            "`salientSummary`: must be at least 20 characters (it has 5)",
            "`discoveredIssues[0].severity`: must be one of",
            "missing required field `tests`",
            "`skillFeedback.followedProcedure`: expected boolean, got string",
            "`skillFeedback`: missing required field `deviations`",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }

    #[test]
    fn semantics_need_what_is_left_and_a_commit() {
        let mut h = handoff();
        h["successState"] = json!("failure");
        assert!(check_final_semantics("submit_handoff", &h).unwrap_err().contains("whatWasLeftUndone"));
        h["whatWasLeftUndone"] = json!("the API is down, so nothing could be wired");
        assert_eq!(check_final_semantics("submit_handoff", &h), Ok(()));
        let mut h = handoff();
        h.as_object_mut().unwrap().remove("commitId");
        assert!(check_final_semantics("submit_handoff", &h).unwrap_err().contains("commitId"));
    }

    #[test]
    fn reviews_and_validations_are_checked() {
        let review = json!({"salientSummary": "ok", "reviews": [{"featureId": "a", "status": "pass", "summary": "s", "issues": [{"file": "src/a.rs", "line": 3, "severity": "non_blocking", "description": "d"}]}]});
        assert_eq!(validate(&review_schema(), &review), Ok(()));
        assert_eq!(check_final_semantics("submit_review", &review), Ok(()));
        for outside in ["/etc/passwd", "../outside.txt", "src/../../x"] {
            let mut v = review.clone();
            v["reviews"][0]["issues"][0]["file"] = json!(outside);
            assert!(
                check_final_semantics("submit_review", &v)
                    .unwrap_err()
                    .contains("must be relative to the working directory"),
                "{outside}"
            );
        }
        let ok = json!({"salientSummary": "2 of 2 passed", "assertions": [{"id": "VAL-A-001", "status": "pass", "steps": [{"action": "a", "observed": "o"}], "evidence": ["m/main/a.txt"]}]});
        assert_eq!(validate(&validation_schema(), &ok), Ok(()));
        assert_eq!(check_final_semantics("submit_validation", &ok), Ok(()));
        let mut failed = ok.clone();
        failed["assertions"][0]["status"] = json!("fail");
        assert!(check_final_semantics("submit_validation", &failed).unwrap_err().contains("`issues` must say"));
        let bad = json!({"salientSummary": "s", "assertions": [{"id": "VAL-A-001", "status": "passed", "steps": [], "evidence": []}]});
        assert!(describe(&validate(&validation_schema(), &bad).unwrap_err()).contains("`assertions[0].status`"));
        let twice = json!({"salientSummary": "s", "assertions": [{"id": "V", "status": "pass", "steps": [], "evidence": []}, {"id": "V", "status": "pass", "steps": [], "evidence": []}]});
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
