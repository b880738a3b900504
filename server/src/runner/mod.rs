//! The mission loop and the commands around it: creating missions, finding them, their
//! state on disk, git, and the progress log.

pub mod events;
pub mod git;
pub mod locate;
pub mod new;
pub mod schedule;
