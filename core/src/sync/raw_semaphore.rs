//! The semaphore machinery, with room for its user's own state under the
//! same lock: [`Semaphore`](super::Semaphore) puts nothing there, a bounded
//! channel its ring buffer (its permits are the free slots).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::RawMutex;
use super::blocking_mutex::Mutex;
use super::wait_queue::{WaitQueue, Waiter, WakeList};

/// What the user's state does when permits come back, under the lock: it
/// may hand out a waker to wake (a bounded channel's receiver waits for the
/// last reserved slot to come back after `close`).
pub(crate) trait OnRelease {
    /// Permits were given back: `permits` are free now; `closed` tells
    /// whether the semaphore is closed.
    fn on_release(&mut self, permits: usize, closed: bool) -> Option<core::task::Waker> {
        let _ = (permits, closed);
        None
    }
}

impl OnRelease for () {}

/// Permits in FIFO order, plus the user's state `X`, behind one lock.
pub(crate) struct RawSemaphore<M, X> {
    state: Mutex<M, Shared<X>>,
}

/// What the lock guards.
pub(crate) struct Shared<X> {
    permits: usize,
    closed: bool,
    waiters: WaitQueue<Request>,
    /// The user's state.
    pub(crate) extra: X,
}

/// Per-waiter data: what it asks for and whether it got it.
struct Request {
    wanted: usize,
    outcome: Outcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Waiting,
    /// The permits were taken from the count for this waiter.
    Granted,
    /// The semaphore was closed.
    Closed,
}

/// The semaphore was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(pub(crate) ());

/// Why a `try_acquire` gave no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits now (or tasks wait before this one).
    NoPermits,
}

/// Waits for permits; on `Ready(Ok(()))` they are the caller's (to give
/// back with [`RawSemaphore::release`], or to keep).
pub(crate) struct RawAcquire<'a, M: RawMutex, X: OnRelease> {
    semaphore: &'a RawSemaphore<M, X>,
    wanted: usize,
    queued: bool,
    /// Pinned: linked into the semaphore's queue while `queued`.
    waiter: Waiter<Request>,
}

// === impl RawSemaphore ===

impl<M: RawMutex, X: OnRelease> RawSemaphore<M, X> {
    #[cfg(not(loom))]
    pub(crate) const fn new(permits: usize, extra: X) -> Self {
        RawSemaphore {
            state: Mutex::new(Shared::new(permits, extra)),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new(permits: usize, extra: X) -> Self {
        RawSemaphore {
            state: Mutex::new(Shared::new(permits, extra)),
        }
    }

    pub(crate) fn acquire(&self, n: usize) -> RawAcquire<'_, M, X> {
        RawAcquire {
            semaphore: self,
            wanted: n,
            queued: false,
            waiter: Waiter::new(Request {
                wanted: n,
                outcome: Outcome::Waiting,
            }),
        }
    }

    pub(crate) fn try_acquire(&self, n: usize) -> Result<(), TryAcquireError> {
        self.state.lock(|s| {
            if s.closed {
                Err(TryAcquireError::Closed)
            } else if s.waiters.is_empty() && s.permits >= n {
                s.permits -= n;
                Ok(())
            } else {
                Err(TryAcquireError::NoPermits)
            }
        })
    }

    /// Takes up to `n` of the free permits for good (not those owed to
    /// waiters); returns how many.
    pub(crate) fn forget(&self, n: usize) -> usize {
        self.state.lock(|s| {
            let taken = s.permits.min(n);
            s.permits -= taken;
            taken
        })
    }

    /// [`try_acquire`](Self::try_acquire), then, under the same lock, `f`
    /// with the permits just taken and `value` (as [`with`](Self::with)
    /// runs it): one lock where two would do, for a channel's send when a
    /// slot is free. Without the permits, `value` comes back unused.
    pub(crate) fn try_acquire_with<V, R>(
        &self,
        n: usize,
        value: V,
        f: impl FnOnce(&mut Shared<X>, &mut WakeList, V) -> R,
    ) -> Result<R, (TryAcquireError, V)> {
        let mut wake = WakeList::new();
        let (result, more) = self.state.lock(|s| {
            if s.closed {
                return (Err((TryAcquireError::Closed, value)), false);
            }
            if !s.waiters.is_empty() || s.permits < n {
                return (Err((TryAcquireError::NoPermits, value)), false);
            }
            s.permits -= n;
            let result = f(s, &mut wake, value);
            (Ok(result), s.serve(&mut wake))
        });
        wake.wake_all();
        if more {
            self.release(0);
        }
        result
    }

    pub(crate) fn available(&self) -> usize {
        self.state.lock(|s| s.permits)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock(|s| s.closed)
    }

    /// Runs `f` on the shared state under the lock; wakers it leaves in the
    /// list are woken after the lock is let go, and the release loop goes
    /// on if `f` released permits into waiters beyond one batch.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Shared<X>, &mut WakeList) -> R) -> R {
        let mut wake = WakeList::new();
        let (result, more) = self.state.lock(|s| {
            let result = f(s, &mut wake);
            (result, s.serve(&mut wake))
        });
        wake.wake_all();
        if more {
            self.release(0);
        }
        result
    }

