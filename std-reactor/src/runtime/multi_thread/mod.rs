//! The multi-thread scheduler: a pool of workers that steal work from each
//! other.
//!
//! # Shape
//!
//! Each worker thread owns a FIFO deque (crossbeam's `Worker`) and a
//! one-task [LIFO slot](lifo). A task woken on a worker goes to that
//! worker's LIFO slot (it was probably just sent a message, which is hot in
//! this core's cache), pushing the slot's previous task to the back of the
//! deque; a task that wakes itself while it runs (it yielded) goes to the
//! back of the deque. Tasks spawned or woken outside the pool go to the
//! global queue (crossbeam's `Injector`).
//!
//! A worker runs, in order: its LIFO slot (at most [`MAX_LIFO_POLLS`] times
//! in a row, then the slot's task goes to the back of the deque, so two
//! tasks handing a message back and forth cannot starve the deque), its
//! deque, a batch from the global queue. Every
//! [`global_queue_interval`](crate::runtime::Builder::global_queue_interval)
//! ticks it looks at the global queue first, so injected work is never
//! starved by local work, and every `event_interval` ticks it polls the
//! reactor and the timers without blocking, if no other worker does.
//!
//! With nothing to run it *searches*: it steals half of another worker's
//! deque (`steal_batch_and_pop`), or a batch of the global queue, or the
//! task in the LIFO slot of a worker the watchdog found stuck (a busy
//! worker's LIFO task is left to it otherwise: it runs it next, with the
//! message still in cache, and stealing it would bounce a chain of
//! hand-offs between cores). Then it *parks*: the first idle
//! worker parks in the poller (it is the one that wakes for I/O and
//! timers), the others on a condition variable. See `idle.rs` for who
//! searches and who is woken (no thundering herd, no lost wake-up) and
//! `park.rs` for how.
//!
//! A watchdog thread looks at the workers while any is busy: a worker whose
//! poll counter has not moved for a while is stuck in one poll (a task that
//! blocks, or computes without yielding). The watchdog then wakes a parked
//! worker, which takes the tasks waiting behind the stuck one (its deque,
//! and its LIFO slot, which the watchdog marks stealable) and the poller,
//! so timers and I/O go on; after
//! [`stall_threshold`](crate::runtime::Builder::stall_threshold) it reports
//! the stall once: to [`on_stall`](crate::runtime::Builder::on_stall), or
//! as a warning to the program's logger (the `log` feature), or on
//! standard error. The workers pay nothing
//! for this but a counter they keep anyway.
//!
//! # Shutdown
//!
//! Shutdown closes the task registry, aborts every task (their futures are
//! dropped by the workers, as every other poll), waits for the registry to
//! empty, then stops the workers: each drops its own `spawn_local` tasks
//! (which only it may touch) and exits; the shutting-down thread joins
//! them.

mod idle;
mod lifo;
mod park;
pub(crate) mod queue;
mod watchdog;
mod worker;

#[cfg(test)]
mod loom_tests;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use pollen_core::task::Runnable;

use self::idle::Idle;
use self::lifo::Lifo;
use self::park::Parker;
use self::queue::{Global, GlobalQueue, StealQueue, Thief};
pub(crate) use self::watchdog::StallHook;
pub use self::watchdog::StallReport;
use self::watchdog::Watchdog;
use super::local::LocalScheduler;
use super::shared::{Shared, lock};

pub(crate) use self::worker::{block_on, current_worker_local, schedule};

/// Polls of tasks from the LIFO slot in a row before the slot's task goes
/// to the back of the deque.
pub(crate) const MAX_LIFO_POLLS: u32 = 3;

/// Ticks between two looks at the global queue first (tokio's default).
pub(crate) const DEFAULT_GLOBAL_QUEUE_INTERVAL: u32 = 31;

/// Default time one poll may take before the watchdog reports it.
pub(crate) const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_millis(100);

/// How a multi-thread runtime is set up.
#[derive(Clone, Debug)]
pub(crate) struct PoolConfig {
    pub(crate) workers: usize,
    pub(crate) global_queue_interval: u32,
    pub(crate) stall_threshold: Option<Duration>,
    pub(crate) on_stall: Option<StallHook>,
}

/// The pool's shared side, inside the runtime's (leaked) `Shared`.
pub(crate) struct Pool {
    remotes: Box<[Remote]>,
    global: Global<Runnable>,
    idle: Idle,
    /// Set when the workers should exit.
    stopping: AtomicBool,
    /// Workers that have exited their loop.
    exited: AtomicUsize,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
    global_queue_interval: u32,
    /// `block_on` futures woken and not yet polled, or being polled: with
    /// virtual time, the clock does not jump while one may arm a timer.
    main_pending: AtomicUsize,
    watchdog: Watchdog,
}

