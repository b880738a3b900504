//! `edit_file`: replace text that must match exactly once (or everywhere with `replace_all`).

use super::paths::{Roots, WritePolicy};
use serde_json::Value;

pub fn run(roots: &Roots, policy: WritePolicy, args: &Value) -> Result<String, String> {
    let arg = args["path"].as_str().unwrap_or_default();
    let old = args["old"].as_str().unwrap_or_default();
    let new = args["new"].as_str().unwrap_or_default();
    let replace_all = args["replace_all"].as_bool().unwrap_or(false);
    let path = roots.resolve_for_write(arg, policy)?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read `{arg}`: {e}"))?;
    if old == new {
        return Err("`old` and `new` are the same; nothing to change".into());
    }
    let count = text.matches(old).count();
    let updated = match count {
        0 => {
            return Err(format!(
                "`old` was not found in `{arg}`; read the file and copy the text exactly (whitespace included)"
            ))
        }
        1 => text.replacen(old, new, 1),
        _ if replace_all => text.replace(old, new),
        n => {
            return Err(format!(
            "`old` occurs {n} times in `{arg}`; include more surrounding lines so it matches once, or set replace_all"
        ))
        }
    };
    std::fs::write(&path, &updated).map_err(|e| format!("cannot write `{arg}`: {e}"))?;
    Ok(format!("replaced {} occurrence(s) in {}", if replace_all { count } else { 1 }, roots.display(&path)))
}
