//! `spawn_blocking` on the runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pollen::runtime::{Builder, Handle};

#[pollen::test]
async fn a_blocking_closure_runs_off_the_runtime_thread_and_returns_its_value() {
    let here = std::thread::current().id();
    let (there, value) = pollen::spawn_blocking(|| (std::thread::current().id(), 41 + 1))
        .await
        .unwrap();
    assert_ne!(here, there);
    assert_eq!(value, 42);
}

#[pollen::test]
async fn blocking_threads_are_inside_the_runtime() {
    let spawned =
        pollen::spawn_blocking(|| Handle::current().spawn(async { "from a blocking thread" }))
            .await
            .unwrap();
    assert_eq!(spawned.await.unwrap(), "from a blocking thread");
}

#[pollen::test]
async fn a_panicking_closure_is_reported() {
    let error = pollen::spawn_blocking(|| panic!("blocking boom"))
        .await
        .unwrap_err();
    assert!(error.is_panic());
    assert_eq!(pollen::spawn_blocking(|| 1).await.unwrap(), 1);
}

#[pollen::test(start_paused = true)]
async fn virtual_time_does_not_jump_while_a_blocking_closure_runs() {
    // The closure takes real time; a virtual one-second timeout must not
    // fire just because every task waits.
    let work = pollen::spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(50));
        7
    });
    let result = pollen::time::timeout(Duration::from_secs(1), work).await;
    assert_eq!(result.expect("timed out in virtual time").unwrap(), 7);
}

#[test]
fn virtual_time_jumps_again_once_a_blocking_closure_has_returned() {
    // A pool thread still counts as busy from the moment its closure
    // returned (which wakes the task awaiting it) until it goes idle. A
    // runtime that found every task waiting in that window must not park
    // for good: nothing tells it when the thread goes idle, and the sleep
    // below would never end. Run in a thread of its own, so that a hang
    // fails the test instead of stalling the suite.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            for _ in 0..200 {
                pollen::spawn_blocking(|| ()).await.unwrap();
                pollen::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("virtual time stood still after a blocking closure returned");
}

#[test]
fn max_blocking_threads_bounds_how_many_run_at_once() {
    let rt = Builder::new_current_thread()
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                pollen::spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert!(most.load(Ordering::SeqCst) <= 2);
}

#[test]
fn dropping_the_runtime_waits_for_running_closures() {
    let rt = Builder::new_current_thread().build().unwrap();
    let finished = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    {
        let (finished, started) = (finished.clone(), started.clone());
        rt.spawn_blocking(move || {
            started.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            finished.store(true, Ordering::SeqCst);
        });
    }
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    drop(rt);
    assert!(finished.load(Ordering::SeqCst));
}

#[test]
fn shutdown_timeout_does_not_wait_for_ever() {
    let rt = Builder::new_current_thread().build().unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    {
        let (release, started) = (release.clone(), started.clone());
        rt.spawn_blocking(move || {
            started.store(true, Ordering::SeqCst);
            while !release.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
    }
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let begun = Instant::now();
    rt.shutdown_timeout(Duration::from_millis(20));
    // It returned while the closure still runs (it cannot be interrupted).
    assert!(!release.load(Ordering::SeqCst));
    release.store(true, Ordering::SeqCst);
    assert!(begun.elapsed() < Duration::from_secs(60));
}
