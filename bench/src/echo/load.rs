//! The load generator: `pollen-load`'s echo engine ([`pollen_load::echo`])
//! on a pollen runtime of its own, in the bench process, the same for every
//! server.
//!
//! Each connection sends a 64-byte message, reads the 64 bytes back, checks
//! they are the message (its first 8 bytes count the connection's
//! messages, so a stale or misplaced echo is caught), records the round
//! trip's latency and sends the next: one task per connection. With one
//! thread (`--echo-client-threads 1`, the default) they run on a
//! current-thread runtime on a thread of the bench's, like a hand-written
//! single-threaded client; with more, on a multi-thread runtime with that
//! many workers. Every thread of it is pinned to `--echo-pin`'s CPU, if
//! any.
//!
//! A point: the engine connects every socket (each doing one checked round
//! trip, so the server has accepted it before the next connects and the
//! listen backlog never fills) and starts the connections' tasks, which
//! warm up; then the window is measured: read the server's CPU time, tell
//! the engine to start recording ([`Control::start_recording`]), sleep,
//! stop it ([`Control::stop`]), read the CPU time again. Round trips that
//! complete inside the window are counted and their latencies recorded
//! (with the round trip each connection had in flight at the stop: one per
//! connection more, the same for every server). Latencies are whole
//! microseconds (pollen's clock). A round trip that fails, or an echo that
//! is not the message, fails the point.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use core_affinity::CoreId;
use hdrhistogram::Histogram;
use pollen_load::echo::EchoConfig;
use pollen_load::{Control, TcpConnector};

use super::server::ServerProcess;

/// The message size, and every server's buffer size.
pub const MESSAGE: usize = 64;
/// How long a blocking read or write, or a round trip, may wait before the
/// point fails.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What one point measured.
#[derive(Debug)]
pub struct Sample {
    /// Round trips completed inside the window.
    pub requests: u64,
    /// The window as measured.
    pub elapsed: Duration,
    /// The server's CPU time (user + system) over the window.
    pub server_cpu: Duration,
    /// Latency of every counted round trip, µs.
    pub latency_us: Histogram<u64>,
}

/// How one point runs.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub connections: usize,
    /// The load generator's worker threads (at most one per connection).
    pub threads: usize,
    pub warmup: Duration,
    pub window: Duration,
    /// The CPU every worker thread is pinned to, if any.
    pub cpu: Option<CoreId>,
}

/// Runs one point against `server`.
pub fn run(server: &ServerProcess, shape: Shape) -> Result<Sample, String> {
    let threads = shape.threads.clamp(1, shape.connections.max(1));
    let unpinned = Arc::new(AtomicBool::new(false));
    let pin = {
        let unpinned = unpinned.clone();
        move || {
            if let Some(cpu) = shape.cpu {
                if !core_affinity::set_for_current(cpu) {
                    unpinned.store(true, Ordering::Relaxed);
                }
            }
        }
    };
    // One thread: everything on the thread that runs the load, as a
    // hand-written single-threaded client would be; more: that thread
    // waits while the workers run the connections.
    let mut builder = if threads == 1 {
        pollen::runtime::Builder::new_current_thread()
    } else {
        let mut builder = pollen::runtime::Builder::new_multi_thread();
        builder
            .worker_threads(threads)
            .thread_name("echo-load")
            .on_thread_start(pin.clone());
        builder
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| format!("the load generator's runtime: {e}"))?;
    let control = Control::warming_up();
    let config = EchoConfig {
        connections: shape.connections,
        size: MESSAGE,
        requests: None,
        duration: None,
        timeout: IO_TIMEOUT,
    };
    let connector = TcpConnector::new(vec![server.addr]);

    thread::scope(|scope| {
        let load = scope.spawn({
            let control = control.clone();
            move || {
                pin();
                runtime.block_on(pollen_load::echo::run(config, connector, &control))
            }
        });
        // Connecting is not part of the warm-up.
        while !control.is_running() && !load.is_finished() {
            thread::sleep(Duration::from_millis(1));
        }
        if !load.is_finished() {
            thread::sleep(shape.warmup);
        }
        let cpu_before = server.cpu_time();
        let start = Instant::now();
        control.start_recording();
        if !load.is_finished() {
            thread::sleep(shape.window);
        }
        control.stop();
        let elapsed = start.elapsed();
        let cpu_after = server.cpu_time();

        let report = load
            .join()
            .map_err(|_| "the load generator panicked".to_owned())?
            .map_err(|e| format!("client: {e}"))?;
        if unpinned.load(Ordering::Relaxed) {
            return Err("could not pin a client thread".to_owned());
        }
        if report.tally.failed > 0 {
            let errors: Vec<String> = report
                .tally
                .errors
                .iter()
                .map(|(kind, n)| format!("{n} {kind}"))
                .collect();
            return Err(format!("client: round trips failed: {}", errors.join(", ")));
        }
        Ok(Sample {
            requests: report.tally.total(),
            elapsed,
            server_cpu: cpu_after?.saturating_sub(cpu_before?),
            latency_us: report.tally.latency_us,
        })
    })
}

/// Connects to `addr` with a blocking socket and does one checked round
/// trip: the memory table's idle connections ([`super::idle`]).
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

/// The message of [`connect`]'s round trip: the engine's fixed pattern.
struct Message {
    bytes: [u8; MESSAGE],
}

impl Message {
    fn new() -> Message {
        let mut bytes = [0; MESSAGE];
        bytes.copy_from_slice(&pollen_load::echo::message_pattern(MESSAGE));
        Message { bytes }
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
