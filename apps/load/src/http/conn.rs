//! One keep-alive HTTP/1.1 connection: write a request, read its response
//! with `httparse` (Content-Length, chunked, or until close).

use std::io;
use std::pin::Pin;
use std::task::Poll;

use pollen::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The most bytes of status line and headers accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The most headers (or trailers) accepted.
const MAX_HEADERS: usize = 100;
/// The longest chunk-size line accepted (with extensions).
const MAX_CHUNK_LINE: usize = 4096;
/// Bytes read at a time.
const READ_SIZE: usize = 16 * 1024;

/// A connection and the bytes read from it but not yet used.
#[derive(Debug)]
pub(crate) struct Conn<S> {
    stream: S,
    buf: Vec<u8>,
}

/// The bytes one request wrote and read, kept by the caller so that they
/// are known even when the exchange is dropped (a timeout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Transfer {
    pub(crate) sent: u64,
    pub(crate) received: u64,
}

/// A response read whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// The connection may carry the next request.
    pub(crate) reusable: bool,
}

/// How the body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

fn bad(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the server closed the connection before the whole response",
    )
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub(crate) fn new(stream: S) -> Conn<S> {
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Whether the connection, idle since its last response, may carry a
    /// request: the server has neither closed it nor sent anything unasked
    /// (a `408` before closing, say), which would be read as the next
    /// request's response. Looks without waiting.
    pub(crate) async fn is_quiet(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut byte = [0; 1];
        let stream = &mut self.stream;
        std::future::poll_fn(|cx| match Pin::new(&mut *stream).poll_read(cx, &mut byte) {
            Poll::Pending => Poll::Ready(true),
            // Bytes, end of stream, or an error.
            Poll::Ready(_) => Poll::Ready(false),
        })
        .await
    }

    /// Sends `request` and reads its response, adding the bytes written
    /// and read to `transfer` as they go.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a dropped exchange leaves the connection in an
    /// unknown state; drop the connection with it. `transfer` is up to
    /// date at any await point.
    pub(crate) async fn exchange(
        &mut self,
        request: &[u8],
        is_head: bool,
        transfer: &mut Transfer,
    ) -> io::Result<Response> {
        let mut exchange = Exchange {
            stream: &mut self.stream,
            buf: &mut self.buf,
            transfer,
        };
        exchange.write(request).await?;
        exchange.read_response(is_head).await
    }
}

