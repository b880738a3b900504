//! Lookup tables over a parsed contract and feature queue, shared by the checks and by the
//! queries the language server asks.
//!
//! The tables are owned and split by document: [`ContractIndex`] (assertion id -> headings) is
//! built once per contract parse and shared (`Arc`) by every analysis of that parse, so an edit
//! of features.json rebuilds only [`FeaturesIndex`] (feature ids, claims). [`MissionIndex`] is
//! the borrowed view pairing each table with its document that the checks and queries read.
//! The features' table, rebuilt on every edit, holds positions in the document rather than copies
//! of the ids (a key is read back when a probe needs it); the contract's copies its ids once per
//! parse, so the probe made for every claim compares in one step.

use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::FixedState;
use foldhash::HashMap;
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use smallvec::{smallvec, SmallVec};

use crate::model::{ids, lines, Assertion, Contract, Feature, FeaturesFile, Span};

/// A `fulfills` entry: feature index and item index within its `fulfills`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimRef {
    pub feature: usize,
    pub item: usize,
}

fn hash(id: &str) -> u64 {
    FixedState::default().hash_one(id)
}

/// The contract's assertion ids: every heading index per distinct id. Built once per contract
/// parse and valid only with that parse.
#[derive(Debug, Default)]
pub struct ContractIndex {
    /// Heading indices (into `contract.assertions`) per distinct id, ids in order of their first
    /// heading; several headings = duplicates. Almost every id has one, so it is stored inline.
    headings: Vec<SmallVec<[usize; 1]>>,
    /// Id -> position in `headings`. The id is copied here, once per contract parse, so a probe
    /// (one per claim on every features edit) compares without going through the contract.
    slots: HashTable<(Box<str>, usize)>,
}

impl ContractIndex {
    pub fn new(contract: &Contract) -> Self {
        let n = contract.assertions.len();
        let mut index = ContractIndex { headings: Vec::with_capacity(n), slots: HashTable::with_capacity(n) };
        for (i, a) in contract.assertions.iter().enumerate() {
            let id = a.id.value.as_str();
            match index.slots.entry(hash(id), |(key, _)| **key == *id, |(key, _)| hash(key)) {
                Entry::Occupied(e) => index.headings[e.get().1].push(i),
                Entry::Vacant(e) => {
                    e.insert((id.into(), index.headings.len()));
                    index.headings.push(smallvec![i]);
                }
            }
        }
        index
    }

    fn slot_hashed(&self, hash: u64, id: &str) -> Option<usize> {
        self.slots.find(hash, |(key, _)| **key == *id).map(|&(_, slot)| slot)
    }
}

/// Feature ids and claims of one features.json parse, the claims of contract ids filed under
/// the [`ContractIndex`] it was built with. Rebuilt on every analysis.
#[derive(Debug, Default)]
pub struct FeaturesIndex {
    /// Feature indices per distinct feature id (several = duplicates), in order of first use.
    features: Vec<SmallVec<[usize; 1]>>,
    /// Feature id -> position in `features`.
    feature_slots: HashTable<usize>,
    /// Claims of each contract id, by its position in `ContractIndex::headings`.
    contract_claims: Vec<SmallVec<[ClaimRef; 1]>>,
    /// Claims of ids no heading defines (all of them without a contract), per distinct id.
    other_claims: Vec<SmallVec<[ClaimRef; 1]>>,
    /// Id -> position in `other_claims`.
    other_slots: HashTable<usize>,
    /// Per feature, whether it is cancelled: the claims check asks for every claim, and this
    /// spares it a visit to each feature.
    cancelled: Vec<bool>,
}