/// What other threads see of one worker.
///
/// Aligned to 128 bytes (two cache lines, for CPUs that fetch lines in
/// pairs) so that one worker's writes (its counters, the task it polls,
/// its LIFO slot) never share a line with another worker's: false sharing
/// here costs every poll a cache miss on both cores.
#[repr(align(128))]
pub(crate) struct Remote {
    stealer: Thief<Runnable>,
    lifo: Lifo<Runnable>,
    parker: Parker,
    /// The worker's `spawn_local` tasks, made when it starts.
    local: OnceLock<&'static LocalScheduler>,
    metrics: WorkerMetrics,
}

/// Counters one worker keeps; only it writes them.
#[derive(Debug, Default)]
pub(crate) struct WorkerMetrics {
    pub(crate) polls: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
    /// Whether the worker is parked (or about to).
    pub(crate) parked: AtomicBool,
    /// The address of the task it is polling (or polled last), for the
    /// watchdog's report: an address only, never dereferenced.
    pub(crate) current: AtomicPtr<()>,
    /// Set by the watchdog when the worker has been inside one poll for a
    /// tick with tasks waiting behind it: thieves may then take even its
    /// LIFO slot. Cleared by the worker when that poll returns.
    pub(crate) stuck: AtomicBool,
}

impl WorkerMetrics {
    /// Adds to a counter only this worker writes: a load and a store, no
    /// read-modify-write.
    #[inline]
    fn bump(counter: &AtomicU64, by: u64) {
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(by),
            Ordering::Relaxed,
        );
    }
}

// === impl Pool ===

