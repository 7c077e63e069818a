//! The real `pollen-load` binary: its reports, its exit statuses, its
//! one-line errors, and Ctrl-C.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{Reply, TcpServer, behavior};

/// The most any run here may take; far above what each needs.
const PATIENCE: Duration = Duration::from_secs(60);

fn pollen_load(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pollen-load"));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for `child` (killing it after `PATIENCE`), with its output.
fn finish(mut child: Child) -> Output {
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pollen-load did not finish in {PATIENCE:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn run(args: &[&str]) -> Output {
    finish(pollen_load(args).spawn().unwrap())
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Exits with `status` and says why in one line on stderr, without a
/// panic; returns the line.
fn assert_one_line_error(output: &Output, status: i32) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(status), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("pollen-load: "), "stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert!(output.stdout.is_empty());
    err
}

#[test]
fn an_unparsable_url_is_a_one_line_usage_error() {
    for url in [
        "not a url",
        "127.0.0.1:8080/status",
        "http://",
        "http://host:99999/",
        "http://::1/",
    ] {
        assert_one_line_error(&run(&["http", "--url", url]), 2);
    }
}

#[test]
fn https_is_refused_as_not_supported() {
    let output = run(&["http", "-u", "https://127.0.0.1/"]);
    let err = assert_one_line_error(&output, 2);
    assert!(err.contains("https is not supported"), "{err}");
}

#[test]
fn a_refused_connection_is_a_one_line_setup_error() {
    let closed: SocketAddr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = format!("http://{closed}/");
    let err = assert_one_line_error(&run(&["http", "-u", &url, "-n", "5"]), 1);
    assert!(err.contains("connection refused"), "{err}");
    let addr = closed.to_string();
    let err = assert_one_line_error(&run(&["echo", "--addr", &addr]), 1);
    assert!(err.contains("connection refused"), "{err}");
}

#[test]
fn the_report_counts_every_request_and_status() {
    let server = TcpServer::start(behavior(|id| {
        Reply::status(if id % 5 == 0 { 503 } else { 200 })
    }));
    let output = run(&["http", "-u", &server.url("/status"), "-n", "200", "-c", "5"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    for line in [
        format!("Target: {}", server.url("/status")),
        "Requests: 200, Concurrency: 5".to_owned(),
        "  Total: 200 requests".to_owned(),
        "  Succeeded: 160".to_owned(),
        "  Failed: 40".to_owned(),
        "  200: 160".to_owned(),
        "  503: 40".to_owned(),
    ] {
        assert!(out.lines().any(|l| l == line), "no {line:?} in\n{out}");
    }
    for prefix in [
        "  Duration: ",
        "  Throughput: ",
        "  p50: ",
        "  p90: ",
        "  p99: ",
        "  max: ",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(prefix)),
            "no {prefix:?} in\n{out}"
        );
    }
    // Not a terminal: no progress line.
    assert!(!stderr(&output).contains("req/s"), "{}", stderr(&output));
    assert_eq!(server.seen.ids().len(), 200);
}

#[test]
fn json_has_the_same_figures() {
    let server = TcpServer::start(behavior(|id| {
        Reply::status(if id % 2 == 0 { 404 } else { 200 })
    }));
    let output = run(&[
        "http",
        "-u",
        &server.url("/"),
        "-n",
        "100",
        "-c",
        "4",
        "-m",
        "POST",
        "-d",
        r#"{"a":1}"#,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["mode"], "http");
    assert_eq!(json["total"], 100);
    assert_eq!(json["succeeded"], 50);
    assert_eq!(json["failed"], 50);
    assert_eq!(json["status_codes"]["200"], 50);
    assert_eq!(json["status_codes"]["404"], 50);
    assert_eq!(json["concurrency"], 4);
    assert_eq!(json["interrupted"], false);
    let p50 = json["latency_ms"]["p50"].as_f64().unwrap();
    let max = json["latency_ms"]["max"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= max, "{json}");
}

#[test]
fn duration_stops_the_binary() {
    let server = TcpServer::start(behavior(|_| Reply::ok().after(Duration::from_millis(5))));
    let started = Instant::now();
    let output = run(&[
        "http",
        "-u",
        &server.url("/"),
        "--duration",
        "1s",
        "-c",
        "2",
        "--json",
    ]);
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(json["requests"].is_null());
    assert_eq!(json["duration_limit_s"], 1.0);
    assert!(json["duration_s"].as_f64().unwrap() >= 1.0, "{json}");
    assert!(json["total"].as_u64().unwrap() > 0);
    assert_eq!(json["failed"], 0);
    // Generous: a loaded machine may be slow to start and stop.
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn ctrl_c_prints_a_partial_report_and_exits_130() {
    let server = TcpServer::start(behavior(|_| Reply::ok().after(Duration::from_millis(20))));
    let child = pollen_load(&[
        "http",
        "-u",
        &server.url("/"),
        "--duration",
        "10m",
        "-c",
        "2",
    ])
    .spawn()
    .unwrap();
    // Requests arriving means the signal handlers are in place (they are
    // installed before the load starts).
    let deadline = Instant::now() + PATIENCE;
    while server.seen.ids().len() < 4 {
        assert!(Instant::now() < deadline, "no requests arrived");
        thread::sleep(Duration::from_millis(10));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let output = finish(child);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(130), "{out}{}", stderr(&output));
    assert!(out.contains("Interrupted: partial results"), "{out}");
    assert!(
        out.contains("Requests: for 600.00s, Concurrency: 2"),
        "{out}"
    );
    // Requests in flight finished: none failed.
    assert!(out.lines().any(|l| l == "  Failed: 0"), "{out}");
    assert!(stderr(&output).contains("stopping"));
}

#[test]
fn echo_mode_against_pollen_echo() {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let stop = pollen::sync::CancellationToken::new();
    let server = thread::spawn({
        let stop = stop.clone();
        move || {
            let runtime = pollen::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = pollen::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let config = pollen_echo::Config {
                    verbose: false,
                    ..pollen_echo::Config::default()
                };
                pollen_echo::serve(listener, config, stop.cancelled()).await
            })
        }
    });
    let addr = addr_rx.recv_timeout(PATIENCE).unwrap().to_string();
    let output = run(&[
        "echo", "--addr", &addr, "-c", "3", "--size", "32", "-n", "300", "--json",
    ]);
    stop.cancel();
    let summary = server.join().unwrap().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["mode"], "echo");
    assert_eq!(json["total"], 300);
    assert_eq!(json["succeeded"], 300);
    assert_eq!(json["bytes_received"], 300 * 32);
    let duration = json["duration_s"].as_f64().unwrap();
    let rate = json["bytes_per_sec"].as_f64().unwrap();
    assert!((rate * duration - 2.0 * 300.0 * 32.0).abs() < 1.0, "{json}");
    assert_eq!(json["errors"], serde_json::json!({}));
    assert_eq!(summary.accepted, 3);
    assert_eq!(summary.errors, 0);
}

#[test]
fn ctrl_c_during_setup_exits_130_at_once() {
    // Accepts the connection and never echoes: the setup's round trip
    // waits for the 60 s timeout unless Ctrl-C ends it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let child = pollen_load(&["echo", "--addr", &addr, "-c", "3", "--timeout", "60s"])
        .spawn()
        .unwrap();
    // A connection means the signal handlers are in place (they are
    // installed before setup starts).
    let (_connection, _) = listener.accept().unwrap();
    let started = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let output = finish(child);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(130), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(output.stdout.is_empty());
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("pollen-load: ") && last.ends_with(": interrupted"),
        "{err}"
    );
}
