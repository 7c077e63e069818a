//! Cooperative scheduling: a budget of operations per task poll.
//!
//! A task whose every `.await` is ready at once (a channel that always
//! holds a message, a socket full of data) never returns `Pending`, so
//! without help it would keep its thread for as long as the data lasts,
//! and timers, I/O and the other tasks queued there would wait. So each
//! poll of a task gets a budget of [`BUDGET`] operations: every channel
//! receive or send, lock or semaphore acquisition, timer, `JoinHandle` and
//! socket operation of pollen spends one unit when it completes, and once
//! the budget is spent they return `Pending` (having woken the task), so
//! the task yields and goes to the back of the queue. An operation that
//! must wait anyway spends nothing.
//!
//! The budget is per thread, set by [`Runnable::run`](super::Runnable::run)
//! around each poll, so every pollen scheduler applies it. It needs the
//! `std` feature (a thread-local); without it every operation proceeds and
//! yielding is left to the tasks ([`yield_now`](crate::future::yield_now)),
//! as on most embedded executors.
//!
//! Leaf futures of other crates can take part with [`poll_proceed`], and
//! any code with [`consume_budget`]. A task that must not be interrupted
//! (rarely right) can run a future [`unconstrained`].

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Operations per task poll.
pub const BUDGET: u8 = 128;

#[cfg(all(feature = "std", not(loom)))]
mod imp {
    use core::cell::Cell;

    std::thread_local! {
        /// `None`: no budget applies (outside a task poll, or
        /// unconstrained); `Some(n)`: `n` operations left.
        static BUDGET: Cell<Option<u8>> = const { Cell::new(None) };
    }

    /// Runs `f` on this thread's budget: one thread-local lookup, however
    /// many reads and writes `f` makes.
    #[inline(always)]
    pub(super) fn with<R>(f: impl FnOnce(&Cell<Option<u8>>) -> R) -> R {
        BUDGET.with(f)
    }
}

#[cfg(not(all(feature = "std", not(loom))))]
mod imp {
    //! No thread-locals (or a loom model, whose threads share the OS
    //! thread's): no budget. Every call sees a fresh `None`.

    use core::cell::Cell;

    #[inline(always)]
    pub(super) fn with<R>(f: impl FnOnce(&Cell<Option<u8>>) -> R) -> R {
        f(&Cell::new(None))
    }
}

/// Runs `f` (one task poll) with a fresh budget; the thread's previous
/// budget comes back afterwards, also on unwind.
#[inline]
pub(crate) fn budgeted<R>(budget: Option<u8>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        #[inline]
        fn drop(&mut self) {
            let previous = self.0;
            imp::with(|b| b.set(previous));
        }
    }
    let _restore = Restore(imp::with(|b| b.replace(budget)));
    f()
}

/// What [`poll_proceed`] returns: one unit of budget, given back when
/// dropped unless the operation [`made_progress`](Self::made_progress).
#[derive(Debug)]
#[must_use = "the unit is given back when this is dropped: call `made_progress` when the \
              operation completes"]
pub struct RestoreOnPending(bool);

impl RestoreOnPending {
    /// The operation completed: the unit stays spent.
    #[inline]
    pub fn made_progress(self) {
        core::mem::forget(self);
    }
}

impl Drop for RestoreOnPending {
    #[inline]
    fn drop(&mut self) {
        // Give the unit back, if one was taken and a budget still applies
        // (operations in between may have spent more: only ours returns).
        if self.0 {
            imp::with(|b| {
                if let Some(left) = b.get() {
                    b.set(Some(left.saturating_add(1)));
                }
            });
        }
    }
}

/// Spends one unit of the task's budget, or, if it is spent, wakes the task
/// and returns `Pending` (the task yields).
///
/// For leaf futures: call it first, do the operation, and call
/// [`RestoreOnPending::made_progress`] if it completed; if it must wait,
/// drop the guard and the unit is given back.
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    let spent = imp::with(|b| match b.get() {
        None => Some(false),
        Some(0) => None,
        Some(left) => {
            b.set(Some(left - 1));
            Some(true)
        }
    });
    match spent {
        Some(spent) => Poll::Ready(RestoreOnPending(spent)),
        None => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// [`poll_proceed`] as a future, for `async fn`s.
pub(crate) async fn proceed() -> RestoreOnPending {
    core::future::poll_fn(poll_proceed).await
}

/// Whether this thread is polling a task (that is not
/// [`unconstrained`]); always `false` without the `std` feature.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) fn in_task_poll() -> bool {
    imp::with(|b| b.get()).is_some()
}

/// Whether the current task poll has budget left (always `true` outside a
/// task, or without the `std` feature).
pub fn has_budget_remaining() -> bool {
    imp::with(|b| b.get()) != Some(0)
}

/// Spends one unit of budget, yielding first if it is spent: for a loop
/// that does work of its own between pollen operations.
///
/// # Cancel safety
///
/// Cancel safe: it holds nothing; a cancelled call has spent no unit.
///
/// # Examples
///
/// ```
/// # async fn example() {
/// for chunk in 0..10_000u32 {
///     let _ = chunk.count_ones(); // some work
///     pollen_core::task::coop::consume_budget().await;
/// }
/// # }
/// ```
pub async fn consume_budget() {
    core::future::poll_fn(|cx| poll_proceed(cx).map(|coop| coop.made_progress())).await;
}

/// Runs `future` with no budget: its operations never make it yield.
///
/// Use sparingly: the task can then hold its thread for as long as its
/// data lasts.
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

/// The future of [`unconstrained`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Unconstrained<F> {
    future: F,
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: never moved out, and
        // `Unconstrained` has no `Drop` and no `Unpin` impl of its own.
        let future = unsafe { self.map_unchecked_mut(|u| &mut u.future) };
        budgeted(None, || future.poll(cx))
    }
}
