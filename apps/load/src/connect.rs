//! [`Connect`]: how the engines open connections. [`TcpConnector`] is the
//! real one; tests plug in in-memory pipes to run a load in virtual time.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use pollen::io::{AsyncRead, AsyncWrite};
use pollen::net::TcpStream;

/// Opens a connection to the load's target.
pub trait Connect: Send + Sync + 'static {
    /// The connection: a byte stream both ways.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Opens one connection.
    fn connect(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Where it connects to, for messages.
    fn describe(&self) -> String;
}

/// Opens one connection through `connector`, or fails with
/// [`io::ErrorKind::TimedOut`] after `timeout`.
pub(crate) async fn connect_within<C: Connect>(
    connector: &C,
    timeout: Duration,
) -> io::Result<C::Stream> {
    pollen::time::timeout(timeout, connector.connect())
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// TCP connections to resolved addresses, with `TCP_NODELAY` (requests
/// are small and each waits for its answer).
#[derive(Clone, Debug)]
pub struct TcpConnector {
    addrs: Vec<SocketAddr>,
}

// === impl TcpConnector ===

impl TcpConnector {
    /// Connects to each of `addrs` in turn until one answers.
    ///
    /// # Panics
    ///
    /// If `addrs` is empty.
    pub fn new(addrs: Vec<SocketAddr>) -> TcpConnector {
        assert!(!addrs.is_empty(), "pollen-load: no address to connect to");
        TcpConnector { addrs }
    }
}

impl Connect for TcpConnector {
    type Stream = TcpStream;

    async fn connect(&self) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(&self.addrs[..]).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn describe(&self) -> String {
        self.addrs[0].to_string()
    }
}
