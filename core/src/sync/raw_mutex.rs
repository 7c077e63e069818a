//! `RawMutex`: the lock a core primitive takes as a parameter, and the ones
//! core ships.

use core::cell::Cell;
use core::marker::PhantomData;

use crate::loom::atomic::{AtomicBool, Ordering};
use crate::loom::hint;

/// A lock that runs a closure with the lock held: the parameter that core
/// primitives (the timer wheel, the channels) take instead of picking a lock.
///
/// There is no guard and no `unlock`: [`lock`](RawMutex::lock) takes the
/// lock, runs the closure and releases it, so an implementation can be an
/// interrupt-free critical section as easily as a spin lock. The lock protects
/// no data of its own; [`blocking_mutex::Mutex`](super::blocking_mutex::Mutex)
/// pairs one with a value.
///
/// Core ships [`NoopRawMutex`] (one execution context), [`SpinRawMutex`]
/// (threads and cores) and, with the `std` feature, `StdRawMutex` (OS
/// threads, sleeping waiters). Anything else is the embedder's to write.
///
/// # Safety
///
/// Implementing this trait promises, for every value `m` of the type:
///
/// - **Exclusion.** While a closure runs inside `m.lock(..)`, no closure of
///   another `m.lock(..)` call runs, in any context that can reach `&m` at
///   the same time: other threads and cores when `Self: Sync`, and interrupt
///   or signal handlers that can preempt the caller. Waiting for ever
///   (deadlock) is allowed; running both closures is not.
/// - **Nesting is exempt.** A call made from *inside* the closure, on the
///   same execution context, may run its closure (a re-entrant lock such as
///   [`NoopRawMutex`] or a nestable critical section), deadlock or panic.
///   Users of the trait must cope with the first case themselves, as
///   [`blocking_mutex::Mutex`](super::blocking_mutex::Mutex) does.
/// - **Same context.** `lock` calls `f` at most once, on the calling thread
///   (or in the calling interrupt context), before it returns; it returns
///   what `f` returned or lets `f`'s panic through.
/// - **Ordering.** Every memory access made by one closure happens-before
///   every access made by a closure that runs later under the same `m`
///   (acquire when taking the lock, release when giving it back).
///
/// Every `lock` call on a value of a `!Sync` type comes from the one thread
/// that owns it (a handler could only reach it through a `static`, which
/// needs `Sync`, or through unsafe code that answers for it), and calls on
/// one thread overlap only by nesting. So a `!Sync` type has nothing to
/// exclude: that is why [`NoopRawMutex`] is sound.
///
/// Not a safety requirement, but expected: if `f` panics, `lock` releases the
/// lock as the panic unwinds, so the value stays usable. All of core's
/// implementations do.
///
/// # Model checking
///
/// Under `--cfg loom` (the crate's model-checking build, never a user's
/// build) the associated constant `INIT` is replaced by a required
/// `fn new() -> Self`, because loom's atomics and locks cannot be built in a
/// `const`. Code that constructs raw mutexes follows the `Executor::new`
/// pattern: a `const fn` on `cfg(not(loom))`, a plain `fn` on `cfg(loom)`.
///
/// # Examples
///
/// On a single-core microcontroller, shared data is touched from `main` and
/// from interrupt handlers. A spin lock would deadlock there (a handler that
/// preempts the holder spins for ever, and the holder never runs again to
/// release it); the lock to use is an interrupt-free critical section, which
/// the embedder writes with its HAL:
///
/// ```
/// use pollen_core::sync::RawMutex;
/// use pollen_core::sync::blocking_mutex::Mutex;
///
/// // Stand-in for the HAL's `interrupt::free` (cortex-m's, for example):
/// // disable interrupts, run `f`, restore the previous interrupt state.
/// mod interrupt {
///     pub fn free<R>(f: impl FnOnce() -> R) -> R {
///         // let primask = disable();
///         let r = f();
///         // if primask was active { enable() }
///         r
///     }
/// }
///
/// /// Excludes every interrupt handler, on a single-core chip only.
/// pub struct InterruptRawMutex(());
///
/// // SAFETY: on a single core with interrupts disabled, nothing but `f`
/// // runs until `interrupt::free` returns, so no other `lock` can run a
/// // closure meanwhile; disabling and re-enabling interrupts are compiler
/// // fences, which orders the closures. Nested `free`s run their closure:
/// // allowed, and `blocking_mutex::Mutex` turns that into a panic.
/// unsafe impl RawMutex for InterruptRawMutex {
///     const INIT: Self = InterruptRawMutex(());
///
///     fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
///         interrupt::free(f)
///     }
/// }
///
/// // Shared between `main` and an interrupt handler.
/// static TICKS: Mutex<InterruptRawMutex, u32> = Mutex::new(0);
///
/// fn on_timer_interrupt() {
///     TICKS.lock(|ticks| *ticks += 1);
/// }
///
/// on_timer_interrupt();
/// assert_eq!(TICKS.lock(|ticks| *ticks), 1);
/// ```
pub unsafe trait RawMutex {
    /// An unlocked mutex, for `static`s and `const fn` constructors.
    ///
    /// (Replaced by `fn new() -> Self` under `--cfg loom`, see the
    /// [trait docs](RawMutex#model-checking).)
    #[cfg(not(loom))]
    const INIT: Self;

