//! `Sleep`: a future that completes at a deadline.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::Instant;
use super::entry::Entry;
use super::timer::TimerHandle;

/// A future that completes at its deadline; made by
/// [`Timer::sleep`](super::Timer::sleep) or
/// [`Timer::sleep_until`](super::Timer::sleep_until).
///
/// Its timer entry lives inside the future, so arming it never allocates:
/// the first poll puts it in the timer's wheel, and dropping the `Sleep`
/// takes it out. The deadline is fixed when the `Sleep` is made, not when
/// it is first polled. A deadline already passed when the `Sleep` is made
/// completes on the first poll; one that passes before the first poll
/// completes then, or at the timer's next `process`. The task that polled it last is the one woken, even if it moved to
/// another worker between polls.
///
/// # Cancel safety
///
/// Dropping a `Sleep` before it completes loses nothing; a new one for the
/// same deadline completes at the same time.
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
/// // Virtual time: when every task waits for a timer, the clock jumps.
/// let slept = EXECUTOR.block_on(&PARK, async {
///     let start = TIMER.now();
///     TIMER.sleep(Duration::from_secs(3600)).await;
///     TIMER.now() - start
/// });
/// assert_eq!(slept, Duration::from_secs(3600));
/// # }
/// ```
pub struct Sleep {
    timer: &'static dyn TimerHandle,
    deadline: Instant,
    /// `deadline` in the clock's ticks, rounded up.
    tick: u64,
    /// Whether `entry` may be in the timer's wheel (armed, or fired by it):
    /// if so, it must be disarmed before it moves or goes.
    armed: bool,
    /// Pinned: the wheel points at it while armed.
    entry: Entry,
}

// === impl Sleep ===

impl Sleep {
    pub(crate) fn new(timer: &'static dyn TimerHandle, deadline: Instant) -> Sleep {
        Sleep::with_now(timer, deadline, timer.now_tick())
    }

    /// A `Sleep` made at tick `now` (one clock reading serves both the
    /// deadline and this check). A deadline already passed is fired at
    /// once: the first poll completes without arming.
    pub(crate) fn with_now(timer: &'static dyn TimerHandle, deadline: Instant, now: u64) -> Sleep {
        let tick = timer.deadline_tick(deadline);
        let entry = Entry::new();
        if tick <= now {
            entry.set_fired();
        }
        Sleep {
            timer,
            deadline,
            tick,
            armed: false,
            entry,
        }
    }

    /// The instant this `Sleep` completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has been reached: the timer fired, or the clock
    /// is past the deadline.
    pub fn is_elapsed(&self) -> bool {
        self.entry.is_fired() || self.timer.now() >= self.deadline
    }

    /// Moves the deadline to `deadline`, whether or not the `Sleep` has
    /// completed; it completes again at the new one. The task is not woken:
    /// poll again to arm the new deadline.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        // SAFETY: the entry is not moved out; it is only disarmed and reset
        // in place.
        let this = unsafe { self.get_unchecked_mut() };
        this.disarm();
        this.entry.reset();
        this.deadline = deadline;
        this.tick = this.timer.deadline_tick(deadline);
        if this.tick <= this.timer.now_tick() {
            this.entry.set_fired();
        }
    }

    /// Takes the entry out of the wheel if it may be in it.
    fn disarm(&mut self) {
        if self.armed {
            // SAFETY: we armed the entry in this timer; it has not moved.
            unsafe { self.timer.disarm(&self.entry) };
            self.armed = false;
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let coop = core::task::ready!(crate::task::coop::poll_proceed(cx));
        let polled = self.poll_sleep(cx);
        if polled.is_ready() {
            coop.made_progress();
        }
        polled
    }
}

impl Sleep {
    /// `poll`, once the budget allowed it.
    fn poll_sleep(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: the entry is never moved out of the pinned `Sleep`; `Drop`
        // disarms it first.
        let this = unsafe { self.get_unchecked_mut() };
        if this.entry.is_fired() {
            return Poll::Ready(());
        }
        if this.armed {
            // Register first, then look: a fire in between either sees the
            // new waker or is seen here.
            this.entry.register(cx.waker());
            return if this.entry.is_fired() {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
        }
        this.entry.register(cx.waker());
        // SAFETY: the entry is in no wheel (not armed); it stays pinned
        // inside this `Sleep`, and `Drop` (or `reset`) disarms it. (A
        // deadline the wheel has already passed is refused: due now.)
        if !unsafe { this.timer.arm(&this.entry, this.tick) } {
            this.entry.set_fired();
            return Poll::Ready(());
        }
        this.armed = true;
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.disarm();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("armed", &self.armed)
            .field("fired", &self.entry.is_fired())
            .finish()
    }
}

// SAFETY: the entry's wheel links are only touched under the timer's lock,
// its flag and waker are atomic, and the timer handle is `Sync`.
unsafe impl Send for Sleep {}
// SAFETY: `&Sleep` only reads the deadline, the atomic flag and the clock.
unsafe impl Sync for Sleep {}
