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
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Runnable {
        Runnable { ptr }
    }

    /// Gives up the `Runnable` without running or cancelling the task: the
    /// caller now owns its reference (to rebuild it with `from_raw`).
    #[inline]
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).ptr
    }

    /// Polls the task once.
    ///
    /// If the task is woken while it runs, its scheduler receives a new
    /// `Runnable` after the poll returns. If it was aborted, its future is
    /// dropped instead of polled. With the `std` feature a panic in the
    /// future is caught and delivered to the task's `JoinHandle`.
    #[inline]
    pub fn run(self) {
        let ptr = self.into_raw();
        // SAFETY: the reference we owned passes to `poll`.
        unsafe { (ptr.as_ref().vtable.poll)(ptr) }
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
