//! `Barrier`: nobody passes before everyone arrived; one leader per round.

mod future_support;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};

use future_support::CountWaker;
use pollen_core::sync::Barrier;

#[test]
fn nobody_passes_until_all_arrived_and_rounds_repeat() {
    let barrier = Barrier::new(3);
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    for _round in 0..2 {
        let mut a = pin!(barrier.wait());
        let mut b = pin!(barrier.wait());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        let Poll::Ready(c) = pin!(barrier.wait()).poll(&mut cx) else {
            panic!("the third arrival passes at once")
        };
        assert!(c.is_leader());
        let Poll::Ready(a) = a.as_mut().poll(&mut cx) else {
            panic!("released")
        };
        let Poll::Ready(b) = b.as_mut().poll(&mut cx) else {
            panic!("released")
        };
        assert!(!a.is_leader() && !b.is_leader());
    }
    assert_eq!(counter.wakes(), 4, "each waiter woken once per round");
}

#[test]
fn a_barrier_of_one_never_waits() {
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    for n in [0, 1] {
        let barrier = Barrier::new(n);
        assert!(matches!(pin!(barrier.wait()).poll(&mut cx), Poll::Ready(r) if r.is_leader()));
    }
}

#[test]
#[cfg(feature = "alloc")]
fn more_tasks_than_the_barrier_size_go_through_in_rounds() {
    use core::sync::atomic::{AtomicUsize, Ordering};
    use pollen_core::executor::Executor;
    use pollen_core::future::yield_now;

    static EX: Executor = Executor::new();
    static BARRIER: Barrier = Barrier::new(2);
    static LEADERS: AtomicUsize = AtomicUsize::new(0);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            EX.spawn(async move {
                for _ in 0..3 {
                    for _ in 0..i {
                        yield_now().await;
                    }
                    if BARRIER.wait().await.is_leader() {
                        LEADERS.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    EX.run_until_stalled();
    assert!(
        handles.iter().all(|h| h.is_finished()),
        "nobody is left waiting"
    );
    assert_eq!(
        LEADERS.load(Ordering::SeqCst),
        6,
        "12 arrivals, rounds of 2"
    );
}
