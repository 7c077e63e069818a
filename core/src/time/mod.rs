//! Time: a [`Clock`] trait, a hierarchical timer wheel behind the
//! embedder's lock ([`Timer`]), and the futures built on it: [`Sleep`],
//! [`Timeout`], [`Interval`].
//!
//! # Design
//!
//! - **Time is a trait.** A [`Clock`] gives ticks since it started and the
//!   tick's length: a SysTick counter, a hardware timer, the OS monotonic
//!   clock, or [`ManualClock`] (virtual time, for tests); any of them can be
//!   paused, moved and resumed through [`PausableClock`]. [`Instant`] is
//!   nanoseconds since the clock's start.
//! - **One timer wheel per clock**, in a `static`: [`Timer<C, M>`], six
//!   levels of 64 slots counting in the clock's ticks, guarded by a
//!   [`RawMutex`](crate::sync::RawMutex) `M` the embedder picks. Arming and
//!   cancelling are O(1); a deadline more than 2^36 ticks away still fires
//!   on time.
//! - **No allocation.** A timer's entry lives inside its future; the first
//!   poll links it into the wheel, dropping the future unlinks it.
//! - **The embedder drives it.** [`Timer::process`] fires what is due (from
//!   a timer interrupt, or between executor rounds), and
//!   [`Timer::next_deadline`] says how long the platform may sleep.
//!   [`TimerPark`] does both for a core [`Executor`](crate::executor::Executor).
//!
//! # Guarantees
//!
//! - A timer never fires before its deadline (rounded up to the clock's
//!   tick), and fires at the first `process` after it.
//! - `process` fires due timers in deadline order and wakes each task once,
//!   outside the lock. The task woken is the one that polled the timer last.
//! - No lost wake-ups: a fire that races a poll is seen by that poll or
//!   wakes the waker it registered.
//!
//! Timers are created from a timer: `TIMER.sleep(d)`, `TIMER.timeout(d, f)`,
//! `TIMER.interval(p)`.

mod clock;
mod entry;
mod error;
mod interval;
#[cfg(target_has_atomic = "64")]
mod manual;
mod park;
#[cfg(target_has_atomic = "64")]
mod pausable;
mod sleep;
mod timeout;
mod timer;
mod wheel;

#[cfg(all(test, feature = "alloc", target_has_atomic = "64"))]
mod loom_tests;

pub use self::clock::{Clock, Instant};
pub use self::error::Elapsed;
pub use self::interval::{Interval, MissedTickBehavior, Tick};
#[cfg(target_has_atomic = "64")]
pub use self::manual::ManualClock;
pub use self::park::TimerPark;
#[cfg(target_has_atomic = "64")]
pub use self::pausable::PausableClock;
pub use self::sleep::Sleep;
pub use self::timeout::Timeout;
pub use self::timer::Timer;
