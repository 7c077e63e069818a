//! A task's future is pinned from its first poll to its drop: whichever way
//! the task ends (it completes, panics, is aborted, or its `Runnable` is
//! dropped), the future is dropped at the address it was polled at. A
//! future with an intrusive node (an armed `Sleep`, a lock waiter) relies on
//! it to unlink itself.
#![cfg(feature = "alloc")]

use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use pollen_core::executor::Executor;
use pollen_core::task::{Runnable, Schedule, TaskStorage, new_boxed};

/// What the future does on its second poll.
#[derive(Clone, Copy)]
enum Then {
    Pending,
    Ready,
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    Panic,
}

/// Remembers where it was first polled; on drop, counts whether it is still
/// there.
struct Pinned {
    polled_at: usize,
    then: Then,
    polls: usize,
    stayed: Arc<AtomicUsize>,
    moved: Arc<AtomicUsize>,
    _pin: PhantomPinned,
}

impl Pinned {
    fn new(then: Then, stayed: &Arc<AtomicUsize>, moved: &Arc<AtomicUsize>) -> Pinned {
        Pinned {
            polled_at: 0,
            then,
            polls: 0,
            stayed: stayed.clone(),
            moved: moved.clone(),
            _pin: PhantomPinned,
        }
    }
}

impl Future for Pinned {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: nothing is moved out; only plain fields are written.
        let this = unsafe { self.get_unchecked_mut() };
        this.polled_at = this as *const Pinned as usize;
        this.polls += 1;
        if this.polls == 1 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match this.then {
            Then::Pending => Poll::Pending,
            Then::Ready => Poll::Ready(()),
            Then::Panic => panic!("second poll"),
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if self.polled_at == 0 {
            return;
        }
        let counter = if self.polled_at == self as *const Pinned as usize {
            &self.stayed
        } else {
            &self.moved
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

fn counters() -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
    (Arc::default(), Arc::default())
}

fn assert_dropped_in_place(stayed: &AtomicUsize, moved: &AtomicUsize) {
    assert_eq!(
        moved.load(Ordering::SeqCst),
        0,
        "the future moved after it was pinned"
    );
    assert_eq!(stayed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_completed_future_is_dropped_in_place() {
    static EX: Executor = Executor::new();
    let (stayed, moved) = counters();
    let handle = EX.spawn(Pinned::new(Then::Ready, &stayed, &moved));
    EX.run_until_stalled();
    assert!(handle.is_finished());
    assert_dropped_in_place(&stayed, &moved);
}

#[test]
fn an_aborted_future_is_dropped_in_place() {
    static EX: Executor = Executor::new();
    let (stayed, moved) = counters();
    let handle = EX.spawn(Pinned::new(Then::Pending, &stayed, &moved));
    EX.run_until_stalled();
    handle.abort();
    EX.run_until_stalled();
    assert!(handle.is_finished());
    assert_dropped_in_place(&stayed, &moved);
}

/// A scheduler that keeps what it is given, for the test to drop.
struct Keep(std::sync::Mutex<Vec<Runnable>>);

impl Schedule for Keep {
    fn schedule(&self, runnable: Runnable) {
        self.0.lock().unwrap().push(runnable);
    }
}

#[test]
fn a_future_whose_runnable_is_dropped_is_dropped_in_place() {
    static KEEP: Keep = Keep(std::sync::Mutex::new(Vec::new()));
    let (stayed, moved) = counters();
    let (runnable, handle) = new_boxed(Pinned::new(Then::Pending, &stayed, &moved), &KEEP);
    runnable.run(); // first poll: pinned, and it wakes itself
    let requeued = KEEP.0.lock().unwrap().pop().expect("the task woke itself");
    drop(requeued); // dropping a `Runnable` cancels the task
    assert!(handle.is_finished());
    assert_dropped_in_place(&stayed, &moved);
}

#[cfg(feature = "std")]
#[test]
fn a_panicking_future_is_dropped_in_place() {
    static EX: Executor = Executor::new();
    let (stayed, moved) = counters();
    let handle = EX.spawn(Pinned::new(Then::Panic, &stayed, &moved));
    EX.run_until_stalled();
    assert!(handle.is_finished());
    assert_dropped_in_place(&stayed, &moved);
}

#[test]
fn a_static_task_aborted_is_dropped_in_place() {
    static EX: Executor = Executor::new();
    static TASK: TaskStorage<Pinned> = TaskStorage::new();
    let (stayed, moved) = counters();
    let handle = TASK
        .spawn(&EX, Pinned::new(Then::Pending, &stayed, &moved))
        .unwrap();
    EX.run_until_stalled();
    handle.abort();
    EX.run_until_stalled();
    assert_dropped_in_place(&stayed, &moved);
}
