//! `list_files`: files under a folder, honouring .gitignore (and .git/info/exclude).

use super::paths::Roots;
use serde_json::Value;
use std::path::Path;

const MAX_ENTRIES: usize = 2000;

pub fn run(roots: &Roots, args: &Value) -> Result<String, String> {
    let arg = args["path"].as_str().unwrap_or(".");
    let root = roots.resolve(arg)?;
    if !root.is_dir() {
        return Err(format!("`{arg}` is not a folder"));
    }
    let mut walk = walker(&root);
    if let Some(glob) = args["glob"].as_str().filter(|g| !g.trim().is_empty()) {
        let mut overrides = ignore::overrides::OverrideBuilder::new(&root);
        overrides.add(glob).map_err(|e| format!("bad glob `{glob}`: {e}"))?;
        walk.overrides(overrides.build().map_err(|e| format!("bad glob `{glob}`: {e}"))?);
    }
    let mut files = Vec::new();
    let mut more = false;
    for entry in walk.build().flatten() {
        if entry.depth() == 0 || entry.file_type().is_some_and(|t| t.is_dir()) {
            continue;
        }
        if files.len() == MAX_ENTRIES {
            more = true;
            break;
        }
        files.push(roots.display(entry.path()));
    }
    files.sort();
    if files.is_empty() {
        return Ok(format!("no files under `{arg}`"));
    }
    let mut out = files.join("\n");
    if more {
        out.push_str(&format!("\n… more than {MAX_ENTRIES} files; narrow `path` or `glob`"));
    }
    Ok(out)
}

/// A walk that honours ignore files even outside a git repository, shows dotfiles, never
/// enters `.git`, and never follows symlinks (they could lead out of the roots).
pub(super) fn walker(root: &Path) -> ignore::WalkBuilder {
    let mut walk = ignore::WalkBuilder::new(root);
    walk.hidden(false).require_git(false).follow_links(false).filter_entry(|e| e.file_name() != ".git");
    walk
}
