//! Models of the waiter queue through its users: a waiter cancelled as it
//! is woken passes the wake-up on, and no notification is lost. Under
//! `--cfg loom` each explores every interleaving; otherwise each runs once
//! as a plain test (and under Miri).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::{Notify, Semaphore, WakeList};
use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::Arc;
use crate::loom::{model, thread};
use crate::loom_test_slot::BlockingRawMutex;

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

// === Notify: notify_waiters against other waiters and notifiers ===
//
// These use `BlockingRawMutex` so three threads fit loom's branch budget
// (the lock is not what they check), and a counting waker built on the
// model's `Arc`, so loom also checks that every waker clone a waiter took is
// dropped exactly once.

type ModelNotify = Notify<BlockingRawMutex>;

/// A fresh `&'static` notify for one model iteration (futures made from it
/// move to other threads).
macro_rules! model_notify {
    () => {
        model_static!(ModelNotify, Notify::with_raw_mutex())
    };
}

/// How often one waiter's task was woken.
struct WakeCount(AtomicUsize);

impl WakeCount {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

const COUNTING_VTABLE: RawWakerVTable = RawWakerVTable::new(
    counting_clone,
    counting_wake,
    counting_wake_by_ref,
    counting_drop,
);

/// A waker that counts its wake-ups in the returned `WakeCount`.
fn counting_waker() -> (Arc<WakeCount>, Waker) {
    let count = Arc::new(WakeCount(AtomicUsize::new(0)));
    let raw = RawWaker::new(Arc::into_raw(count.clone()).cast::<()>(), &COUNTING_VTABLE);
    // SAFETY: the vtable's functions treat the data pointer as the
    // `Arc<WakeCount>` it came from, and that type is `Send + Sync`.
    (count, unsafe { Waker::from_raw(raw) })
}

unsafe fn counting_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` came from `Arc::into_raw` and its waker still holds
    // that reference.
    unsafe { Arc::increment_strong_count(data.cast::<WakeCount>()) };
    RawWaker::new(data, &COUNTING_VTABLE)
}

unsafe fn counting_wake(data: *const ()) {
    // SAFETY: as in `counting_clone`; `wake` consumes the waker's reference.
    let count = unsafe { Arc::from_raw(data.cast::<WakeCount>()) };
    count.0.fetch_add(1, Ordering::SeqCst);
}

unsafe fn counting_wake_by_ref(data: *const ()) {
    // SAFETY: as in `counting_clone`.
    let count = unsafe { &*data.cast::<WakeCount>() };
    count.0.fetch_add(1, Ordering::SeqCst);
}

unsafe fn counting_drop(data: *const ()) {
    // SAFETY: as in `counting_wake`.
    drop(unsafe { Arc::from_raw(data.cast::<WakeCount>()) });
}

/// Polls `fut` once with `waker`.
fn poll_with<F: Future>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Whether a fresh `notified()` completes at once, i.e. a permit was
/// stored (and is now used up).
fn take_permit(notify: &ModelNotify) -> bool {
    let mut probe = Box::pin(notify.notified());
    poll_once(probe.as_mut()).is_ready()
}

#[test]
fn two_notify_waiters_racing_two_waiters_being_polled() {
    model(|| {
        let notify = model_notify!();
        // Both made before either `notify_waiters` begins, so both are owed
        // a wake-up; they are polled (and queued) while the two run.
        let mut mine = Box::pin(notify.notified());
        let theirs = notify.notified();
        let waiter = thread::spawn(move || crate::loom_test_slot::block_on(theirs));
        let notifier = thread::spawn(move || notify.notify_waiters());
        let (count, waker) = counting_waker();
        let queued = poll_with(mine.as_mut(), &waker).is_pending();
        notify.notify_waiters();
        notifier.join().unwrap();
        // Deadlocks (loom reports it) if `theirs` is never woken.
        waiter.join().unwrap();
        assert!(poll_once(mine.as_mut()).is_ready(), "a waiter was lost");
        if queued {
            assert_eq!(count.get(), 1, "a queued waiter is woken exactly once");
        } else {
            assert_eq!(count.get(), 0);
        }
        // `notify_waiters` stores nothing.
        assert!(!take_permit(notify));
    });
}

#[test]
fn a_waiter_queued_while_two_notify_waiters_run() {
    model(|| {
        let notify = model_notify!();
        let started = shared([AtomicBool::new(false), AtomicBool::new(false)]);
        // Queued before both.
        let mut first = Box::pin(notify.notified());
        let (count, waker) = counting_waker();
        assert!(poll_with(first.as_mut(), &waker).is_pending());
        let s = started.clone();
        let waiter = thread::spawn(move || {
            let mut late = Box::pin(notify.notified());
            // Made before one of them began: that one owes it a wake-up.
            let owed = s.iter().any(|s| !s.load(Ordering::SeqCst));
            if owed {
                crate::loom_test_slot::block_on(late);
            } else {
                // Maybe queued behind the ones being woken, then cancelled
                // while they go: the list must survive both.
                let _ = poll_once(late.as_mut());
                drop(late);
            }
        });
        let s = started.clone();
        let notifier = thread::spawn(move || {
            s[0].store(true, Ordering::SeqCst);
            notify.notify_waiters();
        });
        started[1].store(true, Ordering::SeqCst);
        notify.notify_waiters();
        notifier.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(count.get(), 1, "woken exactly once");
        assert!(poll_once(first.as_mut()).is_ready());
        assert!(!take_permit(notify));
    });
}

/// `notify_waiters` against the cancellation of waiter `dropped` of three.
/// Under loom a `WakeList` holds two wakers, so the three are woken in two
/// rounds with the lock let go in between: the drop can land before, inside
/// or after either round.
fn notify_waiters_racing_a_dropped_waiter(notify: &'static ModelNotify, dropped: usize) {
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let mut fut = Box::pin(notify.notified());
        let (count, waker) = counting_waker();
        assert!(poll_with(fut.as_mut(), &waker).is_pending());
        waiters.push(Some((fut, count)));
    }
    let notifier = thread::spawn(move || notify.notify_waiters());
    let (gone, gone_count) = waiters[dropped].take().unwrap();
    drop(gone);
    notifier.join().unwrap();
    // Woken at most once: its waker was taken before the drop or not at
    // all (a waker the node held is dropped with it; loom checks that).
    assert!(gone_count.get() <= 1);
    for (fut, count) in waiters.iter_mut().flatten() {
        assert_eq!(count.get(), 1, "a waiter was lost");
        assert!(poll_once(fut.as_mut()).is_ready());
    }
    assert!(!take_permit(notify));
}

#[test]
fn notify_waiters_racing_the_first_waiter_dropped() {
    model(|| notify_waiters_racing_a_dropped_waiter(model_notify!(), 0));
}

#[test]
fn notify_waiters_racing_a_middle_waiter_dropped() {
    model(|| notify_waiters_racing_a_dropped_waiter(model_notify!(), 1));
}

#[test]
fn notify_waiters_racing_the_last_waiter_dropped() {
    model(|| notify_waiters_racing_a_dropped_waiter(model_notify!(), 2));
}

#[test]
fn notify_one_racing_notify_waiters_with_one_waiter() {
    model(|| {
        let notify = model_notify!();
        let flags = shared([AtomicBool::new(false), AtomicBool::new(false)]);
        let mut waiter = Box::pin(notify.notified());
        let (count, waker) = counting_waker();
        assert!(poll_with(waiter.as_mut(), &waker).is_pending());
        let f = flags.clone();
        let notifier = thread::spawn(move || {
            f[0].store(true, Ordering::SeqCst);
            notify.notify_waiters();
            f[1].store(true, Ordering::SeqCst);
        });
        let all_done_before = flags[1].load(Ordering::SeqCst);
        notify.notify_one();
        let all_began_after = !flags[0].load(Ordering::SeqCst);
        notifier.join().unwrap();
        assert_eq!(count.get(), 1, "woken exactly once");
        assert!(poll_once(waiter.as_mut()).is_ready());
        let permit = take_permit(notify);
        if all_done_before {
            // The waiter was gone: `notify_one` stored its permit.
            assert!(permit, "notify_one lost");
        }
        if all_began_after {
            // `notify_one` found the waiter and was used up by it.
            assert!(!permit, "notify_one counted twice");
        }
        // A permit is taken once.
        assert!(!take_permit(notify));
    });
}

/// A `notified()` made while `notify_waiters` runs, then `notify_one`:
/// whichever order they take effect in, both the old waiter and the new
/// future complete (the old one is owed `notify_waiters`' wake-up, so
/// `notify_one` must not be spent on it), and the permit is not spent twice.
fn notify_one_racing_notify_waiters_and_a_new_notified(
    notify: &'static ModelNotify,
    poll_first: bool,
) {
    let flags = shared([AtomicBool::new(false), AtomicBool::new(false)]);
    let mut old = Box::pin(notify.notified());
    let (count, waker) = counting_waker();
    assert!(poll_with(old.as_mut(), &waker).is_pending());
    let f = flags.clone();
    let notifier = thread::spawn(move || {
        f[0].store(true, Ordering::SeqCst);
        notify.notify_waiters();
        f[1].store(true, Ordering::SeqCst);
    });
    let mut new = Box::pin(notify.notified());
    let made_before_all = !flags[0].load(Ordering::SeqCst);
    let (new_count, new_waker) = counting_waker();
    let new_queued = poll_first && poll_with(new.as_mut(), &new_waker).is_pending();
    let all_done_before = flags[1].load(Ordering::SeqCst);
    notify.notify_one();
    notifier.join().unwrap();
    assert_eq!(count.get(), 1);
    assert!(poll_once(old.as_mut()).is_ready());
    if new_queued {
        assert_eq!(new_count.get(), 1, "the new waiter was not woken");
    }
    assert!(poll_once(new.as_mut()).is_ready(), "notify_one lost");
    let permit = take_permit(notify);
    if made_before_all && all_done_before {
        // `notify_waiters` completed `new` and the old waiter before
        // `notify_one` ran: its permit is left for the next one.
        assert!(permit, "the permit was spent on a completed future");
    }
    assert!(!take_permit(notify));
}

#[test]
fn notify_one_after_a_new_notified_racing_notify_waiters() {
    model(|| notify_one_racing_notify_waiters_and_a_new_notified(model_notify!(), false));
}

#[test]
fn notify_one_after_a_new_waiter_queued_racing_notify_waiters() {
    model(|| notify_one_racing_notify_waiters_and_a_new_notified(model_notify!(), true));
}

/// Wakes by calling `notify_one` on its notify.
struct NotifyOneOnWake(&'static ModelNotify);

impl alloc::task::Wake for NotifyOneOnWake {
    fn wake(self: alloc::sync::Arc<Self>) {
        self.0.notify_one();
    }
}

#[test]
fn notify_one_from_a_task_woken_by_notify_waiters_is_not_spent_on_its_waiters() {
    model(|| {
        let notify = model_notify!();
        // One more waiter than a `WakeList` holds: `notify_waiters` wakes
        // the first round, lets go of the lock, then takes the last one.
        let mut waiters = Vec::new();
        for i in 0..=WakeList::CAPACITY {
            let mut fut = Box::pin(notify.notified());
            let waker = if i == 0 {
                // The first task, once woken, notifies one more: after
                // `notify_waiters` began, so not one of the waiters it owes.
                Waker::from(alloc::sync::Arc::new(NotifyOneOnWake(notify)))
            } else {
                Waker::noop().clone()
            };
            assert!(poll_with(fut.as_mut(), &waker).is_pending());
            waiters.push(fut);
        }
        notify.notify_waiters();
        for fut in &mut waiters {
            assert!(poll_once(fut.as_mut()).is_ready());
        }
        assert!(take_permit(notify), "notify_one lost");
        assert!(!take_permit(notify));
    });
}

#[test]
fn a_notified_completed_by_notify_waiters_leaves_the_permit() {
    model(|| {
        let notify = model_notify!();
        let mut early = Box::pin(notify.notified());
        notify.notify_waiters();
        // No one waits (`early` was never polled): stored.
        notify.notify_one();
        assert!(poll_once(early.as_mut()).is_ready());
        // `early` was done without it: the permit is for the next one.
        assert!(take_permit(notify), "the permit was spent on a done future");
        assert!(!take_permit(notify));
    });
}
