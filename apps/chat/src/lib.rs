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

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pollen::channel::mpsc;
use pollen::channel::oneshot;
use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::net::{TcpListener, TcpStream};
use pollen::sync::{CancellationToken, OwnedSemaphorePermit, Semaphore, StdRawMutex};
use pollen::time::{now, sleep, sleep_until, timeout};

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

type Limit = Semaphore<StdRawMutex>;

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
    let limit = Arc::new(Limit::with_raw_mutex(config.max_clients));
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

// === broker ===

/// One connected client, as the broker knows it.
struct Member {
    nick: Arc<str>,
    inbox: mpsc::Sender<'static, Out>,
    kick: CancellationToken,
    /// Lines for a full inbox, oldest first.
    backlog: VecDeque<Out>,
}

/// How often the broker moves backlogs on while any is non-empty.
const BACKLOG_TICK: Duration = Duration::from_millis(5);

/// The broker: owns the members, handles events in order, never waits on a
/// client. Ends when `stop` is cancelled (shutdown), after saying goodbye.
async fn broker(
    mut events: mpsc::Receiver<'static, Event>,
    config: Arc<Config>,
    stats: Arc<Stats>,
    stop: CancellationToken,
) {
    let mut room = Room {
        members: HashMap::new(),
        backlogged: Vec::new(),
        next_user: 0,
        config,
        stats,
    };
    loop {
        let backlogged = !room.backlogged.is_empty();
        let tick = async {
            if backlogged {
                sleep(BACKLOG_TICK).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let event = pollen::select! {
            event = events.recv() => match event {
                Some(event) => Some(event),
                None => break,
            },
            () = tick => None,
            () = stop.cancelled() => break,
        };
        if let Some(event) = event {
            room.handle(event);
        }
        room.flush_backlogs();
    }
    let bye: Arc<str> = Arc::from("* server shutting down\n");
    for (_, member) in room.members.drain() {
        // A full inbox gets no goodbye: its client is not reading anyway.
        let _ = member.inbox.try_send(Out::Bye(bye.clone()));
    }
}

struct Room {
    members: HashMap<u64, Member>,
    /// Members whose backlog is non-empty.
    backlogged: Vec<u64>,
    /// The last `N` handed out as a default `user-N`.
    next_user: u64,
    config: Arc<Config>,
    stats: Arc<Stats>,
}

impl Room {
    fn handle(&mut self, event: Event) {
        match event {
            Event::Join {
                id,
                inbox,
                kick,
                nick,
            } => {
                let name = self.default_nick();
                // The client may be gone already; then it sends `Leave`.
                let _ = nick.send(name.clone());
                self.members.insert(
                    id,
                    Member {
                        nick: name.clone(),
                        inbox,
                        kick,
                        backlog: VecDeque::new(),
                    },
                );
                self.log(format_args!("{name} joined"));
                self.broadcast(Some(id), &format!("* {name} joined\n"));
            }
            Event::Leave { id } => {
                if let Some(member) = self.members.remove(&id) {
                    self.log(format_args!("{} left", member.nick));
                    self.broadcast(None, &format!("* {} left\n", member.nick));
                }
            }
            Event::Message { id, text } => {
                if let Some(nick) = self.nick(id) {
                    self.stats.messages.fetch_add(1, Ordering::Relaxed);
                    self.broadcast(Some(id), &format!("<{nick}> {text}\n"));
                }
            }
            Event::Me { id, action } => {
                if let Some(nick) = self.nick(id) {
                    self.broadcast(Some(id), &format!("* {nick} {action}\n"));
                }
            }
            Event::Nick { id, name } => self.rename(id, name),
            Event::Notice { id, line } => self.tell(id, &line),
            Event::Quit { id } => {
                let stuck = self.deliver(id, Out::Bye(Arc::from("* bye\n")));
                if let Some(member) = self.members.remove(&id) {
                    if stuck {
                        member.kick.cancel();
                    }
                    self.log(format_args!("{} quit", member.nick));
                    self.broadcast(None, &format!("* {} left\n", member.nick));
                }
            }
            Event::Who { id } => {
                let mut nicks: Vec<&str> = self.members.values().map(|m| &*m.nick).collect();
                nicks.sort_unstable();
                let line = format!("* online ({}): {}\n", nicks.len(), nicks.join(", "));
                self.tell(id, &line);
            }
        }
    }

    fn nick(&self, id: u64) -> Option<Arc<str>> {
        self.members.get(&id).map(|m| m.nick.clone())
    }

    /// `user-N` for the next free `N`.
    fn default_nick(&mut self) -> Arc<str> {
        loop {
            self.next_user += 1;
            let nick = format!("user-{}", self.next_user);
            if !self.taken(&nick) {
                return Arc::from(nick);
            }
        }
    }

    fn taken(&self, nick: &str) -> bool {
        self.members.values().any(|m| &*m.nick == nick)
    }

    fn rename(&mut self, id: u64, name: String) {
        let Some(old) = self.nick(id) else { return };
        if let Err(why) = valid_nick(&name) {
            self.tell(id, &format!("! {why}\n"));
        } else if *old == *name {
            self.tell(id, &format!("* you are already {name}\n"));
        } else if self.taken(&name) {
            self.tell(id, &format!("! nick {name} is taken\n"));
        } else {
            let new: Arc<str> = Arc::from(name);
            if let Some(member) = self.members.get_mut(&id) {
                member.nick = new.clone();
            }
            self.log(format_args!("{old} is now known as {new}"));
            self.broadcast(None, &format!("* {old} is now known as {new}\n"));
        }
    }

    /// Sends `line` to one member.
    fn tell(&mut self, id: u64, line: &str) {
        let line: Arc<str> = Arc::from(line);
        if self.deliver(id, Out::Line(line)) {
            self.kick(id);
        }
    }

    /// Sends `line` to every member but `except`, kicking those that are
    /// not reading.
    fn broadcast(&mut self, except: Option<u64>, line: &str) {
        let line: Arc<str> = Arc::from(line);
        let ids: Vec<u64> = self
            .members
            .keys()
            .copied()
            .filter(|&id| Some(id) != except)
            .collect();
        let mut slow = Vec::new();
        for id in ids {
            if self.deliver(id, Out::Line(line.clone())) {
                slow.push(id);
            }
        }
        for id in slow {
            self.kick(id);
        }
    }

    /// Queues `out` for member `id`: in its inbox, or behind its backlog.
    /// Returns whether the backlog has outgrown its bound (kick it).
    fn deliver(&mut self, id: u64, out: Out) -> bool {
        let Some(member) = self.members.get_mut(&id) else {
            return false;
        };
        if member.backlog.is_empty() {
            match member.inbox.try_send(out) {
                // Its task has ended; its `Leave` is on the way.
                Ok(()) | Err(mpsc::TrySendError::Closed(_)) => return false,
                Err(mpsc::TrySendError::Full(out)) => {
                    member.backlog.push_back(out);
                    self.backlogged.push(id);
                }
            }
        } else {
            member.backlog.push_back(out);
        }
        member.backlog.len() > self.config.backlog
    }

    /// Moves backlogged lines into inboxes that have room again.
    fn flush_backlogs(&mut self) {
        let mut still = Vec::new();
        for id in std::mem::take(&mut self.backlogged) {
            let Some(member) = self.members.get_mut(&id) else {
                continue;
            };
            while let Some(out) = member.backlog.pop_front() {
                match member.inbox.try_send(out) {
                    Ok(()) => {}
                    Err(mpsc::TrySendError::Full(out)) => {
                        member.backlog.push_front(out);
                        break;
                    }
                    Err(mpsc::TrySendError::Closed(_)) => {
                        member.backlog.clear();
                        break;
                    }
                }
            }
            if !member.backlog.is_empty() && !still.contains(&id) {
                still.push(id);
            }
        }
        self.backlogged = still;
    }

    /// Disconnects a member that does not read: its task is told through
    /// its token (it may be stuck writing), the others see it leave.
    fn kick(&mut self, id: u64) {
        let Some(member) = self.members.remove(&id) else {
            return;
        };
        self.stats.kicked.fetch_add(1, Ordering::Relaxed);
        member.kick.cancel();
        self.log(format_args!("{} kicked: not reading", member.nick));
        self.broadcast(None, &format!("* {} left\n", member.nick));
    }

    fn log(&self, what: std::fmt::Arguments<'_>) {
        if self.config.verbose {
            eprintln!("pollen-chat: {what}");
        }
    }
}

/// Whether `name` can be a nick: 1 to 32 printable characters, no spaces.
fn valid_nick(name: &str) -> Result<(), &'static str> {
    let chars = name.chars().count();
    if chars == 0 || chars > 32 || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Err("a nick is 1 to 32 printable characters, without spaces")
    } else {
        Ok(())
    }
}

