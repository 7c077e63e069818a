//! `KeepAlive`: the clock by which an idle worker decides to exit.
//!
//! Normally an idle phase ends `keep_alive` after it began, and the worker
//! waits for that deadline with `Condvar::wait_timeout`.
//!
//! Under `--cfg loom` there is no clock to read: loom's `wait_timeout`
//! never times out (it is a plain `wait`), and real time would make a model
//! differ from one run to the next. Time is modelled instead. No deadline
//! passes until a model calls `KeepAlive::expire` (from a thread of its
//! own, so loom tries it at every point); from then on every deadline has
//! passed, those of later idle phases included, and the model wakes the
//! waiting workers as a `wait_timeout` that timed out would. Since the
//! protocol must hold for every `keep_alive`, a deadline that passes at any
//! moment the scheduler picks covers the real ones.
//!
//! Test builds without loom have the same switch (next to the real clock),
//! so that model also runs as an ordinary test.

use std::time::Duration;
#[cfg(not(loom))]
use std::time::Instant;

#[cfg(any(test, loom))]
use crate::loom::atomic::{AtomicBool, Ordering::SeqCst};
use crate::loom::sync::{Condvar, MutexGuard, PoisonError};

/// The keep-alive clock of one pool.
pub(super) struct KeepAlive {
    /// Set by `expire`: every deadline has passed.
    #[cfg(any(test, loom))]
    expired: AtomicBool,
}

/// When one idle phase ends.
pub(super) struct Deadline {
    /// `None`: the deadline is too far away for an `Instant`.
    #[cfg(not(loom))]
    at: Option<Instant>,
}

/// How long an idle worker may still wait.
#[derive(Debug, Clone, Copy)]
pub(super) enum Wait {
    /// Until notified, or until the duration has elapsed.
    #[cfg_attr(loom, allow(dead_code))]
    For(Duration),
    /// Until notified.
    Forever,
}

// === impl KeepAlive ===

impl KeepAlive {
    /// A clock; under loom, one on which no deadline has passed yet.
    pub(super) fn new() -> KeepAlive {
        KeepAlive {
            #[cfg(any(test, loom))]
            expired: AtomicBool::new(false),
        }
    }

    /// The deadline of an idle phase that begins now and lasts `keep_alive`.
    #[cfg(not(loom))]
    pub(super) fn deadline(&self, keep_alive: Duration) -> Deadline {
        Deadline {
            at: Instant::now().checked_add(keep_alive),
        }
    }

    /// The deadline of an idle phase: under loom, the moment the model
    /// picks.
    #[cfg(loom)]
    pub(super) fn deadline(&self, _keep_alive: Duration) -> Deadline {
        Deadline {}
    }

    /// How long a worker may still wait for `deadline`; `None` once it has
    /// passed.
    pub(super) fn left(&self, deadline: &Deadline) -> Option<Wait> {
        #[cfg(any(test, loom))]
        if self.expired.load(SeqCst) {
            return None;
        }
        deadline.left()
    }

    /// Makes every deadline, present and future, pass. The caller wakes the
    /// waiting workers.
    #[cfg(test)]
    pub(super) fn expire(&self) {
        self.expired.store(true, SeqCst);
    }
}

// === impl Deadline ===

impl Deadline {
    /// The time left until the deadline on the real clock.
    #[cfg(not(loom))]
    fn left(&self) -> Option<Wait> {
        match self.at {
            Some(at) => match at.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(Wait::For(left)),
                _ => None,
            },
            None => Some(Wait::Forever),
        }
    }

    /// Under loom, only `KeepAlive::expire` makes a deadline pass.
    #[cfg(loom)]
    fn left(&self) -> Option<Wait> {
        Some(Wait::Forever)
    }
}

// === impl Wait ===

impl Wait {
    /// Waits on `condvar`, which `guard`'s mutex protects, for this long at
    /// most (or less: a wait may also end spuriously).
    pub(super) fn wait<'a, T>(
        self,
        condvar: &Condvar,
        guard: MutexGuard<'a, T>,
    ) -> MutexGuard<'a, T> {
        match self {
            Wait::For(left) => {
                condvar
                    .wait_timeout(guard, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            Wait::Forever => condvar.wait(guard).unwrap_or_else(PoisonError::into_inner),
        }
    }
}
