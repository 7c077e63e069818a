//! The cooperative budget: a task whose operations are always ready still
//! yields, so timers, I/O and other tasks on its thread run.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use pollen::io::AsyncReadExt;
use pollen::net::TcpListener;
use pollen::runtime::Builder;
use pollen::task::coop;

/// Receives from a channel that always holds a message, until `stop`.
async fn hot_channel(stop: Arc<AtomicBool>, received: Arc<AtomicU64>) {
    let (tx, mut rx) = pollen::channel::mpsc::channel::<u64>(16);
    while !stop.load(Ordering::Acquire) {
        // Both always ready: without a budget this loop never yields.
        tx.send(1).await.unwrap();
        received.fetch_add(rx.recv().await.unwrap(), Ordering::Relaxed);
    }
}

#[test]
fn a_hot_channel_loop_does_not_starve_a_timer_on_the_same_thread() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let hot = pollen::spawn(hot_channel(stop.clone(), received.clone()));
        pollen::time::sleep(Duration::from_millis(20)).await;
        stop.store(true, Ordering::Release);
        hot.await.unwrap();
    });
    assert!(received.load(Ordering::Relaxed) > 0, "the hot task ran too");
}

#[test]
fn a_hot_channel_loop_does_not_starve_other_tasks_on_one_worker() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .stall_threshold(None)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let hot = pollen::spawn(hot_channel(stop.clone(), received.clone()));
        // Spawned after the hot task, on the same (only) worker.
        let other = pollen::spawn(async {
            for _ in 0..10 {
                pollen::task::yield_now().await;
            }
            pollen::time::sleep(Duration::from_millis(5)).await;
        });
        other.await.unwrap();
        stop.store(true, Ordering::Release);
        hot.await.unwrap();
    });
    assert!(received.load(Ordering::Relaxed) > 0);
}

#[test]
fn a_socket_that_always_has_data_does_not_starve_a_timer() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A plain thread floods the socket faster than one read drains it.
        let writer = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                let chunk = [7u8; 64 * 1024];
                while !stop.load(Ordering::Acquire) {
                    if stream.write_all(&chunk).is_err() {
                        break;
                    }
                }
            }
        });
        let (mut socket, _) = listener.accept().await.unwrap();
        let reader = pollen::spawn({
            let stop = stop.clone();
            async move {
                let mut buf = [0u8; 16];
                let mut total = 0u64;
                // Small reads: the socket is ready for every one.
                while !stop.load(Ordering::Acquire) {
                    total += socket.read(&mut buf).await.unwrap() as u64;
                }
                total
            }
        });
        pollen::time::sleep(Duration::from_millis(20)).await;
        stop.store(true, Ordering::Release);
        assert!(reader.await.unwrap() > 0);
        writer.join().unwrap();
    });
}

#[test]
fn operations_spend_the_budget_and_unconstrained_lifts_it() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        pollen::spawn(async {
            assert!(coop::has_budget_remaining());
            for _ in 0..coop::BUDGET {
                coop::consume_budget().await;
            }
            assert!(!coop::has_budget_remaining(), "128 units spent in one poll");
            coop::unconstrained(async {
                assert!(coop::has_budget_remaining(), "no budget applies");
            })
            .await;
            // The next unit yields first; the next poll has a fresh budget.
            coop::consume_budget().await;
            assert!(coop::has_budget_remaining());
        })
        .await
        .unwrap();
    });
}
