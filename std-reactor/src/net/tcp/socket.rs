//! `TcpSocket`: a TCP socket configured before it listens or connects.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::net::{TcpListener, TcpStream};

/// A TCP socket not yet listening or connected, for the options that must
/// be set before: address reuse, buffer sizes, the listen backlog, the
/// local address of an outgoing connection.
///
/// [`TcpListener::bind`] and [`TcpStream::connect`] cover the usual cases;
/// a `TcpSocket` is for the others. It becomes a listener with
/// [`listen`](Self::listen) or a stream with [`connect`](Self::connect).
/// Options that also apply to a connected stream (`nodelay`, `linger`,
/// `keepalive`) can be set here or on the [`TcpStream`].
///
/// # Examples
///
/// A listener with a backlog of 4096 pending connections:
///
/// ```
/// use pollen::net::TcpSocket;
///
/// # let runtime = pollen::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
/// let socket = TcpSocket::new_v4()?;
/// socket.set_reuseaddr(true)?;
/// socket.bind("127.0.0.1:0".parse().unwrap())?;
/// let listener = socket.listen(4096)?;
///
/// let client = TcpSocket::new_v4()?;
/// client.set_nodelay(true)?;
/// let stream = client.connect(listener.local_addr()?).await?;
/// assert!(stream.nodelay()?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct TcpSocket {
    socket: Socket,
}

// === impl TcpSocket ===

impl TcpSocket {
    /// A new IPv4 TCP socket (non-blocking, closed on `exec`).
    ///
    /// # Errors
    ///
    /// What `socket(2)` reports (out of descriptors, ...).
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket (non-blocking, closed on `exec`).
    ///
    /// # Errors
    ///
    /// What `socket(2)` reports (out of descriptors, no IPv6, ...).
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        Ok(TcpSocket { socket })
    }

    /// Wraps a connected std stream, to read or set its options (it is
    /// connected already: [`connect`](Self::connect) and
    /// [`listen`](Self::listen) fail on it).
    pub fn from_std_stream(stream: std::net::TcpStream) -> TcpSocket {
        TcpSocket {
            socket: Socket::from(stream),
        }
    }

    /// Lets `bind` reuse a local address still in `TIME_WAIT` (what a
    /// server restarting on its port wants): `SO_REUSEADDR`.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.socket.set_reuse_address(reuseaddr)
    }

    /// Whether `SO_REUSEADDR` is set.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.socket.reuse_address()
    }

    /// Lets several sockets bind the same address and port, the kernel
    /// spreading incoming connections among their listeners:
    /// `SO_REUSEPORT`.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.socket.set_reuse_port(reuseport)
    }

    /// Whether `SO_REUSEPORT` is set.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    pub fn reuseport(&self) -> io::Result<bool> {
        self.socket.reuse_port()
    }

    /// Asks for a send buffer of `size` bytes: `SO_SNDBUF` (the kernel may
    /// round it, Linux doubles it).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_send_buffer_size(size as usize)
    }

    /// The send buffer's size.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.socket
            .send_buffer_size()
            .map(|size| u32::try_from(size).unwrap_or(u32::MAX))
    }

    /// Asks for a receive buffer of `size` bytes: `SO_RCVBUF` (the kernel
    /// may round it, Linux doubles it).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_recv_buffer_size(size as usize)
    }

    /// The receive buffer's size.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.socket
            .recv_buffer_size()
            .map(|size| u32::try_from(size).unwrap_or(u32::MAX))
    }

    /// Sends small writes at once instead of gathering them (Nagle's
    /// algorithm off): `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.set_tcp_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.socket.tcp_nodelay()
    }

    /// Sends keep-alive probes on an idle connection: `SO_KEEPALIVE`.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.socket.set_keepalive(keepalive)
    }

    /// Whether `SO_KEEPALIVE` is set.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.socket.keepalive()
    }

    /// How closing waits for unsent data: `SO_LINGER`. `None` (the
    /// default) returns at once and sends in the background; `Some(d)`
    /// makes the close wait up to `d` (a blocking close: avoid it in async
    /// code); `Some(Duration::ZERO)` drops unsent data and resets the
    /// connection.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.socket.set_linger(linger)
    }

    /// `SO_LINGER`, as [`set_linger`](Self::set_linger) takes it.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.socket.linger()
    }

    /// Binds the socket to a local address (port 0: one the system picks).
    ///
    /// # Errors
    ///
    /// What `bind(2)` reports (in use, not permitted, not local, ...).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.socket.bind(&SockAddr::from(addr))
    }

    /// The local address: where it was bound, or was given by `connect`.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "pollen: not an IP socket"))
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.socket.take_error()
    }

    /// Listens for connections, with room for `backlog` of them that
    /// completed the handshake and wait for an `accept` (the kernel caps it
    /// at `net.core.somaxconn`). Binds a free port first if `bind` was not
    /// called.
    ///
    /// Must be called inside a runtime with I/O enabled.
    ///
    /// # Errors
    ///
    /// What `listen(2)` reports, or if the thread is not in a runtime
    /// with I/O enabled.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.socket
            .listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        TcpListener::from_std(self.socket.into())
    }

    /// Connects to `addr` (from the address `bind` gave, if called).
    ///
    /// # Errors
    ///
    /// What the connection attempt reports (refused, unreachable, timed
    /// out, ...), or if the thread is not in a runtime with I/O enabled.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped connect closes its half-open socket.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        match self.socket.connect(&SockAddr::from(addr)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let stream: std::net::TcpStream = self.socket.into();
        TcpStream::connecting(mio::net::TcpStream::from_std(stream)).await
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("TcpSocket");
        if let Ok(addr) = self.local_addr() {
            debug.field("local_addr", &addr);
        }
        debug.field("fd", &self.socket.as_raw_fd()).finish()
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}
