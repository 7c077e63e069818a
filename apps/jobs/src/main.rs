//! `pollen-jobs`: a small job-queue service on pollen.
//!
//! ```text
//! pollen-jobs serve --addr 127.0.0.1:8080 --workers 4 --queue-capacity 1000 [--data-dir ./jobs-data]
//! ```
//!
//! Submit jobs with `curl -X POST http://127.0.0.1:8080/jobs -d '{"type":"sleep","payload":{"ms":500}}'`.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pollen::net::TcpListener;
use pollen_jobs::{Config, QueueConfig, serve};

#[derive(Parser)]
#[command(version, about = "A job-queue service on the pollen runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API until Ctrl-C or SIGTERM.
    Serve(Serve),
}

#[derive(clap::Args)]
struct Serve {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Worker tasks: the most jobs that run at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=4096))]
    workers: u32,
    /// The most jobs waiting to run before submissions get 503.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    queue_capacity: u32,
    /// Where the journal lives (created if needed): every accepted job is
    /// in it before its 201, and jobs not done run again after a restart.
    /// Without it, jobs live in memory only.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// How many completed jobs are remembered (older ones are forgotten,
    /// in memory and in the journal).
    #[arg(long, default_value_t = 100_000)]
    keep_finished: usize,
    /// How many dead jobs are kept until retried or deleted (past that,
    /// the oldest death is deleted).
    #[arg(long, default_value_t = 10_000)]
    max_dead: usize,
    /// The wait before a failed job's first retry; it doubles after each.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    retry_base: Duration,
    /// How long running jobs get to finish at shutdown.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    shutdown_grace: Duration,
    /// The most HTTP connections open at once; more get 503.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// The most bytes of request bodies buffered at once, over all
    /// connections (bytes, or with a KiB, MiB or GiB suffix). A body waits
    /// for room, and gets 503 if none comes within the request timeout;
    /// bodies larger than this (or than 1 MiB) get 413.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    max_body_memory: usize,
    /// Log what happens to every job (enqueued, started, completed,
    /// failed, dead, retried, deleted) to stderr.
    #[arg(long)]
    log_events: bool,
    /// Draw a dashboard on stderr every second: workers alive, the
    /// queue's counts, throughput, the last failure.
    #[arg(long)]
    dashboard: bool,
    /// Runtime threads (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
}

fn main() -> ExitCode {
    let Command::Serve(cli) = Cli::parse().command;
    let mut builder = pollen::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        builder.worker_threads(threads as usize);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pollen-jobs: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        queue: QueueConfig {
            workers: cli.workers as usize,
            queue_capacity: cli.queue_capacity as usize,
            retry_base: cli.retry_base,
            data_dir: cli.data_dir,
            keep_finished: cli.keep_finished,
            max_dead: cli.max_dead,
        },
        shutdown_grace: cli.shutdown_grace,
        verbose: true,
        log_events: cli.log_events,
        dashboard: cli.dashboard,
        max_connections: cli.max_connections as usize,
        max_body_memory: cli.max_body_memory,
        ..Config::default()
    };
    runtime.block_on(async move {
        let listener = match TcpListener::bind(cli.addr).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("pollen-jobs: cannot listen on {}: {e}", cli.addr);
                return ExitCode::FAILURE;
            }
        };
        let shutdown = match pollen::signal::shutdown() {
            Ok(shutdown) => shutdown,
            Err(e) => {
                eprintln!("pollen-jobs: cannot install the signal handlers: {e}");
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().map_or(cli.addr, |addr| addr);
        println!(
            "pollen-jobs listening on http://{addr} ({} workers, queue capacity {})",
            config.queue.workers, config.queue.queue_capacity
        );
        let summary = serve(listener, config, async {
            shutdown.await;
            eprintln!("pollen-jobs: shutting down: no new requests, running jobs may finish");
        })
        .await;
        let summary = match summary {
            Ok(summary) => summary,
            Err(e) => {
                eprintln!("pollen-jobs: cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        let drained = &summary.drained;
        if !drained.in_time {
            eprintln!("pollen-jobs: some running jobs did not finish in time and were abandoned");
        }
        if let Some(status) = &drained.status {
            eprintln!(
                "pollen-jobs: {} requests on {} connections; jobs: {} completed, {} dead, {} \
                 left pending, {} waiting for a retry, {} abandoned while running",
                summary.requests,
                summary.connections,
                status.completed,
                status.dead,
                status.pending,
                status.failed,
                status.running
            );
        }
        ExitCode::SUCCESS
    })
}

/// A size in bytes: a number, optionally followed by `KiB`, `MiB` or `GiB`
/// (case aside); at least one byte.
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: usize = number.parse().map_err(|_| {
        format!("{text:?} is not a size: expected bytes, or a number and KiB, MiB or GiB")
    })?;
    let unit = unit.trim();
    let scale: usize = if unit.is_empty() || unit.eq_ignore_ascii_case("b") {
        1
    } else if unit.eq_ignore_ascii_case("kib") {
        1 << 10
    } else if unit.eq_ignore_ascii_case("mib") {
        1 << 20
    } else if unit.eq_ignore_ascii_case("gib") {
        1 << 30
    } else {
        return Err(format!("unknown unit {unit:?}: use KiB, MiB or GiB"));
    };
    match number.checked_mul(scale) {
        Some(0) => Err("must be at least one byte".to_owned()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("{text:?} is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_are_bytes_or_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("10B"), Ok(10));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64 mib"), Ok(64 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        for bad in ["", "MiB", "0", "0MiB", "-1", "1.5MiB", "64MB", "64 lots"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size(&format!("{}GiB", usize::MAX)).is_err());
    }
}
