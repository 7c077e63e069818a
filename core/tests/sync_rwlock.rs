//! `RwLock`: readers share, a writer excludes, and waits are FIFO so a
//! writer is never starved.

mod future_support;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};

use future_support::CountWaker;
use pollen_core::sync::RwLock;

#[test]
fn readers_share_and_a_writer_excludes() {
    let lock = RwLock::new(1);
    let a = lock.try_read().unwrap();
    let b = lock.try_read().unwrap();
    assert_eq!(*a + *b, 2);
    assert!(lock.try_write().is_err());
    drop((a, b));
    let mut w = lock.try_write().unwrap();
    *w = 5;
    assert!(lock.try_read().is_err());
    drop(w);
    assert_eq!(*lock.try_read().unwrap(), 5);
}

#[test]
fn a_waiting_writer_is_not_starved_by_later_readers() {
    let lock = RwLock::new(0);
    let (writer_counter, ww) = CountWaker::new();
    let (_, rw) = CountWaker::new();
    let reader = lock.try_read().unwrap();
    let mut write = pin!(lock.write());
    assert!(
        write
            .as_mut()
            .poll(&mut Context::from_waker(&ww))
            .is_pending()
    );
    // A reader that comes after the writer waits behind it.
    assert!(lock.try_read().is_err());
    let mut late_read = pin!(lock.read());
    assert!(
        late_read
            .as_mut()
            .poll(&mut Context::from_waker(&rw))
            .is_pending()
    );
    drop(reader);
    assert_eq!(writer_counter.wakes(), 1);
    let Poll::Ready(mut w) = write.as_mut().poll(&mut Context::from_waker(&ww)) else {
        panic!("the writer is first")
    };
    *w += 1;
    assert!(
        late_read
            .as_mut()
            .poll(&mut Context::from_waker(&rw))
            .is_pending()
    );
    drop(w);
    let Poll::Ready(r) = late_read.as_mut().poll(&mut Context::from_waker(&rw)) else {
        panic!("then the reader")
    };
    assert_eq!(*r, 1);
}

#[test]
fn a_cancelled_writer_lets_the_readers_behind_it_in() {
    let lock = RwLock::new(0);
    let (_, w) = CountWaker::new();
    let (reader_counter, r) = CountWaker::new();
    let held = lock.try_read().unwrap();
    let mut write = Box::pin(lock.write());
    assert!(
        write
            .as_mut()
            .poll(&mut Context::from_waker(&w))
            .is_pending()
    );
    let mut read = pin!(lock.read());
    assert!(
        read.as_mut()
            .poll(&mut Context::from_waker(&r))
            .is_pending()
    );
    drop(write);
    assert_eq!(reader_counter.wakes(), 1);
    assert!(read.as_mut().poll(&mut Context::from_waker(&r)).is_ready());
    drop(held);
}

#[test]
fn get_mut_needs_no_lock() {
    let mut lock = RwLock::new(String::from("a"));
    lock.get_mut().push('b');
    assert_eq!(&*lock.try_read().unwrap(), "ab");
}

#[test]
#[cfg(feature = "alloc")]
fn owned_guards_move_into_threads() {
    use std::sync::Arc;

    let lock = Arc::new(RwLock::new(1));
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let Poll::Ready(read) = pin!(lock.clone().read_owned()).poll(&mut cx) else {
        panic!("free")
    };
    let mut write = pin!(lock.clone().write_owned());
    assert!(
        write.as_mut().poll(&mut cx).is_pending(),
        "a reader holds it"
    );
    std::thread::spawn(move || assert_eq!(*read, 1))
        .join()
        .unwrap();
    let Poll::Ready(mut w) = write.as_mut().poll(&mut cx) else {
        panic!("the reader let go")
    };
    *w = 2;
    drop(w);
    assert_eq!(*lock.try_read().unwrap(), 2);
}
