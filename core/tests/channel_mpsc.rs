//! Bounded `mpsc`: backpressure, closing, cancellation, every value dropped
//! once, static channels reused.

mod future_support;

use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll};

use future_support::CountWaker;
#[cfg(feature = "alloc")]
use pollen_core::channel::mpsc;
use pollen_core::channel::mpsc::{Channel, SendError, TryRecvError, TrySendError};

struct Tracked(&'static AtomicUsize);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_full_channel_holds_the_third_send_until_a_receive() {
    static CH: Channel<u32, 2> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    assert!(pin!(tx.send(1)).poll(&mut cx).is_ready());
    assert!(pin!(tx.send(2)).poll(&mut cx).is_ready());
    let mut third = pin!(tx.send(3));
    assert!(third.as_mut().poll(&mut cx).is_pending(), "full: waits");
    assert_eq!(tx.capacity(), 0);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(counter.wakes(), 1, "the waiting sender is woken");
    assert_eq!(third.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(tx.max_capacity(), 2);
}

#[test]
#[cfg(feature = "alloc")]
fn three_senders_times_ten_messages_are_thirty_received() {
    use pollen_core::executor::Executor;
    static EX: Executor = Executor::new();
    let (tx, mut rx) = mpsc::channel::<u32>(4);
    for s in 0..3 {
        let tx = tx.clone();
        drop(EX.spawn(async move {
            for i in 0..10 {
                tx.send(s * 100 + i).await.unwrap();
            }
        }));
    }
    drop(tx);
    let received = EX.spawn(async move {
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    EX.run_until_stalled();
    let (_, waker) = CountWaker::new();
    let Poll::Ready(Ok(mut got)) = pin!(received).poll(&mut Context::from_waker(&waker)) else {
        panic!("the receiver finished")
    };
    assert_eq!(got.len(), 30);
    // Each sender's messages arrive in its order.
    for s in 0..3 {
        let mine: Vec<u32> = got.iter().copied().filter(|v| v / 100 == s).collect();
        assert_eq!(mine, (0..10).map(|i| s * 100 + i).collect::<Vec<_>>());
    }
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 30);
}

#[test]
fn recv_is_none_once_every_sender_is_gone_and_the_buffer_drained() {
    static CH: Channel<u32, 4> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let tx2 = tx.clone();
    tx.try_send(1).unwrap();
    drop(tx);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(1)));
    assert!(rx.poll_recv(&mut cx).is_pending(), "a sender is left");
    drop(tx2);
    assert_eq!(
        counter.wakes(),
        1,
        "the last sender's drop wakes the receiver"
    );
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn a_dropped_receiver_fails_senders_and_drops_what_was_buffered() {
    static CH: Channel<Tracked, 1> = Channel::new();
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let (tx, rx) = CH.split().unwrap();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    assert!(tx.try_send(Tracked(&DROPS)).is_ok());
    let mut waiting = pin!(tx.send(Tracked(&DROPS)));
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    let mut closed = pin!(tx.closed());
    assert!(closed.as_mut().poll(&mut cx).is_pending());
    drop(rx);
    assert_eq!(DROPS.load(Ordering::SeqCst), 1, "the buffered value");
    assert!(counter.wakes() >= 2, "the waiting sender and closed()");
    assert!(closed.as_mut().poll(&mut cx).is_ready());
    let Poll::Ready(Err(SendError(back))) = waiting.as_mut().poll(&mut cx) else {
        panic!("the send fails")
    };
    drop(back);
    assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    assert!(tx.is_closed());
    assert!(matches!(
        tx.try_send(Tracked(&DROPS)),
        Err(TrySendError::Closed(_))
    ));
    assert_eq!(DROPS.load(Ordering::SeqCst), 3);
}

#[test]
fn a_static_channel_is_reused_once_all_halves_are_gone() {
    static CH: Channel<u32, 2> = Channel::new();
    let (tx, rx) = CH.split().unwrap();
    tx.try_send(1).unwrap();
    assert!(CH.split().is_none(), "in use");
    drop(rx);
    assert!(CH.split().is_none(), "a sender is alive");
    drop(tx);
    let (tx, mut rx) = CH.split().expect("free again");
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Empty),
        "nothing left from before"
    );
    tx.try_send(2).unwrap();
    tx.try_send(3).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn try_send_says_full_and_gives_the_value_back() {
    static CH: Channel<u32, 1> = Channel::new();
    let (tx, _rx) = CH.split().unwrap();
    tx.try_send(1).unwrap();
    let Err(TrySendError::Full(2)) = tx.try_send(2) else {
        panic!("full")
    };
    assert_eq!(TrySendError::Full(5).into_inner(), 5);
    assert_eq!(
        TrySendError::Closed(5u8).to_string(),
        "the channel is closed"
    );
}

