//! Which workers sleep and which search for work.
//!
//! A worker with nothing to run first *searches* (looks at the other
//! workers' deques and LIFO slots and at the global queue), then *parks*.
//! Two numbers in one atomic word say how many workers are unparked and
//! how many of those search; a list under a mutex says which are parked.
//!
//! # Rules
//!
//! - **Bounded search.** At most half the workers (at least one) search at
//!   once: more would only fight over the same few tasks.
//! - **No thundering herd.** Whoever hands over work (a push to the global
//!   queue, or to a busy worker's deque) wakes one parked worker, and only
//!   if no worker searches and some worker is parked
//!   ([`worker_to_notify`](Idle::worker_to_notify)). A searcher will find
//!   the work; a woken worker starts out searching, so a burst of pushes
//!   wakes one worker, which wakes the next only when it finds work and
//!   sees more left: the last searcher to find work looks at every queue
//!   once more (`transition_worker_from_searching` says whether it was the
//!   last). A task that runs alone, such as a chain of spawns handed
//!   through one worker's LIFO slot, so keeps one worker awake, not two.
//! - **No lost wake-up.** A pusher pushes, then (`SeqCst`) reads the word. A
//!   worker about to park changes the word (`SeqCst`) and, if it was the
//!   last searcher, looks at every queue once more. In the single total
//!   order of `SeqCst` operations either the pusher's read comes after the
//!   parker's change, and it sees no searcher and wakes someone, or it comes
//!   before, and then the parker's second look sees the push. The last
//!   searcher to find work does the same: it stops counting as a searcher,
//!   then looks again, and wakes a worker if the push is there. A worker
//!   that parks without searching (half the workers searched when it
//!   looked) leaves the work to the searchers; but if none is left when it
//!   counts itself parked, they may have stopped before a push they never
//!   saw, so it looks again too. The models in `loom_tests.rs` check it.
//! - **One exception, bounded.** A task that yields is queued after its
//!   poll, and onto a deque that already holds work it wakes no one: a
//!   `SeqCst` fence per yield is too much for what it guards against (a
//!   worker that parked just as the push came, while the pusher runs its
//!   own deque anyway). Every worker offers its surplus every
//!   `event_interval` polls (`share_work`), which bounds how long another
//!   worker can sleep beside a busy deque.

use std::fmt;

use crate::loom::atomic::{AtomicUsize, Ordering::SeqCst, fence};
use crate::loom::sync::{Mutex, MutexGuard, PoisonError};

/// Bits of the word that count searching workers; the rest count unparked
/// ones.
const SEARCH_BITS: u32 = 16;
const SEARCH_MASK: usize = (1 << SEARCH_BITS) - 1;
const ONE_UNPARKED: usize = 1 << SEARCH_BITS;
const ONE_SEARCHING: usize = 1;

/// The idle accounting of one pool; see the [module docs](self).
pub(crate) struct Idle {
    /// `unparked << SEARCH_BITS | searching`.
    state: AtomicUsize,
    /// The parked workers, most recent last.
    sleepers: Mutex<Vec<usize>>,
    workers: usize,
}

impl Idle {
    /// Accounting for `workers` workers, all unparked, none searching.
    pub(crate) fn new(workers: usize) -> Idle {
        assert!(
            workers > 0 && workers < SEARCH_MASK,
            "pollen: bad worker count"
        );
        Idle {
            state: AtomicUsize::new(workers << SEARCH_BITS),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            workers,
        }
    }

    fn sleepers(&self) -> MutexGuard<'_, Vec<usize>> {
        // No critical section here can panic halfway.
        self.sleepers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a pusher should wake someone: no one searches, and someone
    /// sleeps.
    fn should_notify(&self) -> bool {
        let state = self.state.load(SeqCst);
        state & SEARCH_MASK == 0 && state >> SEARCH_BITS < self.workers
    }

    /// Called after handing work over: picks a parked worker to wake (the
    /// caller unparks it), counted unparked and searching from now on.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        // Orders the caller's push before the look at the word.
        fence(SeqCst);
        if !self.should_notify() {
            return None;
        }
        let mut sleepers = self.sleepers();
        // Again under the lock: another pusher may have woken the searcher
        // meanwhile.
        if !self.should_notify() {
            return None;
        }
        let worker = sleepers.pop()?;
        self.state.fetch_add(ONE_UNPARKED | ONE_SEARCHING, SeqCst);
        Some(worker)
    }

    /// Starts a search, unless half the workers already search.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * (state & SEARCH_MASK) >= self.workers {
            return false;
        }
        // Two workers may both pass the check: a bound broken by one is
        // harmless, and a compare-and-swap loop here costs more than it
        // saves.
        self.state.fetch_add(ONE_SEARCHING, SeqCst);
        true
    }

    /// Ends a search that found work; returns whether this was the last
    /// searcher. The caller must then look at every queue once more, as a
    /// parking last searcher does, and wake another worker if work is left:
    /// pushers that saw it searching left their work to it.
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(ONE_SEARCHING, SeqCst);
        debug_assert!(prev & SEARCH_MASK > 0);
        let last = prev & SEARCH_MASK == 1;
        if last {
            // Orders the caller's look after the change, as in
            // `transition_worker_to_parked`.
            fence(SeqCst);
        }
        last
    }

    /// Records `worker` as parked. Returns whether no worker searches now
    /// (it was the last searcher, or it did not search and the searchers
    /// it saw have stopped): the caller must then look at every queue once
    /// more (see the rules).
    pub(crate) fn transition_worker_to_parked(&self, worker: usize, searching: bool) -> bool {
        let mut sleepers = self.sleepers();
        let dec = ONE_UNPARKED | if searching { ONE_SEARCHING } else { 0 };
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(worker);
        // Orders the caller's second look at the queues after the change:
        // the pusher's side is its push, a fence, and a look at the word
        // (see `worker_to_notify`). Without it, both looks may miss the
        // other's write (the models find that interleaving).
        fence(SeqCst);
        prev & SEARCH_MASK == usize::from(searching)
    }

    /// Records `worker`, woken by something else than a notification (I/O,
    /// a timer, its own local task), as unparked and not searching. Returns
    /// `false` if a notification had already done so.
    pub(crate) fn unpark_worker_by_id(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers();
        let Some(at) = sleepers.iter().position(|&w| w == worker) else {
            return false;
        };
        sleepers.swap_remove(at);
        self.state.fetch_add(ONE_UNPARKED, SeqCst);
        true
    }

    /// Whether `worker` is still recorded as parked (no notification took
    /// it off the list).
    pub(crate) fn is_parked(&self, worker: usize) -> bool {
        self.sleepers().contains(&worker)
    }

    /// Workers not parked now.
    pub(crate) fn num_unparked(&self) -> usize {
        self.state.load(SeqCst) >> SEARCH_BITS
    }

    /// Workers searching now.
    pub(crate) fn num_searching(&self) -> usize {
        self.state.load(SeqCst) & SEARCH_MASK
    }
}

impl fmt::Debug for Idle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idle")
            .field("workers", &self.workers)
            .field("unparked", &self.num_unparked())
            .field("searching", &self.num_searching())
            .finish()
    }
}