// === client ===

/// One connection's task.
struct Client {
    id: u64,
    events: mpsc::Sender<'static, Event>,
    config: Arc<Config>,
    /// Held while connected: counts against `max_clients`.
    _permit: OwnedSemaphorePermit<StdRawMutex>,
}

/// Why a client's loop ended.
enum End {
    /// EOF or a socket error: just leave.
    Gone,
    /// Kicked by the broker for not reading.
    Kicked,
    /// Idle past the timeout.
    Idle,
    /// The server is shutting down (the goodbye was written).
    Shutdown,
}

impl Client {
    async fn run(self, mut stream: TcpStream) {
        let (inbox_tx, mut inbox) = mpsc::channel::<Out>(self.config.inbox.max(1));
        let kick = CancellationToken::new();
        let (nick_tx, nick_rx) = oneshot::channel();
        let joined = self
            .events
            .send(Event::Join {
                id: self.id,
                inbox: inbox_tx,
                kick: kick.clone(),
                nick: nick_tx,
            })
            .await;
        let nick = match (joined, nick_rx.await) {
            (Ok(()), Ok(nick)) => nick,
            // The broker has stopped: the server is shutting down.
            _ => {
                let _ = stream.write_all(b"* server shutting down\n").await;
                return;
            }
        };
        let greeting = format!("* welcome to pollen-chat, you are {nick}\n{COMMANDS}\n");
        let end = if write_or_kick(
            &mut stream,
            greeting.as_bytes(),
            std::pin::pin!(kick.cancelled()),
        )
        .await
        {
            self.session(&mut stream, &mut inbox, &kick).await
        } else {
            End::Kicked
        };
        match end {
            End::Kicked => {
                // Best effort: it is not reading, so do not wait for it.
                let _ = timeout(
                    Duration::from_millis(100),
                    stream.write_all(b"! disconnected: you are not reading\n"),
                )
                .await;
            }
            End::Idle => {
                let line = format!(
                    "! disconnected: idle for {}\n",
                    humantime::format_duration(self.config.idle_timeout)
                );
                let _ = timeout(Duration::from_secs(1), stream.write_all(line.as_bytes())).await;
            }
            End::Gone | End::Shutdown => {}
        }
        // Kicked clients were removed by the broker already; a second
        // `Leave` is ignored there.
        let _ = self.events.send(Event::Leave { id: self.id }).await;
        let _ = stream.close().await;
    }