#[test]
fn a_permit_reserves_a_slot_and_gives_it_back_unused() {
    static CH: Channel<u32, 1> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let Poll::Ready(Ok(permit)) = pin!(tx.reserve()).poll(&mut cx) else {
        panic!("a free slot")
    };
    assert!(
        matches!(tx.try_send(9), Err(TrySendError::Full(9))),
        "reserved"
    );
    drop(permit);
    assert_eq!(tx.capacity(), 1);
    let Poll::Ready(Ok(permit)) = pin!(tx.reserve()).poll(&mut cx) else {
        panic!("free again")
    };
    permit.send(7);
    assert_eq!(rx.try_recv(), Ok(7));
}

#[test]
fn blocked_senders_are_served_in_order_and_a_cancelled_one_loses_its_place() {
    static CH: Channel<u32, 1> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    tx.try_send(0).unwrap();
    let mut a = pin!(tx.send(1));
    let mut b = Box::pin(tx.send(2));
    let mut c = pin!(tx.send(3));
    for f in [
        a.as_mut().poll(&mut cx),
        b.as_mut().poll(&mut cx),
        c.as_mut().poll(&mut cx),
    ] {
        assert!(f.is_pending());
    }
    drop(b);
    // Each receive frees the slot for the next sender in line: `a`, then
    // `c` (`b` gave up its place).
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(c.as_mut().poll(&mut cx).is_pending(), "c waits behind a");
    assert_eq!(a.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(c.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn close_lets_the_buffer_drain_then_ends() {
    static CH: Channel<u32, 2> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    tx.try_send(1).unwrap();
    rx.close();
    assert!(matches!(tx.try_send(2), Err(TrySendError::Closed(2))));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Disconnected),
        "closed and drained"
    );
}

#[test]
fn the_receiver_is_a_stream() {
    use futures_core::Stream;
    static CH: Channel<u32, 2> = Channel::new();
    let (tx, rx) = CH.split().unwrap();
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    tx.try_send(4).unwrap();
    drop(tx);
    let mut rx = pin!(rx);
    assert_eq!(rx.as_mut().poll_next(&mut cx), Poll::Ready(Some(4)));
    assert_eq!(rx.as_mut().poll_next(&mut cx), Poll::Ready(None));
}

#[cfg(feature = "alloc")]
mod unbounded {
    use super::*;

    #[test]
    fn sends_never_wait_and_recv_ends_when_senders_are_gone() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (counter, waker) = CountWaker::new();
        let mut cx = Context::from_waker(&waker);
        assert!(rx.poll_recv(&mut cx).is_pending());
        let tx2 = tx.clone();
        let n: u64 = if cfg!(miri) { 300 } else { 10_000 };
        for i in 0..n {
            tx.send(i).unwrap();
        }
        assert_eq!(counter.wakes(), 1, "the waiting receiver is woken once");
        assert_eq!(rx.len(), n as usize);
        drop((tx, tx2));
        let mut sum = 0u64;
        while let Poll::Ready(Some(v)) = rx.poll_recv(&mut cx) {
            sum += v;
        }
        assert_eq!(sum, (0..n).sum());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn recv_many_takes_up_to_the_limit_then_waits_then_ends() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (counter, waker) = CountWaker::new();
        let mut cx = Context::from_waker(&waker);
        let mut buffer = Vec::new();
        assert!(rx.poll_recv_many(&mut cx, &mut buffer, 4).is_pending());
        for i in 0..6 {
            tx.send(i).unwrap();
        }
        assert_eq!(counter.wakes(), 1, "the waiting receiver is woken");
        assert_eq!(rx.poll_recv_many(&mut cx, &mut buffer, 4), Poll::Ready(4));
        assert_eq!(rx.poll_recv_many(&mut cx, &mut buffer, 0), Poll::Ready(0));
        assert_eq!(rx.poll_recv_many(&mut cx, &mut buffer, 4), Poll::Ready(2));
        assert_eq!(buffer, [0, 1, 2, 3, 4, 5]);
        assert!(rx.poll_recv_many(&mut cx, &mut buffer, 4).is_pending());
        drop(tx);
        assert_eq!(counter.wakes(), 2, "the last sender's drop wakes it");
        assert_eq!(rx.poll_recv_many(&mut cx, &mut buffer, 4), Poll::Ready(0));
    }

    #[test]
    fn a_gone_receiver_fails_sends_and_drops_what_was_queued() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(Tracked(&DROPS)).unwrap();
        let (counter, waker) = CountWaker::new();
        let mut cx = Context::from_waker(&waker);
        let mut closed = pin!(tx.closed());
        assert!(closed.as_mut().poll(&mut cx).is_pending());
        drop(rx);
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        assert_eq!(counter.wakes(), 1);
        assert!(closed.as_mut().poll(&mut cx).is_ready());
        assert!(tx.is_closed());
        let SendError(back) = tx.send(Tracked(&DROPS)).unwrap_err();
        drop(back);
        assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    }
}

