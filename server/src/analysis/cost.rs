//! Tokens and what they cost: the one home of the price rule (`[prices."model"]`, USD per
//! million tokens of each type), of the cost by role and model, and of how much of a budget
//! (`max_tokens_per_mission`, `max_cost`) is spent. Used by the report and by a running
//! mission's live figures. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

/// The model name for usage whose model no record names.
pub const UNKNOWN_MODEL: &str = "(unknown model)";

/// The share of a budget at which a run warns.
pub const WARN_SHARE: f64 = 0.8;

/// Tokens of one call or a sum of calls, normalised across providers (`agent::usage` reads
/// each wire format into it): `input` never includes cached tokens, so the four fields add up
/// to everything the provider billed. The transcripts record it in this shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Usage {
    pub input: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub output: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input + self.cache_read + self.cache_write + self.output
    }

    pub fn is_zero(&self) -> bool {
        self.total() == 0
    }
}

impl Add for Usage {
    type Output = Usage;
    fn add(self, o: Usage) -> Usage {
        Usage {
            input: self.input + o.input,
            cache_read: self.cache_read + o.cache_read,
            cache_write: self.cache_write + o.cache_write,
            output: self.output + o.output,
        }
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        *self = *self + o;
    }
}

/// Usage summed per session, per role and for the whole mission: what a run's live figures
/// and the report count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRollup {
    pub mission: Usage,
    pub by_role: BTreeMap<String, Usage>,
    pub by_session: BTreeMap<String, Usage>,
    /// Per role, per model (what the cost is computed from).
    pub by_role_model: BTreeMap<String, BTreeMap<String, Usage>>,
}

impl UsageRollup {
    /// Adds one call's usage; `model` is the session's model (`None`: no record names it).
    pub fn record(&mut self, session_id: &str, role: &str, model: Option<&str>, usage: Usage) {
        self.mission += usage;
        *self.by_role.entry(role.to_string()).or_default() += usage;
        *self.by_session.entry(session_id.to_string()).or_default() += usage;
        let model = model.unwrap_or(UNKNOWN_MODEL);
        *self.by_role_model.entry(role.to_string()).or_default().entry(model.to_string()).or_default() += usage;
    }

    pub fn session(&self, session_id: &str) -> Usage {
        self.by_session.get(session_id).copied().unwrap_or_default()
    }

    pub fn role(&self, role: &str) -> Usage {
        self.by_role.get(role).copied().unwrap_or_default()
    }
}

/// USD per million tokens of each type, as `[prices."model"]` in missions.toml gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    #[serde(default)]
    pub input: f64,
    #[serde(default)]
    pub cache_read: f64,
    #[serde(default)]
    pub cache_write: f64,
    #[serde(default)]
    pub output: f64,
}

impl Price {
    pub fn cost(&self, t: &Usage) -> f64 {
        (t.input as f64 * self.input
            + t.cache_read as f64 * self.cache_read
            + t.cache_write as f64 * self.cache_write
            + t.output as f64 * self.output)
            / 1_000_000.0
    }
}

/// The cost of some usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Cost {
    pub currency: String,
    pub total: f64,
    pub by_role: BTreeMap<String, f64>,
    pub by_model: BTreeMap<String, f64>,
    /// Models that ran but have no `[prices."model"]`: their tokens are not in the cost.
    pub unpriced_models: Vec<String>,
    /// Roles with tokens of an unpriced model (their cost is a lower bound).
    pub partial_roles: Vec<String>,
}

/// The cost of `usage` (role -> model -> tokens) at `prices`; `None` when there are no prices
/// at all (nothing to say). Models without a price are named, never guessed.
pub fn cost(usage: &BTreeMap<String, BTreeMap<String, Usage>>, prices: &BTreeMap<String, Price>) -> Option<Cost> {
    if prices.is_empty() {
        return None;
    }
    let mut by_role: BTreeMap<String, f64> = BTreeMap::new();
    let mut by_model: BTreeMap<String, f64> = BTreeMap::new();
    let mut unpriced: BTreeSet<String> = BTreeSet::new();
    let mut partial: BTreeSet<String> = BTreeSet::new();
    for (role, models) in usage {
        for (model, tokens) in models.iter().filter(|(_, t)| t.total() > 0) {
            match prices.get(model) {
                Some(p) => {
                    let c = p.cost(tokens);
                    *by_role.entry(role.clone()).or_default() += c;
                    *by_model.entry(model.clone()).or_default() += c;
                }
                None => {
                    unpriced.insert(model.clone());
                    partial.insert(role.clone());
                }
            }
        }
    }
    let total = by_role.values().fold(0.0, |a, b| a + b);
    Some(Cost {
        currency: "USD".into(),
        total: if total == 0.0 { 0.0 } else { total },
        by_role,
        by_model,
        unpriced_models: unpriced.into_iter().collect(),
        partial_roles: partial.into_iter().collect(),
    })
}

/// The budgets of `[limits]` (0: none).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budgets {
    pub max_tokens: u64,
    pub max_cost: f64,
}

/// How much of one budget is spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetUse {
    /// The `[limits]` key: `max_tokens_per_mission` or `max_cost`.
    pub limit: String,
    pub used: f64,
    pub budget: f64,
    /// used / budget (1.0 and more: spent).
    pub share: f64,
}

impl BudgetUse {
    pub fn spent(&self) -> bool {
        self.share >= 1.0
    }

    /// At or past [`WARN_SHARE`].
    pub fn nearly_spent(&self) -> bool {
        self.share >= WARN_SHARE
    }

