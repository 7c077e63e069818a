//! The pipeline pattern: a web-server log analyzer in four stages.
//!
//! ```text
//! read lines ──► parse ──► keep 5xx ──► count by endpoint
//! ```
//!
//! Each stage is a task, and bounded channels (100 items each) connect
//! them. All four run at once, each on a different part of the log. When a
//! later stage is slower, the channel in front of it fills up and the stage
//! before it waits in `send`: this is *backpressure*, and it keeps memory
//! flat however big the log is. When a stage finishes, it drops its
//! sender, the next stage's `recv` returns `None` once the channel is
//! drained, and the end of the input flows down the pipeline. Each task
//! returns what it counted through its `JoinHandle`.
//!
//! Use a pipeline for a stream of data that goes through steps in order
//! (parse, filter, enrich, store). If the items are independent and the
//! order does not matter, fan-out (see the `fetcher` example) spreads one
//! step over many tasks instead.
//!
//! ```text
//! cargo run --release --example log_analyzer               # the sample log below
//! cargo run --release --example log_analyzer -- access.log # your own
//! ```
//!
//! Each line is `METHOD PATH STATUS LATENCYms`; lines that are not are
//! counted and reported, and the rest of the log is still analyzed.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, BufRead};
use std::process::ExitCode;

use pollen::channel::mpsc;

/// The sample log, used when no file is given.
const SAMPLE: &str = "\
GET /api/users 200 12ms
POST /api/login 401 5ms
GET /api/data 500 1502ms
GET /api/users 200 8ms
GET /api/data 503 30000ms
POST /api/upload 500 250ms
";

/// Room in each channel between two stages.
const CAPACITY: usize = 100;

/// Lines read from the file at a time, on the blocking pool.
const BATCH: usize = 100;

/// One line of the log, numbered from 1.
struct Line {
    number: usize,
    text: String,
}

/// A parsed request: what the later stages need of it. (The method and
/// the latency are checked by the parser, but this report does not use
/// them.)
#[derive(Debug)]
struct Request {
    path: String,
    status: u16,
}

/// What the analysis found.
#[derive(Debug, Default)]
struct Report {
    /// Requests parsed.
    requests: usize,
    /// Error statuses (5xx) by path, in the order they were seen.
    errors: BTreeMap<String, Vec<u16>>,
    /// Lines that were not requests: (line number, text).
    malformed: Vec<(usize, String)>,
}

/// Runs the four stages on `input` and waits for all of them.
async fn analyze(input: Box<dyn BufRead + Send>) -> io::Result<Report> {
    let (lines_tx, lines_rx) = mpsc::channel(CAPACITY);
    let (requests_tx, requests_rx) = mpsc::channel(CAPACITY);
    let (errors_tx, errors_rx) = mpsc::channel(CAPACITY);

    let read = pollen::spawn(read_lines(input, lines_tx));
    let parse = pollen::spawn(parse(lines_rx, requests_tx));
    let filter = pollen::spawn(keep_server_errors(requests_rx, errors_tx));
    let aggregate = pollen::spawn(count_by_path(errors_rx));

    // A stage that panicked is a bug: pass the panic on.
    let read = read
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let malformed = parse
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let requests = filter
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let errors = aggregate
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    // A read error (say, a line that is not UTF-8) stops the pipeline; the
    // other stages simply saw the input end there.
    read?;
    Ok(Report {
        requests,
        errors,
        malformed,
    })
}

/// Stage 1: reads lines and sends them on.
///
/// Reading a file blocks the thread, which must never happen on a runtime
/// worker (every task on it would stall), so each batch of lines is read
/// on the blocking pool with `spawn_blocking`, which hands the reader back
/// along with the batch.
async fn read_lines(
    input: Box<dyn BufRead + Send>,
    out: mpsc::Sender<'static, Line>,
) -> io::Result<()> {
    let mut lines = input.lines();
    let mut number = 0;
    loop {
        let (rest, batch) = pollen::spawn_blocking(move || {
            let batch: io::Result<Vec<String>> = lines.by_ref().take(BATCH).collect();
            (lines, batch)
        })
        .await
        .expect("reading lines does not panic");
        lines = rest;
        let batch = batch?;
        if batch.is_empty() {
            return Ok(());
        }
        for text in batch {
            number += 1;
            // Waits while the parser is 100 lines behind: backpressure.
            if out.send(Line { number, text }).await.is_err() {
                return Ok(()); // the next stage is gone: stop reading
            }
        }
    }
}

/// Stage 2: parses lines into requests; returns the malformed ones.
async fn parse(
    mut lines: mpsc::Receiver<'static, Line>,
    out: mpsc::Sender<'static, Request>,
) -> Vec<(usize, String)> {
    let mut malformed = Vec::new();
    while let Some(line) = lines.recv().await {
        if line.text.trim().is_empty() {
            continue;
        }
        match parse_line(&line.text) {
            Some(request) => {
                if out.send(request).await.is_err() {
                    break;
                }
            }
            None => malformed.push((line.number, line.text)),
        }
    }
    malformed
}

/// `METHOD PATH STATUS LATENCYms`, or `None`.
fn parse_line(line: &str) -> Option<Request> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [method, path, status, latency] = fields[..] else {
        return None;
    };
    let method_ok = method.bytes().all(|b| b.is_ascii_uppercase());
    let status: u16 = status.parse().ok().filter(|s| (100..600).contains(s))?;
    let latency_ok = latency
        .strip_suffix("ms")
        .is_some_and(|ms| ms.parse::<u64>().is_ok());
    (method_ok && latency_ok && path.starts_with('/')).then(|| Request {
        path: path.to_owned(),
        status,
    })
}

