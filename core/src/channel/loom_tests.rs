//! Models of the channels. Under `--cfg loom` each explores every
//! interleaving; otherwise each runs once as a plain test (and under Miri).

use core::future::Future;

use super::oneshot::Channel;
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Arc;
use crate::loom::{model, thread};
use crate::loom_test_slot::BlockingRawMutex;

/// Counts its drops.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A fresh oneshot channel for one model iteration (`split` borrows it).
macro_rules! channel {
    ($t:ty) => {
        model_static!(Channel<$t>, Channel::new())
    };
}

#[test]
fn oneshot_send_racing_receiver_drop_drops_the_value_once() {
    model(|| {
        let ch = channel!(Tracked);
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = ch.split().unwrap();
        let d = drops.clone();
        let sender = thread::spawn(move || tx.send(Tracked(d)).err());
        drop(rx);
        let returned = sender.join().unwrap();
        // Either the receiver's drop dropped it, or the send gave it back.
        let dropped = drops.load(Ordering::SeqCst);
        assert_eq!(dropped + usize::from(returned.is_some()), 1);
        drop(returned);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert!(ch.split().is_some(), "free again for the next user");
    });
}

#[test]
fn oneshot_receiver_sees_the_value_or_the_sender_gone() {
    model(|| {
        let ch = channel!(u32);
        let (tx, rx) = ch.split().unwrap();
        let sender = thread::spawn(move || {
            tx.send(7).unwrap();
        });
        assert_eq!(crate::loom_test_slot::block_on(rx), Ok(7));
        sender.join().unwrap();
    });
}

#[test]
fn oneshot_sender_drop_wakes_a_waiting_receiver() {
    model(|| {
        let ch = channel!(u32);
        let (tx, rx) = ch.split().unwrap();
        let dropper = thread::spawn(move || drop(tx));
        assert!(crate::loom_test_slot::block_on(rx).is_err());
        dropper.join().unwrap();
    });
}

#[test]
fn oneshot_closed_wakes_the_sender() {
    model(|| {
        let ch = channel!(u32);
        let (mut tx, rx) = ch.split().unwrap();
        let dropper = thread::spawn(move || drop(rx));
        crate::loom_test_slot::block_on(core::future::poll_fn(|cx| tx.poll_closed(cx)));
        assert_eq!(tx.send(1), Err(1));
        dropper.join().unwrap();
    });
}

/// The receiver's drop wakes a sender waiting in `closed` (`RX_WAKING`)
/// while the sender sends and goes: the value is dropped once, the waker
/// woken, and the channel released once, after the wake.
#[test]
fn oneshot_receiver_drop_waking_the_sender_racing_its_send() {
    model(|| {
        let ch = channel!(Tracked);
        let drops = Arc::new(AtomicUsize::new(0));
        let woken = Arc::new(AtomicUsize::new(0));
        let (mut tx, rx) = ch.split().unwrap();
        let waker = waker_counting(woken.clone());
        let closed = tx.poll_closed(&mut core::task::Context::from_waker(&waker));
        assert!(closed.is_pending());
        let dropper = thread::spawn(move || drop(rx));
        let back = tx.send(Tracked(drops.clone())).err();
        dropper.join().unwrap();
        // Given back if the receiver went first, else dropped with it.
        assert_eq!(
            drops.load(Ordering::SeqCst) + usize::from(back.is_some()),
            1
        );
        drop(back);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // Woken if the receiver went while the sender still waited.
        assert!(woken.load(Ordering::SeqCst) <= 1);
        drop(waker);
        assert!(ch.split().is_some(), "released exactly once");
    });
}

/// As above, with the sender dropped instead of sending.
#[test]
fn oneshot_receiver_drop_waking_the_sender_racing_its_drop() {
    model(|| {
        let ch = channel!(u32);
        let woken = Arc::new(AtomicUsize::new(0));
        let (mut tx, rx) = ch.split().unwrap();
        let waker = waker_counting(woken.clone());
        let closed = tx.poll_closed(&mut core::task::Context::from_waker(&waker));
        assert!(closed.is_pending());
        let dropper = thread::spawn(move || drop(rx));
        drop(tx);
        dropper.join().unwrap();
        assert!(woken.load(Ordering::SeqCst) <= 1);
        drop(waker);
        assert!(ch.split().is_some(), "released exactly once");
    });
}

