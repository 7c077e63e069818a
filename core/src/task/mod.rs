//! Tasks: the one representation every pollen scheduler runs.
//!
//! # Design
//!
//! A task is one *cell*: a header, then the *stage* (the
//! future, later its output) and the *join waker* slot. The cell lives in a
//! `Box` (feature `alloc`, one allocation per task), in a slot of a
//! [`TaskStorage`], [`TaskPool`] or [`TaskArena`] in a `static` (no heap),
//! or in memory its scheduler manages ([`new_in`], [`TaskMemory`]).
//!
//! The header is four words on every target:
//!
//! | field        | what                                   | who may touch it, when                       |
//! |--------------|----------------------------------------|----------------------------------------------|
//! | `state`      | flags + reference count (`state.rs`)   | anyone holding a reference, atomically       |
//! | `vtable`     | functions that know `F`, `S`, storage  | read-only after spawn                        |
//! | `queue_next` | intrusive run-queue link               | only the holder of the task's `Runnable`     |
//! | `scheduler`  | the `&'static S` the task belongs to   | read-only after spawn                        |
//!
//! ## References
//!
//! Four kinds of value hold a reference (counted in the state word): the
//! [`JoinHandle`] (and any [`AbortHandle`]), every [`Waker`](core::task::Waker),
//! the [`Runnable`] (there is at most one, it stands for the `NOTIFIED` bit),
//! and the poller while `RUNNING` is set (it is the reference the `Runnable`
//! carried in). The cell is freed when the count reaches zero, which only
//! happens after `COMPLETE`: the last reference to a task that is not
//! complete cancels it (`NOTIFIED | CANCELLED`, scheduled once more so the
//! future is dropped by its executor, never by whoever dropped the waker).
//!
//! ## Lifecycle
//!
//! ```text
//!  spawn ──► NOTIFIED ──run──► RUNNING ──Ready──────────────► COMPLETE ──last ref──► freed
//!               ▲                 │  └─Pending, woken meanwhile─► NOTIFIED (requeued)
//!               │                 └─Pending──► idle
//!               └────── wake ─────────────────────┘
//! ```
//!
//! A wake while `RUNNING` only sets `NOTIFIED`; the poller requeues the task
//! when the poll returns, so a task is never polled twice at once and never
//! queued twice, and no wake-up is lost. A wake of a queued, complete or
//! cancelled task does nothing. `abort` sets `CANCELLED` (and queues an idle
//! task): the next run drops the future instead of polling it.
//!
//! ## Who owns the stage
//!
//! The poller (whoever set `RUNNING`) until `COMPLETE`. Then the
//! `JoinHandle` if it still existed at completion (it takes the output);
//! otherwise the poller, which drops the output at once. A poller that finds
//! the handle already gone (`JOIN_INTEREST` is never set again) drops the
//! output *before* setting `COMPLETE`, and then sets `COMPLETE` and lets go
//! of its reference in one atomic step.
//!
//! (Meanwhile the task is not yet finished: `is_finished` is `false` and a
//! wake only sets `NOTIFIED`.)
//!
//! Dropping a `JoinHandle` before completion, with no join waker stored and
//! other references left (the usual detached spawn), is one
//! compare-and-swap too. So a task whose handle is dropped before it runs
//! once costs four atomic read-modify-writes of its own (queue push, handle
//! drop, `RUNNING`, `COMPLETE`), plus its share of the one swap that takes a
//! whole batch off the queue.
//!
//! A waker's `Drop` may panic (with `std`): the join waker slot is always
//! emptied before the old waker is dropped, and the panic is caught and
//! resumed once the state transition it interrupted is finished, so no
//! reference leaks and nothing is dropped twice.
//!
//! ## Join waker
//!
//! The `JoinHandle` owns the slot while `JOIN_WAKER` is clear and publishes a
//! waker by setting it; while set, both sides only read it. At completion
//! the poller wakes it, then clears `JOIN_WAKER`, and drops the waker itself
//! if the handle is gone by then.
//!
//! ## Safety
//!
//! Every raw access to a cell goes through the vtable of the cell's own
//! type. Functions that can free the cell take `NonNull<Header>`, not
//! `&Cell`, so no reference outlives the memory.

mod catch;
pub mod coop;
mod error;
mod header;
mod join;
mod raw;
mod runnable;
mod state;
mod storage;
mod waker;

#[cfg(all(test, feature = "alloc"))]
mod loom_tests;

use core::future::Future;

pub use self::error::{JoinError, SpawnError};
pub use self::join::{AbortHandle, JoinHandle, TaskStatus};
pub use self::runnable::Runnable;
pub use self::storage::{TaskArena, TaskMemory, TaskPool, TaskStorage};

pub(crate) use self::header::Header;

/// The bytes the core adds to every task in front of its future: the header.
///
/// The whole cell is [`cell_size`]: header, future (later its output) and
/// the join waker slot.
pub const HEADER_SIZE: usize = core::mem::size_of::<Header>();

/// The size of a task cell for future type `F`: what a `Box` allocates for
/// it, and what a [`TaskArena`] slot must hold.
pub const fn cell_size<F: Future>() -> usize {
    core::mem::size_of::<raw::Cell<F>>()
}

/// The size and alignment of a task cell for future type `F`: the memory
/// [`new_in`] needs.
pub const fn cell_layout<F: Future>() -> core::alloc::Layout {
    core::alloc::Layout::new::<raw::Cell<F>>()
}