    /// `82% of max_cost ($4.10 of $5.00)`, `80% of max_tokens_per_mission (800 of 1000 tokens)`.
    pub fn describe(&self) -> String {
        let percent = (self.share * 100.0).floor();
        match self.limit.as_str() {
            "max_cost" => format!("{percent}% of max_cost ({} of {})", usd(self.used), usd(self.budget)),
            limit => format!("{percent}% of {limit} ({} of {} tokens)", self.used as u64, self.budget as u64),
        }
    }
}

/// The configured budgets and how much of each is spent (`tokens` all the mission's tokens,
/// `cost` its cost); a budget of 0 is none and is left out.
pub fn budget_use(tokens: u64, cost: Option<&Cost>, budgets: Budgets) -> Vec<BudgetUse> {
    let mut out = Vec::new();
    if budgets.max_tokens > 0 {
        out.push(BudgetUse {
            limit: "max_tokens_per_mission".into(),
            used: tokens as f64,
            budget: budgets.max_tokens as f64,
            share: tokens as f64 / budgets.max_tokens as f64,
        });
    }
    if budgets.max_cost > 0.0 {
        let used = cost.map_or(0.0, |c| c.total);
        out.push(BudgetUse {
            limit: "max_cost".into(),
            used,
            budget: budgets.max_cost,
            share: used / budgets.max_cost,
        });
    }
    out
}

/// `$0.04`, `$12.30`; under a cent, `$0.0042` (a small run's cost is not `$0.00`).
pub fn usd(x: f64) -> String {
    let x = if x == 0.0 { 0.0 } else { x };
    if x > 0.0 && x < 0.01 {
        format!("${x:.4}")
    } else {
        format!("${x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(rows: &[(&str, &str, u64, u64)]) -> BTreeMap<String, BTreeMap<String, Usage>> {
        let mut out = UsageRollup::default();
        for (role, model, input, output) in rows {
            out.record("s", role, Some(model), Usage { input: *input, output: *output, ..Default::default() });
        }
        out.by_role_model
    }

    #[test]
    fn price_is_per_million_tokens_of_each_type() {
        let p = Price { input: 3.0, cache_read: 0.3, cache_write: 3.75, output: 15.0 };
        let t = Usage { input: 1_000_000, cache_read: 1_000_000, cache_write: 0, output: 100_000 };
        assert!((p.cost(&t) - 4.8).abs() < 1e-9);
    }

    #[test]
    fn cost_by_role_and_model_names_unpriced_models() {
        let mut prices = BTreeMap::new();
        prices.insert("big".to_string(), Price { input: 10.0, output: 30.0, ..Default::default() });
        let u = usage(&[
            ("worker", "big", 1_000_000, 100_000),
            ("orchestrator", "big", 100_000, 0),
            ("orchestrator", "local", 5, 5),
            ("validator", "local", 0, 0),
        ]);
        let c = cost(&u, &prices).unwrap();
        assert!((c.total - 14.0).abs() < 1e-9, "{c:?}");
        assert!((c.by_role["worker"] - 13.0).abs() < 1e-9 && (c.by_role["orchestrator"] - 1.0).abs() < 1e-9);
        assert_eq!(
            (c.unpriced_models, c.partial_roles),
            (vec!["local".to_string()], vec!["orchestrator".to_string()]),
            "a model without tokens is not named"
        );
        assert_eq!(cost(&u, &BTreeMap::new()), None, "no prices, nothing to say");
    }

    #[test]
    fn budgets_say_their_share_and_warn_at_eighty_percent() {
        let c = Cost {
            currency: "USD".into(),
            total: 4.1,
            by_role: BTreeMap::new(),
            by_model: BTreeMap::new(),
            unpriced_models: vec![],
            partial_roles: vec![],
        };
        let used = budget_use(800, Some(&c), Budgets { max_tokens: 1000, max_cost: 5.0 });
        assert_eq!(
            used.iter().map(BudgetUse::describe).collect::<Vec<_>>(),
            ["80% of max_tokens_per_mission (800 of 1000 tokens)", "82% of max_cost ($4.10 of $5.00)"]
        );
        assert!(used.iter().all(|u| u.nearly_spent() && !u.spent()));
        assert!(budget_use(999, None, Budgets::default()).is_empty(), "0 is no budget");
        let spent = budget_use(0, None, Budgets { max_tokens: 0, max_cost: 0.5 });
        assert_eq!((spent[0].used, spent[0].spent()), (0.0, false), "no prices: nothing counted");
    }

    #[test]
    fn rollup_sums_per_session_role_and_mission() {
        let mut r = UsageRollup::default();
        let a = Usage { input: 1, cache_read: 2, cache_write: 3, output: 4 };
        r.record("s1", "worker", Some("big"), a);
        r.record("s1", "worker", Some("big"), a);
        r.record("s2", "validator", None, a);
        assert_eq!(r.session("s1"), a + a);
        assert_eq!(r.role("validator"), a);
        assert_eq!(r.mission, a + a + a);
        assert_eq!(r.by_role_model["worker"]["big"], a + a);
        assert_eq!(r.by_role_model["validator"][UNKNOWN_MODEL], a);
    }

    #[test]
    fn small_costs_keep_their_digits() {
        assert_eq!(
            (usd(0.0042), usd(0.0), usd(-0.0), usd(12.3)),
            ("$0.0042".into(), "$0.00".into(), "$0.00".into(), "$12.30".into())
        );
    }
}
