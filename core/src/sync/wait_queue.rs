//! The one waiter mechanism of core's primitives: an intrusive FIFO of
//! waiters whose nodes live inside the pinned futures that wait.
//!
//! A primitive keeps a [`WaitQueue`] next to its state, behind its own lock
//! (a [`blocking_mutex::Mutex`](super::blocking_mutex::Mutex)). A waiting
//! future holds a [`Waiter`]: on a poll that cannot complete it stores its
//! waker in the waiter and links it at the back of the queue; whoever makes
//! progress possible takes waiters from the front, records in each what it
//! was given (a notification, permits), and takes its waker to wake *after*
//! letting go of the lock (see [`WakeList`]). A future dropped while linked
//! unlinks itself; one dropped after it was handed something but before it
//! saw it gives that on (so nothing is lost). That last step is the
//! primitive's: it knows what "give on" means.
//!
//! Everything here runs under the primitive's lock; nothing is atomic.
//! Nothing allocates.

use core::fmt;
use core::marker::PhantomPinned;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::task::Waker;

use crate::loom::UnsafeCell;

/// A waiting future's node in a [`WaitQueue`], with the data its primitive
/// keeps per waiter (`T`).
pub(crate) struct Waiter<T> {
    /// # Safety
    ///
    /// Only touched under the lock of the primitive whose queue the waiter
    /// is in, or will be put in, and only through [`Waiter::with`].
    state: UnsafeCell<WaiterState<T>>,
    /// The queue keeps pointers to the node.
    _pinned: PhantomPinned,
}

/// What a waiter holds, under the primitive's lock.
pub(crate) struct WaiterState<T> {
    prev: Option<NonNull<Waiter<T>>>,
    next: Option<NonNull<Waiter<T>>>,
    linked: bool,
    /// The task to wake.
    pub(crate) waker: Option<Waker>,
    /// The primitive's per-waiter data.
    pub(crate) data: T,
}

/// An intrusive FIFO of [`Waiter`]s.
pub(crate) struct WaitQueue<T> {
    head: Option<NonNull<Waiter<T>>>,
    tail: Option<NonNull<Waiter<T>>>,
}

// SAFETY: the queue holds pointers to waiters that only its owner's lock
// lets anyone touch; moving the queue moves that access with it. The data
// and wakers in the waiters cross threads, hence `T: Send`.
unsafe impl<T: Send> Send for WaitQueue<T> {}

// === impl Waiter ===

impl<T> Waiter<T> {
    /// A waiter in no queue.
    pub(crate) fn new(data: T) -> Waiter<T> {
        Waiter {
            state: UnsafeCell::new(WaiterState {
                prev: None,
                next: None,
                linked: false,
                waker: None,
                data,
            }),
            _pinned: PhantomPinned,
        }
    }

    /// The node's address, for the queue.
    pub(crate) fn ptr(&self) -> NonNull<Waiter<T>> {
        NonNull::from(self)
    }

    /// Runs `f` on the waiter's state.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of the primitive whose queue this waiter is
    /// in or will be put in (so no one else touches the state), and `f`
    /// does not reach this waiter's state again.
    pub(crate) unsafe fn with<R>(&self, f: impl FnOnce(&mut WaiterState<T>) -> R) -> R {
        // SAFETY: the caller guarantees exclusive access.
        self.state.with_mut(|state| f(unsafe { &mut *state }))
    }
}

impl<T> fmt::Debug for Waiter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The state belongs to the primitive's lock: not read here.
        f.debug_struct("Waiter").finish_non_exhaustive()
    }
}

impl<T> WaiterState<T> {
    /// Stores `waker` unless the stored one wakes the same task.
    pub(crate) fn set_waker(&mut self, waker: &Waker) {
        store_waker(&mut self.waker, waker);
    }
}

/// Stores `waker` in `slot` (a single-waiter cell under a lock, see the
/// [module docs](super#waiting)) unless the one there wakes the same task:
/// no clone, no drop, for a task that polls again.
#[inline]
pub(crate) fn store_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(old) if old.will_wake(waker) => {}
        slot => *slot = Some(waker.clone()),
    }
}

/// Runs `f` on the state of the waiter at `ptr`.
///
/// # Safety
///
/// `ptr` is a live waiter in (or going into) the queue the caller's lock
/// guards; as [`Waiter::with`].
unsafe fn with_state<T, R>(ptr: NonNull<Waiter<T>>, f: impl FnOnce(&mut WaiterState<T>) -> R) -> R {
    // SAFETY: forwarded from the caller.
    unsafe { ptr.as_ref().with(f) }
}

// === impl WaitQueue ===

impl<T> WaitQueue<T> {
    /// An empty queue.
    pub(crate) const fn new() -> WaitQueue<T> {
        WaitQueue {
            head: None,
            tail: None,
        }
    }

    /// Whether no waiter is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// The waiter at the front, still linked.
    pub(crate) fn front(&self) -> Option<NonNull<Waiter<T>>> {
        self.head
    }

