//! `missions`: a language server and CLI that runs long, multi-agent software projects.
//!
//! Layers (arrows point down only): `lsp`/`cli` -> `runner` -> `agent` -> `config` ->
//! `analysis` -> `model`.
//! See `server/ARCHITECTURE.md`.

pub mod agent;
pub mod analysis;
pub mod cli;
pub mod config;
pub mod lsp;
pub mod model;
pub mod runner;
