//! One worker thread: its loop, and the scheduling decisions made on it.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Instant;

use pollen_core::task::Runnable;

use super::queue::{self, GlobalQueue, Local, LocalQueue, StealQueue};
use super::{MAX_LIFO_POLLS, Pool, Remote, WorkerMetrics};
use crate::runtime::context;
use crate::runtime::local::LocalScheduler;
use crate::runtime::shared::Shared;

thread_local! {
    /// The worker running on this thread, while it runs.
    static WORKER: Cell<Option<NonNull<Worker>>> = const { Cell::new(None) };
}

/// A worker's own state, on its thread's stack.
struct Worker {
    shared: &'static Shared,
    pool: &'static Pool,
    index: usize,
    remote: &'static Remote,
    local: Local<Runnable>,
    /// This worker's `spawn_local` tasks.
    local_tasks: &'static LocalScheduler,
    /// Loop iterations left before the next look at the reactor (a
    /// countdown: no division on the hot path).
    until_maintain: Cell<u32>,
    /// Loop iterations left before the next look at the global queue first.
    until_global: Cell<u32>,
    /// Polls from the LIFO slot in a row.
    lifo_polls: Cell<u32>,
    /// Whether this worker counts as searching (see `idle.rs`).
    searching: Cell<bool>,
    /// Whether this worker is inside the poller: tasks it wakes there are
    /// queued without waking anyone (it runs them, or shares them, when
    /// the poll returns).
    in_driver: Cell<bool>,
    /// The state of the victim-choosing generator (xorshift).
    rng: Cell<u64>,
    /// When this worker last woke up, or last counted its busy time.
    awake_since: Cell<Instant>,
    /// Given to the timers while this worker sleeps in the poller.
    timer_unpark: Waker,
}

/// Clears the thread's worker pointer, also on unwind.
struct ClearWorker;

impl Drop for ClearWorker {
    fn drop(&mut self) {
        WORKER.with(|w| w.set(None));
    }
}

/// Runs `f` with the worker of `pool` running on this thread, if any.
#[inline]
fn with_worker<R>(pool: &Pool, f: impl FnOnce(Option<&Worker>) -> R) -> R {
    let worker = WORKER.with(Cell::get);
    // SAFETY: the pointer is set only while the `Worker` it points at lives
    // on this thread's stack in `run` (a guard clears it before the worker
    // is dropped, also on unwind), and this is that thread. The worker is
    // only used through `&` (its mutable state is in `Cell`s).
    let worker = worker.map(|w| unsafe { w.as_ref() });
    f(worker.filter(|w| ptr::eq(w.pool, pool)))
}

/// Queues `runnable`, woken on this thread (`yielded`: by its own poll).
pub(crate) fn schedule(shared: &Shared, pool: &Pool, runnable: Runnable, yielded: bool) {
    with_worker(pool, |worker| match worker {
        Some(worker) => worker.schedule_local(runnable, yielded),
        None => pool.inject(shared, runnable),
    });
}

/// The `spawn_local` scheduler of the worker running on this thread.
pub(crate) fn current_worker_local(shared: &Shared) -> Option<&'static LocalScheduler> {
    let pool = shared.pool()?;
    with_worker(pool, |worker| worker.map(|w| w.local_tasks))
}

/// The body of worker thread `index`.
pub(crate) fn run(shared: &'static Shared, index: usize, local: Local<Runnable>) {
    let pool = shared.pool().expect("a multi-thread runtime has a pool");
    let remote = &pool.remotes[index];
    let local_tasks = *remote
        .local
        .get_or_init(|| LocalScheduler::for_worker(shared, index));
    let worker = Worker {
        shared,
        pool,
        index,
        remote,
        local,
        local_tasks,
        until_maintain: Cell::new(shared.event_interval),
        until_global: Cell::new(pool.global_queue_interval),
        lifo_polls: Cell::new(0),
        searching: Cell::new(false),
        in_driver: Cell::new(false),
        rng: Cell::new(
            shared.seed_for(1 + index as u64).unwrap_or(
                0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407),
            ) | 1,
        ),
        awake_since: Cell::new(Instant::now()),
        timer_unpark: shared.timer_unpark_waker(),
    };
    let _enter = context::enter(shared);
    let _driving = context::enter_driving();
    let _seeded = shared.seed_thread(1 + index as u64);
    WORKER.with(|w| w.set(Some(NonNull::from(&worker))));
    let _clear = ClearWorker;
    worker.run();
    worker.shutdown();
    pool.exited.fetch_add(1, Ordering::Release);
}

