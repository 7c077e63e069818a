//! The chat server behind `pollen-chat`, as a library so tests can run it
//! in-process.
//!
//! # Design
//!
//! - An **accept loop** task takes connections, refuses them past
//!   `max_clients` (with a line saying why) and spawns one task per client.
//! - A **broker** task owns every piece of shared state (who is connected,
//!   under which nick, with which inbox). Clients reach it only through one
//!   bounded channel of [`Event`]s, so there is no map behind a mutex and
//!   events are handled in the order they arrive.
//! - Each **client** task runs one `select!` over its socket (lines in), its
//!   inbox (lines out), its idle deadline and its kick token.
//!
//! # Backpressure
//!
//! The broker never waits on a client: it puts each outgoing line into the
//! client's bounded inbox with `try_send`. When the inbox is full (a burst,
//! or a client that stopped reading, so its task is stuck writing), the
//! line waits in a backlog the broker keeps for that client, moved on as
//! the inbox empties (on every event, and every few milliseconds while any
//! backlog is non-empty). A client whose backlog outgrows `backlog` lines
//! is not reading: it is kicked, it leaves the map, the others see it
//! leave, and its token is cancelled, which ends its task even mid-write.
//! So memory per client is bounded (inbox plus backlog, each line shared by
//! all its receivers), bursts lose nothing, and one slow client never
//! slows the others. Clients, in turn, wait (`send().await`) when the
//! broker's channel is full, which slows the fastest talkers, not the
//! broker.
//!
//! # Input
//!
//! Lines end at `\n`; a trailing `\r` is dropped (telnet). Bytes that are
//! not UTF-8 are replaced. A line longer than `max_line` bytes is refused
//! with an error line and skipped up to its end; the connection stays.
#![forbid(unsafe_code)]

mod broker;
mod client;
mod protocol;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pollen::channel::{mpsc, oneshot};
use pollen::io::AsyncWriteExt;
use pollen::net::{TcpListener, TcpStream};
use pollen::sync::{CancellationToken, Semaphore};
use pollen::time::timeout;

use self::broker::broker;
use self::client::Client;

/// The commands, as the greeting lists them.
pub const COMMANDS: &str = "* commands: /nick NAME, /who, /me ACTION, /quit";

/// How the server behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// The most clients connected at once; more are refused with a line
    /// saying so.
    pub max_clients: usize,
    /// The longest line a client may send, in bytes (without the newline).
    pub max_line: usize,
    /// Disconnect a client that sends nothing for this long.
    pub idle_timeout: Duration,
    /// Lines queued in a client's inbox (its task takes them from there).
    pub inbox: usize,
    /// Lines the broker holds for a client whose inbox is full before that
    /// client counts as not reading and is disconnected.
    pub backlog: usize,
    /// How long clients get to receive the goodbye at shutdown.
    pub drain_timeout: Duration,
    /// Log joins, departures and kicks to stderr.
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_clients: 1000,
            max_line: 4096,
            idle_timeout: Duration::from_secs(300),
            inbox: 64,
            backlog: 1024,
            drain_timeout: Duration::from_secs(5),
            verbose: false,
        }
    }
}

/// What a server run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Connections accepted and served.
    pub served: u64,
    /// Connections refused because the server was full.
    pub refused: u64,
    /// Clients disconnected for not reading.
    pub kicked: u64,
    /// Message lines fanned out (one per sender's line, not per receiver).
    pub messages: u64,
}

/// What clients tell the broker.
#[derive(Debug)]
enum Event {
    /// A client connected; the broker answers with its nick.
    Join {
        id: u64,
        inbox: mpsc::Sender<'static, Out>,
        kick: CancellationToken,
        nick: oneshot::Sender<'static, Arc<str>>,
    },
    /// A client is gone (it quit, hung up, failed, idled out).
    Leave { id: u64 },
    /// A line for everyone else.
    Message { id: u64, text: String },
    /// `/me ACTION`.
    Me { id: u64, action: String },
    /// `/nick NAME`.
    Nick { id: u64, name: String },
    /// `/who`.
    Who { id: u64 },
    /// A line for this client only (an error): it goes through the broker
    /// so that it keeps its place among the lines the client caused.
    Notice { id: u64, line: String },
    /// `/quit`: say goodbye (after everything queued), then close.
    Quit { id: u64 },
}

/// What the broker sends a client: a line to write.
#[derive(Clone, Debug)]
enum Out {
    Line(Arc<str>),
    /// Write this line, then close the connection (shutdown).
    Bye(Arc<str>),
}

/// Counters shared by the tasks.
#[derive(Debug, Default)]
struct Stats {
    served: AtomicU64,
    refused: AtomicU64,
    kicked: AtomicU64,
    messages: AtomicU64,
}

type Limit = Semaphore;

/// Serves chat on `listener` until `shutdown` completes; then tells every
/// client the server is shutting down, gives them `drain_timeout` to get
/// the line, and returns.
///
/// Must run on a pollen runtime (multi-thread or current-thread).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Summary {
    let config = Arc::new(config);
    let stats = Arc::new(Stats::default());
    let (events, inbox) = mpsc::channel::<Event>(1024);
    let stop = CancellationToken::new();
    let broker = pollen::task::Builder::new()
        .name("chat-broker")
        .spawn(broker(inbox, config.clone(), stats.clone(), stop.clone()));
    let limit = Arc::new(Limit::new(config.max_clients));
    let mut next_id = 0u64;
    let mut clients = Vec::new();
    {
        let accept = async {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors, say: keep serving the others.
                        if config.verbose {
                            eprintln!("pollen-chat: accept failed: {e}");
                        }
                        pollen::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                // Lines are small and a reply should not wait for more.
                let _ = stream.set_nodelay(true);
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    stats.refused.fetch_add(1, Ordering::Relaxed);
                    pollen::spawn(refuse(stream));
                    continue;
                };
                next_id += 1;
                stats.served.fetch_add(1, Ordering::Relaxed);
                let client = Client {
                    id: next_id,
                    events: events.clone(),
                    config: config.clone(),
                    _permit: permit,
                };
                clients.push(pollen::spawn(client.run(stream)));
                // Forget finished clients now and then, not on every accept.
                if clients.len() >= 64 && clients.len().is_power_of_two() {
                    clients.retain(|task| !task.is_finished());
                }
            }
        };
        pollen::select! {
            () = accept => {}
            () = shutdown => {}
        }
    }
    drop(listener);
    // The goodbye: the broker writes it to every inbox and closes them.
    stop.cancel();
    drop(events);
    let _ = broker.await;
    let drained = timeout(config.drain_timeout, async {
        for client in &mut clients {
            let _ = client.await;
        }
    })
    .await;
    if drained.is_err() {
        for client in &clients {
            client.abort();
        }
    }
    Summary {
        served: stats.served.load(Ordering::Relaxed),
        refused: stats.refused.load(Ordering::Relaxed),
        kicked: stats.kicked.load(Ordering::Relaxed),
        messages: stats.messages.load(Ordering::Relaxed),
    }
}

/// Tells a client over the limit why, and hangs up.
async fn refuse(mut stream: TcpStream) {
    let _ = timeout(
        Duration::from_secs(1),
        stream.write_all(b"! server full, try again later\n"),
    )
    .await;
}