    /// An unlocked mutex: `INIT`'s stand-in under `--cfg loom`, where
    /// atomics cannot be built in a `const`.
    #[cfg(loom)]
    fn new() -> Self;

    /// Runs `f` with the lock held and returns its result.
    ///
    /// Waits (spins, sleeps or masks interrupts, as the implementation does)
    /// until no other context holds the lock. What a nested call from inside
    /// `f` does depends on the implementation: see each type's docs.
    fn lock<R>(&self, f: impl FnOnce() -> R) -> R;
}

/// A [`RawMutex`] that does nothing, for data touched from one execution
/// context only.
///
/// It is `Send` but not `Sync`, so a
/// [`blocking_mutex::Mutex<NoopRawMutex, T>`](super::blocking_mutex::Mutex)
/// can move to another thread but never be shared with one, nor put in a
/// `static` an interrupt handler could reach. Within its one context, the
/// only way to overlap two `lock`s is to nest them; `NoopRawMutex` lets the
/// nested closure run, and the blocking mutex above it panics rather than
/// hand out a second `&mut`.
///
/// # Examples
///
/// ```
/// use pollen_core::sync::NoopRawMutex;
/// use pollen_core::sync::blocking_mutex::Mutex;
///
/// let queue: Mutex<NoopRawMutex, Vec<u32>> = Mutex::new(Vec::new());
/// queue.lock(|q| q.push(7));
/// assert_eq!(queue.into_inner(), [7]);
/// ```
#[derive(Debug, Default)]
pub struct NoopRawMutex {
    /// `Cell` is `Send` and not `Sync`, and so is this type.
    _not_sync: PhantomData<Cell<()>>,
}

// === impl NoopRawMutex ===

impl NoopRawMutex {
    /// A no-op mutex.
    pub const fn new() -> NoopRawMutex {
        NoopRawMutex {
            _not_sync: PhantomData,
        }
    }
}

// SAFETY: `NoopRawMutex` is not `Sync`, so every `&NoopRawMutex`, and with it
// every `lock` call on one value, stays on the thread that owns it; no
// interrupt handler can reach it without a `static` (which needs `Sync`) or
// unsafe code of its own. Two closures on one thread only overlap when one
// call is nested in the other, which the contract exempts. Ordering holds
// trivially on one thread.
unsafe impl RawMutex for NoopRawMutex {
    #[cfg(not(loom))]
    const INIT: Self = NoopRawMutex::new();

    #[cfg(loom)]
    fn new() -> Self {
        NoopRawMutex::new()
    }

