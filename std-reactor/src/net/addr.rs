//! Turning what the user passes into socket addresses, without blocking a
//! worker on DNS.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What the sockets' `bind`, `connect` and `send_to` take: a socket
/// address, or something that resolves to some.
///
/// Implemented for the types [`std::net::ToSocketAddrs`] is implemented
/// for: [`SocketAddr`] and its V4 and V6 forms, `(IpAddr, u16)` and its V4
/// and V6 forms, `"host:port"` strings (`&str`, `String`), `(host, port)`
/// pairs and slices of addresses, and references to any of these.
///
/// Addresses and IP literals are used as they are. A host name is looked
/// up with the operating system's resolver **on the blocking pool**
/// ([`spawn_blocking`](crate::spawn_blocking)), so a slow DNS server does
/// not stall the tasks of the worker that asked.
///
/// The trait is sealed: its method is not public, and other types cannot
/// implement it.
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use super::Resolve;

    /// The method behind [`ToSocketAddrs`](super::ToSocketAddrs).
    pub trait Sealed {
        /// The addresses at once, or what to look up.
        fn resolve(&self) -> Resolve;
    }
}

/// How an address argument becomes socket addresses.
pub enum Resolve {
    /// Known without asking anyone.
    Ready(io::Result<Vec<SocketAddr>>),
    /// A host name (`"host:port"`) for the resolver.
    Lookup(String),
    /// A host name and a port for the resolver.
    LookupPair(String, u16),
}

impl std::fmt::Debug for Resolve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolve::Ready(addrs) => f.debug_tuple("Ready").field(addrs).finish(),
            Resolve::Lookup(host) => f.debug_tuple("Lookup").field(host).finish(),
            Resolve::LookupPair(host, port) => {
                f.debug_tuple("LookupPair").field(host).field(port).finish()
            }
        }
    }
}

impl Resolve {
    /// The socket addresses: at once, or from the resolver on the blocking
    /// pool.
    async fn addrs(self) -> io::Result<Vec<SocketAddr>> {
        use std::net::ToSocketAddrs as _;
        let lookup = match self {
            Resolve::Ready(addrs) => return addrs,
            Resolve::Lookup(host) => {
                crate::spawn_blocking(move || host.to_socket_addrs().map(Iterator::collect))
            }
            Resolve::LookupPair(host, port) => crate::spawn_blocking(move || {
                (host.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
            }),
        };
        lookup.await.map_err(|e| {
            io::Error::other(format!("pollen: the address lookup did not finish: {e}"))
        })?
    }
}

/// One address, ready.
fn ready(addr: SocketAddr) -> Resolve {
    Resolve::Ready(Ok(vec![addr]))
}

impl ToSocketAddrs for SocketAddr {}
impl sealed::Sealed for SocketAddr {
    fn resolve(&self) -> Resolve {
        ready(*self)
    }
}

impl ToSocketAddrs for SocketAddrV4 {}
impl sealed::Sealed for SocketAddrV4 {
    fn resolve(&self) -> Resolve {
        ready((*self).into())
    }
}

impl ToSocketAddrs for SocketAddrV6 {}
impl sealed::Sealed for SocketAddrV6 {
    fn resolve(&self) -> Resolve {
        ready((*self).into())
    }
}

impl ToSocketAddrs for (IpAddr, u16) {}
impl sealed::Sealed for (IpAddr, u16) {
    fn resolve(&self) -> Resolve {
        ready((*self).into())
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {}
impl sealed::Sealed for (Ipv4Addr, u16) {
    fn resolve(&self) -> Resolve {
        ready((*self).into())
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {}
impl sealed::Sealed for (Ipv6Addr, u16) {
    fn resolve(&self) -> Resolve {
        ready((*self).into())
    }
}

impl ToSocketAddrs for str {}
impl sealed::Sealed for str {
    fn resolve(&self) -> Resolve {
        match self.parse::<SocketAddr>() {
            Ok(addr) => ready(addr),
            Err(_) => Resolve::Lookup(self.to_owned()),
        }
    }
}

impl ToSocketAddrs for String {}
impl sealed::Sealed for String {
    fn resolve(&self) -> Resolve {
        self.as_str().resolve()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::Sealed for (&str, u16) {
    fn resolve(&self) -> Resolve {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => ready((ip, port).into()),
            Err(_) => Resolve::LookupPair(host.to_owned(), port),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::Sealed for (String, u16) {
    fn resolve(&self) -> Resolve {
        (self.0.as_str(), self.1).resolve()
    }
}

impl ToSocketAddrs for [SocketAddr] {}
impl sealed::Sealed for [SocketAddr] {
    fn resolve(&self) -> Resolve {
        Resolve::Ready(Ok(self.to_vec()))
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn resolve(&self) -> Resolve {
        (**self).resolve()
    }
}

/// The socket addresses `addr` stands for.
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    addr.resolve().addrs().await
}

/// Tries `f` on each address `addr` resolves to, in order; returns the
/// first success or the last error.
pub(crate) async fn each_addr<A, T, F, Fut>(addr: A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last_error = None;
    for addr in resolve(&addr).await? {
        match f(addr).await {
            Ok(value) => return Ok(value),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "pollen: the address resolved to no socket address",
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::addr::sealed::Sealed;

    fn ready_addrs(resolve: Resolve) -> Vec<SocketAddr> {
        match resolve {
            Resolve::Ready(addrs) => addrs.unwrap(),
            other => panic!("resolved at once, got {other:?}"),
        }
    }

    #[test]
    fn literals_resolve_at_once_and_names_go_to_the_resolver() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(ready_addrs("127.0.0.1:80".resolve()), [v4]);
        assert_eq!(ready_addrs(String::from("[::1]:80").resolve()), [v6]);
        assert_eq!(ready_addrs(("::1", 80).resolve()), [v6]);
        assert_eq!(ready_addrs((Ipv4Addr::LOCALHOST, 80).resolve()), [v4]);
        assert_eq!(ready_addrs(<&SocketAddr as Sealed>::resolve(&&v4)), [v4]);
        assert_eq!(ready_addrs([v4, v6][..].resolve()), [v4, v6]);
        assert!(matches!(
            "localhost:80".resolve(),
            Resolve::Lookup(host) if host == "localhost:80"
        ));
        assert!(matches!(
            (String::from("localhost"), 80).resolve(),
            Resolve::LookupPair(host, 80) if host == "localhost"
        ));
    }
}
