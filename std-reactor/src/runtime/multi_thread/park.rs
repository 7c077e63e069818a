//! How one worker sleeps, and how it is woken.
//!
//! A parked worker sleeps either in the poller (if it took the driver: one
//! worker at a time does) or on its own condition variable. One word says
//! which: `EMPTY`, `PARKED_CONDVAR`, `PARKED_DRIVER`, or `NOTIFIED` (woken
//! since it last looked). [`unpark`](Parker::unpark) swaps in `NOTIFIED` and
//! wakes the sleeper the old value names, so a worker is woken with one
//! system call at most, and only when it sleeps.
//!
//! # Why no wake-up is lost
//!
//! The worker moves `EMPTY → PARKED_*` with a compare-and-swap, which fails
//! if a `NOTIFIED` came first (it then consumes it and does not sleep).
//! Parked on the condvar, it moves there under the mutex and waits on the
//! condvar, and an unparker takes the mutex before notifying: the notify
//! cannot fall between the worker's move and its wait. Parked in the
//! driver, the driver's own park word (`io::park`) covers the gap between
//! the move and the blocking poll: the worker resets that word *before* its
//! move, so an unpark after the move either stops the poll from blocking or
//! interrupts it.

use std::fmt;

use crate::loom::atomic::{AtomicU8, Ordering::SeqCst};
use crate::loom::sync::{Condvar, Mutex, PoisonError};

const EMPTY: u8 = 0;
const PARKED_CONDVAR: u8 = 1;
const PARKED_DRIVER: u8 = 2;
const NOTIFIED: u8 = 3;

/// One worker's sleep; see the [module docs](self).
pub(crate) struct Parker {
    state: AtomicU8,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            state: AtomicU8::new(EMPTY),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Consumes a pending notification.
    fn take_notification(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
    }

    /// Sleeps on the condition variable until [`unpark`](Self::unpark).
    pub(crate) fn park_condvar(&self) {
        if self.take_notification() {
            return;
        }
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        match self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // A swap, not a store: an `unpark` may swap `NOTIFIED` in
                // again meanwhile, and reading its write is what makes the
                // work it handed over visible here (a store would erase it
                // unseen; the shutdown model finds that).
                self.state.swap(EMPTY, SeqCst);
                return;
            }
            Err(other) => unreachable!("pollen: parked twice (state {other})"),
        }
        loop {
            guard = self
                .condvar
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
            // Only a notification ends the sleep; a spurious wake-up waits
            // again.
            if self.take_notification() {
                return;
            }
        }
    }

    /// Sleeps in the driver: `block` blocks in the poller, and returns when
    /// the driver's park word is unparked (or I/O or a timer is due).
    ///
    /// The caller has reset the driver's park word before this call (see
    /// the [module docs](self)). Returns whether the worker was notified (as
    /// opposed to woken by I/O or a timer).
    pub(crate) fn park_driver(&self, block: impl FnOnce()) -> bool {
        if self.take_notification() {
            return true;
        }
        match self
            .state
            .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // A swap, as in `park_condvar`.
                self.state.swap(EMPTY, SeqCst);
                return true;
            }
            Err(other) => unreachable!("pollen: parked twice (state {other})"),
        }
        block();
        self.state.swap(EMPTY, SeqCst) == NOTIFIED
    }

    /// Wakes the worker if it sleeps, or makes its next park return at
    /// once. `wake_driver` interrupts the poller.
    pub(crate) fn unpark(&self, wake_driver: impl FnOnce()) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders this notify after the worker's
                // wait began (it moved to `PARKED_CONDVAR` under the lock).
                drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
                self.condvar.notify_one();
            }
            PARKED_DRIVER => wake_driver(),
            other => unreachable!("pollen: bad park state {other}"),
        }
    }
}

impl fmt::Debug for Parker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state.load(SeqCst) {
            EMPTY => "empty",
            PARKED_CONDVAR => "parked (condvar)",
            PARKED_DRIVER => "parked (driver)",
            _ => "notified",
        };
        f.debug_struct("Parker").field("state", &state).finish()
    }
}
