//! `Mutex`: an async lock whose guard may be held across `.await`.

use core::fmt;
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll};

use super::semaphore::{Acquire, Semaphore, SemaphorePermit};
use super::{DefaultRawMutex, RawMutex};
use crate::loom::UnsafeCell;

/// An async mutual-exclusion lock: [`lock`](Mutex::lock) waits (without
/// blocking the thread) until the value is free, and the guard may be held
/// across `.await` points.
///
/// Fair: tasks get the lock in the order they asked for it (it is a
/// one-permit [`Semaphore`] underneath). Needs no heap. `M` is the short
/// internal lock (see [`RawMutex`]); the default spins.
///
/// # Examples
///
/// ```
/// use pollen_core::executor::Executor;
/// use pollen_core::sync::Mutex;
///
/// static EXECUTOR: Executor = Executor::new();
/// static COUNT: Mutex<u64> = Mutex::new(0);
///
/// for _ in 0..100 {
///     drop(EXECUTOR.spawn(async {
///         let mut count = COUNT.lock().await;
///         pollen_core::future::yield_now().await; // held across an await
///         *count += 1;
///     }));
/// }
/// EXECUTOR.run_until_stalled();
/// assert_eq!(*COUNT.try_lock().unwrap(), 100);
/// ```
pub struct Mutex<T: ?Sized, M = DefaultRawMutex> {
    semaphore: Semaphore<M>,
    /// # Safety
    ///
    /// Only reached through a guard, which holds the one permit.
    value: UnsafeCell<T>,
}

/// Exclusive access to a [`Mutex`]'s value; dropping it unlocks.
#[must_use = "dropping the guard unlocks the mutex at once"]
pub struct MutexGuard<'a, T: ?Sized, M: RawMutex = DefaultRawMutex> {
    mutex: &'a Mutex<T, M>,
    _permit: SemaphorePermit<'a, M>,
}

/// A `try_` lock ([`Mutex::try_lock`], [`RwLock::try_read`](super::RwLock::try_read),
/// [`RwLock::try_write`](super::RwLock::try_write)) would have to wait: the
/// lock is held, or tasks wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(pub(crate) ());

/// The future of [`Mutex::lock`].
///
/// # Cancel safety
///
/// Dropping it gives up its place in the queue; if the lock had just been
/// handed to it, it goes on to the next waiter. Nothing is lost.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Lock<'a, T: ?Sized, M: RawMutex = DefaultRawMutex> {
    mutex: &'a Mutex<T, M>,
    acquire: Acquire<'a, M>,
}

// SAFETY: the value moves with the mutex; `T: Send` suffices, as for
// `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send, M: RawMutex + Send> Send for Mutex<T, M> {}
// SAFETY: the value is only reached through a guard, one at a time (the one
// permit), and a guard can be sent to another thread: `T: Send`.
unsafe impl<T: ?Sized + Send, M: RawMutex + Sync> Sync for Mutex<T, M> {}

// === impl Mutex ===

impl<T> Mutex<T, DefaultRawMutex> {
    /// A mutex holding `value`, on the default lock. Usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new(value: T) -> Self {
        Mutex::with_raw_mutex(value)
    }

    /// A mutex holding `value` (not `const` under loom).
    #[cfg(loom)]
    pub fn new(value: T) -> Self {
        Mutex::with_raw_mutex(value)
    }
}

impl<T, M: RawMutex> Mutex<T, M> {
    /// A mutex holding `value`, on the lock `M`.
    #[cfg(not(loom))]
    pub const fn with_raw_mutex(value: T) -> Self {
        Mutex {
            semaphore: Semaphore::with_raw_mutex(1),
            value: UnsafeCell::new(value),
        }
    }

    /// A mutex holding `value`, on the lock `M` (not `const` under loom).
    #[cfg(loom)]
    pub fn with_raw_mutex(value: T) -> Self {
        Mutex {
            semaphore: Semaphore::with_raw_mutex(1),
            value: UnsafeCell::new(value),
        }
    }
}

impl<T, M> Mutex<T, M> {
    /// The value, taken out of the mutex (no guard can exist: it is owned).
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized, M: RawMutex> Mutex<T, M> {
    /// Waits until the mutex is free and locks it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`Lock`].
    pub fn lock(&self) -> Lock<'_, T, M> {
        Lock {
            mutex: self,
            acquire: self.semaphore.acquire(),
        }
    }

