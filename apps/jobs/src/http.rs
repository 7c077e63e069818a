//! HTTP/1.1 on one connection: requests read with `httparse`, bodies
//! framed by `Content-Length`, keep-alive, and responses written whole.
//!
//! # What is refused
//!
//! - A request line or header `httparse` rejects: `400`, then close.
//! - A head over [`MAX_HEAD`] bytes or [`MAX_HEADERS`] headers: `431`,
//!   then close.
//! - A `Transfer-Encoding` (chunked) request body: `411 Length Required`,
//!   then close; clients send small JSON bodies with a `Content-Length`.
//! - A `Content-Length` that is not a number, or two that disagree: `400`,
//!   then close. One over the body limit: `413` before a byte of the body
//!   is read, then close.
//! - A body that finds the body budget (below) spent and still waits for
//!   its bytes when its request timeout passes: `503` with
//!   `Retry-After: 1`, then close. Not `408`: the client was not slow, the
//!   server was busy, and a retry a moment later may well go through. A
//!   body still waiting when the server starts shutting down gets the same
//!   `503` at once, so that it does not hold up the drain.
//! - A request that does not arrive whole within the request timeout
//!   (counted from its first byte): `408`, then close. A client that closes
//!   mid-request gets nothing; its task ends.
//!
//! After a `Connection: close` or an HTTP/1.0 request without
//! `Connection: keep-alive`, the connection closes after the response. An
//! idle connection closes after the idle timeout, or at shutdown.
//!
//! # Memory
//!
//! Request bodies share one **budget** of bytes, a semaphore of
//! `max_body_memory` permits (one per byte) shared by every connection.
//! Once its head is read, a request takes its body's `Content-Length` from
//! the budget *before* reading the body (and before answering an
//! `Expect: 100-continue` with `100 Continue`), reads the body into a
//! buffer of exactly that size, and gives the bytes back when the request
//! is dropped, right after it has been handled (before the response is
//! written). When the budget is spent, a request waits for bytes, in
//! arrival order (a large body is not passed over by small ones), within
//! its request timeout (see above). A request without a body takes
//! nothing and never waits. The body limit is the smaller of `max_body`
//! and `max_body_memory`, so every body accepted can be granted.
//!
//! So all bodies together hold at most `max_body_memory` bytes. Besides
//! its body, a connection holds:
//!
//! - its head buffer: the request line and headers, and what arrived with
//!   them (the start of the body, or of a pipelined request). Bytes are
//!   read [`READ_SIZE`] at a time, and never once more than [`MAX_HEAD`]
//!   are waiting for the end of a head, so it holds at most
//!   `MAX_HEAD + READ_SIZE` bytes (24 KiB), in an allocation of at most
//!   that size. It is freed whenever the connection is idle with nothing
//!   buffered, so an idle keep-alive connection holds no buffer.
//! - its task, which includes a `READ_SIZE` chunk that reads land in.
//! - the response being written, rendered whole. Its size depends on what
//!   is asked (`GET /dead` lists every dead letter), not on how much a
//!   client sends.
//!
//! The worst case for what clients send is therefore about
//! `max_body_memory + max_connections × (MAX_HEAD + 2 × READ_SIZE + the
//! rest of a task)`.

use std::fmt::Write as _;
use std::time::Duration;

use std::sync::Arc;

use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::net::TcpStream;
use pollen::sync::{CancellationToken, OwnedSemaphorePermit, Semaphore};
use pollen::time::{Instant, timeout, timeout_at};

/// The most bytes of request line and headers accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most headers accepted.
pub const MAX_HEADERS: usize = 64;
/// Bytes read at a time.
pub const READ_SIZE: usize = 8 * 1024;
/// The most bytes the head buffer holds: a head is refused once more
/// than [`MAX_HEAD`] bytes wait for its end, and each read adds at most
/// [`READ_SIZE`].
const HEAD_BUFFER: usize = MAX_HEAD + READ_SIZE;
/// How long a refused client gets to stop sending before the connection
/// is dropped (so that it reads the refusal instead of a reset).
const LINGER: Duration = Duration::from_millis(500);

