//! `BlockingPool`: threads that run blocking tasks, grown on demand.
//!
//! # The protocol
//!
//! Three things are shared:
//!
//! - `queue`: a lock-free FIFO (`crossbeam_deque::Injector`) of
//!   [`Runnable`]s. Spawners push and workers pop without a lock. The pool
//!   reaches it through the `TaskQueue` trait (`queue.rs`) and relies on no
//!   ordering from it beyond "a push happens before the pop that takes it".
//! - `state`: one atomic word with the `SHUTDOWN` flag, `threads` (workers
//!   that will look at the queue again) and `idle` (workers in their idle
//!   phase); see `state.rs`.
//! - `sleep`: a mutex around `tokens` (wake-ups handed to idle workers and
//!   not taken yet) and `alive` (threads not yet finished), with the condvars
//!   `wake` (idle workers wait on it) and `exited` (`shutdown` waits on it).
//!
//! `idle` only changes under the `sleep` lock, so it is exact there, and
//! `tokens <= idle` holds there (a token is only posted for an idle worker
//! without one; a worker leaves idle by taking a token whenever one is
//! posted, or retires with none posted).
//!
//! **A spawner** (`schedule`):
//!
//! 1. pushes the task, issues a `SeqCst` fence and reads `state`;
//! 2. if `SHUTDOWN` is set, cancels whatever is queued and stops;
//! 3. if `idle > 0`, takes the lock and, if `idle > tokens` there, posts a
//!    token and notifies one waiter, and stops. Otherwise every idle worker
//!    already owes a wake-up to an earlier task, and it goes on as if none
//!    were idle;
//! 4. counts a new thread with a CAS if `threads < max_threads` and
//!    `SHUTDOWN` is clear, and starts it; otherwise the task waits.
//!
//! So a spawn takes no lock at all unless a worker is idle (step 3) or a
//! thread is started (step 4).
//!
//! **A worker** runs tasks from the queue until it is empty (*busy*), then
//! takes the lock, counts itself idle, issues a `SeqCst` fence, and loops
//! under the lock (*idle*): a posted token is taken (back to busy); with
//! `SHUTDOWN` it retires; a queue that is not empty sends it back to busy;
//! after `keep_alive` it retires (leaving `idle` and `threads` in one
//! atomic step); otherwise it waits on `wake` until the deadline (see
//! `keep_alive.rs` for the clock).
//!
//! # Why no wake-up is lost
//!
//! Let a spawner push task `T` and then read `state` (the last read it acts
//! on, in step 1, 3 or 4), call that read `R`. Every worker is then in one of
//! these cases:
//!
//! - **It counts itself idle after `R`** (in the word's modification order).
//!   Both sides fence between their two steps (push, fence, read `R`; count
//!   idle, fence, look at the queue), and `R` did not see the worker, so the
//!   worker's look at the queue sees `T`: it does not sleep.
//! - **It is idle at `R` and the spawner posted a token.** Some idle worker
//!   takes the token after the spawner releases the lock, so it drains the
//!   queue after the push, `T` included.
//! - **It is idle at `R`, but every idle worker already has a token.** Each
//!   takes its token after the spawner's lock and drains the queue after the
//!   push. Those workers are spoken for, so the spawner also grows the pool
//!   (step 4) as if none were idle.
//! - **It is busy at `R`.** When its closure returns it pops `T`, or it
//!   counts itself idle after `R`: the first case.
//! - **It retired before `R`.** Then `R` does not count it in `threads`, so
//!   step 4 starts a replacement unless `max_threads` others remain.
//!
//! So `T` waits only while `max_threads` workers are all inside closures,
//! each of which looks at the queue when it returns.
//!
//! # Failed thread starts
//!
//! If the operating system refuses a thread (or naming it panics), the
//! spawner uncounts it under the lock and fences. If other workers remain,
//! the task stays queued for them (by the argument above, one of them
//! reaches it). If none remains, nothing would ever run the queue, so the
//! spawner cancels every queued task: their `JoinHandle`s yield a cancelled
//! [`JoinError`](pollen_core::task::JoinError) instead of hanging. A task
//! pushed meanwhile is safe too: its spawner's read either sees `threads ==
//! 0` (and tries to start a thread itself) or comes before the uncount, in
//! which case the fence after the uncount makes the cancelling pass see the
//! task.
//!
//! # Shutdown
//!
//! `shutdown` sets `SHUTDOWN`, fences and cancels every queued task. A
//! spawner pushes, fences and reads `SHUTDOWN`: either it sees the flag and
//! cancels the queue itself, or the shutdown's pass sees its task. Workers
//! drop instead of run whatever they pop after the flag, and `try_grow`
//! refuses to count new threads, so once the running closures return every
//! worker retires.
//!
//! # Checking it
//!
//! Every atomic, lock, condition variable and thread here comes from
//! `crate::loom`, the queue is a loom model under `--cfg loom`, and so is
//! the keep-alive clock. The models in `loom_tests.rs` race spawns against
//! a worker going idle, against each other, against a retiring worker and
//! against `shutdown`, and fail (as a deadlock) if a task is left behind.
//! Only `shutdown(None)` is modelled: a timed `shutdown` reads the real
//! clock.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use pollen_core::task::{JoinHandle, Runnable, Schedule};

