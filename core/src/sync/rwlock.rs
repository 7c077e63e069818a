//! `RwLock`: many readers or one writer, in FIFO order.

use core::fmt;
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll};

use super::mutex::TryLockError;
use super::raw_semaphore::{RawAcquire, RawSemaphore};
use super::{DefaultRawMutex, RawMutex};
use crate::loom::UnsafeCell;

/// Readers a lock admits at once; a writer takes them all.
const MAX_READS: usize = usize::MAX >> 3;

/// An async reader-writer lock: any number of readers, or one writer.
///
/// Fair: tasks are served in the order they asked, so a waiting writer is
/// never starved by a stream of readers (readers that come after it wait
/// behind it). Underneath it is a FIFO semaphore with many permits: a read
/// takes one, a write takes them all. Needs no heap. `M` is the short
/// internal lock (see [`RawMutex`]).
///
/// # Examples
///
/// ```
/// use pollen_core::sync::RwLock;
/// # use core::future::Future;
/// # let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
///
/// static TABLE: RwLock<[u32; 4]> = RwLock::new([0; 4]);
///
/// let r1 = TABLE.try_read().unwrap();
/// let r2 = TABLE.try_read().unwrap(); // readers share
/// assert!(TABLE.try_write().is_err());
/// drop((r1, r2));
/// TABLE.try_write().unwrap()[0] = 7;
/// assert_eq!(TABLE.try_read().unwrap()[0], 7);
/// ```
pub struct RwLock<T: ?Sized, M = DefaultRawMutex> {
    semaphore: RawSemaphore<M, ()>,
    /// # Safety
    ///
    /// Reached only through guards: shared by read guards (each holds one
    /// permit), exclusive to a write guard (it holds them all).
    value: UnsafeCell<T>,
}

/// Shared access to an [`RwLock`]'s value; dropping it lets go.
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockReadGuard<'a, T: ?Sized, M: RawMutex = DefaultRawMutex> {
    lock: &'a RwLock<T, M>,
}

/// Exclusive access to an [`RwLock`]'s value; dropping it lets go.
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockWriteGuard<'a, T: ?Sized, M: RawMutex = DefaultRawMutex> {
    lock: &'a RwLock<T, M>,
}

/// The future of [`RwLock::read`].
///
/// # Cancel safety
///
/// Dropping it gives up its place in the queue; access granted to it and
/// not returned goes on to the next waiter. Nothing is lost.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Read<'a, T: ?Sized, M: RawMutex = DefaultRawMutex> {
    lock: &'a RwLock<T, M>,
    acquire: RawAcquire<'a, M, ()>,
}

/// The future of [`RwLock::write`].
///
/// # Cancel safety
///
/// As for [`Read`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Write<'a, T: ?Sized, M: RawMutex = DefaultRawMutex> {
    lock: &'a RwLock<T, M>,
    acquire: RawAcquire<'a, M, ()>,
}

// SAFETY: the value moves with the lock: `T: Send`.
unsafe impl<T: ?Sized + Send, M: RawMutex + Send> Send for RwLock<T, M> {}
// SAFETY: readers on several threads share `&T` (`T: Sync`); a writer on
// any thread gets `&mut T` (`T: Send`).
unsafe impl<T: ?Sized + Send + Sync, M: RawMutex + Sync> Sync for RwLock<T, M> {}
// SAFETY: a read guard gives `&T` on whichever thread holds it.
unsafe impl<T: ?Sized + Sync, M: RawMutex + Sync> Send for RwLockReadGuard<'_, T, M> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync, M: RawMutex + Sync> Sync for RwLockReadGuard<'_, T, M> {}
// SAFETY: a write guard gives `&mut T` (`T: Send`) and shares `&T` (`Sync`).
unsafe impl<T: ?Sized + Send + Sync, M: RawMutex + Sync> Send for RwLockWriteGuard<'_, T, M> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync, M: RawMutex + Sync> Sync for RwLockWriteGuard<'_, T, M> {}

// === impl RwLock ===

impl<T> RwLock<T, DefaultRawMutex> {
    /// A lock holding `value`, on the default lock. Usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new(value: T) -> Self {
        RwLock::with_raw_mutex(value)
    }

    /// A lock holding `value` (not `const` under loom).
    #[cfg(loom)]
    pub fn new(value: T) -> Self {
        RwLock::with_raw_mutex(value)
    }
}

