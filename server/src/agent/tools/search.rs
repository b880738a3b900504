//! `search`: a regex over file contents, honouring .gitignore.

use super::paths::Roots;
use serde_json::Value;
use std::io::Read;

const MAX_MATCHES: usize = 500;
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
const MAX_LINE_CHARS: usize = 300;

pub fn run(roots: &Roots, args: &Value) -> Result<String, String> {
    let pattern = args["pattern"].as_str().unwrap_or_default();
    let arg = args["path"].as_str().unwrap_or(".");
    let regex = regex::RegexBuilder::new(pattern)
        .size_limit(10 * 1024 * 1024)
        .build()
        .map_err(|e| format!("bad regex `{pattern}`: {e}"))?;
    let root = roots.resolve(arg)?;
    let mut out = Vec::new();
    let mut more = false;
    'files: for entry in super::list_files::walker(&root).build().flatten() {
        // Symlinked files are skipped: reading through one could leave the roots.
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(file) = std::fs::File::open(entry.path()) else {
            continue;
        };
        let mut bytes = Vec::new();
        if file.take(MAX_FILE_BYTES).read_to_end(&mut bytes).is_err() || bytes.iter().take(8192).any(|b| *b == 0) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for (i, line) in text.lines().enumerate() {
            if regex.is_match(line) {
                if out.len() == MAX_MATCHES {
                    more = true;
                    break 'files;
                }
                let shown: String = line.trim_end().chars().take(MAX_LINE_CHARS).collect();
                out.push(format!("{}:{}: {shown}", roots.display(entry.path()), i + 1));
            }
        }
    }
    if out.is_empty() {
        return Ok(format!("no match for `{pattern}` under `{arg}`"));
    }
    let mut text = out.join("\n");
    if more {
        text.push_str(&format!("\n… more than {MAX_MATCHES} matches; narrow the pattern or `path`"));
    }
    Ok(text)
}
