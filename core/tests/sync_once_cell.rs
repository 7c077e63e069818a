//! `OnceCell`: exactly one initialiser completes, even when one is cancelled.

mod future_support;

use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll};

use future_support::CountWaker;
use pollen_core::future::{pending, yield_now};
use pollen_core::sync::OnceCell;

#[test]
fn one_initialiser_runs_and_the_others_wait_for_it() {
    let cell = OnceCell::new();
    let runs = AtomicUsize::new(0);
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let init = || async {
        runs.fetch_add(1, Ordering::SeqCst);
        yield_now().await;
        5
    };
    let mut a = pin!(cell.get_or_init(init));
    let mut b = pin!(cell.get_or_init(|| async { panic!("a runs first") }));
    assert!(
        a.as_mut().poll(&mut cx).is_pending(),
        "a initialises, yields"
    );
    assert!(b.as_mut().poll(&mut cx).is_pending(), "b waits");
    assert_eq!(a.as_mut().poll(&mut cx), Poll::Ready(&5));
    assert!(counter.wakes() >= 1, "b is woken");
    assert_eq!(b.as_mut().poll(&mut cx), Poll::Ready(&5));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(cell.set(6).is_err());
}

#[test]
fn a_cancelled_initialiser_lets_the_next_one_run() {
    let cell = OnceCell::new();
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    {
        let mut stuck = Box::pin(cell.get_or_init(|| async {
            pending::<()>().await;
            1
        }));
        assert!(stuck.as_mut().poll(&mut cx).is_pending());
        let mut next = pin!(cell.get_or_init(|| async { 2 }));
        assert!(
            next.as_mut().poll(&mut cx).is_pending(),
            "waits for the first"
        );
        drop(stuck);
        assert_eq!(next.as_mut().poll(&mut cx), Poll::Ready(&2));
    }
    assert_eq!(cell.get(), Some(&2));
}

#[test]
fn a_failed_initialiser_leaves_the_cell_empty() {
    let cell: OnceCell<u8> = OnceCell::new();
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let failed = pin!(cell.get_or_try_init(|| async { Err::<u8, &str>("no") })).poll(&mut cx);
    assert_eq!(failed, Poll::Ready(Err("no")));
    assert!(!cell.initialized());
    assert!(cell.set(3).is_ok());
    assert_eq!(cell.set(4).unwrap_err().0, 4);
    assert_eq!(cell.get(), Some(&3));
}

#[test]
fn take_empties_the_cell_and_the_value_is_dropped_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Tracked;
    impl Drop for Tracked {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    let mut cell = OnceCell::new();
    assert!(cell.set(Tracked).is_ok());
    drop(cell.take());
    assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    assert!(cell.get().is_none());
    assert!(cell.set(Tracked).is_ok(), "settable again");
    drop(cell);
    assert_eq!(DROPS.load(Ordering::SeqCst), 2);
}