impl<T, M: RawMutex> RwLock<T, M> {
    /// A lock holding `value`, on the lock `M`.
    #[cfg(not(loom))]
    pub const fn with_raw_mutex(value: T) -> Self {
        RwLock {
            semaphore: RawSemaphore::new(MAX_READS, ()),
            value: UnsafeCell::new(value),
        }
    }

    /// A lock holding `value` on the lock `M` (not `const` under loom).
    #[cfg(loom)]
    pub fn with_raw_mutex(value: T) -> Self {
        RwLock {
            semaphore: RawSemaphore::new(MAX_READS, ()),
            value: UnsafeCell::new(value),
        }
    }
}

impl<T: ?Sized, M: RawMutex> RwLock<T, M> {
    /// Waits for shared access.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`Read`].
    pub fn read(&self) -> Read<'_, T, M> {
        Read {
            lock: self,
            acquire: self.semaphore.acquire(1),
        }
    }

    /// Waits for exclusive access.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`Write`].
    pub fn write(&self) -> Write<'_, T, M> {
        Write {
            lock: self,
            acquire: self.semaphore.acquire(MAX_READS),
        }
    }

    /// Shared access if it is free now and no task waits before.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] otherwise.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T, M>, TryLockError> {
        self.semaphore
            .try_acquire(1)
            .map(|()| RwLockReadGuard { lock: self })
            .map_err(|_| TryLockError(()))
    }

    /// Exclusive access if it is free now and no task waits before.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] otherwise.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T, M>, TryLockError> {
        self.semaphore
            .try_acquire(MAX_READS)
            .map(|()| RwLockWriteGuard { lock: self })
            .map_err(|_| TryLockError(()))
    }

    /// The value, through `&mut self`: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard (each borrows `&self`).
        self.value.with_mut(|v| unsafe { &mut *v })
    }
}

impl<T: ?Sized, M> fmt::Debug for RwLock<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock").finish_non_exhaustive()
    }
}

// === impl Read and Write ===

impl<'a, T: ?Sized, M: RawMutex> Future for Read<'a, T, M> {
    type Output = RwLockReadGuard<'a, T, M>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `acquire` is structurally pinned: never moved out, and
        // `Read` has no `Drop` and is not `repr(packed)`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let acquire = unsafe { Pin::new_unchecked(&mut this.acquire) };
        acquire.poll(cx).map(|granted| {
            granted.expect("pollen: an RwLock's semaphore is never closed");
            RwLockReadGuard { lock: this.lock }
        })
    }
}

impl<'a, T: ?Sized, M: RawMutex> Future for Write<'a, T, M> {
    type Output = RwLockWriteGuard<'a, T, M>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: as in `Read::poll`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let acquire = unsafe { Pin::new_unchecked(&mut this.acquire) };
        acquire.poll(cx).map(|granted| {
            granted.expect("pollen: an RwLock's semaphore is never closed");
            RwLockWriteGuard { lock: this.lock }
        })
    }
}

impl<T: ?Sized, M: RawMutex> fmt::Debug for Read<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Read").finish_non_exhaustive()
    }
}

impl<T: ?Sized, M: RawMutex> fmt::Debug for Write<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write").finish_non_exhaustive()
    }
}

// === impl guards ===

impl<T: ?Sized, M: RawMutex> Deref for RwLockReadGuard<'_, T, M> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a read permit is held: no write guard exists, and
        // `get_mut` cannot run while we borrow the lock.
        self.lock.value.with(|v| unsafe { &*v })
    }
}

impl<T: ?Sized, M: RawMutex> Drop for RwLockReadGuard<'_, T, M> {
    fn drop(&mut self) {
        self.lock.semaphore.release(1);
    }
}

impl<T: ?Sized + fmt::Debug, M: RawMutex> fmt::Debug for RwLockReadGuard<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized, M: RawMutex> Deref for RwLockWriteGuard<'_, T, M> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: every permit is held: no other guard exists.
        self.lock.value.with(|v| unsafe { &*v })
    }
}

impl<T: ?Sized, M: RawMutex> DerefMut for RwLockWriteGuard<'_, T, M> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference through this guard.
        self.lock.value.with_mut(|v| unsafe { &mut *v })
    }
}

