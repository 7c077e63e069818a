//! `GET /metrics`: the queue's counters, gauges and the attempt-duration
//! histogram in the Prometheus text format (version 0.0.4).

use std::fmt::Write as _;
use std::time::Duration;

use crate::queue::Status;

/// The histogram's upper bounds, in seconds (`+Inf` is implied).
pub const DURATION_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// How long attempts ran, by bucket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Attempts at most `DURATION_BUCKETS[i]` long (not cumulative).
    buckets: [u64; DURATION_BUCKETS.len()],
    /// Attempts over the last bound.
    over: u64,
    count: u64,
    sum: f64,
}

impl Histogram {
    /// Counts one attempt of `duration`.
    pub fn record(&mut self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        match DURATION_BUCKETS.iter().position(|&bound| seconds <= bound) {
            Some(i) => self.buckets[i] += 1,
            None => self.over += 1,
        }
        self.count += 1;
        self.sum += seconds;
    }

    /// Attempts counted.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Everything `GET /metrics` shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// The current counts.
    pub status: Status,
    /// Jobs accepted since the start.
    pub submitted: u64,
    /// Attempts that succeeded since the start.
    pub completed: u64,
    /// Attempts that failed since the start (retried or not).
    pub failed_attempts: u64,
    /// Jobs that went to the dead letters since the start.
    pub died: u64,
    /// Submissions refused because the queue was full.
    pub refused: u64,
    /// How long attempts ran (succeeded or failed).
    pub durations: Histogram,
}

impl Metrics {
    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        let s = &self.status;
        metric(
            "jobs_submitted_total",
            "counter",
            "Jobs accepted.",
            self.submitted.to_string(),
        );
        metric(
            "jobs_completed_total",
            "counter",
            "Jobs completed.",
            self.completed.to_string(),
        );
        metric(
            "jobs_failed_attempts_total",
            "counter",
            "Attempts that failed, retried or not.",
            self.failed_attempts.to_string(),
        );
        metric(
            "jobs_dead_total",
            "counter",
            "Jobs that ran out of retries.",
            self.died.to_string(),
        );
        metric(
            "jobs_refused_total",
            "counter",
            "Submissions refused because the queue was full.",
            self.refused.to_string(),
        );
        metric(
            "jobs_scheduled",
            "gauge",
            "Jobs waiting for the time they were scheduled for.",
            s.scheduled.to_string(),
        );
        metric(
            "jobs_pending",
            "gauge",
            "Jobs waiting for a worker.",
            s.pending.to_string(),
        );
        metric(
            "jobs_running",
            "gauge",
            "Jobs being run.",
            s.running.to_string(),
        );
        metric(
            "jobs_failed",
            "gauge",
            "Jobs waiting out a retry backoff.",
            s.failed.to_string(),
        );
        metric(
            "jobs_dead",
            "gauge",
            "Jobs in the dead letters.",
            s.dead.to_string(),
        );
        metric(
            "jobs_queue_depth",
            "gauge",
            "Jobs that will still run and are not running.",
            s.queue_depth.to_string(),
        );
        metric(
            "jobs_queue_capacity",
            "gauge",
            "The most jobs waiting to run before submissions are refused.",
            s.queue_capacity.to_string(),
        );
        metric(
            "jobs_workers",
            "gauge",
            "Workers configured.",
            s.workers.to_string(),
        );
        metric(
            "jobs_workers_alive",
            "gauge",
            "Workers running (not given up on after crashes).",
            s.workers_alive.to_string(),
        );
        metric(
            "jobs_worker_utilization",
            "gauge",
            "Running jobs per configured worker, from 0 to 1.",
            format!("{}", s.running as f64 / s.workers.max(1) as f64),
        );
        metric(
            "jobs_throughput_per_second",
            "gauge",
            "Jobs completed per second over the last ten seconds.",
            format!("{}", s.throughput_per_s),
        );
        let h = &self.durations;
        let _ = writeln!(
            out,
            "# HELP jobs_attempt_duration_seconds How long attempts ran."
        );
        let _ = writeln!(out, "# TYPE jobs_attempt_duration_seconds histogram");
        let mut cumulative = 0;
        for (bound, count) in DURATION_BUCKETS.iter().zip(h.buckets) {
            cumulative += count;
            let _ = writeln!(
                out,
                "jobs_attempt_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "jobs_attempt_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            cumulative + h.over
        );
        let _ = writeln!(out, "jobs_attempt_duration_seconds_sum {}", h.sum);
        let _ = writeln!(out, "jobs_attempt_duration_seconds_count {}", h.count);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_in_the_text() {
        let mut metrics = Metrics::default();
        metrics.durations.record(Duration::from_millis(3));
        metrics.durations.record(Duration::from_millis(80));
        metrics.durations.record(Duration::from_secs(120));
        let text = metrics.render();
        assert!(text.contains("jobs_attempt_duration_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("jobs_attempt_duration_seconds_bucket{le=\"0.05\"} 1\n"));
        assert!(text.contains("jobs_attempt_duration_seconds_bucket{le=\"0.1\"} 2\n"));
        assert!(text.contains("jobs_attempt_duration_seconds_bucket{le=\"60\"} 2\n"));
        assert!(text.contains("jobs_attempt_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("jobs_attempt_duration_seconds_count 3\n"));
        assert!(text.contains("# TYPE jobs_completed_total counter\n"));
        // Every sample line is a name (with labels) and a number.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
