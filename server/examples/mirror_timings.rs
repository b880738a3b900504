//! Times mirroring a runner's write into an unsaved features.json buffer (`analysis::merge`):
//! `cargo run --release --example mirror_timings -- <mission-folder> [runs]`. The person has
//! edited the first feature's description; the runner set the last feature's status and
//! appended a fix feature.

use std::time::Instant;

use missions::analysis::merge::{mirror, Format};
use missions::model::folder;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: mirror_timings <mission-folder> [runs]"));
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let base = folder::read_text(&dir.join("features.json")).expect("features.json");
    let first = base.find("\"description\": \"").expect("a description") + "\"description\": \"".len();
    let mut ours = base.clone();
    ours.insert_str(first, "Edited: ");
    let last = base.rfind("\"status\": \"").expect("a status") + "\"status\": \"".len();
    let end = last + base[last..].find('"').expect("a closing quote");
    let mut theirs = format!("{}completed{}", &base[..last], &base[end..]);
    let close = theirs.rfind("\n  ]").expect("the features array closes");
    theirs.insert_str(close, ",\n    {\n      \"id\": \"fix-timing-1\",\n      \"description\": \"a fix\",\n      \"status\": \"pending\"\n    }");
    for (name, format) in [("json (field level)", Format::Json), ("text (line level)", Format::Text)] {
        let mut best = f64::MAX;
        let mut edits = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let m = mirror(&base, &ours, &theirs, format);
            best = best.min(t.elapsed().as_secs_f64());
            edits = m.edits.len();
            assert!(m.conflicts.is_empty(), "{:?}", m.conflicts);
        }
        println!("{name}: best of {runs} {:.2} ms, {edits} edit(s), {} bytes", best * 1e3, base.len());
    }
}
