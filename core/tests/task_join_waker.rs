//! The join waker slot: a `JoinHandle` awaited by a pollen task keeps that
//! task's waker as its bare header (holding one reference), any other waker
//! boxed. These check that each kind is woken at completion, kept once when
//! the same waker registers again, and released when replaced or dropped:
//! a task whose reference the slot kept would never be freed, which the
//! arena's count of busy slots shows.
#![cfg(feature = "alloc")]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use pollen_core::executor::Executor;
use pollen_core::future::{poll_fn, yield_now};
use pollen_core::task::{JoinHandle, TaskArena};

/// A foreign waker that counts its wakes.
#[derive(Default)]
struct Counting(AtomicUsize);

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_with<T>(handle: &mut JoinHandle<T>, waker: &Waker) -> Poll<T> {
    match Pin::new(handle).poll(&mut Context::from_waker(waker)) {
        Poll::Ready(result) => Poll::Ready(result.expect("the task succeeds")),
        Poll::Pending => Poll::Pending,
    }
}

#[test]
fn a_foreign_waker_is_kept_once_replaced_and_woken_at_completion() {
    static EX: Executor = Executor::new();
    let mut handle = EX.spawn(async {
        yield_now().await;
        7
    });
    let (a, b) = (Arc::new(Counting::default()), Arc::new(Counting::default()));
    let (waker_a, waker_b) = (Waker::from(a.clone()), Waker::from(b.clone()));
    assert!(poll_with(&mut handle, &waker_a).is_pending());
    assert_eq!(Arc::strong_count(&a), 3, "the slot holds one clone");
    assert!(poll_with(&mut handle, &waker_a).is_pending());
    assert_eq!(
        Arc::strong_count(&a),
        3,
        "the same waker is not cloned again"
    );
    assert!(poll_with(&mut handle, &waker_b).is_pending());
    assert_eq!(Arc::strong_count(&a), 2, "a replaced waker is dropped");
    assert_eq!(Arc::strong_count(&b), 3);
    EX.run_until_stalled();
    assert_eq!(a.0.load(Ordering::SeqCst), 0);
    assert_eq!(b.0.load(Ordering::SeqCst), 1, "woken once, at completion");
    assert_eq!(poll_with(&mut handle, &waker_b), Poll::Ready(7));
    drop(handle);
    assert_eq!(Arc::strong_count(&b), 2, "the slot's clone is dropped");
}

#[test]
fn a_pollen_task_awaiting_a_handle_is_woken_and_freed() {
    static EX: Executor = Executor::new();
    static ARENA: TaskArena<256, 1> = TaskArena::new();
    let mut inner = EX.spawn(async {
        yield_now().await;
        yield_now().await;
        5
    });
    let polls = Arc::new(AtomicUsize::new(0));
    let counted = polls.clone();
    let outer = ARENA
        .spawn(
            &EX,
            poll_fn(move |cx| {
                let polled = counted.fetch_add(1, Ordering::SeqCst);
                let out = Pin::new(&mut inner).poll(cx);
                if out.is_pending() && polled == 0 {
                    // Polled again at once, registering the same waker.
                    cx.waker().wake_by_ref();
                }
                out.map(|result| result.expect("the task succeeds") + 1)
            }),
        )
        .expect("a free slot");
    EX.run_until_stalled();
    assert!(outer.is_finished());
    assert!(polls.load(Ordering::SeqCst) >= 3, "woken by the inner task");
    let mut outer = outer;
    let noop = Waker::noop();
    assert_eq!(poll_with(&mut outer, noop), Poll::Ready(6));
    drop(outer);
    assert_eq!(ARENA.busy(), 0, "the awaiting task was freed");
}

/// Spawns a task waiting on a oneshot, and a task in `arena` that
/// registers its waker in the first one's slot and hands its handle back,
/// then drops its own handle: the arena's slot stays busy only because the
/// first task's join waker slot holds the second task's reference.
fn handle_holding_a_pollen_waker(
    ex: &'static Executor,
    arena: &'static TaskArena<256, 1>,
) -> (
    pollen_core::channel::oneshot::Sender<'static, u32>,
    JoinHandle<u32>,
) {
    let (release, rx) = pollen_core::channel::oneshot::channel::<u32>();
    let inner = ex.spawn(async move { rx.await.expect("sent") });
    // In an `Option`: an output that is itself a future trips a lint.
    let mut outer = arena
        .spawn(ex, async move {
            let mut inner = Some(inner);
            poll_fn(|cx| {
                let handle = inner.as_mut().expect("polled until it returns");
                assert!(Pin::new(handle).poll(cx).is_pending());
                Poll::Ready(inner.take())
            })
            .await
        })
        .expect("a free slot");
    ex.run_until_stalled();
    let Poll::Ready(Some(inner)) = poll_with(&mut outer, Waker::noop()) else {
        panic!("the outer task has finished, handing the handle back");
    };
    drop(outer);
    assert_eq!(
        arena.busy(),
        1,
        "the inner task's slot still holds the outer task's waker"
    );
    (release, inner)
}

#[test]
fn a_pollen_waker_replaced_by_a_foreign_one_is_released() {
    static EX: Executor = Executor::new();
    static ARENA: TaskArena<256, 1> = TaskArena::new();
    let (release, mut inner) = handle_holding_a_pollen_waker(&EX, &ARENA);
    let foreign = Arc::new(Counting::default());
    assert!(poll_with(&mut inner, &Waker::from(foreign.clone())).is_pending());
    assert_eq!(ARENA.busy(), 0, "replacing the waker released the task");
    release.send(9).expect("the receiver waits");
    EX.run_until_stalled();
    assert_eq!(foreign.0.load(Ordering::SeqCst), 1);
    assert_eq!(poll_with(&mut inner, Waker::noop()), Poll::Ready(9));
}

#[test]
fn a_handle_dropped_before_completion_releases_the_pollen_waker() {
    static EX: Executor = Executor::new();
    static ARENA: TaskArena<256, 1> = TaskArena::new();
    let (release, inner) = handle_holding_a_pollen_waker(&EX, &ARENA);
    drop(inner);
    assert_eq!(ARENA.busy(), 0, "dropping the handle released the task");
    release.send(9).expect("the receiver waits");
    EX.run_until_stalled();
}