use super::keep_alive::KeepAlive;
use super::queue::{Queue, TaskQueue};
use super::state::{self, Grow, State};
use super::{BlockingConfig, BlockingTask};
use crate::loom::atomic::{Ordering::SeqCst, fence};
use crate::loom::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use crate::loom::thread;

/// The most threads one pool runs: what the state word can count, or two
/// under loom (which runs at most five threads in a model, the model's own
/// included).
const THREAD_LIMIT: usize = if cfg!(loom) { 2 } else { state::MAX_THREADS };

/// A pool of threads that run blocking closures as core tasks.
///
/// See the module docs for the protocol between spawners and workers.
pub(crate) struct BlockingPool {
    /// Tasks waiting for a thread, in spawn order.
    queue: Queue<Runnable>,
    /// `SHUTDOWN`, `threads` and `idle` (see `state.rs`).
    state: State,
    /// Wake-up tokens and the live thread count; the only lock.
    sleep: Mutex<Sleep>,
    /// Idle workers wait here for a token, `SHUTDOWN` or their deadline.
    wake: Condvar,
    /// `shutdown` waits here for the last thread to finish.
    exited: Condvar,
    /// `config.max_threads`, clamped to `1..=THREAD_LIMIT`.
    max_threads: usize,
    config: BlockingConfig,
    /// When idle workers give up waiting (the real clock, or loom's model
    /// of it).
    keep_alive: KeepAlive,
    /// This pool, as the `&'static` a new thread needs (`Schedule::schedule`
    /// only gets `&self`). Set by `new`, the only way to make a pool.
    this: OnceLock<&'static BlockingPool>,
    /// Makes every thread start fail, as if the operating system refused.
    #[cfg(test)]
    pub(super) refuse_spawns: crate::loom::atomic::AtomicBool,
}

/// What the `sleep` lock guards.
#[derive(Debug)]
struct Sleep {
    /// Wake-ups posted to idle workers and not taken yet; `<= idle`.
    tokens: usize,
    /// Threads started and not finished (their stop hook included).
    alive: usize,
}

// === impl BlockingPool ===

