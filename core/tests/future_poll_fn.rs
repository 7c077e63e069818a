//! `poll_fn`, `ready` and `pending`.

mod future_support;

use core::pin::pin;
use core::task::Poll;

use future_support::{CountFuture, CountWaker, Stats, block_on_counted, poll_once};
use futures_core::future::FusedFuture;
use pollen_core::future::{pending, poll_fn, ready};

#[test]
fn poll_fn_calls_the_closure_once_per_poll() {
    let mut calls = 0;
    let (out, polls) = block_on_counted(poll_fn(|cx| {
        calls += 1;
        if calls == 4 {
            Poll::Ready(calls * 10)
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }));
    assert_eq!((out, polls, calls), (40, 4, 4));
}

#[test]
fn poll_fn_passes_the_context_and_drops_its_captures_once() {
    let stats = Stats::new(1);
    let (counter, waker) = CountWaker::new();
    {
        let mut inner = CountFuture::new(&stats, 0, 0, 0);
        let mut fut = pin!(poll_fn(
            move |cx| core::pin::Pin::new(&mut inner).poll_inner(cx)
        ));
        assert!(poll_once(fut.as_mut(), &waker).is_pending());
        assert!(poll_once(fut.as_mut(), &waker).is_pending());
        assert_eq!(counter.wakes(), 2);
        assert_eq!(stats.future_drops(), [0]);
    }
    assert_eq!(stats.polls(), [2]);
    assert_eq!(stats.future_drops(), [1]);
}

/// `Future::poll` under a name that does not need the trait in scope.
trait PollInner: core::future::Future {
    fn poll_inner(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> Poll<Self::Output> {
        self.poll(cx)
    }
}
impl<F: core::future::Future> PollInner for F {}

#[test]
fn poll_fn_is_unpin_only_when_the_closure_is() {
    fn assert_unpin<T: Unpin>(_: &T) {}
    let fut = poll_fn(|_| Poll::Ready(()));
    assert_unpin(&fut);
}

#[test]
fn ready_completes_on_the_first_poll_and_terminates() {
    let stats = Stats::new(1);
    let (counter, waker) = CountWaker::new();
    let output = future_support::block_on(CountFuture::new(&stats, 0, 1, 3));
    let mut fut = pin!(ready(output));
    assert!(!fut.is_terminated());
    let Poll::Ready(out) = poll_once(fut.as_mut(), &waker) else {
        panic!("`ready` was pending");
    };
    assert!(fut.is_terminated());
    assert_eq!(out.value, 3);
    assert_eq!(counter.wakes(), 0);
    assert_eq!(stats.output_drops(), [0]);
    drop(out);
    assert_eq!(stats.output_drops(), [1]);
}

#[test]
fn ready_into_inner_and_drop_without_poll() {
    assert_eq!(ready(4).into_inner(), 4);
    let stats = Stats::new(1);
    let output = future_support::block_on(CountFuture::new(&stats, 0, 1, 3));
    drop(ready(output));
    assert_eq!(stats.output_drops(), [1]);
}

#[test]
#[should_panic(expected = "`Ready` polled after completion")]
fn ready_polled_twice_panics() {
    let (_, waker) = CountWaker::new();
    let mut fut = pin!(ready(1));
    let _ = poll_once(fut.as_mut(), &waker);
    let _ = poll_once(fut.as_mut(), &waker);
}

#[test]
fn pending_never_completes_and_never_wakes() {
    let (counter, waker) = CountWaker::new();
    let mut fut = pin!(pending::<u8>());
    for _ in 0..10 {
        assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Pending);
    }
    assert_eq!(counter.wakes(), 0);
    // As in `futures-util`: never worth polling.
    assert!(fut.is_terminated());
}
