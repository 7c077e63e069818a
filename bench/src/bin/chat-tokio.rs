//! The chat server on tokio's multi-thread runtime, with the broker design
//! of `pollen-chat` (`apps/chat`): the chat suite's peer.
//!
//! - An accept-loop task numbers the clients (`user-1`, `user-2`, ...) and
//!   spawns a task per client.
//! - A client's task runs a `tokio::select!` over its socket's next bytes
//!   and its inbox, a bounded `mpsc` channel of [`INBOX`] (64) lines by
//!   default (`--inbox`). What the socket brings, it sends to the broker a
//!   line at a time; what the inbox brings, it writes to the socket, as
//!   many waiting lines as there are (up to [`WRITE_BATCH`] bytes) in one
//!   write. While a line waits for room in the broker's channel, the task
//!   keeps serving its inbox (the wait for room is a third branch of the
//!   `select!`, polled by reference so that it keeps its place in the
//!   channel's queue): a task parked in `send().await` would let its inbox
//!   fill and be disconnected, as soon as more clients talk at once than
//!   the broker's channel holds.
//! - A broker task owns the client map (id → nick and inbox sender) and
//!   receives every join, leave, message and command over one bounded
//!   `mpsc` channel of [`EVENTS`] (1 024) events. No shared map, no mutex.
//!
//! The broker never waits for a client: it `try_send`s each line; when a
//! client's inbox is full the line waits in a backlog the broker keeps for
//! that client (moved on after every event, and every 5 ms while any
//! backlog is non-empty), and a client whose backlog outgrows
//! [`BACKLOG`] (1 024) lines is disconnected (the broker drops its inbox
//! sender: its task writes what the inbox still holds, then tries to write
//! `! disconnected: too slow`, and closes the connection) and the others
//! are told it left: `pollen-chat`'s policy. Each line goes out as one
//! `Arc<str>` shared by every inbox.
//!
//! # Protocol
//!
//! Lines end with `\n` (a `\r` before it is dropped). On connect a client
//! receives `* welcome to chat-tokio, you are user-N` and `* commands:
//! /nick NAME, /who, /me ACTION, /quit`, and every other client receives
//! `* user-N joined`. A line not starting with `/` goes to every other
//! client as `<nick> text` (an empty line goes nowhere). `/nick NAME`
//! renames (up to 32 bytes, no spaces, not in use), `/who` lists who is
//! connected, `/me ACTION` sends `* nick ACTION` to the others, `/quit`
//! disconnects. When a client leaves, the others receive `* nick left`.
//! Lines starting with `*` or `!` are notices (`!`: an error); a line longer
//! than [`MAX_LINE`] bytes gets `! line too long` and the connection is
//! closed.
//!
//! `chat-tokio [--addr 127.0.0.1:0] [--threads 2] [--inbox 64]` prints
//! `chat-tokio listening on <addr>` first.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{self, error::TrySendError};

/// Lines a client's inbox holds by default; the broker disconnects a
/// client whose inbox is full.
const INBOX: u32 = 64;
/// Lines the broker holds for a client whose inbox is full before it
/// disconnects the client (`--backlog`).
const BACKLOG: u32 = 1024;
/// How often the broker moves backlogs on while any is non-empty.
const BACKLOG_TICK: std::time::Duration = std::time::Duration::from_millis(5);
/// Events the broker's channel holds; a client's task waits for room.
const EVENTS: usize = 1024;
/// The longest line a client may send, without its `\n`.
const MAX_LINE: usize = 4096;
/// Bytes a client's task reads from its socket at a time (at most).
const READ_BUF: usize = 4096;
/// Once this many bytes of waiting lines are gathered, a client's task
/// writes them without looking for more.
const WRITE_BATCH: usize = 16 * 1024;
/// Inbox lines taken in one go, at most.
const MAX_TAKE: usize = 64;
/// The longest nick.
const MAX_NICK: usize = 32;

/// The chat server on tokio's multi-thread runtime.
#[derive(Debug, Parser)]
struct Args {
    /// The address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Worker threads of the runtime.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// Lines each client's inbox holds; a client whose inbox is full is
    /// disconnected.
    #[arg(long, default_value_t = INBOX, value_parser = clap::value_parser!(u32).range(1..))]
    inbox: u32,
    /// Lines held for a client whose inbox is full before it is
    /// disconnected.
    #[arg(long, default_value_t = BACKLOG, value_parser = clap::value_parser!(u32).range(1..))]
    backlog: u32,
}

