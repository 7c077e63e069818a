//! Time: everything in [`pollen_core::time`], plus the operating system's
//! monotonic clock.

pub use pollen_core::time::*;

use std::sync::OnceLock;

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
