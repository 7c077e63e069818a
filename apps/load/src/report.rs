//! [`Report`]: what a load did, as text for people and JSON for scripts.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::error::ErrorKind;
use crate::stats::Tally;

/// What was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// HTTP requests.
    Http,
    /// Echo round trips.
    Echo,
}

/// The result of a load: what was asked for, and what happened.
///
/// `Display` prints it in the text format (the seed's, plus the error
/// table); [`to_json`](Self::to_json) gives the same figures as JSON.
#[derive(Clone, Debug)]
pub struct Report {
    /// HTTP or echo.
    pub mode: Mode,
    /// The URL, or the echo server's address.
    pub target: String,
    /// Requests (round trips) asked for, if a number was.
    pub requests: Option<u64>,
    /// The time limit asked for, if any.
    pub duration_limit: Option<Duration>,
    /// The open-loop rate asked for, requests per second, if any.
    pub rate: Option<f64>,
    /// Open loop: requests started per second, from the start until one
    /// interval of the schedule (`1 / rate`) after the last start: `rate`
    /// when on schedule, less when `concurrency` could not keep up.
    pub achieved_rate: Option<f64>,
    /// Open loop: requests that were due by the time the load stopped
    /// but never started, because every permit was busy (not counted in
    /// the tally).
    pub not_sent: u64,
    /// Requests in flight at most (echo: connections).
    pub concurrency: usize,
    /// Echo: bytes per message.
    pub message_size: Option<usize>,
    /// Stopped early (Ctrl-C): the figures are partial.
    pub interrupted: bool,
    /// From the first request until the last one finished.
    pub elapsed: Duration,
    /// Counts and latencies.
    pub tally: Tally,
}

/// Latency percentiles, from the histogram (each the highest value that
/// the histogram's bucket at that percentile stands for: 3 significant
/// digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    /// The fastest.
    pub min: Duration,
    /// The mean.
    pub mean: Duration,
    /// The median.
    pub p50: Duration,
    /// 90% took at most this.
    pub p90: Duration,
    /// 99% took at most this.
    pub p99: Duration,
    /// The slowest.
    pub max: Duration,
}

// === impl Report ===

impl Report {
    /// The latency percentiles; `None` if no request got an answer.
    pub fn latency(&self) -> Option<Latency> {
        let histogram = &self.tally.latency_us;
        if histogram.is_empty() {
            return None;
        }
        let us = Duration::from_micros;
        Some(Latency {
            min: us(histogram.min()),
            mean: Duration::from_secs_f64(histogram.mean() / 1e6),
            p50: us(histogram.value_at_quantile(0.50)),
            p90: us(histogram.value_at_quantile(0.90)),
            p99: us(histogram.value_at_quantile(0.99)),
            max: us(histogram.max()),
        })
    }

    /// Requests (succeeded and failed) per second of
    /// [`elapsed`](Self::elapsed).
    pub fn throughput(&self) -> f64 {
        per_second(self.tally.total() as f64, self.elapsed)
    }

    /// Bytes sent and received per second of [`elapsed`](Self::elapsed).
    pub fn bytes_per_second(&self) -> f64 {
        let bytes = self.tally.bytes_sent + self.tally.bytes_received;
        per_second(bytes as f64, self.elapsed)
    }

    /// The same figures as the text report, as JSON.
    ///
    /// Times are in seconds (`duration_s`) or milliseconds (`latency_ms`,
    /// `null` without answers); `status_codes` maps codes to counts (HTTP
    /// only), `errors` maps [`ErrorKind`]s in `snake_case` to counts;
    /// `achieved_rate` and `not_sent` are as on the report (`null` and 0
    /// without a rate);
    /// `retried` is [`Tally::retried`] (the text report shows it when it
    /// is not 0).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.json()).expect("a report is plain data")
    }

    /// [`to_json`](Self::to_json) as indented text, keys in report order.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.json()).expect("a report is plain data")
    }

    fn json(&self) -> Json<'_> {
        // Whole microseconds, as recorded.
        let ms = |d: Duration| d.as_micros() as f64 / 1e3;
        Json {
            mode: self.mode,
            target: &self.target,
            requests: self.requests,
            duration_limit_s: self.duration_limit.map(|d| d.as_secs_f64()),
            rate: self.rate,
            achieved_rate: self.achieved_rate,
            not_sent: self.not_sent,
            concurrency: self.concurrency,
            message_size: self.message_size,
            interrupted: self.interrupted,
            total: self.tally.total(),
            succeeded: self.tally.succeeded,
            failed: self.tally.failed,
            retried: self.tally.retried,
            duration_s: self.elapsed.as_secs_f64(),
            throughput_rps: self.throughput(),
            bytes_sent: self.tally.bytes_sent,
            bytes_received: self.tally.bytes_received,
            bytes_per_sec: self.bytes_per_second(),
            latency_ms: self.latency().map(|l| LatencyJson {
                min: ms(l.min),
                mean: ms(l.mean),
                p50: ms(l.p50),
                p90: ms(l.p90),
                p99: ms(l.p99),
                max: ms(l.max),
            }),
            status_codes: (self.mode == Mode::Http).then_some(&self.tally.status_codes),
            errors: &self.tally.errors,
        }
    }
}

