//! Wakes during a task's own poll. A task that wakes itself on the polling
//! thread is noted without an atomic operation (with `std`); these check
//! that the wakes that must not take that path (from another thread, or
//! from another task polled meanwhile on the same thread) still reschedule
//! the task, and that a self-wake does.
#![cfg(feature = "alloc")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Waker};

use pollen_core::executor::Executor;
use pollen_core::future::poll_fn;

/// A task polled `polls` times, which on its first poll calls `first` with
/// its waker, then returns `Pending` (and `Ready` on the second).
fn task(
    polls: Arc<AtomicUsize>,
    first: impl Fn(&Waker) + Send + 'static,
) -> impl Future<Output = ()> + Send {
    poll_fn(move |cx| {
        if polls.fetch_add(1, Ordering::SeqCst) == 0 {
            first(cx.waker());
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
}

#[test]
fn a_task_that_wakes_itself_is_polled_again() {
    static EX: Executor = Executor::new();
    let polls = Arc::new(AtomicUsize::new(0));
    let handle = EX.spawn(task(polls.clone(), |waker| {
        waker.wake_by_ref();
        waker.wake_by_ref();
    }));
    assert_eq!(EX.tick(), 1);
    assert_eq!(EX.tick(), 1, "queued once, for the next tick");
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    assert!(handle.is_finished());
}

#[test]
fn a_wake_from_another_thread_during_the_poll_reschedules() {
    static EX: Executor = Executor::new();
    let polls = Arc::new(AtomicUsize::new(0));
    let handle = EX.spawn(task(polls.clone(), |waker| {
        std::thread::scope(|s| {
            s.spawn(|| waker.wake_by_ref());
        });
    }));
    assert_eq!(EX.run_until_stalled(), 2);
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    assert!(handle.is_finished());
}

#[test]
fn a_task_polled_inside_another_task_wakes_it_and_itself() {
    static OUTER: Executor = Executor::new();
    static INNER: Executor = Executor::new();
    let outer_polls = Arc::new(AtomicUsize::new(0));
    let inner_polls = Arc::new(AtomicUsize::new(0));
    let inner_counter = inner_polls.clone();
    let outer = OUTER.spawn(task(outer_polls.clone(), move |outer_waker| {
        // A nested executor polls a task on this thread, inside the outer
        // task's poll: it wakes the outer task (not the one polled now)
        // and itself.
        let outer_waker = outer_waker.clone();
        let inner = INNER.spawn(task(inner_counter.clone(), move |inner_waker| {
            outer_waker.wake_by_ref();
            inner_waker.wake_by_ref();
        }));
        assert_eq!(INNER.tick(), 1);
        assert_eq!(INNER.tick(), 1, "the inner task woke itself");
        assert!(inner.is_finished());
    }));
    assert_eq!(OUTER.tick(), 1);
    assert_eq!(inner_polls.load(Ordering::SeqCst), 2);
    assert_eq!(OUTER.tick(), 1, "the inner task woke the outer one");
    assert_eq!(outer_polls.load(Ordering::SeqCst), 2);
    assert!(outer.is_finished());
}
