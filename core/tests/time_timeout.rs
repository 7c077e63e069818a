//! `Timeout` on a virtual clock.
#![cfg(feature = "std")]

mod future_support;
mod time_support;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};
use core::time::Duration;

use future_support::{CountFuture, CountWaker, Stats};
use pollen_core::time::{Elapsed, Instant};
use time_support::runtime;

#[test]
fn a_short_timeout_on_a_long_sleep_elapses_and_a_long_one_does_not() {
    let (ex, timer, park) = runtime!();
    ex.block_on(park, async {
        let short = timer.timeout(
            Duration::from_millis(100),
            timer.sleep(Duration::from_secs(10)),
        );
        let _: Elapsed = short.await.unwrap_err();
        assert_eq!(timer.now(), Instant::from_millis(100));
        let long = timer.timeout(
            Duration::from_secs(10),
            timer.sleep(Duration::from_millis(100)),
        );
        assert_eq!(long.await, Ok(()));
        assert_eq!(timer.now(), Instant::from_millis(200));
    });
    // Both timers of each pair are gone: nothing is left armed.
    assert_eq!(timer.next_deadline(), None);
}

#[test]
fn a_ready_future_wins_even_past_the_deadline() {
    let (_, timer, _) = runtime!();
    timer.clock().advance(Duration::from_secs(1));
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut late = pin!(timer.timeout_at(Instant::from_millis(10), core::future::ready(5)));
    assert_eq!(late.as_mut().poll(&mut cx), Poll::Ready(Ok(5)));
    let mut never = pin!(timer.timeout_at(Instant::from_millis(10), core::future::pending::<()>()));
    assert!(matches!(never.as_mut().poll(&mut cx), Poll::Ready(Err(_))));
}

#[test]
fn on_timeout_the_inner_future_is_dropped_once_with_the_timeout() {
    let (_, timer, _) = runtime!();
    let stats = Stats::new(1);
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    {
        // Pending for ever (and never woken).
        let mut t = pin!(timer.timeout(
            Duration::from_millis(5),
            CountFuture::new(&stats, 0, usize::MAX, 1)
        ));
        assert!(t.as_mut().poll(&mut cx).is_pending());
        assert_eq!(t.deadline(), Instant::from_millis(5));
        assert_eq!(counter.wakes(), 1, "the inner future's own wake-up");
        timer.clock().advance(Duration::from_millis(5));
        assert_eq!(timer.process(), 1);
        assert_eq!(counter.wakes(), 2, "and the timer's");
        assert!(matches!(t.as_mut().poll(&mut cx), Poll::Ready(Err(_))));
        assert_eq!(stats.polls(), [2], "the inner future is polled first");
        assert_eq!(stats.future_drops(), [0]);
    }
    assert_eq!(stats.future_drops(), [1]);
}

#[test]
fn elapsed_says_what_happened() {
    let (_, timer, _) = runtime!();
    let (_, waker) = CountWaker::new();
    let mut t = pin!(timer.timeout(Duration::ZERO, core::future::pending::<()>()));
    let Poll::Ready(Err(e)) = t.as_mut().poll(&mut Context::from_waker(&waker)) else {
        panic!("a zero timeout elapses at once");
    };
    assert_eq!(e.to_string(), "deadline has elapsed");
}
