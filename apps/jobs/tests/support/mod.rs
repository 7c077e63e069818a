//! What the integration tests share: a blocking HTTP client that reads
//! responses with `httparse`, an in-process server on a runtime of its
//! own, and a tiny target server for `http` jobs.
//!
//! Each test file uses part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use pollen::channel::oneshot;
use pollen::net::TcpListener;
use pollen_jobs::{Config, QueueConfig, Summary, serve};
use serde_json::Value;

/// How long any one expected answer or state may take.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<'static, ()>>,
    thread: Option<thread::JoinHandle<Summary>>,
}

impl Server {
    pub fn start(config: Config) -> Server {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = pollen::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                serve(listener, config, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap()
            })
        });
        Server {
            addr: addr_rx.recv_timeout(PATIENCE).expect("server started"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// One request on a connection of its own.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Response {
        self.client().request(method, path, body)
    }

    pub fn get(&self, path: &str) -> Value {
        let response = self.request("GET", path, None);
        assert_eq!(response.status, 200, "GET {path}: {response:?}");
        response.json()
    }

    pub fn submit(&self, job: Value) -> String {
        let response = self.request("POST", "/jobs", Some(&job.to_string()));
        assert_eq!(response.status, 201, "POST /jobs {job}: {response:?}");
        response.json()["id"].as_str().expect("an id").to_owned()
    }

    /// Polls the job until its status is `want`; returns it.
    pub fn wait_for(&self, id: &str, want: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let job = self.get(&format!("/jobs/{id}"));
            if job["status"] == want {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} never {want}: {job}");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Shuts the server down and returns what it did.
    pub fn stop(mut self) -> Summary {
        self.stop.take().unwrap().send(()).unwrap();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("a JSON body ({e}), got {:?}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `error` field of the body.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("an error message, got {:?}", self.text()))
            .to_owned()
    }
}

pub struct Client {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    pub fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> Response {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body.unwrap_or(""));
        self.send_raw(request.as_bytes());
        self.response()
    }

    /// Reads one response (framed by its Content-Length).
    pub fn response(&mut self) -> Response {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = response.parse(&self.buf).unwrap() {
                let headers: Vec<(String, String)> = response
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let status = response.code.unwrap();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .expect("a Content-Length")
                    .1
                    .parse()
                    .unwrap();
                while self.buf.len() < head + length {
                    self.fill();
                }
                let body = self.buf[head..head + length].to_vec();
                self.buf.drain(..head + length);
                return Response {
                    status,
                    headers,
                    body,
                };
            }
            self.fill();
        }
    }

    pub fn fill(&mut self) {
        let mut chunk = [0; 4096];
        let n = self.stream.read(&mut chunk).expect("a response in time");
        assert!(n > 0, "the server closed the connection mid-response");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Sends the head of a `POST /jobs` announcing a body of `length`
    /// bytes, with `Expect: 100-continue` if `expect_continue`.
    pub fn post_head(&mut self, length: usize, expect_continue: bool) {
        let expect = if expect_continue {
            "Expect: 100-continue\r\n"
        } else {
            ""
        };
        self.send_raw(
            format!(
                "POST /jobs HTTP/1.1\r\nHost: test\r\n{expect}Content-Length: {length}\r\n\r\n"
            )
            .as_bytes(),
        );
    }

    /// Reads a `100 Continue`.
    pub fn continued(&mut self) {
        const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
        while self.buf.len() < CONTINUE.len() {
            self.fill();
        }
        assert_eq!(
            &self.buf[..CONTINUE.len()],
            CONTINUE,
            "{:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.buf.drain(..CONTINUE.len());
    }

    /// Whether nothing arrives for `wait`. Evidence that the server has not
    /// answered yet, never that it will not.
    pub fn silent_for(&mut self, wait: Duration) -> bool {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0; 4096];
        let silent = match self.stream.read(&mut chunk) {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                false
            }
            Err(e) => matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        self.stream.set_read_timeout(Some(PATIENCE)).unwrap();
        silent && self.buf.is_empty()
    }

    /// Whether the server closed the connection (after anything unread).
    pub fn closed(&mut self) -> bool {
        let mut chunk = [0; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    }
}

/// A valid `sleep` job padded with spaces to exactly `length` bytes.
pub fn padded_job(length: usize) -> String {
    let job = r#"{"type":"sleep","payload":{"ms":1}}"#;
    let body = format!("{job}{}", " ".repeat(length - job.len()));
    assert_eq!(body.len(), length);
    body
}

pub fn config(workers: usize, queue_capacity: usize) -> Config {
    Config {
        queue: QueueConfig {
            workers,
            queue_capacity,
            retry_base: Duration::from_millis(20),
            ..QueueConfig::default()
        },
        shutdown_grace: Duration::from_millis(200),
        ..Config::default()
    }
}

/// A plain HTTP server on a thread: `200` and a 5-byte body for `/ok`,
/// `503` for anything else; one request per connection.
pub fn target_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let answer: &[u8] = if head.starts_with(b"GET /ok HTTP/1.1\r\n") {
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
            } else {
                b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
            };
            let _ = stream.write_all(answer);
        }
    });
    addr
}
