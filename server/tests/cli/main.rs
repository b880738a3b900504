//! The cli test binary: one per layer, so the tests link tokio, reqwest, rustls and the
//! language server once (each file below was a test binary of its own).

#[path = "../loop_support/mod.rs"]
mod loop_support;
use loop_support::droid_format;

mod analysis_codes;
mod cli_check;
mod cli_help_and_hints;
mod cli_new_status;
mod cli_review;
mod demo_record;
mod demo_run;
mod droid_examples;
mod examples_agree;
mod never_panics;
mod plan_flow;
mod readme_examples;
mod report_browser;
mod report_cli;
mod report_render;
