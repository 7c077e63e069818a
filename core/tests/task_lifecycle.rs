//! The life of a boxed task: output, abort, detach, wake-ups, and that every
//! future and output is dropped exactly once.
#![cfg(feature = "alloc")]

mod common;

use std::task::Poll;

use common::{Counted, Counts, WakerSlot, poll_once};
use pollen_core::executor::Executor;

#[test]
fn output_reaches_join_handle_and_is_dropped_once() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let mut handle = EX.spawn(Counted::ready(7, &counts));
    assert!(!handle.is_finished());
    assert!(poll_once(&mut handle).is_pending());

    assert_eq!(EX.run_until_stalled(), 1);
    assert!(handle.is_finished());
    assert_eq!(counts.polls(), 1);
    assert_eq!(
        counts.future_drops(),
        1,
        "future dropped as soon as it completed"
    );

    let Poll::Ready(Ok(out)) = poll_once(&mut handle) else {
        panic!("output not ready")
    };
    assert_eq!(out.value, 7);
    drop(out);
    drop(handle);
    assert_eq!(counts.output_drops(), 1);
    assert_eq!(counts.future_drops(), 1);
}

#[test]
#[should_panic(expected = "polled after it returned")]
fn join_handle_polled_after_ready_panics() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let mut handle = EX.spawn(Counted::ready(1, &counts));
    EX.run_until_stalled();
    assert!(poll_once(&mut handle).is_ready());
    let _ = poll_once(&mut handle);
}

#[test]
fn detached_task_runs_and_drops_its_output() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let slot = WakerSlot::new();
    drop(EX.spawn(Counted::pending(2, 3, &counts, &slot)));
    EX.run_until_stalled();
    assert_eq!(counts.polls(), 1);
    assert!(slot.wake());
    EX.run_until_stalled();
    assert!(slot.wake());
    EX.run_until_stalled();
    assert_eq!(counts.polls(), 3);
    assert_eq!(counts.future_drops(), 1);
    assert_eq!(
        counts.output_drops(),
        1,
        "nobody joined: the executor drops the output"
    );
}

#[test]
fn join_handle_dropped_after_completion_drops_output() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let handle = EX.spawn(Counted::ready(3, &counts));
    EX.run_until_stalled();
    assert_eq!(counts.output_drops(), 0, "output kept for the handle");
    drop(handle);
    assert_eq!(counts.output_drops(), 1);
}

#[test]
fn join_handle_wakes_its_awaiter_on_completion() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let slot = WakerSlot::new();
    let handle = EX.spawn(Counted::pending(1, 9, &counts, &slot));
    let joiner = EX.spawn(async move { handle.await.unwrap().value * 2 });
    EX.run_until_stalled();
    assert!(!joiner.is_finished());
    assert!(slot.wake());
    EX.run_until_stalled();
    assert!(joiner.is_finished());
    let mut joiner = joiner;
    assert!(matches!(poll_once(&mut joiner), Poll::Ready(Ok(18))));
    assert_eq!(counts.output_drops(), 1);
}

#[test]
fn abort_idle_task_drops_future_and_reports_cancelled() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let slot = WakerSlot::new();
    let mut handle = EX.spawn(Counted::pending(5, 0, &counts, &slot));
    EX.run_until_stalled();
    assert_eq!(counts.polls(), 1);
    handle.abort();
    handle.abort(); // twice is harmless
    EX.run_until_stalled();
    assert_eq!(counts.polls(), 1, "a cancelled task is not polled again");
    assert_eq!(counts.future_drops(), 1);
    let Poll::Ready(Err(err)) = poll_once(&mut handle) else {
        panic!("expected JoinError")
    };
    assert!(err.is_cancelled());
    assert!(!err.is_panic());
    assert_eq!(err.to_string(), "task was cancelled");
    // The waker the future stored still refers to the task: waking it now
    // does nothing, and dropping it frees the task.
    assert!(slot.wake());
    assert_eq!(EX.run_until_stalled(), 0);
    drop(handle);
}