impl Worker {
    fn run(&self) {
        while !self.pool.is_stopping() {
            if countdown(&self.until_maintain, self.shared.event_interval) {
                self.maintain();
            }
            if !self.local_tasks.executor.is_queue_empty() {
                self.run_local_tasks();
            }
            if let Some(task) = self.next_task() {
                self.run_task(task);
                continue;
            }
            if let Some(task) = self.steal_work() {
                self.run_task(task);
                continue;
            }
            if self.local_tasks.executor.is_queue_empty() {
                self.park();
            }
        }
    }

    /// The next task of this worker's own, or from the global queue.
    fn next_task(&self) -> Option<Runnable> {
        if countdown(&self.until_global, self.pool.global_queue_interval) {
            if let Some(task) = queue::retrying(|| GlobalQueue::steal(&self.pool.global)) {
                return Some(task);
            }
        }
        if let Some(task) = self.remote.lifo.take() {
            if self.lifo_polls.get() < MAX_LIFO_POLLS {
                self.lifo_polls.set(self.lifo_polls.get() + 1);
                return Some(task);
            }
            // Enough hand-offs in a row: the deque's turn.
            LocalQueue::push(&self.local, task);
        }
        self.lifo_polls.set(0);
        if let Some(task) = LocalQueue::pop(&self.local) {
            return Some(task);
        }
        queue::retrying(|| GlobalQueue::steal_batch_and_pop(&self.pool.global, &self.local))
    }

    /// Runs a batch of this worker's `spawn_local` tasks, each published to
    /// the watchdog as `run_task` does, so that a local task stuck in a
    /// poll is the one reported.
    fn run_local_tasks(&self) {
        let metrics = &self.remote.metrics;
        self.local_tasks.executor.tick_with(|task| {
            // The previous poll, if any, returned.
            clear_stuck(metrics);
            WorkerMetrics::bump(&metrics.polls, 1);
            metrics.current.store(task.as_ptr(), Ordering::Relaxed);
        });
        clear_stuck(metrics);
    }

    fn run_task(&self, task: Runnable) {
        if self.searching.replace(false)
            && self.pool.idle.transition_worker_from_searching()
            && self.pool.has_stealable_work()
        {
            // The last searcher found work, and more is queued (pushers
            // that saw it searching left theirs to it): someone must go on
            // looking. See `idle.rs`.
            self.pool.notify_parked(self.shared);
        }
        let metrics = &self.remote.metrics;
        WorkerMetrics::bump(&metrics.polls, 1);
        metrics
            .current
            .store(task.as_ptr().as_ptr(), Ordering::Relaxed);
        task.run();
        clear_stuck(metrics);
    }

    /// Queues a task woken on this worker.
    fn schedule_local(&self, task: Runnable, yielded: bool) {
        if yielded {
            // A task that yielded, queued once its poll returned: this
            // worker is between polls and runs its deque next. If the deque
            // held work already, the push that made it non-empty looked for
            // a worker to wake, so this one does not (it would cost a
            // `SeqCst` fence per yield). A worker that parked since, missing
            // work pushed meanwhile, is woken by `share_work` within
            // `event_interval` polls at the latest.
            let had_work = LocalQueue::len(&self.local) > 0;
            LocalQueue::push(&self.local, task);
            if had_work {
                return;
            }
        } else {
            match self.remote.lifo.put(task) {
                // Alone in the slot: this worker runs it next, no one to wake.
                None => return,
                Some(displaced) => LocalQueue::push(&self.local, displaced),
            }
        }
        // The deque grew: another worker may take some of it. (Inside a
        // poll, which may run long, always: see `Idle`.)
        if !self.in_driver.get() {
            self.pool.notify_parked(self.shared);
        }
    }

