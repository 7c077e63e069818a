//! I/O: the reactor, readiness types, and the byte-stream traits.
//!
//! pollen's byte streams implement [`AsyncRead`] and [`AsyncWrite`] from
//! `futures-io`, so the futures ecosystem's adapters and codecs plug in.
//!
//! # The reactor
//!
//! Each runtime owns a `mio::Poll`. Every socket registers once, and gets a
//! slab slot holding its readiness bits and two waker slots (read and
//! write), so a task reading a socket and another writing it never overwrite
//! each other's waker. Tokens carry a generation: an event that arrives for
//! a socket already dropped is ignored, even if its slot was reused.
//! Edge-triggered: an operation runs until it would block, and only then is
//! the readiness cleared and the task parked.

pub(crate) mod driver;
mod duplex;
pub(crate) mod park;
mod ready;
pub(crate) mod registration;
mod scheduled_io;

pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
/// The extension methods people expect (`read`, `read_exact`, `write_all`,
/// `read_line`, ...), buffered adapters and `copy`, from `futures-lite`:
/// they work on every `futures-io` stream, pollen's and others'.
pub use futures_lite::io::{
    AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter, Cursor, copy, empty,
    repeat, sink,
};

pub use self::duplex::{DuplexStream, duplex};
pub use self::ready::{Interest, Ready};
