//! The pool's state word: a shutdown flag and two counters in one `usize`.
//!
//! | field      | bits                    | what                                         | changed by |
//! |------------|-------------------------|----------------------------------------------|------------|
//! | `SHUTDOWN` | bit 0                   | the pool takes no more work, for ever        | `shutdown`, once |
//! | `idle`     | bits 1 .. `BITS / 2`    | workers in their idle phase                  | workers, only under the sleep lock |
//! | `threads`  | bits `BITS / 2` ..      | workers that will look at the queue again    | +1 by a spawner's CAS (no lock); −1 under the sleep lock by a retiring worker or a failed spawn |
//!
//! Keeping the three in one word lets a spawner read them in one load, and
//! lets a retiring worker leave `idle` and `threads` in one step, so no
//! reader ever counts a worker that has already decided to exit.
//!
//! Every access is `SeqCst`: the protocol in `pool.rs` pairs these accesses
//! with `SeqCst` fences around the queue (a Dekker-style handshake).

use std::fmt;

use crate::loom::atomic::{AtomicUsize, Ordering::SeqCst};

/// No more work is taken; set once by `shutdown`.
const SHUTDOWN: usize = 1;
/// One idle worker.
const IDLE_ONE: usize = 1 << 1;
/// Where the thread count starts.
const THREAD_SHIFT: u32 = usize::BITS / 2;
/// One worker thread.
const THREAD_ONE: usize = 1 << THREAD_SHIFT;
/// The bits of the idle count.
const IDLE_MASK: usize = (THREAD_ONE - 1) & !SHUTDOWN;

/// The most threads the word can count (the idle field is one bit narrower
/// than the thread field, and `idle <= threads`): 2³¹ − 1 on 64-bit
/// targets, 32 767 on 32-bit ones.
pub(super) const MAX_THREADS: usize = IDLE_MASK >> 1;

/// The atomic state word of one pool.
pub(super) struct State(AtomicUsize);

/// One observed value of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Snapshot(usize);

/// What [`State::try_grow`] did.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grow {
    /// `threads` went up by one: the caller must start that thread (or
    /// undo the count with [`State::spawn_failed`]).
    Grew,
    /// `threads` is at the maximum: the task waits for a busy thread.
    Full,
    /// The pool is shut down: no thread may start.
    ShutDown,
}

// === impl State ===

impl State {
    /// No threads, none idle, running. (Not `const`: loom's atomics are
    /// not.)
    pub(super) fn new() -> State {
        State(AtomicUsize::new(0))
    }

    /// Reads the word.
    pub(super) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(SeqCst))
    }

    /// Counts one more thread if fewer than `max` run and the pool is not
    /// shut down. Called by a spawner, without the lock.
    pub(super) fn try_grow(&self, max: usize) -> Grow {
        let mut current = self.load();
        loop {
            if current.is_shutdown() {
                return Grow::ShutDown;
            }
            if current.threads() >= max {
                return Grow::Full;
            }
            match self
                .0
                .compare_exchange_weak(current.0, current.0 + THREAD_ONE, SeqCst, SeqCst)
            {
                Ok(_) => return Grow::Grew,
                Err(actual) => current = Snapshot(actual),
            }
        }
    }

    /// Undoes a [`Grow::Grew`] whose thread never started; returns the new
    /// value. Called under the sleep lock.
    pub(super) fn spawn_failed(&self) -> Snapshot {
        let prev = self.0.fetch_sub(THREAD_ONE, SeqCst);
        debug_assert!(Snapshot(prev).threads() > Snapshot(prev).idle());
        Snapshot(prev - THREAD_ONE)
    }

    /// A worker enters its idle phase. Called under the sleep lock.
    pub(super) fn enter_idle(&self) {
        let prev = self.0.fetch_add(IDLE_ONE, SeqCst);
        debug_assert!(Snapshot(prev).idle() < Snapshot(prev).threads());
    }

    /// A worker leaves its idle phase to work. Called under the sleep lock.
    pub(super) fn leave_idle(&self) {
        let prev = self.0.fetch_sub(IDLE_ONE, SeqCst);
        debug_assert!(Snapshot(prev).idle() > 0);
    }

    /// An idle worker retires: it stops counting as idle and as a thread in
    /// one step. Called under the sleep lock.
    pub(super) fn retire(&self) {
        let prev = self.0.fetch_sub(IDLE_ONE + THREAD_ONE, SeqCst);
        debug_assert!(Snapshot(prev).idle() > 0);
    }

    /// Sets `SHUTDOWN`; returns whether it was already set.
    pub(super) fn shut_down(&self) -> bool {
        Snapshot(self.0.fetch_or(SHUTDOWN, SeqCst)).is_shutdown()
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}

// === impl Snapshot ===

impl Snapshot {
    /// Whether `shutdown` has begun.
    pub(super) fn is_shutdown(self) -> bool {
        self.0 & SHUTDOWN != 0
    }

    /// Workers in their idle phase (some may already owe a wake-up to a
    /// queued task; see the tokens in `pool.rs`).
    pub(super) fn idle(self) -> usize {
        (self.0 & IDLE_MASK) >> 1
    }

    /// Workers that will look at the queue again.
    pub(super) fn threads(self) -> usize {
        self.0 >> THREAD_SHIFT
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("shutdown", &self.is_shutdown())
            .field("threads", &self.threads())
            .field("idle", &self.idle())
            .finish()
    }
}