/// What a client's task tells the broker.
#[derive(Debug)]
enum Event {
    /// A client connected, with its inbox; it is `user-<id>`.
    Join {
        id: u64,
        inbox: mpsc::Sender<Arc<str>>,
    },
    /// A client disconnected.
    Leave { id: u64 },
    /// A line for every other client.
    Message { id: u64, text: String },
    /// `/me ACTION`.
    Me { id: u64, action: String },
    /// `/nick NAME`.
    Nick { id: u64, nick: String },
    /// `/who`.
    Who { id: u64 },
}

/// A connected client, as the broker knows it.
#[derive(Debug)]
struct Client {
    nick: String,
    inbox: mpsc::Sender<Arc<str>>,
    /// Lines for a full inbox, oldest first.
    backlog: std::collections::VecDeque<Arc<str>>,
}

impl Client {
    /// Queues `line`: in the inbox, or behind the backlog (noting `id` in
    /// `backlogged` when the backlog starts). Returns whether the backlog
    /// has outgrown `bound` (disconnect it).
    fn deliver(
        &mut self,
        id: u64,
        line: Arc<str>,
        backlogged: &mut Vec<u64>,
        bound: usize,
    ) -> bool {
        if self.backlog.is_empty() {
            match self.inbox.try_send(line) {
                // Closed: the client is leaving; its `Leave` follows.
                Ok(()) | Err(TrySendError::Closed(_)) => return false,
                Err(TrySendError::Full(line)) => {
                    self.backlog.push_back(line);
                    backlogged.push(id);
                }
            }
        } else {
            self.backlog.push_back(line);
        }
        self.backlog.len() > bound
    }
}

/// Why a client's connection ends.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The client sent `/quit`.
    Quit,
    /// End of stream, an I/O error, or the broker is gone.
    Closed,
    /// The broker disconnected it: its inbox was full.
    TooSlow,
    /// It sent a line longer than [`MAX_LINE`].
    LineTooLong,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::from(args.threads))
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(args.addr).await?;
        announce(listener.local_addr()?);
        let (events, events_rx) = mpsc::channel(EVENTS);
        drop(tokio::spawn(broker(events_rx, args.backlog as usize)));
        // The accept loop runs on a worker too, not on this thread.
        let inbox = usize::try_from(args.inbox).expect("a u32 fits in usize");
        tokio::spawn(accept(listener, events, inbox))
            .await
            .map_err(io::Error::other)
    })
}

/// Prints `chat-tokio listening on <addr>` as the first stdout line, and
/// flushes it.
fn announce(addr: SocketAddr) {
    let mut out = io::stdout().lock();
    writeln!(out, "chat-tokio listening on {addr}").expect("writing to stdout");
    out.flush().expect("flushing stdout");
}

/// Accepts clients forever, a task each, with inboxes of `inbox_lines`.
async fn accept(listener: TcpListener, events: mpsc::Sender<Event>, inbox_lines: usize) {
    let mut next_id = 1;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                // Lines are small and should go out at once.
                let _ = stream.set_nodelay(true);
                let events = events.clone();
                drop(tokio::spawn(client(next_id, stream, events, inbox_lines)));
                next_id += 1;
            }
            Err(e) => eprintln!("chat-tokio: accept: {e}"),
        }
    }
}

/// One client's task: joins, serves the connection, leaves.
async fn client(id: u64, mut stream: TcpStream, events: mpsc::Sender<Event>, inbox_lines: usize) {
    let (inbox, mut inbox_rx) = mpsc::channel(inbox_lines);
    // Joined before the welcome is written: a client that has its welcome
    // is in the broker's map, and gets every line sent after that.
    if events.send(Event::Join { id, inbox }).await.is_err() {
        return;
    }
    let end = serve(id, &mut stream, &mut inbox_rx, &events).await;
    let farewell: &[u8] = match end {
        End::TooSlow => b"! disconnected: too slow\n",
        End::LineTooLong => b"! line too long\n",
        End::Quit | End::Closed => b"",
    };
    // Without waiting: the client may not be reading.
    if !farewell.is_empty() {
        let _ = stream.try_write(farewell);
    }
    let _ = events.send(Event::Leave { id }).await;
}

