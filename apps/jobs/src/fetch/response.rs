//! An `http` job's response: its head, how its body is framed, and the
//! body read up to the cap (see the parent module's docs for the rules).

use httparse::Status;
use pollen::io::{AsyncRead, AsyncReadExt};
use serde_json::{Value, json};

/// The most body bytes read of a response (past it, reading stops and the
/// result says `"truncated": true`).
pub(super) const MAX_RESPONSE: u64 = 1 << 20;
/// The most bytes of a response's head, and of its trailer section.
pub(super) const MAX_HEAD: usize = 64 * 1024;
/// The most headers in a response's head, and in its trailer section.
pub(super) const MAX_HEADERS: usize = 64;
/// The longest line giving a chunk's size (extensions included).
const MAX_CHUNK_LINE: usize = 4096;
/// How much is asked of the stream at a time.
const READ_SIZE: usize = 8192;

/// What was read of a `2xx` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Response {
    status: u16,
    /// The `Content-Type` header, if there was one.
    content_type: Option<String>,
    /// The body bytes read (decoded, for chunks).
    bytes: u64,
    /// Reading stopped at [`MAX_RESPONSE`] with more to come.
    truncated: bool,
}

// === impl Response ===

impl Response {
    /// The job's result.
    pub(super) fn into_json(self) -> Value {
        let mut result = json!({ "status": self.status, "bytes": self.bytes });
        if let Some(content_type) = self.content_type {
            result["content_type"] = Value::String(content_type);
        }
        if self.truncated {
            result["truncated"] = Value::Bool(true);
        }
        result
    }
}

/// Reads a response from `stream`: its head, then (for a `2xx` answer)
/// its body as the head frames it, up to [`MAX_RESPONSE`] bytes.
///
/// # Errors
///
/// The answer is not `2xx` (its body is not read), or not HTTP, or badly
/// framed, or the stream ends or fails before the body does.
pub(super) async fn read_response<R: AsyncRead + Unpin>(stream: R) -> Result<Response, String> {
    let mut reader = Reader {
        stream,
        buf: Vec::new(),
    };
    let head = reader.head().await?;
    if !(200..300).contains(&head.status) {
        return Err(format!("the server answered {}", head.status));
    }
    let (bytes, truncated) = match head.framing {
        Framing::Empty => (0, false),
        Framing::Length(length) => {
            let want = length.min(MAX_RESPONSE);
            let got = reader.skip(want).await?;
            if got < want {
                return Err(format!(
                    "the server closed the connection after {got} of the body's {length} bytes"
                ));
            }
            (got, length > MAX_RESPONSE)
        }
        Framing::Chunked => reader.chunks().await?,
        Framing::ToEnd => {
            // One byte more than the cap tells a body of exactly the cap
            // from a longer one.
            let got = reader.skip(MAX_RESPONSE + 1).await?;
            (got.min(MAX_RESPONSE), got > MAX_RESPONSE)
        }
    };
    Ok(Response {
        status: head.status,
        content_type: head.content_type,
        bytes,
        truncated,
    })
}

