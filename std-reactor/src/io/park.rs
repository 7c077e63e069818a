//! The park protocol between the thread that drives the reactor and
//! everyone who hands it work.
//!
//! The driving thread sleeps inside the poller (`epoll_wait`); a task woken
//! from another thread, or a spawn through a `Handle`, must interrupt that
//! sleep, and must never be lost in the gap between the driver's last look
//! at its run queue and the moment it blocks. Interrupting the poller is a
//! system call (`mio::Waker::wake` writes an eventfd), so it should happen
//! only when the driver really sleeps: a wake from the driving thread itself
//! (one task waking another) costs one atomic swap.
//!
//! # Protocol
//!
//! One word, `state`, with three values: `EMPTY`, `PARKED` (the driver is
//! in, or about to enter, the blocking poll) and `NOTIFIED` (work was handed
//! over since the driver last reset the word).
//!
//! The driver, each round:
//! 1. [`reset`](ParkState::reset): swaps in `EMPTY` (acquire), so work handed
//!    over before any `unpark` it erases is visible to it;
//! 2. looks at its run queue (and runs what it finds);
//! 3. if there was nothing, [`try_park`](ParkState::try_park): a
//!    compare-and-swap `EMPTY → PARKED`. It fails if an `unpark` came after
//!    step 1, and then the driver polls without blocking instead;
//! 4. polls, then [`unparked`](ParkState::unparked) swaps `EMPTY` back.
//!
//! Everyone else: hand the work over first (push to the queue), then
//! [`unpark`](ParkState::unpark): swap in `NOTIFIED`; only if the old value
//! was `PARKED` wake the poller.
//!
//! # Why no wake-up is lost
//!
//! An `unpark` is ordered against the driver's swap in step 1. If it comes
//! first, the driver's acquire sees the pushed work in step 2. If it comes
//! after, either it finds `EMPTY` and leaves `NOTIFIED`, so step 3 fails and
//! the driver does not block, or it finds `PARKED` and wakes the poller,
//! whose blocking poll then returns (a poller wake-up is a token: one that
//! arrives before the poll starts makes it return at once). The model at the
//! bottom of this file checks this with a poller modelled by a token.

use crate::loom::atomic::{AtomicU8, Ordering};

const EMPTY: u8 = 0;
const PARKED: u8 = 1;
const NOTIFIED: u8 = 2;

/// Interrupts a blocking poll: `mio::Waker`, or a model of it.
pub(crate) trait WakePoller {
    /// Makes the current or next blocking poll return.
    fn wake_poller(&self);
}

/// The park word; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct ParkState<W> {
    state: AtomicU8,
    waker: W,
}

// === impl ParkState ===

impl<W: WakePoller> ParkState<W> {
    pub(crate) fn new(waker: W) -> ParkState<W> {
        ParkState {
            state: AtomicU8::new(EMPTY),
            waker,
        }
    }

    /// Step 1: forgets earlier notifications, whose work the caller is about
    /// to look at.
    #[inline]
    pub(crate) fn reset(&self) {
        // A load first keeps the common case (nothing happened) to a read:
        // an `unpark` that this load misses comes later in the word's
        // modification order, so `try_park`'s compare-and-swap sees it.
        if self.state.load(Ordering::Relaxed) != EMPTY {
            self.state.swap(EMPTY, Ordering::AcqRel);
        }
    }

    /// Step 3: whether the caller may block in the poller. `false` means an
    /// `unpark` came since [`reset`](Self::reset): poll without blocking.
    #[inline]
    pub(crate) fn try_park(&self) -> bool {
        self.state
            .compare_exchange(EMPTY, PARKED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Step 4: the poll returned.
    #[inline]
    pub(crate) fn unparked(&self) {
        self.state.swap(EMPTY, Ordering::AcqRel);
    }

    /// Tells the driver there is work, waking the poller only if the driver
    /// blocks in it. Call it after handing the work over.
    #[inline]
    pub(crate) fn unpark(&self) {
        // Always a swap, never a load-and-return when it reads `NOTIFIED`:
        // a plain load does not order our push before the driver's reset.
        if self.state.swap(NOTIFIED, Ordering::AcqRel) == PARKED {
            self.waker.wake_poller();
        }
    }

    /// The poller waker.
    pub(crate) fn waker(&self) -> &W {
        &self.waker
    }
}

#[cfg(test)]
mod tests;
