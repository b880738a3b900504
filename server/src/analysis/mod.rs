//! Pure analysis of a mission: cross-document checks producing the diagnostics of design §3,
//! and the lookups the language server and runner need. No disk, clock or network here.

pub mod checks;
pub mod cost;
pub mod diagnostic;
pub mod drift;
pub mod evidence;
pub mod index;
pub mod position;
pub mod report;
pub mod summary;

pub use checks::{check, MissionInput};
pub use diagnostic::{Code, Diagnostic, DocKind, Related, Severity, Target};
pub use index::{id_at, ClaimRef, ContractIndex, FeaturesIndex, IdAt, MissionIndex, MissionTables};
pub mod completion;
pub mod fixes;
pub mod highlight;
pub mod hover;
#[cfg(test)]
mod ide_tests;
pub mod inlay;
pub mod lens;
pub mod links;
pub mod merge;
pub mod mission;
pub mod navigate;
pub mod rename;
pub mod symbols;
pub mod tokens;
