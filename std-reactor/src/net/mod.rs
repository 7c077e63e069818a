//! Networking: TCP, UDP and Unix-domain sockets on the runtime's reactor.
//!
//! Sockets must be created inside a runtime with I/O enabled (in
//! `block_on`, a task, or after `Handle::enter`); they wait through the
//! reactor of that runtime. Byte streams implement
//! [`AsyncRead`](crate::io::AsyncRead) and [`AsyncWrite`](crate::io::AsyncWrite);
//! bring [`AsyncReadExt`](crate::io::AsyncReadExt) and
//! [`AsyncWriteExt`](crate::io::AsyncWriteExt) into scope for `read`,
//! `read_exact`, `write_all` and friends.
//!
//! Addresses given as host names are resolved with the operating system's
//! resolver (`ToSocketAddrs`), which blocks the thread while it asks DNS;
//! pass `SocketAddr`s (or IP literals) in latency-sensitive code.

mod addr;
mod tcp;
mod udp;
mod unix;

pub use self::tcp::listener::TcpListener;
pub use self::tcp::split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use self::tcp::stream::TcpStream;
pub use self::udp::UdpSocket;
pub use self::unix::{UnixListener, UnixStream};
