//! `assertion-stale`: a passed assertion whose feature's files a later commit changed, on its
//! heading (the rule is `analysis::drift`).

use crate::analysis::diagnostic::{Code, Diagnostic, DocKind, Severity};
use crate::analysis::drift::{stale_assertions, History};
use crate::analysis::index::MissionIndex;
use crate::model::folder::ValidationRecords;

pub(super) fn check(history: &History, records: &ValidationRecords, index: &MissionIndex, out: &mut Vec<Diagnostic>) {
    let (Some(contract), Some(features)) = (index.contract(), index.features()) else { return };
    for stale in stale_assertions(history, contract, features, records.state.as_ref()) {
        let Some(a) = index.assertion(&stale.assertion) else { continue };
        out.push(Diagnostic::on(
            DocKind::Contract,
            a.id.span.clone(),
            Code::AssertionStale,
            Severity::Warning,
            stale.describe(),
        ));
    }
}
