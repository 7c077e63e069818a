//! The `http` job: one `GET` over pollen's own `TcpStream`, within a
//! deadline.
//!
//! # The URL
//!
//! `http://host[:port][/path][?query]`, read by [`http::Uri`]. Only
//! `http` is taken: `https` is refused (there is no TLS here), and so are
//! user info (`user@host`), a port that is not a number from 1 to 65535,
//! a missing host, and spaces or control characters anywhere. An IPv6
//! address goes in brackets (`http://[::1]:8080/`). The path defaults to
//! `/`, the query is sent as written, a `#fragment` is not sent.
//!
//! # The exchange
//!
//! The request is `GET path HTTP/1.1` with `Host`, `User-Agent:
//! pollen-jobs`, `Accept: */*` and `Connection: close`. The response's
//! head is read with `httparse` (at most [`MAX_HEAD`](response::MAX_HEAD) bytes and
//! [`MAX_HEADERS`](response::MAX_HEADERS) headers); interim `1xx` heads (other than `101`) are
//! skipped. An answer that is not `2xx` fails the job with its status,
//! and its body is not read. Otherwise the body is framed as HTTP/1.1
//! says (RFC 9112, section 6.3), the first rule that applies winning:
//!
//! 1. `204` and `304` answers have none;
//! 2. a `Transfer-Encoding` whose last coding is `chunked`: the chunks are
//!    decoded (each size line read by [`httparse::parse_chunk_size`]), the
//!    trailer section is read and ignored; any other `Transfer-Encoding`
//!    runs to the end of the stream;
//! 3. a `Content-Length`: exactly that many bytes (the same value repeated
//!    is fine; a value that is not a number, or two different ones, fail
//!    the job);
//! 4. otherwise, up to the end of the stream.
//!
//! A body whose length is known (1 to 3) is not waited past: a server
//! that keeps the connection open works. A body that ends early, a
//! malformed chunk, or a head that is not HTTP fails the job.
//!
//! # The cap
//!
//! At most [`MAX_RESPONSE`](response::MAX_RESPONSE) (1 MiB) of body is read. Past it, reading
//! stops and the job still succeeds, with `"truncated": true` in its
//! result: the job asks whether a URL answers, and a large answer is an
//! answer (failing it would only retry it for nothing). What comes past
//! the cap is neither waited for nor checked.
//!
//! # The result
//!
//! `{"status": 200, "bytes": N}`, where `bytes` counts the body read
//! (decoded, for chunks), plus `"content_type"` when the server sent
//! one and `"truncated": true` when the body was cut at the cap.
//!
//! # The deadline
//!
//! Resolving the host, connecting, sending and reading all happen within
//! the job's `timeout_ms` ([`HTTP_TIMEOUT`] when it does not say, at most
//! [`MAX_HTTP_TIMEOUT_MS`](crate::MAX_HTTP_TIMEOUT_MS)). Past it the
//! attempt fails and the connection is dropped.
//!
//! # Layout
//!
//! `target` reads the URL and writes the request; `response` reads the
//! answer (head, framing, body); this file resolves, connects and keeps
//! the deadline.

mod response;
mod target;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use pollen::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use pollen::net::TcpStream;
use serde_json::Value;

use self::response::{Response, read_response};
pub(crate) use self::target::Target;

/// How long an `http` job's request may take, connecting included, when
/// its payload gives no `timeout_ms`.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs an `http` job: `GET url` within `timeout`; a `2xx` answer
/// succeeds with what the module docs list.
///
/// # Errors
///
/// The URL could not be resolved or reached, the answer was not HTTP,
/// was badly framed or not `2xx`, or it all took over `timeout`.
///
/// # Cancel safety
///
/// Dropping it drops the connection; nothing else is left behind.
pub(crate) async fn get(url: &str, timeout: Duration) -> Result<Value, String> {
    let target = Target::parse(url)?;
    pollen::time::timeout(timeout, exchange(&target))
        .await
        .map_err(|_| format!("GET {url} took over {timeout:?}"))?
        .map(Response::into_json)
        .map_err(|e| format!("GET {url}: {e}"))
}

/// Resolves, connects, and runs the request over the connection.
async fn exchange(target: &Target) -> Result<Response, String> {
    // Name resolution blocks: it runs on the blocking pool.
    let (host, port) = (target.host.clone(), target.port);
    let addrs: Vec<SocketAddr> =
        pollen::spawn_blocking(move || (host.as_str(), port).to_socket_addrs())
            .await
            .map_err(|e| format!("resolving the host failed: {e}"))?
            .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
            .collect();
    let mut last = format!("{} resolves to no address", target.host);
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return request(stream, target).await,
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// Sends the request for `target` over `stream` and reads the response.
async fn request<S>(mut stream: S, target: &Target) -> Result<Response, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(target.request().as_bytes())
        .await
        .map_err(|e| format!("sending the request failed: {e}"))?;
    read_response(stream).await
}

#[cfg(test)]
mod tests {
    use pollen::io::AsyncReadExt;
    use pollen::net::TcpListener;
    use serde_json::json;

    use super::*;

    /// Accepts one connection, reads a request's head, answers `answer`,
    /// and hands back the head and the connection, still open.
    async fn serve_one(listener: TcpListener, answer: &'static [u8]) -> (String, TcpStream) {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "{head:?}");
            head.push(byte[0]);
        }
        stream.write_all(answer).await.unwrap();
        (String::from_utf8(head).unwrap(), stream)
    }

    #[pollen::test]
    async fn a_server_keeping_the_connection_open_is_not_waited_for() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = pollen::spawn(serve_one(
            listener,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\
              Content-Type: text/plain; charset=utf-8\r\n\r\nok",
        ));
        // Far more than the test takes, unless it waited for the end.
        let url = format!("http://{addr}/status?verbose=1");
        let result = get(&url, Duration::from_secs(60)).await;
        let (request, _open) = server.await.unwrap();
        assert_eq!(
            result,
            Ok(json!({
                "status": 200,
                "bytes": 2,
                "content_type": "text/plain; charset=utf-8",
            }))
        );
        assert_eq!(
            request,
            format!(
                "GET /status?verbose=1 HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: pollen-jobs\r\n\
                 Accept: */*\r\nConnection: close\r\n\r\n"
            )
        );
    }

    #[pollen::test]
    async fn a_server_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = pollen::spawn(serve_one(listener, b""));
        let url = format!("http://{addr}/slow");
        let started = std::time::Instant::now();
        let error = get(&url, Duration::from_millis(200)).await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(error, format!("GET {url} took over 200ms"));
        let (request, _open) = server.await.unwrap();
        assert!(request.starts_with("GET /slow HTTP/1.1\r\n"), "{request}");
    }
}
