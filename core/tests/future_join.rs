//! `join!`, `join` and `join3`: outputs in order, each future polled until it
//! completes and never again, everything dropped exactly once.

mod future_support;

use core::task::Poll;

use future_support::{CountFuture, CountWaker, Stats, block_on, block_on_counted, poll_once};
use pollen_core::future::{join, join3, ready, yield_now};
use pollen_core::join;

#[test]
fn outputs_in_written_order_and_no_poll_after_completion() {
    let stats = Stats::new(3);
    let ((a, b, c), polls) = block_on_counted(async {
        join!(
            CountFuture::new(&stats, 0, 3, 10),
            CountFuture::new(&stats, 1, 1, 20),
            CountFuture::new(&stats, 2, 5, 30),
        )
    });
    assert_eq!((a.value, b.value, c.value), (10, 20, 30));
    assert_eq!(polls, 5);
    // CountFuture panics if polled after completion; the counts are exact.
    assert_eq!(stats.polls(), [3, 1, 5]);
    // Every wake polls every unfinished future, in written order.
    assert_eq!(stats.take_order(), [0, 1, 2, 0, 2, 0, 2, 2, 2],);
    // Futures are dropped as soon as they complete; outputs are the caller's.
    assert_eq!(stats.future_drops(), [1, 1, 1]);
    assert_eq!(stats.output_drops(), [0, 0, 0]);
    drop((a, b, c));
    assert_eq!(stats.output_drops(), [1, 1, 1]);
}

#[test]
fn completed_future_is_dropped_before_the_others_finish() {
    let stats = Stats::new(2);
    let (counter, waker) = CountWaker::new();
    let mut fut = Box::pin(async {
        join!(
            CountFuture::new(&stats, 0, 1, 0),
            CountFuture::new(&stats, 1, 3, 0),
        )
    });
    assert!(poll_once(fut.as_mut(), &waker).is_pending());
    assert_eq!(stats.future_drops(), [1, 0]);
    assert_eq!(stats.output_drops(), [0, 0]);
    // #1 woke the task once per pending poll.
    assert_eq!(counter.wakes(), 1);
    assert!(poll_once(fut.as_mut(), &waker).is_pending());
    let Poll::Ready((a, b)) = poll_once(fut.as_mut(), &waker) else {
        panic!("not ready after three polls");
    };
    assert_eq!(stats.polls(), [1, 3]);
    assert_eq!(stats.future_drops(), [1, 1]);
    drop((a, b));
    assert_eq!(stats.output_drops(), [1, 1]);
}

#[test]
fn dropping_an_unfinished_join_drops_futures_and_outputs_once() {
    let stats = Stats::new(3);
    let (_, waker) = CountWaker::new();
    let mut fut = Box::pin(async {
        join!(
            CountFuture::new(&stats, 0, 1, 0),
            CountFuture::new(&stats, 1, 0, 0),
            CountFuture::new(&stats, 2, 2, 0),
        )
    });
    assert!(poll_once(fut.as_mut(), &waker).is_pending());
    assert!(poll_once(fut.as_mut(), &waker).is_pending());
    assert_eq!(stats.polls(), [1, 2, 2]);
    assert_eq!(stats.future_drops(), [1, 0, 1]);
    assert_eq!(stats.output_drops(), [0, 0, 0]);
    drop(fut);
    assert_eq!(stats.future_drops(), [1, 1, 1]);
    assert_eq!(stats.output_drops(), [1, 0, 1]);
}

#[test]
fn zero_one_and_many_futures() {
    let () = block_on(async { join!() });
    assert_eq!(block_on(async { join!(ready(1)) }), (1,));
    assert_eq!(block_on(async { join!(ready(1),) }), (1,));
    let out = block_on(async {
        join!(
            ready(0),
            ready(1),
            ready(2),
            ready(3),
            ready(4),
            ready(5),
            ready(6),
            ready(7),
            ready(8),
            ready(9),
            ready(10),
            ready(11),
        )
    });
    assert_eq!(out, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
}

#[test]
fn borrowed_unpin_futures_and_mixed_types() {
    let stats = Stats::new(1);
    let mut counted = CountFuture::new(&stats, 0, 2, 7);
    let (t, s, unit) =
        block_on(async { join!(&mut counted, async { "text" }, async { yield_now().await }) });
    assert_eq!((t.value, s, unit), (7, "text", ()));
    // Lent, not dropped.
    assert_eq!(stats.future_drops(), [0]);
    drop(counted);
    assert_eq!(stats.future_drops(), [1]);
}

#[test]
fn join_and_join3_functions() {
    let stats = Stats::new(3);
    let ((a, b), polls) = block_on_counted(join(
        CountFuture::new(&stats, 0, 2, 1),
        CountFuture::new(&stats, 1, 4, 2),
    ));
    assert_eq!((a.value, b.value, polls), (1, 2, 4));
    assert_eq!(stats.polls()[..2], [2, 4]);

    let (a, b, c) = block_on(join3(
        ready(1),
        async { 2 },
        CountFuture::new(&stats, 2, 1, 3),
    ));
    assert_eq!((a, b, c.value), (1, 2, 3));
    assert_eq!(stats.future_drops(), [1, 1, 1]);
}
