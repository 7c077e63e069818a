//! [`poll_fn`]: a future built from a closure.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Creates a future whose [`poll`](Future::poll) calls `f`.
///
/// Every poll of the returned [`PollFn`] calls `f` once with the caller's
/// [`Context`]; the future completes with the value of the first
/// [`Poll::Ready`] that `f` returns. Like any future it must not be polled
/// again after that (this one would simply call `f` again).
///
/// `f` is never pinned: the closure is called through `&mut F`. So that a
/// closure may still rely on its captures staying put once polled (as
/// `core::future::poll_fn` allows), [`PollFn<F>`] is [`Unpin`] only when `F`
/// is.
///
/// # Cancel safety
///
/// Dropping the future drops `f` and whatever it captured; nothing else
/// happens.
///
/// # Examples
///
/// ```
/// use core::task::Poll;
/// use pollen_core::future::poll_fn;
/// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop { if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
///
/// let mut polls = 0;
/// let fut = poll_fn(|cx| {
///     polls += 1;
///     if polls < 3 {
///         cx.waker().wake_by_ref();
///         Poll::Pending
///     } else {
///         Poll::Ready(polls)
///     }
/// });
/// assert_eq!(block_on(fut), 3);
/// ```
pub fn poll_fn<T, F>(f: F) -> PollFn<F>
where
    F: FnMut(&mut Context<'_>) -> Poll<T>,
{
    PollFn { f }
}

/// Future returned by [`poll_fn`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct PollFn<F> {
    f: F,
}

// === impl PollFn ===

impl<F: Unpin> Unpin for PollFn<F> {}

impl<F> fmt::Debug for PollFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollFn").finish_non_exhaustive()
    }
}

impl<T, F> Future for PollFn<F>
where
    F: FnMut(&mut Context<'_>) -> Poll<T>,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        // SAFETY: `f` is not structurally pinned: we never hand out a
        // `Pin<&mut F>`, and calling the closure through `&mut F` does not
        // move it. We move nothing out of `self` either, so the pinning
        // promise made to the caller holds.
        let f = unsafe { &mut self.get_unchecked_mut().f };
        f(cx)
    }
}
