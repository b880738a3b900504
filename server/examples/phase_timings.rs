//! Times each phase of checking a mission (parse contract, parse features, checks) and of the
//! work one features.json edit costs the language server, for profiling:
//! `cargo run --release --example phase_timings -- <mission-folder> [runs]`.

use std::sync::Arc;
use std::time::Instant;

use missions::analysis::mission::{MissionAnalysis, MissionParts};
use missions::analysis::{check, ContractIndex, FeaturesIndex, MissionInput};
use missions::model::{contract, features, folder, TextChange};

/// Best wall time of `runs` calls, in ms.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    best * 1e3
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: phase_timings <mission-folder> [runs]"));
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let texts = folder::read_mission(&dir);
    let (c_text, f_text) = (texts.contract.expect("contract"), texts.features.expect("features"));
    let pulldown = best_of(runs, || {
        pulldown_cmark::Parser::new_ext(&c_text, pulldown_cmark::Options::empty()).into_offset_iter().count()
    });
    println!("pulldown-cmark alone (every event): {pulldown:.2} ms");
    let lines = best_of(runs, || missions::analysis::position::Positions::new(&f_text));
    println!("line index of features.json: {lines:.2} ms");
    let mut best = [f64::MAX; 3];
    for _ in 0..runs {
        let t = Instant::now();
        let c = contract::parse(&c_text);
        let t1 = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let f = features::parse(&f_text);
        let t2 = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let d = check(&MissionInput {
            contract: Some(&c),
            features: Some(&f),
            skills: texts.skills.as_deref(),
            validation: Some(&texts.validation),
            ..Default::default()
        });
        let t3 = t.elapsed().as_secs_f64();
        std::hint::black_box(d);
        for (b, v) in best.iter_mut().zip([t1, t2, t3]) {
            *b = b.min(v);
        }
    }
    println!(
        "best of {runs}: contract {:.2} ms, features {:.2} ms, checks {:.2} ms",
        best[0] * 1e3,
        best[1] * 1e3,
        best[2] * 1e3
    );

    // One edit as lspbench.py makes it: a space at the end of the middle line of features.json.
    let middle = f_text.lines().count() / 2;
    let at = f_text.split_inclusive('\n').take(middle + 1).map(str::len).sum::<usize>() - 1;
    let edited = format!("{} {}", &f_text[..at], &f_text[at..]);
    let contract = Arc::new(contract::parse(&c_text));
    let old = Arc::new(features::parse(&f_text));
    let compared =
        best_of(runs, || features::reparse(&old, &f_text, &edited, None).expect("an edit inside one feature"));
    let change = Some(TextChange::replace(at..at, 1));
    let reparse =
        best_of(runs, || features::reparse(&old, &f_text, &edited, change).expect("an edit inside one feature"));
    let new = Arc::new(features::reparse(&old, &f_text, &edited, change).expect("an edit inside one feature"));
    let old_lines = missions::analysis::position::Positions::new(&f_text);
    let lines_updated = best_of(runs, || old_lines.edited(TextChange::replace(at..at, 1), &edited));
    let fresh_lines = best_of(runs, || missions::analysis::position::Positions::new(&edited));
    println!("line index after the edit: updated {lines_updated:.3} ms, built again {fresh_lines:.2} ms");
    let contract_table = best_of(runs, || ContractIndex::new(&contract));
    let table = ContractIndex::new(&contract);
    let features_table = best_of(runs, || FeaturesIndex::new(&new, Some(&table)));
    let parts = |f: &Arc<features::FeaturesFile>| MissionParts {
        contract: Some(contract.clone()),
        features: Some(f.clone()),
        skills: texts.skills.clone(),
        validation: Some(Arc::new(texts.validation.clone())),
        ..MissionParts::default()
    };
    let first = MissionAnalysis::new(parts(&old));
    let analysis = best_of(runs, || MissionAnalysis::reusing(parts(&new), Some(&first)));
    println!("after the edit: reparse {reparse:.2} ms with the edit's range ({compared:.2} ms comparing the texts); contract table {contract_table:.2} ms (once per contract parse), features table {features_table:.2} ms; analysis reusing the contract's table and diagnostics {analysis:.2} ms");
}
