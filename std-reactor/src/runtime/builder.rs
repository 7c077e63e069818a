//! `Builder`: how a runtime is configured.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::Runtime;
use super::multi_thread::{
    self, DEFAULT_GLOBAL_QUEUE_INTERVAL, DEFAULT_STALL_THRESHOLD, PoolConfig, StallHook,
    StallReport,
};
use super::shared::{Config, DEFAULT_EVENT_INTERVAL, Shared};
use crate::blocking::BlockingConfig;

/// Configures and builds a [`Runtime`].
///
/// # Examples
///
/// ```
/// let runtime = pollen::runtime::Builder::new_current_thread()
///     .enable_all()
///     .build()
///     .unwrap();
/// assert_eq!(runtime.block_on(async { 6 * 7 }), 42);
/// ```
pub struct Builder {
    kind: Kind,
    enable_io: bool,
    enable_time: bool,
    start_paused: bool,
    event_interval: u32,
    blocking: BlockingConfig,
    /// `None`: one per available core.
    worker_threads: Option<usize>,
    global_queue_interval: u32,
    stall_threshold: Option<Duration>,
    on_stall: Option<StallHook>,
    seed: Option<u64>,
}

/// The scheduler flavour a builder makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    CurrentThread,
    MultiThread,
}

/// How the runtime's own threads are made: the blocking pool's settings,
/// which the worker threads share.
pub(crate) struct ThreadConfig {
    pub(crate) name: Arc<dyn Fn() -> String + Send + Sync>,
    pub(crate) stack_size: Option<usize>,
    pub(crate) on_start: Option<Arc<dyn Fn() + Send + Sync>>,
    pub(crate) on_stop: Option<Arc<dyn Fn() + Send + Sync>>,
}

// === impl Builder ===

impl Builder {
    /// A builder for a runtime whose tasks all run on the thread that calls
    /// [`Runtime::block_on`], with I/O and timers off until enabled.
    pub fn new_current_thread() -> Builder {
        Builder::new(Kind::CurrentThread)
    }

    /// A builder for a runtime whose tasks run on a pool of worker threads
    /// that steal work from each other (one per core by default; see
    /// [`worker_threads`](Self::worker_threads)), with I/O and timers off
    /// until enabled.
    ///
    /// [`Runtime::block_on`] runs its future on the calling thread while
    /// the workers run the tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// let runtime = pollen::runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .enable_all()
    ///     .build()
    ///     .unwrap();
    /// let sum = runtime.block_on(async {
    ///     let tasks: Vec<_> = (0..10u64).map(|i| pollen::spawn(async move { i * i })).collect();
    ///     let mut sum = 0;
    ///     for task in tasks {
    ///         sum += task.await.unwrap();
    ///     }
    ///     sum
    /// });
    /// assert_eq!(sum, 285);
    /// ```
    pub fn new_multi_thread() -> Builder {
        let mut builder = Builder::new(Kind::MultiThread);
        builder.blocking.thread_name = Arc::new(|| String::from("pollen-worker"));
        builder
    }

    fn new(kind: Kind) -> Builder {
        Builder {
            kind,
            enable_io: false,
            enable_time: false,
            start_paused: false,
            event_interval: DEFAULT_EVENT_INTERVAL,
            blocking: BlockingConfig::default(),
            worker_threads: None,
            global_queue_interval: DEFAULT_GLOBAL_QUEUE_INTERVAL,
            stall_threshold: Some(DEFAULT_STALL_THRESHOLD),
            on_stall: None,
            seed: None,
        }
    }

    /// How many worker threads a multi-thread runtime runs (default: one
    /// per core the process may use). Ignored by a current-thread runtime.
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    pub fn worker_threads(&mut self, n: usize) -> &mut Builder {
        assert!(n > 0, "pollen: worker_threads must be at least 1");
        self.worker_threads = Some(n);
        self
    }

    /// How many tasks a worker runs between two looks at the global queue
    /// (tasks spawned or woken outside the pool) before its own queue
    /// (default 31). Lower is fairer to outside work, higher keeps a
    /// worker on its own, cache-warm tasks longer. Multi-thread only.
    ///
    /// # Panics
    ///
    /// If `interval` is zero.
    pub fn global_queue_interval(&mut self, interval: u32) -> &mut Builder {
        assert!(
            interval > 0,
            "pollen: global_queue_interval must be at least 1"
        );
        self.global_queue_interval = interval;
        self
    }

