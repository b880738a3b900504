//! Command-line subcommands. Each file is one command; they call `analysis` and `model`.

pub mod check;
pub mod demo;
pub mod new;
pub mod report;
pub mod run;
pub mod status;
