//! `Handle`: a copyable reference to a runtime.

use std::fmt;
use std::future::Future;

use super::context;
use super::shared::Shared;
use super::tasks::TaskInfo;
use crate::task::JoinHandle;

/// A reference to a runtime, to spawn onto it from anywhere: other threads,
/// callbacks, code that does not own the [`Runtime`](super::Runtime).
///
/// Handles are `Copy` and stay valid after the runtime is dropped; spawning
/// through one then creates a task that is cancelled at once (its
/// `JoinHandle` yields a cancelled [`JoinError`](crate::task::JoinError)).
///
/// # Examples
///
/// Spawning from another thread:
///
/// ```
/// let runtime = pollen::runtime::Builder::new_current_thread().build().unwrap();
/// let handle = runtime.handle();
/// let task = std::thread::spawn(move || handle.spawn(async { 1 + 1 }))
///     .join()
///     .unwrap();
/// assert_eq!(runtime.block_on(task).unwrap(), 2);
/// ```
#[derive(Clone, Copy)]
pub struct Handle {
    pub(crate) shared: &'static Shared,
}

/// Returned by [`Handle::try_current`] outside a runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryCurrentError(());

/// Keeps a runtime current on this thread until dropped; see
/// [`Handle::enter`].
#[derive(Debug)]
#[must_use = "the runtime is current only while the guard lives"]
pub struct EnterGuard<'a> {
    _guard: context::EnterGuard,
    _handle: std::marker::PhantomData<&'a Handle>,
}

/// The live tasks of a runtime, from [`Handle::dump`]; `Display` prints
/// one line per task.
#[derive(Clone, Debug)]
pub struct Dump {
    tasks: Vec<TaskInfo>,
}

impl Dump {
    /// The tasks, by id.
    pub fn tasks(&self) -> &[TaskInfo] {
        &self.tasks
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} live tasks", self.tasks.len())?;
        for task in &self.tasks {
            writeln!(f, "  {task}")?;
        }
        Ok(())
    }
}

/// Numbers about a runtime, read at the moment they are asked for.
#[derive(Clone, Copy, Debug)]
pub struct RuntimeMetrics {
    shared: &'static Shared,
}

impl<'a> EnterGuard<'a> {
    pub(crate) fn new(handle: &'a Handle) -> EnterGuard<'a> {
        EnterGuard {
            _guard: context::enter(handle.shared),
            _handle: std::marker::PhantomData,
        }
    }
}

// === impl Handle ===

impl Handle {
    /// The runtime this thread is in: inside `block_on`, a task, a blocking
    /// closure, or while an [`EnterGuard`] lives.
    ///
    /// # Panics
    ///
    /// Outside a runtime; see [`try_current`](Self::try_current).
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(handle) => handle,
            Err(e) => panic!("{e}"),
        }
    }

    /// The runtime this thread is in, or an error outside one.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current()
            .map(|shared| Handle { shared })
            .ok_or(TryCurrentError(()))
    }

    /// Runs `future` to completion on this thread, as
    /// [`Runtime::block_on`](super::Runtime::block_on) does, from any thread
    /// that holds a handle.
    ///
    /// Several threads may be in `block_on` on one runtime at once. On a
    /// current-thread runtime one of them drives the runtime (runs its tasks,
    /// I/O and timers) and the others poll their own future when it is woken;
    /// when the driving thread returns, a waiting one takes over. (So, unlike
    /// tokio's `Handle::block_on`, timers and I/O work here even when no
    /// thread is in `Runtime::block_on`.) On a multi-thread runtime the
    /// workers run the tasks and each caller sleeps until its future is woken.
    ///
    /// After the runtime has shut down, `future` still runs here, but tasks
    /// it spawns are cancelled at once.
    ///
    /// # Panics
    ///
    /// If this thread already drives a runtime (from inside a task, or a
    /// `block_on` in a `block_on`), and if `future` panics.
    ///
    /// # Examples
    ///
    /// A plain thread waits on the runtime's timers and tasks:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = pollen::runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .enable_all()
    ///     .build()
    ///     .unwrap();
    /// let handle = runtime.handle();
    /// let from_thread = std::thread::spawn(move || {
    ///     handle.block_on(async {
    ///         pollen::time::sleep(Duration::from_millis(5)).await;
    ///         pollen::spawn(async { 40 + 2 }).await.unwrap()
    ///     })
    /// });
    /// assert_eq!(from_thread.join().unwrap(), 42);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self.shared.pool() {
            Some(_) => super::multi_thread::block_on(self.shared, future),
            None => super::current_thread::block_on(self.shared, future),
        }
    }

    /// Spawns `future` as a task on this runtime; see [`crate::spawn`].
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future, None)
    }

    /// Runs the blocking function `f` on the runtime's blocking pool; see
    /// [`crate::spawn_blocking`].
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared.spawn_blocking(f)
    }

    /// Makes this runtime current on this thread until the guard drops, so
    /// that `pollen::spawn`, timers and socket constructors find it.
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard::new(self)
    }

    /// Lists the runtime's live tasks: id, name, spawn location, status
    /// and poll count of each, its own `spawn_local` tasks included (those
    /// of every worker, and of the thread in `block_on`).
    ///
    /// A snapshot taken shard by shard under the registry's locks: tasks
    /// spawned or finished meanwhile may or may not be in it. Cheap enough
    /// for a debug endpoint; not for every request.
    ///
    /// # Examples
    ///
    /// ```
    /// # let runtime = pollen::runtime::Builder::new_current_thread().build().unwrap();
    /// # runtime.block_on(async {
    /// let task = pollen::task::Builder::new()
    ///     .name("waiter")
    ///     .spawn(std::future::pending::<()>());
    /// pollen::task::yield_now().await;
    /// let dump = pollen::runtime::Handle::current().dump();
    /// let waiter = dump.tasks().iter().find(|t| t.name() == Some("waiter")).unwrap();
    /// assert_eq!(waiter.polls(), 1);
    /// println!("{dump}");
    /// # task.abort();
    /// # });
    /// ```
    pub fn dump(&self) -> Dump {
        let mut tasks = Vec::new();
        self.shared.tasks.snapshot(false, &mut tasks);
        self.shared.snapshot_local(&mut tasks);
        tasks.sort_by_key(TaskInfo::id);
        Dump { tasks }
    }

    /// Numbers about this runtime.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics {
            shared: self.shared,
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("runtime", &(self.shared as *const Shared))
            .finish()
    }
}

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "pollen: there is no runtime on this thread; this must be called from inside a \
             pollen runtime (`block_on`, a task, or after `Handle::enter`)",
        )
    }
}

