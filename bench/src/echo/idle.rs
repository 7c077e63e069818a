//! Memory per idle connection: a fresh server process holds N connections
//! open, each idle after one round trip, and its resident memory is
//! compared with what it had holding none.
//!
//! 1. Start the server; open one connection, echo one message, close it,
//!    and let the server see the close: one-time lazy initialisation (the
//!    runtime's first allocations for a socket and a task, the allocator's
//!    first arenas) is paid here, not billed to the N connections.
//! 2. Read `VmRSS`: the baseline, with 0 connections.
//! 3. Open N connections one after another, each echoing one 64-byte
//!    message before the next connects (so the server has accepted it, its
//!    task has run and is waiting in a read of its 64-byte buffer).
//! 4. Let the server settle, then read `VmRSS` and `VmHWM` (peak).
//!
//! Per connection: `(VmRSS - baseline) / N` and `(VmHWM - baseline) / N`.
//! This is the server's user-space memory only: socket buffers are kernel
//! memory and not in its RSS. Page granularity (4 KiB) is noise of
//! 4 KiB / N per connection, under a byte at N = 10 000.

use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use serde::Serialize;

use super::load;
use super::server::{Memory, Server};

/// How long the server gets to handle a close, or the last accepts, before
/// its memory is read.
const SETTLE: Duration = Duration::from_millis(200);

/// One server's memory per idle connection.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct IdleSample {
    /// With 0 connections (after one was opened and closed).
    pub baseline: Memory,
    /// Holding the N connections.
    pub held: Memory,
    /// `(held VmRSS - baseline VmRSS) / N`, bytes.
    pub bytes_per_connection: f64,
    /// `(held VmHWM - baseline VmRSS) / N`, bytes.
    pub peak_bytes_per_connection: f64,
}

/// Measures `server` holding `connections` idle connections, in a fresh
/// process.
pub fn measure(server: Server, connections: usize) -> Result<IdleSample, String> {
    let mut process = server.start(None)?;
    drop(load::connect(process.addr).map_err(|e| process.failure(&format!("connect: {e}")))?);
    thread::sleep(SETTLE);
    let baseline = process.memory()?;

    let mut held = Vec::with_capacity(connections);
    for i in 0..connections {
        let stream: TcpStream = load::connect(process.addr)
            .map_err(|e| process.failure(&format!("idle connection {i}: {e}")))?;
        held.push(stream);
    }
    thread::sleep(SETTLE);
    process.check_alive()?;
    let memory = process.memory()?;
    drop(held);

    let per_connection = |kib: u64| kib.saturating_sub(baseline.rss_kib) as f64 * 1024.0;
    let n = connections.max(1) as f64;
    Ok(IdleSample {
        baseline,
        held: memory,
        bytes_per_connection: per_connection(memory.rss_kib) / n,
        peak_bytes_per_connection: per_connection(memory.hwm_kib) / n,
    })
}
