//! The task-per-connection pattern: a TCP server that spawns one task for
//! each client, with a semaphore capping how many it serves at once.
//!
//! Each accepted connection gets its own task, which owns the socket and
//! everything about that client (here, a count of the lines it sent) for
//! as long as the client stays: no state is shared, so nothing is locked,
//! and a slow client holds up nobody but itself. Tasks are cheap (a few
//! hundred bytes while idle), so thousands of clients are fine.
//!
//! Not unlimited, though: every client costs memory and a file
//! descriptor. A semaphore with 100 permits caps the clients served at
//! once. The accept loop takes a permit *before* it accepts, so the 101st
//! client waits in the kernel's listen backlog until someone leaves; the
//! permit moves into the client's task and is given back when that task
//! ends, however it ends. (The backlog holds 128 connections, as in std.
//! When it is full the kernel ignores new connection attempts, and those
//! clients try again after a second.)
//!
//! The protocol: the server answers each line with its number on that
//! connection, `3: hello` for the third line `hello`.
//!
//! ```text
//! cargo run --release --example task_per_connection                        # a demo: 200 clients, then a summary
//! cargo run --release --example task_per_connection -- serve 127.0.0.1:8080  # serve until Ctrl-C; try `nc 127.0.0.1 8080`
//! ```

#![forbid(unsafe_code)]

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use pollen::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use pollen::net::{TcpListener, TcpStream};
use pollen::sync::Semaphore;

/// The most clients served at once.
const MAX_CLIENTS: usize = 100;

/// The longest line a client may send, in bytes.
const MAX_LINE: u64 = 4096;

/// What the server counts, for the demo's summary.
#[derive(Debug, Default)]
struct Stats {
    /// Clients served so far.
    served: AtomicU64,
    /// Clients being served now.
    open: AtomicUsize,
    /// The most clients served at once so far.
    peak: AtomicUsize,
}

/// Serves clients on `listener`, at most `max_clients` at once, forever.
async fn serve(listener: TcpListener, max_clients: usize, stats: Arc<Stats>) {
    let permits = Arc::new(Semaphore::new(max_clients));
    loop {
        // A free slot first, then a client: while all slots are taken,
        // new clients wait in the backlog instead of holding a task.
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say: wait a little, go on.
                eprintln!("accept failed: {e}");
                pollen::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let stats = stats.clone();
        pollen::spawn(async move {
            let open = stats.open.fetch_add(1, Ordering::SeqCst) + 1;
            stats.peak.fetch_max(open, Ordering::SeqCst);
            if let Err(e) = handle_client(socket).await {
                eprintln!("{peer}: {e}");
            }
            stats.open.fetch_sub(1, Ordering::SeqCst);
            stats.served.fetch_add(1, Ordering::SeqCst);
            // The slot frees up for the next client here, as the task ends.
            drop(permit);
        });
    }
}

/// One client, from connect to close: answers each line with its number.
async fn handle_client(mut socket: TcpStream) -> io::Result<()> {
    let (reader, mut writer) = socket.split();
    let mut reader = BufReader::new(reader);
    let mut lines = 0u64; // this client's state: no one else sees it
    let mut line = String::new();
    loop {
        line.clear();
        // At most MAX_LINE bytes per line, so a client cannot make us
        // buffer without end.
        let n = (&mut reader).take(MAX_LINE).read_line(&mut line).await?;
        if n == 0 {
            return Ok(()); // the client closed the connection
        }
        if !line.ends_with('\n') && n as u64 == MAX_LINE {
            writer.write_all(b"line too long, bye\n").await?;
            return Ok(());
        }
        lines += 1;
        let reply = format!("{lines}: {}\n", line.trim_end());
        writer.write_all(reply.as_bytes()).await?;
    }
}

/// A demo client: sends `count` lines, pausing `pause` after each answer,
/// and checks every answer.
async fn client(addr: SocketAddr, id: usize, count: u64, pause: Duration) -> io::Result<()> {
    let mut socket = TcpStream::connect(addr).await?;
    let (reader, mut writer) = socket.split();
    let mut reader = BufReader::new(reader);
    let mut answer = String::new();
    for n in 1..=count {
        writer
            .write_all(format!("hello from client {id}\n").as_bytes())
            .await?;
        answer.clear();
        reader.read_line(&mut answer).await?;
        if answer != format!("{n}: hello from client {id}\n") {
            return Err(io::Error::other(format!("unexpected answer {answer:?}")));
        }
        pollen::time::sleep(pause).await;
    }
    Ok(())
}