/// Stage 3: passes on only server errors (5xx); returns how many requests
/// it saw.
async fn keep_server_errors(
    mut requests: mpsc::Receiver<'static, Request>,
    out: mpsc::Sender<'static, Request>,
) -> usize {
    let mut seen = 0;
    while let Some(request) = requests.recv().await {
        seen += 1;
        if (500..600).contains(&request.status) && out.send(request).await.is_err() {
            break;
        }
    }
    seen
}

/// Stage 4: collects the error statuses of each path.
async fn count_by_path(mut errors: mpsc::Receiver<'static, Request>) -> BTreeMap<String, Vec<u16>> {
    let mut by_path: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    while let Some(request) = errors.recv().await {
        by_path
            .entry(request.path)
            .or_default()
            .push(request.status);
    }
    by_path
}

/// The summary, as printed.
fn summary(report: &Report) -> String {
    let mut out = String::from("Error summary:\n");
    let mut total = 0;
    for (path, statuses) in &report.errors {
        total += statuses.len();
        let distinct: BTreeSet<String> = statuses.iter().map(u16::to_string).collect();
        let distinct: Vec<String> = distinct.into_iter().collect();
        let _ = writeln!(
            out,
            "{path}: {} ({})",
            plural(statuses.len(), "error"),
            distinct.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "Total: {} out of {}",
        plural(total, "error"),
        plural(report.requests, "request")
    );
    if !report.malformed.is_empty() {
        let _ = writeln!(
            out,
            "Skipped {} (not METHOD PATH STATUS LATENCYms):",
            plural(report.malformed.len(), "malformed line")
        );
        for (number, text) in report.malformed.iter().take(10) {
            let _ = writeln!(out, "  line {number}: {text:?}");
        }
        if report.malformed.len() > 10 {
            let _ = writeln!(out, "  ...");
        }
    }
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[pollen::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let input: Box<dyn BufRead + Send> = match args.as_slice() {
        [] => Box::new(io::Cursor::new(SAMPLE)),
        [path] if !path.starts_with('-') => {
            let path = path.clone();
            let opened =
                pollen::spawn_blocking(move || std::fs::File::open(&path).map_err(|e| (path, e)));
            match opened.await.expect("opening a file does not panic") {
                Ok(file) => Box::new(io::BufReader::new(file)),
                Err((path, e)) => {
                    eprintln!("log_analyzer: cannot open {path}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => {
            eprintln!("usage: log_analyzer [FILE]   (without FILE: a built-in sample log)");
            return ExitCode::FAILURE;
        }
    };
    match analyze(input).await {
        Ok(report) => {
            print!("{}", summary(&report));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("log_analyzer: cannot read the log: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(text: &str) -> Box<dyn BufRead + Send> {
        Box::new(io::Cursor::new(text.to_owned()))
    }

    #[pollen::test]
    async fn the_sample_gives_the_seed_summary() {
        let report = analyze(input(SAMPLE)).await.unwrap();
        assert_eq!(
            summary(&report),
            "Error summary:\n\
             /api/data: 2 errors (500, 503)\n\
             /api/upload: 1 error (500)\n\
             Total: 3 errors out of 6 requests\n"
        );
    }

    #[pollen::test]
    async fn malformed_lines_are_counted_not_fatal() {
        let log = format!(
            "{SAMPLE}garbage\nGET /api/data 500\nGET /x abc 5ms\nGET /x 200 5s\nget /x 200 5ms\n\nGET /api/data 502 7ms extra\nDELETE /api/data 502 7ms\n"
        );
        let report = analyze(input(&log)).await.unwrap();
        assert_eq!(report.requests, 7);
        let malformed: Vec<usize> = report.malformed.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            malformed,
            [7, 8, 9, 10, 11, 13],
            "the blank line 12 is skipped"
        );
        assert_eq!(
            summary(&report),
            "Error summary:\n\
             /api/data: 3 errors (500, 502, 503)\n\
             /api/upload: 1 error (500)\n\
             Total: 4 errors out of 7 requests\n\
             Skipped 6 malformed lines (not METHOD PATH STATUS LATENCYms):\n  \
             line 7: \"garbage\"\n  \
             line 8: \"GET /api/data 500\"\n  \
             line 9: \"GET /x abc 5ms\"\n  \
             line 10: \"GET /x 200 5s\"\n  \
             line 11: \"get /x 200 5ms\"\n  \
             line 13: \"GET /api/data 502 7ms extra\"\n"
        );
    }

    /// Far more lines than the channels hold go through: every stage keeps
    /// pace with the next, nothing is lost.
    #[pollen::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_log_flows_through_the_bounded_channels() {
        let mut log = String::new();
        for i in 0..10_000 {
            let status = [200, 500, 404, 503][i % 4];
            let _ = writeln!(log, "GET /path/{} {status} {i}ms", i % 3);
        }
        log.push_str("not a request\n");
        let report = analyze(input(&log)).await.unwrap();
        assert_eq!(report.requests, 10_000);
        assert_eq!(report.malformed, [(10_001, "not a request".to_owned())]);
        let errors: usize = report.errors.values().map(Vec::len).sum();
        assert_eq!(errors, 5_000);
        assert_eq!(report.errors.len(), 3);
    }

    #[pollen::test]
    async fn a_line_that_is_not_utf8_is_a_read_error() {
        let bytes: &'static [u8] = b"GET / 200 1ms\n\xff\xfe\n";
        let error = analyze(Box::new(bytes)).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