impl FeaturesIndex {
    /// `contract` is the table of the contract the claims are filed against (none: no contract).
    pub fn new(file: &FeaturesFile, contract: Option<&ContractIndex>) -> Self {
        let mut index = FeaturesIndex {
            features: Vec::with_capacity(file.features.len()),
            feature_slots: HashTable::with_capacity(file.features.len()),
            contract_claims: vec![SmallVec::new(); contract.map_or(0, |c| c.headings.len())],
            cancelled: Vec::with_capacity(file.features.len()),
            ..Default::default()
        };
        let feature_key =
            |features: &[SmallVec<[usize; 1]>], slot: usize| file.features[features[slot][0]].id().unwrap_or_default();
        let claim_key = |claims: &[SmallVec<[ClaimRef; 1]>], slot: usize| {
            let c = claims[slot][0];
            file.features[c.feature].claims()[c.item].value.as_str()
        };
        for (fi, feature) in file.features.iter().enumerate() {
            index.cancelled.push(feature.is_cancelled());
            if let Some(id) = feature.id() {
                let features = &index.features;
                match index.feature_slots.entry(
                    hash(id),
                    |&s| feature_key(features, s) == id,
                    |&s| hash(feature_key(features, s)),
                ) {
                    Entry::Occupied(e) => index.features[*e.get()].push(fi),
                    Entry::Vacant(e) => {
                        e.insert(index.features.len());
                        index.features.push(smallvec![fi]);
                    }
                }
            }
            for (item, claim) in feature.claims().iter().enumerate() {
                let id = claim.value.as_str();
                let h = hash(id);
                let claim_ref = ClaimRef { feature: fi, item };
                if let Some(slot) = contract.and_then(|table| table.slot_hashed(h, id)) {
                    index.contract_claims[slot].push(claim_ref);
                    continue;
                }
                let others = &index.other_claims;
                match index.other_slots.entry(h, |&s| claim_key(others, s) == id, |&s| hash(claim_key(others, s))) {
                    Entry::Occupied(e) => index.other_claims[*e.get()].push(claim_ref),
                    Entry::Vacant(e) => {
                        e.insert(index.other_claims.len());
                        index.other_claims.push(smallvec![claim_ref]);
                    }
                }
            }
        }
        index
    }
}

/// The tables of one analysis, owned: the contract's shared with other analyses of the same
/// contract parse.
#[derive(Debug, Default)]
pub struct MissionTables {
    pub contract: Option<Arc<ContractIndex>>,
    pub features: Option<FeaturesIndex>,
}

impl MissionTables {
    /// Tables for these documents; `contract_table`, when given, must have been built from this
    /// very `contract` (it is then reused instead of hashing every assertion id again).
    pub fn build(
        contract: Option<&Contract>,
        features: Option<&FeaturesFile>,
        contract_table: Option<Arc<ContractIndex>>,
    ) -> Self {
        let contract_table = contract.map(|c| contract_table.unwrap_or_else(|| Arc::new(ContractIndex::new(c))));
        let features_table = features.map(|f| FeaturesIndex::new(f, contract_table.as_deref()));
        MissionTables { contract: contract_table, features: features_table }
    }

    /// These tables read with the documents they were built from.
    pub fn view<'a>(&'a self, contract: Option<&'a Contract>, features: Option<&'a FeaturesFile>) -> MissionIndex<'a> {
        MissionIndex {
            contract: contract.zip(self.contract.as_deref()),
            features: features.zip(self.features.as_ref()),
        }
    }
}

/// The lookups over a mission's documents and their tables, borrowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct MissionIndex<'a> {
    contract: Option<(&'a Contract, &'a ContractIndex)>,
    features: Option<(&'a FeaturesFile, &'a FeaturesIndex)>,
}

