//! `Notify`: wake one task, or all, without data.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::blocking_mutex::Mutex;
use super::wait_queue::{WaitQueue, Waiter, WakeList};
use super::{DefaultRawMutex, RawMutex};

/// Wakes waiting tasks: [`notify_one`](Notify::notify_one) the one that
/// waited longest, [`notify_waiters`](Notify::notify_waiters) all that wait.
///
/// `notify_one` with no task waiting stores a permit (at most one), which
/// the next [`notified`](Notify::notified) consumes at once: a notification
/// sent just before the receiver starts waiting is not lost.
/// `notify_waiters` stores nothing: it wakes the futures that exist when it
/// is called (even those not polled yet).
///
/// Waiters are served in FIFO order. Needs no heap: each waiter's node
/// lives in its `Notified` future. `M` is the lock (see
/// [`RawMutex`]); the default spins.
///
/// # Examples
///
/// ```
/// use pollen_core::sync::Notify;
///
/// static READY: Notify = Notify::new();
///
/// READY.notify_one(); // no one waits yet: a permit is stored
/// let notified = READY.notified();
/// # let mut notified = core::pin::pin!(notified);
/// # let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// # use core::future::Future;
/// assert!(notified.as_mut().poll(&mut cx).is_ready()); // consumed at once
/// ```
pub struct Notify<M = DefaultRawMutex> {
    state: Mutex<M, State>,
}

struct State {
    /// A `notify_one` is stored for the next waiter.
    permit: bool,
    /// Bumped by every `notify_waiters`.
    generation: usize,
    waiters: WaitQueue<Waiting>,
}

/// What a waiter was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Given {
    Nothing,
    /// A `notify_one`: given on if the future goes without seeing it.
    One,
    /// A `notify_waiters`.
    All,
}

/// Per-waiter data.
struct Waiting {
    given: Given,
    /// The generation when the waiter was queued.
    generation: usize,
}

/// The future of [`Notify::notified`].
///
/// # Cancel safety
///
/// Dropping it loses nothing: a `notify_one` it was given but had not
/// returned yet goes on to the next waiter (or is stored as the permit).
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Notified<'a, M: RawMutex = DefaultRawMutex> {
    notify: &'a Notify<M>,
    /// The generation when the future was made.
    generation: usize,
    step: Step,
    /// Pinned: linked into the notify's queue while `step` is `Waiting`.
    waiter: Waiter<Waiting>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Init,
    Waiting,
    Done,
}

// === impl Notify ===

impl Notify<DefaultRawMutex> {
    /// A `Notify` with no permit stored, on the default lock. Usable in a
    /// `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Notify::with_raw_mutex()
    }

    /// A `Notify` with no permit stored (not `const` under loom).
    #[cfg(loom)]
    pub fn new() -> Self {
        Notify::with_raw_mutex()
    }
}

impl<M: RawMutex> Notify<M> {
    /// A `Notify` with no permit stored, on the lock `M`.
    #[cfg(not(loom))]
    pub const fn with_raw_mutex() -> Self {
        Notify {
            state: Mutex::new(State::new()),
        }
    }

    /// A `Notify` on the lock `M` (not `const` under loom).
    #[cfg(loom)]
    pub fn with_raw_mutex() -> Self {
        Notify {
            state: Mutex::new(State::new()),
        }
    }

