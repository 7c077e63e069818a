//! Models of the blocking pool's hand-off protocol (`pool.rs`): a spawn
//! racing a worker that goes idle, two spawns racing each other, a spawn
//! racing a worker that retires on keep-alive, and a spawn racing
//! `shutdown`.
//!
//! Under `--cfg loom` each explores every interleaving (with at most two
//! pool threads, the queue and the keep-alive clock modelled); otherwise it
//! runs once as an ordinary test.
//!
//! A task left in the queue while every thread sleeps leaves the model's
//! [`block_on`] waiting for ever, which loom reports as a deadlock (an
//! ordinary run hangs). Every closure is counted: it is dropped exactly
//! once, and it ran (once) exactly when its handle yields `Ok`; otherwise
//! the handle yields cancelled.
//!
//! They catch the protocol's known weak points: without the worker's fence
//! after counting itself idle, without the spawner's fence after its push,
//! or without the idle worker's second look at the queue, the idle, the
//! two-spawner and the keep-alive models deadlock; without the fence after
//! `shutdown` sets its flag (or the spawner's), the two `shutdown` models
//! do.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use pollen_core::task::JoinHandle;

use super::{BlockingConfig, BlockingPool};
use crate::loom::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::model;
use crate::loom::model_sync::{Arc, Condvar, Mutex, thread};

/// What happened to one spawned closure.
#[derive(Default)]
struct Counts {
    /// Times it ran.
    ran: AtomicUsize,
    /// Times its captured state was dropped (run or cancelled).
    dropped: AtomicUsize,
    /// The thread it ran on.
    ran_on: Mutex<Option<thread::ThreadId>>,
}

/// The state a probe closure captures: counts its drop.
struct Probe(Arc<Counts>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, SeqCst);
    }
}

/// Pool threads started and stopped (by the pool's thread hooks).
#[derive(Default)]
struct Threads {
    started: AtomicUsize,
    stopped: AtomicUsize,
}

/// A fresh pool of at most `max_threads` threads whose starts and stops
/// are counted in the returned [`Threads`].
///
/// Both are leaked, as every pool is (the hooks must not hold a loom `Arc`,
/// whose leak loom would report). The keep-alive is long: under loom only
/// [`BlockingPool::expire_keep_alive`] ends an idle phase, and in an
/// ordinary run no worker retires on its own during a model.
fn pool(max_threads: usize) -> (&'static BlockingPool, &'static Threads) {
    let threads: &'static Threads = Box::leak(Box::default());
    let pool = BlockingPool::new(BlockingConfig {
        max_threads,
        keep_alive: Duration::from_secs(3600),
        // The config's hooks are `std::sync::Arc`s.
        on_thread_start: Some(std::sync::Arc::new(move || {
            threads.started.fetch_add(1, SeqCst);
        })),
        on_thread_stop: Some(std::sync::Arc::new(move || {
            threads.stopped.fetch_add(1, SeqCst);
        })),
        ..BlockingConfig::default()
    });
    (pool, threads)
}

/// Spawns a closure that counts its run (and the thread it ran on) and,
/// through its [`Probe`], its drop.
fn spawn_probe(pool: &'static BlockingPool) -> (JoinHandle<()>, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let probe = Probe(counts.clone());
    let handle = pool.spawn(move || {
        let counts = &probe.0;
        counts.ran.fetch_add(1, SeqCst);
        *counts.ran_on.lock().unwrap() = Some(thread::current().id());
        drop(probe);
    });
    (handle, counts)
}

/// Awaits a probe's handle and checks its counts; returns whether it ran.
#[track_caller]
fn settle(handle: JoinHandle<()>, counts: &Counts) -> bool {
    let result = block_on(handle);
    assert_eq!(counts.dropped.load(SeqCst), 1, "closure dropped once");
    let ran = counts.ran.load(SeqCst);
    match result {
        Ok(()) => assert_eq!(ran, 1, "a task that completed ran once"),
        Err(error) => {
            assert!(error.is_cancelled(), "only cancellation, no panic");
            assert_eq!(ran, 0, "a cancelled task never ran");
        }
    }
    ran == 1
}

/// The thread a probe ran on.
fn ran_on(counts: &Counts) -> Option<thread::ThreadId> {
    *counts.ran_on.lock().unwrap()
}

/// Shuts the pool down and checks that it stopped every thread it started.
#[track_caller]
fn shut_down(pool: &BlockingPool, threads: &Threads) {
    assert!(pool.shutdown(None));
    check_stopped(pool, threads);
}

/// Checks that a shut-down pool is empty and stopped every thread it
/// started.
#[track_caller]
fn check_stopped(pool: &BlockingPool, threads: &Threads) {
    assert_eq!(pool.threads(), 0);
    assert_eq!(pool.idle_threads(), 0);
    assert_eq!(pool.queue_depth(), 0);
    assert_eq!(
        threads.started.load(SeqCst),
        threads.stopped.load(SeqCst),
        "every thread started also stopped"
    );
}

