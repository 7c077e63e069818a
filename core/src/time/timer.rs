//! `Timer`: a wheel on a clock, behind the embedder's lock.

use core::fmt;
use core::task::Waker;
use core::time::Duration;

use super::entry::Entry;
use super::wheel::Wheel;
use super::{Clock, Instant, Interval, Sleep, Timeout};
use crate::sync::RawMutex;
use crate::sync::blocking_mutex::Mutex;

/// Timers fired per lock: their wakers are woken after the lock is let go,
/// so wakers never run inside the critical section.
const FIRE_BATCH: usize = if cfg!(loom) { 2 } else { 32 };

/// The timers of one clock: a hierarchical wheel, guarded by a raw mutex
/// `M` the embedder picks (an interrupt-free section on a microcontroller, a
/// spin lock or a std lock on a server).
///
/// Put it in a `static` and create timers from it: [`sleep`](Self::sleep),
/// [`sleep_until`](Self::sleep_until), [`timeout`](Self::timeout),
/// [`interval`](Self::interval). Arming a timer never allocates: its entry
/// lives inside the future. Someone must call [`process`](Self::process)
/// when timers may be due: the embedder's timer interrupt, at the deadline
/// [`next_deadline`](Self::next_deadline) gives, or a [`TimerPark`](super::TimerPark) that does
/// it for an executor.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use pollen_core::sync::SpinRawMutex;
/// use pollen_core::time::{Instant, ManualClock, Timer};
///
/// static TIMER: Timer<ManualClock, SpinRawMutex> = Timer::new(ManualClock::new());
///
/// let mut nap = core::pin::pin!(TIMER.sleep(Duration::from_millis(5)));
/// # let waker = core::task::Waker::noop();
/// # let mut cx = core::task::Context::from_waker(waker);
/// assert!(nap.as_mut().poll(&mut cx).is_pending()); // armed
/// // When to look again: never after the deadline.
/// assert!(TIMER.next_deadline().unwrap() <= Instant::from_millis(5));
///
/// TIMER.clock().advance(Duration::from_millis(4));
/// assert_eq!(TIMER.process(), 0); // not due yet
/// TIMER.clock().advance(Duration::from_millis(1));
/// assert_eq!(TIMER.process(), 1); // fires, and wakes the task
/// assert!(nap.as_mut().poll(&mut cx).is_ready());
/// # use core::future::Future;
/// ```
pub struct Timer<C, M> {
    clock: C,
    state: Mutex<M, State>,
}

/// What the timer's lock guards.
struct State {
    wheel: Wheel,
    /// The driver to wake when a timer is armed earlier than every other
    /// one, so that, sleeping until the old deadline, it plans again. Taken
    /// by that wake: a driver registers again each time it goes to sleep,
    /// and arming costs nothing extra while none sleeps.
    driver: Option<Waker>,
}

/// What `Sleep` needs of its timer, with the clock and lock types erased.
pub(crate) trait TimerHandle: Sync {
    /// The clock's time.
    fn now(&self) -> Instant;

    /// The first tick at or after `deadline`.
    fn deadline_tick(&self, deadline: Instant) -> u64;

    /// The clock's current tick.
    fn now_tick(&self) -> u64;

    /// Arms `entry` for tick `tick`; `false` if that tick has passed (the
    /// entry is then left out: it is due now).
    ///
    /// # Safety
    ///
    /// `entry` is in no wheel, and stays valid and pinned until
    /// [`disarm`](Self::disarm) has been called for it.
    unsafe fn arm(&self, entry: &Entry, tick: u64) -> bool;

    /// Takes `entry` out of the wheel if it is still in it.
    ///
    /// # Safety
    ///
    /// `entry` is valid, and was armed in this timer or in none.
    unsafe fn disarm(&self, entry: &Entry);
}

// === impl Timer ===

impl<C, M: RawMutex> Timer<C, M> {
    /// A timer with no timers armed, on `clock`. Usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new(clock: C) -> Timer<C, M> {
        Timer {
            clock,
            state: Mutex::new(State::new()),
        }
    }

    /// A timer with no timers armed, on `clock` (not `const` under loom).
    #[cfg(loom)]
    pub fn new(clock: C) -> Timer<C, M> {
        Timer {
            clock,
            state: Mutex::new(State::new()),
        }
    }
}

impl State {
    const fn new() -> State {
        State {
            wheel: Wheel::new(),
            driver: None,
        }
    }
}

impl<C: Clock, M: RawMutex> Timer<C, M> {
    /// The clock the timers run on.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The clock's current time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// When [`process`](Self::process) next has work: the earliest deadline
    /// of an armed timer, rounded up to the clock's tick, or earlier (at the
    /// start of a wheel slot whose timers must move closer first; processing
    /// then fires nothing and gives a later deadline). `None` if no timer
    /// is armed.
    ///
    /// An embedder sleeps until then (a hardware alarm, a `poll` timeout).
    pub fn next_deadline(&self) -> Option<Instant> {
        let tick = self.state.lock(|s| s.wheel.next_deadline())?;
        Some(self.tick_instant(tick))
    }

