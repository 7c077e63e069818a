//! `TcpListener`.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll, ready};

use crate::io::Interest;
use crate::io::registration::PollEvented;
use crate::net::TcpStream;
use crate::net::ToSocketAddrs;
use crate::net::addr::each_addr;

/// A TCP socket that accepts connections.
///
/// # Examples
///
/// An echo server that serves one connection:
///
/// ```
/// use pollen::io::{AsyncReadExt, AsyncWriteExt};
/// use pollen::net::{TcpListener, TcpStream};
///
/// # let runtime = pollen::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let server = pollen::spawn(async move {
///     let (mut socket, _peer) = listener.accept().await?;
///     let mut buf = [0; 5];
///     socket.read_exact(&mut buf).await?;
///     socket.write_all(&buf).await?;
///     std::io::Result::Ok(())
/// });
///
/// let mut client = TcpStream::connect(addr).await?;
/// client.write_all(b"hello").await?;
/// let mut echoed = [0; 5];
/// client.read_exact(&mut echoed).await?;
/// assert_eq!(&echoed, b"hello");
/// server.await.unwrap()?;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct TcpListener {
    io: PollEvented<mio::net::TcpListener>,
}

// === impl TcpListener ===

impl TcpListener {
    /// Binds a listener to `addr` (each address it resolves to is tried in
    /// turn). Port 0 asks the system for a free port; see
    /// [`local_addr`](Self::local_addr).
    ///
    /// # Errors
    ///
    /// If no address could be bound (in use, not permitted, ...), the
    /// last error; if the thread is not in a runtime with I/O enabled.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |addr| async move {
            TcpListener::new(mio::net::TcpListener::bind(addr)?)
        })
        .await
    }

    fn new(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: PollEvented::with_interest(listener, Interest::READABLE)?,
        })
    }

    /// Wraps a std listener (made non-blocking here).
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::new(mio::net::TcpListener::from_std(listener))
    }

    /// Gives back the std listener (still non-blocking).
    ///
    /// # Errors
    ///
    /// If deregistering from the reactor fails.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        let listener = self.io.into_inner()?;
        Ok(into_std_listener(listener))
    }

    /// Waits for a connection; returns it with the peer's address.
    ///
    /// # Errors
    ///
    /// What `accept(2)` reports, such as running out of file descriptors
    /// (`EMFILE`): the listener stays usable, and a server should log the
    /// error, perhaps wait a moment, and accept again.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection is only taken from the kernel's queue when
    /// it is returned.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The poll form of [`accept`](Self::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, addr) = ready!(self.io.registration().poll_io(
            cx,
            Interest::READABLE,
            || self.io.io().accept()
        ))?;
        Poll::Ready(Ok((TcpStream::from_mio(stream)?, addr)))
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// Sets the IP time-to-live of accepted connections' packets.
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
}

fn into_std_listener(listener: mio::net::TcpListener) -> std::net::TcpListener {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let fd = listener.into_raw_fd();
    // SAFETY: `fd` was just released by the mio listener, which owned it, so
    // the std listener becomes its only owner.
    unsafe { std::net::TcpListener::from_raw_fd(fd) }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl std::os::fd::AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.io().as_raw_fd()
    }
}