#[test]
fn after_close_an_unused_permit_coming_back_ends_the_wait() {
    static CH: Channel<u32, 2> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let Poll::Ready(Ok(permit)) = pin!(tx.reserve()).poll(&mut cx) else {
        panic!("a free slot")
    };
    rx.close();
    // A reserved slot may still be filled: the receiver waits for it.
    assert!(rx.poll_recv(&mut cx).is_pending());
    drop(permit);
    assert_eq!(counter.wakes(), 1, "the slot came back unused: woken");
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
}

#[test]
fn after_close_a_permit_still_delivers() {
    static CH: Channel<u32, 2> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let Poll::Ready(Ok(permit)) = pin!(tx.reserve()).poll(&mut cx) else {
        panic!("a free slot")
    };
    rx.close();
    permit.send(9);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(9)));
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
}

#[test]
#[cfg(feature = "alloc")]
fn recv_many_takes_up_to_the_limit_in_order_and_frees_the_slots() {
    static CH: Channel<u32, 3> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    for v in 1..=3 {
        tx.try_send(v).unwrap();
    }
    let mut buffer = vec![0];
    {
        // Two senders wait for room, in order.
        let mut fourth = pin!(tx.send(4));
        let mut fifth = pin!(tx.send(5));
        assert!(fourth.as_mut().poll(&mut cx).is_pending());
        assert!(fifth.as_mut().poll(&mut cx).is_pending());

        assert_eq!(rx.poll_recv_many(&mut cx, &mut buffer, 2), Poll::Ready(2));
        assert_eq!(buffer, [0, 1, 2], "appended, oldest first");
        assert_eq!(counter.wakes(), 2, "both freed slots went to the waiters");
        assert_eq!(fourth.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
        assert_eq!(fifth.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    }

    buffer.clear();
    assert_eq!(rx.poll_recv_many(&mut cx, &mut buffer, 0), Poll::Ready(0));
    assert!(buffer.is_empty(), "a zero limit takes nothing");
    assert_eq!(rx.poll_recv_many(&mut cx, &mut buffer, 10), Poll::Ready(3));
    assert_eq!(buffer, [3, 4, 5]);
    assert!(
        rx.poll_recv_many(&mut cx, &mut buffer, 10).is_pending(),
        "empty with a sender alive: waits"
    );
    tx.try_send(6).unwrap();
    assert_eq!(counter.wakes(), 3, "a send wakes the waiting receiver");
    drop(tx);
    buffer.clear();
    assert_eq!(rx.poll_recv_many(&mut cx, &mut buffer, 10), Poll::Ready(1));
    assert_eq!(buffer, [6]);
    assert_eq!(
        rx.poll_recv_many(&mut cx, &mut buffer, 10),
        Poll::Ready(0),
        "drained and every sender gone"
    );
}

#[test]
fn send_takes_a_free_slot_only_behind_the_waiters() {
    static CH: Channel<u32, 1> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    let (_counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    tx.try_send(1).unwrap();
    let mut waiting = pin!(tx.send(2));
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    // The freed slot is the waiter's: a later send must not jump the queue.
    let mut later = pin!(tx.send(3));
    assert!(later.as_mut().poll(&mut cx).is_pending());
    assert_eq!(tx.try_send(4), Err(TrySendError::Full(4)), "nor a try_send");
    assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(later.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(3));
    drop(rx);
    assert_eq!(
        pin!(tx.send(5)).poll(&mut cx),
        Poll::Ready(Err(SendError(5))),
        "the value comes back once the receiver is gone"
    );
}

#[test]
#[cfg(feature = "alloc")]
fn try_recv_many_takes_what_is_buffered_and_stores_no_waker() {
    static CH: Channel<u32, 4> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    let mut buffer = Vec::new();
    assert_eq!(rx.try_recv_many(&mut buffer, 8), Err(TryRecvError::Empty));
    for v in 1..=3 {
        tx.try_send(v).unwrap();
    }
    assert_eq!(rx.try_recv_many(&mut buffer, 2), Ok(2));
    assert_eq!(rx.try_recv_many(&mut buffer, 0), Err(TryRecvError::Empty));
    assert_eq!(rx.try_recv_many(&mut buffer, 8), Ok(1));
    assert_eq!(buffer, [1, 2, 3]);
    drop(tx);
    assert_eq!(
        rx.try_recv_many(&mut buffer, 8),
        Err(TryRecvError::Disconnected)
    );
}

#[test]
fn try_reserve_and_what_the_halves_tell_of_the_channel() {
    static CH: Channel<u32, 2> = Channel::new();
    static OTHER: Channel<u32, 2> = Channel::new();
    let (tx, mut rx) = CH.split().unwrap();
    let (other, _other_rx) = OTHER.split().unwrap();
    assert!(tx.same_channel(&tx.clone()));
    assert!(!tx.same_channel(&other));
    assert!(rx.is_empty());
    assert_eq!((rx.capacity(), rx.max_capacity()), (2, 2));
    let permit = tx.try_reserve().unwrap();
    tx.try_send(1).unwrap();
    assert_eq!(tx.try_reserve().unwrap_err(), TrySendError::Full(()));
    assert_eq!((rx.len(), rx.capacity()), (1, 0));
    permit.send(2);
    assert_eq!(rx.len(), 2);
    assert!(!rx.is_closed());
    drop(tx);
    // No sender left: closed, though two values wait to be received.
    assert!(rx.is_closed());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    drop(rx);
    let (tx, mut rx) = CH.split().unwrap();
    rx.close();
    assert!(rx.is_closed());
    assert_eq!(tx.try_reserve().unwrap_err(), TrySendError::Closed(()));
}

#[test]
#[cfg(feature = "alloc")]
fn values_keep_their_order_and_the_capacity_stays_whole_as_the_ring_empties_and_refills() {
    // An empty ring starts again at its first slot; whichever way it is
    // emptied (one value at a time, in a batch, or partly), the values come
    // out in order and exactly `capacity` fit.
    let (tx, mut rx) = mpsc::channel::<u32>(4);
    let mut model = std::collections::VecDeque::new();
    let mut next = 0;
    let mut buffer = Vec::new();
    for round in 0..64u32 {
        // Fill up to a varying depth, then to the brim.
        for _ in 0..(round % 5).min(4 - model.len() as u32) {
            tx.try_send(next).unwrap();
            model.push_back(next);
            next += 1;
        }
        // Take some: one, a batch, or everything.
        let take = match round % 3 {
            0 => 1,
            1 => 2,
            _ => usize::MAX,
        };
        if take == 1 {
            match rx.try_recv() {
                Ok(v) => assert_eq!(Some(v), model.pop_front()),
                Err(TryRecvError::Empty) => assert!(model.is_empty()),
                Err(e) => panic!("{e}"),
            }
        } else {
            buffer.clear();
            let taken = rx.try_recv_many(&mut buffer, take).unwrap_or(0);
            let expected: Vec<u32> = model.drain(..taken).collect();
            assert_eq!(buffer, expected);
        }
        let mut free = 0;
        while tx.try_send(next).is_ok() {
            model.push_back(next);
            next += 1;
            free += 1;
        }
        assert_eq!(
            model.len(),
            4,
            "round {round}: {free} sent, the ring holds 4"
        );
    }
    buffer.clear();
    assert_eq!(rx.try_recv_many(&mut buffer, 10), Ok(4));
    assert_eq!(buffer, Vec::from(model));
}
