//! The `blocking_*` methods: plain threads talking to tasks through the
//! same channels and locks, and a clear panic when a task calls one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use pollen::channel::{broadcast, mpsc, oneshot};
use pollen::sync::{Mutex, RwLock, StdRawMutex};

fn runtime() -> pollen::runtime::Runtime {
    pollen::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_thread_sends_into_a_full_channel_and_waits_for_room() {
    let runtime = runtime();
    let (tx, mut rx) = mpsc::channel::<u32>(2);
    let sent = Arc::new(AtomicUsize::new(0));
    let producer = {
        let sent = sent.clone();
        thread::spawn(move || {
            for i in 0..100 {
                tx.blocking_send(i).unwrap();
                sent.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let received = runtime.block_on(async move {
        // The producer fills both slots, then waits.
        while sent.load(Ordering::SeqCst) < 2 {
            pollen::time::sleep(Duration::from_millis(1)).await;
        }
        pollen::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(sent.load(Ordering::SeqCst), 2, "sent past the capacity");
        let mut received = Vec::new();
        while let Some(value) = rx.recv().await {
            received.push(value);
        }
        received
    });
    producer.join().unwrap();
    assert_eq!(received, (0..100).collect::<Vec<_>>());
}

#[test]
fn a_thread_receives_from_tasks_until_they_are_gone() {
    let runtime = runtime();
    let (tx, mut rx) = mpsc::channel::<u32>(4);
    let (utx, mut urx) = mpsc::unbounded_channel::<u32>();
    runtime.spawn(async move {
        for i in 0..10 {
            tx.send(i).await.unwrap();
            utx.send(i * 2).unwrap();
        }
    });
    let consumer = thread::spawn(move || {
        let mut got = Vec::new();
        while let Some(value) = rx.blocking_recv() {
            got.push(value + urx.blocking_recv().unwrap());
        }
        assert_eq!(urx.blocking_recv(), None);
        got
    });
    assert_eq!(
        consumer.join().unwrap(),
        (0..10).map(|i| i * 3).collect::<Vec<_>>()
    );
}

#[test]
fn a_thread_waits_for_a_oneshot_and_hears_of_a_dropped_sender() {
    let runtime = runtime();
    let (tx, rx) = oneshot::channel::<&str>();
    let (dropped, never) = oneshot::channel::<&str>();
    runtime.spawn(async move {
        pollen::time::sleep(Duration::from_millis(20)).await;
        let _ = tx.send("late");
        drop(dropped);
    });
    let waiter = thread::spawn(move || (rx.blocking_recv(), never.blocking_recv()));
    let (value, error) = waiter.join().unwrap();
    assert_eq!(value, Ok("late"));
    assert!(error.is_err());
}

#[test]
fn a_thread_takes_its_turn_at_a_lock_a_task_holds_across_an_await() {
    let runtime = runtime();
    let lock = Arc::new(Mutex::<Vec<&str>, StdRawMutex>::with_raw_mutex(Vec::new()));
    let rw = Arc::new(RwLock::<u32, StdRawMutex>::with_raw_mutex(0));
    let (held, is_held) = oneshot::channel::<()>();
    let task = {
        let (lock, rw) = (lock.clone(), rw.clone());
        runtime.spawn(async move {
            let mut guard = lock.lock().await;
            let mut value = rw.write().await;
            let _ = held.send(());
            pollen::time::sleep(Duration::from_millis(50)).await;
            guard.push("task");
            *value = 7;
        })
    };
    is_held.blocking_recv().unwrap();
    lock.blocking_lock().push("thread");
    assert_eq!(*rw.blocking_read(), 7);
    *rw.blocking_write() += 1;
    runtime.block_on(task).unwrap();
    assert_eq!(*lock.blocking_lock(), ["task", "thread"]);
    assert_eq!(*rw.blocking_read(), 8);
}

#[test]
fn a_thread_reads_a_broadcast() {
    let runtime = runtime();
    let (tx, mut rx) = broadcast::channel::<u32>(16);
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        while let Ok(value) = rx.blocking_recv() {
            got.push(value);
        }
        got
    });
    runtime.block_on(async move {
        // Give the reader time to wait first; it sees everything either way.
        pollen::time::sleep(Duration::from_millis(10)).await;
        for i in 0..5 {
            tx.send(i).unwrap();
        }
    });
    assert_eq!(reader.join().unwrap(), [0, 1, 2, 3, 4]);
}

#[test]
fn a_task_that_blocks_panics_saying_why() {
    let runtime = runtime();
    let (tx, _rx) = mpsc::channel::<u32>(1);
    let error = runtime
        .block_on(runtime.spawn(async move { tx.blocking_send(1) }))
        .unwrap_err();
    assert!(error.is_panic());
    let message = error.into_panic();
    let message = message
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert!(
        message.contains("`mpsc::Sender::blocking_send` blocks its thread"),
        "{message}"
    );
}
