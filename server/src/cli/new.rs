//! `missions new <GOAL> [--name SLUG]`.

use std::io::Write;

use crate::runner::new::{self, NewError};

pub fn run(goal: &str, name: Option<&str>, quiet: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_default();
    match new::create(&cwd, goal, name) {
        Ok(m) => {
            let shown = m.dir.strip_prefix(&cwd).map_or(m.dir.clone(), |p| p.to_path_buf());
            if quiet {
                let _ = writeln!(out, "{}", shown.display());
            } else {
                let _ = writeln!(out, "Created mission {} ({}) in {}", m.title, m.state.mission_id, shown.display());
                if let Some(taken) = &m.name_taken {
                    let _ = writeln!(
                        out,
                        "(a mission named `{taken}` exists already; pass --name to choose the folder's name)"
                    );
                }
                // With another mission beside it, a bare `missions run` would ask which one.
                let run = match crate::runner::locate::locate(&cwd, None) {
                    Ok(_) => "missions run".to_string(),
                    Err(_) => format!("missions run {}", shown.display()),
                };
                let _ = writeln!(out, "Next: `{run}` plans it (contract first, then features) and runs it.");
            }
            0
        }
        Err(e) => {
            let _ = writeln!(err, "missions: {e}");
            match e {
                NewError::Write { .. } | NewError::Git(_) => 1,
                _ => 2,
            }
        }
    }
}