    /// Steals work from another worker or the global queue.
    fn steal_work(&self) -> Option<Runnable> {
        if !self.searching.get() {
            if !self.pool.idle.transition_worker_to_searching() {
                return None;
            }
            self.searching.set(true);
        }
        let workers = self.pool.remotes.len();
        let start = self.next_random() as usize % workers;
        for i in 0..workers {
            let victim = (start + i) % workers;
            if victim == self.index {
                continue;
            }
            let remote = &self.pool.remotes[victim];
            let stolen =
                queue::retrying(|| StealQueue::steal_batch_and_pop(&remote.stealer, &self.local))
                    .or_else(|| {
                        // A busy worker runs its LIFO task next; only a
                        // stuck one gives it up (see the module docs).
                        if remote.metrics.stuck.load(Ordering::Acquire) {
                            remote.lifo.take()
                        } else {
                            None
                        }
                    });
            if let Some(task) = stolen {
                WorkerMetrics::bump(&self.remote.metrics.steals, 1);
                return Some(task);
            }
        }
        queue::retrying(|| GlobalQueue::steal_batch_and_pop(&self.pool.global, &self.local))
    }

    fn next_random(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }

    /// Whether this worker has tasks of its own to run.
    fn has_own_work(&self) -> bool {
        self.remote.lifo.is_full()
            || LocalQueue::len(&self.local) > 0
            || !self.local_tasks.executor.is_queue_empty()
    }

    /// Polls the reactor and the timers without blocking, if no other
    /// worker holds the poller.
    fn maintain(&self) {
        self.count_busy_time(Instant::now());
        if let Some(mut driver) = self.shared.try_take_driver() {
            self.in_driver.set(true);
            self.shared.maintain(&mut driver);
            self.in_driver.set(false);
            self.shared.release_driver(driver);
        }
        self.share_work();
    }

    /// After the poller queued tasks here, and every `event_interval`
    /// polls (yields onto a busy deque wake no one, see `schedule_local`):
    /// wakes a parked worker if this one holds more than it is about to
    /// run.
    fn share_work(&self) {
        if !self.searching.get()
            && LocalQueue::len(&self.local) + usize::from(self.remote.lifo.is_full()) > 1
        {
            self.pool.notify_parked(self.shared);
        }
    }

    /// Adds the time since this worker woke, or last counted, to its busy
    /// time: on the way to sleep, and at each look at the reactor, so the
    /// figure stays current while the worker never parks.
    fn count_busy_time(&self, now: Instant) {
        let since = self.awake_since.replace(now);
        WorkerMetrics::bump(
            &self.remote.metrics.busy_ns,
            now.duration_since(since).as_nanos() as u64,
        );
    }

    /// Sleeps until there is work; see `idle.rs` and `park.rs`.
    fn park(&self) {
        let metrics = &self.remote.metrics;
        self.count_busy_time(Instant::now());
        WorkerMetrics::bump(&metrics.parks, 1);
        // `SeqCst`, as the watchdog's look (see `watchdog.rs`).
        metrics.parked.store(true, Ordering::SeqCst);
        let idle = &self.pool.idle;
        if idle.transition_worker_to_parked(self.index, self.searching.replace(false))
            && self.pool.has_stealable_work()
        {
            // No one searches now: work pushed while someone did was left
            // to the searchers (see `idle.rs`).
            self.pool.notify_parked(self.shared);
        }
        loop {
            if self.pool.is_stopping() {
                idle.unpark_worker_by_id(self.index);
                break;
            }
            if let Some(mut driver) = self.shared.try_take_driver() {
                // Reset before the park word says "in the driver": an
                // unpark after that must reach the poller (see `park.rs`).
                self.shared.park.reset();
                self.in_driver.set(true);
                self.remote
                    .parker
                    .park_driver(|| self.shared.park(&mut driver, &self.timer_unpark));
                self.in_driver.set(false);
                self.shared.release_driver(driver);
            } else {
                self.remote.parker.park_condvar();
            }
            if !idle.is_parked(self.index) {
                // Notified: woken to search.
                self.searching.set(true);
                break;
            }
            if self.has_own_work() {
                // Woken by the poller or a timer with tasks queued here, or
                // by a local task.
                if !idle.unpark_worker_by_id(self.index) {
                    self.searching.set(true);
                }
                self.share_work();
                break;
            }
        }
        metrics.parked.store(false, Ordering::SeqCst);
        self.awake_since.set(Instant::now());
        self.pool.watchdog.worker_woke();
    }

