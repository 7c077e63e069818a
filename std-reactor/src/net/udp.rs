//! `UdpSocket`.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use crate::io::registration::PollEvented;
use crate::io::{Interest, Ready};
use crate::net::ToSocketAddrs;
use crate::net::addr::{each_addr, resolve};

/// A UDP socket.
///
/// Unconnected, it sends to and receives from any address
/// ([`send_to`](Self::send_to), [`recv_from`](Self::recv_from)); after
/// [`connect`](Self::connect) it talks to one peer ([`send`](Self::send),
/// [`recv`](Self::recv)). Every method takes `&self`, so one task can send
/// while another receives (share it in an `Arc`).
///
/// # Examples
///
/// ```
/// use pollen::net::UdpSocket;
///
/// # let runtime = pollen::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
/// let a = UdpSocket::bind("127.0.0.1:0").await?;
/// let b = UdpSocket::bind("127.0.0.1:0").await?;
/// a.send_to(b"ping", b.local_addr()?).await?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct UdpSocket {
    io: PollEvented<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr` (each address it resolves to is tried).
    ///
    /// # Errors
    ///
    /// The last address's error; or if the thread is not in a runtime with
    /// I/O enabled.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(addr, |addr| async move {
            UdpSocket::new(mio::net::UdpSocket::bind(addr)?)
        })
        .await
    }

    fn new(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: PollEvented::new(socket)?,
        })
    }

    /// Wraps a std socket (made non-blocking here).
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::new(mio::net::UdpSocket::from_std(socket))
    }

    /// Sets the one peer this socket sends to and receives from.
    ///
    /// # Errors
    ///
    /// If `addr` resolves to nothing usable.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, |addr| async move { self.io.io().connect(addr) }).await
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.io().peer_addr()
    }

    /// Sends `buf` as one datagram to `target`; returns the bytes sent.
    ///
    /// # Errors
    ///
    /// What `sendto(2)` reports (a datagram too large, no route, ...).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the datagram is either sent whole or not at all.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = resolve(&target).await?.into_iter().next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "pollen: no address to send to")
        })?;
        std::future::poll_fn(|cx| self.poll_send_to(cx, buf, target)).await
    }

    /// The poll form of [`send_to`](Self::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_io(cx, Interest::WRITABLE, || self.io.io().send_to(buf, target))
    }

    /// Receives one datagram into `buf`; returns its length and sender. A
    /// datagram longer than `buf` is cut to fit.
    ///
    /// # Errors
    ///
    /// What `recvfrom(2)` reports.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is only taken when it is returned.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    /// The poll form of [`recv_from`](Self::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io
            .registration()
            .poll_io(cx, Interest::READABLE, || self.io.io().recv_from(buf))
    }

    /// Receives one datagram without taking it from the queue.
    ///
    /// # Errors
    ///
    /// What `recvfrom(2)` reports.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        std::future::poll_fn(|cx| {
            self.io
                .registration()
                .poll_io(cx, Interest::READABLE, || self.io.io().peek_from(buf))
        })
        .await
    }

    /// Sends `buf` to the connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected`-like errors if not connected; what `send(2)` reports.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| {
            self.io
                .registration()
                .poll_io(cx, Interest::WRITABLE, || self.io.io().send(buf))
        })
        .await
    }

    /// Receives a datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// What `recv(2)` reports (`ConnectionRefused` after the peer's port
    /// answered an earlier datagram with ICMP "port unreachable").
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| {
            self.io
                .registration()
                .poll_io(cx, Interest::READABLE, || self.io.io().recv(buf))
        })
        .await
    }

    /// Sends without waiting; `WouldBlock` if the socket's buffer is full.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or what `sendto(2)` reports.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io
            .registration()
            .try_io(Interest::WRITABLE, || self.io.io().send_to(buf, target))
    }

    /// Receives without waiting; `WouldBlock` if no datagram is queued.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or what `recvfrom(2)` reports.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .registration()
            .try_io(Interest::READABLE, || self.io.io().recv_from(buf))
    }

    /// Waits until the socket is ready for `interest`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.registration().ready(interest).await
    }

    /// Allows sending to broadcast addresses.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.io().set_broadcast(on)
    }

    /// Sets the IP time-to-live of outgoing datagrams.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.io().set_ttl(ttl)
    }

    /// The error pending on the socket, taken (`SO_ERROR`).
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.io().take_error()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.io().as_raw_fd()
    }
}
