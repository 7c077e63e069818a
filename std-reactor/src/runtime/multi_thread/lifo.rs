//! The LIFO slot: the task a worker woke last, run next.
//!
//! When a task wakes another (a message hand-off), the woken task is
//! likely to run soon and to find the message still in cache: the waking
//! worker keeps it in this slot and runs it before its deque. Unlike
//! tokio's, the slot is stealable: once the watchdog finds its owner stuck
//! in one poll, an idle worker takes the task waiting here, so a task never
//! waits long behind the task that woke it (tokio issue 4941).
//!
//! One atomic pointer. Only the owner ever writes a task into it; anyone
//! (owner or thief) takes the task out with a swap to null. So a slot the
//! owner sees empty stays empty until the owner fills it: filling an empty
//! slot is a plain `Release` store, no read-modify-write (the common case:
//! one task woken per poll). Filling a full slot is a swap, which returns
//! the displaced task, or null if a thief took it meanwhile. A swap is a
//! read-modify-write, so of two racing takers exactly one sees the
//! pointer; `Release` on the way in and `Acquire` on the way out hand the
//! task (and everything written to it before) from the putter to the
//! taker.

use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use pollen_core::task::Runnable;

use crate::loom::atomic::{AtomicPtr, Ordering::AcqRel, Ordering::Relaxed, Ordering::Release};

/// A value that can live in an atomic pointer: a `Runnable`, or a model's
/// stand-in.
pub(crate) trait IntoPtr: Sized {
    /// Gives up the value for a pointer that owns it.
    fn into_ptr(self) -> NonNull<()>;

    /// Takes the value back.
    ///
    /// # Safety
    ///
    /// `ptr` came from `into_ptr` and is turned back once.
    unsafe fn from_ptr(ptr: NonNull<()>) -> Self;
}

impl IntoPtr for Runnable {
    #[inline]
    fn into_ptr(self) -> NonNull<()> {
        self.into_raw()
    }

    #[inline]
    unsafe fn from_ptr(ptr: NonNull<()>) -> Runnable {
        // SAFETY: forwarded from the caller.
        unsafe { Runnable::from_raw(ptr) }
    }
}

/// A slot holding at most one `T`; see the [module docs](self).
pub(crate) struct Lifo<T: IntoPtr> {
    slot: AtomicPtr<()>,
    _owns: PhantomData<T>,
}

// SAFETY: the slot owns a `T` and hands it from thread to thread, which is
// sound when `T: Send`; every access is an atomic swap.
unsafe impl<T: IntoPtr + Send> Send for Lifo<T> {}
// SAFETY: as above: `&Lifo` only moves whole `T`s in and out, atomically.
unsafe impl<T: IntoPtr + Send> Sync for Lifo<T> {}

impl<T: IntoPtr> Lifo<T> {
    /// An empty slot.
    pub(crate) fn new() -> Lifo<T> {
        Lifo {
            slot: AtomicPtr::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// Puts `item` in the slot, returning the item it displaced. Only the
    /// slot's owner may call this.
    #[inline]
    pub(crate) fn put(&self, item: T) -> Option<T> {
        let new = item.into_ptr().as_ptr();
        if self.slot.load(Relaxed).is_null() {
            // Empty, and only this thread fills it: nobody can change it
            // before the store.
            self.slot.store(new, Release);
            return None;
        }
        let old = self.slot.swap(new, AcqRel);
        // SAFETY: a non-null pointer in the slot came from `into_ptr`, and
        // the swap made it ours alone.
        NonNull::new(old).map(|ptr| unsafe { T::from_ptr(ptr) })
    }

    /// Takes the item, if any: the owner, or a thief.
    #[inline]
    pub(crate) fn take(&self) -> Option<T> {
        // A load first: an empty slot (the common case for a thief) costs
        // no write to a line another core owns.
        if self.slot.load(Relaxed).is_null() {
            return None;
        }
        let old = self.slot.swap(ptr::null_mut(), AcqRel);
        // SAFETY: as in `put`.
        NonNull::new(old).map(|ptr| unsafe { T::from_ptr(ptr) })
    }

    /// Whether the slot looked full.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        !self.slot.load(Relaxed).is_null()
    }
}

impl<T: IntoPtr> Drop for Lifo<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}
