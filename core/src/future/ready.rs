//! [`ready`]: a future that is immediately ready with a value.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::future::FusedFuture;

/// Creates a future that completes with `value` on its first poll.
///
/// # Examples
///
/// ```
/// use pollen_core::future::ready;
/// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
///
/// assert_eq!(block_on(ready(7)), 7);
/// ```
pub fn ready<T>(value: T) -> Ready<T> {
    Ready(Some(value))
}

/// Future returned by [`ready`].
///
/// Completes on its first poll. Polling it again panics; after completion
/// [`FusedFuture::is_terminated`] is `true`.
#[derive(Debug, Clone)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Ready<T>(Option<T>);

// === impl Ready ===

impl<T> Ready<T> {
    /// Returns the value without polling.
    ///
    /// # Panics
    ///
    /// Panics if the future has already completed.
    #[track_caller]
    pub fn into_inner(self) -> T {
        self.0.expect("`Ready` polled after completion")
    }
}

// The value is never pinned: `poll` moves it out.
impl<T> Unpin for Ready<T> {}

impl<T> Future for Ready<T> {
    type Output = T;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        Poll::Ready(
            self.get_mut()
                .0
                .take()
                .expect("`Ready` polled after completion"),
        )
    }
}

impl<T> FusedFuture for Ready<T> {
    fn is_terminated(&self) -> bool {
        self.0.is_none()
    }
}
