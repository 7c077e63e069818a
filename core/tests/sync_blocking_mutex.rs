//! `blocking_mutex::Mutex` over each raw mutex: exclusion across threads,
//! re-entry caught, usable after a panic, usable in a `static`.

use std::cell::Cell;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use pollen_core::sync::blocking_mutex::Mutex;
use pollen_core::sync::{NoopRawMutex, RawMutex, SpinRawMutex};

const THREADS: usize = 4;
/// Increments per thread (fewer under Miri, which runs each one slowly).
const ROUNDS: usize = if cfg!(miri) { 1_000 } else { 10_000 };

/// `THREADS` threads each add one `ROUNDS` times with a non-atomic
/// read-modify-write inside `lock`; any overlap would lose increments.
fn no_lost_increments<M: RawMutex + Sync>(mutex: &Mutex<M, u64>) {
    let start = mutex.lock(|n| *n);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    mutex.lock(|n| {
                        // Read, yield the CPU hint, write back: a split
                        // read-modify-write that a broken lock would lose.
                        let seen = *n;
                        std::hint::spin_loop();
                        *n = seen + 1;
                    });
                }
            });
        }
    });
    assert_eq!(mutex.lock(|n| *n), start + (THREADS * ROUNDS) as u64);
}

#[test]
fn spin_mutex_excludes_threads() {
    no_lost_increments(&Mutex::<SpinRawMutex, u64>::new(0));
}

#[cfg(feature = "std")]
#[test]
fn std_mutex_excludes_threads() {
    no_lost_increments(&Mutex::<pollen_core::sync::StdRawMutex, u64>::new(0));
}

/// Times `CountingRawMutex::lock` ran (only `lock_goes_through_the_raw_mutex`
/// uses it).
static TAKEN: AtomicUsize = AtomicUsize::new(0);

/// A re-entrant, one-context raw mutex, like `NoopRawMutex`, that counts how
/// often it is taken, to check that `Mutex` goes through it.
struct CountingRawMutex(PhantomData<Cell<()>>);

// SAFETY: not `Sync` (the `Cell` marker), so every `lock` on one value runs on
// the thread that owns it, where calls overlap only by nesting, which the
// contract exempts; `f` runs once, on the calling thread.
unsafe impl RawMutex for CountingRawMutex {
    const INIT: Self = CountingRawMutex(PhantomData);

    fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
        TAKEN.fetch_add(1, Ordering::Relaxed);
        f()
    }
}

#[test]
fn reentrant_lock_panics_instead_of_aliasing() {
    let mutex = Mutex::<NoopRawMutex, Vec<u32>>::new(vec![1]);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        mutex.lock(|outer| {
            outer.push(2);
            // The nested call must not get a second `&mut Vec`.
            mutex.lock(|inner| inner.push(99));
            unreachable!("the nested lock returned");
        })
    }));
    let message = caught.expect_err("re-entry must panic");
    let message = message
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| message.downcast_ref::<String>().map(String::as_str))
        .expect("a string panic message");
    assert!(message.contains("re-entrant"), "message: {message}");

    // The flag was cleared on unwind: the mutex works, with the outer
    // closure's write kept (no poisoning).
    assert_eq!(mutex.lock(|v| v.clone()), [1, 2]);
    mutex.lock(|v| v.push(3));
    assert_eq!(mutex.into_inner(), [1, 2, 3]);
}

#[test]
fn panic_in_closure_leaves_mutex_usable() {
    let mutex = Mutex::<SpinRawMutex, u32>::new(0);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        mutex.lock(|n| {
            *n = 7;
            panic!("boom");
        })
    }));
    assert!(caught.is_err());
    // The spin lock was released and the flag cleared.
    assert_eq!(mutex.lock(|n| *n), 7);
}

#[test]
fn sequential_locks_are_not_reentry() {
    let mutex = Mutex::<NoopRawMutex, u32>::new(0);
    for _ in 0..3 {
        mutex.lock(|n| *n += 1);
    }
    assert_eq!(mutex.lock(|n| *n), 3);
}

#[test]
fn other_mutex_may_be_locked_inside() {
    let a = Mutex::<NoopRawMutex, u32>::new(1);
    let b = Mutex::<NoopRawMutex, u32>::new(2);
    let sum = a.lock(|a| b.lock(|b| *a + *b));
    assert_eq!(sum, 3);
}

#[test]
fn lock_goes_through_the_raw_mutex() {
    let mut mutex = Mutex::<CountingRawMutex, u32>::new(0);
    mutex.lock(|n| *n += 1);
    mutex.lock(|n| *n += 1);
    assert_eq!(TAKEN.load(Ordering::Relaxed), 2);
    // `get_mut` and `into_inner` need no lock.
    *mutex.get_mut() += 1;
    assert_eq!(mutex.into_inner(), 3);
    assert_eq!(TAKEN.load(Ordering::Relaxed), 2);
}

static COUNTER: Mutex<SpinRawMutex, u32> = Mutex::new(0);

#[test]
fn static_spin_mutex() {
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..100 {
                    COUNTER.lock(|n| *n += 1);
                }
            });
        }
    });
    assert_eq!(COUNTER.lock(|n| *n), (THREADS * 100) as u32);
}

#[cfg(feature = "std")]
#[test]
fn static_std_mutex() {
    static NAMES: Mutex<pollen_core::sync::StdRawMutex, Vec<&str>> = Mutex::new(Vec::new());
    NAMES.lock(|v| v.push("a"));
    thread::spawn(|| NAMES.lock(|v| v.push("b")))
        .join()
        .unwrap();
    assert_eq!(NAMES.lock(|v| v.len()), 2);
}

#[test]
fn get_mut_and_default() {
    let mut mutex = Mutex::<SpinRawMutex, Vec<u8>>::default();
    mutex.get_mut().push(5);
    assert_eq!(mutex.lock(|v| v.len()), 1);
    assert_eq!(format!("{mutex:?}"), "Mutex { .. }");
}

#[test]
fn unsized_value() {
    let mutex: &Mutex<NoopRawMutex, [u32]> = &Mutex::<NoopRawMutex, [u32; 3]>::new([1, 2, 3]);
    mutex.lock(|s| s.reverse());
    assert_eq!(mutex.lock(|s| s.to_vec()), [3, 2, 1]);
}
