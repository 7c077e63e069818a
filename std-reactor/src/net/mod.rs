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
//! Addresses are anything [`ToSocketAddrs`] takes. Socket addresses and IP
//! literals are used as they are; host names are looked up with the
//! operating system's resolver on the blocking pool, so that a slow DNS
//! server never stalls a worker.

/// `AsyncRead` and `AsyncWrite` for a socket type and for a shared
/// reference to it (so one task can read while another writes), forwarding
/// to its `poll_read_priv`, `poll_write_priv`, `poll_write_vectored_priv`
/// and `poll_close_priv`. Writes go straight to the kernel, so flushing has
/// nothing to do.
macro_rules! byte_stream_io {
    ($($ty:ty),+ $(,)?) => {$(
        impl $crate::io::AsyncRead for $ty {
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                self.poll_read_priv(cx, buf)
            }
        }

        impl $crate::io::AsyncWrite for $ty {
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                self.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                self.poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                _cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                ::std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: ::std::pin::Pin<&mut Self>,
                _cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                self.poll_close_priv()
            }
        }
    )+};
}

mod addr;
mod tcp;
mod udp;
mod unix;

pub use self::addr::ToSocketAddrs;
pub use self::tcp::listener::TcpListener;
pub use self::tcp::socket::TcpSocket;
pub use self::tcp::split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use self::tcp::stream::TcpStream;
pub use self::udp::UdpSocket;
pub use self::unix::{UnixListener, UnixStream};