/// A heap channel (`oneshot::channel`) is freed by whichever half goes
/// last: a send racing the receiver's drop, the receiver having
/// registered its waker (so the sender wakes it as it goes).
#[test]
fn oneshot_heap_channel_freed_by_the_last_half() {
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = super::oneshot::channel::<Tracked>();
        let mut rx = alloc::boxed::Box::pin(rx);
        let poll = rx.as_mut().poll(&mut core::task::Context::from_waker(
            core::task::Waker::noop(),
        ));
        assert!(poll.is_pending());
        let d = drops.clone();
        let sender = thread::spawn(move || tx.send(Tracked(d)).err());
        drop(rx);
        let back = sender.join().unwrap();
        assert_eq!(
            drops.load(Ordering::SeqCst) + usize::from(back.is_some()),
            1
        );
    });
}

/// A heap channel whose receiver wakes a sender in `closed` while the
/// sender goes: freed once, after the wake.
#[test]
fn oneshot_heap_channel_receiver_waking_the_sender_racing_its_drop() {
    model(|| {
        let woken = Arc::new(AtomicUsize::new(0));
        let (mut tx, rx) = super::oneshot::channel::<u32>();
        let waker = waker_counting(woken.clone());
        let closed = tx.poll_closed(&mut core::task::Context::from_waker(&waker));
        assert!(closed.is_pending());
        let dropper = thread::spawn(move || drop(rx));
        drop(tx);
        dropper.join().unwrap();
        assert!(woken.load(Ordering::SeqCst) <= 1);
    });
}

/// A fresh bounded channel for one model iteration.
macro_rules! bounded {
    ($t:ty, $n:literal) => {
        model_static!(
            super::mpsc::Channel<$t, $n, BlockingRawMutex>,
            super::mpsc::Channel::with_raw_mutex()
        )
    };
}

#[test]
fn mpsc_two_senders_through_one_slot_every_value_once() {
    model(|| {
        let ch = bounded!(u32, 1);
        let (tx, mut rx) = ch.split().unwrap();
        let tx2 = tx.clone();
        let a = thread::spawn(move || crate::loom_test_slot::block_on(tx.send(1)).unwrap());
        let b = thread::spawn(move || crate::loom_test_slot::block_on(tx2.send(2)).unwrap());
        let mut got = 0;
        while let Some(v) = crate::loom_test_slot::block_on(rx.recv()) {
            got += v;
        }
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(got, 3, "each value exactly once");
        drop(rx);
        assert!(ch.split().is_some(), "all halves gone: free again");
    });
}

/// `recv_many` frees several slots under one lock: each goes to a waiting
/// sender (in order), and no value is lost or taken twice.
#[test]
fn mpsc_recv_many_frees_slots_for_waiting_senders() {
    model(|| {
        let ch = bounded!(u32, 1);
        let (tx, mut rx) = ch.split().unwrap();
        let tx2 = tx.clone();
        let a = thread::spawn(move || {
            crate::loom_test_slot::block_on(tx.send(1)).unwrap();
            crate::loom_test_slot::block_on(tx.send(2)).unwrap();
        });
        let b = thread::spawn(move || crate::loom_test_slot::block_on(tx2.send(10)).unwrap());
        let mut got = alloc::vec::Vec::new();
        while crate::loom_test_slot::block_on(rx.recv_many(&mut got, 4)) > 0 {}
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(got.iter().sum::<u32>(), 13, "each value exactly once");
        let from_a: alloc::vec::Vec<u32> = got.iter().copied().filter(|&v| v < 10).collect();
        assert_eq!(from_a, [1, 2], "one sender's values in order");
    });
}