#[derive(Serialize)]
struct Json<'a> {
    mode: Mode,
    target: &'a str,
    requests: Option<u64>,
    duration_limit_s: Option<f64>,
    rate: Option<f64>,
    achieved_rate: Option<f64>,
    not_sent: u64,
    concurrency: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_size: Option<usize>,
    interrupted: bool,
    total: u64,
    succeeded: u64,
    failed: u64,
    retried: u64,
    duration_s: f64,
    throughput_rps: f64,
    bytes_sent: u64,
    bytes_received: u64,
    /// Sent and received, per second.
    bytes_per_sec: f64,
    latency_ms: Option<LatencyJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_codes: Option<&'a BTreeMap<u16, u64>>,
    errors: &'a BTreeMap<ErrorKind, u64>,
}

#[derive(Serialize)]
struct LatencyJson {
    min: f64,
    mean: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.mode {
            Mode::Http => "requests",
            Mode::Echo => "round trips",
        };
        match self.mode {
            Mode::Http => writeln!(f, "Target: {}", self.target)?,
            Mode::Echo => writeln!(f, "Target: echo {}", self.target)?,
        }
        let amount = match (self.requests, self.duration_limit) {
            (Some(n), None) => n.to_string(),
            (None, Some(limit)) => format!("for {}", seconds(limit)),
            (Some(n), Some(limit)) => format!("{n} (at most {})", seconds(limit)),
            (None, None) => "until stopped".to_owned(),
        };
        match self.mode {
            Mode::Http => write!(f, "Requests: {amount}, Concurrency: {}", self.concurrency)?,
            Mode::Echo => write!(
                f,
                "Round trips: {amount}, Connections: {}, Message: {} bytes",
                self.concurrency,
                self.message_size.unwrap_or(0)
            )?,
        }
        if let Some(rate) = self.rate {
            write!(f, ", Rate: {rate} req/s")?;
        }
        writeln!(f)?;
        if self.interrupted {
            writeln!(f, "Interrupted: partial results")?;
        }
        writeln!(f, "Results:")?;
        writeln!(f, "  Total: {} {unit}", self.tally.total())?;
        writeln!(f, "  Succeeded: {}", self.tally.succeeded)?;
        writeln!(f, "  Failed: {}", self.tally.failed)?;
        if self.tally.retried > 0 {
            writeln!(f, "  Retried: {}", self.tally.retried)?;
        }
        writeln!(f, "  Duration: {}", seconds(self.elapsed))?;
        let per = match self.mode {
            Mode::Http => "req/s",
            Mode::Echo => "round trips/s",
        };
        writeln!(
            f,
            "  Throughput: {:.2} {per}, {} (sent + received)",
            self.throughput(),
            bytes_per_second(self.bytes_per_second())
        )?;
        if let (Some(rate), Some(achieved)) = (self.rate, self.achieved_rate) {
            writeln!(f, "  Rate: {achieved:.2} req/s sent (target {rate} req/s)")?;
        }
        if self.not_sent > 0 {
            writeln!(f, "  Not sent (rate missed): {}", self.not_sent)?;
        }
        match self.latency() {
            Some(latency) => {
                writeln!(f, "Latency:")?;
                writeln!(f, "  p50: {}", millis(latency.p50))?;
                writeln!(f, "  p90: {}", millis(latency.p90))?;
                writeln!(f, "  p99: {}", millis(latency.p99))?;
                writeln!(f, "  max: {}", millis(latency.max))?;
            }
            None => writeln!(f, "Latency: no answers")?,
        }
        if self.mode == Mode::Http && !self.tally.status_codes.is_empty() {
            writeln!(f, "Status codes:")?;
            for (status, count) in &self.tally.status_codes {
                writeln!(f, "  {status}: {count}")?;
            }
        }
        if !self.tally.errors.is_empty() {
            writeln!(f, "Errors:")?;
            for (kind, count) in &self.tally.errors {
                writeln!(f, "  {kind}: {count}")?;
            }
        }
        Ok(())
    }
}

/// `count` per second of `elapsed` (0 for no time).
pub(crate) fn per_second(count: f64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count / secs } else { 0.0 }
}

/// `2.34s`.
fn seconds(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// `412us`, `4.2ms`, `1.25s`.
fn millis(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2}s", d.as_secs_f64())
    } else if d >= Duration::from_millis(1) {
        format!("{:.1}ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{}us", d.as_micros())
    }
}