#[test]
fn abort_before_first_poll_never_polls() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let mut handle = EX.spawn(Counted::ready(1, &counts));
    handle.abort();
    EX.run_until_stalled();
    assert_eq!(counts.polls(), 0);
    assert_eq!(counts.future_drops(), 1);
    assert!(matches!(poll_once(&mut handle), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn abort_after_completion_keeps_output() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let mut handle = EX.spawn(Counted::ready(4, &counts));
    EX.run_until_stalled();
    handle.abort();
    assert!(matches!(poll_once(&mut handle), Poll::Ready(Ok(ref o)) if o.value == 4));
    assert_eq!(counts.output_drops(), 1);
}

#[test]
fn abort_from_inside_the_task_cancels_at_pending() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let (tx, rx) = std::sync::mpsc::channel::<pollen_core::task::AbortHandle>();
    let c = counts.clone();
    let mut handle = EX.spawn(async move {
        let me = rx.recv().unwrap();
        me.abort(); // while RUNNING
        Counted::yielding(1, 0, &c).await
    });
    tx.send(handle.abort_handle()).unwrap();
    EX.run_until_stalled();
    assert_eq!(
        counts.polls(),
        1,
        "polled once, cancelled when it returned Pending"
    );
    assert_eq!(counts.future_drops(), 1);
    assert!(matches!(poll_once(&mut handle), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn abort_handle_outlives_join_handle() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let slot = WakerSlot::new();
    let handle = EX.spawn(Counted::pending(9, 0, &counts, &slot));
    let abort = handle.abort_handle();
    let abort2 = abort.clone();
    drop(handle);
    EX.run_until_stalled();
    assert!(!abort.is_finished());
    abort2.abort();
    EX.run_until_stalled();
    assert!(abort.is_finished());
    assert_eq!(counts.future_drops(), 1);
    drop((abort, abort2));
    drop(slot.take());
}

#[test]
fn unreachable_task_is_cancelled() {
    // No JoinHandle and no waker kept: nothing can ever wake the task.
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let slot = WakerSlot::new();
    drop(EX.spawn(Counted::pending(1, 0, &counts, &slot)));
    EX.run_until_stalled();
    assert_eq!(counts.polls(), 1);
    assert_eq!(counts.future_drops(), 0, "its waker is still in the slot");
    drop(slot.take()); // the last reference: the task is scheduled to be cancelled
    assert_eq!(
        counts.future_drops(),
        0,
        "dropped by the executor, not by the waker's owner"
    );
    EX.run_until_stalled();
    assert_eq!(counts.future_drops(), 1);
    assert_eq!(counts.polls(), 1);
}

#[test]
fn pending_forever_task_with_dropped_handle_is_cancelled() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let c = counts.clone();
    let handle = EX.spawn(async move {
        let _guard = Counted::ready(0, &c); // counts as a future drop when dropped
        core::future::pending::<()>().await
    });
    EX.run_until_stalled();
    assert_eq!(
        counts.future_drops(),
        0,
        "the JoinHandle can still abort or await it"
    );
    drop(handle);
    EX.run_until_stalled();
    assert_eq!(counts.future_drops(), 1);
}

#[test]
fn wake_during_poll_reschedules_for_next_tick_only() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let handle = EX.spawn(Counted::yielding(3, 0, &counts));
    assert_eq!(EX.tick(), 1);
    assert_eq!(
        counts.polls(),
        1,
        "a task woken during its poll is not polled again in that tick"
    );
    assert_eq!(EX.tick(), 1);
    assert_eq!(EX.tick(), 1);
    assert_eq!(EX.tick(), 1);
    assert_eq!(counts.polls(), 4);
    assert!(handle.is_finished());
    assert_eq!(EX.tick(), 0);
}

#[test]
fn many_wakes_queue_a_task_once() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let slot = WakerSlot::new();
    let handle = EX.spawn(Counted::pending(1, 0, &counts, &slot));
    EX.run_until_stalled();
    let waker = slot.take().unwrap();
    for _ in 0..10 {
        waker.wake_by_ref();
    }
    let clone = waker.clone();
    clone.wake();
    waker.wake();
    assert_eq!(EX.run_until_stalled(), 1, "ten wakes, one poll");
    assert_eq!(counts.polls(), 2);
    assert!(handle.is_finished());
}

#[test]
fn waking_a_finished_task_is_harmless() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let slot = WakerSlot::new();
    let handle = EX.spawn(Counted::pending(1, 0, &counts, &slot));
    EX.run_until_stalled();
    let waker = slot.take().unwrap();
    let late = waker.clone();
    waker.wake();
    EX.run_until_stalled();
    assert!(handle.is_finished());
    drop(handle);
    late.wake_by_ref();
    assert_eq!(EX.run_until_stalled(), 0);
    assert!(late.will_wake(&late.clone()));
    drop(late); // the last reference frees the task
    assert_eq!(counts.future_drops(), 1);
    assert_eq!(counts.output_drops(), 1);
}

#[test]
fn wakes_from_another_thread_are_not_lost() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let slot = WakerSlot::new();
    let rounds = if cfg!(miri) { 5 } else { 200 };
    let handle = EX.spawn(Counted::pending(rounds, 1, &counts, &slot));
    let waker_slot = slot.clone();
    let waker_thread = std::thread::spawn(move || {
        let mut woken = 0;
        while woken < rounds {
            if waker_slot.wake() {
                woken += 1;
            } else {
                std::thread::yield_now();
            }
        }
    });
    while !handle.is_finished() {
        if EX.tick() == 0 {
            std::thread::yield_now();
        }
    }
    waker_thread.join().unwrap();
    assert_eq!(counts.polls(), rounds + 1);
    assert_eq!(counts.future_drops(), 1);
}

#[test]
fn join_handle_awaited_with_changing_wakers() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let slot = WakerSlot::new();
    let mut handle = EX.spawn(Counted::pending(1, 5, &counts, &slot));
    EX.run_until_stalled();
    // Poll with one waker, then another: only the last is kept and woken.
    let first = std::sync::Arc::new(Flag::default());
    let second = std::sync::Arc::new(Flag::default());
    let w1 = std::task::Waker::from(first.clone());
    let w2 = std::task::Waker::from(second.clone());
    use std::future::Future;
    assert!(
        std::pin::Pin::new(&mut handle)
            .poll(&mut std::task::Context::from_waker(&w1))
            .is_pending()
    );
    assert!(
        std::pin::Pin::new(&mut handle)
            .poll(&mut std::task::Context::from_waker(&w2))
            .is_pending()
    );
    slot.wake();
    EX.run_until_stalled();
    assert!(!first.0.load(std::sync::atomic::Ordering::SeqCst));
    assert!(second.0.load(std::sync::atomic::Ordering::SeqCst));
    assert!(matches!(poll_once(&mut handle), Poll::Ready(Ok(ref o)) if o.value == 5));
}

#[derive(Default)]
struct Flag(std::sync::atomic::AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
