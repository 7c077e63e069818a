//! The current-thread runtime: spawning, panics, shutdown, handles, time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use pollen::runtime::{Builder, Handle, Runtime};

fn runtime() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

/// Counts its drops; never completes.
struct Forever(Arc<AtomicUsize>);

impl Future for Forever {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Drop for Forever {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn spawned_tasks_run_and_their_outputs_come_back() {
    let rt = runtime();
    let sum = rt.block_on(async {
        let tasks: Vec<_> = (0..100u64)
            .map(|i| pollen::spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for task in tasks {
            sum += task.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 4950);
}

#[test]
fn a_panicking_task_is_reported_and_the_runtime_keeps_running() {
    let rt = runtime();
    rt.block_on(async {
        let bad = pollen::spawn(async { panic!("boom") });
        let error = bad.await.unwrap_err();
        assert!(error.is_panic());
        assert_eq!(*error.into_panic().downcast::<&str>().unwrap(), "boom");
        // Still serving.
        assert_eq!(pollen::spawn(async { 7 }).await.unwrap(), 7);
    });
    assert_eq!(rt.block_on(async { 8 }), 8);
}

#[test]
fn dropping_the_runtime_drops_every_live_task() {
    let drops = Arc::new(AtomicUsize::new(0));
    let rt = runtime();
    for _ in 0..10 {
        // Never polled.
        rt.spawn(Forever(drops.clone()));
    }
    rt.block_on(async {
        for _ in 0..10 {
            // Polled once, then idle for ever.
            pollen::spawn(Forever(drops.clone()));
        }
        pollen::future::yield_now().await;
    });
    assert_eq!(rt.metrics().num_alive_tasks(), 20);
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), 20);
}

#[test]
fn shutdown_timeout_drops_tasks_too() {
    let drops = Arc::new(AtomicUsize::new(0));
    let rt = runtime();
    let handle = rt.spawn(Forever(drops.clone()));
    rt.shutdown_timeout(Duration::from_secs(1));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(handle.is_finished());
}

#[test]
fn spawning_through_a_handle_after_shutdown_yields_a_cancelled_task() {
    let rt = runtime();
    let handle = rt.handle();
    drop(rt);
    let drops = Arc::new(AtomicUsize::new(0));
    let task = handle.spawn(Forever(drops.clone()));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the future is dropped at once"
    );
    let other = runtime();
    assert!(other.block_on(task).unwrap_err().is_cancelled());
}

#[test]
fn handles_spawn_from_other_threads() {
    let rt = runtime();
    let handle = rt.handle();
    let tasks: Vec<_> = (0..4)
        .map(|i| std::thread::spawn(move || handle.spawn(async move { i * 10 })))
        .map(|t| t.join().unwrap())
        .collect();
    let outputs = rt.block_on(async {
        let mut outputs = Vec::new();
        for task in tasks {
            outputs.push(task.await.unwrap());
        }
        outputs
    });
    assert_eq!(outputs, [0, 10, 20, 30]);
}

#[test]
fn a_wake_from_another_thread_reaches_a_parked_runtime() {
    let rt = runtime();
    rt.block_on(async {
        let (tx, rx) = pollen::channel::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(5).unwrap();
        });
        assert_eq!(rx.await.unwrap(), 5);
    });
}

#[test]
fn handle_current_finds_the_runtime_inside_tasks() {
    let rt = runtime();
    assert!(Handle::try_current().is_err());
    rt.block_on(async {
        let inside = pollen::spawn(async { Handle::try_current().is_ok() });
        assert!(inside.await.unwrap());
    });
    let _guard = rt.enter();
    assert!(Handle::try_current().is_ok());
}

#[test]
#[should_panic(expected = "cannot start a runtime from within a runtime")]
fn block_on_inside_block_on_panics() {
    let outer = runtime();
    let inner = runtime();
    outer.block_on(async { inner.block_on(async {}) });
}

#[test]
fn two_threads_in_block_on_share_the_runtime() {
    let rt = Arc::new(runtime());
    let (tx, rx) = std::sync::mpsc::channel();
    let other = {
        let rt = rt.clone();
        std::thread::spawn(move || {
            rt.block_on(async {
                // Runs on whichever thread drives.
                pollen::spawn(async { 1 }).await.unwrap()
            });
            tx.send(()).unwrap();
        })
    };
    rt.block_on(async {
        pollen::time::sleep(Duration::from_millis(20)).await;
    });
    // The first `block_on` has returned; the other thread takes over.
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    other.join().unwrap();
}

#[test]
fn sleep_waits_on_the_real_clock() {
    let rt = runtime();
    let slept = rt.block_on(async {
        let start = std::time::Instant::now();
        pollen::time::sleep(Duration::from_millis(15)).await;
        start.elapsed()
    });
    assert!(slept >= Duration::from_millis(15));
}