    /// Closes: every waiter and every later acquire fails.
    pub(crate) fn close(&self) {
        let mut wake = WakeList::new();
        loop {
            let more = self.state.lock(|s| {
                s.closed = true;
                while wake.can_push() {
                    // SAFETY: we hold the lock.
                    let Some(waiter) = (unsafe { s.waiters.pop_front() }) else {
                        return false;
                    };
                    // SAFETY: as above; just unlinked, still live.
                    wake.push(unsafe {
                        waiter.as_ref().with(|w| {
                            w.data.outcome = Outcome::Closed;
                            w.waker.take()
                        })
                    });
                }
                true
            });
            wake.wake_all();
            if !more {
                return;
            }
        }
    }

    /// Gives `n` permits back and serves waiters in order while the front
    /// one can be satisfied.
    pub(crate) fn release(&self, n: usize) {
        let mut wake = WakeList::new();
        let mut to_add = n;
        loop {
            let more = self.state.lock(|s| {
                let added = core::mem::take(&mut to_add);
                if added > 0 {
                    s.add(added);
                    // The list is empty on this first round: room for one.
                    let (permits, closed) = (s.permits, s.closed);
                    wake.push(s.extra.on_release(permits, closed));
                }
                s.serve(&mut wake)
            });
            wake.wake_all();
            if !more {
                return;
            }
        }
    }
}

impl<X> Shared<X> {
    const fn new(permits: usize, extra: X) -> Shared<X> {
        Shared {
            permits,
            closed: false,
            waiters: WaitQueue::new(),
            extra,
        }
    }

    /// Permits free now.
    pub(crate) fn permits(&self) -> usize {
        self.permits
    }

    /// Whether the semaphore was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Opens a closed semaphore again with `permits` permits (a `static`
    /// channel reused after all its halves are gone). No one may wait.
    pub(crate) fn reopen(&mut self, permits: usize) {
        debug_assert!(self.waiters.is_empty());
        self.permits = permits;
        self.closed = false;
    }

    /// Adds `n` permits (serving waiters is `serve`'s job).
    pub(crate) fn add(&mut self, n: usize) {
        self.permits = self
            .permits
            .checked_add(n)
            .expect("pollen: semaphore permit count overflow");
    }

    /// Grants permits to waiters in order while the front one can be
    /// satisfied; `true` if the batch of wakers filled up first.
    fn serve(&mut self, wake: &mut WakeList) -> bool {
        while wake.can_push() {
            let Some(front) = self.waiters.front() else {
                return false;
            };
            // SAFETY: the caller holds the lock; `front` is in the queue.
            let wanted = unsafe { front.as_ref().with(|w| w.data.wanted) };
            if wanted > self.permits {
                return false;
            }
            self.permits -= wanted;
            // SAFETY: as above.
            unsafe { self.waiters.pop_front() };
            // SAFETY: as above; just unlinked, still live.
            wake.push(unsafe {
                front.as_ref().with(|w| {
                    w.data.outcome = Outcome::Granted;
                    w.waker.take()
                })
            });
        }
        true
    }
}

