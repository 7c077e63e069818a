//! The job-queue suite: `pollen-jobs` (its own process, 2 runtime threads)
//! takes `--jobs-count` `sleep 0` jobs submitted over HTTP by
//! `--jobs-connections` keep-alive connections, and runs them.
//!
//! The submissions come from `pollen-load`'s HTTP engine
//! ([`pollen_load::http`]) on a current-thread pollen runtime in the bench
//! process: `POST /jobs` with `{"type":"sleep","payload":{"ms":0}}`,
//! closed loop. The queue's capacity is set to the job count, so every
//! submission is accepted (a `503` would be counted and reported). Once
//! the submissions are done, the bench asks `GET /status` every
//! millisecond until every job has completed.
//!
//! Per round, a fresh server (in memory, no `--data-dir`, so the figures
//! are the queue's and not the disk's; and once with a journal when
//! `--jobs-journal` is given): jobs accepted per second (over the
//! submissions), jobs completed per second (from the first submission to
//! the last completion), the submissions' p50 and p99 latency, and the
//! server's CPU time. Medians over the rounds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pollen_load::http::HttpConfig;
use pollen_load::{Control, HttpUrl, TcpConnector};
use serde::Serialize;

use crate::bins;
use crate::process::ServerProcess;

/// Runtime threads of the server.
const SERVER_THREADS: usize = 2;
/// Job workers of the server (jobs running at once).
const SERVER_WORKERS: usize = 4;
/// How long the jobs may take to complete after the last submission.
const COMPLETE_TIMEOUT: Duration = Duration::from_secs(120);

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Jobs submitted per round.
    pub jobs: u64,
    /// Keep-alive connections submitting them.
    pub connections: usize,
    /// Timed rounds (a fresh server each).
    pub runs: u64,
    /// Also run with a journal (`--data-dir`), in a fresh temporary
    /// directory per round.
    pub journal: bool,
    /// Use the binary as it is.
    pub no_build: bool,
}

/// The suite's figures.
#[derive(Clone, Debug, Serialize)]
pub struct JobsReport {
    pub jobs: u64,
    pub connections: usize,
    pub server_threads: usize,
    pub server_workers: usize,
    pub runs: u64,
    /// Why the suite did not run, if it did not.
    pub skipped: Option<String>,
    pub rows: Vec<Row>,
}

/// One configuration of the server, medians over the rounds.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// `in memory` or `journal`.
    pub setting: &'static str,
    pub accepted_per_sec: f64,
    pub completed_per_sec: f64,
    pub submit_p50_ms: f64,
    pub submit_p99_ms: f64,
    pub server_cpu_ms: f64,
    /// Submissions not answered `201`, over every round (should be 0).
    pub not_accepted: u64,
}

/// One round's figures.
struct Round {
    accepted_per_sec: f64,
    completed_per_sec: f64,
    p50: Duration,
    p99: Duration,
    server_cpu: Duration,
    not_accepted: u64,
}

/// Runs the suite.
pub fn run(config: &Config) -> JobsReport {
    let mut report = JobsReport {
        jobs: config.jobs,
        connections: config.connections,
        server_threads: SERVER_THREADS,
        server_workers: SERVER_WORKERS,
        runs: config.runs,
        skipped: None,
        rows: Vec::new(),
    };
    if let Err(why) = build(config.no_build) {
        report.skipped = Some(why);
        return report;
    }
    let mut settings = vec!["in memory"];
    if config.journal {
        settings.push("journal");
    }
    for setting in settings {
        let mut rounds = Vec::new();
        for round in 0..config.runs {
            eprintln!(
                "jobs: round {}/{}, {} jobs over {} connections, {setting}",
                round + 1,
                config.runs,
                config.jobs,
                config.connections
            );
            match run_round(config, setting == "journal") {
                Ok(round) => rounds.push(round),
                Err(why) => {
                    report.skipped = Some(why);
                    return report;
                }
            }
        }
        report.rows.push(Row {
            setting,
            accepted_per_sec: median(rounds.iter().map(|r| r.accepted_per_sec)),
            completed_per_sec: median(rounds.iter().map(|r| r.completed_per_sec)),
            submit_p50_ms: median(rounds.iter().map(|r| r.p50.as_secs_f64() * 1e3)),
            submit_p99_ms: median(rounds.iter().map(|r| r.p99.as_secs_f64() * 1e3)),
            server_cpu_ms: median(rounds.iter().map(|r| r.server_cpu.as_secs_f64() * 1e3)),
            not_accepted: rounds.iter().map(|r| r.not_accepted).sum(),
        });
    }
    report
}

/// Prints the suite's table.
pub fn print(report: &JobsReport) {
    println!(
        "\npollen job-queue bench: {} `sleep 0` jobs submitted over HTTP by {} keep-alive \
         connections (pollen-load's HTTP engine); pollen-jobs in its own process with {} \
         runtime threads and {} job workers, a fresh process per round; {} runs, median",
        report.jobs, report.connections, report.server_threads, report.server_workers, report.runs
    );
    if let Some(why) = &report.skipped {
        println!("skipped: {why}");
        return;
    }
    println!(
        "{:<12} {:>14} {:>15} {:>14} {:>14} {:>15} {:>13}",
        "setting",
        "accepted/s",
        "completed/s",
        "submit p50 ms",
        "submit p99 ms",
        "server CPU ms",
        "not accepted"
    );
    for row in &report.rows {
        println!(
            "{:<12} {:>14.0} {:>15.0} {:>14.2} {:>14.2} {:>15.0} {:>13}",
            row.setting,
            row.accepted_per_sec,
            row.completed_per_sec,
            row.submit_p50_ms,
            row.submit_p99_ms,
            row.server_cpu_ms,
            row.not_accepted
        );
    }
    println!(
        "note: completed/s runs from the first submission to the last completion; the load \
         generator (one thread) shares the machine's cores with the server"
    );
}