    /// Reads lines and writes the inbox until the client is done.
    ///
    /// Events for the broker wait in `outgoing` until the broker's channel
    /// has room, inside the same `select!`: a client whose events wait
    /// keeps writing its inbox meanwhile (otherwise a busy broker would
    /// fill the inboxes of the very clients waiting on it). Reading stops
    /// while `outgoing` is full, so a client that talks faster than the
    /// broker listens is slowed, not buffered without bound.
    async fn session(
        &self,
        stream: &mut TcpStream,
        inbox: &mut mpsc::Receiver<'static, Out>,
        kick: &CancellationToken,
    ) -> End {
        /// Events parsed and not yet taken by the broker, at most.
        const MAX_OUTGOING: usize = 64;
        /// Inbox lines gathered into one write, at most (bytes).
        const MAX_WRITE: usize = 64 * 1024;

        let mut lines = LineReader::new(self.config.max_line);
        let mut outgoing: VecDeque<Event> = VecDeque::new();
        // After `/quit`, input is ignored until the goodbye arrives.
        let mut quitting = false;
        let mut chunk = vec![0u8; 4096];
        let mut batch: Vec<u8> = Vec::new();
        // One idle timer and one kick waiter for the whole session, not one
        // per turn of the loop (each would take the timer's or the token's
        // lock twice). The timer is lazy: a read only notes the time, and
        // when the timer fires it is moved on if the client spoke since.
        let mut last_heard = now();
        let idle = sleep_until(last_heard + self.config.idle_timeout);
        let mut idle = std::pin::pin!(idle);
        let mut kicked = std::pin::pin!(kick.cancelled());
        loop {
            enum Step<'p> {
                Read(io::Result<usize>),
                Out(Option<Out>),
                Room(Result<mpsc::Permit<'p, Event>, mpsc::SendError<()>>),
                Idle,
                Kicked,
            }
            let reading = !quitting && outgoing.len() < MAX_OUTGOING;
            let read = async {
                if reading {
                    stream.read(&mut chunk).await
                } else {
                    std::future::pending().await
                }
            };
            let sending = !outgoing.is_empty();
            let room = async {
                if sending {
                    self.events.reserve().await
                } else {
                    std::future::pending().await
                }
            };
            let step = pollen::select! {
                read = read => Step::Read(read),
                out = inbox.recv() => Step::Out(out),
                room = room => Step::Room(room),
                () = idle.as_mut() => Step::Idle,
                () = kicked.as_mut() => Step::Kicked,
            };
            match step {
                Step::Read(Ok(0) | Err(_)) => return End::Gone,
                Step::Read(Ok(n)) => {
                    last_heard = now();
                    for input in lines.feed(&chunk[..n]) {
                        if quitting {
                            break;
                        }
                        if let Some(event) = self.event_for(input) {
                            quitting = matches!(event, Event::Quit { .. });
                            outgoing.push_back(event);
                        }
                    }
                }
                Step::Room(Ok(permit)) => {
                    if let Some(event) = outgoing.pop_front() {
                        permit.send(event);
                    }
                }
                // The broker has stopped: shutdown.
                Step::Room(Err(_)) => return End::Shutdown,
                Step::Out(Some(out)) => {
                    // This line and whatever else is queued, in one write.
                    batch.clear();
                    let mut next = Some(out);
                    let mut bye = false;
                    let mut yielded = false;
                    while let Some(out) = next.take() {
                        let line = match out {
                            Out::Line(line) => line,
                            Out::Bye(line) => {
                                bye = true;
                                line
                            }
                        };
                        batch.extend_from_slice(line.as_bytes());
                        if !bye && batch.len() < MAX_WRITE {
                            next = inbox.try_recv().ok();
                            if next.is_none() && !yielded {
                                // Under load more lines are on their way:
                                // let the broker run once, and write them
                                // all with one system call. Idle, this
                                // costs one trip through the run queue.
                                yielded = true;
                                pollen::task::yield_now().await;
                                next = inbox.try_recv().ok();
                            }
                        }
                    }
                    let written = write_or_kick(stream, &batch, kicked.as_mut()).await;
                    if bye {
                        return End::Shutdown;
                    }
                    if !written {
                        return End::Kicked;
                    }
                }
                // The broker dropped us: shutdown, or a kick racing us.
                Step::Out(None) => {
                    return if kick.is_cancelled() {
                        End::Kicked
                    } else {
                        End::Shutdown
                    };
                }
                Step::Idle => {
                    let due = last_heard + self.config.idle_timeout;
                    if now() < due {
                        idle.as_mut().reset(due);
                    } else {
                        return End::Idle;
                    }
                }
                Step::Kicked => return End::Kicked,
            }
        }
    }

