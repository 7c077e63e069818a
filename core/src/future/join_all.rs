//! [`join_all`]: wait for every future of a collection.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::future::FusedFuture;

use super::join::poll_join_slot;

/// Waits for every future yielded by `iter` and returns their outputs in the
/// order of `iter`, whatever order they complete in.
///
/// The futures live in one pinned heap slice (one allocation for the futures,
/// one for the outputs). Each poll of the [`JoinAll`] polls, in input order,
/// every future that has not completed yet; a completed future is dropped at
/// once and never polled again. An empty input completes on the first poll
/// with an empty `Vec`.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the [`JoinAll`] drops the unfinished futures and
/// the outputs of the finished ones.
///
/// # Examples
///
/// ```
/// use pollen_core::future::{join_all, yield_now};
/// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
///
/// let futures = (0..4).map(|i| async move {
///     // Later inputs finish first.
///     for _ in i..4 {
///         yield_now().await;
///     }
///     i * 10
/// });
/// assert_eq!(block_on(join_all(futures)), [0, 10, 20, 30]);
/// ```
pub fn join_all<I>(iter: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let futures: Box<[Option<I::Item>]> = iter.into_iter().map(Some).collect();
    let outputs = futures.iter().map(|_| None).collect();
    JoinAll {
        remaining: futures.len(),
        futures: Box::into_pin(futures),
        outputs,
        terminated: false,
    }
}

/// Future returned by [`join_all`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct JoinAll<F: Future> {
    /// `Some` while the future at that index runs. Elements are structurally
    /// pinned: see `JoinAll::slot`.
    futures: Pin<Box<[Option<F>]>>,
    /// `Some` once the future at that index has completed.
    outputs: Box<[Option<F::Output>]>,
    /// How many `futures` are still `Some`.
    remaining: usize,
    /// Set once `Ready` has been returned.
    terminated: bool,
}

// === impl JoinAll ===

// The futures are pinned on the heap; the outputs are never pinned.
impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> JoinAll<F> {
    /// Pin projection from the slice to its element `index`.
    fn slot(futures: Pin<&mut [Option<F>]>, index: usize) -> Pin<&mut Option<F>> {
        // SAFETY: the elements of the pinned slice are structurally pinned:
        // the boxed slice is never reallocated, resized or moved out of (the
        // `Box` is only ever used through `Pin`), and a slot is emptied only
        // with `Pin::set`, which drops the future in place.
        unsafe { futures.map_unchecked_mut(|slice| &mut slice[index]) }
    }
}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.terminated, "`JoinAll` polled after completion");
        for (index, output) in this.outputs.iter_mut().enumerate() {
            if output.is_some() {
                continue;
            }
            let slot = Self::slot(this.futures.as_mut(), index);
            if poll_join_slot(slot, output, cx) {
                this.remaining -= 1;
            }
        }
        if this.remaining > 0 {
            return Poll::Pending;
        }
        this.terminated = true;
        let outputs = core::mem::take(&mut this.outputs);
        Poll::Ready(
            outputs
                .into_iter()
                .map(|output| output.expect("every future has completed"))
                .collect(),
        )
    }
}

impl<F: Future> FusedFuture for JoinAll<F> {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl<F: Future> fmt::Debug for JoinAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinAll")
            .field("len", &self.futures.len())
            .field("remaining", &self.remaining)
            .field("terminated", &self.terminated)
            .finish()
    }
}
