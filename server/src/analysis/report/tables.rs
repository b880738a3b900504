//! The report's sections as rows of cells, and its figures as words (`5.23 h`, `30.3k`,
//! `12.5%`), shared by the text and the HTML renderings.

use std::collections::BTreeMap;

use super::{MissionReport, ROLES};
use crate::analysis::cost::usd;

/// `-0.0` (and any other zero) as `0.0`, so no report says `-0.0 s`.
pub(super) fn no_negative_zero(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x
    }
}

/// `5.23 h`, `12.4 min`, `3.2 s`.
pub fn duration(seconds: f64) -> String {
    let seconds = no_negative_zero(seconds);
    if seconds >= 3600.0 {
        format!("{:.2} h", seconds / 3600.0)
    } else if seconds >= 60.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{seconds:.1} s")
    }
}

/// `778.5M`, `30.3k`, `900`.
pub fn count(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.2}B", n as f64 / 1e9),
    }
}

pub(super) fn percent(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        "0.0%".into()
    } else {
        format!("{:.1}%", no_negative_zero(100.0 * part / whole))
    }
}

/// The report's sections as rows of cells, shared by the text and HTML renderings.
pub(super) struct Table {
    /// Names the section (an HTML anchor) and the chart drawn beside it.
    pub(super) id: &'static str,
    pub(super) title: String,
    pub(super) head: Vec<String>,
    pub(super) rows: Vec<Vec<String>>,
    pub(super) note: Option<String>,
    /// Columns whose cells are words, left-aligned in text (the first column always is).
    pub(super) text_columns: Vec<usize>,
}

