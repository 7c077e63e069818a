//! The task header: the part of every task that is the same whatever its
//! future, storage or scheduler. Wakers, `Runnable`s and `JoinHandle`s all
//! point at it.

use core::ptr::NonNull;

use super::raw::VTable;
use super::state::State;
use crate::loom::UnsafeCell;

/// The first field of every task cell.
///
/// `#[repr(C)]` and first in [`Cell`](super::raw::Cell): a pointer to the
/// cell is a pointer to its header, and back.
#[repr(C)]
pub(crate) struct Header {
    /// Flags and reference count; see `state.rs`.
    pub(crate) state: State,
    /// The functions that know the task's future, storage and scheduler types.
    pub(crate) vtable: &'static VTable,
    /// Intrusive link for run queues.
    ///
    /// # Safety
    ///
    /// Only the holder of the task's `Runnable` (the one reference that
    /// `NOTIFIED` stands for) may read or write it, so a queue that owns the
    /// `Runnable` owns the link.
    pub(crate) queue_next: UnsafeCell<Option<NonNull<Header>>>,
    /// The scheduler the task belongs to, erased; `vtable.schedule` knows its
    /// type. It outlives the task: spawning requires `&'static`.
    pub(crate) scheduler: NonNull<()>,
}

// SAFETY: every field is either atomic, immutable after spawn, or (the queue
// link) accessed only by the single owner of the task's `Runnable`.
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}

impl Header {
    /// Calls the scheduler with the `Runnable` whose reference the caller owns.
    ///
    /// # Safety
    ///
    /// - `ptr` points at a live task header;
    /// - the caller owns one reference and the task's `NOTIFIED` bit, both of
    ///   which pass to the scheduler.
    #[inline]
    pub(crate) unsafe fn schedule(ptr: NonNull<Header>) {
        // SAFETY: the caller guarantees the header is live.
        let vtable = unsafe { ptr.as_ref().vtable };
        // SAFETY: forwarded from the caller.
        unsafe { (vtable.schedule)(ptr) }
    }

    /// Frees the task.
    ///
    /// # Safety
    ///
    /// `ptr` points at a complete task whose reference count just reached zero.
    #[inline]
    pub(crate) unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: the caller guarantees the header is live.
        let vtable = unsafe { ptr.as_ref().vtable };
        // SAFETY: forwarded from the caller.
        unsafe { (vtable.dealloc)(ptr) }
    }

    /// Drops one reference, and does what the state word says follows.
    ///
    /// # Safety
    ///
    /// `ptr` points at a live task header and the caller owns one reference.
    #[inline]
    pub(crate) unsafe fn drop_reference(ptr: NonNull<Header>) {
        // SAFETY: the caller owns a reference, so the header is live.
        let state = unsafe { &ptr.as_ref().state };
        match state.drop_ref() {
            super::state::DropRef::Done => {}
            // SAFETY: that was the last reference and the task is complete.
            super::state::DropRef::Dealloc => unsafe { Header::dealloc(ptr) },
            // SAFETY: `drop_ref` kept our reference and set `NOTIFIED` for it.
            super::state::DropRef::Schedule => unsafe { Header::schedule(ptr) },
        }
    }
}

impl core::fmt::Debug for Header {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Header")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
