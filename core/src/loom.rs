//! The one door through which core reaches atomics, cells and spin hints.
//!
//! Under `--cfg loom` every item here is loom's, so the models in this crate
//! and in `loom-tests/` explore every interleaving of our own atomics.
//! Otherwise they are the `core` items, wrapped where loom's API differs
//! (`UnsafeCell::with` / `with_mut`) so one body of code compiles both ways.
//!
//! No other module imports `core::sync::atomic` or `core::cell::UnsafeCell`.
//! `StdRawMutex` reaches `std::sync::Mutex` through here too, so models see
//! its lock.

#[cfg(loom)]
pub(crate) use loom::{cell::UnsafeCell, hint, sync::atomic};

#[cfg(not(loom))]
pub(crate) use core::{hint, sync::atomic};

#[cfg(not(loom))]
pub(crate) use self::cell::UnsafeCell;

/// The plain `core` cell, in every build.
///
/// Only for memory whose layout must be exactly the value's (loom's cell adds
/// tracking data) and whose exclusive access is already guaranteed by an
/// atomic claim that loom does see, such as a `TaskStorage` slot: the claim
/// flag hands the slot to one spawner, then the task's own state word governs
/// every access inside it.
pub(crate) use core::cell::UnsafeCell as RawUnsafeCell;

#[cfg(not(loom))]
mod cell {
    /// `core::cell::UnsafeCell` with loom's closure-based API.
    #[derive(Debug)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T: ?Sized>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        /// Unwraps the value.
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        /// Gives `f` a shared raw pointer to the value.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Gives `f` a mutable raw pointer to the value.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// `atomic_waker::AtomicWaker`, or under `--cfg loom` loom's own (whose lock
/// the models see; the crate's atomics are invisible to loom).
#[cfg(not(loom))]
pub(crate) use atomic_waker::AtomicWaker;

#[cfg(loom)]
pub(crate) use self::loom_waker::AtomicWaker;

#[cfg(loom)]
mod loom_waker {
    use core::task::Waker;

    /// loom's `AtomicWaker` with the `atomic_waker` crate's method names.
    #[derive(Debug, Default)]
    pub(crate) struct AtomicWaker(loom::future::AtomicWaker);

    impl AtomicWaker {
        pub(crate) fn new() -> AtomicWaker {
            AtomicWaker(loom::future::AtomicWaker::new())
        }

        pub(crate) fn register(&self, waker: &Waker) {
            self.0.register_by_ref(waker);
        }

        pub(crate) fn wake(&self) {
            self.0.wake();
        }

        pub(crate) fn take(&self) -> Option<Waker> {
            self.0.take_waker()
        }
    }
}

/// Runs `f` under `loom::model` when built with `--cfg loom`, directly
/// otherwise, so each model is also an ordinary test (and runs under Miri).
#[cfg(test)]
#[allow(dead_code)]
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    #[cfg(loom)]
    loom::model(f);
    #[cfg(not(loom))]
    f();
}

/// Threads for models: loom's under `--cfg loom`, std's otherwise.
#[cfg(test)]
#[allow(unused_imports)]
pub(crate) mod thread {
    #[cfg(loom)]
    pub(crate) use loom::thread::{spawn, yield_now};
    #[cfg(not(loom))]
    pub(crate) use std::thread::{spawn, yield_now};
}

/// `Arc` for models, and with `std` the `Mutex` behind `StdRawMutex`: loom's
/// under `--cfg loom`, alloc's and std's otherwise.
#[cfg(any(feature = "std", all(test, feature = "alloc")))]
#[allow(unused_imports)]
pub(crate) mod sync {
    #[cfg(all(test, feature = "alloc", not(loom)))]
    pub(crate) use alloc::sync::Arc;
    #[cfg(all(test, feature = "alloc", loom))]
    pub(crate) use loom::sync::Arc;

    #[cfg(all(feature = "std", loom))]
    pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
    #[cfg(all(feature = "std", not(loom)))]
    pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
}
