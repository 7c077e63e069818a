//! The load generator: closed-loop clients on the bench's own threads, the
//! same for every server.
//!
//! Each connection sends a 64-byte message, reads the 64 bytes back, checks
//! they are the message (its first 8 bytes count the connection's
//! messages, so a stale or misplaced echo is caught), records the round
//! trip's latency and sends the next. A thread that drives one connection
//! uses a blocking socket (write, then a read that sleeps until the echo
//! comes: two system calls per message); a thread that drives several uses
//! non-blocking sockets under one `mio::Poll`.
//!
//! A point: connect every socket (each doing one checked round trip, so the
//! server has accepted it before the next connects and the listen backlog
//! never fills), start the threads, warm up, then measure a window: read
//! the server's CPU time, switch the threads to counting, sleep, switch
//! them to stopping, read the CPU time again. Round trips that complete
//! inside the window are counted and their latencies recorded.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use core_affinity::CoreId;
use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};

use super::server::ServerProcess;

/// The message size, and every server's buffer size.
pub const MESSAGE: usize = 64;
/// How long a blocking read or write may wait before the point fails.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a `mio` client waits in `poll` before it looks at the phase.
const POLL_TIMEOUT: Duration = Duration::from_millis(20);
/// The longest latency recorded exactly, ns (longer ones are clamped).
const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// The phase the client threads are in, set by the measuring thread.
const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// What one point measured.
#[derive(Debug)]
pub struct Sample {
    /// Round trips completed inside the window.
    pub requests: u64,
    /// The window as measured.
    pub elapsed: Duration,
    /// The server's CPU time (user + system) over the window.
    pub server_cpu: Duration,
    /// Latency of every counted round trip, ns.
    pub latency_ns: Histogram<u64>,
}

/// How one point runs.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub connections: usize,
    /// Client threads (at most one per connection).
    pub threads: usize,
    pub warmup: Duration,
    pub window: Duration,
    /// The CPU every client thread is pinned to, if any.
    pub cpu: Option<CoreId>,
}

