//! The real binary: its banner, a job over HTTP, and a graceful stop on
//! SIGTERM that lets the running job finish and exits 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(10);

/// One request on a connection of its own; the response's status line
/// and body (the server closes after `Connection: close`).
fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
    let status = head.lines().next().unwrap().to_owned();
    (status, body.to_owned())
}

#[test]
fn the_binary_serves_and_stops_gracefully_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pollen-jobs"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--queue-capacity",
            "10",
            "--data-dir",
            "unused-for-now",
            "--log-events",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let addr: SocketAddr = banner
        .strip_prefix("pollen-jobs listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("a banner, got {banner:?}"))
        .parse()
        .unwrap();

    let (status, body) = request(
        addr,
        "POST",
        "/jobs",
        r#"{"type":"sleep","payload":{"ms":700}}"#,
    );
    assert_eq!(status, "HTTP/1.1 201 Created", "{body}");
    assert_eq!(body, r#"{"id":"1"}"#);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, job) = request(addr, "GET", "/jobs/1", "");
        if job.contains(r#""status":"running""#) {
            break;
        }
        assert!(Instant::now() < deadline, "never running: {job}");
        std::thread::sleep(Duration::from_millis(10));
    }

    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit 0 after SIGTERM, got {status}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("--data-dir unused-for-now is accepted but not used yet"));
    assert!(stderr.contains("shutting down"), "{stderr}");
    // The job that was running when the signal came finished.
    assert!(stderr.contains("jobs: 1 completed"), "{stderr}");
    // The event log.
    assert!(
        stderr.contains("pollen-jobs: job 1 (sleep) enqueued"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pollen-jobs: job 1 started on worker"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pollen-jobs: job 1 completed in"),
        "{stderr}"
    );
    assert!(TcpStream::connect(addr).is_err(), "no longer accepting");
}