/// Builds `pollen-jobs` unless told not to; says why the suite cannot run.
fn build(no_build: bool) -> Result<(), String> {
    if !no_build {
        match bins::cargo_build(&["-p", "pollen-jobs"]) {
            None | Some(Ok(_)) => {}
            Some(Err(e)) => eprintln!("jobs: could not run cargo ({e}); using the binary as it is"),
        }
    }
    let path = bins::path("pollen-jobs");
    if path.is_file() {
        Ok(())
    } else {
        Err(format!("pollen-jobs not built: no {}", path.display()))
    }
}

/// One round on a fresh server.
fn run_round(config: &Config, journal: bool) -> Result<Round, String> {
    let data_dir = journal
        .then(|| std::env::temp_dir().join(format!("pollen-bench-jobs-{}", std::process::id())));
    if let Some(dir) = &data_dir {
        // A fresh journal per round: nothing to replay.
        let _ = std::fs::remove_dir_all(dir);
    }
    let threads = SERVER_THREADS.to_string();
    let workers = SERVER_WORKERS.to_string();
    let capacity = config.jobs.max(1).to_string();
    let mut args = vec![
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--threads",
        &threads,
        "--workers",
        &workers,
        "--queue-capacity",
        &capacity,
    ];
    let dir_arg = data_dir.as_ref().map(|dir| dir.display().to_string());
    if let Some(dir) = &dir_arg {
        args.extend(["--data-dir", dir]);
    }
    let server = ServerProcess::start("pollen-jobs", "pollen-jobs", &args, None)?;
    let result = drive(config, &server);
    drop(server);
    if let Some(dir) = &data_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

/// Submits the jobs, then waits for them to complete.
fn drive(config: &Config, server: &ServerProcess) -> Result<Round, String> {
    let url: HttpUrl = format!("http://{}/jobs", server.addr)
        .parse()
        .map_err(|e| format!("jobs: bad URL: {e}"))?;
    let mut http = HttpConfig::new(url);
    http.method = "POST".to_owned();
    http.body = Some(br#"{"type":"sleep","payload":{"ms":0}}"#.to_vec());
    http.requests = Some(config.jobs);
    http.concurrency = config.connections;
    http.timeout = Duration::from_secs(30);
    let runtime = pollen::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("jobs: cannot start the load's runtime: {e}"))?;
    let cpu_before = server.cpu_time()?;
    let started = Instant::now();
    let load = runtime
        .block_on(pollen_load::http::run(
            http,
            TcpConnector::new(vec![server.addr]),
            &Control::new(),
        ))
        .map_err(|e| format!("jobs: the load did not start: {e}"))?;
    let submitted = started.elapsed();
    let accepted = load.tally.status_codes.get(&201).copied().unwrap_or(0);
    wait_completed(server.addr, accepted)?;
    let completed = started.elapsed();
    let server_cpu = server.cpu_time()?.saturating_sub(cpu_before);
    let latency = load
        .latency()
        .ok_or_else(|| server.failure("answered no submission"))?;
    Ok(Round {
        accepted_per_sec: accepted as f64 / submitted.as_secs_f64(),
        completed_per_sec: accepted as f64 / completed.as_secs_f64(),
        p50: latency.p50,
        p99: latency.p99,
        server_cpu,
        not_accepted: load.tally.total() - accepted,
    })
}

/// Asks `GET /status` every millisecond until `jobs` have completed.
fn wait_completed(addr: SocketAddr, jobs: u64) -> Result<(), String> {
    let deadline = Instant::now() + COMPLETE_TIMEOUT;
    loop {
        let status = get_status(addr)?;
        let completed = status["completed"].as_u64().unwrap_or(0);
        if completed >= jobs {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "jobs: {completed} of {jobs} jobs completed after {COMPLETE_TIMEOUT:?}: {status}"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `GET /status` on a connection of its own, its body as JSON.
fn get_status(addr: SocketAddr) -> Result<serde_json::Value, String> {
    let fail = |e: &dyn std::fmt::Display| format!("jobs: GET /status: {e}");
    let mut stream = TcpStream::connect(addr).map_err(|e| fail(&e))?;
    stream
        .write_all(b"GET /status HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .map_err(|e| fail(&e))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| fail(&e))?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut headers);
    let body_at = match parsed.parse(&response).map_err(|e| fail(&e))? {
        httparse::Status::Complete(at) => at,
        httparse::Status::Partial => return Err(fail(&"a partial response")),
    };
    if parsed.code != Some(200) {
        return Err(fail(&format!("status {:?}", parsed.code)));
    }
    serde_json::from_slice(&response[body_at..]).map_err(|e| fail(&e))
}

/// The median of `values` (0 if none).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
