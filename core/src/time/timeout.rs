//! `Timeout`: a future with a deadline.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::error::Elapsed;
use super::{Instant, Sleep};

/// Runs a future until a deadline; made by
/// [`Timer::timeout`](super::Timer::timeout) or
/// [`Timer::timeout_at`](super::Timer::timeout_at).
///
/// Completes with `Ok(output)` if the future completes first, or
/// `Err(Elapsed)` once the deadline is reached; the future is then dropped
/// with the `Timeout`. The future is polled before the deadline is checked,
/// so a future that is ready wins even if the deadline has passed.
///
/// # Cancel safety
///
/// As cancel safe as the inner future: dropping the `Timeout` drops it.
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
/// EXECUTOR.block_on(&PARK, async {
///     let slow = TIMER.sleep(Duration::from_secs(10));
///     let res = TIMER.timeout(Duration::from_millis(100), slow).await;
///     assert!(res.is_err());
///     let quick = TIMER.sleep(Duration::from_millis(100));
///     assert_eq!(TIMER.timeout(Duration::from_secs(10), quick).await, Ok(()));
/// });
/// # }
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

// === impl Timeout ===

impl<F> Timeout<F> {
    pub(crate) fn new(future: F, sleep: Sleep) -> Timeout<F> {
        Timeout { future, sleep }
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }

    /// The inner future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The inner future, mutably (it is not pinned).
    pub fn get_mut(&mut self) -> &mut F
    where
        F: Unpin,
    {
        &mut self.future
    }

    /// The inner future, dropping the deadline.
    pub fn into_inner(self) -> F
    where
        F: Unpin,
    {
        self.future
    }

    fn project(self: Pin<&mut Self>) -> (Pin<&mut F>, Pin<&mut Sleep>) {
        // SAFETY: both fields are structurally pinned: `Timeout` has no
        // `Drop`, moves neither out while pinned (`into_inner` needs
        // `F: Unpin`, and `Sleep` is never handed out unpinned), is not
        // `repr(packed)`, and is `Unpin` only if both are (auto trait).
        unsafe {
            let this = self.get_unchecked_mut();
            (
                Pin::new_unchecked(&mut this.future),
                Pin::new_unchecked(&mut this.sleep),
            )
        }
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (future, sleep) = self.project();
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::new())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("sleep", &self.sleep)
            .finish_non_exhaustive()
    }
}
