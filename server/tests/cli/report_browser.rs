//! The HTML report in a real browser: the demo's mission (`missions demo --keep`, then
//! `missions report --html`, both the real binary) loaded in headless Chromium at 1,000 and
//! 1,400 px wide. The page must not scroll sideways (its scroll width is the viewport's), and
//! the charts' labels must render at a readable size. Screenshots are kept under the target
//! directory for a person to look at.
//!
//! Chromium is Debian's `chromium` (scripts/test installs it), or `MISSIONS_CHROMIUM`; the
//! test fails, it does not skip, when there is none.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("MISSIONS_CHROMIUM") {
        return PathBuf::from(path);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("sh").args(["-c", &format!("command -v {name}")]).output() {
            let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !found.is_empty() {
                return PathBuf::from(found);
            }
        }
    }
    panic!("no Chromium: install Debian's chromium (scripts/test does) or set MISSIONS_CHROMIUM");
}

fn missions(cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_missions")).args(args).current_dir(cwd).env_remove("RUST_LOG").output().unwrap()
}

/// Measures the page once it has loaded: the document's scroll width against the viewport,
/// the elements that stick out, and the smallest label in any chart as rendered (its font
/// size times the SVG's scale).
const MEASURE: &str = r#"<script>
addEventListener('load', () => {
  const doc = document.documentElement;
  const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > doc.clientWidth + 0.5).map(e => e.tagName + (e.className && e.className.baseVal !== undefined ? '.' + e.className.baseVal : e.className ? '.' + e.className : '')).slice(0, 10);
  let smallest = 1e9, charts = 0;
  for (const svg of document.querySelectorAll('svg')) {
    charts++;
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) smallest = Math.min(smallest, parseFloat(getComputedStyle(t).fontSize) * scale);
  }
  document.body.setAttribute('data-measure', JSON.stringify({scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth, innerWidth: innerWidth, wide, smallest, charts}));
});
</script>"#;

fn measure(chromium: &Path, page: &Path, width: u32) -> Value {
    let html = std::fs::read_to_string(page).unwrap();
    let probe = page.with_file_name(format!("measure-{width}.html"));
    std::fs::write(&probe, html.replace("</body>", &format!("{MEASURE}</body>"))).unwrap();
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--window-size={width},1000"))
        .arg("--dump-dom")
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("data-measure=\"").unwrap_or_else(|| {
        panic!("Chromium did not measure the page at {width} px: {}", String::from_utf8_lossy(&out.stderr))
    }) + "data-measure=\"".len();
    let end = start + dom[start..].find('"').unwrap();
    let json = dom[start..end].replace("&quot;", "\"").replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

fn screenshot(chromium: &Path, page: &Path, width: u32, to: &Path) {
    let status = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--window-size={width},3800"))
        .arg(format!("--screenshot={}", to.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(to.exists(), "no screenshot: {}", String::from_utf8_lossy(&status.stderr));
}

#[test]
fn the_demos_html_report_fits_1000_and_1400_px_windows_with_readable_charts() {
    let chromium = chromium();
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("demo");
    let out = missions(dir.path(), &["demo", "--keep", keep.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let repo = keep.join("calc");
    let page = dir.path().join("report.html");
    let out = missions(&repo, &["report", "--html", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for width in [1000, 1400] {
        let m = measure(&chromium, &page, width);
        assert_eq!(m["innerWidth"], width, "{m}");
        assert!(
            m["scrollWidth"].as_u64().unwrap() <= m["clientWidth"].as_u64().unwrap(),
            "the page scrolls sideways at {width} px: {m}"
        );
        assert!(m["wide"].as_array().unwrap().is_empty(), "elements stick out at {width} px: {m}");
        // Two timelines and a chart beside seven tables (no cost: the demo has no prices).
        assert!(m["charts"].as_u64().unwrap() >= 8, "{m}");
        assert!(m["smallest"].as_f64().unwrap() >= 11.0, "a chart label renders under 11 px at {width} px: {m}");
        screenshot(&chromium, &page, width, &shots.join(format!("report-{width}.png")));
    }
    eprintln!("screenshots in {}", shots.display());
}
