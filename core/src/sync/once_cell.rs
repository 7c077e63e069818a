//! `OnceCell`: a value set once, with an async initialiser that runs once.

use core::fmt;
use core::future::Future;
use core::mem::MaybeUninit;

use super::raw_semaphore::{RawSemaphore, TryAcquireError};
use super::{DefaultRawMutex, RawMutex};
use crate::loom::UnsafeCell;
use crate::loom::atomic::{AtomicBool, Ordering};

/// A cell set at most once, usable in a `static`.
///
/// [`get_or_init`](OnceCell::get_or_init) runs its initialiser in one task
/// at a time: the others wait (without blocking the thread) and then see
/// the value. If the initialising task is cancelled (its future dropped)
/// before it finishes, the next waiter runs its own initialiser instead:
/// exactly one initialiser completes. Needs no heap.
///
/// # Examples
///
/// ```
/// use pollen_core::sync::OnceCell;
/// # use core::future::Future;
/// # let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
///
/// static CONFIG: OnceCell<u32> = OnceCell::new();
///
/// let mut first = core::pin::pin!(CONFIG.get_or_init(|| async { 7 }));
/// assert_eq!(first.as_mut().poll(&mut cx), core::task::Poll::Ready(&7));
/// assert_eq!(CONFIG.get(), Some(&7));
/// ```
pub struct OnceCell<T, M = DefaultRawMutex> {
    /// Set (Release) once `value` is written; never cleared while shared.
    ready: AtomicBool,
    /// # Safety
    ///
    /// Written once, by the holder of the one permit, before `ready` is
    /// set; read only after `ready` is seen set (Acquire).
    value: UnsafeCell<MaybeUninit<T>>,
    /// One permit: the right to initialise. Closed once the value is set,
    /// which releases every waiter.
    init: RawSemaphore<M, ()>,
}

/// The cell already holds a value; the one offered comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SetError<T>(pub T);

// SAFETY: the value is written by one thread and then only shared: `&T` on
// several threads needs `T: Sync`, and it may be set on one thread and
// dropped on another: `T: Send`.
unsafe impl<T: Send + Sync, M: RawMutex + Sync> Sync for OnceCell<T, M> {}
// SAFETY: moving the cell moves the value: `T: Send`.
unsafe impl<T: Send, M: RawMutex + Send> Send for OnceCell<T, M> {}

// === impl OnceCell ===

impl<T> OnceCell<T, DefaultRawMutex> {
    /// An empty cell, on the default lock. Usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        OnceCell::with_raw_mutex()
    }

    /// An empty cell (not `const` under loom).
    #[cfg(loom)]
    pub fn new() -> Self {
        OnceCell::with_raw_mutex()
    }
}

impl<T, M: RawMutex> OnceCell<T, M> {
    /// An empty cell, on the lock `M`.
    #[cfg(not(loom))]
    pub const fn with_raw_mutex() -> Self {
        OnceCell {
            ready: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            init: RawSemaphore::new(1, ()),
        }
    }

    /// An empty cell on the lock `M` (not `const` under loom).
    #[cfg(loom)]
    pub fn with_raw_mutex() -> Self {
        OnceCell {
            ready: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            init: RawSemaphore::new(1, ()),
        }
    }

    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        if self.ready.load(Ordering::Acquire) {
            // SAFETY: `ready` is set (Acquire): the value was written before
            // and is never written again.
            Some(self.value.with(|v| unsafe { (*v).assume_init_ref() }))
        } else {
            None
        }
    }

    /// Whether the value is set.
    pub fn initialized(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Sets the value if the cell is empty and no initialiser runs now.
    ///
    /// # Errors
    ///
    /// The value comes back if the cell is set, or being set.
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        match self.init.try_acquire(1) {
            Ok(()) => {
                // SAFETY: we hold the one permit, and the cell is not set
                // (the permit's semaphore closes once it is).
                unsafe { self.publish(value) };
                Ok(())
            }
            Err(TryAcquireError::Closed | TryAcquireError::NoPermits) => Err(SetError(value)),
        }
    }

    /// The value, running `init` to set it if the cell is empty.
    ///
    /// At most one initialiser runs at a time; others wait for it. If the
    /// one that runs is cancelled, the next waiter runs its own.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled waiter gives up its place; a cancelled
    /// initialiser leaves the cell empty for the next.
    pub async fn get_or_init<F, Fut>(&self, init: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        match self
            .get_or_try_init(|| async { Ok::<T, core::convert::Infallible>(init().await) })
            .await
        {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// As [`get_or_init`](Self::get_or_init), with an initialiser that may
    /// fail: its error is returned and the cell stays empty for the next.
    ///
    /// # Errors
    ///
    /// The initialiser's error.
    ///
    /// # Cancel safety
    ///
    /// As [`get_or_init`](Self::get_or_init).
    pub async fn get_or_try_init<E, F, Fut>(&self, init: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.get() {
            return Ok(value);
        }
        if self.init.acquire(1).await.is_err() {
            // Closed: set by another task while we waited.
            return Ok(self.get().expect("pollen: OnceCell closed without a value"));
        }
        // We hold the permit; give it back if `init` fails or we are
        // cancelled, so the next waiter tries.
        struct Permit<'a, M: RawMutex>(&'a RawSemaphore<M, ()>);
        impl<M: RawMutex> Drop for Permit<'_, M> {
            fn drop(&mut self) {
                self.0.release(1);
            }
        }
        // (The cell is empty: whoever sets it keeps the one permit and
        // then closes the semaphore, which fails our acquire instead.)
        let permit = Permit(&self.init);
        let value = init().await?;
        core::mem::forget(permit);
        // SAFETY: we hold the one permit and the cell is not set.
        unsafe { self.publish(value) };
        Ok(self.get().expect("just set"))
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        // (`&mut self`: plain loads and stores would do; atomics keep the
        // loom build, whose atomics have no `get_mut`.)
        if !self.ready.swap(false, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: `&mut self`: no one else reaches the cell; `ready` was
        // set, so the value is initialised, and we just cleared it.
        let value = self.value.with_mut(|v| unsafe { (*v).assume_init_read() });
        self.init = RawSemaphore::new(1, ());
        Some(value)
    }

    /// Writes the value, marks it ready and releases the waiters.
    ///
    /// # Safety
    ///
    /// The caller holds the one permit and the cell is not set.
    unsafe fn publish(&self, value: T) {
        // SAFETY: the permit makes us the only writer, and no reader looks
        // before `ready` is set.
        self.value.with_mut(|v| unsafe { (*v).write(value) });
        self.ready.store(true, Ordering::Release);
        // Waiters wake to a closed semaphore and read the value.
        self.init.close();
    }
}

impl<T, M> Drop for OnceCell<T, M> {
    fn drop(&mut self) {
        if self.ready.load(Ordering::Acquire) {
            // SAFETY: set, and we are the last to reach it.
            self.value.with_mut(|v| unsafe { (*v).assume_init_drop() });
        }
    }
}

impl<T> Default for OnceCell<T, DefaultRawMutex> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug, M: RawMutex> fmt::Debug for OnceCell<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.get())
            .finish()
    }
}

impl<T> fmt::Debug for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SetError(..)")
    }
}

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the cell is already set, or being set")
    }
}

impl<T> core::error::Error for SetError<T> {}
