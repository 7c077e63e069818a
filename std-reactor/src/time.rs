//! Time: everything in [`pollen_core::time`], plus the operating system's
//! monotonic clock.

pub use pollen_core::time::*;

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

/// The operating system's monotonic clock (`std::time::Instant`), in
/// microsecond ticks from its first use.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pollen::executor::{Executor, StdPark};
/// use pollen::sync::StdRawMutex;
/// use pollen::time::{StdClock, Timer, TimerPark};
///
/// static EXECUTOR: Executor = Executor::new();
/// static TIMER: Timer<StdClock, StdRawMutex> = Timer::new(StdClock::new());
/// static THREAD: StdPark = StdPark::new();
/// static PARK: TimerPark<StdClock, StdRawMutex, StdPark> = TimerPark::new(&TIMER, &THREAD);
///
/// let slept = EXECUTOR.block_on(&PARK, async {
///     let start = std::time::Instant::now();
///     TIMER.sleep(Duration::from_millis(5)).await;
///     start.elapsed()
/// });
/// assert!(slept >= Duration::from_millis(5));
/// ```
#[derive(Debug, Default)]
pub struct StdClock {
    start: OnceLock<std::time::Instant>,
}

impl StdClock {
    /// A clock that starts counting at its first reading.
    pub const fn new() -> StdClock {
        StdClock {
            start: OnceLock::new(),
        }
    }
}

impl Clock for StdClock {
    fn now_ticks(&self) -> u64 {
        let start = *self.start.get_or_init(std::time::Instant::now);
        u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn tick_nanos(&self) -> u64 {
        1_000
    }
}

use crate::runtime::context;
use crate::runtime::shared::RuntimeTimer;

/// The current runtime's timers.
#[track_caller]
fn timer() -> &'static RuntimeTimer {
    match context::current() {
        Some(shared) => shared.timer(),
        None => panic!(
            "pollen: there is no runtime on this thread: timers must be used inside a pollen \
             runtime with time enabled (in `block_on`, a task, or after `Handle::enter`)"
        ),
    }
}

/// Waits until `duration` has elapsed on the current runtime's clock.
///
/// See [`Sleep`] for details; `Sleep::reset` moves the deadline.
///
/// # Panics
///
/// Outside a runtime with time enabled.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future disarms the timer.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # let runtime = pollen::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// # runtime.block_on(async {
/// pollen::time::sleep(Duration::from_millis(10)).await;
/// # });
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    timer().sleep(duration)
}

/// Waits until `deadline` on the current runtime's clock (at once if it has
/// passed).
///
/// # Panics
///
/// Outside a runtime with time enabled.
///
/// # Cancel safety
///
/// Cancel safe, like [`sleep`].
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    timer().sleep_until(deadline)
}

/// Runs `future` for at most `duration`: its output, or [`Elapsed`].
///
/// # Panics
///
/// Outside a runtime with time enabled.
///
/// # Cancel safety
///
/// As cancel safe as `future` is.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # let runtime = pollen::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// # runtime.block_on(async {
/// let never = std::future::pending::<()>();
/// assert!(pollen::time::timeout(Duration::from_millis(5), never).await.is_err());
/// # });
/// ```
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timer().timeout(duration, future)
}

/// Runs `future` until `deadline` at most.
///
/// # Panics
///
/// Outside a runtime with time enabled.
///
/// # Cancel safety
///
/// As cancel safe as `future` is.
#[track_caller]
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    timer().timeout_at(deadline, future)
}

/// An [`Interval`] on the current runtime that ticks now, then every
/// `period`.
///
/// # Panics
///
/// Outside a runtime with time enabled, or if `period` is zero.
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    timer().interval(period)
}

/// An [`Interval`] on the current runtime that ticks at `start`, then every
/// `period`.
///
/// # Panics
///
/// Outside a runtime with time enabled, or if `period` is zero.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    timer().interval_at(start, period)
}

/// The current runtime's time: the [`Instant`] timers compare against
/// (what `tokio::time::Instant::now()` is in tokio). Virtual while the
/// clock is paused.
///
/// # Panics
///
/// Outside a runtime with time enabled.
#[track_caller]
pub fn now() -> Instant {
    timer().now()
}

/// Pauses the current runtime's clock: time stands still until
/// [`advance`] or [`resume`], and jumps to the next timer whenever every
/// task waits (auto-advance). For tests.
///
/// # Panics
///
/// Outside a runtime with time enabled.
#[track_caller]
pub fn pause() {
    timer().clock().pause();
}

/// Resumes a paused clock from where it stands.
///
/// # Panics
///
/// Outside a runtime with time enabled.
#[track_caller]
pub fn resume() {
    timer().clock().resume();
}

/// Moves a paused clock forward by `duration` and fires the timers that
/// became due; their tasks run when the caller next yields.
///
/// # Panics
///
/// Outside a runtime with time enabled, or if the clock is not paused.
#[track_caller]
pub fn advance(duration: Duration) {
    let timer = timer();
    timer.clock().advance(duration);
    timer.process();
}
