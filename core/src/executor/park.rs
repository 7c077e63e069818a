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
/// An atomic word in front of the condvar keeps `unpark` cheap when the
/// parker is not asleep (the usual case: a task woken while the executor
/// runs): one swap, no lock, no system call. Only an `unpark` that finds the
/// parker asleep (or about to be) takes the lock and notifies the condvar.
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
    /// `EMPTY`, `PARKED` (set under `lock` by a parker about to wait) or
    /// `NOTIFIED` (the token).
    state: crate::loom::atomic::AtomicU8,
    lock: crate::loom::sync::Mutex<()>,
    condvar: crate::loom::sync::Condvar,
}

#[cfg(feature = "std")]
const EMPTY: u8 = 0;
#[cfg(feature = "std")]
const PARKED: u8 = 1;
#[cfg(feature = "std")]
const NOTIFIED: u8 = 2;

#[cfg(feature = "std")]
impl StdPark {
    /// A park with no token set.
    #[cfg(not(loom))]
    pub const fn new() -> StdPark {
        StdPark {
            state: crate::loom::atomic::AtomicU8::new(EMPTY),
            lock: std::sync::Mutex::new(()),
            condvar: std::sync::Condvar::new(),
        }
    }

    /// A park with no token set (not `const` under loom).
    #[cfg(loom)]
    pub fn new() -> StdPark {
        StdPark {
            state: crate::loom::atomic::AtomicU8::new(EMPTY),
            lock: loom::sync::Mutex::new(()),
            condvar: loom::sync::Condvar::new(),
        }
    }

    /// Takes the token if it is set.
    fn take_token(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Under the lock: announces that we are about to wait. `false` if the
    /// token came meanwhile (it is taken then).
    fn announce(&self) -> bool {
        match self
            .state
            .compare_exchange(EMPTY, PARKED, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => true,
            Err(NOTIFIED) => {
                // Acquire: pairs with the release of the `unpark` that set it.
                self.state.swap(EMPTY, Ordering::Acquire);
                false
            }
            Err(_) => parked_twice(),
        }
    }

    fn lock(&self) -> crate::loom::sync::MutexGuard<'_, ()> {
        // The mutex guards no data: a poisoned lock is as good as any.
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(feature = "std")]
#[cold]
fn parked_twice() -> ! {
    panic!("pollen: StdPark::park called from two threads at once (only the driving thread parks)")
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
        if self.take_token() {
            return;
        }
        let mut guard = self.lock();
        if !self.announce() {
            return;
        }
        loop {
            guard = self.condvar.wait(guard).unwrap_or_else(|e| e.into_inner());
            if self.take_token() {
                return;
            }
            // A spurious wake-up: still `PARKED`, wait again.
        }
    }

    fn unpark(&self) {
        match self.state.swap(NOTIFIED, Ordering::Release) {
            // Not asleep: it takes the token before it would sleep.
            EMPTY | NOTIFIED => {}
            // Asleep, or about to wait with the lock held: taking the lock
            // orders our notify after its wait began, so it is not missed.
            _ => {
                drop(self.lock());
                self.condvar.notify_one();
            }
        }
    }
}

#[cfg(feature = "std")]
impl ParkTimeout for StdPark {
    fn park_timeout(&self, timeout: Duration) {
        if self.take_token() {
            return;
        }
        let guard = self.lock();
        if !self.announce() {
            return;
        }
        // One wait: a spurious wake-up returns early, which the contract
        // allows (the caller re-plans).
        let _guard = self
            .condvar
            .wait_timeout(guard, timeout)
            .unwrap_or_else(|e| e.into_inner());
        // Notified, timed out or woken spuriously: back to `EMPTY`, taking
        // the token if it came (acquire, as in `take_token`).
        self.state.swap(EMPTY, Ordering::Acquire);
    }
}

#[cfg(all(test, feature = "std"))]
mod std_park_tests {
    //! The park protocol against a thread handing over work. A lost
    //! wake-up leaves the parker asleep for ever: a deadlock under loom, a
    //! hang otherwise.

    use super::{Park, StdPark};
    use crate::loom::atomic::{AtomicUsize, Ordering};
    use crate::loom::sync::Arc;
    use crate::loom::thread;

    #[test]
    fn work_handed_over_from_another_thread_wakes_the_parker() {
        crate::loom::model(|| {
            let park = Arc::new(StdPark::new());
            let work = Arc::new(AtomicUsize::new(0));
            let pusher = {
                let (park, work) = (park.clone(), work.clone());
                thread::spawn(move || {
                    // Relaxed: only the park protocol orders it.
                    work.store(1, Ordering::Relaxed);
                    park.unpark();
                })
            };
            while work.load(Ordering::Relaxed) == 0 {
                park.park();
            }
            pusher.join().unwrap();
        });
    }

    #[test]
    fn two_unparks_and_a_parker() {
        crate::loom::model(|| {
            let park = Arc::new(StdPark::new());
            let work = Arc::new(AtomicUsize::new(0));
            let pushers: [_; 2] = core::array::from_fn(|_| {
                let (park, work) = (park.clone(), work.clone());
                thread::spawn(move || {
                    work.fetch_add(1, Ordering::Relaxed);
                    park.unpark();
                })
            });
            while work.load(Ordering::Relaxed) < 2 {
                park.park();
            }
            for pusher in pushers {
                pusher.join().unwrap();
            }
        });
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
