//! `Interval`: ticks at a fixed period.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use super::timer::TimerHandle;
use super::{Instant, Sleep};

/// What an [`Interval`] does when ticks were missed (the task was busy, or
/// the executor was, past one or more tick deadlines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Catch up: the missed ticks complete at once, one per `tick()`, then
    /// the original schedule goes on. (The default, as in tokio.)
    #[default]
    Burst,
    /// Start over: the next tick is one period after the late one completed.
    Delay,
    /// Skip the missed ticks: the next tick is the next one on the original
    /// schedule that lies in the future.
    Skip,
}

/// Ticks at `start`, then every `period`; made by
/// [`Timer::interval`](super::Timer::interval) or
/// [`Timer::interval_at`](super::Timer::interval_at).
///
/// [`tick`](Interval::tick) waits for the next tick and returns its
/// scheduled instant. The `Interval` itself holds no timer entry, only the
/// schedule; each `tick()` future carries its own, so an `Interval` is
/// `Unpin` and needs no heap.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "std")] {
/// use core::time::Duration;
/// use pollen_core::executor::{Executor, StdPark};
/// use pollen_core::sync::SpinRawMutex;
/// use pollen_core::time::{Instant, ManualClock, Timer, TimerPark};
///
/// static EXECUTOR: Executor = Executor::new();
/// static TIMER: Timer<ManualClock, SpinRawMutex> = Timer::new(ManualClock::new());
/// static THREAD: StdPark = StdPark::new();
/// static PARK: TimerPark<ManualClock, SpinRawMutex, StdPark> = TimerPark::new(&TIMER, &THREAD);
///
/// EXECUTOR.block_on(&PARK, async {
///     let mut every = TIMER.interval(Duration::from_millis(500));
///     assert_eq!(every.tick().await, Instant::ZERO); // at once
///     assert_eq!(every.tick().await, Instant::from_millis(500));
///     assert_eq!(every.tick().await, Instant::from_millis(1000));
/// });
/// # }
/// ```
pub struct Interval {
    timer: &'static dyn TimerHandle,
    /// The scheduled instant of the next tick.
    next: Instant,
    period: Duration,
    missed: MissedTickBehavior,
}

/// The future of [`Interval::tick`]: the next tick's scheduled instant.
///
/// # Cancel safety
///
/// Dropping it before it completes loses no tick: the next `tick()` waits
/// for the same one.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Tick<'a> {
    interval: &'a mut Interval,
    sleep: Sleep,
}

// === impl Interval ===

impl Interval {
    pub(crate) fn new(
        timer: &'static dyn TimerHandle,
        start: Instant,
        period: Duration,
    ) -> Interval {
        assert!(
            !period.is_zero(),
            "pollen: an Interval's period must not be zero"
        );
        Interval {
            timer,
            next: start,
            period,
            missed: MissedTickBehavior::default(),
        }
    }

    /// Waits for the next tick and returns the instant it was scheduled
    /// for (which may be earlier than now, after missed ticks).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`Tick`].
    pub fn tick(&mut self) -> Tick<'_> {
        let sleep = Sleep::new(self.timer, self.next);
        Tick {
            interval: self,
            sleep,
        }
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.next = self.timer.now().saturating_add(self.period);
    }

    /// Makes the next tick come at once, then the schedule goes on from
    /// there.
    pub fn reset_immediately(&mut self) {
        self.next = self.timer.now();
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What happens to missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The tick scheduled at `scheduled` completed at `now`: plans the next.
    fn advance(&mut self, scheduled: Instant, now: Instant) {
        let on_schedule = scheduled.saturating_add(self.period);
        self.next = match self.missed {
            MissedTickBehavior::Burst => on_schedule,
            MissedTickBehavior::Delay => now.saturating_add(self.period),
            MissedTickBehavior::Skip if on_schedule > now => on_schedule,
            MissedTickBehavior::Skip => {
                let period = self.period.as_nanos();
                let behind = (now - scheduled).as_nanos();
                let periods = behind / period + 1;
                let ahead = u64::try_from(periods * period).unwrap_or(u64::MAX);
                scheduled.saturating_add(Duration::from_nanos(ahead))
            }
        };
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("next", &self.next)
            .field("period", &self.period)
            .field("missed_tick_behavior", &self.missed)
            .finish_non_exhaustive()
    }
}

// === impl Tick ===

impl Future for Tick<'_> {
    type Output = Instant;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Instant> {
        // SAFETY: `sleep` is structurally pinned (never moved out; `Tick`
        // has no `Drop` and is not `repr(packed)`); `interval` is a plain
        // reference, not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let sleep = unsafe { Pin::new_unchecked(&mut this.sleep) };
        match sleep.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let scheduled = this.sleep.deadline();
                let now = this.interval.timer.now();
                this.interval.advance(scheduled, now);
                Poll::Ready(scheduled)
            }
        }
    }
}

impl fmt::Debug for Tick<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tick").field("sleep", &self.sleep).finish()
    }
}
