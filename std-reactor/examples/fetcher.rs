//! The fan-out / fan-in pattern: fetch many URLs at once, at most 10 at a
//! time, and print what came back.
//!
//! *Fan-out*: one task per URL, all running at the same time, so the whole
//! list takes about as long as the slowest fetch rather than the sum of all.
//! A semaphore with 10 permits bounds the fan-out: a task is spawned only
//! once it holds a permit, and gives it back when its fetch is done, so the
//! servers (and our own file descriptors) never see more than 10 requests
//! from us at once. *Fan-in*: the results come back through the tasks'
//! `JoinHandle`s, which we await in the order the URLs were given, and one
//! table is printed at the end.
//!
//! Use fan-out / fan-in for many independent pieces of work of the same
//! kind (requests, files, records) whose results are gathered in one place.
//! When items must pass through several steps in order, see the
//! `log_analyzer` (pipeline) example.
//!
//! Without arguments the example starts a small HTTP server of its own on
//! a free local port (`/bytes/N` answers N bytes, `/delay/MS` answers after
//! MS milliseconds, `/status/CODE` answers with that status) and fetches a
//! list of its URLs, plus one where nothing listens. Given URLs (plain
//! `http://` only: there is no TLS here), it fetches those.
//!
//! ```text
//! cargo run --release --example fetcher
//! cargo run --release --example fetcher -- http://127.0.0.1:8080/ http://127.0.0.1:8080/x
//! ```

#![forbid(unsafe_code)]

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::net::{TcpListener, TcpStream};
use pollen::sync::Semaphore;

/// At most this many fetches at once.
const MAX_IN_FLIGHT: usize = 10;
/// A fetch that takes longer fails.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses are read up to this size; the rest is left unread.
const MAX_BODY: u64 = 16 << 20;

/// The outcome of one fetch.
#[derive(Debug)]
struct Fetched {
    url: String,
    /// The status and the body's size in bytes, or why there is none.
    result: io::Result<(u16, usize)>,
    latency: Duration,
}

/// Fetches every URL, at most `limit` at a time; the results come back in
/// the order of `urls`.
async fn fetch_all(urls: Vec<String>, limit: usize) -> Vec<Fetched> {
    let permits = Arc::new(Semaphore::new(limit));
    let mut tasks = Vec::with_capacity(urls.len());
    for url in urls {
        // Fan-out, bounded: wait for a free permit, then start the task
        // that holds it until its fetch is done.
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        tasks.push(pollen::spawn(async move {
            let start = pollen::time::now();
            let result = match pollen::time::timeout(FETCH_TIMEOUT, fetch(&url)).await {
                Ok(result) => result,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
            };
            drop(permit);
            Fetched {
                url,
                result,
                latency: pollen::time::now() - start,
            }
        }));
    }
    // Fan-in: every task's result, in the order the tasks were started.
    let mut fetched = Vec::with_capacity(tasks.len());
    for task in tasks {
        fetched.push(task.await.expect("a fetch task panicked"));
    }
    fetched
}

/// One HTTP/1.0 GET: the status and the size of the body. (HTTP/1.0, so
/// that servers send the body as is, never in chunks, and close the
/// connection after it.)
async fn fetch(url: &str) -> io::Result<(u16, usize)> {
    let (authority, path) = split_url(url)?;
    // `connect` with a host name would look the name up on this thread,
    // blocking it (and every task on it) until DNS answers. Look it up on
    // the blocking pool instead.
    let lookup = authority.clone();
    let addrs: Vec<SocketAddr> =
        pollen::spawn_blocking(move || lookup.to_socket_addrs().map(Iterator::collect))
            .await
            .expect("a lookup does not panic")?;
    let mut stream = TcpStream::connect(&addrs[..]).await?;
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: pollen-fetcher\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    (&mut stream)
        .take(MAX_BODY)
        .read_to_end(&mut response)
        .await?;

    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    match parsed.parse(&response) {
        Ok(httparse::Status::Complete(head)) => {
            let status = parsed.code.expect("a complete response has a status");
            Ok((status, response.len() - head))
        }
        Ok(httparse::Status::Partial) => Err(invalid("the response ended in its head")),
        Err(e) => Err(invalid(&format!("not an HTTP response: {e}"))),
    }
}