    /// Links `waiter` at the back.
    ///
    /// # Safety
    ///
    /// - the caller holds the lock that guards this queue;
    /// - `waiter` is in no queue, and stays valid and pinned until it is
    ///   unlinked (by [`pop_front`](Self::pop_front) or
    ///   [`remove`](Self::remove)).
    pub(crate) unsafe fn push_back(&mut self, waiter: NonNull<Waiter<T>>) {
        let tail = self.tail;
        // SAFETY: forwarded from the caller.
        unsafe {
            with_state(waiter, |w| {
                debug_assert!(!w.linked, "a waiter queued twice");
                w.prev = tail;
                w.next = None;
                w.linked = true;
            });
        }
        match tail {
            // SAFETY: `tail` is a live waiter of this queue, and not
            // `waiter` (which was in no queue).
            Some(tail) => unsafe { with_state(tail, |w| w.next = Some(waiter)) },
            None => self.head = Some(waiter),
        }
        self.tail = Some(waiter);
    }

    /// Unlinks and returns the waiter at the front.
    ///
    /// # Safety
    ///
    /// The caller holds the lock that guards this queue.
    pub(crate) unsafe fn pop_front(&mut self) -> Option<NonNull<Waiter<T>>> {
        let waiter = self.head?;
        // SAFETY: forwarded from the caller; `waiter` is in this queue.
        unsafe { self.unlink(waiter) };
        Some(waiter)
    }

    /// Unlinks `waiter` if it is in a queue; returns whether it was.
    ///
    /// # Safety
    ///
    /// The caller holds the lock that guards this queue, and `waiter` is
    /// valid and in this queue or in none.
    pub(crate) unsafe fn remove(&mut self, waiter: NonNull<Waiter<T>>) -> bool {
        // SAFETY: forwarded from the caller.
        if !unsafe { with_state(waiter, |w| w.linked) } {
            return false;
        }
        // SAFETY: as above; it is linked, so in this queue.
        unsafe { self.unlink(waiter) };
        true
    }

    /// # Safety
    ///
    /// The caller holds the lock, and `waiter` is in this queue.
    unsafe fn unlink(&mut self, waiter: NonNull<Waiter<T>>) {
        // SAFETY: forwarded from the caller.
        let (prev, next) = unsafe {
            with_state(waiter, |w| {
                w.linked = false;
                (w.prev.take(), w.next.take())
            })
        };
        match prev {
            // SAFETY: `prev` is another live waiter of this queue.
            Some(prev) => unsafe { with_state(prev, |w| w.next = next) },
            None => self.head = next,
        }
        match next {
            // SAFETY: as above.
            Some(next) => unsafe { with_state(next, |w| w.prev = prev) },
            None => self.tail = prev,
        }
    }
}

impl<T> fmt::Debug for WaitQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitQueue")
            .field("empty", &self.is_empty())
            .finish()
    }
}

/// Wakers taken under a lock, to wake after letting go of it: a waker may
/// run anything, including code that takes the same lock.
///
/// The slots start uninitialised: every channel operation makes one of
/// these, and most push nothing, so building and dropping an empty list
/// must cost nothing (no 32 `None`s written, then scanned).
pub(crate) struct WakeList {
    /// `wakers[woken..len]` are initialised and owed a wake-up; the rest
    /// are not initialised (or were read already).
    wakers: [MaybeUninit<Waker>; WakeList::CAPACITY],
    /// Wakers `wake_all` has taken out so far (non-zero only while it runs,
    /// or after one of them panicked).
    woken: usize,
    len: usize,
}

impl WakeList {
    /// How many wakers one list holds; a primitive that has more to wake
    /// wakes these, locks again and goes on.
    pub(crate) const CAPACITY: usize = if cfg!(loom) { 2 } else { 32 };

    pub(crate) const fn new() -> WakeList {
        WakeList {
            wakers: [const { MaybeUninit::uninit() }; WakeList::CAPACITY],
            woken: 0,
            len: 0,
        }
    }

    /// Whether another waker fits.
    pub(crate) fn can_push(&self) -> bool {
        self.len < WakeList::CAPACITY
    }

    /// Adds `waker` (if any).
    ///
    /// # Panics
    ///
    /// If the list is full (check [`can_push`](Self::can_push)).
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        if let Some(waker) = waker {
            debug_assert_eq!(self.woken, 0, "pollen: push while waking");
            // Bounds-checked: a full list panics here and keeps `len` true.
            self.wakers[self.len].write(waker);
            self.len += 1;
        }
    }

    /// Wakes every waker in the list, in the order pushed, and empties it.
    #[inline]
    pub(crate) fn wake_all(&mut self) {
        // Most lists are empty: no call for them.
        if self.woken < self.len {
            self.wake_pending();
        }
    }

    #[inline(never)]
    fn wake_pending(&mut self) {
        while self.woken < self.len {
            let slot = &self.wakers[self.woken];
            // Counted before the call: if this waker panics, `Drop` goes on
            // with the next one and never reads this one again.
            self.woken += 1;
            // SAFETY: `wakers[woken..len]` were initialised by `push` and not
            // read yet; this slot leaves that range above, so it is read once.
            let waker = unsafe { slot.assume_init_read() };
            waker.wake();
        }
        self.woken = 0;
        self.len = 0;
    }
}

impl Drop for WakeList {
    #[inline]
    fn drop(&mut self) {
        // Wakers taken are owed a wake-up: never drop one silently (this
        // also covers unwinding out of the code that filled the list).
        self.wake_all();
    }
}