#[test]
fn mpsc_receiver_drop_racing_a_send_drops_the_value_once() {
    model(|| {
        let ch = bounded!(Tracked, 1);
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = ch.split().unwrap();
        let d = drops.clone();
        let sender = thread::spawn(move || tx.try_send(Tracked(d)).err().map(|e| e.into_inner()));
        drop(rx);
        let back = sender.join().unwrap();
        // Buffered and dropped with the receiver, or refused and returned.
        assert_eq!(
            drops.load(Ordering::SeqCst) + usize::from(back.is_some()),
            1
        );
        drop(back);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn watch_a_change_racing_changed_is_never_missed() {
    model(|| {
        let ch = model_static!(super::watch::Channel<u32>, super::watch::Channel::new(0));
        let (tx, mut rx) = ch.split().unwrap();
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            // Dropping the sender ends the channel after the change.
        });
        assert_eq!(crate::loom_test_slot::block_on(rx.changed()), Ok(()));
        assert_eq!(rx.get(), 1);
        sender.join().unwrap();
        assert!(crate::loom_test_slot::block_on(rx.changed()).is_err());
    });
}

#[test]
fn unbounded_send_racing_receiver_drop_drops_the_value_once() {
    model(|| {
        let (tx, rx) = super::mpsc::unbounded_channel::<Tracked>();
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let sender = thread::spawn(move || tx.send(Tracked(d)).err().map(|e| e.0));
        drop(rx);
        let back = sender.join().unwrap();
        assert_eq!(
            drops.load(Ordering::SeqCst) + usize::from(back.is_some()),
            1
        );
        drop(back);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn broadcast_lagging_accounts_for_every_message() {
    model(|| {
        let ch = model_static!(
            super::broadcast::Channel<u32, 2, BlockingRawMutex>,
            super::broadcast::Channel::with_raw_mutex()
        );
        let (tx, mut rx) = ch.split().unwrap();
        let sender = thread::spawn(move || {
            for i in 0..3 {
                tx.send(i).unwrap();
            }
        });
        // Read until the sender is gone: every message is either received,
        // in order, or counted as missed.
        let (mut got, mut missed, mut last) = (0u64, 0u64, None);
        loop {
            match crate::loom_test_slot::block_on(rx.recv()) {
                Ok(v) => {
                    assert!(last.is_none_or(|l| v > l), "in order");
                    last = Some(v);
                    got += 1;
                }
                Err(super::broadcast::RecvError::Lagged(n)) => missed += n,
                Err(super::broadcast::RecvError::Closed) => break,
            }
        }
        sender.join().unwrap();
        assert_eq!(got + missed, 3);
    });
}

#[test]
fn oneshot_waiting_receiver_dropped_while_the_sender_wakes_it() {
    model(|| {
        let ch = channel!(Tracked);
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = ch.split().unwrap();
        let mut rx = alloc::boxed::Box::pin(rx);
        // Registered: the sender's last step will read the receiver's waker.
        let poll = rx.as_mut().poll(&mut core::task::Context::from_waker(
            core::task::Waker::noop(),
        ));
        assert!(poll.is_pending());
        let d = drops.clone();
        let sender = thread::spawn(move || tx.send(Tracked(d)).err());
        drop(rx);
        let back = sender.join().unwrap();
        assert_eq!(
            drops.load(Ordering::SeqCst) + usize::from(back.is_some()),
            1
        );
        drop(back);
        assert!(
            ch.split().is_some(),
            "released exactly once, by the last one"
        );
    });
}

#[test]
fn oneshot_receiver_swapping_its_waker_while_the_value_comes() {
    model(|| {
        let ch = channel!(u32);
        let (tx, rx) = ch.split().unwrap();
        let mut rx = alloc::boxed::Box::pin(rx);
        let first = Arc::new(AtomicUsize::new(0));
        let second = Arc::new(AtomicUsize::new(0));
        let w1 = waker_counting(first.clone());
        let w2 = waker_counting(second.clone());
        assert!(
            rx.as_mut()
                .poll(&mut core::task::Context::from_waker(&w1))
                .is_pending()
        );
        let sender = thread::spawn(move || tx.send(5).unwrap());
        // Polled again with another waker (the task moved) as the value comes.
        let again = rx.as_mut().poll(&mut core::task::Context::from_waker(&w2));
        sender.join().unwrap();
        match again {
            core::task::Poll::Ready(v) => assert_eq!(v, Ok(5)),
            core::task::Poll::Pending => {
                // Then the new waker must have been woken, not only the old.
                assert_eq!(second.load(Ordering::SeqCst), 1, "lost wake-up");
                let last = rx.as_mut().poll(&mut core::task::Context::from_waker(&w2));
                assert_eq!(last, core::task::Poll::Ready(Ok(5)));
            }
        }
        drop(rx);
        drop((w1, w2));
        assert!(ch.split().is_some());
    });
}

/// A waker that counts its wake-ups in `count`.
fn waker_counting(count: Arc<AtomicUsize>) -> core::task::Waker {
    struct Counting(Arc<AtomicUsize>);
    impl alloc::task::Wake for Counting {
        fn wake(self: alloc::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    core::task::Waker::from(alloc::sync::Arc::new(Counting(count)))
}

#[test]
fn mpsc_static_reuse_after_halves_go_on_two_threads() {
    model(|| {
        let ch = bounded!(Tracked, 2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = ch.split().unwrap();
        tx.try_send(Tracked(drops.clone())).unwrap();
        // The halves go on different threads; whichever is last frees the
        // channel, and the buffered value is dropped exactly once.
        let t = thread::spawn(move || drop(tx));
        drop(rx);
        t.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let (tx, mut rx) = ch.split().expect("free again");
        assert!(rx.try_recv().is_err(), "nothing left from before");
        drop((tx, rx));
    });
}
