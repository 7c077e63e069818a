//! The `http` job: one `GET` over pollen's own `TcpStream`, within a
//! deadline.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::net::TcpStream;
use serde_json::{Value, json};

/// How long an `http` job's request may take, connecting included.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The most bytes of a response read (the rest is not waited for).
const MAX_RESPONSE: usize = 1 << 20;
/// The most headers in a response.
const MAX_HEADERS: usize = 64;

/// Where an `http` job's request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// The host as written (a name, an IPv4 address, or an IPv6 address
    /// without its brackets).
    host: String,
    port: u16,
    /// The path and query, starting with `/`.
    path: String,
}

impl Target {
    /// Reads `http://host[:port][/path]`.
    ///
    /// # Errors
    ///
    /// What is wrong with the URL (`https` is not supported: there is no
    /// TLS).
    pub(crate) fn parse(url: &str) -> Result<Target, String> {
        let rest = if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else if url.starts_with("https://") {
            return Err(format!(
                "{url:?}: https is not supported (no TLS), only http://"
            ));
        } else {
            return Err(format!("{url:?} is not an http:// URL"));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) if rest[at..].starts_with('/') => (&rest[..at], rest[at..].to_owned()),
            Some(at) => (&rest[..at], format!("/{}", &rest[at..])),
            None => (rest, "/".to_owned()),
        };
        if authority.contains('@') {
            return Err(format!("{url:?}: user info in the URL is not supported"));
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("{url:?}: an IPv6 address without its closing ]"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        let port = match port {
            None => 80,
            Some(port) => port
                .parse()
                .ok()
                .filter(|&port| port != 0)
                .ok_or_else(|| format!("{url:?}: {port:?} is not a port"))?,
        };
        if path
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(format!("{url:?}: spaces or control characters in the path"));
        }
        Ok(Target {
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// The `Host` header's value.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Runs an `http` job: `GET url` within [`HTTP_TIMEOUT`]; a `2xx` answer
/// succeeds with its status and the body bytes read.
///
/// # Errors
///
/// The URL could not be resolved or reached, the answer was not HTTP or
/// not `2xx`, or it all took too long.
pub(crate) async fn get(url: &str) -> Result<Value, String> {
    let target = Target::parse(url)?;
    pollen::time::timeout(HTTP_TIMEOUT, exchange(&target))
        .await
        .map_err(|_| format!("GET {url} took over {HTTP_TIMEOUT:?}"))?
        .map_err(|e| format!("GET {url}: {e}"))
}

async fn exchange(target: &Target) -> Result<Value, String> {
    // Name resolution blocks: it runs on the blocking pool.
    let (host, port) = (target.host.clone(), target.port);
    let addrs: Vec<SocketAddr> =
        pollen::spawn_blocking(move || (host.as_str(), port).to_socket_addrs())
            .await
            .map_err(|e| format!("resolving the host failed: {e}"))?
            .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
            .collect();
    let mut last = format!("{} resolves to no address", target.host);
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: pollen-jobs\r\nAccept: */*\r\n\
         Connection: close\r\n\r\n",
        target.path,
        target.host_header()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("sending the request failed: {e}"))?;
    // `Connection: close`: the response ends where the stream does (or at
    // its Content-Length, which is all that is read of a kept-open one).
    let mut buf = Vec::new();
    let mut chunk = [0; 8192];
    let (status, head) = loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the response failed: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection before the response's head".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buf) {
            Ok(httparse::Status::Complete(head)) => {
                break (response.code.unwrap_or(0), head);
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_RESPONSE => {}
            Ok(httparse::Status::Partial) => {
                return Err(format!("the response's head is over {MAX_RESPONSE} bytes"));
            }
            Err(e) => return Err(format!("the response is not HTTP: {e}")),
        }
    };
    let mut bytes = buf.len() - head;
    while bytes < MAX_RESPONSE {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes += n,
        }
    }
    if !(200..300).contains(&status) {
        return Err(format!("the server answered {status}"));
    }
    Ok(json!({ "status": status, "bytes": bytes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, port: u16, path: &str) -> Target {
        Target {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        }
    }

    #[test]
    fn urls_are_read() {
        assert_eq!(
            Target::parse("http://example.com"),
            Ok(target("example.com", 80, "/"))
        );
        assert_eq!(
            Target::parse("http://127.0.0.1:8080/status?x=1"),
            Ok(target("127.0.0.1", 8080, "/status?x=1"))
        );
        assert_eq!(
            Target::parse("http://host?q"),
            Ok(target("host", 80, "/?q"))
        );
        assert_eq!(
            Target::parse("http://[::1]:9000/a"),
            Ok(target("::1", 9000, "/a"))
        );
        assert_eq!(target("::1", 9000, "/").host_header(), "[::1]:9000");
        assert_eq!(target("h", 80, "/").host_header(), "h");
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, why) in [
            ("https://example.com", "https is not supported"),
            ("ftp://example.com", "not an http:// URL"),
            ("http://", "has no host"),
            ("http://:80/", "has no host"),
            ("http://host:99999/", "is not a port"),
            ("http://host:0/", "is not a port"),
            ("http://user@host/", "user info"),
            ("http://[::1/", "closing ]"),
            ("http://host/a b", "spaces"),
        ] {
            let error = Target::parse(url).unwrap_err();
            assert!(error.contains(why), "{url}: {error}");
        }
    }
}
