//! The `browser` tool driving Debian's real headless Chromium against a small web app on
//! 127.0.0.1: open, snapshot refs, fill, select, click and press, waits, screenshots that
//! decode, and the runner's own record of every request and console error, checked against
//! a contract's `Evidence:` items. Each test is bounded; Chromium must be installed
//! (scripts/test installs Debian's `chromium`).

use std::path::PathBuf;
use std::time::Duration;

use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use missions::agent::tools::browser::BrowserTool;
use missions::agent::tools::check_args;
use missions::agent::tools::terminal::EvidenceDir;
use missions::agent::CancellationToken;
use missions::analysis::evidence::{check, failure_reason, Outcome, SeenFile, SessionView};
use missions::model::evidence::{inspect, read_log, ConsoleMessage, RecordedRequest, CONSOLE_LOG, NETWORK_LOG};
use serde_json::{json, Value};

const LOGIN: &str = r#"<!doctype html><html><head><title>Sign in</title></head><body>
<h1>Sign in</h1>
<form method="post" action="/login">
  <label>Email <input name="email" type="email"></label>
  <label>Password <input name="password" type="password"></label>
  <label>Stay signed in <select name="remember"><option value="0">No</option><option value="30">30 days</option></select></label>
  <button type="submit">Log in</button>
</form>
<script>console.log("login page ready")</script>
</body></html>"#;

const HOME: &str = r#"<!doctype html><html><head><title>Home</title></head><body>
<h1 id="welcome">Welcome, EMAIL (REMEMBER days)</h1>
<div style="height: 2600px; background: linear-gradient(#fff, #39f)">a long page</div>
<script>fetch("/api/data").then(r => { if (!r.ok) console.error("data failed: " + r.status) })</script>
</body></html>"#;

#[derive(serde::Deserialize)]
struct Login {
    email: String,
    password: String,
    remember: String,
}

async fn login(Form(f): Form<Login>) -> Response {
    match f.password.as_str() {
        // 302, as most login forms answer (axum's Redirect::to says 303).
        "secret" => (
            StatusCode::FOUND,
            [(
                axum::http::header::LOCATION,
                format!("/home?email={}&remember={}", f.email.replace('@', "%40"), f.remember),
            )],
        )
            .into_response(),
        "crash" => (StatusCode::INTERNAL_SERVER_ERROR, "database unavailable").into_response(),
        _ => Html("<title>Sign in</title><p>Wrong password</p>").into_response(),
    }
}