    /// Seeds the runtime's own random choices, for tests that must run
    /// the same way every time.
    ///
    /// What it fixes: where each `select!` starts polling (on the
    /// runtime's threads, per thread, whatever ran before) and which
    /// worker a searching worker robs first. So on a current-thread
    /// runtime, or a multi-thread one with one worker, together with
    /// virtual time ([`start_paused`](Self::start_paused)), tasks run in
    /// the same order on every run with the same seed.
    ///
    /// What it cannot fix: the operating system decides when each thread
    /// runs. With several workers, which worker reaches a task first
    /// varies; tasks spawned or woken from outside the runtime's threads
    /// (the `block_on` thread, other threads, `spawn_blocking` closures)
    /// arrive whenever those threads run, so spawn a test's tasks from one
    /// task on the runtime; real I/O keeps its own timing; and anything the
    /// program itself draws at random is its own to seed.
    pub fn rng_seed(&mut self, seed: u64) -> &mut Builder {
        self.seed = Some(seed);
        self
    }

    /// How long one poll of a task may run before the runtime reports it
    /// (default 100 ms; `None` turns the report off). A task that blocks
    /// its worker this long stalls every task queued behind it; the report
    /// names the task (id, name, spawn location) and the worker, so the
    /// mistake is found rather than felt. Multi-thread only: there a
    /// watchdog thread also gets the waiting tasks, timers and I/O to
    /// another worker meanwhile.
    ///
    /// The report goes to [`on_stall`](Self::on_stall) if set. Otherwise,
    /// with the `log` feature (on by default), it is a warning with target
    /// `pollen::stall` to the program's logger, if one is installed and
    /// takes it; else one line on standard error.
    pub fn stall_threshold(&mut self, threshold: Option<Duration>) -> &mut Builder {
        self.stall_threshold = threshold;
        self
    }

    /// Sends stall reports (see [`stall_threshold`](Self::stall_threshold))
    /// to `f` instead of the logger or standard error: to a metrics
    /// counter, a test. `f` runs on the runtime's watchdog thread, once per stall; keep
    /// it short, as the watchdog waits for it. A panic in `f` is caught and
    /// the report printed instead. Multi-thread only.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// let reports = Arc::new(Mutex::new(Vec::new()));
    /// let seen = reports.clone();
    /// let runtime = pollen::runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .stall_threshold(Some(Duration::from_millis(20)))
    ///     .on_stall(move |report| seen.lock().unwrap().push(report.to_string()))
    ///     .build()
    ///     .unwrap();
    /// runtime.block_on(async {
    ///     pollen::spawn(async {
    ///         // Blocks its worker: the mistake the report is for.
    ///         std::thread::sleep(Duration::from_millis(200));
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// assert_eq!(reports.lock().unwrap().len(), 1);
    /// ```
    pub fn on_stall(&mut self, f: impl Fn(&StallReport) + Send + Sync + 'static) -> &mut Builder {
        self.on_stall = Some(StallHook(Arc::new(f)));
        self
    }

    /// Turns on the reactor: sockets can be created on the runtime.
    pub fn enable_io(&mut self) -> &mut Builder {
        self.enable_io = true;
        self
    }

    /// Turns on timers: `pollen::time::sleep` and friends work.
    pub fn enable_time(&mut self) -> &mut Builder {
        self.enable_time = true;
        self
    }

    /// Turns on I/O and timers.
    pub fn enable_all(&mut self) -> &mut Builder {
        self.enable_io().enable_time()
    }

    /// Starts the runtime's clock paused (virtual time, for tests): time
    /// stands still while tasks run, and jumps to the next timer when every
    /// task waits and no I/O is ready. Control it with
    /// [`pollen::time::pause`](crate::time::pause),
    /// [`advance`](crate::time::advance) and [`resume`](crate::time::resume).
    ///
    /// Needs timers ([`enable_time`](Self::enable_time)).
    pub fn start_paused(&mut self, start_paused: bool) -> &mut Builder {
        self.start_paused = start_paused;
        self
    }