/// Writes the welcome, then passes the client's lines to the broker and
/// its inbox to the client until the connection ends.
async fn serve(
    id: u64,
    stream: &mut TcpStream,
    inbox: &mut mpsc::Receiver<Arc<str>>,
    events: &mpsc::Sender<Event>,
) -> End {
    let (mut reader, mut writer) = stream.split();
    let welcome = format!(
        "* welcome to chat-tokio, you are user-{id}\n\
         * commands: /nick NAME, /who, /me ACTION, /quit\n"
    );
    if writer.write_all(welcome.as_bytes()).await.is_err() {
        return End::Closed;
    }
    // Bytes read and not yet handled.
    let mut input: Vec<u8> = Vec::with_capacity(READ_BUF);
    // A line for the broker, waiting for room in its channel.
    let mut pending: Option<Event> = None;
    // Room in the broker's channel for `pending`: a place in the channel's
    // queue, kept while the inbox is served.
    let reserve = events.clone().reserve_owned();
    tokio::pin!(reserve);
    let mut output: Vec<u8> = Vec::new();
    let mut lines: Vec<Arc<str>> = Vec::new();
    loop {
        // Take the next complete line unless one is waiting already.
        while pending.is_none() {
            let Some(len) = input.iter().position(|&b| b == b'\n') else {
                if input.len() > MAX_LINE {
                    return End::LineTooLong;
                }
                break;
            };
            let line = &input[..len];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > MAX_LINE {
                return End::LineTooLong;
            }
            let command = command(id, line);
            input.drain(..=len);
            match command {
                Command::Event(event) => pending = Some(event),
                Command::Reply(reply) => {
                    if writer.write_all(reply.as_bytes()).await.is_err() {
                        return End::Closed;
                    }
                }
                Command::Nothing => {}
                Command::Quit => return End::Quit,
            }
        }
        if input.capacity() - input.len() < READ_BUF / 4 {
            input.reserve(READ_BUF);
        }
        tokio::select! {
            // Cancel safe: if another branch wins, no line was taken.
            taken = inbox.recv_many(&mut lines, MAX_TAKE) => {
                if taken == 0 {
                    return End::TooSlow;
                }
                output.clear();
                for line in lines.drain(..) {
                    output.extend_from_slice(line.as_bytes());
                }
                while output.len() < WRITE_BATCH {
                    match inbox.try_recv() {
                        Ok(line) => output.extend_from_slice(line.as_bytes()),
                        Err(_) => break,
                    }
                }
                if writer.write_all(&output).await.is_err() {
                    return End::Closed;
                }
            }
            // Polled by reference: losing the race keeps its place.
            permit = &mut reserve, if pending.is_some() => {
                let Ok(permit) = permit else {
                    return End::Closed;
                };
                permit.send(pending.take().expect("a line is waiting"));
                reserve.set(events.clone().reserve_owned());
            }
            // Cancel safe: if another branch wins, nothing was read.
            read = reader.read_buf(&mut input), if pending.is_none() => {
                if let Ok(0) | Err(_) = read {
                    return End::Closed;
                }
            }
        }
    }
}

