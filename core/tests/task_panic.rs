//! With the `std` feature, a panicking task reports `JoinError::is_panic`,
//! its future is dropped once, and the executor keeps going.
#![cfg(feature = "std")]

mod common;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use common::{Counted, Counts, poll_once};
use pollen_core::executor::Executor;
use pollen_core::task::{JoinHandle, TaskStorage};

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

/// A join waker whose `Drop` panics once per `arm()`; counts clones and
/// drops. One per test (the counters are per instance).
struct PanickyWaker {
    clones: AtomicUsize,
    drops: AtomicUsize,
    armed: AtomicBool,
}

impl PanickyWaker {
    const fn new() -> PanickyWaker {
        PanickyWaker {
            clones: AtomicUsize::new(0),
            drops: AtomicUsize::new(0),
            armed: AtomicBool::new(false),
        }
    }

    fn waker(&'static self) -> Waker {
        // SAFETY: the vtable's functions treat the data pointer as the
        // `&'static PanickyWaker` it was made from.
        unsafe { Waker::from_raw(RawWaker::new(ptr::from_ref(self).cast(), &PANICKY_VTABLE)) }
    }

    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
}

static PANICKY_VTABLE: RawWakerVTable = RawWakerVTable::new(
    |data| {
        // SAFETY: see `PanickyWaker::waker`.
        let w = unsafe { &*data.cast::<PanickyWaker>() };
        w.clones.fetch_add(1, Ordering::SeqCst);
        RawWaker::new(data, &PANICKY_VTABLE)
    },
    |_| {},
    |_| {},
    |data| {
        // SAFETY: see `PanickyWaker::waker`.
        let w = unsafe { &*data.cast::<PanickyWaker>() };
        w.drops.fetch_add(1, Ordering::SeqCst);
        if w.armed.swap(false, Ordering::SeqCst) {
            panic!("join waker drop panicked");
        }
    },
);

/// Polls `handle` once with `waker`, which it stores as its join waker.
fn register<T>(handle: &mut JoinHandle<T>, waker: &Waker) {
    let polled = Pin::new(handle).poll(&mut Context::from_waker(waker));
    assert!(polled.is_pending());
}

#[test]
fn join_waker_panicking_in_drop_after_completion_leaks_nothing() {
    static EX: Executor = Executor::new();
    static TASK: TaskStorage<Counted> = TaskStorage::new();
    static WAKER: PanickyWaker = PanickyWaker::new();
    let counts = Counts::new();
    let mut handle = TASK.spawn(&EX, Counted::ready(1, &counts)).unwrap();
    let waker = WAKER.waker();
    register(&mut handle, &waker);
    // Completes with the handle alive: its waker stays in the slot.
    EX.run_until_stalled();
    assert!(handle.is_finished());
    WAKER.arm();
    // Dropping the handle drops the output and then the stored waker,
    // whose drop panics: the panic comes out of `drop`, after the handle
    // has let go of the task.
    let dropped = std::panic::catch_unwind(AssertUnwindSafe(|| drop(handle)));
    assert!(dropped.is_err());
    assert_eq!(counts.output_drops(), 1);
    assert_eq!(
        WAKER.drops.load(Ordering::SeqCst),
        WAKER.clones.load(Ordering::SeqCst)
    );
    // The task was freed: its storage takes a new one.
    let again = TASK.spawn(&EX, Counted::ready(2, &counts));
    assert!(again.is_ok(), "the slot was not released");
    EX.run_until_stalled();
    drop((again, waker));
    assert_eq!(counts.future_drops(), 2);
}

#[test]
fn join_waker_panicking_in_drop_before_completion_leaks_nothing() {
    static EX: Executor = Executor::new();
    static TASK: TaskStorage<Counted> = TaskStorage::new();
    static WAKER: PanickyWaker = PanickyWaker::new();
    let counts = Counts::new();
    let mut handle = TASK.spawn(&EX, Counted::ready(1, &counts)).unwrap();
    let waker = WAKER.waker();
    register(&mut handle, &waker);
    WAKER.arm();
    // Dropped before the task runs: the handle takes its waker back and
    // drops it, which panics.
    let dropped = std::panic::catch_unwind(AssertUnwindSafe(|| drop(handle)));
    assert!(dropped.is_err());
    assert_eq!(
        WAKER.drops.load(Ordering::SeqCst),
        WAKER.clones.load(Ordering::SeqCst)
    );
    // The task still runs, detached, and is freed.
    EX.run_until_stalled();
    assert_eq!(counts.polls(), 1);
    assert_eq!(counts.output_drops(), 1);
    assert_eq!(counts.future_drops(), 1);
    assert!(
        TASK.spawn(&EX, Counted::ready(2, &counts)).is_ok(),
        "the slot was not released"
    );
    EX.run_until_stalled();
    drop(waker);
}
