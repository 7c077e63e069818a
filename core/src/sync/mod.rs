//! Synchronisation: the raw-mutex parameter, the blocking mutex built on it,
//! and the async primitives: [`Mutex`], [`RwLock`], [`Semaphore`],
//! [`Notify`], [`OnceCell`], [`Barrier`] and (with `alloc`)
//! `CancellationToken`.
//!
//! # Waiting
//!
//! Every async primitive here waits the same way: a future that cannot
//! complete links a node that lives inside it (pinned) into the primitive's
//! intrusive queue, under the primitive's lock. So waiting never allocates,
//! and:
//!
//! - **FIFO.** Waiters are served in the order they started waiting.
//! - **No lost wake-ups.** A waiter records what it was given (a
//!   notification, permits) under the lock before its task is woken, and a
//!   poll checks that record under the same lock.
//! - **Cancel safe.** A future dropped while waiting unlinks itself; one
//!   dropped after it was given something but before it returned it gives
//!   it on (the next waiter, or back to the primitive).
//! - Wakers run after the lock is let go, never inside it.
//!
//! Where only one task can wait (a channel's receiver, a timer entry, the
//! executor's own thread), the waiter is a single-waiter cell instead, of
//! one of two kinds, chosen by whether a lock is held anyway:
//!
//! - **Lock-free:** an [`atomic_waker::AtomicWaker`] (timer entries, the
//!   executor's unpark hook, a oneshot sender waiting in `closed()`).
//! - **Under the primitive's lock:** an `Option<Waker>` the lock already
//!   guards (the mpsc receivers, the timer's driver waker). An atomic cell
//!   inside a lock would only add atomics to a critical section that is
//!   there anyway; a waker is stored only if it would not wake the same
//!   task as the one already there.
//!
//! A oneshot receiver keeps its waker beside the value, guarded by the
//! channel's one state word, so a send is a single atomic operation.
//!
//! Core primitives that need a short critical section (the timer wheel, the
//! channels) do not pick a lock. They are generic over a [`RawMutex`], and the
//! embedder picks the one that fits where the value is shared:
//!
//! | raw mutex | `Sync` | use it when the value is touched from |
//! |-----------|--------|----------------------------------------|
//! | [`NoopRawMutex`] | no | one thread, or one interrupt priority, only |
//! | [`SpinRawMutex`] | yes | several threads or cores, never from an interrupt handler that can preempt a holder |
//! | `StdRawMutex` (feature `std`) | yes | several OS threads; waiters sleep instead of spinning |
//! | your own | your call | anything else, e.g. an interrupt-free critical section on a single-core MCU (see [`RawMutex`]) |
//!
//! Constructors that name no lock (`Mutex::new`, `mpsc::channel`, ...) use
//! [`DefaultRawMutex`]: `StdRawMutex` with the `std` feature,
//! [`SpinRawMutex`] without.
//!
//! [`blocking_mutex::Mutex<M, T>`](blocking_mutex::Mutex) puts a `T` behind
//! one: [`lock`](blocking_mutex::Mutex::lock) runs a closure with `&mut T`
//! inside the raw lock.
//!
//! # Guarantees
//!
//! - **Mutual exclusion** for every closure run under the same raw mutex, in
//!   every context its `Sync`-ness lets it reach; what one closure wrote, the
//!   next one sees.
//! - **No second `&mut T`.** A closure that re-enters `lock` on the same
//!   [`blocking_mutex::Mutex`] (possible when the raw mutex is re-entrant, as
//!   [`NoopRawMutex`] and interrupt-free sections are) makes the inner call
//!   panic; it never aliases the value.
//! - **No poisoning.** A panic inside a closure releases the lock as it
//!   unwinds and leaves the value as the closure left it.
//! - Nothing here allocates, and nothing waits except [`SpinRawMutex`] (by
//!   spinning) and `StdRawMutex` (by sleeping) while another holder runs.
//!
//! The blocking mutex lives in its own module because `sync::Mutex` is the
//! name users expect for the async mutex.

mod barrier;
pub mod blocking_mutex;
#[cfg(feature = "alloc")]
mod cancellation;
mod mutex;
mod notify;
mod once_cell;
mod raw_mutex;
mod raw_semaphore;
mod rwlock;
mod semaphore;
mod wait_queue;

#[cfg(all(test, feature = "alloc"))]
mod loom_tests;

pub use self::barrier::{Barrier, BarrierWaitResult};
#[cfg(feature = "alloc")]
pub use self::cancellation::{CancellationToken, DropGuard};
#[cfg(feature = "alloc")]
pub use self::mutex::OwnedMutexGuard;
pub use self::mutex::{Lock, Mutex, MutexGuard, TryLockError};
pub use self::notify::{Notified, Notify};
pub use self::once_cell::{OnceCell, SetError};
#[cfg(feature = "std")]
pub use self::raw_mutex::StdRawMutex;
pub use self::raw_mutex::{DefaultRawMutex, NoopRawMutex, RawMutex, SpinRawMutex};
pub use self::raw_semaphore::{AcquireError, TryAcquireError};
pub(crate) use self::raw_semaphore::{
    OnRelease, RawAcquire, RawSemaphore, Shared as SemaphoreShared,
};
#[cfg(feature = "alloc")]
pub use self::rwlock::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard};
pub use self::rwlock::{Read, RwLock, RwLockReadGuard, RwLockWriteGuard, Write};
#[cfg(feature = "alloc")]
pub use self::semaphore::OwnedSemaphorePermit;
pub use self::semaphore::{Acquire, Semaphore, SemaphorePermit};
pub(crate) use self::wait_queue::{WakeList, store_waker};
