//! services.yaml's services run for real: started in dependency order in their own process
//! groups, waited for until healthy, their output kept, stopped as whole groups; a service
//! that never comes up is an error with its log; a killed run's leftovers are stopped later.

use std::time::Duration;

use missions::agent::cancel::CancellationToken;
use missions::model::services;
use missions::runner::services::{group_members, log_path, start, stop_leftovers, ServiceLimits};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn limits(health_s: u64) -> ServiceLimits {
    ServiceLimits {
        healthcheck_timeout: Duration::from_secs(health_s),
        check_timeout: Duration::from_secs(5),
        poll: Duration::from_millis(100),
        stop_timeout: Duration::from_secs(5),
    }
}

fn dirs() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let mission = tmp.path().join("mission");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&mission).unwrap();
    std::fs::create_dir_all(&repo).unwrap();
    (tmp, mission, repo)
}

/// A web server that needs a "db" first: the db writes a file once it is up; the web server
/// refuses to start without it. The web service has a port only, the db a healthcheck.
fn web_and_db(port: u16) -> services::ServicesFile {
    services::parse(&format!(
        r#"
services:
  web:
    start: test -f db.ready && echo "web on {port}" && exec python3 -m http.server {port} --bind 127.0.0.1
    port: {port}
    depends_on: [db]
  db:
    start: echo "db booting"; sleep 0.3; touch db.ready; exec sleep 300
    healthcheck: test -f db.ready
"#
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_start_in_order_answer_and_stop_as_whole_groups() {
    let (_tmp, mission, repo) = dirs();
    let port = free_port();
    let file = web_and_db(port);
    let cancel = CancellationToken::new();
    let mut running = tokio::time::timeout(
        Duration::from_secs(60),
        start(&mission, &repo, &file, &["web"], &limits(30), &[], &cancel),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(running.names(), ["db", "web"]);
    let groups = running.groups();
    for &g in &groups {
        assert!(!group_members(g).is_empty(), "group {g} runs");
    }
    let page = std::process::Command::new("python3")
        .args([
            "-c",
            &format!("import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{port}/').status)"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&page.stdout).trim(), "200");
    assert!(mission.join("service-logs/running.json").is_file());

    let notes = running.stop();
    assert!(notes.is_empty(), "{notes:?}");
    for &g in &groups {
        assert!(group_members(g).is_empty(), "group {g} is gone after stop");
    }
    assert!(!mission.join("service-logs/running.json").exists());
    let web_log = std::fs::read_to_string(log_path(&mission, "web")).unwrap();
    assert!(web_log.contains(&format!("web on {port}")), "{web_log}");
    assert!(web_log.contains("\"GET / HTTP/1.1\" 200"), "the server's own output is kept: {web_log}");
    assert!(std::fs::read_to_string(log_path(&mission, "db")).unwrap().contains("db booting"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_whose_healthcheck_never_passes_is_an_error_with_its_log() {
    let (_tmp, mission, repo) = dirs();
    let file = services::parse("services:\n  api:\n    start: \"echo 'listening soon'; echo 'config missing: DATABASE_URL' >&2; exec sleep 301\"\n    healthcheck: echo 'connection refused' >&2; exit 7\n").unwrap();
    let began = std::time::Instant::now();
    let failure = start(&mission, &repo, &file, &[], &limits(2), &[], &CancellationToken::new())
        .await
        .err()
        .expect("the service never comes up");
    assert!(began.elapsed() < Duration::from_secs(20));
    assert_eq!(failure.service, "api");
    assert_eq!(failure.reason, "its healthcheck `echo 'connection refused' >&2; exit 7` did not pass within 2 s (last: exit 7: connection refused)");
    assert!(
        failure.log_tail.contains("listening soon") && failure.log_tail.contains("config missing: DATABASE_URL"),
        "{}",
        failure.log_tail
    );
    let shown = failure.to_string();
    assert!(
        shown.starts_with("service `api` did not come up: its healthcheck") && shown.contains("config missing"),
        "{shown}"
    );
    assert!(!mission.join("service-logs/running.json").exists(), "nothing is left running");
    assert!(no_service_process_runs(b"sleep\x00301"), "the service's group was stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_exits_is_an_error_at_once_and_a_dependency_error_starts_nothing() {
    let (_tmp, mission, repo) = dirs();
    let port = free_port();
    let file = services::parse(&format!(
        "services:\n  web:\n    start: \"echo 'error: address in use' >&2; exit 3\"\n    port: {port}\n"
    ))
    .unwrap();
    let began = std::time::Instant::now();
    let failure = start(&mission, &repo, &file, &[], &limits(30), &[], &CancellationToken::new()).await.err().unwrap();
    assert!(began.elapsed() < Duration::from_secs(10), "an exited service is not waited for");
    assert!(failure.reason.contains("exited (exit 3) before it was up"), "{}", failure.reason);
    assert!(failure.log_tail.contains("error: address in use"));

    let broken = services::parse("services:\n  site:\n    start: exec sleep 300\n    depends_on: [db]\n").unwrap();
    let failure = start(&mission, &repo, &broken, &[], &limits(5), &[], &CancellationToken::new()).await.err().unwrap();
    assert_eq!(failure.reason, "service `site` depends on `db`, which services.yaml does not define");
    assert_eq!(
        failure.to_string(),
        "cannot start the services: service `site` depends on `db`, which services.yaml does not define"
    );
    assert!(!log_path(&mission, "site").exists(), "nothing was started");
}

/// A run killed while its services run leaves their groups; the next start (or a resume)
/// stops exactly those, and never a group that does not carry their token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_runs_leftovers_are_stopped_and_nothing_else() {
    let (_tmp, mission, repo) = dirs();
    let port = free_port();
    let file = web_and_db(port);
    let running = start(&mission, &repo, &file, &[], &limits(30), &[], &CancellationToken::new()).await.unwrap();
    let groups = running.groups();
    // As if the runner died: nothing stops them.
    std::mem::forget(running);
    for &g in &groups {
        assert!(!group_members(g).is_empty());
    }
    // A stranger's group under a recorded pgid (as after pid reuse) must survive.
    let mut stranger = std::process::Command::new("sleep").arg("300").process_group(0).spawn().unwrap();
    let text = std::fs::read_to_string(mission.join("service-logs/running.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["services"].as_array_mut().unwrap().push(serde_json::json!({"name": "ghost", "pgid": stranger.id(), "token": "not-its-token", "command": "sleep 300", "startedAt": "2026-01-01T00:00:00.000Z"}));
    std::fs::write(mission.join("service-logs/running.json"), json.to_string()).unwrap();

    let mut killed = stop_leftovers(&mission);
    killed.sort();
    assert_eq!(killed, ["db", "web"]);
    std::thread::sleep(Duration::from_millis(200));
    for &g in &groups {
        assert!(group_members(g).is_empty(), "leftover group {g} was killed");
    }
    assert!(stranger.try_wait().unwrap().is_none(), "a group without the token is left alone");
    stranger.kill().unwrap();
    stranger.wait().unwrap();
    assert!(!mission.join("service-logs/running.json").exists());
    assert!(stop_leftovers(&mission).is_empty());
}

use std::os::unix::process::CommandExt;

/// The scrutiny review's `test`, `typecheck` and `lint` run for real, in order, each with its
/// exit code; a command that runs too long is killed and fails; a missing one is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projects_own_commands_run_with_their_exit_codes() {
    use missions::agent::tools::{CommandSettings, Roots, WritePolicy};
    use missions::runner::commands::run_review_commands;
    let (_tmp, mission, repo) = dirs();
    std::fs::write(repo.join("check.sh"), "echo \"checked $1\"\n[ \"$1\" = ok ]\n").unwrap();
    let file = services::parse(
        "commands:\n  install: exit 9\n  lint: sleep 30\n  typecheck: bash check.sh bad\n  test: bash check.sh ok\n",
    )
    .unwrap();
    let settings = CommandSettings {
        default_timeout: Duration::from_secs(5),
        removed_env: vec![],
        added_env: vec![],
        sandbox: None,
        write_policy: WritePolicy::EvidenceOnly,
    };
    let roots = Roots::new(&repo, &mission).unwrap();
    let began = std::time::Instant::now();
    let results = run_review_commands(
        &roots,
        &settings,
        &file,
        Duration::from_secs(1),
        &mission.join("tool-output/review"),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(began.elapsed() < Duration::from_secs(15));
    let got: Vec<(&str, &str, i32, bool, bool)> =
        results.iter().map(|r| (r.name.as_str(), r.command.as_str(), r.exit_code, r.passed, r.timed_out)).collect();
    assert_eq!(
        got,
        [
            ("test", "bash check.sh ok", 0, true, false),
            ("typecheck", "bash check.sh bad", 1, false, false),
            ("lint", "sleep 30", 124, false, true)
        ]
    );
    assert_eq!(results[0].output.trim(), "checked ok");
    let none = run_review_commands(
        &roots,
        &settings,
        &services::parse("services: {}\n").unwrap(),
        Duration::from_secs(1),
        &mission,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(none.is_empty());
}

/// Whether no living process started by a service (it carries the token variable) has this
/// command line.
fn no_service_process_runs(cmdline: &[u8]) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().all(|e| {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { return true };
        let (Ok(env), Ok(cmd)) =
            (std::fs::read(format!("/proc/{pid}/environ")), std::fs::read(format!("/proc/{pid}/cmdline")))
        else {
            return true;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z'));
        zombie || !cmd.starts_with(cmdline) || !env.windows(22).any(|w| w == b"MISSIONS_SERVICE_TOKEN")
    })
}