    /// Locks the mutex if it is free now and no task waits for it.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] otherwise.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T, M>, TryLockError> {
        match self.semaphore.try_acquire() {
            Ok(permit) => Ok(MutexGuard {
                mutex: self,
                _permit: permit,
            }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// The value, through `&mut self`: no lock needed.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard (each borrows `&self`).
        self.value.with_mut(|v| unsafe { &mut *v })
    }
}

impl<T: Default> Default for Mutex<T, DefaultRawMutex> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized, M> fmt::Debug for Mutex<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex").finish_non_exhaustive()
    }
}

// === impl Lock ===

impl<'a, T: ?Sized, M: RawMutex> Future for Lock<'a, T, M> {
    type Output = MutexGuard<'a, T, M>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `acquire` is structurally pinned: never moved out, and
        // `Lock` has no `Drop` and is not `repr(packed)`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let acquire = unsafe { Pin::new_unchecked(&mut this.acquire) };
        match acquire.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(permit)) => Poll::Ready(MutexGuard {
                mutex: this.mutex,
                _permit: permit,
            }),
            Poll::Ready(Err(_)) => unreachable!("pollen: a Mutex's semaphore is never closed"),
        }
    }
}

impl<T: ?Sized, M: RawMutex> fmt::Debug for Lock<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}

// === impl MutexGuard ===

impl<T: ?Sized, M: RawMutex> Deref for MutexGuard<'_, T, M> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the mutex's one permit: no other guard
        // exists, and `get_mut` cannot run while we borrow the mutex.
        self.mutex.value.with(|v| unsafe { &*v })
    }
}

impl<T: ?Sized, M: RawMutex> DerefMut for MutexGuard<'_, T, M> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference through this guard.
        self.mutex.value.with_mut(|v| unsafe { &mut *v })
    }
}

impl<T: ?Sized + fmt::Debug, M: RawMutex> fmt::Debug for MutexGuard<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

// SAFETY: a guard gives `&T`: sharing it shares `&T`, which needs `T: Sync`.
unsafe impl<T: ?Sized + Sync, M: RawMutex + Sync> Sync for MutexGuard<'_, T, M> {}

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the lock is held, or tasks wait for it")
    }
}

impl core::error::Error for TryLockError {}

/// Exclusive access to a [`Mutex`] in an `Arc`, owning a clone of it (so it
/// can move into a spawned task); dropping it unlocks.
#[cfg(feature = "alloc")]
#[must_use = "dropping the guard unlocks the mutex at once"]
pub struct OwnedMutexGuard<T: ?Sized, M: RawMutex = DefaultRawMutex> {
    /// Holds the mutex's one permit, given back on drop.
    mutex: alloc::sync::Arc<Mutex<T, M>>,
}

#[cfg(feature = "alloc")]
impl<T: ?Sized, M: RawMutex> Mutex<T, M> {
    /// As [`lock`](Self::lock), with a guard that owns a clone of the `Arc`.
    ///
    /// # Cancel safety
    ///
    /// As [`Lock`].
    pub async fn lock_owned(self: alloc::sync::Arc<Self>) -> OwnedMutexGuard<T, M> {
        // The borrowed guard's permit passes to the owned one.
        core::mem::forget(self.lock().await);
        OwnedMutexGuard { mutex: self }
    }

    /// As [`try_lock`](Self::try_lock), with an owning guard.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if the mutex is locked or tasks wait for it.
    pub fn try_lock_owned(
        self: alloc::sync::Arc<Self>,
    ) -> Result<OwnedMutexGuard<T, M>, TryLockError> {
        // The borrowed guard's permit passes to the owned one.
        core::mem::forget(self.try_lock()?);
        Ok(OwnedMutexGuard { mutex: self })
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized, M: RawMutex> Deref for OwnedMutexGuard<T, M> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the mutex's one permit (passed on from
        // the borrowed guard it replaced).
        self.mutex.value.with(|v| unsafe { &*v })
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized, M: RawMutex> DerefMut for OwnedMutexGuard<T, M> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference through this guard.
        self.mutex.value.with_mut(|v| unsafe { &mut *v })
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized, M: RawMutex> Drop for OwnedMutexGuard<T, M> {
    fn drop(&mut self) {
        self.mutex.semaphore.add_permits(1);
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized + fmt::Debug, M: RawMutex> fmt::Debug for OwnedMutexGuard<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

// SAFETY: as for `MutexGuard`: sharing the guard shares `&T`.
#[cfg(feature = "alloc")]
unsafe impl<T: ?Sized + Sync, M: RawMutex + Sync> Sync for OwnedMutexGuard<T, M> {}