async fn home(
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Html<String> {
    Html(
        HOME.replace("EMAIL", q.get("email").map_or("", |s| s.as_str()))
            .replace("REMEMBER", q.get("remember").map_or("", |s| s.as_str())),
    )
}

async fn serve() -> String {
    let app = Router::new()
        .route("/", get(|| async { Html(LOGIN) }))
        .route("/login", post(login))
        .route("/home", get(home))
        .route("/api/data", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no data") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

struct Setup {
    _dir: tempfile::TempDir,
    mission: PathBuf,
    evidence: EvidenceDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mission = dir.path().join("mission");
    let evidence = EvidenceDir { root: mission.join("evidence"), dir: mission.join("evidence/auth/login") };
    Setup { _dir: dir, mission, evidence }
}

async fn call(tool: &mut BrowserTool, args: Value) -> Result<String, String> {
    check_args("browser", &args)?;
    let out = tokio::time::timeout(Duration::from_secs(60), tool.run(&args, &CancellationToken::new()))
        .await
        .expect("a browser call is bounded");
    if out.is_error {
        Err(out.content)
    } else {
        Ok(out.content)
    }
}

/// The ref the snapshot gave the element described (`textbox "Email"`).
fn ref_of(snapshot: &str, described: &str) -> String {
    let line =
        snapshot.lines().find(|l| l.contains(described)).unwrap_or_else(|| panic!("{described} not in {snapshot}"));
    let at = line.find("[ref=").unwrap() + 5;
    line[at..].split(']').next().unwrap().to_string()
}

fn chromium_processes_of(profile_hint: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let cmd = std::fs::read(format!("/proc/{}/cmdline", e.file_name().to_string_lossy())).unwrap_or_default();
            String::from_utf8_lossy(&cmd).contains(profile_hint)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_logs_in_and_the_record_proves_it() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let base = serve().await;
        let s = setup();
        let mut tool = BrowserTool::new(s.evidence.clone(), s.mission.join("tool-output/ses/chromium.log"));

        let opened = call(&mut tool, json!({"action": "open", "url": format!("{base}/")})).await.unwrap();
        assert_eq!(opened, format!("opened {base}/ (HTTP 200): \"Sign in\""));
        let page = call(&mut tool, json!({"action": "snapshot"})).await.unwrap();
        assert!(page.starts_with(&format!("{base}/ \"Sign in\"\n- document \"Sign in\"")), "{page}");
        assert!(page.contains("- heading \"Sign in\" [ref=") && page.contains("[level=1]"), "{page}");
        let (email, password, remember, button) = (
            ref_of(&page, "textbox \"Email\""),
            ref_of(&page, "textbox \"Password\""),
            ref_of(&page, "combobox \"Stay signed in\""),
            ref_of(&page, "button \"Log in\""),
        );

        let filled = call(&mut tool, json!({"action": "fill", "ref": email, "text": "ada@example.com"})).await.unwrap();
        assert_eq!(filled, format!("filled {email} (textbox \"Email\"): it now holds \"ada@example.com\""));
        call(&mut tool, json!({"action": "fill", "ref": format!("@{password}"), "text": "secret"})).await.unwrap();
        call(&mut tool, json!({"action": "select", "ref": remember, "value": "30 days"})).await.unwrap();
        let again = call(&mut tool, json!({"action": "snapshot"})).await.unwrap();
        assert_eq!(ref_of(&again, "button \"Log in\""), button, "refs are stable across snapshots");
        assert!(again.contains(&format!("textbox \"Email\" [ref={email}]: \"ada@example.com\"")), "{again}");

        let clicked = call(&mut tool, json!({"action": "click", "ref": button})).await.unwrap();
        assert!(
            clicked.starts_with(&format!("clicked {button} (button \"Log in\"); the page is now {base}/home?")),
            "{clicked}"
        );
        call(&mut tool, json!({"action": "wait", "text": "Welcome, ada@example.com (30 days)"})).await.unwrap();
        let made = call(&mut tool, json!({"action": "wait", "request": "POST /login -> 302|200"})).await.unwrap();
        assert_eq!(made, format!("the page made POST {base}/login -> 302"));
        call(&mut tool, json!({"action": "wait", "request": "GET /api/data"})).await.unwrap();
        let stale = call(&mut tool, json!({"action": "click", "ref": email})).await.unwrap_err();
        assert_eq!(
            stale,
            format!("{email} was on an earlier page (the page has navigated since); take a new snapshot")
        );

        let shot = call(&mut tool, json!({"action": "screenshot", "name": "home"})).await.unwrap();
        assert_eq!(shot, "saved a 1280×800 screenshot as evidence: auth/login/home.png");
        let full =
            call(&mut tool, json!({"action": "screenshot", "name": "home full", "full_page": true})).await.unwrap();
        assert!(full.ends_with("auth/login/home-full.png"), "{full}");
        let heading =
            call(&mut tool, json!({"action": "screenshot", "name": "welcome", "selector": "#welcome"})).await.unwrap();
        assert!(heading.ends_with("auth/login/welcome.png"), "{heading}");
        let dims = |name: &str| match inspect(&s.evidence.dir.join(name)) {
            missions::model::evidence::FileKind::Image { width, height } => (width, height),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(dims("home.png"), (1280, 800));
        let (w, h) = dims("home-full.png");
        assert!(w == 1280 && h > 2600, "the whole page: {w}×{h}");
        let (w, h) = dims("welcome.png");
        assert!(w <= 1280 && (20..100).contains(&h), "one element: {w}×{h}");

        let console = call(&mut tool, json!({"action": "console"})).await.unwrap();
        assert!(
            console.contains("[log] login page ready") && console.contains("[error] data failed: 500"),
            "{console}"
        );
        let network = call(&mut tool, json!({"action": "network", "text": "/login"})).await.unwrap();
        assert!(network.starts_with("1 request(s), recorded in auth/login/browser-network.jsonl"), "{network}");

        let pgid = tool.browser().unwrap().process_group();
        let profile = tool.browser().unwrap().profile();
        assert!(chromium_processes_of(&profile.to_string_lossy()) > 1, "the browser and its helpers run");
        let files = tool.browser().unwrap().recorded_files();
        tool.close().await;
        assert_eq!(chromium_processes_of(&profile.to_string_lossy()), 0, "no process of the browser is left");
        assert!(missions::runner::services::group_members(pgid).is_empty(), "its process group ended");
        assert!(!profile.exists(), "its profile folder was removed");

        // The runner's record on disk: every request with its status, every console error.
        let requests: Vec<RecordedRequest> = read_log(&s.evidence.dir.join(NETWORK_LOG)).unwrap();
        let seen: Vec<String> = requests
            .iter()
            .filter(|r| r.resource_type != "Other")
            .map(|r| format!("{} {} -> {:?}", r.method, r.url.replace(&base, ""), r.status))
            .collect();
        for want in [
            "GET / -> Some(200)",
            "POST /login -> Some(302)",
            "GET /home?email=ada%40example.com&remember=30 -> Some(200)",
            "GET /api/data -> Some(500)",
        ] {
            assert!(seen.iter().any(|s| s == want), "{want} in {seen:?}");
        }
        let console: Vec<ConsoleMessage> = read_log(&s.evidence.dir.join(CONSOLE_LOG)).unwrap();
        assert!(
            console.iter().any(|m| m.is_error() && m.text.contains("status of 500")),
            "the browser's own error for the failed load: {console:?}"
        );

        // Checked as the contract's Evidence: items would be.
        let mut seen_files: Vec<SeenFile> = files
            .iter()
            .map(|f| SeenFile {
                path: f.path.clone(),
                kind: inspect(&s.evidence.root.join(&f.path)),
                role: Some(f.what),
                label: f.label.clone(),
                cited: f.path.ends_with("home.png"),
            })
            .collect();
        seen_files.push(SeenFile {
            path: "auth/login/made-up.png".into(),
            kind: inspect(&s.evidence.dir.join("made-up.png")),
            role: None,
            label: String::new(),
            cited: true,
        });
        let view = SessionView {
            files: &seen_files,
            network: Some(&requests),
            console: Some(&console),
            terminals: &[],
            network_log: "auth/login/browser-network.jsonl",
            console_log: "auth/login/browser-console.jsonl",
        };
        let items: Vec<String> =
            ["screenshot(home)", "network(POST /login -> 302|200)", "console-errors"].map(String::from).to_vec();
        let checks = check(&items, &view);
        assert_eq!(failure_reason(&checks), None, "{checks:?}");
        let wrong = check(&["network(GET /api/data -> 200)".to_string()], &view);
        assert_eq!(wrong[0].outcome, Outcome::Contradicted("GET /api/data answered 500 (expected 200)".into()));
    })
    .await
    .expect("the test is bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_recorded_whatever_the_model_says() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let base = serve().await;
        let s = setup();
        let mut tool = BrowserTool::new(s.evidence.clone(), s.mission.join("tool-output/ses/chromium.log"));
        call(&mut tool, json!({"action": "open", "url": format!("{base}/")})).await.unwrap();
        call(&mut tool, json!({"action": "fill", "selector": "input[name=email]", "text": "ada@example.com"})).await.unwrap();
        call(&mut tool, json!({"action": "fill", "selector": "input[name=password]", "text": "crash"})).await.unwrap();
        let pressed = call(&mut tool, json!({"action": "press", "key": "Enter", "selector": "input[name=password]"})).await.unwrap();
        assert!(pressed.starts_with("pressed Enter in `input[name=password]`; the page is now"), "Enter submits the form: {pressed}");
        call(&mut tool, json!({"action": "wait", "text": "database unavailable"})).await.unwrap();
        let err = call(&mut tool, json!({"action": "wait", "request": "POST /login -> 302", "timeout_s": 1})).await.unwrap_err();
        assert!(err.starts_with("waited 1 s for a request POST /login -> 302: not seen. Latest requests: POST /login -> 500"), "{err}");
        let errors = [
            (json!({"action": "click", "selector": "#nothing"}), "no element matches `#nothing`"),
            (json!({"action": "click", "ref": "e42"}), "no element has ref `e42`; take a snapshot to see the refs"),
            (json!({"action": "click"}), "name the element with `ref` (from a snapshot) or `selector`"),
            (json!({"action": "wait", "request": "to the moon"}), "`request` must look like `POST /login` or `POST /login -> 302|200`, not `to the moon`"),
            (json!({"action": "screenshot"}), "`screenshot` needs `name`"),
        ];
        for (args, want) in errors {
            assert_eq!(call(&mut tool, args).await.unwrap_err(), want);
        }
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let unreachable = call(&mut tool, json!({"action": "open", "url": format!("http://127.0.0.1:{closed}/")})).await.unwrap_err();
        assert_eq!(unreachable, format!("could not open http://127.0.0.1:{closed}/: net::ERR_CONNECTION_REFUSED"));
        tool.close().await;

        let requests: Vec<RecordedRequest> = read_log(&s.evidence.dir.join(NETWORK_LOG)).unwrap();
        let view = SessionView { files: &[], network: Some(&requests), console: Some(&[]), terminals: &[], network_log: "n", console_log: "c" };
        let reason = failure_reason(&check(&["network(POST /login -> 302|200)".to_string()], &view)).unwrap();
        assert_eq!(reason, "the recorded evidence contradicts it: network(POST /login -> 302|200) (POST /login answered 500 (expected 302|200))");
    })
    .await
    .expect("the test is bounded");
}
