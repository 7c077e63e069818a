//! A value behind a [`RawMutex`], reached through a closure.

use core::fmt;

use super::RawMutex;
use crate::loom::UnsafeCell;

/// A `T` that closures reach one at a time, under the raw mutex `M`.
///
/// [`lock`](Mutex::lock) runs a closure with `&mut T` inside `M::lock`. There
/// is no guard to hold across an `.await`: the critical section is the
/// closure, and it is as short as you write it. `Mutex::new` is `const`, so
/// the mutex can live in a `static` (which needs `M: Sync`).
///
/// It is `Sync` when `M` is `Sync` and `T` is `Send`: with
/// [`NoopRawMutex`](super::NoopRawMutex) it stays on one thread, with
/// [`SpinRawMutex`](super::SpinRawMutex) it is shared between threads.
///
/// # Re-entry
///
/// Calling `lock` on the same mutex from inside the closure never makes a
/// second `&mut T`. If `M` lets the nested call in (a re-entrant `M`, such as
/// `NoopRawMutex` or a nestable critical section), the nested call panics. A
/// non-re-entrant `M` stops it before that: `SpinRawMutex` deadlocks, and
/// `StdRawMutex` deadlocks or panics. The mutex stays usable after the panic
/// unwinds, as after any panic in a closure: there is no poisoning, and the
/// value is as the closure left it.
///
/// # Examples
///
/// ```
/// use pollen_core::sync::SpinRawMutex;
/// use pollen_core::sync::blocking_mutex::Mutex;
///
/// static COUNTER: Mutex<SpinRawMutex, u32> = Mutex::new(0);
///
/// let before = COUNTER.lock(|n| {
///     *n += 1;
///     *n - 1
/// });
/// assert_eq!(before, 0);
/// assert_eq!(COUNTER.lock(|n| *n), 1);
/// ```
pub struct Mutex<M, T: ?Sized> {
    raw: M,
    /// Set while a closure holds the `&mut T`. Only read or written inside
    /// `raw.lock`.
    held: UnsafeCell<bool>,
    data: UnsafeCell<T>,
}

// === impl Mutex ===

impl<M: RawMutex, T> Mutex<M, T> {
    /// A mutex holding `value`, usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new(value: T) -> Mutex<M, T> {
        Mutex {
            raw: M::INIT,
            held: UnsafeCell::new(false),
            data: UnsafeCell::new(value),
        }
    }

    /// A mutex holding `value` (not `const` under loom).
    #[cfg(loom)]
    pub fn new(value: T) -> Mutex<M, T> {
        Mutex {
            raw: M::new(),
            held: UnsafeCell::new(false),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<M: RawMutex, T: ?Sized> Mutex<M, T> {
    /// Runs `f` with exclusive access to the value, inside `M::lock`, and
    /// returns its result.
    ///
    /// Waits as `M` waits while another context holds the lock.
    ///
    /// # Panics
    ///
    /// If called from inside `f` on the same mutex and `M` lets the nested
    /// call through (see [Re-entry](Mutex#re-entry)). Panics in `f` pass
    /// through; the mutex stays usable.
    pub fn lock<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.raw.lock(|| {
            // SAFETY: `held` is only touched inside `raw.lock`. Calls that
            // could overlap from other contexts are excluded by `M` (the
            // mutex is only `Sync` when `M` is); a nested call on this
            // context touches `held` only between our short accesses, never
            // during one, as none of them calls out.
            let reentered = self
                .held
                .with_mut(|held| unsafe { core::mem::replace(&mut *held, true) });
            if reentered {
                reentered_panic();
            }
            let _release = Release(&self.held);
            // SAFETY: the only `&mut T` is made here, by the call that set
            // `held`: (1) `M` excludes every overlapping `lock` from other
            // contexts; (2) a `lock` nested in `f` finds `held` set and
            // panics above, before touching `data`; (3) `get_mut` and
            // `into_inner` need `&mut self` / `self`, which cannot coexist
            // with our `&self`. `f`'s argument lifetime is higher-ranked, so
            // the reference cannot outlive `f`, nor the lock.
            self.data.with_mut(|data| f(unsafe { &mut *data }))
        })
    }

    /// The value, through `&mut self`: no lock needed, since nobody else can
    /// reach the mutex.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every `lock` (each borrows `&self`),
        // so no closure holds a `&mut T`; the borrow we return is tied to
        // `&mut self`.
        self.data.with_mut(|data| unsafe { &mut *data })
    }
}

// SAFETY: with `M: Sync`, `M::lock` excludes every overlapping `lock` from
// any thread sharing `&Mutex`, and `lock` makes at most one `&mut T` at a time
// (see `lock`); `held` is only touched under `M::lock` too. Handing `&mut T`
// to closures on different threads in turn moves the value between them,
// hence `T: Send`; no `&T` is ever shared, so `T: Sync` is not needed.
unsafe impl<M: RawMutex + Sync, T: ?Sized + Send> Sync for Mutex<M, T> {}

impl<M: RawMutex, T: Default> Default for Mutex<M, T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<M, T: ?Sized> fmt::Debug for Mutex<M, T> {
    /// Does not show the value: that would need the lock, and `Debug` may
    /// run inside a closure of this very mutex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex").finish_non_exhaustive()
    }
}

/// Clears `held` when dropped, so a panicking closure leaves the mutex usable.
struct Release<'a>(&'a UnsafeCell<bool>);

// === impl Release ===

impl Drop for Release<'_> {
    fn drop(&mut self) {
        // SAFETY: a `Release` lives inside the closure passed to `raw.lock`,
        // so we still hold the lock (see `Mutex::lock`), and we are the call
        // that set `held`.
        self.0.with_mut(|held| unsafe { *held = false });
    }
}

#[cold]
#[inline(never)]
fn reentered_panic() -> ! {
    panic!(
        "blocking_mutex::Mutex::lock called from inside a closure already holding this mutex \
         (re-entrant lock); this would alias the `&mut T`"
    )
}

/// Models of the mutex over a real lock, and re-entry (also plain tests).
#[cfg(all(test, feature = "alloc"))]
mod tests {
    use core::panic::AssertUnwindSafe;
    use std::panic::catch_unwind;

    use super::Mutex;
    use crate::loom::sync::Arc;
    use crate::loom::{model, thread};
    use crate::sync::{NoopRawMutex, SpinRawMutex};

    #[test]
    fn two_threads_increment_under_spin() {
        model(|| {
            let mutex = Arc::new(Mutex::<SpinRawMutex, usize>::new(0));
            let other = mutex.clone();
            let t = thread::spawn(move || other.lock(|n| *n += 1));
            mutex.lock(|n| *n += 1);
            t.join().unwrap();
            assert_eq!(mutex.lock(|n| *n), 2);
        });
    }

    #[test]
    fn reentry_panics_and_clears() {
        model(|| {
            let mutex = Mutex::<NoopRawMutex, u32>::new(1);
            let caught = catch_unwind(AssertUnwindSafe(|| {
                mutex.lock(|outer| {
                    *outer += 1;
                    mutex.lock(|inner| *inner += 100);
                })
            }));
            assert!(caught.is_err());
            assert_eq!(mutex.lock(|n| *n), 2);
        });
    }
}
