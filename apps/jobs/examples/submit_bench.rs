//! How fast `pollen-jobs` takes jobs over HTTP and runs them: N `sleep 0`
//! jobs submitted by C keep-alive connections, then the time until all
//! completed.
//!
//! ```text
//! cargo run --release -p pollen-jobs --example submit_bench -- [JOBS] [CONNECTIONS] [WORKERS] [DATA_DIR]
//! ```
//!
//! Defaults: 10000 jobs, 50 connections, 4 workers, no journal. The
//! service runs in this process, on its own runtime, on a free port; the
//! clients are pollen tasks on another runtime.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::net::{TcpListener, TcpStream};
use pollen::sync::CancellationToken;
use pollen_jobs::{Config, QueueConfig, serve};

const BODY: &str = r#"{"type":"sleep","payload":{"ms":0},"max_retries":0}"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|a| a.parse().expect("a number"))
            .unwrap_or(default)
    };
    let (jobs, connections, workers) = (number(0, 10_000), number(1, 50), number(2, 4));
    let data_dir = args.get(3).map(std::path::PathBuf::from);

    let stop = CancellationToken::new();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn({
        let stop = stop.clone();
        let config = Config {
            queue: QueueConfig {
                workers,
                queue_capacity: jobs.max(1),
                data_dir: data_dir.clone(),
                keep_finished: jobs,
                ..QueueConfig::default()
            },
            ..Config::default()
        };
        move || {
            let runtime = pollen::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                serve(listener, config, stop.cancelled()).await.unwrap()
            })
        }
    });
    let addr: SocketAddr = addr_rx.recv().unwrap();

    let client = pollen::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (accepted, completed) = client.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..connections)
            .map(|c| {
                let share = jobs / connections + usize::from(c < jobs % connections);
                pollen::spawn(submit(addr, share))
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let accepted = start.elapsed();
        let mut conn = Conn::connect(addr).await;
        loop {
            let status = conn.request("GET", "/status", "").await;
            let status: serde_json::Value = serde_json::from_str(&status).unwrap();
            if status["completed"].as_u64() == Some(jobs as u64) {
                break;
            }
            pollen::time::sleep(Duration::from_millis(1)).await;
        }
        (accepted, start.elapsed())
    });
    stop.cancel();
    server.join().unwrap();

    let rate = |d: Duration| jobs as f64 / d.as_secs_f64();
    println!(
        "{jobs} sleep-0 jobs, {connections} keep-alive connections, {workers} workers, journal: {}",
        data_dir.map_or("none".to_owned(), |d| d.display().to_string())
    );
    println!("accepted in {accepted:.2?}: {:.0} jobs/s", rate(accepted));
    println!(
        "completed in {completed:.2?}: {:.0} jobs/s",
        rate(completed)
    );
}

/// Submits `count` jobs on one keep-alive connection, one at a time.
async fn submit(addr: SocketAddr, count: usize) {
    let mut conn = Conn::connect(addr).await;
    for _ in 0..count {
        let body = conn.request("POST", "/jobs", BODY).await;
        assert!(body.starts_with(r#"{"id":"#), "not accepted: {body}");
    }
}

/// One keep-alive connection; responses read with `httparse`.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends a request; returns the response's body.
    async fn request(&mut self, method: &str, path: &str, body: &str) -> String {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.write_all(request.as_bytes()).await.unwrap();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = response.parse(&self.buf).unwrap() {
                let length: usize = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                    .unwrap();
                if self.buf.len() >= head + length {
                    let body = String::from_utf8_lossy(&self.buf[head..head + length]).into_owned();
                    self.buf.drain(..head + length);
                    return body;
                }
            }
            let mut chunk = [0; 4096];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