    /// Fires every timer due at the clock's current time, in deadline order,
    /// and wakes each one's task once. Returns how many fired.
    ///
    /// Safe to call from any context the lock `M` allows, as often as
    /// wanted: with nothing due it costs a clock read and one lock.
    pub fn process(&self) -> usize {
        let now = self.clock.now_ticks();
        let mut fired = 0;
        loop {
            let mut wakers: [Option<Waker>; FIRE_BATCH] = [const { None }; FIRE_BATCH];
            let mut taken = 0;
            let more = self.state.lock(|s| {
                while taken < FIRE_BATCH {
                    // SAFETY: every node in the wheel is the entry of a
                    // pinned future that disarms it (under this lock)
                    // before it goes.
                    let Some(node) = (unsafe { s.wheel.poll(now) }) else {
                        return false;
                    };
                    // SAFETY: as above.
                    let entry = unsafe { Entry::from_node(node) };
                    wakers[taken] = entry.fire();
                    taken += 1;
                }
                true
            });
            fired += taken;
            // Outside the lock: a waker may do anything, even arm a timer.
            for waker in wakers.iter_mut().take(taken).filter_map(Option::take) {
                waker.wake();
            }
            if !more {
                return fired;
            }
        }
    }

    /// Makes `waker` the one woken, once, when a timer is next armed with
    /// an earlier deadline than every other: a driver about to sleep until
    /// [`next_deadline`](Self::next_deadline) registers here first (before
    /// reading the deadline), and plans again when woken. One waker at a
    /// time; the last registered wins.
    pub fn register_deadline_waker(&self, waker: &Waker) {
        self.state
            .lock(|s| crate::sync::store_waker(&mut s.driver, waker));
    }

    /// [`register_deadline_waker`](Self::register_deadline_waker) and
    /// [`next_deadline`](Self::next_deadline) in one critical section: what
    /// a driver about to sleep needs, for one lock instead of two.
    pub fn register_and_next_deadline(&self, waker: &Waker) -> Option<Instant> {
        let tick = self.state.lock(|s| {
            crate::sync::store_waker(&mut s.driver, waker);
            s.wheel.next_deadline()
        })?;
        Some(self.tick_instant(tick))
    }

    fn tick_instant(&self, tick: u64) -> Instant {
        Instant::from_nanos(tick.saturating_mul(self.clock.tick_nanos()))
    }
}

impl<C: Clock + 'static, M: RawMutex + Sync + 'static> Timer<C, M> {
    /// A future that completes `duration` from now.
    ///
    /// See [`Sleep`] for details and an example.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`Sleep`].
    pub fn sleep(&'static self, duration: Duration) -> Sleep {
        // One clock reading for the deadline and the "already due" check.
        let now = self.clock.now_ticks();
        let deadline = self.tick_instant(now).saturating_add(duration);
        Sleep::with_now(self, deadline, now)
    }

    /// A future that completes at `deadline` (at once if it has passed).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`Sleep`].
    pub fn sleep_until(&'static self, deadline: Instant) -> Sleep {
        Sleep::new(self, deadline)
    }

    /// Runs `future` for at most `duration`; see [`Timeout`].
    pub fn timeout<F: core::future::Future>(
        &'static self,
        duration: Duration,
        future: F,
    ) -> Timeout<F> {
        Timeout::new(future, self.sleep(duration))
    }

    /// Runs `future` until `deadline` at most; see [`Timeout`].
    pub fn timeout_at<F: core::future::Future>(
        &'static self,
        deadline: Instant,
        future: F,
    ) -> Timeout<F> {
        Timeout::new(future, self.sleep_until(deadline))
    }

    /// An [`Interval`] that ticks now, then every `period`.
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    pub fn interval(&'static self, period: Duration) -> Interval {
        Interval::new(self, self.now(), period)
    }

    /// An [`Interval`] that ticks at `start`, then every `period`.
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    pub fn interval_at(&'static self, start: Instant, period: Duration) -> Interval {
        Interval::new(self, start, period)
    }
}

impl<C: Clock, M: RawMutex + Sync> TimerHandle for Timer<C, M> {
    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn deadline_tick(&self, deadline: Instant) -> u64 {
        deadline.as_nanos().div_ceil(self.clock.tick_nanos())
    }

    fn now_tick(&self) -> u64 {
        self.clock.now_ticks()
    }

    unsafe fn arm(&self, entry: &Entry, tick: u64) -> bool {
        let armed = self.state.lock(|s| {
            // Only a sleeping driver needs to know whether this one is now
            // the earliest.
            let before = s.driver.as_ref().map(|_| s.wheel.next_deadline());
            // SAFETY: forwarded from the caller.
            if !unsafe { s.wheel.insert(entry.node(), tick) } {
                return None;
            }
            let earliest = before.is_some_and(|before| before.is_none_or(|b| tick < b));
            Some(if earliest { s.driver.take() } else { None })
        });
        match armed {
            None => false,
            Some(driver) => {
                if let Some(driver) = driver {
                    driver.wake();
                }
                true
            }
        }
    }

    unsafe fn disarm(&self, entry: &Entry) {
        // SAFETY: forwarded from the caller.
        self.state.lock(|s| unsafe { s.wheel.remove(entry.node()) });
    }
}

impl<C: fmt::Debug, M> fmt::Debug for Timer<C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
