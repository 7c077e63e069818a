//! The echo load: connections that each send a message, read it back,
//! check it and send the next (closed loop), one task per connection.
//!
//! Each message is `size` bytes: its first 8 (or fewer) count the
//! connection's messages, the rest is a fixed pattern, so a stale,
//! misplaced or damaged echo is caught and counted as a
//! [`Mismatch`](crate::ErrorKind::Mismatch). Latency is one round trip:
//! from before the write to the last byte of the echo.
//!
//! Setup connects the connections 16 at a time, each doing one checked
//! round trip that is not recorded, so the server has accepted a batch
//! before the next connects (its listen backlog never fills) and a server
//! that does not echo is found before the load starts. Stopping the
//! control during setup ends it at once. A connection that
//! fails during the load is counted, and replaced by a new one.
//!
//! The load stops after `requests` round trips in all, after `duration`,
//! or when its [`Control`] is stopped; each connection finishes the round
//! trip it is in (bounded by the timeout) first.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::time::Instant;

use crate::abort::AbortOnDrop;
use crate::connect::{Connect, connect_within};
use crate::control::Control;
use crate::error::{ErrorKind, SetupError};
use crate::report::{Mode, Report};
use crate::stats::{Outcome, Recorded, Recorder};

/// The largest message: a round trip writes it whole before reading, so
/// it must fit the sockets' buffers.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// What an echo load sends, and how much.
#[derive(Clone, Debug)]
pub struct EchoConfig {
    /// Connections, each one round trip in flight at a time. At least 1.
    pub connections: usize,
    /// Bytes per message, 1 to [`MAX_MESSAGE`].
    pub size: usize,
    /// Stop after this many round trips in all, if any.
    pub requests: Option<u64>,
    /// Stop after this long, if any.
    pub duration: Option<Duration>,
    /// How long one round trip (or reconnect) may take.
    pub timeout: Duration,
}