/// Places a task for `future` bound to `scheduler` in `memory`, which `M`
/// manages, for schedulers that allocate their tasks themselves: returns
/// its first [`Runnable`], its [`JoinHandle`], and what `placed` returned
/// (see [`new_boxed_placed`]). When the task's last reference goes, the
/// cell is dropped in place and `M::free` takes the memory back.
///
/// # Safety
///
/// `memory` is valid for reads and writes of [`cell_layout::<F>()`]
/// (size and alignment), used by nothing else until `M::free` is given
/// it back, and its provenance covers whatever `M::free` reaches from it.
pub unsafe fn new_in<F, S, M, R>(
    memory: core::ptr::NonNull<u8>,
    future: F,
    scheduler: &'static S,
    placed: impl FnOnce(core::pin::Pin<&F>) -> R,
) -> (Runnable, JoinHandle<F::Output>, R)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
    M: TaskMemory,
{
    // SAFETY: forwarded from the caller.
    unsafe { storage::spawn_in_memory::<F, S, M, R>(memory, future, scheduler, placed) }
}

/// A scheduler: where a woken task goes.
///
/// Implemented by [`Executor`](crate::executor::Executor); the std runtime's
/// schedulers implement it too. `schedule` is called from wakers, on any
/// thread or in an interrupt handler, and must not block or allocate if its
/// users need that.
pub trait Schedule: Sync + 'static {
    /// Whether this scheduler's tasks live until they complete (or are
    /// aborted), even once nothing can wake them: no waker left anywhere
    /// and the `JoinHandle` dropped.
    ///
    /// With `false` (the default) such a task can never run again, and is
    /// cancelled at once: its future is dropped and its memory freed. A
    /// scheduler that keeps a table of its tasks, to abort them all at
    /// shutdown say, sets `true`, so a task that only holds something (a
    /// guard, a connection) keeps it until then, as in tokio's runtime.
    /// Each task then holds a reference to itself, taken at spawn and
    /// dropped by the poller that completes it, in the atomic operations
    /// those steps make anyway: the table can keep bare task addresses
    /// (see [`AbortHandle::clone_from_ptr`]) at no cost per task.
    const KEEPS_TASKS_ALIVE: bool = false;

    /// Queues `runnable` to be run (by calling [`Runnable::run`]) later.
    fn schedule(&self, runnable: Runnable);

    /// Queues a task that was woken while it was being polled, once that
    /// poll has returned: it yielded (`yield_now`), or something woke it
    /// meanwhile. Called on the thread that polled it.
    ///
    /// The default is [`schedule`](Self::schedule). A scheduler that runs
    /// a task it just woke next (a LIFO slot) queues this one behind the
    /// others instead, or a task that yields would run again at once.
    fn reschedule(&self, runnable: Runnable) {
        self.schedule(runnable);
    }
}

/// Allocates a task for `future` bound to `scheduler`, for scheduler
/// authors: returns its first [`Runnable`] (to queue) and its
/// [`JoinHandle`]. One allocation holds header, future and output.
///
/// Executors wrap this in their `spawn`.
#[cfg(feature = "alloc")]
pub fn new_boxed<F, S>(future: F, scheduler: &'static S) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let (runnable, handle, ()) = storage::spawn_boxed(future, scheduler, |_| ());
    (runnable, handle)
}

/// As [`new_boxed`], and shows `placed` the future where it stays (pinned
/// in the task) before anyone can poll it: a scheduler that keeps a table
/// of its tasks can note where a wrapper future of its own keeps its
/// bookkeeping (a poll counter, say). The future removes that note in its
/// `Drop`, which runs in place, before the memory is freed.
#[cfg(feature = "alloc")]
pub fn new_boxed_placed<F, S, R>(
    future: F,
    scheduler: &'static S,
    placed: impl FnOnce(core::pin::Pin<&F>) -> R,
) -> (Runnable, JoinHandle<F::Output>, R)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    storage::spawn_boxed(future, scheduler, placed)
}

/// As [`new_boxed`], without the `Send` bounds, for single-threaded
/// schedulers.
///
/// # Safety
///
/// - if `F` is not `Send`: the task's `Runnable`s are run and dropped only
///   on the thread that called this. Its wakers may be woken, cloned and
///   dropped anywhere: that only hands a `Runnable` to the scheduler (which
///   must then keep it for that thread) or frees a task whose future and
///   output are already gone;
/// - the `JoinHandle` stays on that thread if `F::Output` is not `Send`;
/// - if `F` is not `'static`, the task is complete and dropped before
///   anything it borrows goes away.
#[cfg(feature = "alloc")]
pub unsafe fn new_boxed_unchecked<F, S>(
    future: F,
    scheduler: &'static S,
) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future,
    S: Schedule,
{
    let (runnable, handle, ()) = storage::spawn_boxed(future, scheduler, |_| ());
    (runnable, handle)
}

/// [`new_boxed_placed`] without the `Send` bounds.
///
/// # Safety
///
/// As [`new_boxed_unchecked`].
#[cfg(feature = "alloc")]
pub unsafe fn new_boxed_unchecked_placed<F, S, R>(
    future: F,
    scheduler: &'static S,
    placed: impl FnOnce(core::pin::Pin<&F>) -> R,
) -> (Runnable, JoinHandle<F::Output>, R)
where
    F: Future,
    S: Schedule,
{
    storage::spawn_boxed(future, scheduler, placed)
}
