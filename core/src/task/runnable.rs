//! `Runnable`: a task that has been woken and waits in a run queue.

use core::fmt;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;

use super::header::Header;

/// A woken task, ready to be polled: what a scheduler queues.
///
/// There is at most one `Runnable` per task at any time (it stands for the
/// task's `NOTIFIED` bit), so a task is never polled twice at once and never
/// queued twice. [`run`](Runnable::run) polls it once; dropping a `Runnable`
/// without running it cancels the task (its future is dropped in place).
///
/// Schedulers receive `Runnable`s through [`Schedule::schedule`](super::Schedule::schedule).
pub struct Runnable {
    ptr: NonNull<Header>,
}

// SAFETY: safe constructors only accept `Send` futures with `Send` outputs;
// `spawn_unchecked` callers promise to keep `Runnable`s on one thread.
unsafe impl Send for Runnable {}
// SAFETY: `&Runnable` exposes nothing but the task's identity.
unsafe impl Sync for Runnable {}

// === impl Runnable ===

impl Runnable {
    /// Wraps a header reference.
    ///
    /// # Safety
    ///
    /// The caller owns one reference to the task and its `NOTIFIED` bit, and
    /// gives both to the `Runnable`.
    #[inline]
    pub(crate) unsafe fn from_header(ptr: NonNull<Header>) -> Runnable {
        Runnable { ptr }
    }

    /// Gives up the `Runnable` without running or cancelling the task: the
    /// caller now owns its reference (to rebuild it with `from_header`).
    #[inline]
    pub(crate) fn into_header(self) -> NonNull<Header> {
        ManuallyDrop::new(self).ptr
    }

    /// Turns the `Runnable` into a pointer, for a scheduler that keeps
    /// tasks in an atomic slot: the pointer owns the task (its reference
    /// and `NOTIFIED`) until [`from_raw`](Self::from_raw) makes it a
    /// `Runnable` again. A pointer never turned back leaks the task.
    #[inline]
    pub fn into_raw(self) -> NonNull<()> {
        self.into_header().cast()
    }

    /// Rebuilds a `Runnable` from [`into_raw`](Self::into_raw)'s pointer.
    ///
    /// # Safety
    ///
    /// `ptr` came from `into_raw` and is turned back exactly once.
    #[inline]
    pub unsafe fn from_raw(ptr: NonNull<()>) -> Runnable {
        Runnable { ptr: ptr.cast() }
    }

    /// The task's address: equal for two `Runnable`s (at different times)
    /// exactly when they are the same live task.
    #[inline]
    pub fn as_ptr(&self) -> NonNull<()> {
        self.ptr.cast()
    }

    /// Polls the task once.
    ///
    /// If the task is woken while it runs, its scheduler receives a new
    /// `Runnable` after the poll returns. If it was aborted, its future is
    /// dropped instead of polled. With the `std` feature a panic in the
    /// future is caught and delivered to the task's `JoinHandle`.
    ///
    /// The poll runs with a fresh [cooperative budget](super::coop).
    #[inline]
    pub fn run(self) {
        let ptr = self.into_header();
        super::coop::budgeted(Some(super::coop::BUDGET), || {
            // SAFETY: the reference we owned passes to `poll`.
            unsafe { (ptr.as_ref().vtable.poll)(ptr) }
        });
    }
}

impl Drop for Runnable {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own a reference and `NOTIFIED`; `shutdown` consumes them.
        unsafe { (self.ptr.as_ref().vtable.shutdown)(self.ptr) }
    }
}

impl fmt::Debug for Runnable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: our reference keeps the header alive.
        let header = unsafe { self.ptr.as_ref() };
        f.debug_struct("Runnable")
            .field("task", &self.ptr)
            .field("state", &header.state)
            .finish()
    }
}
