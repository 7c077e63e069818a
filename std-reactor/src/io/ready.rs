//! `Ready` and `Interest`: what an I/O source is ready for, and what a
//! caller waits for.

use std::fmt;
use std::ops;

/// Readiness of an I/O source: a set of events the reactor has seen.
///
/// Returned by `ready()` on sockets. Readiness is a hint: an operation may
/// still find the source not ready (and return `WouldBlock`), after which
/// pollen clears the readiness and waits for the next event.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready(u8);

impl Ready {
    /// No readiness.
    pub const EMPTY: Ready = Ready(0);
    /// The source can be read from.
    pub const READABLE: Ready = Ready(0b0_0001);
    /// The source can be written to.
    pub const WRITABLE: Ready = Ready(0b0_0010);
    /// The read half is closed (the peer shut down its write half).
    pub const READ_CLOSED: Ready = Ready(0b0_0100);
    /// The write half is closed.
    pub const WRITE_CLOSED: Ready = Ready(0b0_1000);
    /// An error is pending on the source.
    pub const ERROR: Ready = Ready(0b1_0000);

    /// Every readiness bit.
    pub(crate) const ALL: Ready = Ready(0b1_1111);

    pub(crate) const fn from_bits(bits: u8) -> Ready {
        Ready(bits & Self::ALL.0)
    }

    pub(crate) const fn bits(self) -> u8 {
        self.0
    }

    pub(crate) fn from_event(event: &mio::event::Event) -> Ready {
        let mut ready = Ready::EMPTY;
        if event.is_readable() {
            ready |= Ready::READABLE;
        }
        if event.is_writable() {
            ready |= Ready::WRITABLE;
        }
        if event.is_read_closed() {
            ready |= Ready::READ_CLOSED;
        }
        if event.is_write_closed() {
            ready |= Ready::WRITE_CLOSED;
        }
        if event.is_error() {
            ready |= Ready::ERROR;
        }
        ready
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the source can be read from.
    pub const fn is_readable(self) -> bool {
        self.0 & (Self::READABLE.0 | Self::READ_CLOSED.0) != 0
    }

    /// Whether the source can be written to.
    pub const fn is_writable(self) -> bool {
        self.0 & (Self::WRITABLE.0 | Self::WRITE_CLOSED.0) != 0
    }

    /// Whether the read half is closed.
    pub const fn is_read_closed(self) -> bool {
        self.0 & Self::READ_CLOSED.0 != 0
    }

    /// Whether the write half is closed.
    pub const fn is_write_closed(self) -> bool {
        self.0 & Self::WRITE_CLOSED.0 != 0
    }

    /// Whether an error is pending.
    pub const fn is_error(self) -> bool {
        self.0 & Self::ERROR.0 != 0
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }

    /// The bits of `self` that `interest` cares about (errors always).
    pub(crate) const fn intersection(self, interest: Interest) -> Ready {
        Ready(self.0 & interest.mask().0)
    }
}

impl ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl ops::BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

impl ops::Sub for Ready {
    type Output = Ready;
    fn sub(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("is_readable", &self.contains(Ready::READABLE))
            .field("is_writable", &self.contains(Ready::WRITABLE))
            .field("is_read_closed", &self.is_read_closed())
            .field("is_write_closed", &self.is_write_closed())
            .field("is_error", &self.is_error())
            .finish()
    }
}

/// What a caller waits for on an I/O source: reading, writing, or both.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Interest(u8);

impl Interest {
    /// Interest in reading.
    pub const READABLE: Interest = Interest(0b01);
    /// Interest in writing.
    pub const WRITABLE: Interest = Interest(0b10);

    /// Whether reading is of interest.
    pub const fn is_readable(self) -> bool {
        self.0 & Self::READABLE.0 != 0
    }

    /// Whether writing is of interest.
    pub const fn is_writable(self) -> bool {
        self.0 & Self::WRITABLE.0 != 0
    }

    /// Both interests.
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// The readiness bits that satisfy this interest.
    pub(crate) const fn mask(self) -> Ready {
        let mut bits = Ready::ERROR.0;
        if self.is_readable() {
            bits |= Ready::READABLE.0 | Ready::READ_CLOSED.0;
        }
        if self.is_writable() {
            bits |= Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0;
        }
        Ready(bits)
    }

    pub(crate) fn to_mio(self) -> mio::Interest {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => mio::Interest::READABLE | mio::Interest::WRITABLE,
            (false, true) => mio::Interest::WRITABLE,
            _ => mio::Interest::READABLE,
        }
    }
}

impl ops::BitOr for Interest {
    type Output = Interest;
    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (false, false) => f.write_str("(none)"),
        }
    }
}