impl<T: ?Sized, M: RawMutex> Drop for RwLockWriteGuard<'_, T, M> {
    fn drop(&mut self) {
        self.lock.semaphore.release(MAX_READS);
    }
}

impl<T: ?Sized + fmt::Debug, M: RawMutex> fmt::Debug for RwLockWriteGuard<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Shared access to an [`RwLock`] in an `Arc`, owning a clone of it (so it
/// can move into a spawned task); dropping it lets go.
#[cfg(feature = "alloc")]
#[must_use = "dropping the guard unlocks at once"]
pub struct OwnedRwLockReadGuard<T: ?Sized, M: RawMutex = DefaultRawMutex> {
    /// Holds one read permit, given back on drop.
    lock: alloc::sync::Arc<RwLock<T, M>>,
}

/// Exclusive access to an [`RwLock`] in an `Arc`, owning a clone of it;
/// dropping it lets go.
#[cfg(feature = "alloc")]
#[must_use = "dropping the guard unlocks at once"]
pub struct OwnedRwLockWriteGuard<T: ?Sized, M: RawMutex = DefaultRawMutex> {
    /// Holds every permit, given back on drop.
    lock: alloc::sync::Arc<RwLock<T, M>>,
}

#[cfg(feature = "alloc")]
impl<T: ?Sized, M: RawMutex> RwLock<T, M> {
    /// As [`read`](Self::read), with a guard that owns a clone of the `Arc`.
    ///
    /// # Cancel safety
    ///
    /// As [`Read`].
    pub async fn read_owned(self: alloc::sync::Arc<Self>) -> OwnedRwLockReadGuard<T, M> {
        // The borrowed guard's permit passes to the owned one.
        core::mem::forget(self.read().await);
        OwnedRwLockReadGuard { lock: self }
    }

    /// As [`write`](Self::write), with a guard that owns a clone of the
    /// `Arc`.
    ///
    /// # Cancel safety
    ///
    /// As [`Write`].
    pub async fn write_owned(self: alloc::sync::Arc<Self>) -> OwnedRwLockWriteGuard<T, M> {
        // The borrowed guard's permits pass to the owned one.
        core::mem::forget(self.write().await);
        OwnedRwLockWriteGuard { lock: self }
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized, M: RawMutex> Deref for OwnedRwLockReadGuard<T, M> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a read permit is held (passed on from the borrowed guard).
        self.lock.value.with(|v| unsafe { &*v })
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized, M: RawMutex> Drop for OwnedRwLockReadGuard<T, M> {
    fn drop(&mut self) {
        self.lock.semaphore.release(1);
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized, M: RawMutex> Deref for OwnedRwLockWriteGuard<T, M> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: every permit is held (passed on from the borrowed guard).
        self.lock.value.with(|v| unsafe { &*v })
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized, M: RawMutex> DerefMut for OwnedRwLockWriteGuard<T, M> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference through this guard.
        self.lock.value.with_mut(|v| unsafe { &mut *v })
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized, M: RawMutex> Drop for OwnedRwLockWriteGuard<T, M> {
    fn drop(&mut self) {
        self.lock.semaphore.release(MAX_READS);
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized + fmt::Debug, M: RawMutex> fmt::Debug for OwnedRwLockReadGuard<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized + fmt::Debug, M: RawMutex> fmt::Debug for OwnedRwLockWriteGuard<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

// SAFETY: as for the borrowed guards: a read guard gives `&T`.
#[cfg(feature = "alloc")]
unsafe impl<T: ?Sized + Send + Sync, M: RawMutex + Send + Sync> Send
    for OwnedRwLockReadGuard<T, M>
{
}
// SAFETY: as above.
#[cfg(feature = "alloc")]
unsafe impl<T: ?Sized + Send + Sync, M: RawMutex + Send + Sync> Sync
    for OwnedRwLockReadGuard<T, M>
{
}
// SAFETY: a write guard gives `&mut T` (`Send`) and shares `&T` (`Sync`).
#[cfg(feature = "alloc")]
unsafe impl<T: ?Sized + Send + Sync, M: RawMutex + Send + Sync> Send
    for OwnedRwLockWriteGuard<T, M>
{
}
// SAFETY: as above.
#[cfg(feature = "alloc")]
unsafe impl<T: ?Sized + Send + Sync, M: RawMutex + Send + Sync> Sync
    for OwnedRwLockWriteGuard<T, M>
{
}
