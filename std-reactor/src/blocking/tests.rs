//! Behaviour of the blocking pool: results, panics, growth, the thread cap,
//! keep-alive, shutdown, failed thread starts, and many spawners at once.
//!
//! Every wait here has a generous deadline so that a broken pool fails a
//! test instead of hanging it; no test asserts how fast anything happens.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pollen_core::executor::{Executor, StdPark};
use pollen_core::task::JoinHandle;

use super::{BlockingConfig, BlockingPool};

/// How long any wait in these tests may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// Drives `future` to completion on this thread.
///
/// Each test thread gets its own executor and park (leaked, a few words
/// each): tests run in parallel, and with one shared `static` pair two tests
/// ticking at once would trip the executor's "already driven" check, and one
/// test could consume the park token meant for another.
fn block_on<F: Future>(future: F) -> F::Output {
    thread_local! {
        static DRIVER: (&'static Executor, &'static StdPark) =
            (Box::leak(Box::new(Executor::new())), Box::leak(Box::new(StdPark::new())));
    }
    let (executor, park) = DRIVER.with(|driver| *driver);
    executor.block_on(park, future)
}

/// Awaits every handle, in order.
fn join_all<R>(handles: Vec<JoinHandle<R>>) -> Vec<Result<R, pollen_core::task::JoinError>> {
    block_on(async {
        let mut out = Vec::with_capacity(handles.len());
        for handle in handles {
            out.push(handle.await);
        }
        out
    })
}

fn config(max_threads: usize, keep_alive: Duration) -> BlockingConfig {
    BlockingConfig {
        max_threads,
        keep_alive,
        ..BlockingConfig::default()
    }
}

/// Polls `condition` until it holds; fails the test after [`PATIENCE`].
#[track_caller]
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Shuts `pool` down and checks that every thread stopped.
#[track_caller]
fn shut_down(pool: &BlockingPool) {
    assert!(pool.shutdown(Some(PATIENCE)), "threads still running");
    assert_eq!(pool.threads(), 0);
    assert_eq!(pool.idle_threads(), 0);
    assert_eq!(pool.queue_depth(), 0);
}

/// A gate closures wait at until the test opens it.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    condvar: Condvar,
}

impl Gate {
    fn wait(&self) {
        let deadline = Instant::now() + PATIENCE;
        let mut open = self.open.lock().unwrap();
        while !*open {
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("the gate never opened");
            open = self.condvar.wait_timeout(open, left).unwrap().0;
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.condvar.notify_all();
    }
}

/// A barrier for `n` parties that gives up after [`PATIENCE`], so a pool
/// that fails to grow fails the test instead of hanging it.
struct Rendezvous {
    arrived: Mutex<usize>,
    condvar: Condvar,
    parties: usize,
}

impl Rendezvous {
    fn new(parties: usize) -> Rendezvous {
        Rendezvous {
            arrived: Mutex::new(0),
            condvar: Condvar::new(),
            parties,
        }
    }

