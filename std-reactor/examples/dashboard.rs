//! The event bus pattern: a live metrics dashboard over a broadcast channel.
//!
//! Two publishers (a web server and a database, simulated) each emit a
//! metric every 100 ms on one `broadcast` channel. Three subscribers each
//! get every event, and each does its own thing with it:
//!
//! - the **dashboard** prints a summary every second;
//! - the **logger** prints every event;
//! - the **alerter** counts errors over the last minute and raises an alert
//!   when they pass a threshold.
//!
//! Publishers do not know who listens, and subscribers do not know who
//! publishes: adding a fourth subscriber is one `subscribe()` call. The
//! price: a broadcast channel keeps only its last N messages, and a
//! subscriber that falls further behind misses some (its `recv` says how
//! many, with `RecvError::Lagged`) instead of slowing the publishers down.
//! Where every message must arrive, use an `mpsc` channel per consumer.
//!
//! ```text
//! cargo run --release --example dashboard                 # 5 seconds
//! cargo run --release --example dashboard -- --seconds 30
//! ```

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use pollen::channel::broadcast::{self, RecvError};
use pollen::time::Instant;

/// How often each publisher emits.
const PERIOD: Duration = Duration::from_millis(100);
/// How often the dashboard prints.
const SUMMARY_EVERY: Duration = Duration::from_secs(1);
/// Errors per minute above which the alerter fires.
const ALERT_THRESHOLD: usize = 3;
/// How many events the bus keeps for a slow subscriber.
const BUS_CAPACITY: usize = 256;

/// What travels on the bus. It must be `Clone`: every subscriber gets its
/// own copy.
#[derive(Clone, Debug)]
enum Metric {
    Request {
        path: &'static str,
        latency_ms: u64,
    },
    DbQuery {
        query: &'static str,
        duration_ms: u64,
    },
    Error {
        message: &'static str,
    },
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Request { path, latency_ms } => write!(f, "request {path} took {latency_ms}ms"),
            Metric::DbQuery { query, duration_ms } => {
                write!(f, "query {query} took {duration_ms}ms")
            }
            Metric::Error { message } => write!(f, "error: {message}"),
        }
    }
}

/// The publishers: a name, and how they make up their metrics.
#[derive(Clone, Copy, Debug)]
enum Source {
    Web,
    Db,
}

impl Source {
    fn metric(self, rng: &mut fastrand::Rng) -> Metric {
        if rng.f64() < 0.05 {
            let message = match self {
                Source::Web => "upstream timeout",
                Source::Db => "connection reset",
            };
            return Metric::Error { message };
        }
        match self {
            Source::Web => Metric::Request {
                path: ["/api/data", "/api/users", "/api/login"][rng.usize(..3)],
                latency_ms: rng.u64(5..200),
            },
            Source::Db => Metric::DbQuery {
                query: ["SELECT *", "INSERT", "UPDATE"][rng.usize(..3)],
                duration_ms: rng.u64(1..40),
            },
        }
    }
}

/// A publisher: one metric every period, `count` times. When it returns,
/// its sender is dropped; once both are gone, subscribers see `Closed`.
async fn publish(source: Source, count: u64, seed: u64, bus: broadcast::Sender<'static, Metric>) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut every = pollen::time::interval(PERIOD);
    for _ in 0..count {
        every.tick().await;
        // `send` fails only when no subscriber is left; then nobody cares.
        if bus.send(source.metric(&mut rng)).is_err() {
            return;
        }
    }
}

/// A stretch of time, summarised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Summary {
    requests: u64,
    latency_ms: u64,
    queries: u64,
    query_ms: u64,
    errors: u64,
}

impl Summary {
    fn add(&mut self, metric: &Metric) {
        match metric {
            Metric::Request { latency_ms, .. } => {
                self.requests += 1;
                self.latency_ms += latency_ms;
            }
            Metric::DbQuery { duration_ms, .. } => {
                self.queries += 1;
                self.query_ms += duration_ms;
            }
            Metric::Error { .. } => self.errors += 1,
        }
    }

    fn events(&self) -> u64 {
        self.requests + self.queries + self.errors
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let average = |total: u64, n: u64| total.checked_div(n).unwrap_or(0);
        write!(
            f,
            "Requests: {}, avg latency: {}ms\nDB queries: {}, avg: {}ms\nErrors: {}",
            self.requests,
            average(self.latency_ms, self.requests),
            self.queries,
            average(self.query_ms, self.queries),
            self.errors
        )
    }
}

/// The dashboard: collects events and prints what the last second saw.
/// Returns every summary it printed.
async fn dashboard(mut bus: broadcast::Receiver<'static, Metric>) -> Vec<Summary> {
    let mut printed = Vec::new();
    let mut current = Summary::default();
    // The first tick one second from now, not at once.
    let mut every = pollen::time::interval_at(pollen::time::now() + SUMMARY_EVERY, SUMMARY_EVERY);
    loop {
        // Wait for whichever comes first: an event or the next tick. Both
        // are cancel safe (a dropped `recv` or `tick` loses nothing).
        pollen::select! {
            event = bus.recv() => match event {
                Ok(metric) => current.add(&metric),
                Err(RecvError::Lagged(missed)) => println!("[dashboard] fell behind, missed {missed} events"),
                Err(RecvError::Closed) => break,
            },
            _ = every.tick() => {
                println!("[dashboard] === 1s summary ===\n{current}");
                printed.push(std::mem::take(&mut current));
            }
        }
    }
    if current.events() > 0 {
        println!("[dashboard] === last summary ===\n{current}");
        printed.push(current);
    }
    printed
}

