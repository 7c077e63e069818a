//! `ManualClock`: virtual time for tests and simulations.

use core::time::Duration;

use super::{Clock, Instant};
use crate::loom::atomic::{AtomicBool, AtomicU64, Ordering};

/// A clock that moves only when told: by [`advance`](ManualClock::advance),
/// [`set`](ManualClock::set), or by itself when everything is idle
/// (*auto-advance*, on by default).
///
/// With auto-advance, a [`TimerPark`](super::TimerPark) that finds every
/// task idle and a timer armed jumps the clock to that timer's deadline
/// instead of sleeping: a test of code that sleeps for an hour runs in
/// microseconds, and sees exactly the times it would have seen. Its ticks
/// are microseconds.
///
/// Needs 64-bit atomics (every host; not `thumbv7em`).
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use pollen_core::time::{Clock, Instant, ManualClock};
///
/// let clock = ManualClock::new();
/// assert_eq!(clock.now(), Instant::ZERO);
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(clock.now(), Instant::from_millis(1500));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    /// Microseconds since the start.
    micros: AtomicU64,
    auto_advance: AtomicBool,
}

// === impl ManualClock ===

impl ManualClock {
    /// A clock at [`Instant::ZERO`], auto-advancing.
    #[cfg(not(loom))]
    pub const fn new() -> ManualClock {
        ManualClock {
            micros: AtomicU64::new(0),
            auto_advance: AtomicBool::new(true),
        }
    }

    /// A clock at [`Instant::ZERO`], auto-advancing (not `const` under
    /// loom).
    #[cfg(loom)]
    pub fn new() -> ManualClock {
        ManualClock {
            micros: AtomicU64::new(0),
            auto_advance: AtomicBool::new(true),
        }
    }

    /// Moves time forward by `duration` (rounded down to whole
    /// microseconds). Timers that are now due fire at the timer's next
    /// [`process`](super::Timer::process).
    pub fn advance(&self, duration: Duration) {
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        let _ = self
            .micros
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                Some(now.saturating_add(micros))
            });
    }

    /// Moves time forward to `instant` (rounded up to a whole microsecond);
    /// never backwards: an earlier `instant` leaves the clock as it is.
    pub fn set(&self, instant: Instant) {
        let micros = instant.as_nanos().div_ceil(1_000);
        self.micros.fetch_max(micros, Ordering::AcqRel);
    }

    /// Turns auto-advance on or off. Off, time moves only by `advance` and
    /// `set`, and a `TimerPark` sleeps on its park like with a real clock
    /// (until another thread moves the time and unparks it).
    pub fn set_auto_advance(&self, on: bool) {
        self.auto_advance.store(on, Ordering::Release);
    }

    /// Whether auto-advance is on.
    pub fn auto_advances(&self) -> bool {
        self.auto_advance.load(Ordering::Acquire)
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now_ticks(&self) -> u64 {
        self.micros.load(Ordering::Acquire)
    }

    fn tick_nanos(&self) -> u64 {
        1_000
    }

    fn auto_advance_to(&self, deadline: Instant) -> bool {
        if !self.auto_advances() {
            return false;
        }
        self.set(deadline);
        true
    }
}
