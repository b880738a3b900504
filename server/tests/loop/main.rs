//! The loop test binary: one per layer, so the tests link tokio, reqwest, rustls and the
//! language server once (each file below was a test binary of its own).

#[path = "../loop_support/mod.rs"]
mod loop_support;
#[path = "../stdio_client/mod.rs"]
mod stdio_client;

mod bench_token_economy;
mod loop_crash;
mod loop_drift;
mod loop_droid_folder;
mod loop_git_safety;
mod loop_overhead;
mod loop_parallel;
mod loop_proof;
mod loop_provider_waits;
mod loop_run;
mod loop_torture;
mod loop_validators;
mod runner_services;
