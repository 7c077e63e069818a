//! The runtime: a scheduler, the I/O reactor and the timers.
//!
//! A [`Runtime`] is built with a [`Builder`], in one of two flavours:
//!
//! - **current-thread** ([`Builder::new_current_thread`]): every task runs
//!   on the thread in [`Runtime::block_on`], which also waits for I/O and
//!   timers (in `epoll_wait`, through mio) when no task can run;
//! - **multi-thread** ([`Builder::new_multi_thread`], what `#[pollen::main]`
//!   builds): a pool of worker threads that steal work from each other;
//!   `block_on` runs its own future on the calling thread while the workers
//!   run the tasks. See the scheduler's design notes in
//!   `runtime/multi_thread/mod.rs`.
//!
//! [`spawn`] takes `Send` futures (from any thread, through a [`Handle`]);
//! [`spawn_local`] takes futures that are not `Send`, which stay on the
//! thread (or worker) that spawned them; [`spawn_blocking`] runs blocking
//! code on the runtime's blocking pool; [`Handle::dump`] lists the live
//! tasks and [`Handle::metrics`] counts what the runtime does.
//!
//! # Guarantees
//!
//! - **No lost wake-ups**: a task woken from any thread, at any moment,
//!   runs; a thread sleeping in the poller is woken only when the wake
//!   comes from elsewhere (a wake from a task on the runtime costs one
//!   atomic swap, no system call). See `io::park` and
//!   `runtime/multi_thread/idle.rs` for the protocols and their loom models.
//! - **Fairness**: a busy runtime still looks at I/O and timers every
//!   [`event_interval`](Builder::event_interval) polls; every task poll has
//!   a [cooperative budget](crate::task::coop), so a task whose operations
//!   are always ready still yields. The current-thread flavour runs tasks in
//!   rounds in wake order; the multi-thread one looks at tasks spawned from
//!   outside every [`global_queue_interval`](Builder::global_queue_interval)
//!   polls, and lets idle workers take the task waiting behind a busy one,
//!   even from its LIFO slot.
//! - **Panics stay in their task**: a task that panics completes with a
//!   [`JoinError`](crate::task::JoinError) for which `is_panic()` is true;
//!   the runtime keeps running.
//! - **Shutdown drops every task**: dropping the runtime (or
//!   [`shutdown_timeout`](Runtime::shutdown_timeout)) drops the futures of
//!   all tasks still alive (on the thread that shuts down, or on the
//!   workers, each of which drops its own `spawn_local` tasks), joins the
//!   workers, and then closes the reactor; sockets left elsewhere get an
//!   error on their next use.

mod builder;
pub(crate) mod context;
mod current_thread;
mod handle;
pub(crate) mod local;
pub(crate) mod locations;
pub(crate) mod multi_thread;
pub(crate) mod pages;
pub(crate) mod shared;
pub(crate) mod tasks;

use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use self::builder::Builder;
pub use self::handle::{Dump, EnterGuard, Handle, RuntimeMetrics, TryCurrentError};
pub use self::local::spawn_local;
pub use self::multi_thread::StallReport;
pub use self::tasks::TaskInfo;

use self::shared::Shared;
use crate::task::JoinHandle;

/// A pollen runtime: tasks, I/O and timers; see the [module docs](self).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let runtime = pollen::runtime::Builder::new_current_thread()
///     .enable_all()
///     .build()
///     .unwrap();
/// let answer = runtime.block_on(async {
///     let task = pollen::spawn(async {
///         pollen::time::sleep(Duration::from_millis(1)).await;
///         21
///     });
///     task.await.unwrap() * 2
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    handle: Handle,
}

// === impl Runtime ===

impl Runtime {
    pub(crate) fn from_shared(shared: &'static Shared) -> Runtime {
        Runtime {
            handle: Handle { shared },
        }
    }

