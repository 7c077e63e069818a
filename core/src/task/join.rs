//! `JoinHandle` and `AbortHandle`: a spawner's view of a task.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll};

use super::JoinError;
use super::header::Header;

/// An owned permission to await a task's output.
///
/// Awaiting it yields `Ok(output)`, or `Err(JoinError)` if the task was
/// cancelled (see [`abort`](Self::abort)) or panicked (with the `std`
/// feature). Dropping it *detaches* the task: it keeps running, and its
/// output is dropped when it finishes. A detached task that nothing can wake
/// any more (no waker of it is left anywhere) is cancelled, unless its
/// scheduler keeps its tasks alive
/// ([`Schedule::KEEPS_TASKS_ALIVE`](super::Schedule::KEEPS_TASKS_ALIVE), as
/// the std runtime's do): then it stays until aborted.
///
/// # Cancel safety
///
/// Awaiting a `JoinHandle` is cancel safe: if the await is dropped before the
/// task finishes, the output stays in the task until the handle is polled
/// again or dropped.
pub struct JoinHandle<T> {
    ptr: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle moves the output `T` to whichever thread awaits it.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only allows `abort` and `is_finished` (atomics).
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

// === impl JoinHandle ===

impl<T> JoinHandle<T> {
    /// # Safety
    ///
    /// The caller gives the handle one reference and the `JOIN_INTEREST` bit,
    /// and `T` is the output type of the task's future.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> JoinHandle<T> {
        JoinHandle {
            ptr,
            _output: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the header alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Cancels the task: its future is dropped the next time the executor
    /// would run it (at once if it is idle), and awaiting the handle yields a
    /// [`JoinError`] that [`is_cancelled`](JoinError::is_cancelled).
    ///
    /// A task that has already finished keeps its output. A task that is
    /// being polled right now is cancelled when that poll returns `Pending`;
    /// if it returns `Ready`, the output wins.
    pub fn abort(&self) {
        abort(self.ptr);
    }

    /// Whether the task has finished: returned, panicked or been cancelled.
    /// Awaiting the handle then completes without waiting.
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// A handle that can abort the task but not await it, and that can be
    /// cloned and sent elsewhere.
    pub fn abort_handle(&self) -> AbortHandle {
        self.header().state.ref_inc();
        AbortHandle { ptr: self.ptr }
    }

    /// The task's address: the same for every handle, waker and
    /// [`Runnable`](super::Runnable) of this task while it lives (to tell
    /// tasks apart; it may be reused once the task is freed).
    pub fn as_ptr(&self) -> NonNull<()> {
        self.ptr.cast()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let coop = core::task::ready!(super::coop::poll_proceed(cx));
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: we are the task's `JoinHandle`, and `out` has the type of
        // the task's output, as `from_raw` was promised.
        unsafe {
            (self.header().vtable.try_read_output)(self.ptr, (&raw mut out).cast(), cx.waker());
        }
        if out.is_ready() {
            coop.made_progress();
        }
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if self.header().state.drop_join_handle_fast().is_ok() {
            // Interest and reference given up. The task is not complete, so
            // no output was ours, and no waker of ours is published.
            return;
        }
        // SAFETY: we are the `JoinHandle`, giving up its reference once.
        unsafe { (self.header().vtable.drop_join_handle)(self.ptr) }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("task", &self.ptr)
            .field("state", &self.header().state)
            .finish()
    }
}

/// What a task is doing, as [`AbortHandle::status`] saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskStatus {
    /// Waiting to be woken.
    Idle,
    /// Woken, waiting in a run queue.
    Scheduled,
    /// Being polled now.
    Running,
    /// Returned, panicked or was cancelled.
    Finished,
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskStatus::Idle => "idle",
            TaskStatus::Scheduled => "scheduled",
            TaskStatus::Running => "running",
            TaskStatus::Finished => "finished",
        })
    }
}

/// Aborts a task without owning its output; see [`JoinHandle::abort_handle`].
pub struct AbortHandle {
    ptr: NonNull<Header>,
}

// SAFETY: the handle only touches the task's atomic state word.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

// === impl AbortHandle ===

impl AbortHandle {
    /// What the task is doing now (a snapshot), for introspection.
    pub fn status(&self) -> TaskStatus {
        // SAFETY: the handle's reference keeps the header alive.
        let state = unsafe { self.ptr.as_ref() }.state.load();
        if state.is_complete() {
            TaskStatus::Finished
        } else if state.is_running() {
            TaskStatus::Running
        } else if state.is_notified() {
            TaskStatus::Scheduled
        } else {
            TaskStatus::Idle
        }
    }

    /// The task's address, as [`JoinHandle::as_ptr`].
    pub fn as_ptr(&self) -> NonNull<()> {
        self.ptr.cast()
    }

    /// A new handle to the task at `task`, with a reference of its own.
    ///
    /// For a table that keeps bare task addresses (to spare every task two
    /// reference-count updates) and needs a handle now and then.
    ///
    /// # Safety
    ///
    /// `task` is the [`as_ptr`](Self::as_ptr) of a task, and for the whole
    /// call either:
    ///
    /// - the caller knows a reference to the task is held (a handle, a
    ///   waker) and stays held; or
    /// - the task's scheduler keeps its tasks alive
    ///   ([`Schedule::KEEPS_TASKS_ALIVE`](super::Schedule::KEEPS_TASKS_ALIVE))
    ///   and the task has not completed: its future has not finished
    ///   dropping.
    ///
    /// Either way its reference count cannot reach zero meanwhile. Without
    /// one of them it can: dropping the last reference to a task that is
    /// not kept sets the count to zero and back (to cancel the task), and
    /// an increment in between would be lost.
    pub unsafe fn clone_from_ptr(task: NonNull<()>) -> AbortHandle {
        let ptr = task.cast::<Header>();
        // SAFETY: the caller guarantees the header is alive and that its
        // count stays above zero for the whole call, so this adds to a held
        // reference.
        unsafe { ptr.as_ref() }.state.ref_inc();
        AbortHandle { ptr }
    }

    /// Cancels the task, as [`JoinHandle::abort`].
    pub fn abort(&self) {
        abort(self.ptr);
    }

    /// Whether the task has finished, as [`JoinHandle::is_finished`].
    pub fn is_finished(&self) -> bool {
        // SAFETY: the handle's reference keeps the header alive.
        unsafe { self.ptr.as_ref() }.state.load().is_complete()
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> AbortHandle {
        // SAFETY: the handle's reference keeps the header alive.
        unsafe { self.ptr.as_ref() }.state.ref_inc();
        AbortHandle { ptr: self.ptr }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: we give up the handle's reference, once.
        unsafe { Header::drop_reference(self.ptr) }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("task", &self.ptr)
            .finish()
    }
}

fn abort(ptr: NonNull<Header>) {
    // SAFETY: the caller's handle keeps the header alive.
    if unsafe { ptr.as_ref() }
        .state
        .transition_to_notified_and_cancel()
    {
        // SAFETY: the transition took a reference and `NOTIFIED` for us.
        unsafe { Header::schedule(ptr) };
    }
}