    fn wait(&self) {
        let deadline = Instant::now() + PATIENCE;
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.condvar.notify_all();
        while *arrived < self.parties {
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("not every party arrived: the pool did not grow");
            arrived = self.condvar.wait_timeout(arrived, left).unwrap().0;
        }
    }
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn results_come_back() {
    let pool = BlockingPool::new(BlockingConfig::default());
    let handles = (0..10u64)
        .map(|i| pool.spawn(move || i * i))
        .collect::<Vec<_>>();
    let results = join_all(handles);
    let squares = results.into_iter().map(Result::unwrap).collect::<Vec<_>>();
    assert_eq!(squares, (0..10u64).map(|i| i * i).collect::<Vec<_>>());

    let text = block_on(pool.spawn(|| String::from("owned output")));
    assert_eq!(text.unwrap(), "owned output");
    shut_down(pool);
}

#[test]
fn a_panic_is_reported_and_the_pool_keeps_working() {
    let pool = BlockingPool::new(config(1, Duration::from_secs(10)));
    let error = block_on(pool.spawn(|| -> u32 { panic!("boom in a blocking closure") }))
        .expect_err("the closure panicked");
    assert!(error.is_panic());
    assert!(!error.is_cancelled());

    // The same (only) thread goes on serving.
    assert_eq!(block_on(pool.spawn(|| 7)).unwrap(), 7);
    let results = join_all((0..5).map(|i| pool.spawn(move || i)).collect());
    assert_eq!(
        results.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert!(pool.threads() <= 1);
    shut_down(pool);
}

#[test]
fn the_pool_grows_until_every_task_runs_at_once() {
    const N: usize = 8;
    let pool = BlockingPool::new(BlockingConfig::default());
    let rendezvous = Arc::new(Rendezvous::new(N));
    let handles = (0..N)
        .map(|_| {
            let rendezvous = rendezvous.clone();
            // Each closure returns only once all N are running.
            pool.spawn(move || rendezvous.wait())
        })
        .collect();
    for result in join_all(handles) {
        result.unwrap();
    }
    assert!(pool.threads() >= N);
    assert!(pool.threads() <= N, "grew without need: {pool:?}");
    shut_down(pool);
}

#[test]
fn max_threads_caps_how_many_run_at_once() {
    const TASKS: usize = 10;
    let pool = BlockingPool::new(config(2, Duration::from_secs(10)));
    let gate = Arc::new(Gate::default());
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let handles = (0..TASKS)
        .map(|i| {
            let (gate, running, most) = (gate.clone(), running.clone(), most.clone());
            pool.spawn(move || {
                let now = running.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                gate.wait();
                running.fetch_sub(1, SeqCst);
                i
            })
        })
        .collect::<Vec<_>>();

    // Two run and block at the gate; the other eight wait in the queue.
    wait_until("two tasks run", || running.load(SeqCst) == 2);
    wait_until("eight tasks are queued", || pool.queue_depth() == TASKS - 2);
    assert_eq!(pool.threads(), 2);
    assert_eq!(pool.idle_threads(), 0);
    // A later spawn queues too (and takes no thread).
    let late = pool.spawn(|| TASKS);
    assert_eq!(pool.queue_depth(), TASKS - 1);
    assert_eq!(pool.threads(), 2);

    gate.open();
    let results = join_all(handles);
    assert_eq!(
        results.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        (0..TASKS).collect::<Vec<_>>()
    );
    assert_eq!(block_on(late).unwrap(), TASKS);
    assert_eq!(most.load(SeqCst), 2);
    assert!(pool.threads() <= 2);
    shut_down(pool);
}

#[test]
fn idle_threads_exit_after_keep_alive() {
    const N: usize = 3;
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let named = Arc::new(AtomicUsize::new(0));
    let pool = BlockingPool::new(BlockingConfig {
        max_threads: 16,
        keep_alive: Duration::from_millis(50),
        thread_name: {
            let named = named.clone();
            Arc::new(move || format!("blocking-{}", named.fetch_add(1, SeqCst)))
        },
        stack_size: Some(256 * 1024),
        on_thread_start: Some({
            let started = started.clone();
            Arc::new(move || {
                started.fetch_add(1, SeqCst);
            })
        }),
        on_thread_stop: Some({
            let stopped = stopped.clone();
            Arc::new(move || {
                stopped.fetch_add(1, SeqCst);
            })
        }),
    });
    let rendezvous = Arc::new(Rendezvous::new(N));
    let handles = (0..N)
        .map(|_| {
            let rendezvous = rendezvous.clone();
            pool.spawn(move || {
                rendezvous.wait();
                thread::current().name().map(String::from)
            })
        })
        .collect();
    for name in join_all(handles) {
        assert!(name.unwrap().unwrap().starts_with("blocking-"));
    }
    assert_eq!(named.load(SeqCst), N);

    wait_until("every idle thread exits", || pool.threads() == 0);
    assert_eq!(pool.idle_threads(), 0);
    // Threads that retired may still be finishing their stop hook;
    // `shutdown` waits for them.
    shut_down(pool);
    assert_eq!(started.load(SeqCst), N);
    assert_eq!(stopped.load(SeqCst), N);
}

#[test]
fn a_retired_pool_grows_again() {
    let pool = BlockingPool::new(config(4, Duration::from_millis(20)));
    assert_eq!(block_on(pool.spawn(|| 1)).unwrap(), 1);
    wait_until("the thread exits", || pool.threads() == 0);
    assert_eq!(block_on(pool.spawn(|| 2)).unwrap(), 2);
    shut_down(pool);
}

#[test]
fn shutdown_cancels_queued_tasks_and_waits_for_running_ones() {
    const QUEUED: usize = 5;
    let pool = BlockingPool::new(config(1, Duration::from_secs(10)));
    let gate = Arc::new(Gate::default());
    let started = Arc::new(AtomicBool::new(false));
    let running = {
        let (gate, started) = (gate.clone(), started.clone());
        pool.spawn(move || {
            started.store(true, SeqCst);
            gate.wait();
            "finished"
        })
    };
    wait_until("the first task runs", || started.load(SeqCst));

    let drops = Arc::new(AtomicUsize::new(0));
    let ran = Arc::new(AtomicUsize::new(0));
    let queued = (0..QUEUED)
        .map(|_| {
            let counted = Counted(drops.clone());
            let ran = ran.clone();
            pool.spawn(move || {
                let _counted = counted;
                ran.fetch_add(1, SeqCst);
            })
        })
        .collect::<Vec<_>>();
    assert_eq!(pool.queue_depth(), QUEUED);

    // A timed shutdown gives up while the first task is blocked...
    assert!(!pool.shutdown(Some(Duration::from_millis(20))));
    // ...but has already cancelled the queued ones.
    assert_eq!(pool.queue_depth(), 0);
    assert_eq!(drops.load(SeqCst), QUEUED);
    assert!(!running.is_finished());

    let waiter = thread::spawn(move || pool.shutdown(None));
    thread::sleep(Duration::from_millis(10));
    assert!(!running.is_finished());
    gate.open();
    assert!(waiter.join().unwrap(), "shutdown(None) returns once done");
    assert!(running.is_finished());
    assert_eq!(block_on(running).unwrap(), "finished");

    for result in join_all(queued) {
        assert!(result.unwrap_err().is_cancelled());
    }
    assert_eq!(ran.load(SeqCst), 0);
    assert_eq!(drops.load(SeqCst), QUEUED, "each closure dropped once");
    shut_down(pool);
}

#[test]
fn spawn_after_shutdown_is_cancelled() {
    let pool = BlockingPool::new(BlockingConfig::default());
    assert_eq!(block_on(pool.spawn(|| 1)).unwrap(), 1);
    shut_down(pool);

    let drops = Arc::new(AtomicUsize::new(0));
    let counted = Counted(drops.clone());
    let handle = pool.spawn(move || -> u32 {
        let _counted = counted;
        unreachable!("ran after shutdown");
    });
    assert!(handle.is_finished());
    assert!(block_on(handle).unwrap_err().is_cancelled());
    assert_eq!(drops.load(SeqCst), 1);
    assert_eq!(pool.threads(), 0);
    shut_down(pool);
}

#[test]
fn a_failed_thread_start_with_no_thread_left_cancels_the_task() {
    let pool = BlockingPool::new(BlockingConfig::default());
    pool.refuse_spawns.store(true, SeqCst);
    let drops = Arc::new(AtomicUsize::new(0));
    let counted = Counted(drops.clone());
    let handle = pool.spawn(move || -> u32 {
        let _counted = counted;
        unreachable!("no thread to run it");
    });
    assert!(block_on(handle).unwrap_err().is_cancelled());
    assert_eq!(drops.load(SeqCst), 1);
    assert_eq!(pool.threads(), 0);
    assert_eq!(pool.queue_depth(), 0);

    // Once threads can start again, so does the pool.
    pool.refuse_spawns.store(false, SeqCst);
    assert_eq!(block_on(pool.spawn(|| 3)).unwrap(), 3);
    shut_down(pool);
}

#[test]
fn a_failed_thread_start_leaves_the_task_to_a_busy_thread() {
    let pool = BlockingPool::new(BlockingConfig::default());
    let gate = Arc::new(Gate::default());
    let started = Arc::new(AtomicBool::new(false));
    let first = {
        let (gate, started) = (gate.clone(), started.clone());
        pool.spawn(move || {
            started.store(true, SeqCst);
            gate.wait();
            1
        })
    };
    wait_until("the first task runs", || started.load(SeqCst));

    pool.refuse_spawns.store(true, SeqCst);
    let second = pool.spawn(|| 2);
    assert_eq!(pool.threads(), 1);
    assert_eq!(pool.queue_depth(), 1);
    assert!(!second.is_finished());

    gate.open();
    assert_eq!(block_on(first).unwrap(), 1);
    assert_eq!(block_on(second).unwrap(), 2);
    pool.refuse_spawns.store(false, SeqCst);
    shut_down(pool);
}

#[test]
fn a_panicking_thread_name_counts_as_a_failed_start() {
    let pool = BlockingPool::new(BlockingConfig {
        thread_name: Arc::new(|| panic!("no name for you")),
        ..BlockingConfig::default()
    });
    assert!(block_on(pool.spawn(|| 1)).unwrap_err().is_cancelled());
    assert_eq!(pool.threads(), 0);
    shut_down(pool);
}

#[test]
fn many_spawners_at_once() {
    const SPAWNERS: usize = 4;
    const TASKS: usize = 1000;
    let pool = BlockingPool::new(config(8, Duration::from_millis(5)));
    let ran = Arc::new(AtomicUsize::new(0));
    let spawners = (0..SPAWNERS)
        .map(|s| {
            let ran = ran.clone();
            thread::spawn(move || {
                let handles = (0..TASKS)
                    .map(|i| {
                        let ran = ran.clone();
                        pool.spawn(move || {
                            ran.fetch_add(1, SeqCst);
                            s * TASKS + i
                        })
                    })
                    .collect();
                let results = join_all(handles);
                for (i, result) in results.into_iter().enumerate() {
                    assert_eq!(result.unwrap(), s * TASKS + i);
                }
            })
        })
        .collect::<Vec<_>>();
    for spawner in spawners {
        spawner.join().unwrap();
    }
    assert_eq!(ran.load(SeqCst), SPAWNERS * TASKS);
    assert!(pool.threads() <= 8);
    shut_down(pool);
}

#[test]
fn threads_that_retire_at_once_lose_no_task() {
    // With no keep-alive a thread retires as soon as it finds no work, so
    // spawns keep racing retirements; with one or two threads at most, a
    // lost wake-up would leave a task queued for ever (and fail the wait).
    for max_threads in [1, 2] {
        let pool = BlockingPool::new(config(max_threads, Duration::ZERO));
        let spawners = (0..4)
            .map(|_| {
                thread::spawn(move || {
                    for round in 0..50 {
                        let handles = (0..10).map(|i| pool.spawn(move || round + i)).collect();
                        let results = join_all(handles);
                        for (i, result) in results.into_iter().enumerate() {
                            assert_eq!(result.unwrap(), round + i);
                        }
                    }
                })
            })
            .collect::<Vec<_>>();
        for spawner in spawners {
            spawner.join().unwrap();
        }
        assert!(pool.threads() <= max_threads);
        shut_down(pool);
    }
}
