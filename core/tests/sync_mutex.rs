//! The async `Mutex`: exclusion across awaits, FIFO hand-off, cancellation.

mod future_support;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};

use future_support::CountWaker;
use pollen_core::sync::Mutex;

#[test]
#[cfg(feature = "alloc")]
fn a_hundred_tasks_incrementing_count_to_a_hundred() {
    use pollen_core::executor::Executor;
    use pollen_core::future::yield_now;

    static EX: Executor = Executor::new();
    static COUNT: Mutex<u64> = Mutex::new(0);
    for _ in 0..100 {
        drop(EX.spawn(async {
            let mut count = COUNT.lock().await;
            let before = *count;
            // Other tasks run meanwhile, and must not get in.
            yield_now().await;
            *count = before + 1;
        }));
    }
    EX.run_until_stalled();
    assert_eq!(*COUNT.try_lock().unwrap(), 100);
}

#[test]
fn the_lock_goes_to_waiters_in_order() {
    let mutex = Mutex::new(Vec::new());
    let (first, w1) = CountWaker::new();
    let (second, w2) = CountWaker::new();
    let held = mutex.try_lock().unwrap();
    let mut a = pin!(mutex.lock());
    let mut b = pin!(mutex.lock());
    assert!(a.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
    assert!(b.as_mut().poll(&mut Context::from_waker(&w2)).is_pending());
    assert!(mutex.try_lock().is_err(), "locked, and tasks wait");
    drop(held);
    assert_eq!((first.wakes(), second.wakes()), (1, 0));
    let Poll::Ready(mut guard) = a.as_mut().poll(&mut Context::from_waker(&w1)) else {
        panic!("a is first")
    };
    guard.push('a');
    drop(guard);
    assert_eq!(second.wakes(), 1);
    let Poll::Ready(mut guard) = b.as_mut().poll(&mut Context::from_waker(&w2)) else {
        panic!("then b")
    };
    guard.push('b');
    assert_eq!(*guard, ['a', 'b']);
    assert_eq!(
        mutex.try_lock().unwrap_err().to_string(),
        "the lock is held, or tasks wait for it"
    );
}

#[test]
fn a_lock_dropped_as_it_is_handed_over_passes_it_on() {
    let mutex = Mutex::new(0);
    let (_, w1) = CountWaker::new();
    let (second, w2) = CountWaker::new();
    let held = mutex.try_lock().unwrap();
    let mut a = Box::pin(mutex.lock());
    let mut b = pin!(mutex.lock());
    assert!(a.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
    assert!(b.as_mut().poll(&mut Context::from_waker(&w2)).is_pending());
    drop(held); // hands the lock to `a`...
    drop(a); // ...which goes without taking it
    assert_eq!(second.wakes(), 1);
    assert!(b.as_mut().poll(&mut Context::from_waker(&w2)).is_ready());
}

#[test]
fn get_mut_needs_no_lock() {
    let mut mutex = Mutex::new(1);
    *mutex.get_mut() += 1;
    assert_eq!(*mutex.try_lock().unwrap(), 2);
}

#[test]
#[cfg(feature = "alloc")]
fn owned_guards_move_into_threads_and_unlock_on_drop() {
    use std::sync::Arc;

    let mutex = Arc::new(Mutex::new(0u32));
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let Poll::Ready(mut guard) = pin!(mutex.clone().lock_owned()).poll(&mut cx) else {
        panic!("free")
    };
    assert!(mutex.clone().try_lock_owned().is_err());
    std::thread::spawn(move || *guard += 1).join().unwrap();
    let guard = mutex.clone().try_lock_owned().unwrap();
    assert_eq!(*guard, 1);
}

#[test]
fn into_inner_takes_the_value_out() {
    let mutex = Mutex::new(vec![1, 2]);
    mutex.try_lock().unwrap().push(3);
    assert_eq!(mutex.into_inner(), [1, 2, 3]);
}