/// Limits on what a client may send, and how slowly.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_body: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

/// The budget of body bytes buffered at once, shared by every connection:
/// one permit per byte.
pub(crate) type Budget = Arc<Semaphore>;

/// A request read whole.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    /// Exactly `Content-Length` bytes, in an allocation of that size.
    pub(crate) body: Vec<u8>,
    /// The body's bytes, taken from the budget (none without a body); they
    /// go back when the request is dropped, with the body.
    _budget: Option<OwnedSemaphorePermit>,
    /// The client wants the connection kept open after the response.
    pub(crate) keep_alive: bool,
    /// An HTTP/1.0 request: its connection stays open only if the
    /// response says `connection: keep-alive`.
    pub(crate) http_1_0: bool,
}

/// A response, always with a JSON body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
    pub(crate) content_type: &'static str,
    /// Close the connection after it.
    pub(crate) close: bool,
    /// Say `connection: keep-alive` (to an HTTP/1.0 client, which closes
    /// otherwise) unless it closes.
    pub(crate) keep_alive: bool,
}

/// What reading a request came to.
#[derive(Debug)]
pub(crate) enum Read {
    Request(Request),
    /// The request is refused; answer this and close.
    Refuse(Response),
    /// Nothing to answer: the client closed, went quiet while idle, or the
    /// server is stopping.
    Done,
}

// === impl Response ===

impl Response {
    /// A response with a JSON value as its body.
    pub(crate) fn json(status: u16, body: &impl serde::Serialize) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: serde_json::to_string(body).expect("our values serialize"),
            content_type: "application/json",
            close: false,
            keep_alive: false,
        }
    }

    /// A `200` with a plain-text body of this content type.
    pub(crate) fn text(content_type: &'static str, body: String) -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            body,
            content_type,
            close: false,
            keep_alive: false,
        }
    }

    /// `{"error": message}`.
    pub(crate) fn error(status: u16, message: impl std::fmt::Display) -> Response {
        Response::json(status, &serde_json::json!({ "error": message.to_string() }))
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn close(mut self) -> Response {
        self.close = true;
        self
    }

    fn render(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        if self.close {
            head.push_str("connection: close\r\n");
        } else if self.keep_alive {
            head.push_str("connection: keep-alive\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// The parts of a request head that matter here.
#[derive(Debug)]
struct Head {
    method: String,
    path: String,
    keep_alive: bool,
    http_1_0: bool,
    content_length: u64,
    expect_continue: bool,
}

/// Parses the head at the start of `buf`: `Ok(None)` if it is not all
/// there yet, `Ok(Some((length, head)))` once it is.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, Head)>, Response> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let length = match request.parse(buf) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(Response::error(
                431,
                format!("the request line and headers are over {MAX_HEAD} bytes"),
            ));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Response::error(
                431,
                format!("more than {MAX_HEADERS} headers"),
            ));
        }
        Err(e) => return Err(Response::error(400, format!("malformed request: {e}"))),
    };
    if length > MAX_HEAD {
        return Err(Response::error(
            431,
            format!("the request line and headers are over {MAX_HEAD} bytes"),
        ));
    }
    let mut keep_alive = request.version == Some(1);
    let mut content_length = None;
    let mut expect_continue = false;
    for header in request.headers.iter() {
        let value = std::str::from_utf8(header.value).map_err(|_| {
            Response::error(400, format!("the {} header is not UTF-8", header.name))
        })?;
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = value.trim();
            let length = value
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| value.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| {
                    Response::error(400, format!("Content-Length {value:?} is not a length"))
                })?;
            if content_length.is_some_and(|earlier| earlier != length) {
                return Err(Response::error(400, "two Content-Length headers disagree"));
            }
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Response::error(
                411,
                "request bodies with a Transfer-Encoding (chunked) are not supported: \
                 send a Content-Length",
            ));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if value.trim().eq_ignore_ascii_case("100-continue") {
                expect_continue = true;
            } else {
                return Err(Response::error(
                    417,
                    format!("cannot meet the expectation {value:?}"),
                ));
            }
        }
    }
    let head = Head {
        method: request.method.unwrap_or_default().to_owned(),
        path: request.path.unwrap_or_default().to_owned(),
        keep_alive,
        http_1_0: request.version == Some(0),
        content_length: content_length.unwrap_or(0),
        expect_continue,
    };
    Ok(Some((length, head)))
}