    /// What one line of input asks the broker for (nothing for an empty
    /// line).
    fn event_for(&self, input: Input) -> Option<Event> {
        let id = self.id;
        let notice = |line: String| Event::Notice { id, line };
        Some(match input {
            Input::TooLong => notice(format!(
                "! line too long (max {} bytes), discarded\n",
                self.config.max_line
            )),
            Input::Line(line) => match parse(&line) {
                Command::Empty => return None,
                Command::Say(text) => Event::Message {
                    id,
                    text: text.to_owned(),
                },
                Command::Me(action) => Event::Me {
                    id,
                    action: action.to_owned(),
                },
                Command::Nick(name) => Event::Nick {
                    id,
                    name: name.to_owned(),
                },
                Command::Who => Event::Who { id },
                Command::Quit => Event::Quit { id },
                Command::Unknown(what) => notice(format!(
                    "! unknown command {what} (try /nick NAME, /who, /me ACTION, /quit)\n"
                )),
                Command::Usage(usage) => notice(format!("! usage: {usage}\n")),
            },
        })
    }
}

/// Writes `bytes`, unless the client is kicked meanwhile (`kicked`
/// completes: it does not read, so the write might never end) or the
/// write fails. Returns whether it was written.
async fn write_or_kick(
    stream: &mut TcpStream,
    bytes: &[u8],
    kicked: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> bool {
    pollen::select! {
        written = stream.write_all(bytes) => written.is_ok(),
        () = kicked => false,
    }
}

// === protocol ===

/// One line of input, or the news that one was too long.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    Line(String),
    TooLong,
}

/// Splits bytes into lines of at most `max` bytes.
struct LineReader {
    max: usize,
    partial: Vec<u8>,
    /// Skipping the rest of an over-long line.
    skipping: bool,
}

impl LineReader {
    fn new(max: usize) -> LineReader {
        LineReader {
            max,
            partial: Vec::new(),
            skipping: false,
        }
    }

