//! `Semaphore`: a count of permits, handed out in FIFO order.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::raw_semaphore::{AcquireError, RawAcquire, RawSemaphore, TryAcquireError};
use super::{DefaultRawMutex, RawMutex};

/// A count of permits that tasks acquire and release.
///
/// Strictly FIFO: a waiter is served only when every waiter before it has
/// been, so a task asking for many permits is never starved by a stream of
/// tasks asking for few (they wait behind it). Needs no heap: each waiter's
/// node lives in its `Acquire` future. `M` is the lock (see [`RawMutex`]);
/// the default spins.
///
/// # Examples
///
/// ```
/// use pollen_core::sync::Semaphore;
///
/// static SLOTS: Semaphore = Semaphore::new(2);
///
/// let a = SLOTS.try_acquire().unwrap();
/// let b = SLOTS.try_acquire().unwrap();
/// assert!(SLOTS.try_acquire().is_err()); // no permit left
/// drop(a); // gives its permit back
/// assert_eq!(SLOTS.available_permits(), 1);
/// # drop(b);
/// ```
pub struct Semaphore<M = DefaultRawMutex> {
    raw: RawSemaphore<M, ()>,
}

/// Permits acquired from a [`Semaphore`]; dropping it gives them back.
#[must_use = "dropping a permit gives it back at once"]
pub struct SemaphorePermit<'a, M: RawMutex = DefaultRawMutex> {
    semaphore: &'a Semaphore<M>,
    permits: usize,
}

/// The future of [`Semaphore::acquire`] and
/// [`acquire_many`](Semaphore::acquire_many).
///
/// # Cancel safety
///
/// Dropping it loses no permit: permits granted to it that it had not
/// returned yet go back to the semaphore (and on to the next waiter), and
/// its place in the queue is given up.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Acquire<'a, M: RawMutex = DefaultRawMutex> {
    semaphore: &'a Semaphore<M>,
    wanted: usize,
    raw: RawAcquire<'a, M, ()>,
}

// === impl Semaphore ===

impl Semaphore<DefaultRawMutex> {
    /// A semaphore with `permits` permits, on the default lock. Usable in a
    /// `static`.
    #[cfg(not(loom))]
    pub const fn new(permits: usize) -> Self {
        Semaphore::with_raw_mutex(permits)
    }

    /// A semaphore with `permits` permits (not `const` under loom).
    #[cfg(loom)]
    pub fn new(permits: usize) -> Self {
        Semaphore::with_raw_mutex(permits)
    }
}

impl<M: RawMutex> Semaphore<M> {
    /// A semaphore with `permits` permits, on the lock `M`.
    #[cfg(not(loom))]
    pub const fn with_raw_mutex(permits: usize) -> Self {
        Semaphore {
            raw: RawSemaphore::new(permits, ()),
        }
    }

    /// A semaphore on the lock `M` (not `const` under loom).
    #[cfg(loom)]
    pub fn with_raw_mutex(permits: usize) -> Self {
        Semaphore {
            raw: RawSemaphore::new(permits, ()),
        }
    }

    /// Waits for one permit. `Err` if the semaphore is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`Acquire`].
    pub fn acquire(&self) -> Acquire<'_, M> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits, all at once. `Err` if the semaphore is closed.
    /// Asking for zero completes at once (in FIFO order all the same).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`Acquire`].
    pub fn acquire_many(&self, n: usize) -> Acquire<'_, M> {
        Acquire {
            semaphore: self,
            wanted: n,
            raw: self.raw.acquire(n),
        }
    }

    /// One permit if there is one now and no task waits before.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] or [`TryAcquireError::Closed`].
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_, M>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// `n` permits if there are that many now and no task waits before.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] or [`TryAcquireError::Closed`].
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_, M>, TryAcquireError> {
        self.raw.try_acquire(n)?;
        Ok(SemaphorePermit {
            semaphore: self,
            permits: n,
        })
    }

    /// Adds `n` permits, waking the waiters they satisfy.
    ///
    /// # Panics
    ///
    /// If the count would overflow `usize`.
    pub fn add_permits(&self, n: usize) {
        self.raw.release(n);
    }

    /// The permits free now.
    pub fn available_permits(&self) -> usize {
        self.raw.available()
    }

    /// Removes up to `n` of the permits available now, for good (as if they
    /// were acquired and [`forget`](SemaphorePermit::forget)-ed); returns
    /// how many it removed.
    pub fn forget_permits(&self, n: usize) -> usize {
        self.raw.forget(n)
    }

    /// Closes the semaphore: every waiter and every later `acquire` gets
    /// `Err(AcquireError)`. Permits held stay valid and can be dropped.
    pub fn close(&self) {
        self.raw.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }
}