impl BlockingPool {
    /// Makes a pool with no threads yet.
    ///
    /// The pool is leaked on purpose: core tasks need a `&'static`
    /// scheduler. The leak is small and fixed, one per runtime: the pool
    /// itself, its configuration and the queue's current block (one to two
    /// kilobytes in all). Its threads are not leaked: they exit after
    /// `keep_alive` without work, or at `shutdown`.
    pub(crate) fn new(config: BlockingConfig) -> &'static BlockingPool {
        let pool: &'static BlockingPool = Box::leak(Box::new(BlockingPool {
            queue: Queue::new(),
            state: State::new(),
            sleep: Mutex::new(Sleep {
                tokens: 0,
                alive: 0,
            }),
            wake: Condvar::new(),
            exited: Condvar::new(),
            max_threads: config.max_threads.clamp(1, THREAD_LIMIT),
            config,
            keep_alive: KeepAlive::new(),
            this: OnceLock::new(),
            #[cfg(test)]
            refuse_spawns: crate::loom::atomic::AtomicBool::new(false),
        }));
        let _ = pool.this.set(pool);
        pool
    }

    /// Runs `f` on a pool thread; the handle yields its result.
    ///
    /// A panic in `f` is caught and yields a `JoinError` that `is_panic`.
    /// After [`shutdown`](Self::shutdown) (or when no thread can be started
    /// and none is left), `f` is dropped without running and the handle
    /// yields a `JoinError` that `is_cancelled`; this never panics.
    pub(crate) fn spawn<F, R>(&'static self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (runnable, handle) = pollen_core::task::new_boxed(BlockingTask::new(f), self);
        self.schedule(runnable);
        handle
    }

    /// Shuts the pool down.
    ///
    /// Stops accepting work (later spawns yield a cancelled `JoinHandle`),
    /// cancels queued tasks that have not started (their closures are
    /// dropped here, their handles yield cancelled), and waits for the
    /// running closures to return and their threads to exit, for at most
    /// `timeout` if given. Returns whether every thread stopped in time.
    /// Calling it again waits again.
    ///
    /// Must not be called from a closure running on this pool: it would
    /// wait for itself (until `timeout`, or for ever).
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let _ = self.state.shut_down();
        fence(SeqCst);
        // Taking the lock orders us after any idle worker's look at the
        // flag: it either saw `SHUTDOWN` or is waiting, and is woken here.
        drop(self.lock());
        self.wake.notify_all();
        self.cancel_queued();

        let mut sleep = self.lock();
        loop {
            if self.state.load().threads() == 0 && sleep.alive == 0 {
                return true;
            }
            sleep = match deadline {
                None => self
                    .exited
                    .wait(sleep)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    self.exited
                        .wait_timeout(sleep, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    /// Worker threads serving the queue. A thread that has decided to exit
    /// no longer counts, even while its stop hook runs.
    pub(crate) fn threads(&self) -> usize {
        self.state.load().threads()
    }

    /// Worker threads with nothing to do (waiting for work, or about to).
    pub(crate) fn idle_threads(&self) -> usize {
        self.state.load().idle()
    }

    /// Tasks waiting for a thread.
    pub(crate) fn queue_depth(&self) -> usize {
        self.queue().len()
    }

    /// Makes every keep-alive deadline pass now, those of later idle phases
    /// included, and wakes the idle workers as their timed-out waits would
    /// (see `keep_alive.rs`).
    #[cfg(test)]
    pub(super) fn expire_keep_alive(&self) {
        self.keep_alive.expire();
        // As in `shutdown`: an idle worker that looked at the clock before
        // the store is waiting by the time we hold the lock, and is woken.
        drop(self.lock());
        self.wake.notify_all();
    }
}

impl BlockingPool {
    /// The sleep lock. Nothing panics while holding it, but a poisoned lock
    /// would still guard consistent counts, so poison is ignored.
    fn lock(&self) -> MutexGuard<'_, Sleep> {
        self.sleep.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The queue, seen only through [`TaskQueue`]: the protocol relies on
    /// nothing else about it (and loom swaps in a model).
    fn queue(&self) -> &impl TaskQueue<Runnable> {
        &self.queue
    }

    /// Drops every queued task: each closure is dropped without running and
    /// each handle yields cancelled.
    fn cancel_queued(&self) {
        while let Some(runnable) = self.queue().pop() {
            drop(runnable);
        }
    }

    /// Spawner step 3: hands a token to an idle worker that has none.
    /// Returns `false` if every idle worker already has one.
    fn wake_one(&self) -> bool {
        let mut sleep = self.lock();
        if self.state.load().idle() <= sleep.tokens {
            return false;
        }
        sleep.tokens += 1;
        drop(sleep);
        // After unlocking: the token is already visible to every worker
        // that looks under the lock, so the notification is only the nudge.
        self.wake.notify_one();
        true
    }

    /// Spawner step 4: starts a thread if the pool may grow.
    fn grow(&self) {
        match self.state.try_grow(self.max_threads) {
            Grow::Grew => self.start_thread(),
            // `Full`: a busy worker reaches the task when its closure
            // returns. `ShutDown`: the shutdown's pass cancels the task.
            Grow::Full | Grow::ShutDown => {}
        }
    }

    /// Starts the thread that `try_grow` counted.
    fn start_thread(&self) {
        let pool = *self
            .this
            .get()
            .expect("pollen: a BlockingPool is only made by BlockingPool::new");
        #[cfg(test)]
        if self.refuse_spawns.load(SeqCst) {
            self.start_failed();
            return;
        }
        // The name function is user code, and `Builder::spawn` panics on a
        // name with a NUL byte: either counts as a failed start.
        let started = catch_unwind(AssertUnwindSafe(|| {
            let mut builder = thread::Builder::new().name((self.config.thread_name)());
            if let Some(size) = self.config.stack_size {
                builder = builder.stack_size(size);
            }
            builder.spawn(move || pool.run_worker())
        }));
        match started {
            // Detached: `alive` and `exited` track it.
            Ok(Ok(_handle)) => {}
            Ok(Err(_)) | Err(_) => self.start_failed(),
        }
    }

    /// Uncounts a thread that never started (see "Failed thread starts").
    fn start_failed(&self) {
        let state = {
            let _sleep = self.lock();
            self.state.spawn_failed()
        };
        self.exited.notify_all();
        fence(SeqCst);
        if state.threads() == 0 {
            self.cancel_queued();
        }
    }

    /// The body of a pool thread.
    fn run_worker(&'static self) {
        self.lock().alive += 1;
        let _alive = Alive(self);
        if let Some(hook) = &self.config.on_thread_start {
            call_hook(&**hook);
        }
        self.work();
        if let Some(hook) = &self.config.on_thread_stop {
            call_hook(&**hook);
        }
    }

    /// Busy, idle, busy, ... until the worker retires.
    fn work(&self) {
        loop {
            while let Some(runnable) = self.queue().pop() {
                // `run` catches panics in the closure; only a panicking
                // `Waker::drop` of the joiner can escape it, after the task
                // is settled. The thread goes on serving either way.
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    if self.state.load().is_shutdown() {
                        drop(runnable);
                    } else {
                        runnable.run();
                    }
                }));
            }
            if !self.idle() {
                return;
            }
        }
    }

    /// The idle phase: returns `true` to work again, `false` to retire
    /// (the worker has already left `idle` and `threads`).
    fn idle(&self) -> bool {
        let mut sleep = self.lock();
        self.state.enter_idle();
        // Pairs with the spawner's fence between its push and its read.
        fence(SeqCst);
        let deadline = self.keep_alive.deadline(self.config.keep_alive);
        loop {
            if sleep.tokens > 0 {
                sleep.tokens -= 1;
                self.state.leave_idle();
                return true;
            }
            if self.state.load().is_shutdown() {
                self.state.retire();
                return false;
            }
            if !self.queue().is_empty() {
                self.state.leave_idle();
                return true;
            }
            let Some(wait) = self.keep_alive.left(&deadline) else {
                self.state.retire();
                return false;
            };
            sleep = wait.wait(&self.wake, sleep);
        }
    }
}

impl Schedule for BlockingPool {
    fn schedule(&self, runnable: Runnable) {
        if self.state.load().is_shutdown() {
            // Cancels the task: its handle yields cancelled.
            drop(runnable);
            return;
        }
        // Step 1.
        self.queue().push(runnable);
        fence(SeqCst);
        let state = self.state.load();
        // Step 2.
        if state.is_shutdown() {
            self.cancel_queued();
            return;
        }
        // Step 3.
        if state.idle() > 0 && self.wake_one() {
            return;
        }
        // Step 4.
        self.grow();
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingPool")
            .field("state", &self.state)
            .field("queue_depth", &self.queue().len())
            .field("max_threads", &self.max_threads)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Counts a pool thread out of `alive` when it finishes, also on unwind.
struct Alive(&'static BlockingPool);

// === impl Alive ===

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.lock().alive -= 1;
        self.0.exited.notify_all();
    }
}

/// Runs a thread hook; a panic in it is reported by the panic hook and
/// otherwise ignored, so the thread's counts stay right.
fn call_hook(hook: &(dyn Fn() + Send + Sync)) {
    let _ = catch_unwind(AssertUnwindSafe(hook));
}
