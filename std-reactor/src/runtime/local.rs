//! Tasks that are not `Send`: `spawn_local`.
//!
//! Local tasks belong to one thread, and have a run queue of their own,
//! which only that thread runs; wakers may still come from anywhere, since
//! a wake only queues the task.
//!
//! - **On a multi-thread runtime's worker** (`spawn_local` from one of its
//!   tasks), the task belongs to that worker, which runs it between its
//!   other tasks, and drops it when the runtime shuts down.
//! - **Elsewhere** (in `block_on`, or on a current-thread runtime), a
//!   runtime's local tasks belong to the first such thread that called
//!   `spawn_local` on it. They run while that thread is in `block_on`, and
//!   wait while another thread drives the runtime. When the runtime shuts
//!   down on their thread their futures are dropped like every other
//!   task's; if it shuts down on another thread they cannot be touched
//!   there, and are leaked instead.

use std::fmt;
use std::future::Future;
use std::thread::{self, ThreadId};

use pollen_core::executor::Executor;
use pollen_core::task::{JoinHandle, Runnable, Schedule};

use super::context;
use super::shared::Shared;
use super::tasks::TaskRegistry;

/// The local tasks of one thread of a runtime. Leaked, like `Shared`,
/// because tasks point at their scheduler.
pub(crate) struct LocalScheduler {
    owner: ThreadId,
    pub(crate) executor: Executor,
    pub(crate) tasks: TaskRegistry,
    shared: &'static Shared,
    /// How to wake the owner when a task is queued.
    wake: WakeOwner,
}

/// How a local scheduler's thread sleeps.
enum WakeOwner {
    /// In the current-thread runtime's poller.
    Driver,
    /// As worker `n` of a multi-thread runtime.
    Worker(usize),
    /// In `thread::park` (a multi-thread runtime's `block_on`).
    Thread(thread::Thread),
}

impl LocalScheduler {
    /// The local tasks of the calling thread, which drives `shared`.
    pub(crate) fn new(shared: &'static Shared) -> &'static LocalScheduler {
        let wake = match shared.pool() {
            Some(_) => WakeOwner::Thread(thread::current()),
            None => WakeOwner::Driver,
        };
        LocalScheduler::leak(shared, wake)
    }

    /// The local tasks of worker `index`, called on its thread.
    pub(crate) fn for_worker(shared: &'static Shared, index: usize) -> &'static LocalScheduler {
        LocalScheduler::leak(shared, WakeOwner::Worker(index))
    }

    fn leak(shared: &'static Shared, wake: WakeOwner) -> &'static LocalScheduler {
        Box::leak(Box::new(LocalScheduler {
            owner: thread::current().id(),
            executor: Executor::new(),
            tasks: TaskRegistry::new(1),
            shared,
            wake,
        }))
    }

    /// Whether this thread runs these tasks.
    pub(crate) fn is_owner(&self, thread: ThreadId) -> bool {
        self.owner == thread
    }

    #[track_caller]
    pub(crate) fn spawn<F>(&'static self, future: F, name: Option<&str>) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let location = std::panic::Location::caller();
        let Some(slot) = self.tasks.reserve(location, name, None) else {
            // SAFETY: `F: 'static`; the `Runnable` is dropped right here, on
            // this thread, and the `JoinHandle` is `!Send` unless the output
            // is `Send`.
            let (runnable, handle) =
                unsafe { pollen_core::task::new_boxed_unchecked(future, self) };
            drop(runnable);
            return handle;
        };
        // SAFETY: `F: 'static`. This thread is `owner` (checked by
        // `spawn_local`), and `Runnable`s of this scheduler are only run or
        // dropped by `owner`: `schedule` only queues them, `owner` ticks the
        // queue, and shutdown on another thread leaves them alone. The
        // `JoinHandle` is `!Send` unless the output is `Send`.
        let (runnable, handle, polls) = unsafe {
            pollen_core::task::new_boxed_unchecked_placed(slot.track(future), self, |t| {
                t.polls_ptr()
            })
        };
        slot.fill(handle.as_ptr(), polls);
        self.schedule(runnable);
        handle
    }
}

impl Schedule for LocalScheduler {
    /// Tasks live until they end or shutdown aborts them, as in tokio
    /// (the task registry keeps their bare addresses: see `tasks.rs`).
    const KEEPS_TASKS_ALIVE: bool = true;

    fn schedule(&self, runnable: Runnable) {
        // Never run nor drop it here: this may be any thread. Only a push
        // onto an empty queue needs to tell the driver (see `Shared`).
        if self.executor.enqueue(runnable) {
            match &self.wake {
                WakeOwner::Driver => self.shared.park.unpark(),
                WakeOwner::Worker(index) => {
                    if let Some(pool) = self.shared.pool() {
                        pool.unpark(self.shared, *index);
                    }
                }
                WakeOwner::Thread(thread) => thread.unpark(),
            }
        }
    }
}

impl fmt::Debug for LocalScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalScheduler")
            .field("owner", &self.owner)
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

/// Spawns a future that is not `Send` onto the current runtime, to run on
/// this thread only.
///
/// Call it from inside [`Runtime::block_on`](super::Runtime::block_on) or a
/// task of the runtime; its waker may be used from any thread.
///
/// - From a task on a multi-thread runtime's worker, the task is pinned to
///   that worker, which runs it between its other tasks (tokio's
///   multi-thread runtime cannot do this).
/// - Otherwise (in `block_on`, or on a current-thread runtime) it runs
///   while this thread drives the runtime in `block_on`. Such local tasks
///   all belong to the first thread that called `spawn_local` on the
///   runtime; if the runtime is dropped on another thread, they cannot be
///   dropped there and are leaked.
///
/// # Panics
///
/// Outside a thread that is driving a runtime, or on a thread other than
/// the one the runtime's local tasks belong to.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// # let runtime = pollen::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let shared = Rc::new(5); // not `Send`
/// let task = pollen::task::spawn_local({
///     let shared = shared.clone();
///     async move { *shared * 2 }
/// });
/// assert_eq!(task.await.unwrap(), 10);
/// # });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn_local_named(future, None)
}

/// [`spawn_local`], with a name for dumps.
#[track_caller]
pub(crate) fn spawn_local_named<F>(future: F, name: Option<&str>) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let Some(shared) = context::current().filter(|_| context::is_driving()) else {
        panic!(
            "pollen: spawn_local must be called on a thread that drives a runtime (inside \
             `block_on` or one of its tasks)"
        );
    };
    if let Some(local) = super::multi_thread::current_worker_local(shared) {
        return local.spawn(future, name);
    }
    let local = shared.local();
    let me = thread::current().id();
    assert!(
        local.is_owner(me),
        "pollen: this runtime's local tasks belong to thread {:?}; spawn_local was called on {:?}",
        local.owner,
        me
    );
    local.spawn(future, name)
}