/// The demo: a server on a free port and `clients` clients at once, each
/// sending 3 lines; returns how many clients got every answer right, and
/// the server's counts.
async fn demo(clients: usize, max_clients: usize) -> io::Result<(usize, Arc<Stats>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(Stats::default());
    let server = pollen::spawn(serve(listener, max_clients, stats.clone()));

    let tasks: Vec<_> = (0..clients)
        .map(|id| pollen::spawn(client(addr, id, 3, Duration::from_millis(20))))
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.expect("a client panicked") {
            Ok(()) => ok += 1,
            Err(e) => eprintln!("a client failed: {e}"),
        }
    }
    server.abort(); // stops accepting; tasks still serving finish on their own
    // Each client's task on the server ends when it sees its client close,
    // a moment after the client did: wait for the last ones.
    while stats.open.load(Ordering::SeqCst) > 0 {
        pollen::time::sleep(Duration::from_millis(1)).await;
    }
    Ok((ok, stats))
}

#[pollen::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {
            let clients = 200;
            println!(
                "Starting a server (at most {MAX_CLIENTS} clients at once) and {clients} clients..."
            );
            match demo(clients, MAX_CLIENTS).await {
                Ok((ok, stats)) => {
                    println!("{ok} of {clients} clients got every answer right.");
                    println!(
                        "The server served {} clients, at most {} at once (limit {MAX_CLIENTS}).",
                        stats.served.load(Ordering::SeqCst),
                        stats.peak.load(Ordering::SeqCst)
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("task_per_connection: cannot start the server: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        ["serve", addr] => {
            let listener = match TcpListener::bind(*addr).await {
                Ok(listener) => listener,
                Err(e) => {
                    eprintln!("task_per_connection: cannot listen on {addr}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let stop = match pollen::signal::shutdown() {
                Ok(stop) => stop,
                Err(e) => {
                    eprintln!("task_per_connection: cannot handle Ctrl-C: {e}");
                    return ExitCode::FAILURE;
                }
            };
            println!("Serving on {addr}, at most {MAX_CLIENTS} clients at once; Ctrl-C stops.");
            let stats = Arc::new(Stats::default());
            pollen::select! {
                () = serve(listener, MAX_CLIENTS, stats.clone()) => {}
                () = stop => {}
            }
            println!(
                "Stopped after {} clients.",
                stats.served.load(Ordering::SeqCst)
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: task_per_connection [serve ADDR]");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollen::sync::Barrier;

    /// The demo on virtual time (the clients' pauses pass at once). All
    /// clients connect before the server accepts anyone: more than the
    /// backlog's 128 would have the kernel drop connection attempts, to be
    /// retried a (real) second later.
    #[pollen::test(start_paused = true)]
    async fn every_client_is_served_within_the_limit() {
        let (ok, stats) = demo(120, MAX_CLIENTS).await.unwrap();
        assert_eq!(ok, 120);
        assert!(stats.peak.load(Ordering::SeqCst) <= MAX_CLIENTS);
        assert_eq!(stats.served.load(Ordering::SeqCst), 120);
    }

    /// Clients that stay connected until `LIMIT` of them are served at
    /// once: the server reaches its limit and never passes it, and the
    /// clients beyond it are served as others leave.
    #[pollen::test]
    async fn the_limit_is_reached_and_never_passed() {
        const LIMIT: usize = 5;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(Stats::default());
        pollen::spawn(serve(listener, LIMIT, stats.clone()));

        // Every group of LIMIT clients leaves together, once all of them
        // got their first answer: at that moment LIMIT are served at once.
        let together = Arc::new(Barrier::new(LIMIT));
        let tasks: Vec<_> = (0..4 * LIMIT)
            .map(|id| {
                let together = together.clone();
                pollen::spawn(async move {
                    let mut socket = TcpStream::connect(addr).await?;
                    let (reader, mut writer) = socket.split();
                    writer.write_all(format!("hi {id}\n").as_bytes()).await?;
                    let mut answer = String::new();
                    BufReader::new(reader).read_line(&mut answer).await?;
                    assert_eq!(answer, format!("1: hi {id}\n"));
                    together.wait().await;
                    io::Result::Ok(())
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(stats.peak.load(Ordering::SeqCst), LIMIT);
    }

    #[pollen::test]
    async fn a_line_too_long_ends_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        pollen::spawn(serve(listener, 1, Arc::default()));
        let mut socket = TcpStream::connect(addr).await.unwrap();
        let (reader, mut writer) = socket.split();
        writer.write_all(b"short\n").await.unwrap();
        writer.write_all(&[b'x'; 5000]).await.unwrap();
        let mut answers = String::new();
        BufReader::new(reader)
            .read_to_string(&mut answers)
            .await
            .unwrap();
        assert_eq!(answers, "1: short\nline too long, bye\n");
    }
}
