//! [`pending`]: a future that never completes.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::future::FusedFuture;

/// Creates a future that never completes.
///
/// Every poll returns [`Poll::Pending`] without touching the waker, so a
/// task awaiting it is never woken by it.
///
/// # Examples
///
/// ```
/// use core::future::Future;
/// use core::task::{Context, Poll, Waker};
/// use pollen_core::future::pending;
///
/// let mut fut = core::pin::pin!(pending::<u32>());
/// let mut cx = Context::from_waker(Waker::noop());
/// for _ in 0..3 {
///     assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
/// }
/// ```
pub fn pending<T>() -> Pending<T> {
    Pending {
        _output: PhantomData,
    }
}

/// Future returned by [`pending`].
///
/// It is `Send`, `Sync` and `Unpin` whatever `T` is: it never holds a `T`.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Pending<T> {
    _output: PhantomData<fn() -> T>,
}

// === impl Pending ===

impl<T> Future for Pending<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        Poll::Pending
    }
}

impl<T> FusedFuture for Pending<T> {
    /// Always `true`, as in `futures-util`: the future will never complete,
    /// so there is no point in polling it (doing so is harmless).
    fn is_terminated(&self) -> bool {
        true
    }
}

impl<T> fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pending")
    }
}

impl<T> Clone for Pending<T> {
    fn clone(&self) -> Self {
        pending()
    }
}
