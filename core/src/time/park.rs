//! `TimerPark`: a park that fires a timer's timers and sleeps until the
//! next one.

use core::fmt;

use super::{Clock, Timer};
use crate::executor::{Park, ParkTimeout, park_waker};
use crate::sync::RawMutex;

/// A [`Park`] for an executor whose tasks use `timer`: it fires due timers
/// on every round, and when the executor is idle it sleeps on `park` until
/// the next deadline, or until woken.
///
/// With a [`ManualClock`](super::ManualClock) that auto-advances, an idle
/// executor does not sleep for a timer at all: the clock jumps to the
/// deadline (virtual time). Time then moves only while every task of this
/// executor waits; a wake-up from another thread at the same moment may
/// find the clock already moved on, never past a timer's deadline.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "std")] {
/// use core::time::Duration;
/// use pollen_core::executor::{Executor, StdPark};
/// use pollen_core::sync::SpinRawMutex;
/// use pollen_core::time::{ManualClock, Timer, TimerPark};
///
/// static EXECUTOR: Executor = Executor::new();
/// static TIMER: Timer<ManualClock, SpinRawMutex> = Timer::new(ManualClock::new());
/// static THREAD: StdPark = StdPark::new();
/// static PARK: TimerPark<ManualClock, SpinRawMutex, StdPark> = TimerPark::new(&TIMER, &THREAD);
///
/// let order = EXECUTOR.block_on(&PARK, async {
///     let c = EXECUTOR.spawn(async { TIMER.sleep(Duration::from_secs(3)).await; 'C' });
///     let a = EXECUTOR.spawn(async { TIMER.sleep(Duration::from_secs(1)).await; 'A' });
///     let b = EXECUTOR.spawn(async { TIMER.sleep(Duration::from_secs(2)).await; 'B' });
///     [a.await.unwrap(), b.await.unwrap(), c.await.unwrap()]
/// });
/// assert_eq!(order, ['A', 'B', 'C']);
/// assert_eq!(TIMER.now().as_millis(), 3_000); // three virtual seconds
/// # }
/// ```
pub struct TimerPark<C: 'static, M: 'static, P: 'static> {
    timer: &'static Timer<C, M>,
    park: &'static P,
}

// === impl TimerPark ===

impl<C, M, P> TimerPark<C, M, P> {
    /// Fires `timer`'s timers and sleeps on `park`.
    pub const fn new(timer: &'static Timer<C, M>, park: &'static P) -> Self {
        TimerPark { timer, park }
    }
}

impl<C, M, P> Park for TimerPark<C, M, P>
where
    C: Clock + 'static,
    M: RawMutex + Sync + 'static,
    P: ParkTimeout,
{
    fn park(&self) {
        // An earlier timer armed while we sleep (from another thread or an
        // interrupt) wakes us to plan again.
        self.timer.register_deadline_waker(&park_waker(self.park));
        if self.timer.process() > 0 {
            // Tasks were woken: the executor has work.
            return;
        }
        let Some(deadline) = self.timer.next_deadline() else {
            self.park.park();
            return;
        };
        if !self.timer.clock().auto_advance_to(deadline) {
            let now = self.timer.now();
            if deadline > now {
                self.park.park_timeout(deadline - now);
            }
        }
        self.timer.process();
    }

    fn unpark(&self) {
        self.park.unpark();
    }

    fn turn(&self) {
        self.timer.process();
    }
}

impl<C: fmt::Debug, M, P: fmt::Debug> fmt::Debug for TimerPark<C, M, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerPark")
            .field("timer", self.timer)
            .field("park", self.park)
            .finish()
    }
}
