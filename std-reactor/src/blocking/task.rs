//! `BlockingTask`: a blocking closure dressed as a future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future that runs its closure to completion on its first poll.
///
/// Spawned as a core task on the [`BlockingPool`](super::BlockingPool), so
/// the core catches a panic in the closure and reports it through the
/// task's `JoinHandle`. Dropping it without polling drops the closure.
pub(crate) struct BlockingTask<F>(Option<F>);

// The closure is only ever moved out, never pinned in place.
impl<F> Unpin for BlockingTask<F> {}

// === impl BlockingTask ===

impl<F> BlockingTask<F> {
    /// Wraps `f`; nothing runs until the first poll.
    pub(crate) fn new(f: F) -> BlockingTask<F> {
        BlockingTask(Some(f))
    }
}

impl<F, R> Future for BlockingTask<F>
where
    F: FnOnce() -> R,
{
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("pollen: BlockingTask polled after it completed");
        Poll::Ready(f())
    }
}

impl<F> std::fmt::Debug for BlockingTask<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingTask")
            .field("started", &self.0.is_none())
            .finish()
    }
}
