//! A timer as the wheel and its firer see it: the wheel node, the fired
//! flag and the waker, living inside a pinned future.

use core::ptr::NonNull;
use core::task::Waker;

use crate::loom::AtomicWaker;

use super::wheel::Node;
use crate::loom::atomic::{AtomicBool, Ordering};

/// One timer. `#[repr(C)]` with `node` first: a wheel hands back
/// `NonNull<Node>`, which is the entry's address.
#[repr(C)]
pub(crate) struct Entry {
    /// The wheel's links; see [`Node`].
    node: Node,
    /// Set (under the wheel's lock) when the timer fires; cleared only by the
    /// owner while the entry is in no wheel.
    fired: AtomicBool,
    /// The task to wake when the timer fires. Registered by the owner on
    /// every poll, taken by the firer under the wheel's lock.
    waker: AtomicWaker,
}

// === impl Entry ===

impl Entry {
    /// An entry in no wheel, not fired.
    pub(crate) fn new() -> Entry {
        Entry {
            node: Node::new(),
            fired: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        }
    }

    /// The wheel node of this entry.
    ///
    /// Derived from the whole entry (the node is at offset 0), not from the
    /// `node` field alone, so that [`from_node`](Self::from_node) may turn it
    /// back into the entry.
    pub(crate) fn node(&self) -> NonNull<Node> {
        NonNull::from(self).cast()
    }

    /// The entry a wheel node belongs to.
    ///
    /// # Safety
    ///
    /// `node` is the node of a live `Entry` (every node in a timer's wheel
    /// is).
    pub(crate) unsafe fn from_node<'a>(node: NonNull<Node>) -> &'a Entry {
        // SAFETY: `node` is the first field of a `#[repr(C)]` entry, and the
        // caller guarantees the entry is live.
        unsafe { node.cast::<Entry>().as_ref() }
    }

    /// Whether the timer has fired.
    pub(crate) fn is_fired(&self) -> bool {
        // Acquire: pairs with `fire`, so the owner sees the timer done.
        self.fired.load(Ordering::Acquire)
    }

    /// Marks the timer fired and takes its waker to wake: the caller wakes
    /// it after letting go of the wheel's lock (the entry may be gone by
    /// then; the waker is the caller's).
    pub(crate) fn fire(&self) -> Option<Waker> {
        self.fired.store(true, Ordering::Release);
        self.waker.take()
    }

    /// Marks the timer fired by its owner (due at once, never armed).
    pub(crate) fn set_fired(&self) {
        self.fired.store(true, Ordering::Release);
    }

    /// Clears the fired flag, for re-arming.
    ///
    /// The entry must be in no wheel (so no firer can touch it).
    pub(crate) fn reset(&self) {
        self.fired.store(false, Ordering::Relaxed);
    }

    /// Makes `waker` the one woken when the timer fires, replacing any
    /// earlier one. A waker that changes between polls (the task moved to
    /// another worker) is the one woken.
    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }
}

impl core::fmt::Debug for Entry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entry")
            .field("fired", &self.is_fired())
            .finish_non_exhaustive()
    }
}