    #[inline]
    fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

/// The lock of every core primitive whose lock is not named: with the
/// `std` feature [`StdRawMutex`], without it [`SpinRawMutex`].
///
/// `Mutex::new`, `mpsc::channel`, `Notify::new` and the other constructors
/// that take no lock build on this one. On OS threads a spin lock is the
/// wrong default: a thread preempted while it holds the lock (more busy
/// threads than cores) keeps every other thread that wants it spinning or
/// yielding for the rest of its time slice, where a std mutex puts them to
/// sleep until it is released. Without `std` there is no OS to sleep in,
/// and spinning is what cores can do.
///
/// Features are additive, so enabling `std` anywhere in a build changes
/// this type for every crate in it. Code that names a lock for one half of
/// a channel, say, should name it for the other half too, rather than mix
/// a named lock with the default.
#[cfg(feature = "std")]
pub type DefaultRawMutex = StdRawMutex;

/// The lock of every core primitive whose lock is not named: with the
/// `std` feature `StdRawMutex`, without it [`SpinRawMutex`] (see the `std`
/// build's docs for why).
#[cfg(not(feature = "std"))]
pub type DefaultRawMutex = SpinRawMutex;

/// Spins a waiter makes before it gives up its time slice (with `std`).
const YIELD_AFTER_SPINS: u32 = 128;

/// With `std`: lets the OS run another thread, such as a lock holder that
/// was preempted (spinning for its whole time slice would only keep it
/// off the core). Without `std`, on a microcontroller, there is nothing to
/// yield to: keep spinning.
#[inline]
fn yield_thread() {
    #[cfg(all(feature = "std", not(loom)))]
    std::thread::yield_now();
}

/// A [`RawMutex`] that spins on an atomic flag: for data shared between
/// threads or cores.
///
/// Waiters busy-wait (test-and-test-and-set, with
/// [`spin_loop`](core::hint::spin_loop) hints) until the holder's closure
/// returns, so keep closures short. With the `std` feature a waiter yields
/// its time slice every 128 spins: on a machine with more busy threads than
/// cores, the holder may have been preempted, and spinning would keep it
/// from finishing. A panic in the closure releases the lock.
///
/// # Not from interrupt handlers
///
/// Never take a `SpinRawMutex` in an interrupt handler that can preempt a
/// holder on the same core: the handler spins for ever, and the holder it
/// interrupted never runs again to release the lock. That is a deadlock, not
/// undefined behaviour, but a dead firmware all the same. On a single-core
/// microcontroller with interrupts, use an interrupt-free critical section,
/// which the embedder writes by implementing [`RawMutex`] (see the example
/// there). On several cores, combine both: mask interrupts, then spin.
///
/// Nesting `lock` on the same value deadlocks as well.
///
/// # Examples
///
/// ```
/// use pollen_core::sync::SpinRawMutex;
/// use pollen_core::sync::blocking_mutex::Mutex;
///
/// static HITS: Mutex<SpinRawMutex, u64> = Mutex::new(0);
///
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| HITS.lock(|hits| *hits += 1));
///     }
/// });
/// assert_eq!(HITS.lock(|hits| *hits), 4);
/// ```
#[derive(Debug)]
pub struct SpinRawMutex {
    /// Set while a closure runs under the lock.
    locked: AtomicBool,
}

// === impl SpinRawMutex ===

impl SpinRawMutex {
    /// An unlocked spin lock.
    #[cfg(not(loom))]
    pub const fn new() -> SpinRawMutex {
        SpinRawMutex {
            locked: AtomicBool::new(false),
        }
    }

    /// An unlocked spin lock (not `const` under loom).
    #[cfg(loom)]
    pub fn new() -> SpinRawMutex {
        SpinRawMutex {
            locked: AtomicBool::new(false),
        }
    }

    /// Spins until this call flips `locked` from clear to set.
    ///
    /// Under loom every spin is a branch to explore: a model with more than
    /// two threads contending for one `SpinRawMutex` can exceed loom's branch
    /// budget ("Model exceeded maximum number of branches"). Keep models at
    /// two contenders.
    fn acquire(&self) {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Wait on plain loads, so waiters do not fight over the cache
            // line while the holder runs.
            let mut spins = 0u32;
            while self.locked.load(Ordering::Relaxed) {
                hint::spin_loop();
                spins += 1;
                if spins >= YIELD_AFTER_SPINS {
                    spins = 0;
                    yield_thread();
                }
            }
        }
    }
}

impl Default for SpinRawMutex {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: `acquire` returns only to the one caller whose compare-exchange
// set `locked`, and `locked` stays set until that caller's `Unlock` clears it
// after `f` has returned or unwound; so two closures never run at once, on any
// thread or core (a preempting interrupt handler spins, it does not run its
// closure). The Acquire exchange pairs with the Release store in `Unlock`,
// which orders one closure's accesses before the next's. `f` runs once, here.
unsafe impl RawMutex for SpinRawMutex {
    #[cfg(not(loom))]
    const INIT: Self = SpinRawMutex::new();

    #[cfg(loom)]
    fn new() -> Self {
        SpinRawMutex::new()
    }

    fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
        self.acquire();
        let _unlock = Unlock(&self.locked);
        f()
    }
}

/// Clears a [`SpinRawMutex`]'s flag when dropped, also on unwind.
struct Unlock<'a>(&'a AtomicBool);

// === impl Unlock ===

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A [`RawMutex`] on a `std::sync::Mutex<()>`: waiters sleep in the OS
/// instead of spinning. Feature `std`.
///
/// Use it in code that runs on OS threads and may hold the lock long enough
/// that spinning would waste a core; the std runtime fills core's lock
/// parameter with it. Poisoning is ignored: the lock guards no data of its
/// own, and a panic in a closure simply releases it.
///
/// Nesting `lock` on the same value deadlocks or panics (std's mutex is not
/// re-entrant); it never runs the nested closure.
///
/// # Examples
///
/// ```
/// use pollen_core::sync::StdRawMutex;
/// use pollen_core::sync::blocking_mutex::Mutex;
///
/// static LOG: Mutex<StdRawMutex, Vec<&str>> = Mutex::new(Vec::new());
///
/// std::thread::spawn(|| LOG.lock(|log| log.push("worker"))).join().unwrap();
/// LOG.lock(|log| log.push("main"));
/// assert_eq!(LOG.lock(|log| log.len()), 2);
/// ```
#[cfg(feature = "std")]
#[derive(Debug, Default)]
pub struct StdRawMutex {
    inner: crate::loom::sync::Mutex<()>,
}

