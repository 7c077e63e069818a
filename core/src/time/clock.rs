//! `Clock`, the source of time, and `Instant`, a point in it.

use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};
use core::time::Duration;

/// A monotonic source of time: ticks since it started, and how long a tick
/// is.
///
/// A [`Timer`](super::Timer) runs on one clock, and its wheel counts in the
/// clock's ticks, so the tick is also the timers' resolution: a timer is due
/// at the first tick at or after its deadline. Pick a tick that suits the
/// platform: 1 ms for a SysTick firing at 1 kHz, 1 µs for a free-running
/// microsecond counter or a server clock.
///
/// # Examples
///
/// A clock on a 32-bit hardware counter at 1 MHz, extended to 64 bits (the
/// shape of the glue an embedder writes; `read_counter` stands for the
/// register read):
///
/// ```
/// use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
/// use pollen_core::time::Clock;
///
/// # static COUNTER: AtomicU32 = AtomicU32::new(0);
/// # fn read_counter() -> u32 { COUNTER.load(Ordering::Relaxed) }
/// struct Counter1MHz {
///     /// The counter's last reading, and how often it wrapped, packed.
///     last: AtomicU64,
/// }
///
/// impl Clock for Counter1MHz {
///     fn now_ticks(&self) -> u64 {
///         // Called at least once per wrap (every 71 minutes) by the timer
///         // interrupt, so a wrap is never missed.
///         let mut last = self.last.load(Ordering::Acquire);
///         loop {
///             let raw = u64::from(read_counter());
///             let mut wraps = last >> 32;
///             if raw < last & 0xffff_ffff {
///                 wraps += 1;
///             }
///             let next = (wraps << 32) | raw;
///             match self.last.compare_exchange(last, next, Ordering::AcqRel, Ordering::Acquire) {
///                 Ok(_) => return next,
///                 Err(seen) if seen >= next => return seen,
///                 Err(seen) => last = seen,
///             }
///         }
///     }
///
///     fn tick_nanos(&self) -> u64 {
///         1_000
///     }
/// }
///
/// let clock = Counter1MHz { last: AtomicU64::new(0) };
/// COUNTER.store(2_500, Ordering::Relaxed);
/// assert_eq!(clock.now().as_micros(), 2_500);
/// ```
pub trait Clock: Sync {
    /// Ticks since the clock started. Never decreases.
    fn now_ticks(&self) -> u64;

    /// The length of one tick in nanoseconds: at least 1, the same on every
    /// call.
    fn tick_nanos(&self) -> u64;

    /// The current time: [`now_ticks`](Self::now_ticks) in nanoseconds.
    fn now(&self) -> Instant {
        Instant::from_nanos(self.now_ticks().saturating_mul(self.tick_nanos()))
    }

    /// For virtual clocks: jump to `deadline` because everything is idle
    /// until then, and return `true`; a real clock cannot and returns
    /// `false` (the default). See [`ManualClock`](super::ManualClock).
    fn auto_advance_to(&self, deadline: Instant) -> bool {
        let _ = deadline;
        false
    }
}

/// A point in time: nanoseconds since the start of a [`Clock`].
///
/// Instants from different clocks do not compare meaningfully. Arithmetic
/// with [`Duration`] saturates at the ends of the range (about 584 years)
/// rather than wrapping or panicking; use the `checked_*` methods to tell.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    nanos: u64,
}

// === impl Instant ===

impl Instant {
    /// The clock's start.
    pub const ZERO: Instant = Instant { nanos: 0 };
    /// The furthest instant there is: a deadline that never comes.
    pub const MAX: Instant = Instant { nanos: u64::MAX };

    /// The instant `nanos` nanoseconds after the clock's start.
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant { nanos }
    }

    /// The instant `micros` microseconds after the clock's start
    /// (saturating).
    pub const fn from_micros(micros: u64) -> Instant {
        Instant::from_nanos(micros.saturating_mul(1_000))
    }

    /// The instant `millis` milliseconds after the clock's start
    /// (saturating).
    pub const fn from_millis(millis: u64) -> Instant {
        Instant::from_nanos(millis.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the clock's start.
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Whole microseconds since the clock's start.
    pub const fn as_micros(self) -> u64 {
        self.nanos / 1_000
    }

    /// Whole milliseconds since the clock's start.
    pub const fn as_millis(self) -> u64 {
        self.nanos / 1_000_000
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    pub const fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        match self.nanos.checked_sub(earlier.nanos) {
            Some(nanos) => Some(Duration::from_nanos(nanos)),
            None => None,
        }
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later (as
    /// `std::time::Instant` does since Rust 1.60).
    pub const fn duration_since(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }

    /// `self + duration`, or `None` past the end of the range.
    pub const fn checked_add(self, duration: Duration) -> Option<Instant> {
        let Some(d) = duration_nanos(duration) else {
            return None;
        };
        match self.nanos.checked_add(d) {
            Some(nanos) => Some(Instant { nanos }),
            None => None,
        }
    }

    /// `self - duration`, or `None` before the clock's start.
    pub const fn checked_sub(self, duration: Duration) -> Option<Instant> {
        let Some(d) = duration_nanos(duration) else {
            return None;
        };
        match self.nanos.checked_sub(d) {
            Some(nanos) => Some(Instant { nanos }),
            None => None,
        }
    }

    /// `self + duration`, [`Instant::MAX`] past the end of the range.
    pub const fn saturating_add(self, duration: Duration) -> Instant {
        match self.checked_add(duration) {
            Some(i) => i,
            None => Instant::MAX,
        }
    }

    /// `self - duration`, [`Instant::ZERO`] before the clock's start.
    pub const fn saturating_sub(self, duration: Duration) -> Instant {
        match self.checked_sub(duration) {
            Some(i) => i,
            None => Instant::ZERO,
        }
    }
}

/// A duration in whole nanoseconds, if it fits in a `u64`.
const fn duration_nanos(duration: Duration) -> Option<u64> {
    let nanos = duration.as_nanos();
    if nanos > u64::MAX as u128 {
        None
    } else {
        Some(nanos as u64)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// Saturates at [`Instant::MAX`].
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// Saturates at [`Instant::ZERO`].
    fn sub(self, rhs: Duration) -> Instant {
        self.saturating_sub(rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Zero if `rhs` is later.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", Duration::from_nanos(self.nanos))
    }
}