/// `12.34 MB/s`.
fn bytes_per_second(rate: f64) -> String {
    if rate >= 1e9 {
        format!("{:.2} GB/s", rate / 1e9)
    } else if rate >= 1e6 {
        format!("{:.2} MB/s", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.2} kB/s", rate / 1e3)
    } else {
        format!("{rate:.0} B/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Outcome;

    fn report(tally: Tally) -> Report {
        Report {
            mode: Mode::Http,
            target: "http://127.0.0.1:8080/status".to_owned(),
            requests: Some(tally.total()),
            duration_limit: None,
            rate: None,
            achieved_rate: None,
            not_sent: 0,
            concurrency: 10,
            message_size: None,
            interrupted: false,
            elapsed: Duration::from_secs(2),
            tally,
        }
    }

    /// 1 ms to 100 ms in steps of 1 ms: p50 is 50 ms, p90 90 ms, p99 99 ms.
    fn hundred_latencies() -> Tally {
        let mut tally = Tally::new();
        for ms in 1..=100 {
            let status = if ms % 10 == 0 { 503 } else { 200 };
            tally.record(Outcome::Status(status), Duration::from_millis(ms));
        }
        tally
    }

    /// Equal to 3 significant digits (the histogram's precision).
    fn close(got: Duration, want: Duration) -> bool {
        let (got, want) = (got.as_secs_f64(), want.as_secs_f64());
        (got - want).abs() <= want / 1000.0
    }

    #[test]
    fn percentiles_come_from_the_histogram() {
        let latency = report(hundred_latencies()).latency().unwrap();
        let ms = Duration::from_millis;
        for (got, want) in [
            (latency.min, ms(1)),
            (latency.p50, ms(50)),
            (latency.p90, ms(90)),
            (latency.p99, ms(99)),
            (latency.max, ms(100)),
        ] {
            assert!(close(got, want), "{got:?} is not {want:?}");
        }
        assert!(close(latency.mean, Duration::from_micros(50_500)));
        // Exact below 2048 us.
        let mut tally = Tally::new();
        for us in [100, 200, 300, 400, 1000] {
            tally.record(Outcome::Echoed, Duration::from_micros(us));
        }
        let latency = report(tally).latency().unwrap();
        assert_eq!(latency.p50, Duration::from_micros(300));
        assert_eq!(latency.max, Duration::from_micros(1000));
    }

    #[test]
    fn the_text_report_has_the_seed_s_lines() {
        let mut tally = hundred_latencies();
        tally.record(Outcome::Failed(ErrorKind::ConnectRefused), Duration::ZERO);
        let text = report(tally).to_string();
        for line in [
            "Target: http://127.0.0.1:8080/status",
            "Requests: 101, Concurrency: 10",
            "Results:",
            "  Total: 101 requests",
            "  Succeeded: 90",
            "  Failed: 11",
            "  Duration: 2.00s",
            "  Throughput: 50.50 req/s, 0 B/s (sent + received)",
            "Latency:",
            "  p50: 50.0ms",
            "  p99: 99.0ms",
            "  max: 100.0ms",
            "Status codes:",
            "  200: 90",
            "  503: 10",
            "Errors:",
            "  connect refused: 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn the_json_report_has_the_same_figures() {
        let mut tally = hundred_latencies();
        tally.record(Outcome::Failed(ErrorKind::Timeout), Duration::ZERO);
        let mut report = report(tally);
        report.interrupted = true;
        let json = report.to_json();
        assert_eq!(json["mode"], "http");
        assert_eq!(json["total"], 101);
        assert_eq!(json["succeeded"], 90);
        assert_eq!(json["failed"], 11);
        assert_eq!(json["interrupted"], true);
        assert_eq!(json["duration_s"], 2.0);
        assert_eq!(json["throughput_rps"], 50.5);
        assert_eq!(json["status_codes"]["200"], 90);
        assert_eq!(json["status_codes"]["503"], 10);
        assert_eq!(json["errors"]["timeout"], 1);
        let p99 = json["latency_ms"]["p99"].as_f64().unwrap();
        assert!((p99 - 99.0).abs() < 0.1, "{p99}");
    }

    #[test]
    fn no_answers_no_percentiles() {
        let mut tally = Tally::new();
        tally.record(Outcome::Failed(ErrorKind::Reset), Duration::ZERO);
        let report = report(tally);
        assert!(report.latency().is_none());
        assert!(report.to_string().contains("Latency: no answers"));
        assert!(report.to_json()["latency_ms"].is_null());
    }

    #[test]
    fn durations_print_in_a_readable_unit() {
        assert_eq!(millis(Duration::from_micros(412)), "412us");
        assert_eq!(millis(Duration::from_micros(4_200)), "4.2ms");
        assert_eq!(millis(Duration::from_millis(1_250)), "1.25s");
        assert_eq!(bytes_per_second(12_340_000.0), "12.34 MB/s");
    }
}
