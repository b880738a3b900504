//! Command-line subcommands. Each file is one command; they call `analysis` and `model`.

pub mod check;
pub mod new;
pub mod run;
pub mod status;
