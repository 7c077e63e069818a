//! With the `std` feature, a panicking task reports `JoinError::is_panic`,
//! its future is dropped once, and the executor keeps going.
#![cfg(feature = "std")]

mod common;

use std::task::Poll;

use common::{Counted, Counts, poll_once};
use pollen_core::executor::Executor;

#[test]
fn panic_in_poll_is_caught_and_reported() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let c = counts.clone();
    let mut bad = EX.spawn(async move {
        let _alive = Counted::ready(0, &c); // dropped during unwinding
        pollen_core::future::yield_now().await;
        panic!("boom");
    });
    let mut good = EX.spawn(async { 1 });
    EX.run_until_stalled();
    let Poll::Ready(Err(err)) = poll_once(&mut bad) else {
        panic!("expected a JoinError")
    };
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert_eq!(err.to_string(), "task panicked with message \"boom\"");
    assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
    assert_eq!(counts.future_drops(), 1);
    assert!(matches!(poll_once(&mut good), Poll::Ready(Ok(1))));
}

#[test]
fn cancelled_error_is_not_a_panic() {
    static EX: Executor = Executor::new();
    let mut h = EX.spawn(core::future::pending::<()>());
    h.abort();
    EX.run_until_stalled();
    let Poll::Ready(Err(err)) = poll_once(&mut h) else {
        panic!("expected a JoinError")
    };
    assert!(err.try_into_panic().unwrap_err().is_cancelled());
}

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("drop panicked");
    }
}

#[test]
fn panic_while_dropping_a_cancelled_future_is_reported() {
    static EX: Executor = Executor::new();
    let mut h = EX.spawn(async {
        let _p = PanicOnDrop;
        core::future::pending::<()>().await
    });
    EX.run_until_stalled();
    h.abort();
    EX.run_until_stalled();
    let Poll::Ready(Err(err)) = poll_once(&mut h) else {
        panic!("expected a JoinError")
    };
    assert!(err.is_panic());
}
