//! [`Fuse`]: a future that may be polled after it completed, or a stream
//! that may be polled after it ended.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::future::FusedFuture;
use futures_core::stream::{FusedStream, Stream};

/// Wraps `future` in a [`Fuse`]. Same as [`Fuse::new`].
///
/// # Examples
///
/// ```
/// use core::future::Future;
/// use core::task::{Context, Poll, Waker};
/// use futures_core::future::FusedFuture;
/// use pollen_core::future::{fuse, ready};
///
/// let mut fut = core::pin::pin!(fuse(ready(1)));
/// let mut cx = Context::from_waker(Waker::noop());
/// assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(1));
/// assert!(fut.is_terminated());
/// // Polling again is fine: it stays pending forever.
/// assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
/// ```
pub fn fuse<F: Future>(future: F) -> Fuse<F> {
    Fuse::new(future)
}

/// A future that returns [`Poll::Pending`] forever once the inner future has
/// completed.
///
/// The inner future is dropped as soon as it returns [`Poll::Ready`], and it
/// is never polled again. [`FusedFuture::is_terminated`] tells whether that
/// has happened, which is what a `select!` in a loop needs to skip a branch
/// that has already finished.
///
/// Around a [`Stream`], `Fuse` is a [`FusedStream`]: once the inner stream
/// returns `Ready(None)` it is dropped, and the `Fuse` returns `Ready(None)`
/// on every later poll without touching it.
///
/// `Fuse<F>` is [`Unpin`] when `F` is.
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Fuse<F> {
    /// `Some` until the future completes. Structurally pinned: see
    /// [`Fuse::project`].
    inner: Option<F>,
}

// === impl Fuse ===

impl<F> Fuse<F> {
    /// Wraps `future`.
    pub const fn new(future: F) -> Self {
        Self {
            inner: Some(future),
        }
    }

    /// Returns a `Fuse` that is already terminated: it never completes and
    /// [`is_terminated`](FusedFuture::is_terminated) is `true`.
    ///
    /// Handy for a branch of a `select!` loop that is armed later with
    /// [`Pin::set`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_core::future::FusedFuture;
    /// use pollen_core::future::{Fuse, Ready, ready};
    ///
    /// let mut fut = core::pin::pin!(Fuse::<Ready<u8>>::terminated());
    /// assert!(fut.is_terminated());
    /// fut.set(Fuse::new(ready(3)));
    /// assert!(!fut.is_terminated());
    /// ```
    pub const fn terminated() -> Self {
        Self { inner: None }
    }

    /// Pin projection to the inner slot.
    fn project(self: Pin<&mut Self>) -> Pin<&mut Option<F>> {
        // SAFETY: `inner` is structurally pinned, and the rest of this type
        // keeps the promises that requires:
        // 1. `Fuse` has no `Drop` impl, so nothing moves `inner` out in drop.
        // 2. `Fuse<F>: Unpin` only when `Option<F>: Unpin` (the auto impl).
        // 3. No method moves out of `inner` through a pinned `Fuse`; the slot
        //    is only emptied with `Pin::set`, which drops `F` in place.
        // 4. `Fuse` is not `#[repr(packed)]`.
        unsafe { self.map_unchecked_mut(|this| &mut this.inner) }
    }
}

impl<F: Future> Future for Fuse<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut inner = self.project();
        let Some(future) = inner.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let output = match future.poll(cx) {
            Poll::Ready(output) => output,
            Poll::Pending => return Poll::Pending,
        };
        inner.set(None);
        Poll::Ready(output)
    }
}

impl<F: Future> FusedFuture for Fuse<F> {
    fn is_terminated(&self) -> bool {
        self.inner.is_none()
    }
}

impl<S: Stream> Stream for Fuse<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let mut inner = self.project();
        let Some(stream) = inner.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        let item = match stream.poll_next(cx) {
            Poll::Ready(Some(item)) => return Poll::Ready(Some(item)),
            Poll::Ready(None) => None,
            Poll::Pending => return Poll::Pending,
        };
        inner.set(None);
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            Some(stream) => stream.size_hint(),
            None => (0, Some(0)),
        }
    }
}

impl<S: Stream> FusedStream for Fuse<S> {
    fn is_terminated(&self) -> bool {
        self.inner.is_none()
    }
}
