//! [`yield_now`]: give the executor a chance to run other tasks.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::future::FusedFuture;

/// Yields once to the executor.
///
/// The first poll wakes the task's waker and returns [`Poll::Pending`]; the
/// second returns [`Poll::Ready`]. Whether other tasks actually run in between
/// is up to the executor: it sees a task that woke itself, and a fair
/// executor queues it behind the tasks already waiting.
///
/// # Cancel safety
///
/// Cancel safe: the future holds no state besides whether it has yielded.
///
/// # Examples
///
/// ```
/// use pollen_core::future::yield_now;
/// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
///
/// block_on(async {
///     for _ in 0..3 {
///         // ... a slice of long-running work ...
///         yield_now().await;
///     }
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { state: State::Init }
}

/// Future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct YieldNow {
    state: State,
}

/// Where a [`YieldNow`] is in its two polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not polled yet.
    Init,
    /// Woke the waker and returned `Pending` once.
    Yielded,
    /// Returned `Ready`; polling again returns `Ready` again.
    Done,
}

// === impl YieldNow ===

impl Future for YieldNow {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match this.state {
            State::Init => {
                this.state = State::Yielded;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            State::Yielded | State::Done => {
                this.state = State::Done;
                Poll::Ready(())
            }
        }
    }
}

impl FusedFuture for YieldNow {
    fn is_terminated(&self) -> bool {
        self.state == State::Done
    }
}
