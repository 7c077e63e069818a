//! `Shared`: the part of a runtime that tasks, wakers and timers point at.
//!
//! Core tasks and timers hold `&'static` references to their scheduler and
//! timer (that is what lets a waker or a `Sleep` live anywhere without
//! reference counting), so this part of every runtime is leaked on purpose:
//! a waker or a `Sleep` that outlives its runtime stays valid and finds a
//! closed scheduler. It holds no operating-system resource (those are in the
//! driver and the `IoHandle`, released at shutdown); its size is mostly the
//! timer wheel's (about 3 KiB).

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use pollen_core::executor::Executor;
use pollen_core::sync::StdRawMutex;
use pollen_core::task::{JoinHandle, Runnable, Schedule};
use pollen_core::time::{Clock, PausableClock, Timer};

use super::local::LocalScheduler;
use super::multi_thread::{self, Pool, PoolConfig};
use super::tasks::TaskRegistry;
use crate::blocking::{BlockingConfig, BlockingPool};
use crate::io::driver::{Driver, IoHandle};
use crate::io::park::{ParkState, WakePoller};
use crate::time::StdClock;

/// The clock every runtime's timers run on: the OS clock, pausable for
/// tests (`start_paused`).
pub(crate) type RuntimeClock = PausableClock<StdClock>;
/// A runtime's timers.
pub(crate) type RuntimeTimer = Timer<RuntimeClock, StdRawMutex>;

/// Polls of tasks between two non-blocking looks at I/O and timers while
/// the runtime stays busy.
pub(crate) const DEFAULT_EVENT_INTERVAL: u32 = 61;

/// With the clock paused and every task waiting, how long the poller waits
/// (real time) before it looks again whether blocking closures still run,
/// and so whether virtual time may jump.
const BLOCKING_RECHECK: Duration = Duration::from_millis(1);

pub(crate) struct Shared {
    pub(crate) executor: Executor,
    pub(crate) timer: RuntimeTimer,
    pub(crate) park: ParkState<PollerWaker>,
    pub(crate) tasks: TaskRegistry,
    pub(crate) blocking: &'static BlockingPool,
    /// The tasks that are not `Send`, made on the first `spawn_local`.
    local: std::sync::OnceLock<&'static LocalScheduler>,
    /// Set by the timer's driver waker: a timer earlier than every other
    /// was armed while the driver slept.
    timer_dirty: AtomicBool,
    /// Set once shutdown has begun: wakes drop their task instead of
    /// queueing it.
    closed: AtomicBool,
    /// The reactor's shared side; `None` after shutdown.
    io: Mutex<Option<Arc<IoHandle>>>,
    io_enabled: bool,
    time_enabled: bool,
    pub(crate) event_interval: u32,
    /// The poller, while no thread drives the runtime, and the threads
    /// waiting for it (a second `block_on` on another thread).
    driver: Mutex<DriverSlot>,
    /// The worker pool of a multi-thread runtime; `None` on a
    /// current-thread one.
    pool: Option<Pool>,
    /// The seed of the runtime's own choices (`Builder::rng_seed`).
    pub(crate) seed: Option<u64>,
}

struct DriverSlot {
    driver: Option<Driver>,
    waiters: Vec<Thread>,
}

/// Interrupts the poller: the `mio::Waker`, until shutdown closes it.
pub(crate) struct PollerWaker(Mutex<Option<mio::Waker>>);

