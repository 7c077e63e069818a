//! `join_all`: input order whatever the completion order, every future polled
//! until it completes and never again, everything dropped exactly once.
#![cfg(feature = "alloc")]

mod future_support;

use core::future::Future;
use core::task::Poll;
use std::vec::Vec;

use future_support::{CountFuture, CountWaker, Stats, block_on_counted, poll_once};
use futures_core::future::FusedFuture;
use pollen_core::future::{join_all, ready};

#[test]
fn keeps_input_order_when_completing_in_reverse() {
    let stats = Stats::new(4);
    // #0 completes last, #3 first.
    let futures = (0..4).map(|id| CountFuture::new(&stats, id, 4 - id, id as u32 * 10));
    let (outputs, polls) = block_on_counted(join_all(futures));
    let values: Vec<u32> = outputs.iter().map(|t| t.value).collect();
    assert_eq!(values, [0, 10, 20, 30]);
    assert_eq!(polls, 4);
    assert_eq!(stats.polls(), [4, 3, 2, 1]);
    assert_eq!(stats.take_order(), [0, 1, 2, 3, 0, 1, 2, 0, 1, 0],);
    assert_eq!(stats.future_drops(), [1, 1, 1, 1]);
    assert_eq!(stats.output_drops(), [0, 0, 0, 0]);
    drop(outputs);
    assert_eq!(stats.output_drops(), [1, 1, 1, 1]);
}

#[test]
fn futures_are_dropped_as_they_complete_and_the_rest_on_drop() {
    let stats = Stats::new(3);
    let (counter, waker) = CountWaker::new();
    let mut all = join_all([
        CountFuture::new(&stats, 0, 0, 0),
        CountFuture::new(&stats, 1, 1, 0),
        CountFuture::new(&stats, 2, 2, 0),
    ]);
    assert!(poll_once(core::pin::Pin::new(&mut all), &waker).is_pending());
    assert_eq!(stats.future_drops(), [0, 1, 0]);
    assert!(poll_once(core::pin::Pin::new(&mut all), &waker).is_pending());
    assert_eq!(stats.future_drops(), [0, 1, 1]);
    assert!(!all.is_terminated());
    // #0 never completes and wakes once per poll, #2 woke on its first.
    assert_eq!(counter.wakes(), 3);
    drop(all);
    assert_eq!(stats.polls(), [2, 1, 2]);
    assert_eq!(stats.future_drops(), [1, 1, 1]);
    assert_eq!(stats.output_drops(), [0, 1, 1]);
}

#[test]
fn empty_input_is_ready_at_once_and_terminates() {
    let (_, waker) = CountWaker::new();
    let mut all = join_all(Vec::<core::future::Ready<u8>>::new());
    assert!(!all.is_terminated());
    assert_eq!(
        poll_once(core::pin::Pin::new(&mut all), &waker),
        Poll::Ready(Vec::new())
    );
    assert!(all.is_terminated());
}

#[test]
fn terminated_after_ready() {
    let (_, waker) = CountWaker::new();
    let mut all = join_all([ready(1), ready(2)]);
    assert_eq!(
        poll_once(core::pin::Pin::new(&mut all), &waker),
        Poll::Ready([1, 2].into())
    );
    assert!(all.is_terminated());
}

#[test]
#[should_panic(expected = "`JoinAll` polled after completion")]
fn poll_after_completion_panics() {
    let (_, waker) = CountWaker::new();
    let mut all = join_all([ready(1)]);
    let _ = poll_once(core::pin::Pin::new(&mut all), &waker);
    let _ = core::pin::Pin::new(&mut all).poll(&mut core::task::Context::from_waker(&waker));
}
