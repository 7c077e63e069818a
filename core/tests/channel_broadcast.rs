//! `broadcast`: every receiver sees every message; laggers are told.

mod future_support;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};

use future_support::CountWaker;
use pollen_core::channel::broadcast::{Channel, RecvError, TryRecvError};

#[test]
fn every_receiver_sees_every_message_in_order() {
    static CH: Channel<u32, 8> = Channel::new();
    let (tx, mut a) = CH.split().unwrap();
    let mut b = tx.subscribe();
    assert_eq!(tx.receiver_count(), 2);
    for i in 0..5 {
        assert_eq!(tx.send(i), Ok(2));
    }
    assert_eq!(a.len(), 5);
    for i in 0..5 {
        assert_eq!(a.try_recv(), Ok(i));
        assert_eq!(b.try_recv(), Ok(i));
    }
    assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
    assert!(a.is_empty());
}

#[test]
fn a_lagging_receiver_is_told_how_much_it_missed_and_goes_on() {
    static CH: Channel<u32, 3> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    for i in 0..10 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(7)));
    assert_eq!(rx.try_recv(), Ok(7));
    assert_eq!(rx.try_recv(), Ok(8));
    assert_eq!(rx.try_recv(), Ok(9));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn recv_waits_wakes_and_ends_when_senders_are_gone() {
    static CH: Channel<&str, 2> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    {
        let mut recv = pin!(rx.recv());
        assert!(recv.as_mut().poll(&mut cx).is_pending());
        tx.send("hi").unwrap();
        assert_eq!(counter.wakes(), 1);
        assert_eq!(recv.as_mut().poll(&mut cx), Poll::Ready(Ok("hi")));
    }
    let tx2 = tx.clone();
    drop(tx);
    tx2.send("last").unwrap();
    drop(tx2);
    assert_eq!(pin!(rx.recv()).poll(&mut cx), Poll::Ready(Ok("last")));
    let Poll::Ready(Err(e)) = pin!(rx.recv()).poll(&mut cx) else {
        panic!("closed")
    };
    assert_eq!(e, RecvError::Closed);
    assert_eq!(e.to_string(), "every sender is gone");
}

#[test]
fn send_without_receivers_gives_the_value_back_and_the_channel_is_reused() {
    static CH: Channel<String, 2> = Channel::new();
    let (tx, rx) = CH.split().unwrap();
    tx.send("kept".into()).unwrap();
    drop(rx);
    assert_eq!(tx.send("x".into()).unwrap_err().0, "x");
    assert!(CH.split().is_none(), "the sender is alive");
    drop(tx);
    let (tx, mut rx) = CH.split().expect("free again");
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Empty),
        "nothing from before"
    );
    tx.send("new".into()).unwrap();
    assert_eq!(rx.try_recv().as_deref(), Ok("new"));
}

#[test]
#[cfg(feature = "alloc")]
fn the_arc_channel_works() {
    let (tx, mut rx) = pollen_core::channel::broadcast::channel::<u8>(2);
    let mut rx2 = rx.clone();
    tx.send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx2.try_recv(), Ok(1));
}

#[test]
fn a_resubscribed_receiver_starts_from_now() {
    static CH: Channel<u32, 8> = Channel::new();
    let (tx, mut old) = CH.split().unwrap();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    let mut new = old.resubscribe();
    assert_eq!(tx.receiver_count(), 2);
    assert_eq!(new.try_recv(), Err(TryRecvError::Empty));
    tx.send(3).unwrap();
    assert_eq!(new.try_recv(), Ok(3));
    assert_eq!(old.try_recv(), Ok(1), "the old one keeps its place");
    drop(new);
    assert_eq!(tx.receiver_count(), 1);
}
