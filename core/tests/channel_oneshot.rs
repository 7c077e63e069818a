//! `oneshot`: the value once, errors when a half is gone, every value
//! dropped exactly once, static channels reused.

mod future_support;

use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll};

use future_support::CountWaker;
#[cfg(feature = "alloc")]
use pollen_core::channel::oneshot;
use pollen_core::channel::oneshot::{Channel, RecvError, TryRecvError};

/// Counts its drops in the given counter.
struct Tracked<'a>(u32, &'a AtomicUsize);

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn the_value_arrives_and_wakes_the_receiver() {
    static CH: Channel<u32> = Channel::new();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let (tx, rx) = CH.split().unwrap();
    let mut rx = pin!(rx);
    assert!(rx.as_mut().poll(&mut cx).is_pending());
    tx.send(42).unwrap();
    assert_eq!(counter.wakes(), 1);
    assert_eq!(rx.as_mut().poll(&mut cx), Poll::Ready(Ok(42)));
}

#[test]
fn a_sender_dropped_without_sending_is_an_error() {
    static CH: Channel<u32> = Channel::new();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let (tx, rx) = CH.split().unwrap();
    let mut rx = pin!(rx);
    assert!(rx.as_mut().poll(&mut cx).is_pending());
    drop(tx);
    assert_eq!(counter.wakes(), 1);
    let Poll::Ready(Err(err)) = rx.as_mut().poll(&mut cx) else {
        panic!("an error")
    };
    assert_eq!(err, RecvError::clone(&err));
    assert_eq!(err.to_string(), "the sender went without sending a value");
}

#[test]
fn a_send_to_a_dropped_receiver_gives_the_value_back() {
    static CH: Channel<u32> = Channel::new();
    let (mut tx, rx) = CH.split().unwrap();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    assert!(tx.poll_closed(&mut cx).is_pending());
    assert!(!tx.is_closed());
    drop(rx);
    assert_eq!(counter.wakes(), 1, "closed() is woken");
    assert!(tx.is_closed());
    assert!(tx.poll_closed(&mut cx).is_ready());
    assert_eq!(tx.send(7), Err(7));
    // Both halves are gone: the static channel is free again.
    assert!(CH.split().is_some());
}

#[test]
fn every_value_is_dropped_exactly_once() {
    static CH: Channel<Tracked<'static>> = Channel::new();
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    // Sent, never received: dropped when the receiver goes.
    let (tx, rx) = CH.split().unwrap();
    assert!(tx.send(Tracked(1, &DROPS)).is_ok());
    assert_eq!(DROPS.load(Ordering::SeqCst), 0);
    drop(rx);
    assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    // Received: the receiver's caller drops it.
    let (tx, mut rx) = CH.split().unwrap();
    assert!(tx.send(Tracked(2, &DROPS)).is_ok());
    let got = rx.try_recv().ok().unwrap();
    assert_eq!(got.0, 2);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Closed)));
    drop(rx);
    assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    drop(got);
    assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    // Returned by a failed send: the caller drops it.
    let (tx, rx) = CH.split().unwrap();
    drop(rx);
    let back = tx.send(Tracked(3, &DROPS)).err().unwrap();
    assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    drop(back);
    assert_eq!(DROPS.load(Ordering::SeqCst), 3);
    assert!(CH.split().is_some(), "free again");
}

#[test]
fn try_recv_says_empty_then_gives_the_value() {
    static CH: Channel<&'static str> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send("hi").unwrap();
    assert_eq!(rx.try_recv(), Ok("hi"));
}

#[test]
#[cfg(feature = "alloc")]
fn the_arc_channel_works_across_tasks() {
    use pollen_core::executor::Executor;
    static EX: Executor = Executor::new();
    let (tx, rx) = oneshot::channel();
    let receiver = EX.spawn(rx);
    let sender = EX.spawn(async move { tx.send(42).unwrap() });
    EX.run_until_stalled();
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    assert!(matches!(
        pin!(receiver).poll(&mut cx),
        Poll::Ready(Ok(Ok(42)))
    ));
    assert!(matches!(pin!(sender).poll(&mut cx), Poll::Ready(Ok(()))));
    // And dropping the sender is an error at the receiver.
    let (tx, rx) = oneshot::channel::<u8>();
    drop(tx);
    assert!(matches!(pin!(rx).poll(&mut cx), Poll::Ready(Err(_))));
}
