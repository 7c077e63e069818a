//! Wakers that point at a task header.
//!
//! Clone, wake and drop are atomic operations on the state word; a wake that
//! finds the task idle hands a `Runnable` to the task's scheduler, which is
//! an intrusive push. Nothing here allocates.

use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use core::task::{RawWaker, RawWakerVTable, Waker};

use super::header::Header;
use super::state::TransitionToNotified;

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// Runs `f` with a waker for the task that borrows the poller's reference
/// (no reference count traffic unless `f` clones it).
#[inline]
pub(crate) fn with_borrowed<R>(ptr: NonNull<Header>, f: impl FnOnce(&Waker) -> R) -> R {
    let raw = RawWaker::new(ptr.as_ptr().cast_const().cast(), &VTABLE);
    // SAFETY: the vtable's contract holds for a live header; the caller (the
    // poller) holds a reference for as long as `f` runs, and `ManuallyDrop`
    // keeps this borrowed waker from giving back a reference it never took.
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw) });
    f(&waker)
}

#[inline]
fn header(ptr: *const ()) -> NonNull<Header> {
    // SAFETY: every waker of this vtable was made from a non-null header.
    unsafe { NonNull::new_unchecked(ptr.cast_mut().cast()) }
}

/// # Safety
///
/// `ptr` is a live task header the waker holds a reference to (or borrows).
#[inline]
unsafe fn clone(ptr: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned keeps the header alive.
    unsafe { header(ptr).as_ref() }.state.ref_inc();
    RawWaker::new(ptr, &VTABLE)
}

/// # Safety
///
/// As `clone`; the waker's reference is given up.
#[inline]
unsafe fn wake(ptr: *const ()) {
    let ptr = header(ptr);
    // SAFETY: the waker's reference keeps the header alive.
    match unsafe { ptr.as_ref() }
        .state
        .transition_to_notified_by_val()
    {
        TransitionToNotified::DoNothing => {}
        // SAFETY: our reference and `NOTIFIED` pass to the scheduler.
        TransitionToNotified::Submit => unsafe { Header::schedule(ptr) },
        // SAFETY: that was the last reference and the task is complete.
        TransitionToNotified::Dealloc => unsafe { Header::dealloc(ptr) },
    }
}

/// # Safety
///
/// As `clone`.
#[inline]
unsafe fn wake_by_ref(ptr: *const ()) {
    let ptr = header(ptr);
    // SAFETY: the waker's reference keeps the header alive.
    if unsafe { ptr.as_ref() }
        .state
        .transition_to_notified_by_ref()
        == TransitionToNotified::Submit
    {
        // SAFETY: the transition took a new reference, passed with `NOTIFIED`.
        unsafe { Header::schedule(ptr) };
    }
}

/// # Safety
///
/// As `clone`; the waker's reference is given up.
#[inline]
unsafe fn drop_waker(ptr: *const ()) {
    // SAFETY: forwarded from the caller.
    unsafe { Header::drop_reference(header(ptr)) };
}