impl Pool {
    /// The shared side of a pool; its threads start with [`start`].
    ///
    /// Returns the owners' ends of the deques, one per worker, for `start`.
    pub(crate) fn new(config: &PoolConfig) -> (Pool, Vec<queue::Local<Runnable>>) {
        let workers = config.workers.max(1);
        let mut locals = Vec::with_capacity(workers);
        let mut remotes = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (local, stealer) = <queue::Local<Runnable> as queue::LocalQueue<_>>::new();
            locals.push(local);
            remotes.push(Remote {
                stealer,
                lifo: Lifo::new(),
                parker: Parker::new(),
                local: OnceLock::new(),
                metrics: WorkerMetrics::default(),
            });
        }
        let pool = Pool {
            remotes: remotes.into_boxed_slice(),
            global: GlobalQueue::new(),
            idle: Idle::new(workers),
            stopping: AtomicBool::new(false),
            exited: AtomicUsize::new(0),
            threads: Mutex::new(Vec::with_capacity(workers)),
            global_queue_interval: config.global_queue_interval.max(1),
            main_pending: AtomicUsize::new(0),
            watchdog: Watchdog::new(config.stall_threshold, config.on_stall.clone()),
        };
        (pool, locals)
    }

    /// The number of workers.
    pub(crate) fn workers(&self) -> usize {
        self.remotes.len()
    }

    /// One worker's counters.
    pub(crate) fn worker_metrics(&self, worker: usize) -> &WorkerMetrics {
        &self.remotes[worker].metrics
    }

    /// Tasks in the global queue now.
    pub(crate) fn global_queue_depth(&self) -> usize {
        GlobalQueue::len(&self.global)
    }

    /// What is known of the live task at `task` (an address a worker
    /// published), among this runtime's tasks and its workers' local ones.
    pub(crate) fn describe(&self, shared: &Shared, task: *mut ()) -> Option<super::TaskInfo> {
        let task = std::ptr::NonNull::new(task)?;
        shared.tasks.describe(task, false).or_else(|| {
            self.remotes
                .iter()
                .filter_map(|remote| remote.local.get())
                .find_map(|local| local.tasks.describe(task, true))
        })
    }

    /// Appends the `spawn_local` tasks of every worker to `out`.
    pub(crate) fn snapshot_local(&self, out: &mut Vec<super::TaskInfo>) {
        for remote in &*self.remotes {
            if let Some(local) = remote.local.get() {
                local.tasks.snapshot(true, out);
            }
        }
    }

    /// Tasks in one worker's deque and LIFO slot now.
    pub(crate) fn local_queue_depth(&self, worker: usize) -> usize {
        let remote = &self.remotes[worker];
        StealQueue::len(&remote.stealer) + usize::from(remote.lifo.is_full())
    }

    /// Queues a task from outside the pool and wakes a worker for it.
    pub(crate) fn inject(&self, shared: &Shared, runnable: Runnable) {
        GlobalQueue::push(&self.global, runnable);
        self.notify_parked(shared);
    }

    /// Wakes one parked worker if no worker searches (see `idle.rs`).
    pub(crate) fn notify_parked(&self, shared: &Shared) {
        if let Some(worker) = self.idle.worker_to_notify() {
            self.unpark(shared, worker);
        }
    }

    /// Wakes `worker` whatever it sleeps on.
    pub(crate) fn unpark(&self, shared: &Shared, worker: usize) {
        self.remotes[worker].parker.unpark(|| shared.park.unpark());
    }

    /// Whether a worker could take a task now (asked by a parking worker
    /// and by the last searcher to find work): one in the global
    /// queue, in a deque, or in the LIFO slot of a worker the watchdog
    /// marked stuck. A running worker's LIFO task is not counted: its owner
    /// runs it next and nobody else may take it, so counting it would send
    /// a parking worker back to a search that cannot succeed, again and
    /// again, for as long as its owner keeps handing off messages.
    fn has_stealable_work(&self) -> bool {
        GlobalQueue::len(&self.global) > 0
            || self.remotes.iter().any(|remote| {
                StealQueue::len(&remote.stealer) > 0
                    || (remote.lifo.is_full() && remote.metrics.stuck.load(Ordering::Acquire))
            })
    }

    /// Whether any task is queued anywhere, LIFO slots included.
    fn has_work(&self) -> bool {
        GlobalQueue::len(&self.global) > 0
            || self
                .remotes
                .iter()
                .any(|remote| StealQueue::len(&remote.stealer) > 0 || remote.lifo.is_full())
    }

    /// Whether the whole pool is idle: every worker parked, no task queued
    /// anywhere, no `block_on` future to poll. With virtual time, the clock
    /// may then jump to the next timer.
    pub(crate) fn is_idle(&self) -> bool {
        self.idle.num_unparked() == 0
            && self.main_pending.load(Ordering::SeqCst) == 0
            && !self.has_work()
            && self.remotes.iter().all(|remote| {
                remote
                    .local
                    .get()
                    .is_none_or(|local| local.executor.is_queue_empty())
            })
    }

    /// Stops the workers once every task is gone, and joins them (waiting
    /// at most until `deadline`). Returns whether they all exited.
    pub(crate) fn stop(&self, shared: &Shared, deadline: Option<Instant>) -> bool {
        self.stopping.store(true, Ordering::SeqCst);
        for worker in 0..self.workers() {
            self.unpark(shared, worker);
        }
        self.watchdog.stop();
        let threads = std::mem::take(&mut *lock(&self.threads));
        let me = thread::current().id();
        let joinable = |handle: &thread::JoinHandle<()>| handle.thread().id() != me;
        if !wait_until(deadline, || {
            self.exited.load(Ordering::Acquire) >= self.workers()
        }) {
            return false;
        }
        for handle in threads.into_iter().filter(joinable) {
            // A worker's panic was reported on its thread already.
            let _ = handle.join();
        }
        // Tasks scheduled from outside after the workers left: all
        // complete (the registry is empty), dropping them frees them.
        while queue::retrying(|| GlobalQueue::steal(&self.global)).is_some() {}
        true
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers())
            .field("idle", &self.idle)
            .field("global_queue", &GlobalQueue::len(&self.global))
            .finish_non_exhaustive()
    }
}

/// Waits (polling every millisecond) until `done()` or the deadline.
/// Returns whether `done()` held.
pub(crate) fn wait_until(deadline: Option<Instant>, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return false;
        }
        thread::park_timeout(Duration::from_millis(1));
    }
}

/// Starts the worker threads (and the watchdog) of `shared`'s pool.
pub(crate) fn start(
    shared: &'static Shared,
    locals: Vec<queue::Local<Runnable>>,
    threads: &super::builder::ThreadConfig,
) -> std::io::Result<()> {
    let pool = shared.pool().expect("a multi-thread runtime has a pool");
    let mut handles = Vec::with_capacity(locals.len());
    for (index, local) in locals.into_iter().enumerate() {
        let mut builder = thread::Builder::new().name((threads.name)());
        if let Some(size) = threads.stack_size {
            builder = builder.stack_size(size);
        }
        let on_start = threads.on_start.clone();
        let on_stop = threads.on_stop.clone();
        let spawned = builder.spawn(move || {
            if let Some(start) = &on_start {
                start();
            }
            worker::run(shared, index, local);
            if let Some(stop) = &on_stop {
                stop();
            }
        });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                // The workers started so far exit with the runtime, which
                // the caller drops.
                *lock(&pool.threads) = handles;
                return Err(e);
            }
        }
    }
    *lock(&pool.threads) = handles;
    pool.watchdog.start(shared)
}
