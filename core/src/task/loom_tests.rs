//! Models of the task state machine: every race between the poller, wakers,
//! `JoinHandle` and `abort`. Under `--cfg loom` each explores all
//! interleavings; otherwise it runs once as a plain test (and under Miri).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use crate::executor::Executor;
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Arc;
use crate::loom::{model, thread};

/// A fresh executor for one model iteration.
macro_rules! executor {
    () => {
        model_static!(Executor, Executor::new())
    };
}

#[derive(Default)]
struct Counts {
    polls: AtomicUsize,
    drops: AtomicUsize,
    output_drops: AtomicUsize,
}

impl Counts {
    fn get(c: &AtomicUsize) -> usize {
        c.load(Ordering::SeqCst)
    }
}

struct Output(Arc<Counts>);

impl Drop for Output {
    fn drop(&mut self) {
        self.0.output_drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// `Pending` `pending` times, each time handing a waker clone to `on_pending`.
struct Probe<W: FnMut(&Waker)> {
    pending: usize,
    counts: Arc<Counts>,
    on_pending: W,
}

impl<W: FnMut(&Waker) + Unpin> Future for Probe<W> {
    type Output = Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        self.counts.polls.fetch_add(1, Ordering::SeqCst);
        if self.pending == 0 {
            return Poll::Ready(Output(self.counts.clone()));
        }
        self.pending -= 1;
        (self.on_pending)(cx.waker());
        Poll::Pending
    }
}

impl<W: FnMut(&Waker)> Drop for Probe<W> {
    fn drop(&mut self) {
        self.counts.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn drive_until(ex: &Executor, done: impl Fn() -> bool) {
    while !done() {
        if ex.tick() == 0 {
            thread::yield_now();
        }
    }
}

#[test]
fn wake_during_poll() {
    model(|| {
        let ex = executor!();
        let counts = Arc::new(Counts::default());
        let waker_thread = Arc::new(crate::loom_test_slot::Slot::default());
        let slot = waker_thread.clone();
        let handle = ex.spawn(Probe {
            pending: 1,
            counts: counts.clone(),
            // The wake races with the rest of this poll and the transition
            // to idle.
            on_pending: move |w: &Waker| {
                let w = w.clone();
                slot.put(thread::spawn(move || w.wake()));
            },
        });
        drive_until(ex, || handle.is_finished());
        waker_thread.take().join().unwrap();
        assert_eq!(Counts::get(&counts.polls), 2);
        assert_eq!(Counts::get(&counts.drops), 1);
        drop(handle);
        assert_eq!(Counts::get(&counts.output_drops), 1);
    });
}

#[test]
fn wake_racing_completion() {
    model(|| {
        let ex = executor!();
        let counts = Arc::new(Counts::default());
        let slot = Arc::new(crate::loom_test_slot::Slot::default());
        let s = slot.clone();
        let mut handle = ex.spawn(Probe {
            pending: 1,
            counts: counts.clone(),
            on_pending: move |w: &Waker| s.put(w.clone()),
        });
        assert_eq!(ex.tick(), 1);
        let waker = slot.take();
        let late = waker.clone();
        waker.wake();
        // A late wake-up by value races with the completing poll.
        let t = thread::spawn(move || late.wake());
        drive_until(ex, || handle.is_finished());
        t.join().unwrap();
        assert_eq!(ex.run_until_stalled(), 0, "no poll after completion");
        assert_eq!(Counts::get(&counts.polls), 2);
        let out = crate::loom_test_slot::poll_once(&mut handle);
        assert!(matches!(out, Poll::Ready(Ok(_))));
        drop(out);
        drop(handle);
        assert_eq!(Counts::get(&counts.output_drops), 1);
        assert_eq!(Counts::get(&counts.drops), 1);
    });
}

#[test]
fn join_handle_drop_racing_completion() {
    model(|| {
        let ex = executor!();
        let counts = Arc::new(Counts::default());
        let handle = ex.spawn(Probe {
            pending: 0,
            counts: counts.clone(),
            on_pending: |_: &Waker| {},
        });
        let t = thread::spawn(move || drop(handle));
        ex.run_until_stalled();
        t.join().unwrap();
        assert_eq!(Counts::get(&counts.polls), 1);
        assert_eq!(Counts::get(&counts.drops), 1);
        assert_eq!(
            Counts::get(&counts.output_drops),
            1,
            "output dropped exactly once"
        );
    });
}

#[test]
fn join_waker_racing_completion() {
    model(|| {
        let ex = executor!();
        let counts = Arc::new(Counts::default());
        let handle = ex.spawn(Probe {
            pending: 0,
            counts: counts.clone(),
            on_pending: |_: &Waker| {},
        });
        // The joiner registers its waker while the task completes on
        // another thread: it must be woken or see the output.
        let joiner = thread::spawn(move || crate::loom_test_slot::block_on(handle).is_ok());
        ex.run_until_stalled();
        assert!(joiner.join().unwrap());
        assert_eq!(Counts::get(&counts.output_drops), 1);
    });
}

/// A waker that counts its wake-ups; its `Arc`'s strong count tells how
/// many clones are alive.
#[derive(Default)]
struct CountingWaker {
    wakes: AtomicUsize,
}

impl alloc::task::Wake for CountingWaker {
    fn wake(self: alloc::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &alloc::sync::Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn join_handle_with_waker_dropped_racing_completion() {
    model(|| {
        let ex = executor!();
        let counts = Arc::new(Counts::default());
        let mut handle = ex.spawn(Probe {
            pending: 0,
            counts: counts.clone(),
            on_pending: |_: &Waker| {},
        });
        // The handle stores a waker clone, then is dropped while the task
        // completes: the poller may be reading the slot, and whichever side
        // is last must drop the clone.
        let join_waker = alloc::sync::Arc::new(CountingWaker::default());
        let waker = Waker::from(join_waker.clone());
        let polled = Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending());
        drop(waker);
        let t = thread::spawn(move || drop(handle));
        ex.run_until_stalled();
        t.join().unwrap();
        assert_eq!(Counts::get(&counts.polls), 1);
        assert_eq!(Counts::get(&counts.drops), 1);
        assert_eq!(Counts::get(&counts.output_drops), 1);
        assert_eq!(
            alloc::sync::Arc::strong_count(&join_waker),
            1,
            "the stored join waker was dropped exactly once"
        );
        assert!(join_waker.wakes.load(Ordering::SeqCst) <= 1);
    });
}

#[test]
fn detached_completion_racing_last_waker() {
    model(|| {
        let ex = executor!();
        let counts = Arc::new(Counts::default());
        let slot = Arc::new(crate::loom_test_slot::Slot::default());
        let s = slot.clone();
        drop(ex.spawn(Probe {
            pending: 1,
            counts: counts.clone(),
            on_pending: move |w: &Waker| s.put(w.clone()),
        }));
        assert_eq!(ex.tick(), 1);
        let waker = slot.take();
        waker.wake_by_ref();
        // The last waker is consumed on another thread while the detached
        // task completes and lets go here: whichever is last frees it.
        let t = thread::spawn(move || waker.wake());
        drive_until(ex, || Counts::get(&counts.output_drops) == 1);
        t.join().unwrap();
        assert_eq!(ex.run_until_stalled(), 0, "no poll after completion");
        assert_eq!(Counts::get(&counts.polls), 2);
        assert_eq!(Counts::get(&counts.drops), 1);
    });
}

#[test]
fn join_handle_drop_racing_last_waker_drop() {
    model(|| {
        let ex = executor!();
        let counts = Arc::new(Counts::default());
        let slot = Arc::new(crate::loom_test_slot::Slot::default());
        let s = slot.clone();
        let handle = ex.spawn(Probe {
            pending: 1,
            counts: counts.clone(),
            on_pending: move |w: &Waker| s.put(w.clone()),
        });
        assert_eq!(ex.tick(), 1);
        // The task is idle, referenced by its handle and one waker; both go
        // at once. Whichever is last must hand the task to the executor to
        // be cancelled (exactly one of them).
        let waker = slot.take();
        let t = thread::spawn(move || drop(waker));
        drop(handle);
        t.join().unwrap();
        assert_eq!(ex.run_until_stalled(), 1, "one cancelling run");
        assert_eq!(Counts::get(&counts.polls), 1);
        assert_eq!(Counts::get(&counts.drops), 1);
        assert_eq!(Counts::get(&counts.output_drops), 0);
    });
}

#[test]
fn join_waker_replaced_racing_completion() {
    model(|| {
        let ex = executor!();
        let counts = Arc::new(Counts::default());
        let mut handle = ex.spawn(Probe {
            pending: 0,
            counts: counts.clone(),
            on_pending: |_: &Waker| {},
        });
        let first = alloc::sync::Arc::new(CountingWaker::default());
        let second = alloc::sync::Arc::new(CountingWaker::default());
        let waker = Waker::from(first.clone());
        let polled = Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending());
        drop(waker);
        // The handle swaps in a new waker while the task completes.
        let s = second.clone();
        let joiner = thread::spawn(move || {
            let waker = Waker::from(s);
            let ready = Pin::new(&mut handle)
                .poll(&mut Context::from_waker(&waker))
                .is_ready();
            (handle, ready)
        });
        ex.run_until_stalled();
        let (mut handle, ready) = joiner.join().unwrap();
        if !ready {
            // Pending then, so the completion must have woken the new one.
            assert_eq!(second.wakes.load(Ordering::SeqCst), 1);
            let out = crate::loom_test_slot::poll_once(&mut handle);
            assert!(matches!(out, Poll::Ready(Ok(_))));
        }
        drop(handle);
        assert_eq!(Counts::get(&counts.output_drops), 1);
        assert_eq!(
            alloc::sync::Arc::strong_count(&first),
            1,
            "old waker dropped"
        );
        assert_eq!(
            alloc::sync::Arc::strong_count(&second),
            1,
            "new waker dropped"
        );
    });
}

#[test]
fn abort_racing_poll() {
    model(|| {
        let ex = executor!();
        let counts = Arc::new(Counts::default());
        let handle = ex.spawn(Probe {
            pending: 1,
            counts: counts.clone(),
            on_pending: |w: &Waker| w.wake_by_ref(),
        });
        let abort = handle.abort_handle();
        let t = thread::spawn(move || abort.abort());
        drive_until(ex, || handle.is_finished());
        t.join().unwrap();
        let polls = Counts::get(&counts.polls);
        assert!(polls <= 2, "polled {polls} times");
        assert_eq!(Counts::get(&counts.drops), 1);
        let mut handle = handle;
        match crate::loom_test_slot::poll_once(&mut handle) {
            Poll::Ready(Ok(_)) => assert_eq!(polls, 2),
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            Poll::Pending => panic!("finished task not ready"),
        }
        drop(handle);
        assert_eq!(
            Counts::get(&counts.output_drops),
            Counts::get(&counts.polls) / 2
        );
    });
}

#[test]
fn waker_clone_and_drop_refcount() {
    model(|| {
        let ex = executor!();
        let counts = Arc::new(Counts::default());
        let slot = Arc::new(crate::loom_test_slot::Slot::default());
        let s = slot.clone();
        let handle = ex.spawn(Probe {
            pending: 1,
            counts: counts.clone(),
            on_pending: move |w: &Waker| s.put(w.clone()),
        });
        ex.tick();
        let waker = slot.take();
        let w2 = waker.clone();
        // Clones and drops on two threads, one of them waking.
        let t1 = thread::spawn(move || {
            let w3 = w2.clone();
            drop(w2);
            w3.wake();
        });
        let t2 = thread::spawn(move || drop(waker));
        drop(handle);
        t1.join().unwrap();
        t2.join().unwrap();
        ex.run_until_stalled();
        assert_eq!(Counts::get(&counts.polls), 2);
        assert_eq!(Counts::get(&counts.drops), 1, "freed: future dropped once");
        assert_eq!(Counts::get(&counts.output_drops), 1);
    });
}

#[test]
fn two_producers_one_consumer() {
    model(|| {
        let ex = executor!();
        let counts = Arc::new(Counts::default());
        let slots = [
            Arc::new(crate::loom_test_slot::Slot::default()),
            Arc::new(crate::loom_test_slot::Slot::default()),
        ];
        let handles: alloc::vec::Vec<_> = slots
            .iter()
            .map(|slot| {
                let s = slot.clone();
                ex.spawn(Probe {
                    pending: 1,
                    counts: counts.clone(),
                    on_pending: move |w: &Waker| s.put(w.clone()),
                })
            })
            .collect();
        assert_eq!(ex.tick(), 2);
        // Two threads push onto the run queue while the executor pops.
        let threads: alloc::vec::Vec<_> = slots
            .iter()
            .map(|slot| {
                let w = slot.take();
                thread::spawn(move || w.wake())
            })
            .collect();
        drive_until(ex, || handles.iter().all(|h| h.is_finished()));
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(Counts::get(&counts.polls), 4);
        drop(handles);
        assert_eq!(Counts::get(&counts.drops), 2);
        assert_eq!(Counts::get(&counts.output_drops), 2);
    });
}

/// Core's executor as a scheduler that keeps its tasks alive
/// ([`Schedule::KEEPS_TASKS_ALIVE`](crate::task::Schedule)), as the std
/// runtime's are.
struct Kept(Executor);

impl crate::task::Schedule for Kept {
    const KEEPS_TASKS_ALIVE: bool = true;

    fn schedule(&self, runnable: crate::task::Runnable) {
        crate::task::Schedule::schedule(&self.0, runnable);
    }
}

/// A kept task that nothing can wake (no waker kept, handle dropped) is
/// not cancelled; an abort through its bare address (as a task table
/// makes it) races the executor, and the task is dropped and freed once.
#[test]
fn kept_unreachable_task_lives_until_aborted() {
    model(|| {
        let kept = model_static!(Kept, Kept(Executor::new()));
        let counts = Arc::new(Counts::default());
        let (runnable, handle) = crate::task::new_boxed(
            Probe {
                pending: usize::MAX,
                counts: counts.clone(),
                on_pending: |_: &Waker| {},
            },
            kept,
        );
        crate::task::Schedule::schedule(kept, runnable);
        let task = handle.as_ptr();
        drop(handle);
        assert_eq!(kept.0.tick(), 1);
        // Unreachable, and still there.
        assert_eq!(Counts::get(&counts.drops), 0);
        // SAFETY: the task is kept alive until it completes, and it has not.
        let abort = unsafe { crate::task::AbortHandle::clone_from_ptr(task) };
        let t = thread::spawn(move || abort.abort());
        drive_until(&kept.0, || Counts::get(&counts.drops) == 1);
        t.join().unwrap();
        assert_eq!(Counts::get(&counts.polls), 1);
    });
}

/// A kept task completes while its `JoinHandle` and a waker are dropped on
/// other threads: the poller drops the task's own reference with its own,
/// and whoever lets go last frees the task, once. (Miri, which runs these
/// models once each, reports a task never freed, or freed twice.)
#[test]
fn kept_task_completion_racing_handle_and_waker_drops() {
    model(|| {
        let kept = model_static!(Kept, Kept(Executor::new()));
        let counts = Arc::new(Counts::default());
        let slot = Arc::new(crate::loom_test_slot::Slot::default());
        let s = slot.clone();
        let (runnable, handle) = crate::task::new_boxed(
            Probe {
                pending: 1,
                counts: counts.clone(),
                on_pending: move |w: &Waker| {
                    s.put(w.clone());
                    w.wake_by_ref();
                },
            },
            kept,
        );
        crate::task::Schedule::schedule(kept, runnable);
        assert_eq!(kept.0.tick(), 1);
        let waker = slot.take();
        let drop_handle = thread::spawn(move || drop(handle));
        let drop_waker = thread::spawn(move || drop(waker));
        drive_until(&kept.0, || Counts::get(&counts.drops) == 1);
        drop_handle.join().unwrap();
        drop_waker.join().unwrap();
        assert_eq!(Counts::get(&counts.polls), 2);
        // The output went with whichever of the handle and the poller owned
        // it; the task is gone once nothing refers to it.
        assert_eq!(Counts::get(&counts.output_drops), 1);
    });
}
