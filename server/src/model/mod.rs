//! The mission folder's files: types, error-tolerant parsers that keep byte spans, and
//! crash-safe persistence. No LSP, no network; only `folder`, `persist` and `evidence` touch
//! the disk.

pub mod contract;
pub mod evidence;
pub mod features;
pub mod features_edit;
pub mod folder;
pub mod ids;
pub mod json;
pub mod lines;
pub mod persist;
pub mod progress_log;
pub mod proof;
pub mod questions;
pub mod records;
pub mod services;
pub mod span;
pub mod timestamp;

pub use contract::{Assertion, Contract};
pub use features::{Feature, FeaturesFile};
pub use span::{ParseProblem, ProblemKind, Span, Spanned, TextChange};