impl std::error::Error for TryCurrentError {}

// === impl RuntimeMetrics ===

impl RuntimeMetrics {
    /// Tasks spawned and not yet finished (nor dropped).
    pub fn num_alive_tasks(&self) -> usize {
        self.shared.tasks.len()
    }

    /// Threads of the blocking pool alive now (busy or idle).
    pub fn num_blocking_threads(&self) -> usize {
        self.shared.blocking.threads()
    }

    /// Idle threads of the blocking pool.
    pub fn num_idle_blocking_threads(&self) -> usize {
        self.shared.blocking.idle_threads()
    }

    /// Blocking closures waiting for a thread.
    pub fn blocking_queue_depth(&self) -> usize {
        self.shared.blocking.queue_depth()
    }

    /// Worker threads: the pool's size on a multi-thread runtime, `1` on
    /// a current-thread one.
    pub fn num_workers(&self) -> usize {
        self.shared.pool().map_or(1, |pool| pool.workers())
    }

    /// Tasks waiting in the global queue (spawned or woken outside the
    /// workers) now; on a current-thread runtime, its one queue is counted
    /// by [`num_alive_tasks`](Self::num_alive_tasks) only, and this is `0`.
    pub fn global_queue_depth(&self) -> usize {
        self.shared
            .pool()
            .map_or(0, |pool| pool.global_queue_depth())
    }

    /// Tasks waiting in worker `worker`'s own queue (its deque and LIFO
    /// slot) now.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_local_queue_depth(&self, worker: usize) -> usize {
        self.pool_worker(worker)
            .map_or(0, |pool| pool.local_queue_depth(worker))
    }

    /// Task polls worker `worker` has made since the runtime started.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_poll_count(&self, worker: usize) -> u64 {
        self.worker_counter(worker, |m| &m.polls)
    }

    /// Times worker `worker` took tasks from another worker.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_steal_count(&self, worker: usize) -> u64 {
        self.worker_counter(worker, |m| &m.steals)
    }

    /// Times worker `worker` went to sleep for want of work.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_park_count(&self, worker: usize) -> u64 {
        self.worker_counter(worker, |m| &m.parks)
    }

    /// Time worker `worker` has spent awake (running tasks, searching,
    /// looking at I/O), counted when it parks and, while it stays busy, at
    /// each look at I/O and timers (every
    /// [`event_interval`](crate::runtime::Builder::event_interval) polls). A
    /// poll that runs long is counted once it returns.
    ///
    /// # Panics
    ///
    /// If `worker >= num_workers()`.
    pub fn worker_total_busy_duration(&self, worker: usize) -> std::time::Duration {
        std::time::Duration::from_nanos(self.worker_counter(worker, |m| &m.busy_ns))
    }

    /// The pool, if `worker` is one of its workers.
    #[track_caller]
    fn pool_worker(&self, worker: usize) -> Option<&'static super::multi_thread::Pool> {
        let workers = self.num_workers();
        assert!(
            worker < workers,
            "pollen: worker index {worker} out of range (the runtime has {workers})"
        );
        self.shared.pool()
    }

    #[track_caller]
    fn worker_counter(
        &self,
        worker: usize,
        counter: impl FnOnce(&super::multi_thread::WorkerMetrics) -> &std::sync::atomic::AtomicU64,
    ) -> u64 {
        self.pool_worker(worker).map_or(0, |pool| {
            counter(pool.worker_metrics(worker)).load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    /// I/O sources registered with the reactor now (sockets, listeners).
    /// Zero once the runtime has shut down.
    pub fn num_io_registrations(&self) -> usize {
        self.shared.io_handle().map_or(0, |io| io.registrations())
    }
}