/// The timer's driver waker: a new earliest timer, look at the timers.
struct TimerUnpark(&'static Shared);

/// What building a `Shared` needs.
pub(crate) struct Config {
    pub(crate) enable_io: bool,
    pub(crate) enable_time: bool,
    pub(crate) start_paused: bool,
    pub(crate) event_interval: u32,
    pub(crate) blocking: BlockingConfig,
    /// Workers, for a multi-thread runtime.
    pub(crate) pool: Option<PoolConfig>,
    /// The seed of the runtime's own choices, for reproducible runs.
    pub(crate) seed: Option<u64>,
}

/// The owners' ends of a new pool's deques, for its worker threads.
pub(crate) type PoolLocals = Vec<multi_thread::queue::Local<Runnable>>;

// === impl Shared ===

impl Shared {
    /// Builds a runtime's shared part, leaked (see the module docs).
    pub(crate) fn new(mut config: Config) -> io::Result<(&'static Shared, PoolLocals)> {
        let (driver, io, waker) = Driver::new()?;
        // Blocking threads are in the runtime's context (`Handle::current`,
        // timers and sockets work in a blocking closure): their start hook
        // sets it, once the runtime exists.
        let this: Arc<std::sync::OnceLock<&'static Shared>> = Arc::default();
        let user_start = config.blocking.on_thread_start.take();
        config.blocking.on_thread_start = Some({
            let this = this.clone();
            Arc::new(move || {
                if let Some(shared) = this.get() {
                    super::context::set_for_thread(shared);
                }
                if let Some(start) = &user_start {
                    start();
                }
            })
        });
        let blocking = BlockingPool::new(config.blocking);
        let timer = Timer::new(PausableClock::new(StdClock::new()));
        if config.start_paused {
            timer.clock().pause();
        }
        // One shard per thread that spawns or finishes tasks is plenty;
        // four per worker (as tokio) keeps two of them from meeting often.
        let shards = config.pool.as_ref().map_or(1, |pool| 4 * pool.workers);
        let (pool, locals) = match &config.pool {
            Some(pool) => {
                let (pool, locals) = Pool::new(pool);
                (Some(pool), locals)
            }
            None => (None, Vec::new()),
        };
        let shared = Shared {
            executor: Executor::new(),
            timer,
            park: ParkState::new(PollerWaker(Mutex::new(Some(waker)))),
            tasks: TaskRegistry::new(shards),
            blocking,
            local: std::sync::OnceLock::new(),
            closed: AtomicBool::new(false),
            timer_dirty: AtomicBool::new(false),
            io: Mutex::new(Some(io)),
            io_enabled: config.enable_io,
            time_enabled: config.enable_time,
            event_interval: config.event_interval.max(1),
            driver: Mutex::new(DriverSlot {
                driver: Some(driver),
                waiters: Vec::new(),
            }),
            pool,
            seed: config.seed,
        };
        let shared: &'static Shared = Box::leak(Box::new(shared));
        let _ = this.set(shared);
        Ok((shared, locals))
    }

    /// The seed for the thread in role `stream` (0: a `block_on` thread,
    /// `1 + i`: worker `i`), if the runtime is seeded: distinct streams
    /// from one seed (SplitMix64's finaliser).
    pub(crate) fn seed_for(&self, stream: u64) -> Option<u64> {
        let mut z = self
            .seed?
            .wrapping_add(stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Some(z ^ (z >> 31))
    }

    /// Seeds this thread's `select!`s for role `stream` (see `seed_for`)
    /// until the guard drops; nothing if the runtime is not seeded.
    pub(crate) fn seed_thread(&self, stream: u64) -> SeedGuard {
        SeedGuard(
            self.seed_for(stream)
                .map(|seed| pollen_core::future::seed_select(Some(seed as u32))),
        )
    }

    /// The worker pool, on a multi-thread runtime.
    #[inline]
    pub(crate) fn pool(&self) -> Option<&Pool> {
        self.pool.as_ref()
    }

    /// The waker [`park`](Self::park) gives the timer.
    pub(crate) fn timer_unpark_waker(&'static self) -> Waker {
        Waker::from(Arc::new(TimerUnpark(self)))
    }

    pub(crate) fn io_handle(&self) -> io::Result<Arc<IoHandle>> {
        if !self.io_enabled {
            return Err(io::Error::other(
                "pollen: I/O is disabled on this runtime; build it with `enable_io()` or \
                 `enable_all()`",
            ));
        }
        lock(&self.io)
            .clone()
            .ok_or_else(crate::io::driver::shut_down_error)
    }

    /// The timers, for `pollen::time`.
    ///
    /// # Panics
    ///
    /// If time is disabled on this runtime.
    #[track_caller]
    pub(crate) fn timer(&'static self) -> &'static RuntimeTimer {
        assert!(
            self.time_enabled,
            "pollen: timers are disabled on this runtime; build it with `enable_time()` or \
             `enable_all()`"
        );
        &self.timer
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Spawns a `Send` task, named `name`, spawned at the caller's
    /// location.
    #[track_caller]
    pub(crate) fn spawn<F>(&'static self, future: F, name: Option<&str>) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let location = std::panic::Location::caller();
        let layout = pollen_core::task::cell_layout::<super::tasks::Tracked<F>>();
        let Some(slot) = self.tasks.reserve(location, name, Some(layout)) else {
            // Shut down: the task is created and dropped at once, so its
            // handle reports it cancelled.
            let (runnable, handle) = pollen_core::task::new_boxed(future, self);
            drop(runnable);
            return handle;
        };
        let (runnable, handle) = slot.spawn(future, self);
        self.schedule(runnable);
        handle
    }

    /// Appends every `spawn_local` task (of the workers, and of the thread
    /// in `block_on`) to `out`.
    pub(crate) fn snapshot_local(&self, out: &mut Vec<super::TaskInfo>) {
        if let Some(local) = self.local.get() {
            local.tasks.snapshot(true, out);
        }
        if let Some(pool) = &self.pool {
            pool.snapshot_local(out);
        }
    }

    /// Spawns a `Send` task into a free slot of `pool`.
    #[track_caller]
    pub(crate) fn spawn_pooled<F, const N: usize>(
        &'static self,
        pool: &'static pollen_core::task::TaskPool<super::tasks::Tracked<F>, N>,
        future: F,
    ) -> Result<JoinHandle<F::Output>, pollen_core::task::SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let location = std::panic::Location::caller();
        let slot = self
            .tasks
            .reserve(location, None, None)
            .ok_or(pollen_core::task::SpawnError::ShutDown)?;
        // `fill` consumes the reservation inside `placed`; `track` needs it
        // before: keep it in a cell both closures reach.
        let slot = std::cell::RefCell::new(Some(slot));
        pool.spawn_with_placed(
            self,
            || {
                let slot = slot.borrow();
                slot.as_ref().expect("reserved").track(future)
            },
            |tracked, handle| {
                let slot = slot.borrow_mut().take().expect("reserved");
                slot.fill(handle.as_ptr(), tracked.polls_ptr());
            },
        )
    }

    /// The local tasks' scheduler, made for this thread if there is none.
    pub(crate) fn local(&'static self) -> &'static LocalScheduler {
        self.local.get_or_init(|| LocalScheduler::new(self))
    }

    /// The local tasks' scheduler, if `thread` runs it.
    pub(crate) fn local_for(&self, thread: thread::ThreadId) -> Option<&'static LocalScheduler> {
        self.local
            .get()
            .copied()
            .filter(|local| local.is_owner(thread))
    }

    /// Takes the poller to drive the runtime, or registers this thread to
    /// be unparked when it is given back.
    pub(crate) fn take_driver(&self) -> Option<Driver> {
        let mut slot = lock(&self.driver);
        let driver = slot.driver.take();
        if driver.is_none() {
            slot.waiters.push(thread::current());
        }
        driver
    }

    /// Takes the poller if no one holds it (a worker about to park in it,
    /// or to look at it in passing).
    pub(crate) fn try_take_driver(&self) -> Option<Driver> {
        lock(&self.driver).driver.take()
    }

    /// Drops the poller (closing its descriptors) once the runtime has shut
    /// down.
    pub(crate) fn discard_driver(&self) {
        let driver = lock(&self.driver).driver.take();
        drop(driver);
    }

    /// Gives the poller back and unparks the threads waiting for it.
    pub(crate) fn release_driver(&self, driver: Driver) {
        let waiters = {
            let mut slot = lock(&self.driver);
            slot.driver = Some(driver);
            std::mem::take(&mut slot.waiters)
        };
        for waiter in waiters {
            waiter.unpark();
        }
    }

    /// Blocks in the poller until there is work, the next timer is due, or
    /// I/O arrives; then fires due timers. Called with nothing runnable.
    ///
    /// `timer_unpark` is the waker the timer wakes when a timer earlier than
    /// all others is armed meanwhile (from another thread): it unparks the
    /// driver and sets `timer_dirty`, so that timers are looked at after
    /// the poll only if one may be due.
    pub(crate) fn park(&'static self, driver: &mut Driver, timer_unpark: &Waker) {
        let mut timeout = None;
        let mut due = None;
        if self.time_enabled {
            // Registered in the same critical section that reads the
            // deadline: a timer armed earlier from another thread after
            // this wakes us.
            if let Some(deadline) = self.timer.register_and_next_deadline(timer_unpark) {
                due = Some(deadline);
                let now = self.timer.now();
                if self.timer.clock().is_paused() {
                    // Virtual time: with nothing to run, no I/O ready and
                    // no blocking closure running (its result is work to
                    // come), jump to the next deadline instead of sleeping.
                    let events = self.turn(driver, Some(Duration::ZERO));
                    if !events && self.executor_idle() {
                        if self.blocking_busy() {
                            // Not for good: a pool thread still counts as
                            // busy for a moment after its closure returned
                            // (and woke its task), and nothing wakes us
                            // when it goes idle. Look again soon.
                            self.block(driver, Some(BLOCKING_RECHECK));
                        } else {
                            self.timer.clock().auto_advance_to(deadline);
                        }
                    }
                    self.timer.process();
                    return;
                }
                timeout = Some(deadline.saturating_duration_since(now));
            }
        }
        self.block(driver, timeout);
        // Timers can only be due if the earliest deadline has passed, or a
        // new earliest one was armed while we slept.
        if self.time_enabled
            && (self.timer_dirty.swap(false, Ordering::AcqRel)
                || due.is_some_and(|due| self.timer.now() >= due))
        {
            self.timer.process();
        }
    }

    /// Blocks in the poller for at most `timeout`, unless work was handed
    /// over since the last `park.reset()`.
    fn block(&self, driver: &mut Driver, timeout: Option<Duration>) {
        let block = self.park.try_park();
        let timeout = if block { timeout } else { Some(Duration::ZERO) };
        // Awake again before the I/O wakes are handed out: they queue tasks
        // on this thread, which must not wake the poller we just left.
        self.turn_with(driver, timeout, || self.park.unparked());
    }

    /// Whether blocking closures are running or queued.
    fn blocking_busy(&self) -> bool {
        self.blocking.threads() > self.blocking.idle_threads() || self.blocking.queue_depth() > 0
    }

    /// Runs `f` on the blocking pool.
    pub(crate) fn spawn_blocking<F, R>(&'static self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.blocking.spawn(f)
    }

    /// A look at I/O and timers without blocking, for a busy runtime.
    pub(crate) fn maintain(&self, driver: &mut Driver) {
        // No source, nothing to find: the poll is a system call, every
        // `event_interval` polls of a busy worker.
        if driver.has_sources() {
            self.turn(driver, Some(Duration::ZERO));
        }
        if self.time_enabled {
            self.timer.process();
        }
    }

    fn turn(&self, driver: &mut Driver, timeout: Option<Duration>) -> bool {
        self.turn_with(driver, timeout, || {})
    }

    fn turn_with(
        &self,
        driver: &mut Driver,
        timeout: Option<Duration>,
        polled: impl FnOnce(),
    ) -> bool {
        match driver.turn(timeout, polled) {
            Ok(events) => events,
            // The poller failed (out of memory in the kernel, say): there is
            // nothing to wait on, so do not spin; try again shortly.
            Err(_) => {
                thread::sleep(Duration::from_millis(1));
                false
            }
        }
    }

    fn executor_idle(&self) -> bool {
        let me = thread::current().id();
        if let Some(pool) = &self.pool {
            // The `block_on` thread's local tasks: that thread may be
            // ticking them now, so only a look at the queue.
            return pool.is_idle()
                && self
                    .local
                    .get()
                    .is_none_or(|local| local.executor.is_queue_empty());
        }
        self.executor.is_idle()
            && self
                .local
                .get()
                .is_none_or(|local| !local.is_owner(me) || local.executor.is_idle())
    }

    /// Shuts the runtime down on the calling thread, which must hold the
    /// poller (`driver`): aborts and drops every task, stops the reactor.
    pub(crate) fn shutdown(&'static self, driver: &mut Driver) {
        self.closed.store(true, Ordering::Release);
        self.tasks.close_and_abort_all();
        // Local tasks can only be dropped on their own thread; elsewhere
        // they are left alone (leaked).
        let local = self.local_for(thread::current().id());
        if let Some(local) = local {
            local.tasks.close_and_abort_all();
        }
        let live = || self.tasks.len() + local.map_or(0, |local| local.tasks.len());
        // Aborted tasks are queued (or were already); running them drops
        // their futures. A wake racing with shutdown on another thread may
        // still be pushing one: wait for it through the park protocol.
        let unpark = self.timer_unpark_waker();
        while live() > 0 {
            self.park.reset();
            let mut polled = self.executor.run_until_stalled();
            if let Some(local) = local {
                polled += local.executor.run_until_stalled();
            }
            if polled == 0 && live() > 0 {
                self.park(driver, &unpark);
            }
        }
        if let Some(io) = lock(&self.io).take() {
            io.shutdown();
        }
        // Close the eventfd: nothing can need the poller any more.
        lock(&self.park.waker().0).take();
    }
}

impl Shared {
    /// Shuts a multi-thread runtime down from outside its workers: aborts
    /// every task, lets the workers drop them, stops and joins the workers
    /// (waiting at most until `deadline`), then stops the reactor.
    pub(crate) fn shutdown_pool(&'static self, pool: &Pool, deadline: Option<std::time::Instant>) {
        assert!(
            multi_thread::current_worker_local(self).is_none(),
            "pollen: a multi-thread runtime cannot be shut down (or dropped) from one of its own \
             tasks, which would wait for itself; drop it outside the runtime or in \
             `spawn_blocking`"
        );
        self.closed.store(true, Ordering::Release);
        self.tasks.close_and_abort_all();
        // `spawn_local` tasks of this thread (spawned in `block_on`).
        let local = self.local_for(thread::current().id());
        if let Some(local) = local {
            local.tasks.close_and_abort_all();
        }
        let gone = multi_thread::wait_until(deadline, || {
            if let Some(local) = local {
                local.executor.run_until_stalled();
            }
            self.tasks.len() == 0 && local.is_none_or(|local| local.tasks.len() == 0)
        });
        if gone {
            pool.stop(self, deadline);
        } else {
            // Some task is stuck in a poll: the workers are left to finish
            // (and exit) on their own.
            pool.stop(self, Some(std::time::Instant::now()));
        }
        if let Some(io) = lock(&self.io).take() {
            io.shutdown();
        }
        lock(&self.park.waker().0).take();
        self.discard_driver();
    }

    /// Whether `runnable` comes too late: every task is gone, so it can
    /// only be the stray `Runnable` of a task spawned while closing.
    #[inline]
    fn refuse_after_shutdown(&self) -> bool {
        self.is_closed() && self.tasks.len() == 0
    }
}

impl Schedule for Shared {
    /// Tasks live until they end or shutdown aborts them, as in tokio
    /// (the task registry keeps their bare addresses: see `tasks.rs`).
    const KEEPS_TASKS_ALIVE: bool = true;

    fn schedule(&self, runnable: Runnable) {
        if self.refuse_after_shutdown() {
            // Dropping it cancels that task.
            drop(runnable);
            return;
        }
        if let Some(pool) = &self.pool {
            return multi_thread::schedule(self, pool, runnable, false);
        }
        // Only a push onto an empty queue needs to tell the driver: any
        // other was preceded by one that did, and the driver takes the
        // whole queue at once.
        if self.executor.enqueue(runnable) {
            self.park.unpark();
        }
    }

    fn reschedule(&self, runnable: Runnable) {
        match &self.pool {
            Some(pool) if !self.refuse_after_shutdown() => {
                multi_thread::schedule(self, pool, runnable, true)
            }
            _ => self.schedule(runnable),
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("tasks", &self.tasks.len())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

// === impl PollerWaker ===

impl WakePoller for PollerWaker {
    fn wake_poller(&self) {
        if let Some(waker) = &*lock(&self.0) {
            // A failed wake (the eventfd is full) means a wake-up is already
            // pending, which is all we need.
            let _ = waker.wake();
        }
    }
}

impl fmt::Debug for PollerWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PollerWaker")
    }
}

impl Wake for TimerUnpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.timer_dirty.store(true, Ordering::Release);
        self.0.park.unpark();
    }
}

/// Puts back the thread's previous `select!` seeding when dropped.
#[must_use]
pub(crate) struct SeedGuard(Option<Option<u32>>);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            pollen_core::future::seed_select(previous);
        }
    }
}

/// Locks `mutex`, ignoring poison: every critical section here leaves its
/// data consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[allow(dead_code)]
fn _assert_clock(clock: &RuntimeClock) -> u64 {
    clock.now_ticks()
}
