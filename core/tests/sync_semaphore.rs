//! `Semaphore`: limits, FIFO order, cancellation, close.

mod future_support;

use core::future::Future;
use core::pin::pin;
#[cfg(feature = "alloc")]
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll};

use future_support::CountWaker;
#[cfg(feature = "alloc")]
use pollen_core::executor::Executor;
#[cfg(feature = "alloc")]
use pollen_core::future::yield_now;
use pollen_core::sync::{Semaphore, TryAcquireError};

#[test]
#[cfg(feature = "alloc")]
fn five_permits_never_let_more_than_five_of_twenty_tasks_in() {
    static EX: Executor = Executor::new();
    static SEM: Semaphore = Semaphore::new(5);
    static INSIDE: AtomicUsize = AtomicUsize::new(0);
    static MAX_INSIDE: AtomicUsize = AtomicUsize::new(0);
    static DONE: AtomicUsize = AtomicUsize::new(0);
    for i in 0..20 {
        drop(EX.spawn(async move {
            let _permit = SEM.acquire().await.unwrap();
            let now = INSIDE.fetch_add(1, Ordering::SeqCst) + 1;
            MAX_INSIDE.fetch_max(now, Ordering::SeqCst);
            for _ in 0..(i % 4 + 1) {
                yield_now().await;
            }
            INSIDE.fetch_sub(1, Ordering::SeqCst);
            DONE.fetch_add(1, Ordering::SeqCst);
        }));
    }
    EX.run_until_stalled();
    assert_eq!(DONE.load(Ordering::SeqCst), 20);
    assert_eq!(MAX_INSIDE.load(Ordering::SeqCst), 5);
    assert_eq!(SEM.available_permits(), 5);
}

#[test]
fn waiters_are_served_in_order_and_a_big_request_is_not_starved() {
    let sem = Semaphore::new(0);
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut big = pin!(sem.acquire_many(3));
    let mut small = pin!(sem.acquire());
    assert!(big.as_mut().poll(&mut cx).is_pending());
    assert!(small.as_mut().poll(&mut cx).is_pending());
    sem.add_permits(2);
    // Two permits would do for `small`, but `big` is first: both wait.
    assert!(small.as_mut().poll(&mut cx).is_pending());
    assert!(big.as_mut().poll(&mut cx).is_pending());
    assert!(
        matches!(sem.try_acquire(), Err(TryAcquireError::NoPermits)),
        "no queue jumping"
    );
    sem.add_permits(2);
    let Poll::Ready(Ok(three)) = big.as_mut().poll(&mut cx) else {
        panic!("big is served first")
    };
    assert_eq!(three.num_permits(), 3);
    let Poll::Ready(Ok(one)) = small.as_mut().poll(&mut cx) else {
        panic!("then small")
    };
    drop((three, one));
    assert_eq!(sem.available_permits(), 4);
}