/// What a client's line asks for.
#[derive(Debug)]
enum Command {
    /// Something for the broker.
    Event(Event),
    /// An answer for the client alone, from its own task.
    Reply(&'static str),
    /// Nothing (an empty line).
    Nothing,
    /// `/quit`.
    Quit,
}

/// Parses one line from client `id` (without its `\n`).
fn command(id: u64, line: &[u8]) -> Command {
    let line = String::from_utf8_lossy(line);
    let Some(command) = line.strip_prefix('/') else {
        if line.is_empty() {
            return Command::Nothing;
        }
        return Command::Event(Event::Message {
            id,
            text: line.into_owned(),
        });
    };
    let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
    let rest = rest.trim();
    match name {
        "quit" => Command::Quit,
        "who" => Command::Event(Event::Who { id }),
        "me" if !rest.is_empty() => Command::Event(Event::Me {
            id,
            action: rest.to_owned(),
        }),
        "me" => Command::Reply("! usage: /me ACTION\n"),
        "nick" => {
            let valid = !rest.is_empty()
                && rest.len() <= MAX_NICK
                && !rest.contains(char::is_whitespace)
                && !rest.starts_with(['*', '!', '<']);
            if valid {
                Command::Event(Event::Nick {
                    id,
                    nick: rest.to_owned(),
                })
            } else {
                Command::Reply("! usage: /nick NAME (up to 32 bytes, no spaces)\n")
            }
        }
        _ => Command::Reply("! unknown command; try /nick NAME, /who, /me ACTION, /quit\n"),
    }
}

/// The broker: owns the client map and handles every event in turn.
async fn broker(mut events: mpsc::Receiver<Event>, backlog: usize) {
    let mut room = Room {
        clients: HashMap::new(),
        backlogged: Vec::new(),
        backlog,
    };
    loop {
        let event = if room.backlogged.is_empty() {
            events.recv().await
        } else {
            tokio::select! {
                event = events.recv() => event,
                () = tokio::time::sleep(BACKLOG_TICK) => {
                    room.flush();
                    continue;
                }
            }
        };
        let Some(event) = event else { break };
        room.handle(event);
        room.flush();
    }
}

/// The broker's state.
struct Room {
    clients: HashMap<u64, Client>,
    /// Clients whose backlog is non-empty.
    backlogged: Vec<u64>,
    backlog: usize,
}

impl Room {
    fn handle(&mut self, event: Event) {
        match event {
            Event::Join { id, inbox } => {
                let nick = format!("user-{id}");
                self.broadcast(id, format!("* {nick} joined\n"));
                self.clients.insert(
                    id,
                    Client {
                        nick,
                        inbox,
                        backlog: std::collections::VecDeque::new(),
                    },
                );
            }
            Event::Leave { id } => {
                // Not there if the broker disconnected it (and said so).
                if let Some(client) = self.clients.remove(&id) {
                    self.broadcast(id, format!("* {} left\n", client.nick));
                }
            }
            Event::Message { id, text } => {
                if let Some(client) = self.clients.get(&id) {
                    let line = format!("<{}> {text}\n", client.nick);
                    self.broadcast(id, line);
                }
            }
            Event::Me { id, action } => {
                if let Some(client) = self.clients.get(&id) {
                    let line = format!("* {} {action}\n", client.nick);
                    self.broadcast(id, line);
                }
            }
            Event::Nick { id, nick } => {
                if self.clients.values().any(|client| client.nick == nick) {
                    self.tell(id, format!("! {nick} is taken\n"));
                } else if let Some(client) = self.clients.get_mut(&id) {
                    let old = std::mem::replace(&mut client.nick, nick.clone());
                    self.tell(id, format!("* you are now {nick}\n"));
                    self.broadcast(id, format!("* {old} is now {nick}\n"));
                }
            }
            Event::Who { id } => {
                let mut nicks: Vec<&str> = self.clients.values().map(|c| c.nick.as_str()).collect();
                nicks.sort_unstable();
                let line = format!("* online ({}): {}\n", nicks.len(), nicks.join(", "));
                self.tell(id, line);
            }
        }
    }

    /// Queues `line` for client `id`; returns whether its backlog has
    /// outgrown the bound (disconnect it).
    fn deliver(&mut self, id: u64, line: Arc<str>) -> bool {
        let bound = self.backlog;
        match self.clients.get_mut(&id) {
            Some(client) => client.deliver(id, line, &mut self.backlogged, bound),
            None => false,
        }
    }

    /// Sends `line` to every client but `from`; disconnects those that do
    /// not read, and tells the others they left.
    fn broadcast(&mut self, from: u64, line: String) {
        let mut lines: Vec<(u64, Arc<str>)> = vec![(from, line.into())];
        while let Some((from, line)) = lines.pop() {
            let mut slow = Vec::new();
            for (&id, client) in &mut self.clients {
                if id != from
                    && client.deliver(id, Arc::clone(&line), &mut self.backlogged, self.backlog)
                {
                    slow.push(id);
                }
            }
            for id in slow {
                if let Some(client) = self.clients.remove(&id) {
                    lines.push((id, format!("* {} left\n", client.nick).into()));
                }
            }
        }
    }

    /// Sends `line` to client `id` alone.
    fn tell(&mut self, id: u64, line: String) {
        if self.deliver(id, line.into()) {
            let client = self.clients.remove(&id).expect("just delivered");
            self.broadcast(id, format!("* {} left\n", client.nick));
        }
    }

    /// Moves backlogged lines into inboxes that have room again.
    fn flush(&mut self) {
        let mut still = Vec::new();
        for id in std::mem::take(&mut self.backlogged) {
            let Some(client) = self.clients.get_mut(&id) else {
                continue;
            };
            while let Some(line) = client.backlog.pop_front() {
                match client.inbox.try_send(line) {
                    Ok(()) => {}
                    Err(TrySendError::Full(line)) => {
                        client.backlog.push_front(line);
                        break;
                    }
                    Err(TrySendError::Closed(_)) => {
                        client.backlog.clear();
                        break;
                    }
                }
            }
            if !client.backlog.is_empty() {
                still.push(id);
            }
        }
        self.backlogged = still;
    }
}
