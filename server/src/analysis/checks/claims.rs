//! The invariant across both documents: every assertion is claimed by exactly one feature
//! that is not cancelled.

use crate::analysis::diagnostic::{Code, Diagnostic, DocKind, Severity};
use smallvec::SmallVec;

use super::{named, MAX_NAMED};
use crate::analysis::index::{ClaimRef, MissionIndex};

pub(super) fn check(index: &MissionIndex, out: &mut Vec<Diagnostic>) {
    let (Some(contract), Some(features)) = (index.contract(), index.features()) else { return };
    for (id, headings, claims) in index.assertion_ids() {
        // A duplicate heading is reported as such; the claims are checked against the first.
        let a = &contract.assertions[headings[0]];
        let owner = |c: &ClaimRef| features.features[c.feature].id().unwrap_or("(feature without id)").to_string();
        // Cancelled features do not claim; one feature listing an id twice is a schema
        // problem, not a second claimant.
        let mut distinct: SmallVec<[ClaimRef; 1]> =
            claims.iter().copied().filter(|c| !index.is_cancelled(c.feature)).collect();
        distinct.dedup_by_key(|c| c.feature);
        match distinct.len() {
            0 => out.push(Diagnostic::on(
                DocKind::Contract,
                a.id.span.clone(),
                Code::UnclaimedAssertion,
                Severity::Warning,
                format!("`{id}` is not claimed by any feature"),
            )),
            1 => {}
            _ => {
                // Each message names a few claimants (and points at them): thousands of
                // claimants of one id must not make every diagnostic list all the others.
                let names: Vec<String> = distinct.iter().take(MAX_NAMED + 1).map(owner).collect();
                let mut on_contract = Diagnostic::on(
                    DocKind::Contract,
                    a.id.span.clone(),
                    Code::DuplicateClaim,
                    Severity::Error,
                    format!(
                        "`{id}` is claimed by {} features: {}",
                        super::thousands(distinct.len()),
                        named(&names, distinct.len())
                    ),
                );
                for c in distinct.iter().take(MAX_NAMED) {
                    let span = index.claim_span(*c).expect("claim spans exist");
                    on_contract =
                        on_contract.with_related(DocKind::Features, span, format!("claimed by `{}`", owner(c)));
                }
                out.push(on_contract);
                for c in &distinct {
                    let others = || distinct.iter().filter(|o| o.feature != c.feature);
                    let names: Vec<String> = others().take(MAX_NAMED + 1).map(owner).collect();
                    let mut d = Diagnostic::on(
                        DocKind::Features,
                        index.claim_span(*c).expect("claim spans exist"),
                        Code::DuplicateClaim,
                        Severity::Error,
                        format!("`{id}` is also claimed by {}", named(&names, distinct.len() - 1)),
                    );
                    for o in others().take(MAX_NAMED) {
                        d = d.with_related(
                            DocKind::Features,
                            index.claim_span(*o).expect("claim spans exist"),
                            format!("claimed by `{}`", owner(o)),
                        );
                    }
                    d = d.with_related(DocKind::Contract, a.id.span.clone(), format!("`{id}` is defined here"));
                    out.push(d);
                }
            }
        }
    }
}
