//! [`Tally`]: what a load recorded, shared by its tasks.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::control::Control;
use crate::error::ErrorKind;
use crate::lock::lock;

/// The longest latency recorded exactly, in microseconds (an hour); longer
/// ones are recorded as an hour.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// How one request (or round trip) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP response with this status code.
    Status(u16),
    /// An echo that matched the message.
    Echoed,
    /// No (complete, valid) answer.
    Failed(ErrorKind),
}

/// The counts and the latency histogram of a load.
///
/// A request is *succeeded* if it got an HTTP response with a status below
/// 400 (or, in echo mode, its echo back intact), and *failed* otherwise:
/// a 4xx or 5xx response, or no response at all (see [`ErrorKind`]).
/// Latency is recorded for every request that got a response, whatever its
/// status, and for every intact echo.
#[derive(Clone, Debug)]
pub struct Tally {
    /// Latencies, microseconds, 3 significant digits.
    pub latency_us: Histogram<u64>,
    /// Responses per status code.
    pub status_codes: BTreeMap<u16, u64>,
    /// Failures without a response, per kind.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// See the type's docs.
    pub succeeded: u64,
    /// See the type's docs.
    pub failed: u64,
    /// Bytes written, over every connection.
    pub bytes_sent: u64,
    /// Bytes read, over every connection.
    pub bytes_received: u64,
    /// HTTP requests sent a second time, on a new connection, because the
    /// keep-alive connection they were sent on had been closed by the
    /// server (each is counted once in the other figures, by how it
    /// ended).
    pub retried: u64,
}

/// A [`Tally`] behind a lock, and the control that says whether to record.
///
/// The HTTP engine's requests, each a task of its own, record into the
/// shared tally (one short lock per request); the echo engine's
/// connections each keep their own ([`record_in`](Self::record_in)),
/// merged when the load ends.
#[derive(Debug)]
pub(crate) struct Recorder {
    recorded: Mutex<Recorded>,
    control: Control,
}

/// What a [`Recorder`] keeps under its lock.
#[derive(Clone, Debug, Default)]
pub(crate) struct Recorded {
    pub(crate) tally: Tally,
    /// Requests that completed while warming up: not in the tally.
    pub(crate) unrecorded: u64,
}

impl Recorded {
    /// Requests that completed, recorded or not.
    pub(crate) fn completed(&self) -> u64 {
        self.tally.total() + self.unrecorded
    }

    /// Adds what `other` recorded.
    pub(crate) fn merge(&mut self, other: &Recorded) {
        self.tally.merge(&other.tally);
        self.unrecorded += other.unrecorded;
    }
}

// === impl Tally ===

impl Tally {
    /// Nothing recorded yet.
    pub fn new() -> Tally {
        Tally {
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("valid histogram bounds"),
            status_codes: BTreeMap::new(),
            errors: BTreeMap::new(),
            succeeded: 0,
            failed: 0,
            bytes_sent: 0,
            bytes_received: 0,
            retried: 0,
        }
    }

    /// Records one request's outcome; `latency` is recorded only for an
    /// answer (a status or an echo).
    pub fn record(&mut self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Status(status) => {
                *self.status_codes.entry(status).or_default() += 1;
                if status < 400 {
                    self.succeeded += 1;
                } else {
                    self.failed += 1;
                }
                self.record_latency(latency);
            }
            Outcome::Echoed => {
                self.succeeded += 1;
                self.record_latency(latency);
            }
            Outcome::Failed(kind) => {
                *self.errors.entry(kind).or_default() += 1;
                self.failed += 1;
            }
        }
    }

    fn record_latency(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us
            .saturating_record(us.clamp(1, MAX_LATENCY_US));
    }

    /// Requests recorded: succeeded plus failed.
    pub fn total(&self) -> u64 {
        self.succeeded + self.failed
    }

    /// Adds what `other` recorded.
    pub(crate) fn merge(&mut self, other: &Tally) {
        self.latency_us
            .add(&other.latency_us)
            .expect("tallies have the same histogram bounds");
        for (status, count) in &other.status_codes {
            *self.status_codes.entry(*status).or_default() += count;
        }
        for (kind, count) in &other.errors {
            *self.errors.entry(*kind).or_default() += count;
        }
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.retried += other.retried;
    }
}

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

// === impl Recorder ===

impl Recorder {
    pub(crate) fn new(control: Control) -> Recorder {
        Recorder {
            recorded: Mutex::new(Recorded::default()),
            control,
        }
    }

    pub(crate) fn control(&self) -> &Control {
        &self.control
    }

