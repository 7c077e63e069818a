//! `Notify`: permits, FIFO, notify_waiters, cancellation.

mod future_support;

use core::future::Future;
use core::pin::pin;
use core::task::Context;

use future_support::CountWaker;
use pollen_core::sync::Notify;

#[test]
fn a_permit_is_stored_once_and_consumed_once() {
    let notify = Notify::new();
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    notify.notify_one();
    notify.notify_one(); // permits do not add up
    assert!(pin!(notify.notified()).poll(&mut cx).is_ready());
    assert!(pin!(notify.notified()).poll(&mut cx).is_pending());
}

#[test]
fn notify_one_wakes_the_longest_waiting_first() {
    let notify = Notify::new();
    let (first, first_waker) = CountWaker::new();
    let (second, second_waker) = CountWaker::new();
    let mut a = pin!(notify.notified());
    let mut b = pin!(notify.notified());
    assert!(
        a.as_mut()
            .poll(&mut Context::from_waker(&first_waker))
            .is_pending()
    );
    assert!(
        b.as_mut()
            .poll(&mut Context::from_waker(&second_waker))
            .is_pending()
    );
    notify.notify_one();
    assert_eq!((first.wakes(), second.wakes()), (1, 0));
    assert!(
        a.as_mut()
            .poll(&mut Context::from_waker(&first_waker))
            .is_ready()
    );
    assert!(
        b.as_mut()
            .poll(&mut Context::from_waker(&second_waker))
            .is_pending()
    );
    notify.notify_one();
    assert!(
        b.as_mut()
            .poll(&mut Context::from_waker(&second_waker))
            .is_ready()
    );
}

#[test]
fn notify_waiters_completes_every_future_made_before_it_and_stores_nothing() {
    let notify = Notify::new();
    let wakers: Vec<_> = (0..50).map(|_| CountWaker::new()).collect();
    let mut polled: Vec<_> = (0..50).map(|_| Box::pin(notify.notified())).collect();
    for (n, (_, w)) in polled.iter_mut().zip(&wakers) {
        assert!(n.as_mut().poll(&mut Context::from_waker(w)).is_pending());
    }
    // Made before the call but never polled: completes too.
    let mut unpolled = pin!(notify.notified());
    notify.notify_waiters();
    for (n, (counter, w)) in polled.iter_mut().zip(&wakers) {
        assert_eq!(counter.wakes(), 1);
        assert!(n.as_mut().poll(&mut Context::from_waker(w)).is_ready());
    }
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    assert!(unpolled.as_mut().poll(&mut cx).is_ready());
    assert!(
        pin!(notify.notified()).poll(&mut cx).is_pending(),
        "no permit stored"
    );
}

#[test]
fn a_notified_dropped_after_notify_one_passes_it_on() {
    let notify = Notify::new();
    let (_, w1) = CountWaker::new();
    let (second, w2) = CountWaker::new();
    let mut b = Box::pin(notify.notified());
    {
        let mut a = pin!(notify.notified());
        assert!(a.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
        assert!(b.as_mut().poll(&mut Context::from_waker(&w2)).is_pending());
        notify.notify_one(); // goes to `a`...
    } // ...which is dropped without seeing it
    assert_eq!(second.wakes(), 1, "passed on to the next waiter");
    assert!(b.as_mut().poll(&mut Context::from_waker(&w2)).is_ready());
    // With no one left to pass to, it is stored.
    let mut c = Box::pin(notify.notified());
    assert!(c.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
    notify.notify_one();
    drop(c);
    assert!(
        pin!(notify.notified())
            .poll(&mut Context::from_waker(&w1))
            .is_ready()
    );
}