/// A connection and the bytes read from it but not used yet (the start of
/// the next request, when a client pipelines).
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    /// The head buffer: at most [`HEAD_BUFFER`] bytes, in an allocation
    /// no larger; empty and unallocated while the connection is idle.
    buf: Vec<u8>,
    limits: Limits,
    budget: Budget,
}

// === impl Conn ===

impl Conn {
    /// A connection whose request bodies take their bytes from `budget`.
    pub(crate) fn new(stream: TcpStream, limits: Limits, budget: Budget) -> Conn {
        Conn {
            stream,
            buf: Vec::new(),
            limits,
            budget,
        }
    }

    /// Reads more bytes into the head buffer; `Ok(false)` at the end of
    /// the stream. Called only while the buffer holds at most
    /// [`MAX_HEAD`] bytes, so that it never holds more than
    /// [`HEAD_BUFFER`].
    async fn fill(&mut self) -> std::io::Result<bool> {
        debug_assert!(self.buf.len() <= MAX_HEAD);
        let mut chunk = [0; READ_SIZE];
        let n = self.stream.read(&mut chunk).await?;
        let needed = self.buf.len() + n;
        if needed > self.buf.capacity() {
            // Doubling, as `Vec` does, but never past what the buffer can
            // come to hold.
            let capacity = needed.next_power_of_two().min(HEAD_BUFFER).max(needed);
            self.buf.reserve_exact(capacity - self.buf.len());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Reads the next request. While no byte of it has arrived, gives up
    /// when `stop` is cancelled or after the idle timeout; while its body
    /// waits for the budget, refuses it when `stop` is cancelled.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: drop the connection with it.
    pub(crate) async fn read_request(&mut self, stop: &CancellationToken) -> Read {
        // Wait for the first byte of the request (unless pipelined).
        if self.buf.is_empty() {
            // Idle: hold no buffer meanwhile.
            self.buf = Vec::new();
            let first = pollen::select! {
                () = stop.cancelled() => return Read::Done,
                read = timeout(self.limits.idle_timeout, self.fill()) => read,
            };
            match first {
                Ok(Ok(true)) => {}
                _ => return Read::Done,
            }
        }
        let deadline = pollen::time::now() + self.limits.request_timeout;
        let (length, head) = loop {
            match parse_head(&self.buf) {
                Ok(Some(parsed)) => break parsed,
                Ok(None) => {}
                Err(refusal) => return Read::Refuse(refusal.close()),
            }
            match self.fill_by(deadline).await {
                Some(true) => {}
                Some(false) => return Read::Done,
                None => return Read::Refuse(timed_out()),
            }
        };
        self.buf.drain(..length);
        if head.content_length > self.limits.max_body as u64 {
            return Read::Refuse(
                Response::error(
                    413,
                    format!(
                        "the body is {} bytes, the most accepted is {}",
                        head.content_length, self.limits.max_body
                    ),
                )
                .close(),
            );
        }
        let body_length = head.content_length as usize;
        // The body's bytes come from the budget before any is read (those
        // that came with the head are counted in the head buffer until
        // then).
        let budget = if body_length == 0 {
            None
        } else {
            match self.take_budget(body_length, deadline, stop).await {
                Ok(permit) => Some(permit),
                Err(refusal) => return Read::Refuse(refusal),
            }
        };
        if head.expect_continue && self.buf.len() < body_length {
            let sent = timeout_at(
                deadline,
                self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n"),
            )
            .await;
            if !matches!(sent, Ok(Ok(()))) {
                return Read::Done;
            }
        }
        // Read straight into a body of the exact size: nothing past it
        // (a pipelined request) lands there, and no buffer grows past it.
        let mut body = vec![0; body_length];
        let buffered = self.buf.len().min(body_length);
        body[..buffered].copy_from_slice(&self.buf[..buffered]);
        self.buf.drain(..buffered);
        let mut filled = buffered;
        while filled < body_length {
            match timeout_at(deadline, self.stream.read(&mut body[filled..])).await {
                Ok(Ok(0) | Err(_)) => return Read::Done,
                Ok(Ok(n)) => filled += n,
                Err(_) => return Read::Refuse(timed_out()),
            }
        }
        Read::Request(Request {
            method: head.method,
            path: head.path,
            body,
            _budget: budget,
            keep_alive: head.keep_alive,
            http_1_0: head.http_1_0,
        })
    }

    /// Takes `bytes` from the body budget, waiting for them until
    /// `deadline`; refuses with `503` past it, or at once if `stop` is
    /// cancelled meanwhile.
    async fn take_budget(
        &self,
        bytes: usize,
        deadline: Instant,
        stop: &CancellationToken,
    ) -> Result<OwnedSemaphorePermit, Response> {
        let granted = pollen::select! {
            () = stop.cancelled() => {
                return Err(busy("the server is shutting down"));
            }
            granted = timeout_at(deadline, self.budget.clone().acquire_many_owned(bytes)) => {
                granted
            }
        };
        match granted {
            Ok(Ok(permit)) => Ok(permit),
            // The budget is never closed; were it, the body could not be
            // read all the same.
            Ok(Err(_)) | Err(_) => Err(busy(
                "too many request bodies are being read at once; try again later",
            )),
        }
    }

    /// [`fill`](Self::fill) by `deadline`: `None` if it passed, `Some(false)`
    /// at the end of the stream or on an error.
    async fn fill_by(&mut self, deadline: Instant) -> Option<bool> {
        match timeout_at(deadline, self.fill()).await {
            Ok(Ok(more)) => Some(more),
            Ok(Err(_)) => Some(false),
            Err(_) => None,
        }
    }

    /// Writes `response` within the request timeout.
    ///
    /// # Errors
    ///
    /// The client is gone or does not read.
    pub(crate) async fn respond(&mut self, response: &Response) -> std::io::Result<()> {
        let bytes = response.render();
        timeout(self.limits.request_timeout, self.stream.write_all(&bytes))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
    }

    /// Closes after a refusal: stops writing, then reads and drops what
    /// the client still sends for a moment, so that the kernel does not
    /// answer it with a reset that could destroy the refusal in flight.
    pub(crate) async fn linger(mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let _ = timeout(LINGER, async {
            let mut sink = [0; READ_SIZE];
            let mut left = self.limits.max_body;
            while let Ok(n @ 1..) = self.stream.read(&mut sink).await {
                left = left.saturating_sub(n);
                if left == 0 {
                    break;
                }
            }
        })
        .await;
    }
}

/// A `503` for a body the budget has no room for, then close.
fn busy(message: &str) -> Response {
    Response::error(503, message)
        .header("retry-after", "1")
        .close()
}

fn timed_out() -> Response {
    Response::error(408, "the request did not arrive in time").close()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Option<(usize, Head)>, Response> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn a_complete_head_is_parsed() {
        let text = "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{...}";
        let (length, head) = head(text).unwrap().unwrap();
        assert_eq!(length, text.len() - "{...}".len());
        assert_eq!(head.method, "POST");
        assert_eq!(head.path, "/jobs");
        assert_eq!(head.content_length, 12);
        assert!(head.keep_alive);
        assert!(!head.expect_continue);
    }

    #[test]
    fn keep_alive_follows_the_version_and_the_connection_header() {
        let (_, h) = head("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!h.keep_alive);
        let (_, h) = head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.keep_alive);
        let (_, h) = head("GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
    }

    #[test]
    fn partial_heads_wait_and_bad_ones_are_refused() {
        assert!(head("GET / HTTP/1.1\r\nHost:").unwrap().is_none());
        assert_eq!(head("GARBAGE\r\n\r\n").unwrap_err().status, 400);
        assert_eq!(
            head("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            head("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
                .unwrap_err()
                .status,
            411
        );
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(head(&long).unwrap_err().status, 431);
    }
}