    /// Records an outcome, its bytes and whether it was retried, unless the
    /// load is warming up (then only counts it as unrecorded).
    pub(crate) fn record(
        &self,
        outcome: Outcome,
        latency: Duration,
        sent: u64,
        received: u64,
        retried: bool,
    ) {
        let mut recorded = self.lock();
        self.record_in(&mut recorded, outcome, latency, sent, received, retried);
    }

    /// [`record`](Self::record), into `recorded` (a task's own, merged
    /// at the end) instead of the shared one.
    pub(crate) fn record_in(
        &self,
        recorded: &mut Recorded,
        outcome: Outcome,
        latency: Duration,
        sent: u64,
        received: u64,
        retried: bool,
    ) {
        if !self.control.records() {
            recorded.unrecorded += 1;
            return;
        }
        let tally = &mut recorded.tally;
        tally.record(outcome, latency);
        tally.bytes_sent += sent;
        tally.bytes_received += received;
        tally.retried += u64::from(retried);
        self.control.count_completed();
    }

    /// A copy of what was recorded so far.
    pub(crate) fn snapshot(&self) -> Recorded {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        lock(&self.recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_below_400_succeed_and_errors_fail() {
        let mut tally = Tally::new();
        let ms = Duration::from_millis;
        tally.record(Outcome::Status(200), ms(1));
        tally.record(Outcome::Status(302), ms(1));
        tally.record(Outcome::Status(404), ms(1));
        tally.record(Outcome::Status(503), ms(1));
        tally.record(Outcome::Failed(ErrorKind::Timeout), ms(5000));
        tally.record(Outcome::Echoed, ms(1));
        assert_eq!((tally.succeeded, tally.failed, tally.total()), (3, 3, 6));
        assert_eq!(tally.status_codes.values().sum::<u64>(), 4);
        assert_eq!(tally.errors[&ErrorKind::Timeout], 1);
        // The timeout has no latency: only the five answers are in it.
        assert_eq!(tally.latency_us.len(), 5);
        assert_eq!(tally.latency_us.max(), 1000);
    }

    #[test]
    fn warming_up_records_nothing() {
        let control = Control::warming_up();
        let recorder = Recorder::new(control.clone());
        recorder.record(
            Outcome::Status(200),
            Duration::from_millis(1),
            10,
            10,
            false,
        );
        assert_eq!(recorder.snapshot().tally.total(), 0);
        assert_eq!(recorder.snapshot().unrecorded, 1);
        control.start_recording();
        recorder.record(
            Outcome::Status(200),
            Duration::from_millis(1),
            10,
            20,
            false,
        );
        let recorded = recorder.snapshot();
        let tally = &recorded.tally;
        assert_eq!((tally.total(), tally.bytes_received), (1, 20));
        assert_eq!(recorded.completed(), 2);
        assert_eq!(control.completed(), 1);
    }

    #[test]
    fn merged_tallies_add_up() {
        let recorder = Recorder::new(Control::new());
        let (mut a, mut b) = (Recorded::default(), Recorded::default());
        let ms = Duration::from_millis;
        recorder.record_in(&mut a, Outcome::Status(200), ms(1), 10, 20, false);
        recorder.record_in(&mut b, Outcome::Status(200), ms(3), 10, 20, true);
        let reset = Outcome::Failed(ErrorKind::Reset);
        recorder.record_in(&mut b, reset, ms(0), 10, 0, false);
        a.merge(&b);
        let tally = &a.tally;
        assert_eq!((tally.succeeded, tally.failed, tally.retried), (2, 1, 1));
        assert_eq!((tally.bytes_sent, tally.bytes_received), (30, 40));
        assert_eq!(tally.status_codes[&200], 2);
        assert_eq!(tally.errors[&ErrorKind::Reset], 1);
        assert_eq!(tally.latency_us.len(), 2);
        assert!(tally.latency_us.equivalent(tally.latency_us.max(), 3000));
    }

    #[test]
    fn a_stop_while_warming_up_records_nothing_after_it() {
        let control = Control::warming_up();
        let recorder = Recorder::new(control.clone());
        control.stop();
        assert!(control.is_stopped());
        recorder.record(
            Outcome::Status(200),
            Duration::from_millis(1),
            10,
            10,
            false,
        );
        assert_eq!(recorder.snapshot().tally.total(), 0);
        // After recording started, what finishes after the stop counts.
        let control = Control::warming_up();
        let recorder = Recorder::new(control.clone());
        control.start_recording();
        control.stop();
        recorder.record(
            Outcome::Status(200),
            Duration::from_millis(1),
            10,
            10,
            false,
        );
        assert_eq!(recorder.snapshot().tally.total(), 1);
    }
}