#[test]
fn a_cancelled_waiter_at_the_front_lets_the_next_through() {
    let sem = Semaphore::new(1);
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    {
        let mut big = Box::pin(sem.acquire_many(2));
        assert!(big.as_mut().poll(&mut cx).is_pending());
        let mut small = pin!(sem.acquire());
        assert!(small.as_mut().poll(&mut cx).is_pending());
        drop(big);
        assert_eq!(counter.wakes(), 1, "small is woken when big leaves");
        assert!(matches!(small.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
    }
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn close_fails_waiters_and_later_acquires_but_not_held_permits() {
    let sem = Semaphore::new(1);
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let held = sem.try_acquire().unwrap();
    let mut waiting = pin!(sem.acquire());
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    sem.close();
    assert!(sem.is_closed());
    assert_eq!(counter.wakes(), 1);
    let Poll::Ready(Err(err)) = waiting.as_mut().poll(&mut cx) else {
        panic!("closed")
    };
    assert_eq!(err.to_string(), "semaphore closed");
    assert!(matches!(sem.try_acquire(), Err(TryAcquireError::Closed)));
    let mut later = pin!(sem.acquire());
    assert!(matches!(later.as_mut().poll(&mut cx), Poll::Ready(Err(_))));
    drop(held);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn forget_keeps_the_permits_out() {
    let sem = Semaphore::new(3);
    sem.try_acquire_many(2).unwrap().forget();
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn many_waiters_are_all_served_past_one_wake_batch() {
    // More waiters than one batch of wakers: all are served, in order.
    let sem = Semaphore::new(0);
    let wakers: Vec<_> = (0..100).map(|_| CountWaker::new()).collect();
    let mut acquires: Vec<_> = (0..100).map(|_| Box::pin(sem.acquire())).collect();
    for (a, (_, w)) in acquires.iter_mut().zip(&wakers) {
        assert!(a.as_mut().poll(&mut Context::from_waker(w)).is_pending());
    }
    sem.add_permits(100);
    let mut permits = Vec::new();
    for (a, (counter, w)) in acquires.iter_mut().zip(&wakers) {
        assert_eq!(counter.wakes(), 1);
        let Poll::Ready(Ok(p)) = a.as_mut().poll(&mut Context::from_waker(w)) else {
            panic!("granted")
        };
        permits.push(p);
    }
    assert_eq!(sem.available_permits(), 0);
    drop(permits);
    assert_eq!(sem.available_permits(), 100);
}

#[test]
#[cfg(feature = "alloc")]
fn owned_permits_move_into_tasks_and_come_back() {
    use std::sync::Arc;

    let sem = Arc::new(Semaphore::new(2));
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let a = sem.clone().try_acquire_owned().unwrap();
    let Poll::Ready(Ok(b)) = pin!(sem.clone().acquire_many_owned(1)).poll(&mut cx) else {
        panic!("a permit is free")
    };
    assert_eq!(sem.available_permits(), 0);
    let mut waiting = pin!(sem.clone().acquire_owned());
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    // A permit that owns its semaphore can go to another thread.
    std::thread::spawn(move || drop(a)).join().unwrap();
    let Poll::Ready(Ok(c)) = waiting.as_mut().poll(&mut cx) else {
        panic!("handed on")
    };
    assert_eq!(c.num_permits(), 1);
    assert!(Arc::ptr_eq(c.semaphore(), &sem));
    drop((b, c));
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn permits_merge_split_and_are_forgotten() {
    let sem = Semaphore::new(10);
    let mut permit = sem.try_acquire_many(4).unwrap();
    permit.merge(sem.try_acquire_many(2).unwrap());
    assert_eq!(permit.num_permits(), 6);
    assert_eq!(sem.available_permits(), 4);
    let part = permit.split(5).unwrap();
    assert!(permit.split(2).is_none(), "it holds one");
    assert_eq!((permit.num_permits(), part.num_permits()), (1, 5));
    drop(part);
    assert_eq!(sem.available_permits(), 9);
    // Only what is free now can be forgotten.
    assert_eq!(sem.forget_permits(20), 9);
    assert_eq!(sem.available_permits(), 0);
    drop(permit);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
#[should_panic(expected = "merging permits of two different semaphores")]
fn permits_of_two_semaphores_do_not_merge() {
    let (a, b) = (Semaphore::new(1), Semaphore::new(1));
    let mut permit = a.try_acquire().unwrap();
    permit.merge(b.try_acquire().unwrap());
}

#[test]
#[cfg(feature = "alloc")]
fn owned_permits_merge_and_split() {
    let sem = std::sync::Arc::new(Semaphore::new(3));
    let mut permit = sem.clone().try_acquire_owned().unwrap();
    permit.merge(sem.clone().try_acquire_owned().unwrap());
    let one = permit.split(1).unwrap();
    assert_eq!((permit.num_permits(), one.num_permits()), (1, 1));
    one.forget();
    drop(permit);
    assert_eq!(sem.available_permits(), 2);
}
