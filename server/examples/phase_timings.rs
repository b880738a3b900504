//! Times each phase of checking a mission (parse contract, parse features, checks), for
//! profiling: `cargo run --release --example phase_timings -- <mission-folder> [runs]`.

use std::time::Instant;

use missions::analysis::{check, MissionInput};
use missions::model::{contract, features, folder};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: phase_timings <mission-folder> [runs]"));
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let texts = folder::read_mission(&dir);
    let (c_text, f_text) = (texts.contract.expect("contract"), texts.features.expect("features"));
    let mut pulldown_best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        let n = pulldown_cmark::Parser::new_ext(&c_text, pulldown_cmark::Options::empty()).into_offset_iter().count();
        std::hint::black_box(n);
        pulldown_best = pulldown_best.min(t.elapsed().as_secs_f64());
    }
    println!("pulldown-cmark alone (every event): {:.2} ms", pulldown_best * 1e3);
    let mut lines_best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(missions::analysis::position::Positions::new(&f_text));
        lines_best = lines_best.min(t.elapsed().as_secs_f64());
    }
    println!("line index of features.json: {:.2} ms", lines_best * 1e3);
    let mut best = [f64::MAX; 3];
    for _ in 0..runs {
        let t = Instant::now();
        let c = contract::parse(&c_text);
        let t1 = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let f = features::parse(&f_text);
        let t2 = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let d = check(&MissionInput { contract: Some(&c), features: Some(&f), skills: texts.skills.as_deref(), validation: texts.validation.as_ref() });
        let t3 = t.elapsed().as_secs_f64();
        std::hint::black_box(d);
        for (b, v) in best.iter_mut().zip([t1, t2, t3]) {
            *b = b.min(v);
        }
    }
    println!("best of {runs}: contract {:.2} ms, features {:.2} ms, checks {:.2} ms", best[0] * 1e3, best[1] * 1e3, best[2] * 1e3);
}