pub(super) fn tables(r: &MissionReport) -> Vec<Table> {
    let mut out = Vec::new();
    let s = |x: &str| x.to_string();

    let mut rows = Vec::new();
    for role in ROLES {
        let secs = r.time.by_role_seconds.get(role).copied().unwrap_or(0.0);
        rows.push(vec![s(role), duration(secs), percent(secs, r.time.role_seconds_total)]);
    }
    rows.push(vec![s("total"), duration(r.time.role_seconds_total), s("")]);
    out.push(Table {
        id: "runtime-role",
        title: s("Runtime by role"),
        head: vec![s("role"), s("time"), s("share")],
        rows,
        note: Some(format!(
            "time a session of the role was running; wall clock {} from the first to the last recorded event",
            duration(r.time.wall_seconds)
        )),
        text_columns: vec![],
    });

    let rows = r
        .time
        .milestones
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                duration(m.implementation_seconds),
                duration(m.validation_seconds),
                percent(m.validation_seconds, m.implementation_seconds + m.validation_seconds),
            ]
        })
        .collect();
    out.push(Table {
        id: "runtime-milestone",
        title: s("Runtime by milestone"),
        head: vec![s("milestone"), s("implementation"), s("validation"), s("validation share")],
        rows,
        note: None,
        text_columns: vec![],
    });

    let mut rows: Vec<Vec<String>> = ROLES
        .iter()
        .map(|role| {
            let kinds: Vec<String> = r
                .runs
                .sessions
                .iter()
                .filter(|x| x.role == *role)
                .fold(BTreeMap::<&str, usize>::new(), |mut m, x| {
                    *m.entry(x.kind.as_str()).or_default() += 1;
                    m
                })
                .into_iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            let unsuccessful = r
                .runs
                .sessions
                .iter()
                .filter(|x| x.role == *role && matches!(x.outcome.as_str(), "failed" | "interrupted"))
                .count();
            vec![
                s(role),
                r.runs.by_role.get(*role).copied().unwrap_or(0).to_string(),
                unsuccessful.to_string(),
                kinds.join(", "),
            ]
        })
        .collect();
    let unsuccessful: usize = ["failed", "interrupted"].iter().filter_map(|o| r.runs.by_outcome.get(*o)).sum();
    rows.push(vec![s("total"), r.runs.total.to_string(), unsuccessful.to_string(), s("")]);
    let note = (unsuccessful > 0).then(|| {
        let parts: Vec<String> = r.runs.by_outcome.iter().map(|(o, n)| format!("{n} {o}")).collect();
        format!("{}; a failed session ended without doing its job (or handed off partial or failed work), an interrupted one was stopped", parts.join(", "))
    });
    out.push(Table {
        id: "runs",
        title: s("Agent runs"),
        head: vec![s("role"), s("runs"), s("failed"), s("sessions by kind")],
        rows,
        note,
        text_columns: vec![3],
    });

    let t = &r.tokens.by_type;
    let mut rows: Vec<Vec<String>> =
        [("input", t.input), ("cache read", t.cache_read), ("cache write", t.cache_write), ("output", t.output)]
            .iter()
            .map(|(k, n)| vec![s(k), count(*n), percent(*n as f64, r.tokens.total as f64)])
            .collect();
    rows.push(vec![s("total"), count(r.tokens.total), s("")]);
    out.push(Table {
        id: "tokens-type",
        title: s("Tokens by type"),
        head: vec![s("type"), s("tokens"), s("share")],
        rows,
        note: None,
        text_columns: vec![],
    });

    let rows = ROLES
        .iter()
        .map(|role| {
            let t = r.tokens.by_role.get(*role).copied().unwrap_or_default();
            vec![s(role), count(t.input), count(t.cache_read), count(t.cache_write), count(t.output), count(t.total())]
        })
        .collect();
    out.push(Table {
        id: "tokens-role",
        title: s("Tokens by role"),
        head: vec![s("role"), s("input"), s("cache read"), s("cache write"), s("output"), s("total")],
        rows,
        note: None,
        text_columns: vec![],
    });

    match &r.cost {
        Some(c) => {
            let mut rows: Vec<Vec<String>> = ROLES
                .iter()
                .map(|role| {
                    let x = usd(c.by_role.get(*role).copied().unwrap_or(0.0));
                    vec![s(role), if c.partial_roles.iter().any(|p| p == role) { format!("{x} + unpriced") } else { x }]
                })
                .collect();
            rows.push(vec![s("total"), usd(c.total)]);
            for (m, x) in &c.by_model {
                rows.push(vec![format!("model {m}"), usd(*x)]);
            }
            let note = (!c.unpriced_models.is_empty())
                .then(|| format!("no [prices] for {}: their tokens are not counted", c.unpriced_models.join(", ")));
            out.push(Table {
                id: "cost",
                title: s("Cost"),
                head: vec![s("role"), s("USD")],
                rows,
                note,
                text_columns: vec![],
            });
        }
        None => out.push(Table {
            id: "cost",
            title: s("Cost"),
            head: vec![],
            rows: vec![],
            note: Some(s("no [prices.\"model\"] in missions.toml")),
            text_columns: vec![],
        }),
    }

    let c = &r.code;
    match &c.unavailable {
        None => {
            let rows = vec![
                vec![
                    s("source"),
                    count(c.source_lines),
                    percent(c.source_lines as f64, c.added as f64),
                    (c.files - c.test_files).to_string(),
                ],
                vec![
                    s("tests"),
                    count(c.test_lines),
                    percent(c.test_lines as f64, c.added as f64),
                    c.test_files.to_string(),
                ],
                vec![s("total added"), count(c.added), s(""), c.files.to_string()],
                vec![s("deleted"), count(c.deleted), s(""), s("")],
            ];
            let short =
                |x: &Option<String>| x.as_deref().map(|h| h.chars().take(10).collect::<String>()).unwrap_or_default();
            out.push(Table { id: "code", title: s("Code"), head: vec![s("lines"), s("count"), s("share"), s("files")], rows, note: Some(format!("git diff {}..{}; tests are the files the handoffs declare (tests.added, tests.updated) and paths with tests/, test_, _test., .test., .spec. or /spec/", short(&c.base), c.head.clone().unwrap_or_default())), text_columns: vec![] });
        }
        Some(why) => out.push(Table {
            id: "code",
            title: s("Code"),
            head: vec![],
            rows: vec![],
            note: Some(format!("no diff: {why}")),
            text_columns: vec![],
        }),
    }

    let f = &r.features;
    let mut rows = vec![
        vec![s("implementation"), f.implementation.to_string()],
        vec![s("fix"), f.fix.to_string()],
        vec![s("total"), f.total.to_string()],
        vec![s("validators"), f.validators.to_string()],
    ];
    for (k, n) in &f.by_status {
        rows.push(vec![format!("status {k}"), n.to_string()]);
    }
    out.push(Table {
        id: "features",
        title: s("Features"),
        head: vec![s("kind"), s("count")],
        rows,
        note: Some(format!(
            "{} fix features / {} features ({})",
            f.fix,
            f.total,
            percent(f.fix as f64, f.total as f64)
        )),
        text_columns: vec![],
    });

    let mut rows: Vec<Vec<String>> = r.issues.by_severity.iter().map(|(k, n)| vec![k.clone(), n.to_string()]).collect();
    rows.push(vec![s("total"), r.issues.total.to_string()]);
    out.push(Table {
        id: "issues",
        title: s("Issues by severity"),
        head: vec![s("severity"), s("issues")],
        rows,
        note: None,
        text_columns: vec![],
    });

    let rows = ROLES
        .iter()
        .filter_map(|role| {
            r.turns.get(*role).map(|t| {
                vec![s(role), t.sessions.to_string(), t.median.to_string(), t.p90.to_string(), t.max.to_string()]
            })
        })
        .collect();
    out.push(Table {
        id: "turns",
        title: s("Turns per session"),
        head: vec![s("role"), s("sessions"), s("median"), s("p90"), s("max")],
        rows,
        note: None,
        text_columns: vec![],
    });

    let rows = r
        .validation
        .milestones
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.rounds.to_string(),
                m.passed_in_round.map_or_else(|| s("not yet"), |p| format!("round {p}")),
            ]
        })
        .collect();
    let stale = &r.validation.stale_assertions;
    let note = (!stale.is_empty()).then(|| {
        format!(
            "{} stale assertion(s), passed before later commits changed their features' files: {}",
            stale.len(),
            stale.join(", ")
        )
    });
    out.push(Table {
        id: "rounds",
        title: s("Validation rounds"),
        head: vec![s("milestone"), s("rounds"), s("passed")],
        rows,
        note,
        text_columns: vec![2],
    });

    let rows = r
        .validation
        .cumulative_passes
        .iter()
        .map(|p| vec![format!("round {}", p.round), format!("{}/{} milestones passed", p.passed, p.milestones)])
        .collect();
    out.push(Table {
        id: "passes",
        title: s("Milestone passes by round"),
        head: vec![s("round"), s("passed")],
        rows,
        note: None,
        text_columns: vec![1],
    });
    out
}
