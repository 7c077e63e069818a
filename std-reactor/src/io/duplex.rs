//! `duplex`: an in-memory byte pipe in both directions, for tests.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::{AsyncRead, AsyncWrite};

/// A pair of connected in-memory streams: what one writes, the other reads.
///
/// Each direction buffers at most `max_buf_size` bytes: a writer facing a
/// full buffer waits for the reader (backpressure, as with a socket).
/// Closing one end ([`AsyncWriteExt::close`](crate::io::AsyncWriteExt::close)
/// or dropping it) gives the other end EOF after the buffered bytes; writing
/// to an end whose peer is dropped fails with `BrokenPipe`.
///
/// Handy for testing protocol code without sockets: it needs no runtime.
///
/// # Panics
///
/// If `max_buf_size` is zero.
///
/// # Examples
///
/// ```
/// use pollen::io::{AsyncReadExt, AsyncWriteExt, duplex};
///
/// # let runtime = pollen::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let (mut client, mut server) = duplex(64);
/// client.write_all(b"ping").await?;
/// let mut buf = [0; 4];
/// server.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ping");
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub fn duplex(max_buf_size: usize) -> (DuplexStream, DuplexStream) {
    assert!(
        max_buf_size > 0,
        "pollen: duplex buffer size must be at least 1"
    );
    let one = Arc::new(Mutex::new(Pipe::new(max_buf_size)));
    let two = Arc::new(Mutex::new(Pipe::new(max_buf_size)));
    (
        DuplexStream {
            read: one.clone(),
            write: two.clone(),
        },
        DuplexStream {
            read: two,
            write: one,
        },
    )
}

/// One end of a [`duplex`] pipe.
pub struct DuplexStream {
    read: Arc<Mutex<Pipe>>,
    write: Arc<Mutex<Pipe>>,
}

/// One direction: bytes written and not yet read.
struct Pipe {
    buf: VecDeque<u8>,
    max: usize,
    /// The writing end closed (or was dropped): EOF after `buf`.
    write_closed: bool,
    /// The reading end was dropped: writes fail.
    read_closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Pipe {
    fn new(max: usize) -> Pipe {
        Pipe {
            buf: VecDeque::new(),
            max,
            write_closed: false,
            read_closed: false,
            reader: None,
            writer: None,
        }
    }
}

fn lock(pipe: &Mutex<Pipe>) -> MutexGuard<'_, Pipe> {
    // A pipe is consistent after any critical section here.
    pipe.lock().unwrap_or_else(|e| e.into_inner())
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl AsyncRead for DuplexStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut pipe = lock(&self.read);
        if pipe.buf.is_empty() {
            if pipe.write_closed || buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            pipe.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(pipe.buf.len());
        for (slot, byte) in buf.iter_mut().zip(pipe.buf.drain(..n)) {
            *slot = byte;
        }
        let writer = pipe.writer.take();
        drop(pipe);
        wake(writer);
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for DuplexStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut pipe = lock(&self.write);
        if pipe.read_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if pipe.write_closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "pollen: write after close on a duplex stream",
            )));
        }
        let room = pipe.max - pipe.buf.len();
        if room == 0 {
            pipe.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        pipe.buf.extend(&buf[..n]);
        let reader = pipe.reader.take();
        drop(pipe);
        wake(reader);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut pipe = lock(&self.write);
        pipe.write_closed = true;
        let reader = pipe.reader.take();
        drop(pipe);
        wake(reader);
        Poll::Ready(Ok(()))
    }
}

impl Drop for DuplexStream {
    fn drop(&mut self) {
        let reader = {
            let mut pipe = lock(&self.write);
            pipe.write_closed = true;
            pipe.reader.take()
        };
        wake(reader);
        let writer = {
            let mut pipe = lock(&self.read);
            pipe.read_closed = true;
            pipe.writer.take()
        };
        wake(writer);
    }
}

impl fmt::Debug for DuplexStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuplexStream")
            .field("readable_bytes", &lock(&self.read).buf.len())
            .field("max_buf_size", &lock(&self.write).max)
            .finish()
    }
}