impl Default for EchoConfig {
    /// 10 connections, 64-byte messages for 10 s, 10 s timeout: the CLI's
    /// defaults.
    fn default() -> EchoConfig {
        EchoConfig {
            connections: 10,
            size: 64,
            requests: None,
            duration: Some(Duration::from_secs(10)),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The fixed pattern of every message, `size` bytes (byte `i` is
/// `i ^ 0x5a`, wrapping): each round trip then writes its count over the
/// first 8 of them. For other clients of the same servers (pollen-bench's
/// idle connections) to send the same bytes.
pub fn message_pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| i as u8 ^ 0x5a).collect()
}

/// One connection's message.
struct Message {
    bytes: Vec<u8>,
    /// Where its echo is read to.
    echo: Vec<u8>,
    seq: u64,
}

/// Runs an echo load on the current runtime and reports it.
///
/// # Errors
///
/// If a connection cannot be made, or its first echo is not right, during
/// setup; or if the control is stopped during setup
/// ([`SetupError::is_interrupted`]).
///
/// # Cancel safety
///
/// Dropping the future stops the load without a report: the connections'
/// tasks are aborted, which closes their connections.
///
/// # Panics
///
/// If `connections` is 0 or `size` is not 1 to [`MAX_MESSAGE`]; outside a
/// runtime with I/O and time enabled.
pub async fn run<C: Connect>(
    config: EchoConfig,
    connector: C,
    control: &Control,
) -> Result<Report, SetupError> {
    assert!(
        config.connections > 0,
        "pollen-load: at least one connection"
    );
    assert!(
        (1..=MAX_MESSAGE).contains(&config.size),
        "pollen-load: the message size must be 1 to {MAX_MESSAGE} bytes"
    );
    let target = connector.describe();
    let streams = pollen::select! {
        biased;
        () = control.stopped() => {
            let context = format!("setting up connections to {target}");
            return Err(SetupError::interrupted(context));
        }
        streams = connect_all(&connector, &config, &target) => streams?,
    };

    control.set_running();
    let shared = Arc::new(Shared {
        connector,
        recorder: Recorder::new(control.clone()),
        budget: AtomicU64::new(0),
        config: config.clone(),
    });
    let start = pollen::time::now();
    let deadline = config.duration.map(|d| start + d);
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|(stream, message)| {
            let shared = shared.clone();
            pollen::spawn(async move { connection(&shared, stream, message, deadline).await })
        })
        .collect();
    let _abort = AbortOnDrop(tasks.iter().map(|task| task.abort_handle()).collect());
    let mut recorded = Recorded::default();
    for task in tasks {
        // A task only ends by returning.
        if let Ok(own) = task.await {
            recorded.merge(&own);
        }
    }
    let elapsed = pollen::time::now() - start;
    Ok(Report {
        mode: Mode::Echo,
        not_sent: 0,
        achieved_rate: None,
        target,
        requests: config.requests,
        duration_limit: config.duration,
        rate: None,
        concurrency: config.connections,
        message_size: Some(config.size),
        interrupted: control.is_interrupted(),
        elapsed,
        tally: recorded.tally,
    })
}

/// Connections set up at once: few enough that the server's listen
/// backlog never fills, enough that setup does not take a round trip per
/// connection.
const SETUP_BATCH: usize = 16;

/// Opens `config.connections` connections, each with one checked round
/// trip, [`SETUP_BATCH`] at a time.
async fn connect_all<C: Connect>(
    connector: &C,
    config: &EchoConfig,
    target: &str,
) -> Result<Vec<(C::Stream, Message)>, SetupError> {
    let mut streams = Vec::with_capacity(config.connections);
    while streams.len() < config.connections {
        let first = streams.len();
        let last = config.connections.min(first + SETUP_BATCH);
        let batch = (first..last).map(|i| set_up(connector, config, target, i));
        for result in pollen::future::join_all(batch).await {
            streams.push(result?);
        }
    }
    Ok(streams)
}

/// Connection number `index` (from 0), after one checked round trip.
async fn set_up<C: Connect>(
    connector: &C,
    config: &EchoConfig,
    target: &str,
    index: usize,
) -> Result<(C::Stream, Message), SetupError> {
    let mut message = Message::new(config.size);
    let stream = pollen::time::timeout(config.timeout, async {
        let mut stream = connector
            .connect()
            .await
            .map_err(|e| SetupError::new(format!("cannot connect to {target}"), e))?;
        round_trip(&mut stream, &mut message)
            .await
            .map_err(|e| SetupError::new(format!("no echo from {target}"), e))?;
        Ok(stream)
    })
    .await
    .unwrap_or_else(|_| {
        Err(SetupError::new(
            format!("connection {} to {target}", index + 1),
            io::ErrorKind::TimedOut.into(),
        ))
    })?;
    Ok((stream, message))
}

struct Shared<C> {
    connector: C,
    recorder: Recorder,
    /// Round trips started, against `config.requests`.
    budget: AtomicU64,
    config: EchoConfig,
}

/// One connection's closed loop, until the load stops: what it recorded.
async fn connection<C: Connect>(
    shared: &Shared<C>,
    stream: C::Stream,
    mut message: Message,
    deadline: Option<Instant>,
) -> Recorded {
    let mut recorded = Recorded::default();
    let config = &shared.config;
    let size = config.size as u64;
    let mut stream = Some(stream);
    loop {
        if shared.recorder.control().is_stopped()
            || deadline.is_some_and(|deadline| pollen::time::now() >= deadline)
        {
            return recorded;
        }
        if let Some(n) = config.requests {
            if shared.budget.fetch_add(1, Ordering::Relaxed) >= n {
                return recorded;
            }
        }
        // A connection that failed is replaced as part of the next round
        // trip: failing to reconnect fails that round trip.
        let open = match stream.take() {
            Some(open) => stream.insert(open),
            None => match connect_within(&shared.connector, config.timeout).await {
                Ok(new) => stream.insert(new),
                Err(e) => {
                    let outcome = Outcome::Failed(ErrorKind::of_connect(&e));
                    let recorder = &shared.recorder;
                    recorder.record_in(&mut recorded, outcome, Duration::ZERO, 0, 0, false);
                    // Do not spin on a server that is gone.
                    pollen::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let sent_at = pollen::time::now();
        let result = pollen::time::timeout(config.timeout, round_trip(open, &mut message)).await;
        let latency = pollen::time::now().saturating_duration_since(sent_at);
        let outcome = match result {
            Ok(Ok(())) => Outcome::Echoed,
            Ok(Err(e)) => Outcome::Failed(classify(&e)),
            Err(_) => Outcome::Failed(ErrorKind::Timeout),
        };
        let received = if outcome == Outcome::Echoed { size } else { 0 };
        shared
            .recorder
            .record_in(&mut recorded, outcome, latency, size, received, false);
        if outcome != Outcome::Echoed {
            // Out of step, or broken: start over on a new connection.
            stream = None;
        }
    }
}

/// The kind of a failed round trip.
fn classify(error: &io::Error) -> ErrorKind {
    if error
        .get_ref()
        .is_some_and(|inner| inner.is::<MismatchError>())
    {
        ErrorKind::Mismatch
    } else {
        ErrorKind::of_io(error)
    }
}

/// Sends the next message and reads its echo; a [`MismatchError`] if the
/// echo is not the message.
async fn round_trip<S>(stream: &mut S, message: &mut Message) -> io::Result<()>
where
    S: pollen::io::AsyncRead + pollen::io::AsyncWrite + Unpin,
{
    message.advance();
    stream.write_all(&message.bytes).await?;
    stream.read_exact(&mut message.echo).await?;
    if message.echo != message.bytes {
        return Err(io::Error::other(MismatchError));
    }
    Ok(())
}

/// The echo was not the message sent.
#[derive(Debug)]
struct MismatchError;

impl std::fmt::Display for MismatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the echo is not the message sent")
    }
}

impl std::error::Error for MismatchError {}

// === impl Message ===

impl Message {
    fn new(size: usize) -> Message {
        Message {
            bytes: message_pattern(size),
            echo: vec![0; size],
            seq: 0,
        }
    }

    /// The next message of the connection.
    fn advance(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq.to_le_bytes();
        let n = self.bytes.len().min(seq.len());
        self.bytes[..n].copy_from_slice(&seq[..n]);
    }
}