// === impl StdRawMutex ===

#[cfg(feature = "std")]
impl StdRawMutex {
    /// An unlocked mutex.
    #[cfg(not(loom))]
    pub const fn new() -> StdRawMutex {
        StdRawMutex {
            inner: crate::loom::sync::Mutex::new(()),
        }
    }

    /// An unlocked mutex (not `const` under loom).
    #[cfg(loom)]
    pub fn new() -> StdRawMutex {
        StdRawMutex {
            inner: crate::loom::sync::Mutex::new(()),
        }
    }
}

// SAFETY: the std mutex's guard is held for the whole of `f` (it drops after
// `f` returns or unwinds), and a std mutex lets one guard exist at a time
// across all threads, with acquire/release ordering between holders. A nested
// `lock` on the same thread deadlocks or panics in std; it never gets a second
// guard. `f` runs once, here.
#[cfg(feature = "std")]
unsafe impl RawMutex for StdRawMutex {
    #[cfg(not(loom))]
    const INIT: Self = StdRawMutex::new();

    #[cfg(loom)]
    fn new() -> Self {
        StdRawMutex::new()
    }

    fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
        // Poisoned only if a closure panicked; `()` has no state to distrust.
        let _guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f()
    }
}

/// Models: two threads incrementing a loom-tracked cell under each lock.
/// A lock that let both in at once would be reported as a data race.
#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::loom::UnsafeCell;
    use crate::loom::sync::Arc;
    use crate::loom::{model, thread};

    struct Counter<M> {
        raw: M,
        count: UnsafeCell<usize>,
    }

    // SAFETY: `count` is only touched inside `raw.lock`, which `M: Sync`
    // makes exclusive across threads.
    unsafe impl<M: RawMutex + Sync> Sync for Counter<M> {}

    impl<M: RawMutex> Counter<M> {
        fn new(raw: M) -> Self {
            Counter {
                raw,
                count: UnsafeCell::new(0),
            }
        }

        fn bump(&self) {
            self.raw.lock(|| {
                // SAFETY: inside the lock (see `Sync` above).
                self.count.with_mut(|count| unsafe { *count += 1 })
            });
        }

        fn get(&self) -> usize {
            // SAFETY: inside the lock (see `Sync` above).
            self.raw.lock(|| self.count.with(|count| unsafe { *count }))
        }
    }

    fn two_threads_bump<M: RawMutex + Send + Sync + 'static>(raw: M) {
        let counter = Arc::new(Counter::new(raw));
        let other = counter.clone();
        let t = thread::spawn(move || other.bump());
        counter.bump();
        t.join().unwrap();
        assert_eq!(counter.get(), 2);
    }

    #[test]
    fn spin_lock_excludes() {
        model(|| two_threads_bump(SpinRawMutex::new()));
    }

    #[cfg(feature = "std")]
    #[test]
    fn std_lock_excludes() {
        model(|| two_threads_bump(StdRawMutex::new()));
    }

    /// The default lock follows the `std` feature, for the channels'
    /// heap constructor as for the primitives' `new`.
    #[cfg(not(loom))]
    #[test]
    fn default_lock_follows_std() {
        use core::any::TypeId;

        #[cfg(feature = "std")]
        let expected = TypeId::of::<StdRawMutex>();
        #[cfg(not(feature = "std"))]
        let expected = TypeId::of::<SpinRawMutex>();
        assert_eq!(TypeId::of::<DefaultRawMutex>(), expected);
        fn lock_of<M: RawMutex + 'static>(_: &crate::channel::mpsc::Sender<'_, u8, M>) -> TypeId {
            TypeId::of::<M>()
        }
        let (tx, _rx) = crate::channel::mpsc::channel::<u8>(1);
        assert_eq!(lock_of(&tx), expected);
    }

    #[test]
    fn spin_lock_released_on_unwind() {
        use core::panic::AssertUnwindSafe;
        use std::panic::catch_unwind;

        model(|| {
            let raw = SpinRawMutex::new();
            let caught = catch_unwind(AssertUnwindSafe(|| raw.lock(|| panic!("in the closure"))));
            assert!(caught.is_err());
            assert_eq!(raw.lock(|| 5), 5);
        });
    }
}