impl<'a> MissionIndex<'a> {
    pub fn contract(&self) -> Option<&'a Contract> {
        self.contract.map(|(c, _)| c)
    }

    pub fn features(&self) -> Option<&'a FeaturesFile> {
        self.features.map(|(f, _)| f)
    }

    fn contract_slot(&self, id: &str) -> Option<usize> {
        let (_, table) = self.contract?;
        table.slot_hashed(hash(id), id)
    }

    fn claims_at(&self, contract_slot: usize) -> &'a [ClaimRef] {
        self.features.and_then(|(_, t)| t.contract_claims.get(contract_slot)).map_or(&[], |c| c.as_slice())
    }

    /// Every distinct assertion id of the contract with its headings (indices into
    /// `contract.assertions`) and claims, in contract order.
    pub fn assertion_ids(&self) -> impl Iterator<Item = (&'a str, &'a [usize], &'a [ClaimRef])> + 'a {
        let this = *self;
        self.contract.into_iter().flat_map(move |(contract, table)| {
            table
                .headings
                .iter()
                .enumerate()
                .map(move |(slot, h)| (contract.assertions[h[0]].id.value.as_str(), h.as_slice(), this.claims_at(slot)))
        })
    }

    /// Indices (into `features`) of the features of each distinct feature id (several =
    /// duplicates), in order of the first.
    pub fn feature_ids(&self) -> impl Iterator<Item = &'a [usize]> + 'a {
        self.features.into_iter().flat_map(|(_, table)| table.features.iter().map(|f| f.as_slice()))
    }

    /// Every claimed id that no heading defines (every claimed id without a contract), with its
    /// claims.
    pub fn claims_without_heading(&self) -> impl Iterator<Item = (&'a str, &'a [ClaimRef])> + 'a {
        self.features.into_iter().flat_map(|(file, table)| {
            table.other_claims.iter().map(move |claims| {
                (file.features[claims[0].feature].claims()[claims[0].item].value.as_str(), claims.as_slice())
            })
        })
    }

    /// Indices (into `contract.assertions`) of every heading with this id.
    pub fn assertion_indices(&self, id: &str) -> &'a [usize] {
        match (self.contract, self.contract_slot(id)) {
            (Some((_, table)), Some(slot)) => table.headings[slot].as_slice(),
            _ => &[],
        }
    }

    /// The first heading with this assertion id.
    pub fn assertion(&self, id: &str) -> Option<&'a Assertion> {
        let i = *self.assertion_indices(id).first()?;
        self.contract().map(|c| &c.assertions[i])
    }

    pub fn has_assertion(&self, id: &str) -> bool {
        self.contract_slot(id).is_some()
    }

    /// Indices (into `features`) of every feature with this id.
    pub fn feature_indices(&self, id: &str) -> &'a [usize] {
        let Some((file, table)) = self.features else { return &[] };
        let found = table.feature_slots.find(hash(id), |&s| {
            table.features.get(s).and_then(|f| file.features.get(f[0])).is_some_and(|f| f.id() == Some(id))
        });
        found.map_or(&[], |&s| table.features[s].as_slice())
    }

    /// The first feature with this id.
    pub fn feature(&self, id: &str) -> Option<&'a Feature> {
        let i = *self.feature_indices(id).first()?;
        self.features().map(|f| &*f.features[i])
    }

    pub fn has_feature(&self, id: &str) -> bool {
        !self.feature_indices(id).is_empty()
    }

    /// Every `fulfills` entry naming `id`, cancelled features included.
    pub fn claims_of(&self, id: &str) -> &'a [ClaimRef] {
        if let Some(slot) = self.contract_slot(id) {
            return self.claims_at(slot);
        }
        let Some((file, table)) = self.features else { return &[] };
        let claimed_id = |s: usize| {
            let c = table.other_claims.get(s)?[0];
            Some(file.features.get(c.feature)?.claims().get(c.item)?.value.as_str())
        };
        let found = table.other_slots.find(hash(id), |&s| claimed_id(s) == Some(id));
        found.map_or(&[], |&s| table.other_claims[s].as_slice())
    }

    /// Whether feature `feature` (an index into `features`) is cancelled.
    pub fn is_cancelled(&self, feature: usize) -> bool {
        self.features.is_some_and(|(_, table)| table.cancelled.get(feature).copied().unwrap_or(false))
    }

    /// The feature the invariant counts as the owner: the first claim by a feature that is not
    /// cancelled.
    pub fn claiming_feature(&self, id: &str) -> Option<&'a Feature> {
        let features = self.features()?;
        self.claims_of(id).iter().map(|c| &*features.features[c.feature]).find(|f| !f.is_cancelled())
    }

    pub fn claim_span(&self, claim: ClaimRef) -> Option<Span> {
        Some(self.features()?.features.get(claim.feature)?.claims().get(claim.item)?.span.clone())
    }

    /// Milestone position by name (order of first appearance).
    pub fn milestone_order(&self) -> HashMap<&'a str, usize> {
        self.features()
            .map(FeaturesFile::milestones)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, m)| (m, i))
            .collect()
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
    let (line_start, line_end) = (lines::line_start(text, span.start), lines::line_end(text, span.end));
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