/// `http://host[:port][/path]` into (`host:port`, `/path`).
fn split_url(url: &str) -> io::Result<(String, String)> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(invalid("only http:// URLs are supported"));
    };
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(invalid("no host in the URL"));
    }
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_owned()))
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_owned())
}

/// The results as a table.
fn table(fetched: &[Fetched]) -> String {
    let width = fetched
        .iter()
        .map(|f| f.url.len())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut out = format!(
        "{:<width$}  {:>6}  {:>9}  {:>8}\n{}\n",
        "URL",
        "Status",
        "Size",
        "Latency",
        "─".repeat(width + 31)
    );
    let mut ok = 0;
    for f in fetched {
        let latency = format!("{}ms", f.latency.as_millis());
        match &f.result {
            Ok((status, size)) => {
                ok += usize::from((200..300).contains(status));
                let size = format!("{size}B");
                out += &format!("{:<width$}  {status:>6}  {size:>9}  {latency:>8}\n", f.url);
            }
            Err(e) => out += &format!("{:<width$}  error: {e}\n", f.url),
        }
    }
    out += &format!(
        "Total: {} URLs, {ok} success, {} failed\n",
        fetched.len(),
        fetched.len() - ok
    );
    out
}

// === the local server ===

/// How many requests the server is answering right now, and the most at
/// once so far.
#[derive(Debug, Default)]
struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// A tiny HTTP server in the task-per-connection style (see that example):
/// answers `/bytes/N`, `/delay/MS` and `/status/CODE`.
async fn serve(listener: TcpListener, in_flight: Arc<InFlight>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait a little, go on.
                eprintln!("server: accept failed: {e}");
                pollen::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let in_flight = in_flight.clone();
        pollen::spawn(async move {
            let now = in_flight.now.fetch_add(1, Ordering::SeqCst) + 1;
            in_flight.peak.fetch_max(now, Ordering::SeqCst);
            // A client that goes away early is its own problem.
            let _ = answer(stream).await;
            in_flight.now.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Reads one request and answers it.
async fn answer(mut stream: TcpStream) -> io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0; 1024];
    let path = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&request) {
            Ok(httparse::Status::Complete(_)) => break parsed.path.unwrap_or("/").to_owned(),
            Ok(httparse::Status::Partial) if request.len() < 8192 => continue,
            _ => return respond(&mut stream, 400, b"bad request\n").await,
        }
    };
    let (route, arg) = path.rsplit_once('/').unwrap_or(("", ""));
    match (route, arg.parse::<u64>()) {
        ("/bytes", Ok(n)) if n <= 1 << 24 => {
            respond(&mut stream, 200, &vec![b'x'; n as usize]).await
        }
        ("/delay", Ok(ms)) => {
            pollen::time::sleep(Duration::from_millis(ms)).await;
            respond(&mut stream, 200, b"sorry for the wait\n").await
        }
        ("/status", Ok(code @ 200..=599)) => {
            respond(
                &mut stream,
                code as u16,
                format!("status {code}\n").as_bytes(),
            )
            .await
        }
        _ => respond(&mut stream, 404, b"not found\n").await,
    }
}

