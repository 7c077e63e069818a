//! `Semaphore`: a count of permits, handed out in FIFO order.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::blocking_mutex::Mutex;
use super::wait_queue::{WaitQueue, Waiter, WakeList};
use super::{RawMutex, SpinRawMutex};

/// A count of permits that tasks acquire and release.
///
/// Strictly FIFO: a waiter is served only when every waiter before it has
/// been, so a task asking for many permits is never starved by a stream of
/// tasks asking for few (they wait behind it). Needs no heap: each waiter's
/// node lives in its `Acquire` future. `M` is the lock (see [`RawMutex`]);
/// the default spins.
///
/// # Examples
///
/// ```
/// use pollen_core::sync::Semaphore;
///
/// static SLOTS: Semaphore = Semaphore::new(2);
///
/// let a = SLOTS.try_acquire().unwrap();
/// let b = SLOTS.try_acquire().unwrap();
/// assert!(SLOTS.try_acquire().is_err()); // no permit left
/// drop(a); // gives its permit back
/// assert_eq!(SLOTS.available_permits(), 1);
/// # drop(b);
/// ```
pub struct Semaphore<M = SpinRawMutex> {
    state: Mutex<M, State>,
}

struct State {
    permits: usize,
    closed: bool,
    waiters: WaitQueue<Request>,
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

/// The semaphore was closed ([`Semaphore::close`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

/// Why [`Semaphore::try_acquire`] gave no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits now (or tasks wait before this one).
    NoPermits,
}

/// Permits acquired from a [`Semaphore`]; dropping it gives them back.
#[must_use = "dropping a permit gives it back at once"]
pub struct SemaphorePermit<'a, M: RawMutex = SpinRawMutex> {
    semaphore: &'a Semaphore<M>,
    permits: usize,
}

/// The future of [`Semaphore::acquire`] and
/// [`acquire_many`](Semaphore::acquire_many).
///
/// # Cancel safety
///
/// Dropping it loses no permit: permits granted to it that it had not
/// returned yet go back to the semaphore (and on to the next waiter), and
/// its place in the queue is given up.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Acquire<'a, M: RawMutex = SpinRawMutex> {
    semaphore: &'a Semaphore<M>,
    wanted: usize,
    queued: bool,
    /// Pinned: linked into the semaphore's queue while `queued`.
    waiter: Waiter<Request>,
}

// === impl Semaphore ===

impl Semaphore<SpinRawMutex> {
    /// A semaphore with `permits` permits, on the default lock. Usable in a
    /// `static`.
    #[cfg(not(loom))]
    pub const fn new(permits: usize) -> Self {
        Semaphore::with_raw_mutex(permits)
    }

    /// A semaphore with `permits` permits (not `const` under loom).
    #[cfg(loom)]
    pub fn new(permits: usize) -> Self {
        Semaphore::with_raw_mutex(permits)
    }
}

impl<M: RawMutex> Semaphore<M> {
    /// A semaphore with `permits` permits, on the lock `M`.
    #[cfg(not(loom))]
    pub const fn with_raw_mutex(permits: usize) -> Self {
        Semaphore {
            state: Mutex::new(State::new(permits)),
        }
    }

    /// A semaphore on the lock `M` (not `const` under loom).
    #[cfg(loom)]
    pub fn with_raw_mutex(permits: usize) -> Self {
        Semaphore {
            state: Mutex::new(State::new(permits)),
        }
    }