#[test]
fn a_paused_clock_jumps_to_the_next_timer_when_every_task_waits() {
    let rt = Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let (virtual_elapsed, real_elapsed) = rt.block_on(async {
        let real = std::time::Instant::now();
        let start = pollen::time::now();
        pollen::time::sleep(Duration::from_secs(3600)).await;
        (pollen::time::now() - start, real.elapsed())
    });
    assert!(virtual_elapsed >= Duration::from_secs(3600));
    assert!(real_elapsed < Duration::from_secs(3600));
}

#[test]
fn a_block_on_future_that_keeps_yielding_does_not_starve_io_and_timers() {
    // The `block_on` future yields in a loop until a task that waits on a
    // socket and one that waits on a timer are done. Its own polls must
    // count towards the event interval, or the runtime never looks at I/O
    // and timers again and the loop spins for good. Run in a thread of its
    // own, so that a hang fails the test instead of stalling the suite.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = runtime();
        rt.block_on(async {
            let (mut ours, theirs) = pollen::net::UnixStream::pair().unwrap();
            let read = pollen::spawn(async move {
                let mut byte = [0];
                pollen::io::AsyncReadExt::read_exact(&mut &theirs, &mut byte)
                    .await
                    .unwrap();
            });
            let slept = pollen::spawn(pollen::time::sleep(Duration::from_millis(2)));
            pollen::future::yield_now().await; // both wait now
            pollen::io::AsyncWriteExt::write_all(&mut ours, b"x")
                .await
                .unwrap();
            while !(read.is_finished() && slept.is_finished()) {
                pollen::future::yield_now().await;
            }
        });
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the runtime stopped looking at I/O and timers");
}

#[test]
fn timeout_elapses_on_a_task_that_never_finishes() {
    let rt = runtime();
    rt.block_on(async {
        let result =
            pollen::time::timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
        assert!(result.is_err());
    });
}

#[test]
#[should_panic(expected = "timers are disabled")]
fn sleep_without_time_enabled_says_so() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async { pollen::time::sleep(Duration::from_millis(1)).await });
}

#[test]
fn aborting_a_task_that_holds_an_armed_timer_disarms_it_in_place() {
    // The timer wheel links the `Sleep` inside the task's future: the future
    // must be dropped where it was polled, or the wheel is corrupted.
    let rt = Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let long = pollen::spawn(pollen::time::sleep(Duration::from_secs(60)));
        let other = pollen::spawn(pollen::time::sleep(Duration::from_secs(120)));
        pollen::future::yield_now().await;
        pollen::time::sleep(Duration::from_secs(5)).await;
        long.abort();
        assert!(long.await.unwrap_err().is_cancelled());
        // The wheel still works: the other timer fires on time.
        let start = pollen::time::now();
        other.await.unwrap();
        assert!(pollen::time::now() - start >= Duration::from_secs(115));
    });
}

#[test]
fn dropped_runtimes_close_their_descriptors() {
    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }
    // Warm up anything process-wide (the std clock, thread-locals).
    drop(runtime());
    let before = open_fds();
    for _ in 0..200 {
        let rt = runtime();
        rt.block_on(async {
            let listener = pollen::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            drop(listener);
            pollen::time::sleep(Duration::from_millis(1)).await;
        });
    }
    // Other tests in this binary run in parallel and open descriptors of
    // their own; a leak of two per runtime would show as hundreds.
    let after = open_fds();
    assert!(
        after < before + 50,
        "{before} descriptors before, {after} after"
    );
}

#[test]
fn handle_block_on_drives_the_runtime_when_no_one_else_does() {
    let rt = runtime();
    let handle = rt.handle();
    let from_thread = std::thread::spawn(move || {
        handle.block_on(async {
            pollen::time::sleep(Duration::from_millis(5)).await;
            pollen::spawn(async { 40 + 2 }).await.unwrap()
        })
    });
    assert_eq!(from_thread.join().unwrap(), 42);
    // The runtime is whole afterwards: its owner drives it again.
    assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
}

#[test]
fn handle_block_on_beside_the_runtimes_own_block_on() {
    let rt = runtime();
    let handle = rt.handle();
    let (tx, rx) = pollen::channel::oneshot::channel();
    // The owner waits in `block_on` for what the other thread's `block_on`
    // sends from a task.
    let other = std::thread::spawn(move || {
        handle.block_on(async move {
            pollen::spawn(async move { tx.send(5).unwrap() })
                .await
                .unwrap();
        })
    });
    assert_eq!(rt.block_on(rx), Ok(5));
    other.join().unwrap();
}

#[test]
fn handle_block_on_after_shutdown_runs_the_future_and_cancels_its_tasks() {
    let rt = runtime();
    let handle = rt.handle();
    drop(rt);
    let (value, task) = handle.block_on(async { (3, pollen::spawn(async { 1 }).await) });
    assert_eq!(value, 3);
    assert!(task.unwrap_err().is_cancelled());
}