async fn respond(stream: &mut TcpStream, status: u16, body: &[u8]) -> io::Result<()> {
    let head = format!(
        "HTTP/1.0 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if status < 400 { "OK" } else { "Error" },
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await
}

/// Starts the server on a free port; returns its address.
async fn start_server() -> io::Result<(SocketAddr, Arc<InFlight>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let in_flight = Arc::new(InFlight::default());
    pollen::spawn(serve(listener, in_flight.clone()));
    Ok((addr, in_flight))
}

/// The demo's URLs on the server at `addr`, and one where nothing listens.
async fn demo_urls(addr: SocketAddr) -> io::Result<Vec<String>> {
    let mut urls: Vec<String> = [
        "/bytes/0",
        "/bytes/512",
        "/bytes/65536",
        "/bytes/1048576",
        "/delay/100",
        "/delay/300",
        "/delay/500",
        "/delay/500",
        "/delay/500",
        "/delay/500",
        "/delay/500",
        "/delay/500",
        "/status/404",
        "/status/500",
        "/status/503",
        "/nothing/here",
    ]
    .iter()
    .map(|path| format!("http://{addr}{path}"))
    .collect();
    // A port that was free a moment ago: nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
    urls.push(format!("http://{closed}/"));
    Ok(urls)
}

#[pollen::main]
async fn main() -> std::process::ExitCode {
    let mut urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        let started = async {
            let (addr, _) = start_server().await?;
            println!("Serving on http://{addr}/ (until the example ends)");
            demo_urls(addr).await
        };
        match started.await {
            Ok(demo) => urls = demo,
            Err(e) => {
                eprintln!("fetcher: cannot start the local server: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let start = pollen::time::now();
    let fetched = fetch_all(urls, MAX_IN_FLIGHT).await;
    print!("{}", table(&fetched));
    println!(
        "{} URLs in {}ms, at most {MAX_IN_FLIGHT} at a time.",
        fetched.len(),
        (pollen::time::now() - start).as_millis()
    );
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        let split = |url| split_url(url).map_err(|e| e.to_string());
        assert_eq!(split("http://a:81/x/y"), Ok(("a:81".into(), "/x/y".into())));
        assert_eq!(split("http://a"), Ok(("a:80".into(), "/".into())));
        assert_eq!(
            split("https://a/"),
            Err("only http:// URLs are supported".into())
        );
        assert_eq!(split("http:///x"), Err("no host in the URL".into()));
    }

    /// The demo's table against the local server, on virtual time (the
    /// delays pass at once).
    #[pollen::test(start_paused = true)]
    async fn the_table_of_the_local_server() {
        let (addr, _) = start_server().await.unwrap();
        let urls = demo_urls(addr).await.unwrap();
        let fetched = fetch_all(urls.clone(), MAX_IN_FLIGHT).await;
        assert!(
            fetched.iter().map(|f| &f.url).eq(&urls),
            "in the order given"
        );
        let got: Vec<_> = fetched
            .iter()
            .map(|f| f.result.as_ref().map(|r| *r).map_err(io::Error::kind))
            .collect();
        let sorry = b"sorry for the wait\n".len();
        let expected = [
            Ok((200, 0)),
            Ok((200, 512)),
            Ok((200, 65536)),
            Ok((200, 1 << 20)),
            Ok((200, sorry)),
            Ok((200, sorry)),
            Ok((200, sorry)),
            Ok((200, sorry)),
            Ok((200, sorry)),
            Ok((200, sorry)),
            Ok((200, sorry)),
            Ok((200, sorry)),
            Ok((404, 11)),
            Ok((500, 11)),
            Ok((503, 11)),
            Ok((404, 10)),
            Err(io::ErrorKind::ConnectionRefused),
        ];
        assert_eq!(got, expected);

        // The delays are virtual: each took exactly what it asked for.
        assert_eq!(fetched[5].latency, Duration::from_millis(300));
        let table = table(&fetched);
        assert!(
            table.ends_with("Total: 17 URLs, 12 success, 5 failed\n"),
            "{table}"
        );
        let row_503: Vec<&str> = table.lines().nth(16).unwrap().split_whitespace().collect();
        let url_503 = format!("http://{addr}/status/503");
        assert_eq!(row_503, [&url_503, "503", "11B", "0ms"]);
    }

    /// Never more than the limit at once, and the limit is used: 30 slow
    /// requests keep the server at exactly 10.
    #[pollen::test(start_paused = true)]
    async fn at_most_ten_in_flight() {
        let (addr, in_flight) = start_server().await.unwrap();
        let urls = vec![format!("http://{addr}/delay/1000"); 30];
        let start = pollen::time::now();
        let fetched = fetch_all(urls, MAX_IN_FLIGHT).await;
        assert!(fetched.iter().all(|f| matches!(f.result, Ok((200, _)))));
        assert_eq!(in_flight.peak.load(Ordering::SeqCst), MAX_IN_FLIGHT);
        // Three rounds of ten, one second each.
        assert_eq!(pollen::time::now() - start, Duration::from_secs(3));
    }
}
