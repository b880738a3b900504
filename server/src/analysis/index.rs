//! Lookup tables over a parsed contract and feature queue, built once per analysis and
//! shared by the checks and by the queries the language server asks.

use foldhash::HashMap;
use smallvec::SmallVec;

use crate::model::{ids, Assertion, Contract, Feature, FeaturesFile, Span};

/// A `fulfills` entry: feature index and item index within its `fulfills`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimRef {
    pub feature: usize,
    pub item: usize,
}

/// Everything the mission says about one assertion id: its headings and its claims.
#[derive(Debug, Default, Clone)]
pub struct IdEntry {
    /// Indices into `contract.assertions` of every heading with this id (several = duplicates).
    pub assertions: SmallVec<[usize; 1]>,
    /// Every `fulfills` entry naming it, cancelled features included.
    pub claims: SmallVec<[ClaimRef; 1]>,
}

#[derive(Debug, Default)]
pub struct MissionIndex<'a> {
    pub contract: Option<&'a Contract>,
    pub features: Option<&'a FeaturesFile>,
    // One table for headings and claims, so the cross-document checks walk it once instead of
    // looking ids up; almost every id occurs once, so inline storage avoids an allocation each.
    ids: HashMap<&'a str, IdEntry>,
    feature_ids: HashMap<&'a str, SmallVec<[usize; 1]>>,
}

impl<'a> MissionIndex<'a> {
    pub fn new(contract: Option<&'a Contract>, features: Option<&'a FeaturesFile>) -> Self {
        let mut index = MissionIndex { contract, features, ..Default::default() };
        if let Some(c) = contract {
            index.ids.reserve(c.assertions.len());
            for (i, a) in c.assertions.iter().enumerate() {
                index.ids.entry(a.id.value.as_str()).or_default().assertions.push(i);
            }
        }
        if let Some(f) = features {
            index.feature_ids.reserve(f.features.len());
            for (fi, feature) in f.features.iter().enumerate() {
                if let Some(id) = feature.id() {
                    index.feature_ids.entry(id).or_default().push(fi);
                }
                for (item, claim) in feature.claims().iter().enumerate() {
                    index.ids.entry(claim.value.as_str()).or_default().claims.push(ClaimRef { feature: fi, item });
                }
            }
        }
        index
    }

    /// Every id named by a heading or a claim, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, &IdEntry)> + '_ {
        self.ids.iter().map(|(k, v)| (*k, v))
    }

    /// The first assertion with this id.
    pub fn assertion(&self, id: &str) -> Option<&'a Assertion> {
        let i = *self.ids.get(id)?.assertions.first()?;
        self.contract.map(|c| &c.assertions[i])
    }

    /// Indices (into `contract.assertions`) of every heading with this id.
    pub fn assertion_indices(&self, id: &str) -> &[usize] {
        self.ids.get(id).map_or(&[], |e| e.assertions.as_slice())
    }

    pub fn has_assertion(&self, id: &str) -> bool {
        self.ids.get(id).is_some_and(|e| !e.assertions.is_empty())
    }

    /// The first feature with this id.
    pub fn feature(&self, id: &str) -> Option<&'a Feature> {
        let i = *self.feature_ids.get(id)?.first()?;
        self.features.map(|f| &f.features[i])
    }

    pub fn feature_indices(&self, id: &str) -> &[usize] {
        self.feature_ids.get(id).map_or(&[], |v| v.as_slice())
    }

    /// Every `fulfills` entry naming `id`, cancelled features included.
    pub fn claims_of(&self, id: &str) -> &[ClaimRef] {
        self.ids.get(id).map_or(&[], |e| e.claims.as_slice())
    }

    /// Claims by features that are not cancelled: the ones the invariant counts.
    pub fn active_claims_of(&self, id: &str) -> SmallVec<[ClaimRef; 1]> {
        let Some(features) = self.features else { return SmallVec::new() };
        self.claims_of(id).iter().copied().filter(|c| !features.features[c.feature].is_cancelled()).collect()
    }

    /// The feature that claims `id` (the first active claim).
    pub fn claiming_feature(&self, id: &str) -> Option<&'a Feature> {
        let c = *self.active_claims_of(id).first()?;
        self.features.map(|f| &f.features[c.feature])
    }

    pub fn claim_span(&self, claim: ClaimRef) -> Option<Span> {
        Some(self.features?.features[claim.feature].claims().get(claim.item)?.span.clone())
    }

    /// Assertions nobody claims, in contract order.
    pub fn unclaimed_assertions(&self) -> Vec<&'a Assertion> {
        let Some(c) = self.contract else { return Vec::new() };
        c.assertions.iter().filter(|a| self.active_claims_of(&a.id.value).is_empty()).collect()
    }

    /// Features grouped by milestone, milestones in order of first appearance.
    pub fn features_by_milestone(&self) -> Vec<(&'a str, Vec<&'a Feature>)> {
        let Some(f) = self.features else { return Vec::new() };
        let mut groups: Vec<(&'a str, Vec<&'a Feature>)> = Vec::new();
        for feature in &f.features {
            let Some(m) = feature.milestone() else { continue };
            match groups.iter_mut().find(|(name, _)| *name == m) {
                Some((_, list)) => list.push(feature),
                None => groups.push((m, vec![feature])),
            }
        }
        groups
    }

    /// Milestone position by name (order of first appearance).
    pub fn milestone_order(&self) -> HashMap<&'a str, usize> {
        self.features.map(FeaturesFile::milestones).unwrap_or_default().into_iter().enumerate().map(|(i, m)| (m, i)).collect()
    }
}

/// What an id-shaped token in a mission document names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdAt {
    Assertion { id: String, span: Span },
    Feature { id: String, span: Span },
}

/// The assertion or feature id under byte `offset` of `text` (any mission file), if any.
/// Feature ids are recognised when the feature queue has them.
pub fn id_at(index: &MissionIndex, text: &str, offset: usize) -> Option<IdAt> {
    let offset = floor_char_boundary(text, offset);
    let span = token_span_at(text, offset)?;
    let tok = &text[span.clone()];
    if ids::is_assertion_id(tok) {
        return Some(IdAt::Assertion { id: tok.to_string(), span });
    }
    if !index.feature_indices(tok).is_empty() {
        return Some(IdAt::Feature { id: tok.to_string(), span });
    }
    None
}

/// The id-shaped token at `offset`; inside a JSON string the whole string, because feature
/// ids are free-form and may hold characters an assertion id cannot (`feat.auth`).
pub fn token_span_at(text: &str, offset: usize) -> Option<Span> {
    let span = ids::token_at(text, offset)?;
    let line_start = text[..span.start].rfind('\n').map_or(0, |p| p + 1);
    let line_end = text[span.end..].find('\n').map_or(text.len(), |p| span.end + p);
    let before = &text[line_start..span.start];
    let after = &text[span.end..line_end];
    if let (Some(q1), Some(q2)) = (before.rfind('"'), after.find('"')) {
        let inner = line_start + q1 + 1..span.end + q2;
        let s = &text[inner.clone()];
        if !s.contains(['"', ',', ' ']) && !s.is_empty() {
            return Some(inner);
        }
    }
    Some(span)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}