    /// Runs `future` to completion on this thread, running the runtime's
    /// tasks, I/O and timers meanwhile; returns its output.
    ///
    /// `future` need not be `Send` or `'static`. On a current-thread
    /// runtime, tasks spawned onto it run only while some thread is in
    /// `block_on`; on a multi-thread runtime its workers run them all the
    /// time, and `block_on` runs only `future` (and the `spawn_local`
    /// tasks spawned on this thread).
    ///
    /// # Panics
    ///
    /// If this thread already drives a runtime (from inside a task, or a
    /// `block_on` in a `block_on`), and if `future` panics.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns `future` as a task; see [`crate::spawn`]. On a multi-thread
    /// runtime a worker runs it; on a current-thread runtime it runs once a
    /// thread drives the runtime with [`block_on`](Self::block_on).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs the blocking function `f` on the runtime's blocking pool; see
    /// [`crate::spawn_blocking`].
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle to this runtime.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Makes this runtime current on this thread until the guard drops;
    /// see [`Handle::enter`].
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard::new(&self.handle)
    }

    /// Numbers about this runtime.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Shuts the runtime down: drops every task still alive, closes the
    /// reactor, cancels blocking closures that have not started, and waits
    /// at most `timeout` for the running ones to return (those that do not
    /// keep their threads, which exit when they return). On a multi-thread
    /// runtime the same `timeout` also bounds the wait for the workers to
    /// drop their tasks and exit (one deadline for both waits): a worker
    /// stuck in a task that never returns is left behind.
    ///
    /// Dropping the runtime does the same but waits without a limit.
    pub fn shutdown_timeout(self, timeout: Duration) {
        // Not again in `drop`, which would wait without a limit.
        std::mem::ManuallyDrop::new(self).shutdown(Some(timeout));
    }

    /// Shuts the runtime down without waiting: neither for blocking
    /// closures nor, on a multi-thread runtime, for the workers to drop
    /// their tasks and exit (they do so on their own).
    pub fn shutdown_background(self) {
        std::mem::ManuallyDrop::new(self).shutdown(Some(Duration::ZERO));
    }

    /// Shuts down; `timeout` bounds the whole wait (the workers', then the
    /// blocking pool's, out of one deadline).
    fn shutdown(&self, timeout: Option<Duration>) {
        let shared = self.handle.shared;
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        if let Some(pool) = shared.pool() {
            if !shared.is_closed() {
                let _enter = context::enter(shared);
                shared.shutdown_pool(pool, deadline);
            }
        } else if !shared.is_closed() {
            let _enter = context::enter(shared);
            current_thread::with_driver(shared, |driver| shared.shutdown(driver));
            shared.discard_driver();
        }
        shared
            .blocking
            .shutdown(deadline.map(|d| d.saturating_duration_since(std::time::Instant::now())));
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field(
                "flavor",
                &if self.handle.shared.pool().is_some() {
                    "multi_thread"
                } else {
                    "current_thread"
                },
            )
            .field("handle", &self.handle)
            .finish()
    }
}

/// Runs the blocking function `f` on the current runtime's blocking pool,
/// and returns a [`JoinHandle`] that yields its result.
///
/// For work that would stall the runtime's thread: file I/O, a synchronous
/// library call, a CPU-heavy computation. The pool starts threads as they
/// are needed, up to [`Builder::max_blocking_threads`] (512 by default;
/// beyond it closures wait in a queue), and lets a thread go after
/// [`Builder::thread_keep_alive`] (10 s) without work. A panic in `f`
/// yields a [`JoinError`](crate::task::JoinError) for which `is_panic()` is
/// true. Closures cannot be cancelled once they run: aborting the handle
/// only detaches it.
///
/// # Panics
///
/// Outside a runtime (see [`Handle::try_current`]).
///
/// # Examples
///
/// ```
/// # let runtime = pollen::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let digest = pollen::spawn_blocking(|| (1..=20u64).product::<u64>());
/// assert_eq!(digest.await.unwrap(), 2_432_902_008_176_640_000);
/// # });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Handle::current().spawn_blocking(f)
}

/// Spawns `future` as a task on the current runtime and returns its
/// [`JoinHandle`].
///
/// The task starts running at the runtime's next round; awaiting the handle
/// yields its output, or a [`JoinError`](crate::task::JoinError) if it
/// panicked or was aborted. Dropping the handle detaches the task.
///
/// # Panics
///
/// Outside a runtime (see [`Handle::try_current`]).
///
/// # Examples
///
/// ```
/// # let runtime = pollen::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let task = pollen::spawn(async { "hello" });
/// assert_eq!(task.await.unwrap(), "hello");
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Handle::current().spawn(future)
}
