//! Optional bubblewrap sandbox for `bash`: the filesystem read-only except the working
//! directory and a private /tmp, the mission folder read-only (validators: `evidence/`
//! writable), the network off unless allowed, a pid namespace so a kill reaches everything.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bwrap {
    pub program: PathBuf,
    pub network: bool,
}

/// Finds `bwrap` and checks it can create the namespaces it needs here. The error says what
/// is missing and how to fix it.
pub fn probe(network: bool) -> Result<Bwrap, String> {
    let program = find_on_path("bwrap").ok_or_else(|| {
        "sandbox = \"bwrap\" but `bwrap` is not on PATH: install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), or set sandbox = \"none\"".to_string()
    })?;
    let bwrap = Bwrap { program, network };
    let tmp = std::env::temp_dir();
    let output = bwrap
        .command(&tmp, &[], &[], "true")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bwrap.program.display()))?;
    if output.status.success() {
        return Ok(bwrap);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "bwrap cannot create its sandbox here ({}). User namespaces may be disabled: check `sysctl kernel.unprivileged_userns_clone` and `user.max_user_namespaces`, or the container's seccomp/AppArmor profile; or set sandbox = \"none\"",
        stderr.trim()
    ))
}

impl Bwrap {
    /// `bwrap … bash -c <script>` in `working_dir`. `read_only` folders are re-mounted read-only
    /// over the writable working directory, then `writable` ones writable again, in order.
    pub fn command(&self, working_dir: &Path, read_only: &[PathBuf], writable: &[PathBuf], script: &str) -> Command {
        let mut c = Command::new(&self.program);
        c.args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]);
        c.arg("--bind").arg(working_dir).arg(working_dir);
        for p in read_only.iter().filter(|p| p.exists()) {
            c.arg("--ro-bind").arg(p).arg(p);
        }
        for p in writable.iter().filter(|p| p.exists()) {
            c.arg("--bind").arg(p).arg(p);
        }
        c.args(["--unshare-pid", "--die-with-parent"]);
        if !self.network {
            c.arg("--unshare-net");
        }
        c.arg("--chdir").arg(working_dir);
        c.args(["bash", "-c", script]);
        c
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}