impl<M> fmt::Debug for Semaphore<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").finish_non_exhaustive()
    }
}

// === impl SemaphorePermit ===

impl<M: RawMutex> SemaphorePermit<'_, M> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Drops the permits without giving them back: the semaphore has that
    /// many fewer for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// Takes `other`'s permits into this one.
    ///
    /// # Panics
    ///
    /// If `other` is of another semaphore.
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            core::ptr::eq(self.semaphore, other.semaphore),
            "pollen: merging permits of two different semaphores"
        );
        self.permits += core::mem::take(&mut other.permits);
    }

    /// Splits `n` of its permits off into a new permit; `None` if it holds
    /// fewer than `n`.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        self.permits = self.permits.checked_sub(n)?;
        Some(SemaphorePermit {
            semaphore: self.semaphore,
            permits: n,
        })
    }
}

impl<M: RawMutex> Drop for SemaphorePermit<'_, M> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.raw.release(self.permits);
        }
    }
}

impl<M: RawMutex> fmt::Debug for SemaphorePermit<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

// === impl Acquire ===

impl<'a, M: RawMutex> Future for Acquire<'a, M> {
    type Output = Result<SemaphorePermit<'a, M>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `raw` is structurally pinned: never moved out, and
        // `Acquire` has no `Drop` and is not `repr(packed)`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let raw = unsafe { Pin::new_unchecked(&mut this.raw) };
        raw.poll(cx).map(|granted| {
            granted.map(|()| SemaphorePermit {
                semaphore: this.semaphore,
                permits: this.wanted,
            })
        })
    }
}

impl<M: RawMutex> fmt::Debug for Acquire<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("wanted", &self.wanted)
            .finish_non_exhaustive()
    }
}

/// Permits acquired from a [`Semaphore`] in an `Arc`, owning a clone of it
/// (so it can move into a spawned task); dropping it gives them back.
#[cfg(feature = "alloc")]
#[must_use = "dropping a permit gives it back at once"]
pub struct OwnedSemaphorePermit<M: RawMutex = DefaultRawMutex> {
    semaphore: alloc::sync::Arc<Semaphore<M>>,
    permits: usize,
}

#[cfg(feature = "alloc")]
impl<M: RawMutex> Semaphore<M> {
    /// As [`acquire`](Self::acquire), with a permit that owns a clone of
    /// the `Arc`.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed.
    ///
    /// # Cancel safety
    ///
    /// As [`Acquire`].
    pub async fn acquire_owned(
        self: alloc::sync::Arc<Self>,
    ) -> Result<OwnedSemaphorePermit<M>, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// As [`acquire_many`](Self::acquire_many), with an owning permit.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed.
    ///
    /// # Cancel safety
    ///
    /// As [`Acquire`].
    pub async fn acquire_many_owned(
        self: alloc::sync::Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit<M>, AcquireError> {
        self.acquire_many(n).await?.forget();
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            permits: n,
        })
    }

    /// As [`try_acquire`](Self::try_acquire), with an owning permit.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] or [`TryAcquireError::Closed`].
    pub fn try_acquire_owned(
        self: alloc::sync::Arc<Self>,
    ) -> Result<OwnedSemaphorePermit<M>, TryAcquireError> {
        self.raw.try_acquire(1)?;
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            permits: 1,
        })
    }
}

#[cfg(feature = "alloc")]
impl<M: RawMutex> OwnedSemaphorePermit<M> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore the permits belong to.
    pub fn semaphore(&self) -> &alloc::sync::Arc<Semaphore<M>> {
        &self.semaphore
    }

    /// Drops the permits without giving them back: the semaphore has that
    /// many fewer for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// Takes `other`'s permits into this one.
    ///
    /// # Panics
    ///
    /// If `other` is of another semaphore.
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            alloc::sync::Arc::ptr_eq(&self.semaphore, &other.semaphore),
            "pollen: merging permits of two different semaphores"
        );
        self.permits += core::mem::take(&mut other.permits);
    }

    /// Splits `n` of its permits off into a new permit; `None` if it holds
    /// fewer than `n`.
    pub fn split(&mut self, n: usize) -> Option<Self> {
        self.permits = self.permits.checked_sub(n)?;
        Some(OwnedSemaphorePermit {
            semaphore: self.semaphore.clone(),
            permits: n,
        })
    }
}

#[cfg(feature = "alloc")]
impl<M: RawMutex> Drop for OwnedSemaphorePermit<M> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.raw.release(self.permits);
        }
    }
}

#[cfg(feature = "alloc")]
impl<M: RawMutex> fmt::Debug for OwnedSemaphorePermit<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}
