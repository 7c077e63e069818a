//! `watch`: latest value, change notification, sender and receivers going.

mod future_support;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};

use future_support::CountWaker;
#[cfg(feature = "alloc")]
use pollen_core::channel::watch;
use pollen_core::channel::watch::Channel;

#[test]
fn receivers_see_the_latest_value_and_wait_for_changes() {
    static CH: Channel<u32> = Channel::new(0);
    let (tx, mut rx) = CH.split().unwrap();
    let mut rx2 = tx.subscribe();
    assert_eq!(tx.receiver_count(), 2);
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    {
        let mut changed = pin!(rx.changed());
        assert!(changed.as_mut().poll(&mut cx).is_pending(), "nothing new");
        tx.send(1).unwrap();
        tx.send(2).unwrap(); // not queued: the receiver sees only the newest
        assert_eq!(counter.wakes(), 1);
        assert_eq!(changed.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    }
    assert_eq!(rx.get(), 2);
    assert_eq!(rx.has_changed(), Ok(false));
    assert_eq!(rx2.has_changed(), Ok(true));
    assert_eq!(rx2.with_and_update(|v| *v * 10), 20);
    assert_eq!(rx2.has_changed(), Ok(false));
    tx.send_modify(|v| *v += 1);
    assert_eq!(rx.with(|v| *v), 3);
    assert_eq!(tx.send_replace(7), 3);
    assert_eq!(tx.with(|v| *v), 7);
}

#[test]
fn the_sender_going_ends_changed_after_unseen_news() {
    static CH: Channel<&str> = Channel::new("a");
    let (tx, mut rx) = CH.split().unwrap();
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    tx.send("b").unwrap();
    drop(tx);
    assert_eq!(
        pin!(rx.changed()).poll(&mut cx),
        Poll::Ready(Ok(())),
        "b first"
    );
    assert_eq!(rx.get(), "b");
    let Poll::Ready(Err(e)) = pin!(rx.changed()).poll(&mut cx) else {
        panic!("then the end")
    };
    assert_eq!(e.to_string(), "the sender is gone");
    drop(rx);
    let (_tx, rx) = CH.split().expect("reusable, value kept");
    assert_eq!(rx.get(), "b");
}

#[test]
fn a_waiting_receiver_is_woken_when_the_sender_goes() {
    static CH: Channel<u8> = Channel::new(0);
    let (tx, mut rx) = CH.split().unwrap();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut changed = pin!(rx.changed());
    assert!(changed.as_mut().poll(&mut cx).is_pending());
    drop(tx);
    assert_eq!(counter.wakes(), 1);
    assert!(matches!(
        changed.as_mut().poll(&mut cx),
        Poll::Ready(Err(_))
    ));
}

#[test]
fn send_fails_without_receivers_and_closed_wakes() {
    static CH: Channel<u8> = Channel::new(0);
    let (tx, rx) = CH.split().unwrap();
    let rx2 = rx.clone();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut closed = pin!(tx.closed());
    assert!(closed.as_mut().poll(&mut cx).is_pending());
    drop(rx);
    assert!(!tx.is_closed());
    drop(rx2);
    assert_eq!(counter.wakes(), 1);
    assert!(closed.as_mut().poll(&mut cx).is_ready());
    assert_eq!(tx.send(5).unwrap_err().0, 5);
}

#[test]
#[cfg(feature = "alloc")]
fn the_arc_channel_works() {
    let (tx, rx) = watch::channel(String::from("x"));
    tx.send("y".into()).unwrap();
    assert_eq!(rx.get(), "y");
    assert_eq!(rx.has_changed(), Ok(true));
}

#[test]
fn send_if_modified_tells_receivers_only_of_a_change() {
    static CH: Channel<u32> = Channel::new(0);
    let (tx, mut rx) = CH.split().unwrap();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut changed = pin!(rx.changed());
    assert!(changed.as_mut().poll(&mut cx).is_pending());
    assert!(!tx.send_if_modified(|v| {
        let odd = *v % 2 == 1;
        if odd {
            *v += 1;
        }
        odd
    }));
    assert_eq!(counter.wakes(), 0, "nothing changed");
    assert!(tx.send_if_modified(|v| {
        *v = 5;
        true
    }));
    assert_eq!(counter.wakes(), 1);
    assert_eq!(changed.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
}

#[test]
fn wait_for_returns_the_first_value_that_fits() {
    static CH: Channel<u32> = Channel::new(1);
    let (tx, mut rx) = CH.split().unwrap();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    {
        // The current value fits: at once.
        let mut odd = pin!(rx.wait_for(|v| v % 2 == 1));
        assert_eq!(odd.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
    }
    {
        let mut big = pin!(rx.wait_for(|v| *v >= 10));
        assert!(big.as_mut().poll(&mut cx).is_pending());
        tx.send(4).unwrap();
        assert_eq!(counter.wakes(), 1);
        assert!(big.as_mut().poll(&mut cx).is_pending(), "4 does not fit");
        tx.send(12).unwrap();
        assert_eq!(big.as_mut().poll(&mut cx), Poll::Ready(Ok(12)));
    }
    assert_eq!(rx.has_changed(), Ok(false), "12 is marked seen");
    let mut never = pin!(rx.wait_for(|v| *v == 0));
    assert!(never.as_mut().poll(&mut cx).is_pending());
    drop(tx);
    assert!(matches!(never.as_mut().poll(&mut cx), Poll::Ready(Err(_))));
}

#[test]
fn borrow_copies_the_value_and_says_whether_it_is_new() {
    static CH: Channel<u32> = Channel::new(1);
    let (tx, mut rx) = CH.split().unwrap();
    let first = rx.borrow();
    assert_eq!((*first, first.has_changed()), (1, false));
    tx.send(2).unwrap();
    assert!(rx.borrow().has_changed(), "not marked seen by borrow");
    let update = rx.borrow_and_update();
    assert_eq!((*update, update.has_changed()), (2, true));
    assert!(!rx.borrow().has_changed());
    assert_eq!(tx.borrow().into_inner(), 2);
}