    /// The lines `bytes` completes, in order.
    fn feed(&mut self, mut bytes: &[u8]) -> Vec<Input> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let (piece, rest, complete) = match newline {
                Some(at) => (&bytes[..at], &bytes[at + 1..], true),
                None => (bytes, &[][..], false),
            };
            bytes = rest;
            if self.skipping {
                if complete {
                    self.skipping = false;
                }
                continue;
            }
            // The `\r` of a `\r\n` does not count against the limit.
            let len = self.partial.len() + piece.len();
            let len = if complete && piece.last() == Some(&b'\r') {
                len - 1
            } else {
                len
            };
            if len > self.max {
                self.partial.clear();
                self.skipping = !complete;
                out.push(Input::TooLong);
                continue;
            }
            self.partial.extend_from_slice(piece);
            if complete {
                if self.partial.last() == Some(&b'\r') {
                    self.partial.pop();
                }
                out.push(Input::Line(
                    String::from_utf8_lossy(&self.partial).into_owned(),
                ));
                self.partial.clear();
            }
        }
        out
    }
}

/// What a line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command<'a> {
    Empty,
    Say(&'a str),
    Me(&'a str),
    Nick(&'a str),
    Who,
    Quit,
    Unknown(&'a str),
    Usage(&'static str),
}

fn parse(line: &str) -> Command<'_> {
    if line.trim().is_empty() {
        return Command::Empty;
    }
    let Some(command) = line.strip_prefix('/') else {
        return Command::Say(line);
    };
    let (name, arg) = match command.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, arg.trim()),
        None => (command, ""),
    };
    match name {
        "nick" if arg.is_empty() => Command::Usage("/nick NAME"),
        "nick" => Command::Nick(arg),
        "me" if arg.is_empty() => Command::Usage("/me ACTION"),
        "me" => Command::Me(arg),
        "who" => Command::Who,
        "quit" => Command::Quit,
        _ => Command::Unknown(line.split_whitespace().next().unwrap_or(line)),
    }
}

/// Completes on Ctrl-C or SIGTERM.
///
/// # Errors
///
/// If the signal handlers cannot be installed.
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    use pollen::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        pollen::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{Command, Input, LineReader, parse, valid_nick};

    fn line(s: &str) -> Input {
        Input::Line(s.to_owned())
    }

    #[test]
    fn lines_split_across_reads_and_carriage_returns_are_dropped() {
        let mut reader = LineReader::new(16);
        assert_eq!(reader.feed(b"hel"), vec![]);
        assert_eq!(reader.feed(b"lo\r\nwor"), vec![line("hello")]);
        assert_eq!(reader.feed(b"ld\n\n"), vec![line("world"), line("")]);
    }

    #[test]
    fn an_over_long_line_is_refused_once_and_skipped_to_its_end() {
        let mut reader = LineReader::new(4);
        assert_eq!(reader.feed(b"abcd\n"), vec![line("abcd")]);
        assert_eq!(reader.feed(b"abcdef"), vec![Input::TooLong]);
        assert_eq!(reader.feed(b"ghij"), vec![]);
        assert_eq!(reader.feed(b"kl\nok\n"), vec![line("ok")]);
        // `\r\n` does not count the `\r`.
        assert_eq!(reader.feed(b"abcd\r\n"), vec![line("abcd")]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut reader = LineReader::new(16);
        assert_eq!(reader.feed(b"a\xffb\n"), vec![line("a\u{fffd}b")]);
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse("hello /nick"), Command::Say("hello /nick"));
        assert_eq!(parse("/nick  alice "), Command::Nick("alice"));
        assert_eq!(parse("/nick"), Command::Usage("/nick NAME"));
        assert_eq!(parse("/me waves"), Command::Me("waves"));
        assert_eq!(parse("/who"), Command::Who);
        assert_eq!(parse("/quit"), Command::Quit);
        assert_eq!(parse("/dance now"), Command::Unknown("/dance"));
        assert_eq!(parse("   "), Command::Empty);
    }

    #[test]
    fn nicks_are_1_to_32_printable_characters() {
        assert!(valid_nick("alice").is_ok());
        assert!(valid_nick(&"x".repeat(32)).is_ok());
        assert!(valid_nick(&"x".repeat(33)).is_err());
        assert!(valid_nick("").is_err());
        assert!(valid_nick("a b").is_err());
        assert!(valid_nick("a\u{7}").is_err());
        assert!(valid_nick("zoë").is_ok());
    }
}
