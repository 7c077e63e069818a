//! `PausableClock`: a real clock that tests can stop, move and restart.

use core::time::Duration;

use super::{Clock, Instant};
use crate::loom::atomic::{AtomicBool, AtomicU64, Ordering};

/// While `paused_at` holds this, the clock runs.
const RUNNING: u64 = u64::MAX;

/// A clock that follows `C` until [`pause`](PausableClock::pause)d; then
/// time moves only by [`advance`](PausableClock::advance) and by
/// auto-advance (an idle [`TimerPark`](super::TimerPark) jumps it to the
/// next timer's deadline), until [`resume`](PausableClock::resume) lets it
/// follow `C` again from where it stands.
///
/// What `tokio::time::pause` does, on any clock and any executor: the std
/// runtime wraps its clock in one for tests that start paused.
///
/// Never goes backwards: time skipped while paused is kept after `resume`,
/// and real time that passed while paused is not added.
///
/// Needs 64-bit atomics (every host; not `thumbv7em`).
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use pollen_core::time::{Clock, Instant, ManualClock, PausableClock};
///
/// // `ManualClock` stands in for the real clock here.
/// let clock = PausableClock::new(ManualClock::new());
/// clock.inner().advance(Duration::from_millis(10));
/// assert_eq!(clock.now(), Instant::from_millis(10)); // follows the inner clock
///
/// clock.pause();
/// clock.inner().advance(Duration::from_millis(500)); // real time passes...
/// assert_eq!(clock.now(), Instant::from_millis(10)); // ...not here
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(clock.now(), Instant::from_millis(60_010));
///
/// clock.resume();
/// clock.inner().advance(Duration::from_millis(5));
/// assert_eq!(clock.now(), Instant::from_millis(60_015)); // on from there
/// ```
#[derive(Debug)]
pub struct PausableClock<C> {
    inner: C,
    /// The frozen tick while paused; [`RUNNING`] otherwise.
    paused_at: AtomicU64,
    /// Added (wrapping) to the inner clock's ticks while running.
    offset: AtomicU64,
    /// Whether an idle executor may jump time while paused.
    auto_advance: AtomicBool,
}

// === impl PausableClock ===

impl<C> PausableClock<C> {
    /// Follows `inner`; auto-advance on (it only acts while paused).
    #[cfg(not(loom))]
    pub const fn new(inner: C) -> PausableClock<C> {
        PausableClock {
            inner,
            paused_at: AtomicU64::new(RUNNING),
            offset: AtomicU64::new(0),
            auto_advance: AtomicBool::new(true),
        }
    }

    /// Follows `inner` (not `const` under loom).
    #[cfg(loom)]
    pub fn new(inner: C) -> PausableClock<C> {
        PausableClock {
            inner,
            paused_at: AtomicU64::new(RUNNING),
            offset: AtomicU64::new(0),
            auto_advance: AtomicBool::new(true),
        }
    }

    /// The clock this one follows while running.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// Whether the clock is paused.
    pub fn is_paused(&self) -> bool {
        self.paused_at.load(Ordering::Acquire) != RUNNING
    }

    /// Turns auto-advance on or off (it only acts while paused).
    pub fn set_auto_advance(&self, on: bool) {
        self.auto_advance.store(on, Ordering::Release);
    }
}

impl<C: Clock> PausableClock<C> {
    /// Stops the clock where it stands. Does nothing if it is paused.
    pub fn pause(&self) {
        let now = self.now_ticks();
        let _ = self
            .paused_at
            .compare_exchange(RUNNING, now, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Lets the clock follow the inner one again, from where it stands.
    /// Does nothing if it runs.
    pub fn resume(&self) {
        let at = self.paused_at.load(Ordering::Acquire);
        if at == RUNNING {
            return;
        }
        // First the offset that continues from `at`, then the flag: a
        // reader that sees the clock running sees this offset (Release).
        self.offset
            .store(at.wrapping_sub(self.inner.now_ticks()), Ordering::Release);
        self.paused_at.store(RUNNING, Ordering::Release);
    }

    /// Moves a paused clock forward by `duration` (rounded up to whole
    /// ticks). Timers that are now due fire at the timer's next `process`.
    ///
    /// # Panics
    ///
    /// If the clock is not paused: real time cannot be moved.
    pub fn advance(&self, duration: Duration) {
        let ticks = duration
            .as_nanos()
            .div_ceil(u128::from(self.inner.tick_nanos()));
        let ticks = u64::try_from(ticks).unwrap_or(u64::MAX - 1);
        let moved = self
            .paused_at
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |at| {
                (at != RUNNING).then(|| at.saturating_add(ticks).min(RUNNING - 1))
            });
        assert!(
            moved.is_ok(),
            "pollen: PausableClock::advance on a clock that is not paused"
        );
    }
}

impl<C: Clock> Clock for PausableClock<C> {
    fn now_ticks(&self) -> u64 {
        match self.paused_at.load(Ordering::Acquire) {
            RUNNING => self
                .inner
                .now_ticks()
                .wrapping_add(self.offset.load(Ordering::Acquire)),
            at => at,
        }
    }

    fn tick_nanos(&self) -> u64 {
        self.inner.tick_nanos()
    }

    fn auto_advance_to(&self, deadline: Instant) -> bool {
        if !self.auto_advance.load(Ordering::Acquire) {
            return false;
        }
        let tick = deadline.as_nanos().div_ceil(self.tick_nanos());
        self.paused_at
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |at| {
                (at != RUNNING).then(|| at.max(tick).min(RUNNING - 1))
            })
            .is_ok()
    }
}