    /// How many task polls the runtime makes between two looks at I/O and
    /// timers while it stays busy (default 61). Lower is fairer to I/O,
    /// higher spends less time in the poller.
    ///
    /// # Panics
    ///
    /// If `interval` is zero.
    pub fn event_interval(&mut self, interval: u32) -> &mut Builder {
        assert!(interval > 0, "pollen: event_interval must be at least 1");
        self.event_interval = interval;
        self
    }

    /// The most threads the blocking pool runs at once (default 512);
    /// further [`spawn_blocking`](crate::spawn_blocking) closures wait in
    /// its queue.
    ///
    /// # Panics
    ///
    /// If `max` is zero.
    pub fn max_blocking_threads(&mut self, max: usize) -> &mut Builder {
        assert!(max > 0, "pollen: max_blocking_threads must be at least 1");
        self.blocking.max_threads = max;
        self
    }

    /// How long an idle blocking thread waits for work before it exits
    /// (default 10 s).
    pub fn thread_keep_alive(&mut self, keep_alive: Duration) -> &mut Builder {
        self.blocking.keep_alive = keep_alive;
        self
    }

    /// The name of the runtime's threads: its workers and its blocking
    /// threads (default `pollen-worker` on a multi-thread runtime,
    /// `pollen-blocking` on a current-thread one, which has only blocking
    /// threads).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        let name = name.into();
        self.blocking.thread_name = Arc::new(move || name.clone());
        self
    }

    /// A function naming each of the runtime's threads as it starts.
    pub fn thread_name_fn(
        &mut self,
        f: impl Fn() -> String + Send + Sync + 'static,
    ) -> &mut Builder {
        self.blocking.thread_name = Arc::new(f);
        self
    }

    /// The stack size of the runtime's threads (default: std's).
    pub fn thread_stack_size(&mut self, size: usize) -> &mut Builder {
        self.blocking.stack_size = Some(size);
        self
    }

    /// Runs `f` on each of the runtime's threads as it starts.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Builder {
        self.blocking.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on each of the runtime's threads as it stops.
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Builder {
        self.blocking.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// Builds the runtime.
    ///
    /// # Errors
    ///
    /// If the operating system refuses a resource the runtime needs (the
    /// poller, its wake-up descriptor).
    ///
    /// # Panics
    ///
    /// If `start_paused` is set without timers.
    pub fn build(&mut self) -> io::Result<Runtime> {
        assert!(
            !self.start_paused || self.enable_time,
            "pollen: start_paused needs timers: call `enable_time()` or `enable_all()` too"
        );
        let pool = (self.kind == Kind::MultiThread).then(|| PoolConfig {
            workers: self.worker_threads.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            }),
            global_queue_interval: self.global_queue_interval,
            stall_threshold: self.stall_threshold,
            on_stall: self.on_stall.clone(),
        });
        let threads = ThreadConfig {
            name: self.blocking.thread_name.clone(),
            stack_size: self.blocking.stack_size,
            on_start: self.blocking.on_thread_start.clone(),
            on_stop: self.blocking.on_thread_stop.clone(),
        };
        let (shared, locals) = Shared::new(Config {
            enable_io: self.enable_io,
            enable_time: self.enable_time,
            start_paused: self.start_paused,
            event_interval: self.event_interval,
            blocking: self.blocking.clone(),
            pool,
            seed: self.seed,
        })?;
        // From here the runtime shuts itself down (workers included) if
        // starting fails.
        let runtime = Runtime::from_shared(shared);
        if shared.pool().is_some() {
            multi_thread::start(shared, locals, &threads)?;
        }
        Ok(runtime)
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("kind", &self.kind)
            .field("enable_io", &self.enable_io)
            .field("enable_time", &self.enable_time)
            .field("start_paused", &self.start_paused)
            .field("event_interval", &self.event_interval)
            .field("blocking", &self.blocking)
            .field("worker_threads", &self.worker_threads)
            .field("global_queue_interval", &self.global_queue_interval)
            .field("stall_threshold", &self.stall_threshold)
            .field("on_stall", &self.on_stall)
            .field("seed", &self.seed)
            .finish()
    }
}