/// Runs one point against `server`.
pub fn run(server: &ServerProcess, shape: Shape) -> Result<Sample, String> {
    let mut groups: Vec<Vec<TcpStream>> = Vec::new();
    let threads = shape.threads.clamp(1, shape.connections.max(1));
    groups.resize_with(threads, Vec::new);
    for i in 0..shape.connections {
        let stream = connect(server.addr).map_err(|e| format!("connection {i}: {e}"))?;
        groups[i % threads].push(stream);
    }

    let phase = AtomicU8::new(WARMUP);
    let phase = &phase;
    thread::scope(|scope| {
        let clients: Vec<_> = groups
            .into_iter()
            .map(|group| {
                scope.spawn(move || {
                    let pinned = shape.cpu.is_none_or(core_affinity::set_for_current);
                    let result = if !pinned {
                        Err(io::Error::other("could not pin a client thread"))
                    } else if group.len() == 1 {
                        blocking_client(group.into_iter().next().expect("one"), phase)
                    } else {
                        mio_client(group, phase)
                    };
                    // A client that fails stops the others.
                    if result.is_err() {
                        phase.store(STOP, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();

        thread::sleep(shape.warmup);
        let cpu_before = server.cpu_time();
        let start = Instant::now();
        phase
            .compare_exchange(WARMUP, MEASURE, Ordering::Relaxed, Ordering::Relaxed)
            .ok();
        thread::sleep(shape.window);
        phase.store(STOP, Ordering::Relaxed);
        let elapsed = start.elapsed();
        let cpu_after = server.cpu_time();

        let mut requests = 0;
        let mut latency_ns = histogram();
        for client in clients {
            let counted = client
                .join()
                .map_err(|_| "a client thread panicked".to_owned())?
                .map_err(|e| format!("client: {e}"))?;
            requests += counted.requests;
            latency_ns
                .add(&counted.latency_ns)
                .expect("histograms of the same bounds");
        }
        Ok(Sample {
            requests,
            elapsed,
            server_cpu: cpu_after?.saturating_sub(cpu_before?),
            latency_ns,
        })
    })
}

/// Connects to `addr` and does one checked round trip.
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let message = Message::new();
    stream.write_all(&message.bytes)?;
    let mut echo = [0; MESSAGE];
    stream.read_exact(&mut echo)?;
    message.check(&echo)?;
    Ok(stream)
}

/// What one client thread counted inside the window.
struct Counted {
    requests: u64,
    latency_ns: Histogram<u64>,
}

impl Counted {
    fn new() -> Counted {
        Counted {
            requests: 0,
            latency_ns: histogram(),
        }
    }

    /// Counts a round trip that took `latency`, if inside the window.
    /// Returns false once the threads are to stop.
    fn complete(&mut self, latency: Duration, phase: &AtomicU8) -> bool {
        match phase.load(Ordering::Relaxed) {
            WARMUP => true,
            MEASURE => {
                self.requests += 1;
                let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
                self.latency_ns.saturating_record(ns.max(1));
                true
            }
            _ => false,
        }
    }
}

/// An empty latency histogram: 1 ns to a minute, 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("valid histogram bounds")
}

/// One connection's message: 8 bytes of sequence number, then a fixed
/// pattern.
struct Message {
    bytes: [u8; MESSAGE],
}

impl Message {
    fn new() -> Message {
        let mut bytes = [0; MESSAGE];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = i as u8 ^ 0x5a;
        }
        Message { bytes }
    }

    /// The next message of the connection.
    fn advance(&mut self) {
        let (seq, _) = self.bytes.split_at_mut(8);
        let next = u64::from_le_bytes(seq.try_into().expect("8 bytes")).wrapping_add(1);
        seq.copy_from_slice(&next.to_le_bytes());
    }

    /// `Err` unless `echo` is this message.
    fn check(&self, echo: &[u8; MESSAGE]) -> io::Result<()> {
        if echo == &self.bytes {
            Ok(())
        } else {
            Err(io::Error::new(
                ErrorKind::InvalidData,
                "the echo is not the message sent",
            ))
        }
    }
}

/// One connection, blocking: write, read, repeat.
fn blocking_client(mut stream: TcpStream, phase: &AtomicU8) -> io::Result<Counted> {
    let mut counted = Counted::new();
    let mut message = Message::new();
    let mut echo = [0; MESSAGE];
    loop {
        message.advance();
        let start = Instant::now();
        stream.write_all(&message.bytes)?;
        stream.read_exact(&mut echo)?;
        let latency = start.elapsed();
        message.check(&echo)?;
        if !counted.complete(latency, phase) {
            return Ok(counted);
        }
    }
}

/// A connection of a `mio` client.
struct Conn {
    stream: mio::net::TcpStream,
    message: Message,
    echo: [u8; MESSAGE],
    /// Bytes of the message written so far.
    written: usize,
    /// Bytes of the echo read so far.
    read: usize,
    sent_at: Instant,
}

/// Several connections on one `mio::Poll`, each in its own closed loop.
fn mio_client(streams: Vec<TcpStream>, phase: &AtomicU8) -> io::Result<Counted> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut conns = Vec::with_capacity(streams.len());
    for (i, stream) in streams.into_iter().enumerate() {
        stream.set_nonblocking(true)?;
        let mut stream = mio::net::TcpStream::from_std(stream);
        let interest = Interest::READABLE | Interest::WRITABLE;
        poll.registry().register(&mut stream, Token(i), interest)?;
        conns.push(Conn {
            stream,
            message: Message::new(),
            echo: [0; MESSAGE],
            written: MESSAGE,
            read: MESSAGE,
            sent_at: Instant::now(),
        });
    }
    let mut counted = Counted::new();
    for conn in &mut conns {
        conn.start_next();
        conn.drive(&mut counted, phase)?;
    }
    let mut last_event = Instant::now();
    while phase.load(Ordering::Relaxed) != STOP {
        match poll.poll(&mut events, Some(POLL_TIMEOUT)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if events.is_empty() && last_event.elapsed() > IO_TIMEOUT {
            return Err(io::Error::new(ErrorKind::TimedOut, "no echo for 5 s"));
        }
        for event in &events {
            last_event = Instant::now();
            if !conns[event.token().0].drive(&mut counted, phase)? {
                return Ok(counted);
            }
        }
    }
    Ok(counted)
}

// === impl Conn ===

impl Conn {
    /// Starts the next round trip.
    fn start_next(&mut self) {
        self.message.advance();
        self.written = 0;
        self.read = 0;
        self.sent_at = Instant::now();
    }

    /// Writes and reads until either would block, completing and starting
    /// round trips. Returns false once the threads are to stop.
    fn drive(&mut self, counted: &mut Counted, phase: &AtomicU8) -> io::Result<bool> {
        loop {
            while self.written < MESSAGE {
                match self.stream.write(&self.message.bytes[self.written..]) {
                    Ok(0) => return Err(ErrorKind::WriteZero.into()),
                    Ok(n) => self.written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            match self.stream.read(&mut self.echo[self.read..]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.read += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if self.read == MESSAGE {
                let latency = self.sent_at.elapsed();
                self.message.check(&self.echo)?;
                if !counted.complete(latency, phase) {
                    return Ok(false);
                }
                self.start_next();
            }
        }
    }
}