/// One exchange on a [`Conn`]: its stream and buffer, and the count of
/// bytes to keep up to date.
struct Exchange<'a, S> {
    stream: &'a mut S,
    buf: &'a mut Vec<u8>,
    transfer: &'a mut Transfer,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Exchange<'_, S> {
    /// Writes all of `bytes`, counting them as they are written.
    async fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = self.stream.write(bytes).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.transfer.sent += n as u64;
            bytes = &bytes[n..];
        }
        self.stream.flush().await
    }

    async fn read_response(&mut self, is_head: bool) -> io::Result<Response> {
        let (status, framing, mut reusable) = loop {
            let head = self.read_head().await?;
            // 1xx (but 101): informational, the real response follows.
            if (100..200).contains(&head.0) && head.0 != 101 {
                continue;
            }
            break head;
        };
        let framing = if is_head || status == 204 || status == 304 || status == 101 {
            Framing::Length(0)
        } else {
            framing
        };
        match framing {
            Framing::Length(n) => self.skip(n).await?,
            Framing::Chunked => self.skip_chunked().await?,
            Framing::UntilClose => {
                reusable = false;
                while self.fill().await? > 0 {
                    self.buf.clear();
                }
            }
        }
        // Bytes after the response were not asked for: the connection is
        // out of step.
        if !self.buf.is_empty() || status == 101 {
            reusable = false;
        }
        Ok(Response { status, reusable })
    }

    /// Reads a status line and headers: the status, the body's framing and
    /// whether the connection stays open.
    async fn read_head(&mut self) -> io::Result<(u16, Framing, bool)> {
        loop {
            if !self.buf.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut response = httparse::Response::new(&mut headers);
                match response.parse(self.buf) {
                    Ok(httparse::Status::Complete(len)) => {
                        let head = interpret(&response)?;
                        self.buf.drain(..len);
                        return Ok(head);
                    }
                    Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD => {
                        return Err(bad("response headers larger than 64 KiB"));
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(e) => return Err(bad(format!("invalid response: {e}"))),
                }
            }
            if self.fill().await? == 0 {
                return Err(closed());
            }
        }
    }

    /// Discards `n` body bytes.
    async fn skip(&mut self, mut n: u64) -> io::Result<()> {
        loop {
            let here = usize::try_from(n).unwrap_or(usize::MAX).min(self.buf.len());
            self.buf.drain(..here);
            n -= here as u64;
            if n == 0 {
                return Ok(());
            }
            if self.fill().await? == 0 {
                return Err(closed());
            }
        }
    }

    /// Discards a chunked body, trailers included.
    async fn skip_chunked(&mut self) -> io::Result<()> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(self.buf) {
                    Ok(httparse::Status::Complete((len, size))) => {
                        self.buf.drain(..len);
                        break size;
                    }
                    Ok(httparse::Status::Partial) if self.buf.len() > MAX_CHUNK_LINE => {
                        return Err(bad("chunk size line too long"));
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(httparse::InvalidChunkSize) => return Err(bad("invalid chunk size")),
                }
                if self.fill().await? == 0 {
                    return Err(closed());
                }
            };
            if size == 0 {
                return self.skip_trailers().await;
            }
            self.skip(size).await?;
            self.expect_crlf().await?;
        }
    }

    /// The CRLF after a chunk's data.
    async fn expect_crlf(&mut self) -> io::Result<()> {
        while self.buf.len() < 2 {
            if self.fill().await? == 0 {
                return Err(closed());
            }
        }
        if &self.buf[..2] != b"\r\n" {
            return Err(bad("chunk data longer than its size"));
        }
        self.buf.drain(..2);
        Ok(())
    }

    /// Trailer fields after the last chunk, up to the blank line.
    async fn skip_trailers(&mut self) -> io::Result<()> {
        loop {
            let mut trailers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            match httparse::parse_headers(self.buf, &mut trailers) {
                Ok(httparse::Status::Complete((len, _))) => {
                    self.buf.drain(..len);
                    return Ok(());
                }
                Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD => {
                    return Err(bad("trailers larger than 64 KiB"));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(bad(format!("invalid trailers: {e}"))),
            }
            if self.fill().await? == 0 {
                return Err(closed());
            }
        }
    }

    /// Reads what is there (at least a byte, or 0 at EOF) onto `buf`.
    async fn fill(&mut self) -> io::Result<usize> {
        let len = self.buf.len();
        self.buf.resize(len + READ_SIZE, 0);
        let read = self.stream.read(&mut self.buf[len..]).await;
        let n = *read.as_ref().unwrap_or(&0);
        self.buf.truncate(len + n);
        self.transfer.received += n as u64;
        read
    }
}

