//! The lsp test binary: one per layer, so the tests link tokio, reqwest, rustls and the
//! language server once (each file below was a test binary of its own).

#[path = "../loop_support/mod.rs"]
mod loop_support;
#[path = "../lsp_support/mod.rs"]
mod lsp_support;
#[path = "../stdio_client/mod.rs"]
mod stdio_client;
use stdio_client::stdio_frames;

mod lsp_editing;
mod lsp_evidence;
mod lsp_fuzz;
mod lsp_live_buffers;
mod lsp_mission_loop;
mod lsp_mission_progress;
mod lsp_navigation;
mod lsp_repository;
mod lsp_resilience;
mod lsp_session;
mod lsp_settings;
mod lsp_status;
mod lsp_stdio;
mod lsp_transport;