    /// A future that completes at the next `notify_one` (or at once with a
    /// stored permit), or at a `notify_waiters` made after this call.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`Notified`].
    pub fn notified(&self) -> Notified<'_, M> {
        Notified {
            notify: self,
            generation: self.state.lock(|s| s.generation),
            step: Step::Init,
            waiter: Waiter::new(Waiting {
                given: Given::Nothing,
                generation: 0,
            }),
        }
    }

    /// Wakes the task that has waited longest, or, if none waits, stores a
    /// permit for the next `notified()` (one at most: permits do not add up).
    ///
    /// Made while a [`notify_waiters`](Notify::notify_waiters) runs, it is
    /// never spent on a task that call owes a wake-up: it goes to a task
    /// that started waiting since, or is stored.
    pub fn notify_one(&self) {
        let mut wake = WakeList::new();
        while let NotifyOne::WakeListFull = self.state.lock(|s| s.notify_one(&mut wake)) {
            wake.wake_all();
        }
        wake.wake_all();
    }

    /// Wakes every task waiting now, and completes every `Notified` made
    /// before this call. Stores no permit.
    pub fn notify_waiters(&self) {
        let mut wake = WakeList::new();
        self.state
            .lock(|s| s.generation = s.generation.wrapping_add(1));
        loop {
            // Waiters queued before the bump are at the front (FIFO); any
            // queued since have the current generation and stay. (Compared
            // with the current one, not ours: after a later call's bump, a
            // waiter queued since is not ours to wake.)
            let more = self.state.lock(|s| {
                while wake.can_push() {
                    let Some(front) = s.waiters.front() else {
                        return false;
                    };
                    let current = s.generation;
                    // SAFETY: we hold the lock; `front` is in the queue.
                    let older = unsafe { front.as_ref().with(|w| w.data.generation != current) };
                    if !older {
                        return false;
                    }
                    // SAFETY: as above.
                    let waiter = unsafe { s.waiters.pop_front() }.expect("front exists");
                    // SAFETY: as above; just unlinked, still live (its owner
                    // takes the lock before it goes).
                    wake.push(unsafe {
                        waiter.as_ref().with(|w| {
                            w.data.given = Given::All;
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

impl Default for Notify<DefaultRawMutex> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> fmt::Debug for Notify<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify").finish_non_exhaustive()
    }
}

impl State {
    const fn new() -> State {
        State {
            permit: false,
            generation: 0,
            waiters: WaitQueue::new(),
        }
    }

    /// `notify_one` under the lock: the wakers to wake go into `wake`.
    ///
    /// Waiters queued before the latest `notify_waiters` (an older
    /// generation, so at the front) are owed its wake-up, which that call
    /// may not have handed out yet: spending the notification on one of
    /// them would lose it. They are given that wake-up here instead, as
    /// `notify_waiters` would, and passed over.
    fn notify_one(&mut self, wake: &mut WakeList) -> NotifyOne {
        let current = self.generation;
        loop {
            if !wake.can_push() {
                return NotifyOne::WakeListFull;
            }
            // SAFETY: the caller holds the lock.
            let Some(waiter) = (unsafe { self.waiters.pop_front() }) else {
                self.permit = true;
                return NotifyOne::Done;
            };
            // SAFETY: as above; just unlinked, still live (its owner takes
            // the lock before it goes).
            let given = unsafe {
                waiter.as_ref().with(|w| {
                    w.data.given = if w.data.generation == current {
                        Given::One
                    } else {
                        Given::All
                    };
                    wake.push(w.waker.take());
                    w.data.given
                })
            };
            if given == Given::One {
                return NotifyOne::Done;
            }
        }
    }
}

/// What [`State::notify_one`] did.
#[must_use]
enum NotifyOne {
    /// A waiter was given the notification, or the permit was stored.
    Done,
    /// `wake` filled up with waiters owed a `notify_waiters` first: wake
    /// them, lock again and call again.
    WakeListFull,
}

// === impl Notified ===

impl<M: RawMutex> Future for Notified<'_, M> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `waiter` is never moved out; `Drop` unlinks it first.
        let this = unsafe { self.get_unchecked_mut() };
        let generation = this.generation;
        let waiter = &this.waiter;
        let step = &mut this.step;
        this.notify.state.lock(|s| match *step {
            Step::Done => Poll::Ready(()),
            Step::Init => {
                if s.generation != generation {
                    // A `notify_waiters` since this future was made: done
                    // already, so a stored permit is left for the next.
                    *step = Step::Done;
                    return Poll::Ready(());
                }
                if s.permit {
                    s.permit = false;
                    *step = Step::Done;
                    return Poll::Ready(());
                }
                // SAFETY: we hold the lock; the waiter is in no queue, and
                // stays pinned in this future, whose `Drop` unlinks it.
                unsafe {
                    waiter.with(|w| {
                        w.data.generation = generation;
                        w.set_waker(cx.waker());
                    });
                    s.waiters.push_back(waiter.ptr());
                }
                *step = Step::Waiting;
                Poll::Pending
            }
            Step::Waiting => {
                // SAFETY: we hold the lock.
                let given = unsafe {
                    waiter.with(|w| {
                        if w.data.given == Given::Nothing {
                            w.set_waker(cx.waker());
                        }
                        w.data.given
                    })
                };
                if given == Given::Nothing {
                    return Poll::Pending;
                }
                *step = Step::Done;
                Poll::Ready(())
            }
        })
    }
}

impl<M: RawMutex> Drop for Notified<'_, M> {
    fn drop(&mut self) {
        if self.step != Step::Waiting {
            return;
        }
        let waiter = &self.waiter;
        let given = self.notify.state.lock(|s| {
            // SAFETY: we hold the lock; the waiter is in this queue or in
            // none.
            if unsafe { s.waiters.remove(waiter.ptr()) } {
                return Given::Nothing;
            }
            // SAFETY: we hold the lock.
            unsafe { waiter.with(|w| w.data.given) }
        });
        // Unlinked by a notifier: a `notify_one` we never returned goes on,
        // so it is not lost.
        if given == Given::One {
            self.notify.notify_one();
        }
    }
}

impl<M: RawMutex> fmt::Debug for Notified<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

// SAFETY: the waiter's state is only touched under the notify's lock, which
// is `Sync` when `M` is; wakers are `Send`.
unsafe impl<M: RawMutex + Sync> Send for Notified<'_, M> {}
// SAFETY: `&Notified` exposes nothing.
unsafe impl<M: RawMutex + Sync> Sync for Notified<'_, M> {}
