//! `read_file`: numbered lines of a text file inside the roots.

use super::paths::Roots;
use serde_json::Value;

const DEFAULT_LIMIT: usize = 2000;
const MAX_LINE_CHARS: usize = 2000;
/// The most a single answer holds, so one call cannot flood the context.
const MAX_OUTPUT_BYTES: usize = 256 * 1024;

pub fn run(roots: &Roots, args: &Value) -> Result<String, String> {
    let arg = args["path"].as_str().unwrap_or_default();
    let path = roots.resolve(arg)?;
    let offset = args["offset"].as_u64().unwrap_or(1).max(1) as usize;
    let limit = args["limit"].as_u64().map_or(DEFAULT_LIMIT, |l| l as usize);
    if path.is_dir() {
        return Err(format!("`{arg}` is a folder; use list_files"));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read `{arg}`: {e}"))?;
    if bytes.iter().take(8192).any(|b| *b == 0) {
        return Err(format!("`{arg}` is a binary file ({} bytes)", bytes.len()));
    }
    let text = String::from_utf8_lossy(&bytes);
    let total = text.lines().count();
    if total == 0 {
        return Ok(format!("(`{arg}` is empty)"));
    }
    if offset > total {
        return Err(format!("`{arg}` has {total} lines; offset {offset} is past the end"));
    }
    let mut out = String::new();
    let mut last = offset - 1;
    for (i, line) in text.lines().enumerate().skip(offset - 1).take(limit) {
        let line = if line.chars().count() > MAX_LINE_CHARS {
            format!(
                "{}… (line cut at {MAX_LINE_CHARS} characters)",
                line.chars().take(MAX_LINE_CHARS).collect::<String>()
            )
        } else {
            line.to_string()
        };
        let row = format!("{}\t{line}\n", i + 1);
        if out.len() + row.len() > MAX_OUTPUT_BYTES {
            break;
        }
        out.push_str(&row);
        last = i + 1;
    }
    if last < total {
        out.push_str(&format!("… ({total} lines in all; read on with offset {})\n", last + 1));
    }
    Ok(out)
}
