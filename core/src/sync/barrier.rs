//! `Barrier`: tasks wait until a given number of them have arrived.

use core::fmt;

use super::blocking_mutex::Mutex;
use super::{DefaultRawMutex, Notify, RawMutex};

/// Makes `n` tasks wait for each other: [`wait`](Barrier::wait) returns
/// once `n` tasks have called it, then the barrier is ready for the next
/// round. Needs no heap.
///
/// # Examples
///
/// ```
/// use pollen_core::executor::Executor;
/// use pollen_core::sync::Barrier;
/// use core::sync::atomic::{AtomicUsize, Ordering};
///
/// static EXECUTOR: Executor = Executor::new();
/// static START: Barrier = Barrier::new(3);
/// static LEADERS: AtomicUsize = AtomicUsize::new(0);
///
/// for _ in 0..3 {
///     drop(EXECUTOR.spawn(async {
///         if START.wait().await.is_leader() {
///             LEADERS.fetch_add(1, Ordering::SeqCst);
///         }
///     }));
/// }
/// EXECUTOR.run_until_stalled();
/// assert_eq!(LEADERS.load(Ordering::SeqCst), 1);
/// ```
pub struct Barrier<M = DefaultRawMutex> {
    state: Mutex<M, State>,
    released: Notify<M>,
    n: usize,
}

struct State {
    arrived: usize,
    /// Bumped each time a round completes.
    round: u64,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this task completed the round (exactly one per round).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

// === impl Barrier ===

impl Barrier<DefaultRawMutex> {
    /// A barrier for `n` tasks (`0` behaves as `1`), on the default lock.
    /// Usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new(n: usize) -> Self {
        Barrier::with_raw_mutex(n)
    }

    /// A barrier for `n` tasks (not `const` under loom).
    #[cfg(loom)]
    pub fn new(n: usize) -> Self {
        Barrier::with_raw_mutex(n)
    }
}

impl<M: RawMutex> Barrier<M> {
    /// A barrier for `n` tasks (`0` behaves as `1`), on the lock `M`.
    #[cfg(not(loom))]
    pub const fn with_raw_mutex(n: usize) -> Self {
        Barrier {
            state: Mutex::new(State {
                arrived: 0,
                round: 0,
            }),
            released: Notify::with_raw_mutex(),
            n: if n == 0 { 1 } else { n },
        }
    }

    /// A barrier for `n` tasks on the lock `M` (not `const` under loom).
    #[cfg(loom)]
    pub fn with_raw_mutex(n: usize) -> Self {
        Barrier {
            state: Mutex::new(State {
                arrived: 0,
                round: 0,
            }),
            released: Notify::with_raw_mutex(),
            n: if n == 0 { 1 } else { n },
        }
    }

    /// Waits until `n` tasks have called `wait` in this round.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a task cancelled while waiting still counts as
    /// arrived for this round.
    pub async fn wait(&self) -> BarrierWaitResult {
        let n = self.n;
        // Made before arriving: a release right after our arrival is seen.
        let mut notified = core::pin::pin!(self.released.notified());
        let round = self.state.lock(|s| {
            s.arrived += 1;
            if s.arrived == n {
                s.arrived = 0;
                s.round += 1;
                None
            } else {
                Some(s.round)
            }
        });
        let Some(round) = round else {
            self.released.notify_waiters();
            return BarrierWaitResult(true);
        };
        loop {
            notified.as_mut().await;
            // The next `Notified` first, then the check: a round that
            // completes in between is seen by one or the other.
            notified.set(self.released.notified());
            if self.state.lock(|s| s.round) != round {
                return BarrierWaitResult(false);
            }
        }
    }
}

impl<M> fmt::Debug for Barrier<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}
