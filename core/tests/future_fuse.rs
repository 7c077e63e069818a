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
