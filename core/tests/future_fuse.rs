//! `Fuse`: completes once, then stays pending and reports termination.

mod future_support;

use core::pin::pin;
use core::task::Poll;

use future_support::{CountFuture, CountWaker, Stats, poll_once};
use futures_core::future::FusedFuture;
use pollen_core::future::{Fuse, Ready, fuse, ready};

#[test]
fn pending_after_completion_and_inner_dropped_at_once() {
    let stats = Stats::new(1);
    let (counter, waker) = CountWaker::new();
    let mut fut = pin!(fuse(CountFuture::new(&stats, 0, 2, 5)));
    assert!(!fut.is_terminated());
    assert!(poll_once(fut.as_mut(), &waker).is_pending());
    assert_eq!(counter.wakes(), 1);
    assert!(!fut.is_terminated());
    let Poll::Ready(out) = poll_once(fut.as_mut(), &waker) else {
        panic!("not ready on the second poll");
    };
    assert_eq!(out.value, 5);
    assert!(fut.is_terminated());
    // The inner future is gone before the `Fuse` is.
    assert_eq!(stats.future_drops(), [1]);
    for _ in 0..3 {
        assert!(poll_once(fut.as_mut(), &waker).is_pending());
    }
    // Never polled again (CountFuture would also panic), no extra wake-ups.
    assert_eq!(stats.polls(), [2]);
    assert_eq!(counter.wakes(), 1);
    drop(out);
    assert_eq!(stats.output_drops(), [1]);
    assert_eq!(stats.future_drops(), [1]);
}

#[test]
fn dropping_an_unfinished_fuse_drops_the_inner_future_once() {
    let stats = Stats::new(1);
    let (_, waker) = CountWaker::new();
    {
        let mut fut = pin!(Fuse::new(CountFuture::new(&stats, 0, 0, 0)));
        assert!(poll_once(fut.as_mut(), &waker).is_pending());
        assert_eq!(stats.future_drops(), [0]);
    }
    assert_eq!(stats.polls(), [1]);
    assert_eq!(stats.future_drops(), [1]);
}

#[test]
fn terminated_never_completes_and_can_be_rearmed() {
    let (_, waker) = CountWaker::new();
    let mut fut = pin!(Fuse::<Ready<u8>>::terminated());
    assert!(fut.is_terminated());
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Pending);
    fut.set(fuse(ready(9)));
    assert!(!fut.is_terminated());
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready(9));
    assert!(fut.is_terminated());
}

#[test]
fn unpin_when_inner_is() {
    fn assert_unpin<T: Unpin>(_: &T) {}
    let fut = fuse(ready(1));
    assert_unpin(&fut);
}

/// A stream of `0..n` that panics if polled after it ended, and counts its
/// polls and drops.
struct Count<'a> {
    next: u32,
    end: u32,
    ended: bool,
    polls: &'a core::cell::Cell<u32>,
    drops: &'a core::cell::Cell<u32>,
}

impl futures_core::Stream for Count<'_> {
    type Item = u32;

    fn poll_next(
        mut self: core::pin::Pin<&mut Self>,
        _: &mut core::task::Context<'_>,
    ) -> Poll<Option<u32>> {
        assert!(!self.ended, "polled after it ended");
        self.polls.set(self.polls.get() + 1);
        if self.next == self.end {
            self.ended = true;
            return Poll::Ready(None);
        }
        self.next += 1;
        Poll::Ready(Some(self.next - 1))
    }
}

impl Drop for Count<'_> {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

#[test]
fn fused_stream_ends_once_and_drops_the_inner_stream() {
    use futures_core::Stream;
    use futures_core::stream::FusedStream;

    let polls = core::cell::Cell::new(0);
    let drops = core::cell::Cell::new(0);
    let mut stream = Box::pin(Fuse::new(Count {
        next: 0,
        end: 2,
        ended: false,
        polls: &polls,
        drops: &drops,
    }));
    let waker = core::task::Waker::noop();
    let mut cx = core::task::Context::from_waker(waker);
    assert_eq!(stream.as_mut().poll_next(&mut cx), Poll::Ready(Some(0)));
    assert_eq!(stream.as_mut().poll_next(&mut cx), Poll::Ready(Some(1)));
    assert!(!stream.is_terminated());
    assert_eq!(stream.as_mut().poll_next(&mut cx), Poll::Ready(None));
    assert!(stream.is_terminated());
    assert_eq!(drops.get(), 1, "the inner stream is dropped when it ends");
    assert_eq!(stream.size_hint(), (0, Some(0)));
    for _ in 0..3 {
        assert_eq!(stream.as_mut().poll_next(&mut cx), Poll::Ready(None));
    }
    assert_eq!(polls.get(), 3, "never polled after it ended");
    drop(stream);
    assert_eq!(drops.get(), 1);
}
