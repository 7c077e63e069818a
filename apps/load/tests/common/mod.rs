//! A small HTTP/1.1 server for the tests, whose every answer a test picks
//! ([`Reply`]), over in-memory pipes ([`DuplexConnector`], for virtual
//! time) or over TCP on a thread of its own ([`TcpServer`]).
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use pollen::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, duplex};
use pollen::net::TcpListener;
use pollen::sync::CancellationToken;
use pollen_load::Connect;

/// How the server answers one request.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    /// Waits this long before answering.
    pub delay: Duration,
    pub body: Body,
    /// Sends `Connection: close` and closes after the response.
    pub close: bool,
    /// Sends half the response, then closes.
    pub cut: bool,
    /// Closes after the response without saying so (a server dropping an
    /// idle keep-alive connection).
    pub hang_up: bool,
    /// Closes without a byte of answer (a server that drops a keep-alive
    /// connection just as the next request arrives).
    pub drop_request: bool,
    /// After the response, waits this long, then sends `408 Request
    /// Timeout` unasked and ignores the connection from then on (a server
    /// timing out an idle keep-alive connection).
    pub idle_408_after: Option<Duration>,
}

#[derive(Clone, Debug)]
pub enum Body {
    Length(Vec<u8>),
    Chunked(Vec<Vec<u8>>),
}

impl Reply {
    /// `200`, "ok", at once.
    pub fn ok() -> Reply {
        Reply::status(200)
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            delay: Duration::ZERO,
            body: Body::Length(b"ok".to_vec()),
            close: false,
            cut: false,
            hang_up: false,
            drop_request: false,
            idle_408_after: None,
        }
    }

    pub fn after(self, delay: Duration) -> Reply {
        Reply { delay, ..self }
    }
}

/// Picks the reply to the request with this `X-Request-Id`.
pub type Behavior = Arc<dyn Fn(u64) -> Reply + Send + Sync>;

pub fn behavior(f: impl Fn(u64) -> Reply + Send + Sync + 'static) -> Behavior {
    Arc::new(f)
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// The `X-Request-Id` of every request, in arrival order.
    pub ids: Mutex<Vec<u64>>,
    pub connections: AtomicU64,
}

impl Seen {
    pub fn ids(&self) -> Vec<u64> {
        self.ids.lock().unwrap().clone()
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

/// Serves requests on one connection until the client closes it (or a
/// reply closes it).
pub async fn serve_connection<S>(mut stream: S, behavior: Behavior, seen: Arc<Seen>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    seen.connections.fetch_add(1, Ordering::Relaxed);
    let mut buf = Vec::new();
    loop {
        let (head, id, body) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(head)) = request.parse(&buf) {
                let header = |name: &str| {
                    request
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .and_then(|h| std::str::from_utf8(h.value).ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                };
                let id = header("x-request-id").expect("every request has an X-Request-Id");
                break (head, id, header("content-length").unwrap_or(0) as usize);
            }
            let mut chunk = [0; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        while buf.len() < head + body {
            let mut chunk = [0; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head + body);
        seen.ids.lock().unwrap().push(id);

        let reply = behavior(id);
        if reply.drop_request {
            let _ = stream.close().await;
            return;
        }
        if !reply.delay.is_zero() {
            pollen::time::sleep(reply.delay).await;
        }
        let response = render(&reply);
        let response = if reply.cut {
            &response[..response.len() / 2]
        } else {
            &response[..]
        };
        if stream.write_all(response).await.is_err() {
            return;
        }
        if reply.cut || reply.close || reply.hang_up {
            let _ = stream.close().await;
            return;
        }
        if let Some(idle) = reply.idle_408_after {
            pollen::time::sleep(idle).await;
            let timeout =
                b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
            if stream.write_all(timeout).await.is_err() {
                return;
            }
            // Reads (and ignores) whatever comes, until the client closes.
            let mut chunk = [0; 4096];
            while matches!(stream.read(&mut chunk).await, Ok(n) if n > 0) {}
            return;
        }
    }
}

fn render(reply: &Reply) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {} Whatever\r\n", reply.status);
    if reply.close {
        head.push_str("Connection: close\r\n");
    }
    let mut bytes;
    match &reply.body {
        Body::Length(body) => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            bytes = head.into_bytes();
            bytes.extend_from_slice(body);
        }
        Body::Chunked(chunks) => {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            bytes = head.into_bytes();
            for chunk in chunks {
                bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                bytes.extend_from_slice(chunk);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
        }
    }
    bytes
}

/// Each connection is an in-memory pipe to a server task on the same
/// runtime: with the clock paused, a whole load runs in virtual time.
pub struct DuplexConnector {
    pub behavior: Behavior,
    pub seen: Arc<Seen>,
}

impl DuplexConnector {
    pub fn new(behavior: Behavior) -> (DuplexConnector, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        (
            DuplexConnector {
                behavior,
                seen: seen.clone(),
            },
            seen,
        )
    }
}

impl Connect for DuplexConnector {
    type Stream = DuplexStream;

    async fn connect(&self) -> io::Result<DuplexStream> {
        let (client, server) = duplex(1 << 16);
        pollen::spawn(serve_connection(
            server,
            self.behavior.clone(),
            self.seen.clone(),
        ));
        Ok(client)
    }

    fn describe(&self) -> String {
        "the in-memory server".to_owned()
    }
}

/// Refuses every connection.
pub struct Refused;

impl Connect for Refused {
    type Stream = DuplexStream;

    async fn connect(&self) -> io::Result<DuplexStream> {
        Err(io::ErrorKind::ConnectionRefused.into())
    }

    fn describe(&self) -> String {
        "nowhere".to_owned()
    }
}

/// Never connects (a host that drops SYNs).
pub struct Unanswered;

impl Connect for Unanswered {
    type Stream = DuplexStream;

    async fn connect(&self) -> io::Result<DuplexStream> {
        std::future::pending().await
    }

    fn describe(&self) -> String {
        "the silent host".to_owned()
    }
}

/// The server on a loopback port, on a runtime thread of its own.
pub struct TcpServer {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    stop: CancellationToken,
    thread: Option<thread::JoinHandle<()>>,
}

impl TcpServer {
    pub fn start(behavior: Behavior) -> TcpServer {
        let seen = Arc::new(Seen::default());
        let stop = CancellationToken::new();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = thread::spawn({
            let (seen, stop) = (seen.clone(), stop.clone());
            move || {
                let runtime = pollen::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    addr_tx.send(listener.local_addr().unwrap()).unwrap();
                    loop {
                        let accepted = pollen::select! {
                            () = stop.cancelled() => return,
                            accepted = listener.accept() => accepted,
                        };
                        if let Ok((stream, _)) = accepted {
                            pollen::spawn(serve_connection(stream, behavior.clone(), seen.clone()));
                        }
                    }
                });
            }
        });
        TcpServer {
            addr: addr_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            seen,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