/// How a response's body is delimited (RFC 9112, section 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// There is none (`1xx`, `204`, `304`).
    Empty,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length`.
    Length(u64),
    /// Up to the end of the stream.
    ToEnd,
}

/// What is kept of a response's head.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    framing: Framing,
    content_type: Option<String>,
}

// === impl Head ===

impl Head {
    /// Reads what matters of a parsed head.
    fn new(status: u16, headers: &[httparse::Header<'_>]) -> Result<Head, String> {
        let content_type = headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case("content-type"))
            .map(|header| String::from_utf8_lossy(header.value).trim().to_owned());
        Ok(Head {
            status,
            framing: Framing::of(status, headers)?,
            content_type,
        })
    }
}

// === impl Framing ===

impl Framing {
    /// How the body of a response with `status` and `headers` is framed.
    fn of(status: u16, headers: &[httparse::Header<'_>]) -> Result<Framing, String> {
        if (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(Framing::Empty);
        }
        let named = |name: &'static str| {
            headers
                .iter()
                .filter(move |header| header.name.eq_ignore_ascii_case(name))
                .flat_map(|header| header.value.split(|&b| b == b','))
                .map(<[u8]>::trim_ascii)
                .filter(|value| !value.is_empty())
        };
        // Transfer-Encoding overrides Content-Length.
        if let Some(last) = named("transfer-encoding").next_back() {
            return Ok(if last.eq_ignore_ascii_case(b"chunked") {
                Framing::Chunked
            } else {
                Framing::ToEnd
            });
        }
        let mut length = None;
        for value in named("content-length") {
            let parsed = Some(value)
                .filter(|value| value.iter().all(u8::is_ascii_digit))
                .and_then(|value| std::str::from_utf8(value).ok()?.parse::<u64>().ok())
                .ok_or_else(|| {
                    format!(
                        "invalid Content-Length {:?}",
                        String::from_utf8_lossy(value)
                    )
                })?;
            match length {
                Some(earlier) if earlier != parsed => {
                    return Err(format!(
                        "conflicting Content-Length values {earlier} and {parsed}"
                    ));
                }
                _ => length = Some(parsed),
            }
        }
        Ok(length.map_or(Framing::ToEnd, Framing::Length))
    }
}

/// A response being read: the stream and what was read of it but not
/// used yet.
struct Reader<R> {
    stream: R,
    buf: Vec<u8>,
}

// === impl Reader ===

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Reads more of the stream into the buffer; `false` at its end.
    async fn fill(&mut self) -> Result<bool, String> {
        let len = self.buf.len();
        self.buf.resize(len + READ_SIZE, 0);
        let read = self.stream.read(&mut self.buf[len..]).await;
        self.buf.truncate(len + read.as_ref().map_or(0, |&n| n));
        read.map(|n| n > 0)
            .map_err(|e| format!("reading the response failed: {e}"))
    }

    /// Reads the final head (skipping interim `1xx` ones).
    async fn head(&mut self) -> Result<Head, String> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf) {
                Ok(Status::Complete(len)) => {
                    let status = response.code.unwrap_or_default();
                    let interim = (100..200).contains(&status) && status != 101;
                    let head = Head::new(status, response.headers)?;
                    self.buf.drain(..len);
                    if !interim {
                        return Ok(head);
                    }
                }
                Ok(Status::Partial) if self.buf.len() > MAX_HEAD => {
                    return Err(format!("the response's head is over {MAX_HEAD} bytes"));
                }
                Ok(Status::Partial) => {
                    if !self.fill().await? {
                        return Err(
                            "the server closed the connection before the response's head".into(),
                        );
                    }
                }
                Err(e) => return Err(format!("the response is not HTTP: {e}")),
            }
        }
    }

    /// Reads and drops up to `n` bytes; fewer only where the stream ends.
    /// Returns how many.
    async fn skip(&mut self, n: u64) -> Result<u64, String> {
        let mut skipped = 0;
        loop {
            let left = usize::try_from(n - skipped).unwrap_or(usize::MAX);
            let here = self.buf.len().min(left);
            self.buf.drain(..here);
            skipped += here as u64;
            if skipped == n || !self.fill().await? {
                return Ok(skipped);
            }
        }
    }

    /// Reads a chunked body and its trailer section; returns the bytes of
    /// data read and whether it stopped at [`MAX_RESPONSE`].
    async fn chunks(&mut self) -> Result<(u64, bool), String> {
        const CLOSED: &str = "the server closed the connection in the middle of a chunk";
        let mut bytes = 0;
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(Status::Complete((len, size))) => {
                        self.buf.drain(..len);
                        break size;
                    }
                    Ok(Status::Partial) if self.buf.len() > MAX_CHUNK_LINE => {
                        return Err(format!(
                            "a chunk's size line is over {MAX_CHUNK_LINE} bytes"
                        ));
                    }
                    Ok(Status::Partial) => {
                        if !self.fill().await? {
                            return Err(CLOSED.into());
                        }
                    }
                    Err(httparse::InvalidChunkSize) => {
                        let line = self.buf.split(|&b| b == b'\n').next().unwrap_or_default();
                        return Err(format!(
                            "invalid chunk size line {:?}",
                            String::from_utf8_lossy(line).trim_end()
                        ));
                    }
                }
            };
            if size == 0 {
                break;
            }
            let room = MAX_RESPONSE - bytes;
            if size > room {
                if self.skip(room).await? < room {
                    return Err(CLOSED.into());
                }
                return Ok((MAX_RESPONSE, true));
            }
            if self.skip(size).await? < size {
                return Err(CLOSED.into());
            }
            bytes += size;
            while self.buf.len() < 2 {
                if !self.fill().await? {
                    return Err(CLOSED.into());
                }
            }
            if !self.buf.starts_with(b"\r\n") {
                return Err(format!("a chunk of {size} bytes is followed by more data"));
            }
            self.buf.drain(..2);
        }
        // The trailer section: fields to ignore, then an empty line.
        loop {
            let mut trailers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            match httparse::parse_headers(&self.buf, &mut trailers) {
                Ok(Status::Complete(_)) => return Ok((bytes, false)),
                Ok(Status::Partial) if self.buf.len() > MAX_HEAD => {
                    return Err(format!("the trailer section is over {MAX_HEAD} bytes"));
                }
                Ok(Status::Partial) => {
                    if !self.fill().await? {
                        return Err(
                            "the server closed the connection in the trailer section".into()
                        );
                    }
                }
                Err(e) => return Err(format!("the trailer section is not HTTP: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::pending;
    use std::time::Duration;

    use pollen::io::{AsyncWriteExt, duplex};

    use super::*;

    /// What reading `answer` gives when the server sends it through a pipe
    /// of `pipe` bytes (1 delivers it a byte at a time), then closes its
    /// end or, with `close` false, keeps it open for good.
    ///
    /// Under paused time: a reader that waited for the end of a kept-open
    /// stream would meet the minute's deadline at once, not hang.
    async fn read(answer: &[u8], pipe: usize, close: bool) -> Result<Response, String> {
        let (client, mut server) = duplex(pipe);
        let answer = answer.to_vec();
        let _server = pollen::spawn(async move {
            // Fails only once the reader stopped reading (the cap).
            let _ = server.write_all(&answer).await;
            if close {
                drop(server);
            } else {
                pending::<()>().await;
            }
        });
        pollen::time::timeout(Duration::from_secs(60), read_response(client))
            .await
            .expect("the response is read without waiting for the end of the stream")
    }

    fn ok(bytes: u64) -> Response {
        Response {
            status: 200,
            content_type: None,
            bytes,
            truncated: false,
        }
    }

    #[pollen::test(start_paused = true)]
    async fn content_length_is_not_waited_past() {
        let answer =
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
        for pipe in [1, 4096] {
            let response = read(answer, pipe, false).await.unwrap();
            assert_eq!(
                response,
                Response {
                    content_type: Some("text/plain".into()),
                    ..ok(5)
                }
            );
        }
        assert_eq!(
            response_json(&read(answer, 4096, false).await.unwrap()),
            json!({ "status": 200, "bytes": 5, "content_type": "text/plain" })
        );
        // The same length twice is one length; nothing after it is read.
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nokHTTP/1.1 500 No\r\n";
        assert_eq!(read(answer, 4096, false).await, Ok(ok(2)));
        // No body at all for a 204, whatever the head says.
        let answer = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(
            read(answer, 4096, false).await,
            Ok(Response {
                status: 204,
                ..ok(0)
            })
        );
    }

    fn response_json(response: &Response) -> Value {
        response.clone().into_json()
    }

    #[pollen::test(start_paused = true)]
    async fn interim_answers_are_skipped() {
        let answer = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n\
                       HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(read(answer, 7, false).await, Ok(ok(2)));
    }

    #[pollen::test(start_paused = true)]
    async fn chunks_are_decoded_and_trailers_skipped() {
        let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                       5\r\nhello\r\n\
                       1;name=value\r\n \r\n\
                       A\r\n0123456789\r\n\
                       0\r\nExpires: never\r\nX-Checksum: 42\r\n\r\n";
        for pipe in [1, 3, 4096] {
            assert_eq!(read(answer, pipe, false).await, Ok(ok(16)), "pipe {pipe}");
        }
        // Transfer-Encoding wins over Content-Length.
        let answer =
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n\
                       3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(read(answer, 4096, false).await, Ok(ok(3)));
    }

    #[pollen::test(start_paused = true)]
    async fn without_a_length_the_body_runs_to_the_end_of_the_stream() {
        let answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hi</p>";
        let response = read(answer, 2, true).await.unwrap();
        assert_eq!(response.bytes, 9);
        assert!(!response.truncated);
        // So does one with a coding other than chunked last.
        let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nzzz";
        assert_eq!(read(answer, 4096, true).await, Ok(ok(3)));
    }

    #[pollen::test(start_paused = true)]
    async fn bad_framing_fails_and_says_why() {
        for (answer, why) in [
            (
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\nabc\r\n0\r\n\r\n"[..],
                "invalid chunk size line \"xyz\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
                "a chunk of 3 bytes is followed by more data",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                "in the middle of a chunk",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: 1\r\n",
                "in the trailer section",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
                "closed the connection after 3 of the body's 5 bytes",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
                "conflicting Content-Length values 5 and 6",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nabcde",
                "invalid Content-Length \"+5\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n",
                "invalid Content-Length \"five\"",
            ),
            (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "the response is not HTTP"),
            (b"HTTP/1.1 200 OK\r\n", "before the response's head"),
        ] {
            let error = read(answer, 4096, true).await.unwrap_err();
            assert!(error.contains(why), "{error}");
        }
    }

    #[pollen::test(start_paused = true)]
    async fn an_answer_other_than_2xx_fails_without_its_body_being_read() {
        // No length and kept open: reading the body would never end.
        let answer = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n<p>no";
        assert_eq!(
            read(answer, 4096, false).await,
            Err("the server answered 404".into())
        );
    }

    #[pollen::test(start_paused = true)]
    async fn bodies_past_the_cap_are_cut_there_and_say_so() {
        let cap = usize::try_from(MAX_RESPONSE).unwrap();
        let body = vec![b'x'; 2 * cap];
        let cut = Response {
            truncated: true,
            ..ok(MAX_RESPONSE)
        };

        let mut answer =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        answer.extend_from_slice(&body);
        assert_eq!(read(&answer, 65536, false).await, Ok(cut.clone()));
        assert_eq!(
            response_json(&cut),
            json!({ "status": 200, "bytes": MAX_RESPONSE, "truncated": true })
        );

        let mut answer = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        answer.extend_from_slice(&body);
        assert_eq!(read(&answer, 65536, true).await, Ok(cut.clone()));
        // Exactly the cap, then the end: all of it.
        answer.truncate(answer.len() - cap);
        assert_eq!(read(&answer, 65536, true).await, Ok(ok(MAX_RESPONSE)));

        let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..3 {
            answer.extend_from_slice(format!("{:x}\r\n", cap / 2 + 1).as_bytes());
            answer.extend_from_slice(&body[..cap / 2 + 1]);
            answer.extend_from_slice(b"\r\n");
        }
        answer.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(read(&answer, 65536, false).await, Ok(cut));
    }
}
