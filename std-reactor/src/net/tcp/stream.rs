//! `TcpStream`.

use std::fmt;
use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::task::{Context, Poll};

use crate::io::registration::PollEvented;
use crate::io::{Interest, Ready};
use crate::net::ToSocketAddrs;
use crate::net::addr::each_addr;

use super::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};

/// A TCP connection.
///
/// Reading and writing go through [`AsyncRead`](crate::io::AsyncRead) and [`AsyncWrite`](crate::io::AsyncWrite)
/// (implemented for `TcpStream` and `&TcpStream`, so one task can read while
/// another writes); bring [`AsyncReadExt`](crate::io::AsyncReadExt) and
/// [`AsyncWriteExt`](crate::io::AsyncWriteExt) into scope for `read`,
/// `read_exact`, `write_all`, `flush` and `close`.
///
/// Closing the write direction ([`AsyncWriteExt::close`](crate::io::AsyncWriteExt::close),
/// or [`shutdown`](Self::shutdown)) sends FIN; the connection itself closes
/// when the stream is dropped.
///
/// # Examples
///
/// ```
/// use pollen::io::{AsyncReadExt, AsyncWriteExt};
/// use pollen::net::{TcpListener, TcpStream};
///
/// # let runtime = pollen::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let mut client = TcpStream::connect(listener.local_addr()?).await?;
/// let (mut server, _) = listener.accept().await?;
///
/// client.write_all(b"ping").await?;
/// client.close().await?; // FIN: the server reads to the end
/// let mut received = Vec::new();
/// server.read_to_end(&mut received).await?;
/// assert_eq!(received, b"ping");
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct TcpStream {
    io: PollEvented<mio::net::TcpStream>,
}

// === impl TcpStream ===

impl TcpStream {
    /// Connects to `addr` (each address it resolves to is tried in turn).
    ///
    /// # Errors
    ///
    /// The last address's error (refused, unreachable, ...); or if the
    /// thread is not in a runtime with I/O enabled.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped connect closes its half-open socket.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr, TcpStream::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connecting(mio::net::TcpStream::connect(addr)?).await
    }

    /// Waits for `stream`, whose non-blocking connect has begun, to
    /// connect.
    pub(crate) async fn connecting(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(stream)?;
        std::future::poll_fn(|cx| stream.poll_connected(cx)).await?;
        Ok(stream)
    }

    /// Completes a non-blocking connect: writable means it either connected
    /// or failed.
    fn poll_connected(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let event = match self.io.registration().poll_ready(cx, Interest::WRITABLE) {
                Poll::Ready(event) => event?,
                Poll::Pending => return Poll::Pending,
            };
            if let Some(e) = self.io.io().take_error()? {
                return Poll::Ready(Err(e));
            }
            match self.io.io().peer_addr() {
                Ok(_) => return Poll::Ready(Ok(())),
                // Not there yet (a spurious wake-up): wait for the next edge.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    self.io.registration().clear_readiness(event);
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    pub(crate) fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: PollEvented::new(stream)?,
        })
    }

    /// Wraps a connected std stream (made non-blocking here).
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    /// Gives back the std stream (still non-blocking).
    ///
    /// # Errors
    ///
    /// If deregistering from the reactor fails.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        use std::os::fd::{FromRawFd, IntoRawFd};
        let fd = self.io.into_inner()?.into_raw_fd();
        // SAFETY: `fd` was just released by the mio stream, which owned it,
        // so the std stream becomes its only owner.
        Ok(unsafe { std::net::TcpStream::from_raw_fd(fd) })
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` once the peer has gone, or what `getpeername(2)`
    /// reports.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().peer_addr()
    }

    /// Turns Nagle's algorithm off (`true`) or on: with it off, small
    /// writes go out at once instead of waiting to be coalesced.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.io().set_nodelay(nodelay)
    }

    /// Whether Nagle's algorithm is off.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.io().nodelay()
    }

    /// Sets the IP time-to-live of the connection's packets.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.io().set_ttl(ttl)
    }

    /// The IP time-to-live.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.io().ttl()
    }

    /// Shuts down the read direction, the write direction (sends FIN), or
    /// both; see `std::net::TcpStream::shutdown`.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the peer has already gone.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.io().shutdown(how)
    }

    /// Reads into `buf` without taking the data from the socket's queue:
    /// the next read returns it again. Waits until data (or EOF) is there.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is consumed.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_peek(cx, buf)).await
    }

    /// The poll form of [`peek`](Self::peek).
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_io(cx, Interest::READABLE, || self.io.io().peek(buf))
    }

    /// Waits until the stream is ready for `interest`; returns what it is
    /// ready for. Readiness is a hint: a `try_read` may still find nothing
    /// and return `WouldBlock` (then wait again).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.registration().ready(interest).await
    }

    /// Waits until the stream may be readable; see [`ready`](Self::ready).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(drop)
    }

    /// Waits until the stream may be writable; see [`ready`](Self::ready).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(drop)
    }

    /// Reads what is there without waiting; `WouldBlock` if nothing is.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or what `read(2)` reports.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::Read;
        self.io
            .registration()
            .try_io(Interest::READABLE, || (&mut self.io.io()).read(buf))
    }

    /// Writes what fits without waiting; `WouldBlock` if nothing does.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or what `write(2)` reports.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        use std::io::Write;
        self.io
            .registration()
            .try_io(Interest::WRITABLE, || (&mut self.io.io()).write(buf))
    }

    /// Splits the stream into a reading and a writing half that borrow it,
    /// for a reader and a writer in one task (in a `select!` or `join!`).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split::split(self)
    }

    /// Splits the stream into owned halves that can move to different
    /// tasks; [`OwnedReadHalf::reunite`] puts them back together. Dropping
    /// the write half shuts down the write direction (sends FIN).
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::into_split(self)
    }

    pub(crate) fn poll_read_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_read(cx, buf)
    }

    pub(crate) fn poll_write_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, buf)
    }

    pub(crate) fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_vectored(cx, bufs)
    }

    /// `poll_close`: shuts down the write direction. A peer that already
    /// went away leaves nothing to close, which is not an error.
    pub(crate) fn poll_close_priv(&self) -> Poll<io::Result<()>> {
        match self.shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            result => Poll::Ready(result),
        }
    }
}

byte_stream_io!(TcpStream, &TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl std::os::fd::AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.io().as_raw_fd()
    }
}
