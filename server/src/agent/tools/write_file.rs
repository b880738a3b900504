//! `write_file`: create or overwrite a file, creating its folders, where the role may write.

use super::paths::{Roots, WritePolicy};
use serde_json::Value;

pub fn run(roots: &Roots, policy: WritePolicy, args: &Value) -> Result<String, String> {
    let arg = args["path"].as_str().unwrap_or_default();
    let content = args["content"].as_str().unwrap_or_default();
    let path = roots.resolve_for_write(arg, policy)?;
    if path.is_dir() {
        return Err(format!("`{arg}` is a folder"));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create the folders of `{arg}`: {e}"))?;
    }
    std::fs::write(&path, content).map_err(|e| format!("cannot write `{arg}`: {e}"))?;
    Ok(format!("wrote {} bytes ({} lines) to {}", content.len(), content.lines().count(), roots.display(&path)))
}
