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
    #[cfg(all(feature = "std", not(loom)))]
    if self_wake::note(ptr) {
        return;
    }
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

/// A task that wakes itself by reference during its own poll, on the
/// polling thread (`yield_now`, a spent cooperative budget), needs no
/// atomic operation for it: the poller notes it in a thread-local, and
/// counts it as `NOTIFIED` in the transition to idle it makes anyway. One
/// atomic operation less per yield (of three).
///
/// A wake from another thread, or from another task polled meanwhile on
/// this one (a nested executor), does not match the task this thread polls
/// and takes the atomic path. std only (thread-locals), and not under loom,
/// whose models then check the atomic path alone.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) mod self_wake {
    use core::cell::Cell;
    use core::ptr::{self, NonNull};

    use super::Header;

    std::thread_local! {
        /// The task this thread polls (null if none), and whether it woke
        /// itself meanwhile.
        static POLLING: Cell<(*const Header, bool)> = const { Cell::new((ptr::null(), false)) };
    }

    /// What [`enter`] replaced, for [`leave`] to put back.
    pub(crate) struct Outer((*const Header, bool));

    /// The poll of `task` starts on this thread.
    #[inline]
    pub(crate) fn enter(task: NonNull<Header>) -> Outer {
        Outer(POLLING.with(|p| p.replace((task.as_ptr().cast_const(), false))))
    }

    /// The poll ends: whether the task woke itself during it.
    #[inline]
    pub(crate) fn leave(outer: Outer) -> bool {
        POLLING.with(|p| p.replace(outer.0)).1
    }

    /// A wake by reference of `task`: noted (and `true`) if this thread is
    /// polling it now.
    #[inline]
    pub(crate) fn note(task: NonNull<Header>) -> bool {
        POLLING.with(|p| {
            let (polling, _) = p.get();
            let mine = ptr::eq(polling, task.as_ptr());
            if mine {
                p.set((polling, true));
            }
            mine
        })
    }
}

/// What a task's join waker slot holds: nothing, or the waker of whoever
/// awaits the `JoinHandle`. One word with `alloc`, not a `Waker`'s two.
///
/// A waker of a pollen task (this module's vtable) is kept as its header
/// pointer, with the reference it holds; any other is boxed, with the low
/// bit of the pointer set to tell the two apart (both are aligned to at
/// least 2). Only registering a foreign waker allocates (a `JoinHandle`
/// awaited outside pollen); waking never does. Without `alloc` the slot is
/// an `Option<Waker>`.
pub(crate) struct JoinWaker {
    #[cfg(feature = "alloc")]
    word: Option<NonNull<()>>,
    #[cfg(not(feature = "alloc"))]
    waker: Option<Waker>,
}

// SAFETY: it stands for a `Waker` (`Send + Sync`): a pollen task's reference
// or a boxed `Waker`.
unsafe impl Send for JoinWaker {}
// SAFETY: as above; `&JoinWaker` only wakes by reference or compares.
unsafe impl Sync for JoinWaker {}

/// The low bit of a boxed foreign waker's pointer.
#[cfg(feature = "alloc")]
const BOXED: usize = 1;

impl JoinWaker {
    /// An empty slot.
    pub(crate) const EMPTY: JoinWaker = JoinWaker {
        #[cfg(feature = "alloc")]
        word: None,
        #[cfg(not(feature = "alloc"))]
        waker: None,
    };

    /// A slot holding a clone of `waker`.
    pub(crate) fn new(waker: &Waker) -> JoinWaker {
        #[cfg(feature = "alloc")]
        {
            let waker = waker.clone();
            let word = if core::ptr::eq(waker.vtable(), &VTABLE) {
                // The clone's reference passes to the slot.
                let waker = ManuallyDrop::new(waker);
                header(waker.data()).cast::<()>()
            } else {
                let boxed = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(waker));
                // SAFETY: `Box::into_raw` is never null.
                unsafe { NonNull::new_unchecked(boxed) }
                    .cast::<()>()
                    .map_addr(|addr| addr | BOXED)
            };
            JoinWaker { word: Some(word) }
        }
        #[cfg(not(feature = "alloc"))]
        JoinWaker {
            waker: Some(waker.clone()),
        }
    }

    /// Wakes the waker held, if any, keeping it.
    pub(crate) fn wake_by_ref(&self) {
        #[cfg(feature = "alloc")]
        match self.word {
            None => {}
            // SAFETY: a tagged word is a boxed `Waker` the slot owns.
            Some(word) if word.addr().get() & BOXED != 0 => unsafe { boxed(word) }.wake_by_ref(),
            // SAFETY: an untagged word is a live header the slot holds a
            // reference to.
            Some(word) => unsafe { wake_by_ref(word.as_ptr()) },
        }
        #[cfg(not(feature = "alloc"))]
        if let Some(waker) = &self.waker {
            waker.wake_by_ref();
        }
    }

    /// Whether the waker held would wake the same task as `waker`.
    pub(crate) fn will_wake(&self, waker: &Waker) -> bool {
        #[cfg(feature = "alloc")]
        match self.word {
            None => false,
            // SAFETY: as in `wake_by_ref`.
            Some(word) if word.addr().get() & BOXED != 0 => unsafe { boxed(word) }.will_wake(waker),
            Some(word) => {
                core::ptr::eq(waker.vtable(), &VTABLE)
                    && core::ptr::eq(waker.data(), word.as_ptr().cast_const())
            }
        }
        #[cfg(not(feature = "alloc"))]
        self.waker.as_ref().is_some_and(|w| w.will_wake(waker))
    }
}

/// The boxed foreign waker behind a tagged word.
///
/// # Safety
///
/// `word` is the tagged word of a `JoinWaker` that is still alive.
#[cfg(feature = "alloc")]
unsafe fn boxed<'a>(word: NonNull<()>) -> &'a Waker {
    // SAFETY: forwarded from the caller: the untagged pointer is the box.
    unsafe { untag(word).as_ref() }
}

/// The box of a tagged word.
#[cfg(feature = "alloc")]
fn untag(word: NonNull<()>) -> NonNull<Waker> {
    word.map_addr(|addr| {
        // A box of a `Waker` is aligned to a word: clearing the tag leaves
        // its non-zero address.
        core::num::NonZeroUsize::new(addr.get() & !BOXED).expect("a box's address")
    })
    .cast::<Waker>()
}

impl Drop for JoinWaker {
    fn drop(&mut self) {
        #[cfg(feature = "alloc")]
        match self.word.take() {
            None => {}
            Some(word) if word.addr().get() & BOXED != 0 => {
                // SAFETY: a tagged word is a boxed `Waker` the slot owns.
                drop(unsafe { alloc::boxed::Box::from_raw(untag(word).as_ptr()) });
            }
            // SAFETY: the slot's reference is given up.
            Some(word) => unsafe { drop_waker(word.as_ptr()) },
        }
    }
}