/// Status, framing and keep-alive from a parsed head.
fn interpret(response: &httparse::Response<'_, '_>) -> io::Result<(u16, Framing, bool)> {
    let status = response.code.ok_or_else(|| bad("no status code"))?;
    let http11 = response.version == Some(1);
    let mut keep_alive = http11;
    let mut length: Option<u64> = None;
    // Whether the last coding is chunked, if there is a Transfer-Encoding.
    let mut chunked: Option<bool> = None;
    for header in response.headers.iter() {
        let value = std::str::from_utf8(header.value)
            .map_err(|_| bad(format!("header {} is not text", header.name)))?;
        if header.name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value
                .trim()
                .parse()
                .map_err(|_| bad(format!("invalid Content-Length {value:?}")))?;
            if length.is_some_and(|m| m != n) {
                return Err(bad("two different Content-Length headers"));
            }
            length = Some(n);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked if it is the last coding applied.
            chunked = Some(
                value
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked")),
            );
        } else if header.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") && !http11 {
                    keep_alive = true;
                }
            }
        }
    }
    // Transfer-Encoding wins over Content-Length; if its last coding is
    // not chunked, the body runs until the server closes (RFC 9112, 6.3).
    let framing = match (chunked, length) {
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) | (None, None) => Framing::UntilClose,
        (None, Some(n)) => Framing::Length(n),
    };
    Ok((status, framing, keep_alive))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollen::io::{DuplexStream, duplex};

    fn runtime() -> pollen::runtime::Runtime {
        pollen::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Sends `request` on a connection whose server answers with `pieces`,
    /// one write each, then (if `close`) closes; returns the result, what
    /// is left in the buffer, and the bytes read.
    fn exchange(pieces: &[&[u8]], close: bool) -> Result<(Response, usize, u64), (io::Error, u64)> {
        let pieces: Vec<Vec<u8>> = pieces.iter().map(|p| p.to_vec()).collect();
        runtime().block_on(async move {
            let (client, mut server): (DuplexStream, DuplexStream) = duplex(1 << 16);
            let server = pollen::spawn(async move {
                let mut request = [0; 1024];
                let _ = server.read(&mut request).await.unwrap();
                for piece in pieces {
                    server.write_all(&piece).await.unwrap();
                    pollen::task::yield_now().await;
                }
                if !close {
                    // Keep it open until the client is done.
                    let _ = server.read(&mut request).await;
                }
            });
            let mut conn = Conn::new(client);
            let mut transfer = Transfer::default();
            let request = b"GET / HTTP/1.1\r\n\r\n";
            let result = conn.exchange(request, false, &mut transfer).await;
            assert_eq!(transfer.sent, request.len() as u64);
            let left = conn.buf.len();
            drop(conn);
            server.await.unwrap();
            match result {
                Ok(response) => Ok((response, left, transfer.received)),
                Err(error) => Err((error, transfer.received)),
            }
        })
    }

    #[test]
    fn content_length_body_split_across_reads() {
        let (response, left, _) = exchange(
            &[
                b"HTTP/1.1 200 OK\r\nContent-Le",
                b"ngth: 10\r\n\r\n01234",
                b"56789",
            ],
            false,
        )
        .unwrap();
        assert_eq!(response.status, 200);
        assert!(response.reusable);
        assert_eq!(left, 0);
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let (response, _, _) = exchange(
            &[
                b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"5;ext=1\r\nhello\r\n",
                b"1",
                b"0\r\n0123456789abcdef\r",
                b"\n0\r\nX-Trailer: yes\r\n\r\n",
            ],
            false,
        )
        .unwrap();
        assert_eq!(response.status, 503);
        assert!(response.reusable);
    }

    #[test]
    fn connection_close_and_http10_are_not_reused() {
        let (response, _, _) = exchange(
            &[b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"],
            false,
        )
        .unwrap();
        assert!(!response.reusable);
        let (response, _, _) =
            exchange(&[b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"], false).unwrap();
        assert!(!response.reusable);
        let (response, _, _) = exchange(
            &[b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"],
            false,
        )
        .unwrap();
        assert!(response.reusable);
    }

    #[test]
    fn a_body_without_length_runs_until_close() {
        let (response, _, received) =
            exchange(&[b"HTTP/1.1 200 OK\r\n\r\nsome ", b"body"], true).unwrap();
        assert_eq!(response.status, 200);
        assert!(!response.reusable);
        assert_eq!(received, 28);
    }

    #[test]
    fn informational_responses_are_skipped() {
        let (response, _, _) = exchange(
            &[b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"],
            false,
        )
        .unwrap();
        assert_eq!(response.status, 201);
    }

    #[test]
    fn closing_mid_response_is_an_error_not_a_hang() {
        for pieces in [
            &[&b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"[..]][..],
            &[&b"HTTP/1.1 200 OK\r\nContent-"[..]],
            &[&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"[..]],
        ] {
            let (error, received) = exchange(pieces, true).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
            assert!(received > 0);
        }
        let (error, received) = exchange(&[], true).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(received, 0);
    }

    #[test]
    fn garbage_is_a_bad_response() {
        for pieces in [
            &[&b"SMTP ready\r\n\r\n"[..]][..],
            &[&b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n"[..]],
            &[&b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"[..]],
            &[&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..]],
            &[&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"[..]],
        ] {
            let (error, _) = exchange(pieces, false).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{pieces:?}");
        }
    }

    #[test]
    fn a_transfer_coding_other_than_chunked_runs_until_close() {
        // Content-Length does not count: the body is gzip-coded bytes.
        let (response, _, received) = exchange(
            &[
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nok",
                b"more",
            ],
            true,
        )
        .unwrap();
        assert!(!response.reusable);
        assert_eq!(received, 69);
    }

    #[test]
    fn an_idle_connection_is_quiet_until_the_server_speaks_or_closes() {
        runtime().block_on(async {
            let (client, mut server) = duplex(1024);
            let mut conn = Conn::new(client);
            assert!(conn.is_quiet().await);
            server
                .write_all(b"HTTP/1.1 408 Request Timeout\r\n")
                .await
                .unwrap();
            assert!(!conn.is_quiet().await);
            let (client, server) = duplex(1024);
            let mut conn = Conn::new(client);
            drop(server);
            assert!(!conn.is_quiet().await);
        });
    }

    #[test]
    fn bytes_after_the_response_make_it_not_reusable() {
        let (response, left, _) = exchange(
            &[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"],
            false,
        )
        .unwrap();
        assert!(!response.reusable);
        assert_eq!(left, 5);
    }
}
