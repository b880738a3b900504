//! Crash injection for the crash-safety tests: `MISSIONS_FAILPOINT=<name>` makes the process
//! abort (as a SIGKILL or a power cut would stop it) when it reaches the failpoint of that
//! name. Only the windows no progress event marks need one; a test kills at events otherwise.

/// The environment variable naming the failpoint to crash at.
pub const ENV: &str = "MISSIONS_FAILPOINT";

/// Aborts the process when `MISSIONS_FAILPOINT` names this failpoint.
pub fn hit(name: &str) {
    if std::env::var_os(ENV).is_some_and(|v| v == name) {
        eprintln!("missions: failpoint {name} reached; aborting as {ENV} asks");
        std::process::abort();
    }
}

/// Whether `MISSIONS_FAILPOINT` names this failpoint, for the failpoints that do something
/// else than abort (the language server's tests make a handler panic).
pub fn is_set(name: &str) -> bool {
    std::env::var_os(ENV).is_some_and(|v| v == name)
}