    /// Waits for one permit. `Err` if the semaphore is closed.
    pub fn acquire(&self) -> Acquire<'_, M> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits, all at once. `Err` if the semaphore is closed.
    /// Asking for zero completes at once (in FIFO order all the same).
    pub fn acquire_many(&self, n: usize) -> Acquire<'_, M> {
        Acquire {
            semaphore: self,
            wanted: n,
            queued: false,
            waiter: Waiter::new(Request {
                wanted: n,
                outcome: Outcome::Waiting,
            }),
        }
    }

    /// One permit if there is one now and no task waits before.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] or [`TryAcquireError::Closed`].
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_, M>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// `n` permits if there are that many now and no task waits before.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] or [`TryAcquireError::Closed`].
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_, M>, TryAcquireError> {
        self.state.lock(|s| {
            if s.closed {
                Err(TryAcquireError::Closed)
            } else if s.waiters.is_empty() && s.permits >= n {
                s.permits -= n;
                Ok(SemaphorePermit {
                    semaphore: self,
                    permits: n,
                })
            } else {
                Err(TryAcquireError::NoPermits)
            }
        })
    }

    /// Adds `n` permits, waking the waiters they satisfy.
    ///
    /// # Panics
    ///
    /// If the count would overflow `usize`.
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }

    /// The permits free now.
    pub fn available_permits(&self) -> usize {
        self.state.lock(|s| s.permits)
    }

    /// Closes the semaphore: every waiter and every later `acquire` gets
    /// `Err(AcquireError)`. Permits held stay valid and can be dropped.
    pub fn close(&self) {
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

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.state.lock(|s| s.closed)
    }

    /// Gives `n` permits back and serves waiters in order while the front
    /// one can be satisfied.
    fn release(&self, n: usize) {
        let mut wake = WakeList::new();
        let mut to_add = n;
        loop {
            let more = self.state.lock(|s| {
                s.permits = s
                    .permits
                    .checked_add(core::mem::take(&mut to_add))
                    .expect("pollen: Semaphore permit count overflow");
                while wake.can_push() {
                    let Some(front) = s.waiters.front() else {
                        return false;
                    };
                    // SAFETY: we hold the lock; `front` is in the queue.
                    let wanted = unsafe { front.as_ref().with(|w| w.data.wanted) };
                    if wanted > s.permits {
                        return false;
                    }
                    s.permits -= wanted;
                    // SAFETY: as above.
                    unsafe { s.waiters.pop_front() };
                    // SAFETY: as above; just unlinked, still live.
                    wake.push(unsafe {
                        front.as_ref().with(|w| {
                            w.data.outcome = Outcome::Granted;
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
}

impl<M> fmt::Debug for Semaphore<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").finish_non_exhaustive()
    }
}

impl State {
    const fn new(permits: usize) -> State {
        State {
            permits,
            closed: false,
            waiters: WaitQueue::new(),
        }
    }
}

// === impl SemaphorePermit ===

impl<M: RawMutex> SemaphorePermit<'_, M> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Drops the permits without giving them back: the semaphore has that
    /// many fewer for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl<M: RawMutex> Drop for SemaphorePermit<'_, M> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.release(self.permits);
        }
    }
}

impl<M: RawMutex> fmt::Debug for SemaphorePermit<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

// === impl Acquire ===

impl<'a, M: RawMutex> Future for Acquire<'a, M> {
    type Output = Result<SemaphorePermit<'a, M>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `waiter` is never moved out; `Drop` unlinks it first.
        let this = unsafe { self.get_unchecked_mut() };
        let semaphore = this.semaphore;
        let wanted = this.wanted;
        let waiter = &this.waiter;
        let queued = &mut this.queued;
        let outcome = semaphore.state.lock(|s| {
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
                    if w.data.outcome == Outcome::Waiting {
                        w.set_waker(cx.waker());
                    }
                    w.data.outcome
                })
            }
        });
        match outcome {
            Outcome::Waiting => Poll::Pending,
            Outcome::Granted => {
                *queued = false;
                // The grant is the permit's now: `Drop` has nothing to give back.
                // SAFETY: unlinked by the granter; no one else touches it.
                unsafe { waiter.with(|w| w.data.outcome = Outcome::Waiting) };
                Poll::Ready(Ok(SemaphorePermit {
                    semaphore,
                    permits: wanted,
                }))
            }
            Outcome::Closed => {
                *queued = false;
                Poll::Ready(Err(AcquireError(())))
            }
        }
    }
}

impl<M: RawMutex> Drop for Acquire<'_, M> {
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

impl<M: RawMutex> fmt::Debug for Acquire<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("wanted", &self.wanted)
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

// SAFETY: the waiter's state is only touched under the semaphore's lock,
// which is `Sync` when `M` is; wakers are `Send`.
unsafe impl<M: RawMutex + Sync> Send for Acquire<'_, M> {}
// SAFETY: `&Acquire` exposes nothing.
unsafe impl<M: RawMutex + Sync> Sync for Acquire<'_, M> {}

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
