//! `yield_now`: pending exactly once, waking the waker exactly once.

mod future_support;

use core::pin::pin;
use core::task::Poll;

use future_support::{CountWaker, block_on_counted, poll_once};
use futures_core::future::FusedFuture;
use pollen_core::future::yield_now;

#[test]
fn pending_once_then_ready() {
    let (counter, waker) = CountWaker::new();
    let mut fut = pin!(yield_now());
    assert!(!fut.is_terminated());
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Pending);
    // Woken before returning `Pending`, exactly once.
    assert_eq!(counter.wakes(), 1);
    assert!(!fut.is_terminated());
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready(()));
    assert!(fut.is_terminated());
    assert_eq!(counter.wakes(), 1);
}

#[test]
fn each_yield_costs_one_poll() {
    let ((), polls) = block_on_counted(async {
        for _ in 0..5 {
            yield_now().await;
        }
    });
    assert_eq!(polls, 6);
}
