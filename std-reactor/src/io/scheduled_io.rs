//! `ScheduledIo`: the reactor's record of one registered source.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use atomic_waker::AtomicWaker;

use super::{Interest, Ready};

// The readiness word: readiness bits, the driver tick that last set them,
// and a flag for a reactor that has shut down.
const READY_MASK: usize = 0xff;
const TICK_SHIFT: u32 = 8;
const TICK_MASK: usize = 0xffff << TICK_SHIFT;
const SHUTDOWN: usize = 1 << 24;

/// One registered I/O source, shared by the reactor (which sets readiness
/// and wakes) and the source's owner (which waits and clears).
///
/// It has two waker slots, one per direction, so a task reading a socket and
/// another writing it never overwrite each other's waker.
#[derive(Debug)]
pub(crate) struct ScheduledIo {
    /// See the constants above.
    readiness: AtomicUsize,
    /// The generation its token carries; a late event for an older
    /// registration in the same slot has another one and is ignored.
    generation: usize,
    reader: AtomicWaker,
    writer: AtomicWaker,
}

/// Readiness seen by a waiter, with the tick it was set at, so that clearing
/// it after `WouldBlock` cannot erase a newer event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    pub(crate) ready: Ready,
    tick: u16,
    pub(crate) is_shutdown: bool,
}

#[cfg(test)]
impl ReadyEvent {
    pub(crate) fn tick_for_tests(&self) -> u16 {
        self.tick
    }
}

// === impl ScheduledIo ===

impl ScheduledIo {
    pub(crate) fn new(generation: usize) -> ScheduledIo {
        ScheduledIo {
            readiness: AtomicUsize::new(0),
            generation,
            reader: AtomicWaker::new(),
            writer: AtomicWaker::new(),
        }
    }

    pub(crate) fn generation(&self) -> usize {
        self.generation
    }

    /// Records an event seen at driver tick `tick`, and returns the wakers
    /// to wake (the caller wakes them outside its lock).
    pub(crate) fn set_readiness(&self, tick: u16, ready: Ready, wake: &mut Vec<Waker>) {
        let tick_bits = usize::from(tick) << TICK_SHIFT;
        // Never fails: the closure always returns `Some`.
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |curr| {
                Some((curr & (READY_MASK | SHUTDOWN)) | usize::from(ready.bits()) | tick_bits)
            });
        self.take_wakers(ready, wake);
    }

    /// Marks the source as orphaned by a reactor that shut down, and wakes
    /// both directions so their waiters see the error.
    pub(crate) fn shutdown(&self, wake: &mut Vec<Waker>) {
        self.readiness.fetch_or(SHUTDOWN, Ordering::AcqRel);
        self.take_wakers(Ready::ALL, wake);
    }

    fn take_wakers(&self, ready: Ready, wake: &mut Vec<Waker>) {
        if !ready.intersection(Interest::READABLE).is_empty() {
            wake.extend(self.reader.take());
        }
        if !ready.intersection(Interest::WRITABLE).is_empty() {
            wake.extend(self.writer.take());
        }
    }

    /// The readiness for `interest` now, without waiting.
    #[inline]
    pub(crate) fn ready_event(&self, interest: Interest) -> ReadyEvent {
        let curr = self.readiness.load(Ordering::Acquire);
        ReadyEvent {
            ready: Ready::from_bits((curr & READY_MASK) as u8).intersection(interest),
            tick: ((curr & TICK_MASK) >> TICK_SHIFT) as u16,
            is_shutdown: curr & SHUTDOWN != 0,
        }
    }

    /// Waits until the source is ready for `interest` (one direction), or
    /// the reactor shut down.
    #[inline]
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<ReadyEvent> {
        let event = self.ready_event(interest);
        if !event.ready.is_empty() || event.is_shutdown {
            return Poll::Ready(event);
        }
        self.waker_slot(interest).register(cx.waker());
        // An event may have landed between the load and the registration;
        // its wake found no waker, so look again.
        let event = self.ready_event(interest);
        if !event.ready.is_empty() || event.is_shutdown {
            return Poll::Ready(event);
        }
        Poll::Pending
    }

    /// Forgets the readiness in `event` (an operation just hit
    /// `WouldBlock`) unless a newer event set it again since. The closed
    /// bits stay: a closed half does not open again.
    #[inline]
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = usize::from((event.ready - Ready::READ_CLOSED - Ready::WRITE_CLOSED).bits());
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |curr| {
                let tick = ((curr & TICK_MASK) >> TICK_SHIFT) as u16;
                (tick == event.tick).then_some(curr & !clear)
            });
    }

    fn waker_slot(&self, interest: Interest) -> &AtomicWaker {
        if interest.is_readable() {
            &self.reader
        } else {
            &self.writer
        }
    }
}
