//! The mission loop and the commands around it: creating missions, finding them, their
//! state on disk, git, the progress log, and `missions run` (features, validation rounds,
//! fix features, halt and resume).

pub mod agents;
pub mod base_checks;
pub mod commands;
pub mod context;
pub mod control;
pub mod demo;
pub mod drift;
pub mod events;
pub mod evidence;
pub mod failpoint;
pub mod fix;
pub mod git;
pub mod handoffs;
pub mod live;
pub mod locate;
pub mod lock;
pub mod new;
pub mod plan;
pub mod progress;
pub mod proof;
pub mod queue;
pub mod report;
pub mod run;
pub mod schedule;
pub mod scratch;
pub mod services;
pub mod signals;
pub mod state;
pub mod summary;
pub mod validate;
pub mod verify;
pub mod worker;
pub mod worktree;