/// The logger: prints every event; returns how many it saw.
async fn logger(mut bus: broadcast::Receiver<'static, Metric>) -> u64 {
    let mut logged = 0;
    loop {
        match bus.recv().await {
            Ok(metric) => {
                logged += 1;
                println!("[logger] {metric}");
            }
            Err(RecvError::Lagged(missed)) => {
                println!("[logger] fell behind, missed {missed} events")
            }
            Err(RecvError::Closed) => return logged,
        }
    }
}

/// The alerter: keeps the times of the errors of the last minute, and
/// fires when there are more than `threshold` of them. It fires once per
/// crossing: not again until the rate has dropped back to the threshold.
/// Returns how many alerts it raised.
async fn alerter(mut bus: broadcast::Receiver<'static, Metric>, threshold: usize) -> u64 {
    let window = Duration::from_secs(60);
    let mut recent: VecDeque<Instant> = VecDeque::new();
    let mut alerting = false;
    let mut alerts = 0;
    loop {
        match bus.recv().await {
            Ok(Metric::Error { .. }) => {
                let now = pollen::time::now();
                recent.push_back(now);
                while recent.front().is_some_and(|&at| now - at >= window) {
                    recent.pop_front();
                }
                if recent.len() > threshold && !alerting {
                    alerts += 1;
                    println!(
                        "[ALERT] Error rate: {}/min, threshold {threshold} exceeded!",
                        recent.len()
                    );
                }
                alerting = recent.len() > threshold;
            }
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => {
                println!("[ALERT] fell behind, missed {missed} events: the error rate may be off");
            }
            Err(RecvError::Closed) => return alerts,
        }
    }
}

/// What a run did.
#[derive(Debug)]
struct Report {
    published: u64,
    summaries: Vec<Summary>,
    logged: u64,
    alerts: u64,
}

/// Runs the publishers for `seconds`, and the three subscribers until the
/// publishers are done.
async fn run(seconds: u64, seed: u64, threshold: usize) -> Report {
    let (bus, first) = broadcast::channel(BUS_CAPACITY);
    // Subscribe before anything is published: a receiver sees only what is
    // sent after it subscribed.
    let dashboard = pollen::spawn(dashboard(first));
    let logger = pollen::spawn(logger(bus.subscribe()));
    let alerter = pollen::spawn(alerter(bus.subscribe(), threshold));

    let count = seconds * 10;
    let web = pollen::spawn(publish(Source::Web, count, seed, bus.clone()));
    let db = pollen::spawn(publish(Source::Db, count, seed + 1, bus));
    web.await.expect("the web publisher does not panic");
    db.await.expect("the db publisher does not panic");

    Report {
        published: 2 * count,
        summaries: dashboard.await.expect("the dashboard does not panic"),
        logged: logger.await.expect("the logger does not panic"),
        alerts: alerter.await.expect("the alerter does not panic"),
    }
}

#[pollen::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = match args.as_slice() {
        [] => 5,
        [flag, n] if flag == "--seconds" => match n.parse::<u64>() {
            Ok(n @ 1..=3600) => n,
            _ => {
                eprintln!("dashboard: --seconds takes a whole number from 1 to 3600, not {n:?}");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("usage: dashboard [--seconds N]");
            return ExitCode::FAILURE;
        }
    };
    let report = run(seconds, 42, ALERT_THRESHOLD).await;
    println!(
        "Done: {} events published, {} logged, {} summaries, {} alert(s).",
        report.published,
        report.logged,
        report.summaries.len(),
        report.alerts
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every subscriber sees every event, on virtual time: the five seconds
    /// pass at once.
    #[pollen::test(start_paused = true)]
    async fn every_subscriber_sees_every_event() {
        let start = pollen::time::now();
        let report = run(5, 42, ALERT_THRESHOLD).await;
        assert!(pollen::time::now() - start >= Duration::from_millis(4900));
        assert_eq!(report.published, 100);
        assert_eq!(report.logged, 100);
        let total: u64 = report.summaries.iter().map(Summary::events).sum();
        assert_eq!(total, 100);
        // A summary at 1 s, 2 s, 3 s and 4 s, and the last 0.9 s when the
        // publishers stop. Each second has 20 events (10 per publisher),
        // but the two published at the very instant of a tick may be
        // counted on either side of it.
        assert_eq!(report.summaries.len(), 5);
        for summary in &report.summaries[..4] {
            assert!((18..=22).contains(&summary.events()), "{summary:?}");
        }
    }

    #[pollen::test(start_paused = true)]
    async fn the_alerter_fires_once_per_crossing() {
        let report = run(30, 7, ALERT_THRESHOLD).await;
        let errors: u64 = report.summaries.iter().map(|s| s.errors).sum();
        assert!(
            errors > ALERT_THRESHOLD as u64,
            "the seed makes {errors} errors"
        );
        // Within one minute the error count only grows: one crossing.
        assert_eq!(report.alerts, 1);

        let quiet = run(30, 7, errors as usize).await;
        assert_eq!(quiet.alerts, 0, "never more errors than the threshold");
    }

    #[pollen::test(start_paused = true)]
    async fn the_summary_averages() {
        let mut summary = Summary::default();
        for latency_ms in [10, 20, 60] {
            summary.add(&Metric::Request {
                path: "/",
                latency_ms,
            });
        }
        summary.add(&Metric::Error { message: "x" });
        assert_eq!(
            summary.to_string(),
            "Requests: 3, avg latency: 30ms\nDB queries: 0, avg: 0ms\nErrors: 1"
        );
    }
}