    /// On the way out: drops this worker's local tasks (only this thread
    /// may) and whatever is still queued here.
    fn shutdown(&self) {
        let local = self.local_tasks;
        local.tasks.close_and_abort_all();
        while local.tasks.len() > 0 {
            if local.executor.run_until_stalled() == 0 {
                // A wake from another thread is on its way: wait for it.
                thread::yield_now();
            }
        }
        // Whatever is still queued: dropping a `Runnable` drops its task's
        // future (if it was not dropped yet) and frees the task.
        while self.remote.lifo.take().is_some() {}
        while LocalQueue::pop(&self.local).is_some() {}
        while queue::retrying(|| GlobalQueue::steal(&self.pool.global)).is_some() {}
    }
}

/// After a poll returned: the watchdog's mark, if it made one, is stale.
#[inline]
fn clear_stuck(metrics: &WorkerMetrics) {
    if metrics.stuck.load(Ordering::Relaxed) {
        metrics.stuck.store(false, Ordering::Relaxed);
    }
}

/// Counts `counter` down; at zero, sets it back to `every` and says so.
#[inline]
fn countdown(counter: &Cell<u32>, every: u32) -> bool {
    let left = counter.get() - 1;
    if left == 0 {
        counter.set(every);
        true
    } else {
        counter.set(left);
        false
    }
}

// === block_on ===

/// The `block_on` future's waker on a multi-thread runtime.
struct MainWaker {
    woken: AtomicBool,
    pool: &'static Pool,
    thread: thread::Thread,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, Ordering::AcqRel) {
            self.pool.main_pending.fetch_add(1, Ordering::SeqCst);
        }
        self.thread.unpark();
    }
}

/// Runs `future` on this thread while the workers run the tasks; the
/// thread sleeps whenever the future waits. `spawn_local` tasks spawned
/// here run here too.
pub(crate) fn block_on<F: Future>(shared: &'static Shared, future: F) -> F::Output {
    let pool = shared.pool().expect("a multi-thread runtime has a pool");
    let _driving = context::enter_driving();
    let _enter = context::enter(shared);
    let _seeded = shared.seed_thread(0);
    pool.main_pending.fetch_add(1, Ordering::SeqCst);
    let main = Arc::new(MainWaker {
        woken: AtomicBool::new(true),
        pool,
        thread: thread::current(),
    });
    /// Takes this future out of the count when `block_on` returns.
    struct Pending<'a>(&'a MainWaker);
    impl Drop for Pending<'_> {
        fn drop(&mut self) {
            if self.0.woken.swap(false, Ordering::AcqRel) {
                self.0.pool.main_pending.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
    let _pending = Pending(&main);
    /// Takes one poll out of the count.
    struct Polled(&'static Pool);
    impl Drop for Polled {
        fn drop(&mut self) {
            self.0.main_pending.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let waker = Waker::from(main.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let me = thread::current().id();
    loop {
        if main.woken.swap(false, Ordering::AcqRel) {
            // Still counted while it runs (it may arm a timer); the guard
            // takes it out of the count after the poll, also on unwind.
            let _polling = Polled(pool);
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            continue;
        }
        if let Some(local) = shared.local_for(me) {
            if local.executor.tick() > 0 {
                continue;
            }
        }
        thread::park();
    }
}
