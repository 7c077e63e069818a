//! Models of the waiter queue through its users: a waiter cancelled as it
//! is woken passes the wake-up on, and no notification is lost. Under
//! `--cfg loom` each explores every interleaving; otherwise each runs once
//! as a plain test (and under Miri).

use alloc::boxed::Box;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use super::{Notify, Semaphore};
use crate::loom::sync::Arc;
use crate::loom::{model, thread};

fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A value shared with model threads: an `Arc` (the primitives are not
/// `'static` here).
fn shared<T>(value: T) -> Arc<T> {
    Arc::new(value)
}

#[test]
fn notify_one_before_notified_is_not_lost() {
    model(|| {
        let notify = shared(Notify::new());
        let n = notify.clone();
        let t = thread::spawn(move || n.notify_one());
        // Made before or after the notification: completes either way.
        crate::loom_test_slot::block_on(notify.notified());
        t.join().unwrap();
    });
}

#[test]
fn a_notified_dropped_as_it_is_woken_passes_it_on() {
    model(|| {
        let notify = shared(Notify::new());
        let mut first = Box::pin(notify.notified());
        let mut second = Box::pin(notify.notified());
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        let n = notify.clone();
        let t = thread::spawn(move || n.notify_one());
        // The first waiter goes while (or before, or after) it is notified:
        // the notification reaches the second either way.
        drop(first);
        t.join().unwrap();
        assert!(poll_once(second.as_mut()).is_ready(), "notification lost");
        // And it was used up: nothing is left stored.
        let mut third = Box::pin(notify.notified());
        assert!(poll_once(third.as_mut()).is_pending());
    });
}

#[test]
fn an_acquire_dropped_as_it_is_granted_passes_the_permit_on() {
    model(|| {
        let sem = shared(Semaphore::new(0));
        let mut first = Box::pin(sem.acquire());
        let mut second = Box::pin(sem.acquire());
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        let s = sem.clone();
        let t = thread::spawn(move || s.add_permits(1));
        drop(first);
        t.join().unwrap();
        let Poll::Ready(Ok(permit)) = poll_once(second.as_mut()) else {
            panic!("the permit was lost");
        };
        assert_eq!(sem.available_permits(), 0);
        drop(permit);
        assert_eq!(sem.available_permits(), 1);
    });
}

/// A counter only touched while holding the semaphore's one permit.
struct Guarded(crate::loom::UnsafeCell<u32>);

// SAFETY: the model only touches the cell while holding the one permit.
unsafe impl Sync for Guarded {}

#[test]
fn one_permit_excludes() {
    model(|| {
        let sem = shared(Semaphore::new(1));
        let cell = shared(Guarded(crate::loom::UnsafeCell::new(0u32)));
        let worker = {
            let (sem, cell) = (sem.clone(), cell.clone());
            move || {
                let _permit = crate::loom_test_slot::block_on(sem.acquire()).unwrap();
                // A second holder at the same time would be a data race.
                // SAFETY: the permit makes us the only one here.
                cell.0.with_mut(|v| unsafe { *v += 1 });
            }
        };
        let t = thread::spawn(worker.clone());
        worker();
        t.join().unwrap();
        // SAFETY: both threads are done.
        assert_eq!(cell.0.with(|v| unsafe { *v }), 2);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn the_mutex_excludes_across_threads() {
    model(|| {
        let mutex = shared(super::Mutex::new(0u32));
        let worker = {
            let mutex = mutex.clone();
            move || {
                let mut guard = crate::loom_test_slot::block_on(mutex.lock());
                *guard += 1;
            }
        };
        let t = thread::spawn(worker.clone());
        worker();
        t.join().unwrap();
        assert_eq!(*mutex.try_lock().unwrap(), 2);
    });
}

#[test]
fn rwlock_writer_excludes_a_reader() {
    model(|| {
        let lock = shared(super::RwLock::new(0u32));
        let l = lock.clone();
        let writer = thread::spawn(move || {
            *crate::loom_test_slot::block_on(l.write()) += 1;
        });
        let seen = *crate::loom_test_slot::block_on(lock.read());
        assert!(seen <= 1);
        writer.join().unwrap();
        assert_eq!(*lock.try_read().unwrap(), 1);
    });
}

#[test]
fn once_cell_runs_one_initialiser_across_threads() {
    model(|| {
        let cell = shared(super::OnceCell::new());
        let runs = shared(crate::loom::atomic::AtomicUsize::new(0));
        let init = {
            let (cell, runs) = (cell.clone(), runs.clone());
            move || {
                let v = *crate::loom_test_slot::block_on(cell.get_or_init(|| async {
                    runs.fetch_add(1, crate::loom::atomic::Ordering::SeqCst);
                    7u32
                }));
                assert_eq!(v, 7);
            }
        };
        let t = thread::spawn(init.clone());
        init();
        t.join().unwrap();
        assert_eq!(runs.load(crate::loom::atomic::Ordering::SeqCst), 1);
    });
}

#[test]
fn barrier_releases_both_threads_one_leader() {
    model(|| {
        let barrier = shared(super::Barrier::new(2));
        let b = barrier.clone();
        let t = thread::spawn(move || crate::loom_test_slot::block_on(b.wait()).is_leader());
        let mine = crate::loom_test_slot::block_on(barrier.wait()).is_leader();
        let theirs = t.join().unwrap();
        assert!(mine != theirs, "exactly one leader");
    });
}

#[test]
fn cancellation_racing_a_new_child_and_a_waiter() {
    model(|| {
        let root = super::CancellationToken::new();
        let r = root.clone();
        let canceller = thread::spawn(move || r.cancel());
        // A child made while the parent is cancelled: cancelled either way.
        let child = root.child_token();
        crate::loom_test_slot::block_on(child.cancelled());
        canceller.join().unwrap();
        assert!(child.is_cancelled());
    });
}

#[test]
fn once_cell_a_failing_initialiser_lets_the_other_thread_set_it() {
    model(|| {
        let cell = shared(super::OnceCell::<u32>::new());
        let c = cell.clone();
        let failing = thread::spawn(move || {
            crate::loom_test_slot::block_on(c.get_or_try_init(|| async { Err::<u32, ()>(()) }))
                .is_err()
        });
        let v = *crate::loom_test_slot::block_on(cell.get_or_init(|| async { 5 }));
        // The failing one either ran first (and failed, leaving the cell
        // empty for us) or found it set; either way the cell holds 5.
        failing.join().unwrap();
        assert_eq!(v, 5);
        assert_eq!(cell.get(), Some(&5));
    });
}
