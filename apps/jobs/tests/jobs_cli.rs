//! The real binary: its banner, jobs over HTTP, a graceful stop on SIGTERM
//! that lets the running job finish and exits 0, and the journal: a
//! restart after SIGTERM or SIGKILL on the same data directory finds every
//! job that got a 201, and runs none again that had completed.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use self::support::{Client, PATIENCE, Response};

/// A data directory of the test's own, removed when dropped.
struct DataDir(PathBuf);

impl DataDir {
    fn new(name: &str) -> DataDir {
        let dir =
            std::env::temp_dir().join(format!("pollen-jobs-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        DataDir(dir)
    }

    fn journal(&self) -> PathBuf {
        self.0.join(pollen_jobs::JOURNAL_FILE)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pollen-jobs"))
            .args(["serve", "--addr", "127.0.0.1:0", "--workers", "2"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut banner = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut banner)
            .unwrap();
        let addr = banner
            .strip_prefix("pollen-jobs listening on http://")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("a banner, got {banner:?}"))
            .parse()
            .unwrap();
        Server { child, addr }
    }

    /// One request on a connection of its own.
    fn request(&self, method: &str, path: &str, body: &str) -> Response {
        let body = (!body.is_empty()).then_some(body);
        Client::connect(self.addr).request(method, path, body)
    }

    fn submit(&self, job: &str) -> String {
        let response = self.request("POST", "/jobs", job);
        assert_eq!(response.status, 201, "{}", response.text());
        response.json()["id"].as_str().unwrap().to_owned()
    }

    fn job(&self, id: &str) -> Value {
        let response = self.request("GET", &format!("/jobs/{id}"), "");
        assert_eq!(response.status, 200, "job {id}: {}", response.text());
        response.json()
    }

    fn status(&self) -> Value {
        self.request("GET", "/status", "").json()
    }

    /// Polls until `done` holds for the status.
    fn wait_for_status(&self, what: &str, done: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = self.status();
            if done(&status) {
                return;
            }
            assert!(Instant::now() < deadline, "never {what}: {status}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits for the process to exit; its status and stderr.
    fn wait(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "still running");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (status, stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_binary_serves_and_stops_gracefully_on_sigterm() {
    let dir = DataDir::new("sigterm");
    let server = Server::start(&dir.0, &["--log-events", "--dashboard"]);
    let id = server.submit(r#"{"type":"sleep","payload":{"ms":700}}"#);
    assert_eq!(id, "1");
    server.wait_for_status("running", |s| s["running"] == 1 || s["completed"] == 1);

    server.signal("-TERM");
    let addr = server.addr;
    let (status, stderr) = server.wait();
    assert!(status.success(), "exit 0 after SIGTERM, got {status}");
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
    // The dashboard's first frame, drawn at start.
    assert!(stderr.contains("Workers:      2/2 alive\n"), "{stderr}");
    assert!(stderr.contains("Last failure: none\n"), "{stderr}");
    assert!(TcpStream::connect(addr).is_err(), "no longer accepting");

    // After a restart the job is still there, completed, not run again,
    // and new ids follow on.
    let server = Server::start(&dir.0, &[]);
    let job = server.job("1");
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["result"]["slept_ms"], 700);
    assert_eq!(server.submit(r#"{"type":"sleep","payload":{"ms":1}}"#), "2");
}

#[test]
fn after_sigkill_a_restart_finds_every_accepted_job_and_reruns_none_that_completed() {
    let dir = DataDir::new("sigkill");
    let server = Server::start(&dir.0, &["--retry-base", "1h"]);
    let mut quick = Vec::new();
    for _ in 0..10 {
        quick.push(server.submit(r#"{"type":"sleep","payload":{"ms":1}}"#));
    }
    let dead = server.submit(r#"{"type":"fail","payload":{"times":1},"max_retries":0}"#);
    let retrying = server.submit(r#"{"type":"fail","payload":{"times":1},"max_retries":2}"#);
    server.wait_for_status("done with the quick ones", |s| {
        s["completed"] == 10 && s["dead"] == 1 && s["failed"] == 1
    });
    // Two long jobs take both workers; three more wait.
    let mut long = Vec::new();
    for _ in 0..5 {
        long.push(server.submit(r#"{"type":"sleep","payload":{"ms":600000}}"#));
    }
    server.wait_for_status("running the long ones", |s| s["running"] == 2);
    server.signal("-KILL");
    let (status, _) = server.wait();
    assert!(!status.success());

    // A write torn by the crash, as it would look on disk.
    let mut journal = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.journal())
        .unwrap();
    journal.write_all(br#"{"op":"submit","id":99,"ty"#).unwrap();
    drop(journal);

    let server = Server::start(&dir.0, &["--retry-base", "1h"]);
    for id in &quick {
        let job = server.job(id);
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["attempts"], 1, "ran again: {job}");
    }
    let job = server.job(&dead);
    assert_eq!(
        (&job["status"], &job["attempts"]),
        (&"dead".into(), &1.into())
    );
    // The failed one waits out the rest of its backoff (an hour from its
    // failure), by the wall clock, as if there had been no restart.
    server.wait_for_status("both workers busy again", |s| {
        s["completed"] == 10 && s["failed"] == 1 && s["running"] == 2
    });
    let job = server.job(&retrying);
    assert_eq!(
        (&job["status"], &job["attempts"]),
        (&"failed".into(), &1.into())
    );
    let retry_in_ms = job["retry_in_ms"].as_u64().expect("a retry time");
    assert!((3_000_000..=3_600_000).contains(&retry_in_ms), "{job}");
    // The long ones are all there; the two that were running count their
    // attempt and run again.
    let mut attempts = 0;
    for id in &long {
        let job = server.job(id);
        assert!(
            job["status"] == "running" || job["status"] == "pending",
            "{job}"
        );
        attempts += job["attempts"].as_u64().unwrap();
    }
    // Two attempts made before the crash, two started since.
    assert_eq!(attempts, 4);
    // The torn entry was skipped, and ids follow on from the last job.
    let missing = server.request("GET", "/jobs/99", "");
    assert_eq!(missing.status, 404);
    assert!(missing.error().contains("no job has id"), "{missing:?}");
    assert_eq!(
        server.submit(r#"{"type":"sleep","payload":{"ms":1}}"#),
        (quick.len() + 2 + long.len() + 1).to_string()
    );
    server.signal("-KILL");
    let (_, stderr) = server.wait();
    assert!(
        stderr.contains("journal: skipped the last line (a write cut short by a crash)"),
        "{stderr}"
    );
}

#[test]
fn an_unusable_data_dir_is_an_error_at_start() {
    let dir = DataDir::new("not-a-dir");
    std::fs::write(&dir.0, b"a file, not a directory").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pollen-jobs"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&dir.0)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&dir.0);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("pollen-jobs: cannot start: the data dir"),
        "{stderr}"
    );
}
