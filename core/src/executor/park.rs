//! `Park`: how an embedder puts the executor's thread to sleep and wakes it.

use core::marker::PhantomData;
use core::task::{RawWaker, RawWakerVTable, Waker};
use core::time::Duration;

use crate::loom::atomic::{AtomicBool, Ordering};
use crate::loom::hint;

/// Puts the thread that drives an executor to sleep until there is work.
///
/// The contract is that of a token, like `std::thread::park`: `unpark` sets
/// it, `park` waits until it is set and clears it. An `unpark` that comes
/// before `park` makes that `park` return at once, so no wake-up is lost
/// between the executor's last look at its queue and its sleep. `park` may
/// also return spuriously.
///
/// On a microcontroller `park` is `WFE` and `unpark` is `SEV` (or `WFI` and a
/// pending-interrupt flag); on std, a condvar (`StdPark` with the `std`
/// feature); in a busy loop, [`SpinPark`].
pub trait Park: Sync + 'static {
    /// Waits until [`unpark`](Park::unpark) has been called since the last
    /// return from `park`.
    fn park(&self);

    /// Wakes the parked thread, or makes its next `park` return at once.
    /// Called from wakers: on any thread, or in an interrupt handler.
    fn unpark(&self);

    /// Called by [`Executor::run`](super::Executor::run) and
    /// [`Executor::block_on`](super::Executor::block_on) once per round,
    /// busy or idle, without sleeping: a park that also drives timers or
    /// I/O (such as [`TimerPark`](crate::time::TimerPark)) fires what is due
    /// here, so a busy executor does not starve them. Does nothing by
    /// default.
    fn turn(&self) {}
}

/// A [`Park`] that can also stop waiting after a while: what sleeping
/// until a timer's deadline needs.
pub trait ParkTimeout: Park {
    /// Waits like [`park`](Park::park), but returns after `timeout` at the
    /// latest even if not unparked (and may return spuriously earlier).
    fn park_timeout(&self, timeout: Duration);
}

/// A [`Park`] that spins on a flag: no sleep, no platform support needed.
///
/// # Examples
///
/// ```
/// use pollen_core::executor::{Park, SpinPark};
///
/// static PARK: SpinPark = SpinPark::new();
/// PARK.unpark();
/// PARK.park(); // returns at once: the token was set
/// ```
#[derive(Debug)]
pub struct SpinPark {
    token: AtomicBool,
}

impl SpinPark {
    /// A park with no token set.
    #[cfg(not(loom))]
    pub const fn new() -> SpinPark {
        SpinPark {
            token: AtomicBool::new(false),
        }
    }

    /// A park with no token set.
    #[cfg(loom)]
    pub fn new() -> SpinPark {
        SpinPark {
            token: AtomicBool::new(false),
        }
    }
}

impl Default for SpinPark {
    fn default() -> Self {
        Self::new()
    }
}

impl Park for SpinPark {
    fn park(&self) {
        while !self.token.swap(false, Ordering::Acquire) {
            hint::spin_loop();
        }
    }

    fn unpark(&self) {
        self.token.store(true, Ordering::Release);
    }
}

/// A [`Park`] on a `std` mutex and condvar: the thread sleeps until woken.
///
/// # Examples
///
/// ```
/// use pollen_core::executor::{Executor, StdPark};
///
/// static EXECUTOR: Executor = Executor::new();
/// static PARK: StdPark = StdPark::new();
///
/// let answer = EXECUTOR.block_on(&PARK, async {
///     EXECUTOR.spawn(async { 40 + 2 }).await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct StdPark {
    token: std::sync::Mutex<bool>,
    condvar: std::sync::Condvar,
}

#[cfg(feature = "std")]
impl StdPark {
    /// A park with no token set.
    pub const fn new() -> StdPark {
        StdPark {
            token: std::sync::Mutex::new(false),
            condvar: std::sync::Condvar::new(),
        }
    }
}

#[cfg(feature = "std")]
impl Default for StdPark {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
impl Park for StdPark {
    fn park(&self) {
        // A poisoned lock only means another thread panicked while holding
        // it; the token is a plain bool and still valid.
        let mut token = self.token.lock().unwrap_or_else(|e| e.into_inner());
        while !*token {
            token = self.condvar.wait(token).unwrap_or_else(|e| e.into_inner());
        }
        *token = false;
    }

    fn unpark(&self) {
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.condvar.notify_one();
    }
}

#[cfg(feature = "std")]
impl ParkTimeout for StdPark {
    fn park_timeout(&self, timeout: Duration) {
        let mut token = self.token.lock().unwrap_or_else(|e| e.into_inner());
        if !*token {
            // One wait: a spurious wake-up returns early, which the contract
            // allows (the caller re-plans).
            token = self
                .condvar
                .wait_timeout(token, timeout)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *token = false;
    }
}

/// A `Waker` whose wake is `P::unpark`, made without allocating.
pub(crate) fn waker<P: Park>(park: &'static P) -> Waker {
    let raw = RawWaker::new((park as *const P).cast(), &ParkWaker::<P>::VTABLE);
    // SAFETY: the data pointer is a `&'static P` and every vtable function
    // treats it as one; clone and drop have nothing to count.
    unsafe { Waker::from_raw(raw) }
}

struct ParkWaker<P>(PhantomData<P>);

impl<P: Park> ParkWaker<P> {
    const VTABLE: RawWakerVTable =
        RawWakerVTable::new(Self::clone, Self::wake, Self::wake, Self::drop);

    unsafe fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &Self::VTABLE)
    }

    unsafe fn wake(data: *const ()) {
        // SAFETY: `waker` made `data` from a `&'static P`.
        unsafe { &*data.cast::<P>() }.unpark();
    }

    unsafe fn drop(_: *const ()) {}
}