impl<M, X> fmt::Debug for RawSemaphore<M, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSemaphore").finish_non_exhaustive()
    }
}

// === impl RawAcquire ===

impl<M: RawMutex, X: OnRelease> Future for RawAcquire<'_, M, X> {
    type Output = Result<(), AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every lock, permit and channel send goes through here: each
        // spends one unit of the task's budget when it completes.
        let coop = core::task::ready!(crate::task::coop::poll_proceed(cx));
        let polled = self.poll_acquire(cx);
        if polled.is_ready() {
            coop.made_progress();
        }
        polled
    }
}

impl<M: RawMutex, X: OnRelease> RawAcquire<'_, M, X> {
    /// `poll`, once the budget allowed it.
    fn poll_acquire(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), AcquireError>> {
        // SAFETY: `waiter` is never moved out; `Drop` unlinks it first.
        let this = unsafe { self.get_unchecked_mut() };
        let wanted = this.wanted;
        let waiter = &this.waiter;
        let queued = &mut this.queued;
        let outcome = this.semaphore.state.lock(|s| {
            if !*queued {
                if s.closed {
                    return Outcome::Closed;
                }
                if s.waiters.is_empty() && s.permits >= wanted {
                    s.permits -= wanted;
                    return Outcome::Granted;
                }
                // SAFETY: we hold the lock; the waiter is in no queue and
                // stays pinned in this future, whose `Drop` unlinks it.
                unsafe {
                    waiter.with(|w| w.set_waker(cx.waker()));
                    s.waiters.push_back(waiter.ptr());
                }
                *queued = true;
                return Outcome::Waiting;
            }
            // SAFETY: we hold the lock.
            unsafe {
                waiter.with(|w| {
                    let outcome = w.data.outcome;
                    match outcome {
                        Outcome::Waiting => w.set_waker(cx.waker()),
                        // Consumed: `Drop` has nothing to give back.
                        _ => w.data.outcome = Outcome::Waiting,
                    }
                    outcome
                })
            }
        });
        match outcome {
            Outcome::Waiting => Poll::Pending,
            Outcome::Granted => {
                *queued = false;
                Poll::Ready(Ok(()))
            }
            Outcome::Closed => {
                *queued = false;
                Poll::Ready(Err(AcquireError(())))
            }
        }
    }
}

impl<M: RawMutex, X: OnRelease> Drop for RawAcquire<'_, M, X> {
    fn drop(&mut self) {
        if !self.queued {
            return;
        }
        let waiter = &self.waiter;
        let granted = self.semaphore.state.lock(|s| {
            // SAFETY: we hold the lock; the waiter is in this queue or none.
            if unsafe { s.waiters.remove(waiter.ptr()) } {
                return 0;
            }
            // SAFETY: as above.
            match unsafe { waiter.with(|w| w.data.outcome) } {
                Outcome::Granted => self.wanted,
                _ => 0,
            }
        });
        // Give back what we were granted but never returned; and if we were
        // the front waiter, the next may be served now either way.
        self.semaphore.release(granted);
    }
}

// SAFETY: the waiter's state is only touched under the semaphore's lock,
// which is `Sync` when `M` is; wakers are `Send`.
unsafe impl<M: RawMutex + Sync, X: OnRelease + Send> Send for RawAcquire<'_, M, X> {}
// SAFETY: `&RawAcquire` exposes nothing.
unsafe impl<M: RawMutex + Sync, X: OnRelease + Send> Sync for RawAcquire<'_, M, X> {}

// === impl errors ===

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl core::error::Error for AcquireError {}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryAcquireError::Closed => "semaphore closed",
            TryAcquireError::NoPermits => "no permits available",
        })
    }
}

impl core::error::Error for TryAcquireError {}
