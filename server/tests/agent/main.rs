//! The agent test binary: one per layer, so the tests link tokio, reqwest, rustls and the
//! language server once (each file below was a test binary of its own). agent_secrets.rs and
//! agent_tool_env.rs stay binaries of their own: they set process environment variables, which
//! would race the other tests' threads here.

#[path = "../agent_support/mod.rs"]
mod agent_support;
#[path = "../droid_format/mod.rs"]
mod droid_format;

mod agent_browser;
mod agent_loop;
mod agent_prompt_cache;
mod agent_providers;
mod agent_real_servers;
mod agent_reliability;
mod agent_server_quirks;
mod agent_terminal;
mod agent_tools;
mod agents_examples;