/// A waker that raises a flag under a lock; [`block_on`] waits for the flag
/// on a condvar, so a wake-up that never comes is a deadlock for loom.
struct Flag {
    raised: Mutex<bool>,
    condvar: Condvar,
}

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        *self.raised.lock().unwrap() = true;
        self.condvar.notify_one();
    }
}

/// Drives `future` to completion on this thread, sleeping between polls
/// until it is woken.
fn block_on<F: Future + Unpin>(mut future: F) -> F::Output {
    // `Waker::from` takes std's `Arc`; the flag's lock and condvar are the
    // shim's, so loom sees every wake-up.
    let flag = std::sync::Arc::new(Flag {
        raised: Mutex::new(false),
        condvar: Condvar::new(),
    });
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = Pin::new(&mut future).poll(&mut cx) {
            return output;
        }
        let mut raised = flag.raised.lock().unwrap();
        while !*raised {
            raised = flag.condvar.wait(raised).unwrap();
        }
        *raised = false;
    }
}

/// One worker: the first spawn starts it, the second races it on its way
/// from that task to sleep (popping, counting itself idle, looking at the
/// queue once more, waiting). With one thread allowed, nothing else can
/// run the second task: the fences and the queue re-check must hand it over.
#[test]
fn spawn_racing_a_worker_going_idle_runs() {
    model(|| {
        let (pool, threads) = pool(1);
        let (first, first_counts) = spawn_probe(pool);
        assert!(settle(first, &first_counts));
        let (second, second_counts) = spawn_probe(pool);
        assert!(settle(second, &second_counts));
        assert_eq!(ran_on(&first_counts), ran_on(&second_counts));
        shut_down(pool, threads);
        assert_eq!(threads.started.load(SeqCst), 1);
    });
}

/// Two spawners race each other and the one worker on its way to sleep.
/// If both see it idle, one hands it a token and the other finds every
/// idle worker spoken for and tries to grow the pool: with `max_threads`
/// 1 the worker must drain both; with 2 a second thread may take one.
fn two_spawners_racing_one_idle_worker(max_threads: usize) {
    model(move || {
        let (pool, threads) = pool(max_threads);
        let (first, first_counts) = spawn_probe(pool);
        assert!(settle(first, &first_counts));
        let other = thread::spawn(move || spawn_probe(pool));
        let (second, second_counts) = spawn_probe(pool);
        let (third, third_counts) = other.join().unwrap();
        assert!(settle(second, &second_counts));
        assert!(settle(third, &third_counts));
        shut_down(pool, threads);
        assert!(threads.started.load(SeqCst) <= max_threads);
    });
}

#[test]
fn two_spawners_racing_one_idle_worker_both_run() {
    two_spawners_racing_one_idle_worker(1);
}

#[test]
#[cfg_attr(
    loom,
    ignore = "minutes at LOOM_MAX_PREEMPTIONS=2 (four threads); run with --ignored"
)]
fn two_spawners_racing_one_idle_worker_may_grow_and_both_run() {
    two_spawners_racing_one_idle_worker(2);
}

/// The keep-alive of the one worker expires (on a clock thread, so at any
/// point) while a task is spawned. Either the worker takes the task before
/// it retires, or it retires first and the spawner starts a replacement,
/// which runs the task. (A replacement may also start in vain: the worker
/// takes the task, then retires before the spawner looks at the count.)
#[test]
fn worker_retiring_on_keep_alive_racing_a_spawn_is_replaced_or_takes_it() {
    model(|| {
        let (pool, threads) = pool(1);
        let (first, first_counts) = spawn_probe(pool);
        assert!(settle(first, &first_counts));
        let clock = thread::spawn(move || pool.expire_keep_alive());
        let (second, second_counts) = spawn_probe(pool);
        assert!(settle(second, &second_counts));
        clock.join().unwrap();
        shut_down(pool, threads);
        let started = threads.started.load(SeqCst);
        if ran_on(&first_counts) == ran_on(&second_counts) {
            assert!(started <= 2);
        } else {
            assert_eq!(started, 2, "the task ran on a replacement");
        }
    });
}

/// `shutdown` races a spawn, with a worker already on its way to sleep
/// (`warm`) or none yet (the spawn must start it, racing the flag). The
/// task runs or its handle yields cancelled, never hangs; `shutdown`
/// returns with every thread stopped.
fn shutdown_racing_a_spawn(warm: bool) {
    model(move || {
        let (pool, threads) = pool(1);
        if warm {
            let (first, first_counts) = spawn_probe(pool);
            assert!(settle(first, &first_counts));
        }
        let spawner = thread::spawn(move || spawn_probe(pool));
        assert!(pool.shutdown(None));
        let (late, late_counts) = spawner.join().unwrap();
        settle(late, &late_counts);
        // After the spawner is done: until then its task may sit in the
        // queue for a moment before the spawner cancels it.
        check_stopped(pool, threads);
        assert!(threads.started.load(SeqCst) <= 1);
    });
}

#[test]
fn shutdown_racing_a_spawn_runs_or_cancels_it() {
    shutdown_racing_a_spawn(true);
}

#[test]
fn shutdown_racing_the_first_spawn_runs_or_cancels_it() {
    shutdown_racing_a_spawn(false);
}
