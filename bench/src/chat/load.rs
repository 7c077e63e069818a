//! The chat load test: N clients on one thread of the bench process, each
//! sending M messages to a chat server and reading every other client's.
//!
//! 1. **Connect**: the clients connect one after the other, with blocking
//!    sockets. Each reads its two greeting lines (`* welcome to ...`,
//!    `* commands: ...`), and every client before it reads its `* user-K
//!    joined` notice, before the next connects: so the listen backlog
//!    never fills, no inbox holds more than a notice or two (a join is a
//!    line to every client: at full speed, 500 joins overflow inboxes of
//!    64), and once the last has connected the server has registered every
//!    client, so no message sent from then on can miss one (a greeting
//!    alone may come before the client is in the server's map), and no
//!    notice is left in any inbox. A client that is not told of a later
//!    one's join fails the run.
//! 2. **Timed**: every socket goes non-blocking under one `mio::Poll`
//!    (edge-triggered; the sockets stay the `std` ones, registered by file
//!    descriptor). The clock starts, then each client writes its M lines
//!    `m <client> <i>` (i = 0..M) as fast as its socket takes them, and
//!    reads. The clock stops when the last client has received all its
//!    (N-1)*M message lines.
//!
//! With a window of W lines (`--chat-window W`), step 2 sends a line at a
//! time instead, the clients taking turns, and only while the lines sent
//! so far number at most W more than the least any client has sent and
//! received together. Then no client can have more than W lines sent to
//! it and not yet read, so a server's inbox of W lines per client never
//! overflows, however its tasks are scheduled: the load is closed-loop,
//! as fast as the slowest client reads.
//!
//! Every line read is checked: a message line (`<nick> m <client> <i>`)
//! must come from another client, and per sender the `<i>` must be the next
//! one (0, 1, 2, ...: in order, none lost, none twice); notices (`*`, `!`)
//! are skipped; anything else, or a message before the timed phase, fails
//! the run, as does a closed connection, an I/O error, a read waiting more
//! than [`IO_TIMEOUT`] in step 1, no byte from the server for
//! [`STALL_TIMEOUT`] in step 2, or step 2 taking longer than
//! [`RUN_TIMEOUT`]. The error says which client, how far it got, and the
//! last `!` notice the server sent it (say, why it was disconnected).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::process::ServerProcess;

/// How long a connect or a blocking read (step 1) may wait.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the timed phase may go without a byte from the server.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the timed phase may take in all.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// How long `poll` waits before the timeouts are looked at.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// Each client's read buffer; no line may be longer.
const READ_BUF: usize = 16 * 1024;

/// How one run goes.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// N, at least 2.
    pub clients: usize,
    /// M, per client.
    pub messages: usize,
    /// W: sent lines ahead of the slowest client, if limited.
    pub window: Option<usize>,
}

/// What one run measured.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// From the first write to the last client having all its messages.
    pub elapsed: Duration,
    /// The server's CPU time (user + system, all threads) over the same.
    pub server_cpu: Duration,
    /// The load generator's thread's CPU time over the same.
    pub client_cpu: Duration,
}

/// Runs the load test once against `server`.
pub fn run(server: &ServerProcess, shape: Shape) -> Result<Sample, String> {
    assert!(shape.clients >= 2, "the chat load test needs two clients");
    let mut clients: Vec<Client> = Vec::with_capacity(shape.clients);
    for index in 0..shape.clients {
        clients.push(Client::connect(server.addr, index, shape)?);
        // Client j has been told of clients j+1 to `index`.
        for (j, client) in clients.iter_mut().enumerate() {
            client.wait_for_joins(index - j)?;
        }
    }

    let mut poll = Poll::new().map_err(|e| format!("mio poll: {e}"))?;
    for client in &mut clients {
        client.go_nonblocking(&poll)?;
    }
    let mut events = Events::with_capacity(1024);
    let wanted = (shape.clients - 1) * shape.messages;
    let mut done = 0;
    let mut window = shape.window.map(|width| Window::new(width, shape));

    let cpu_before = server.cpu_time()?;
    let client_cpu = ThreadTime::now();
    let start = Instant::now();
    let mut last_read = start;
    let mut end = start;
    match &mut window {
        None => {
            for client in &mut clients {
                client.release(shape.messages);
                client.write()?;
            }
        }
        Some(window) => window.send(&mut clients)?,
    }
    while done < shape.clients {
        match poll.poll(&mut events, Some(POLL_TIMEOUT)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("mio poll: {e}")),
        }
        for event in &events {
            let client = &mut clients[event.token().0];
            if event.is_writable() {
                client.write()?;
            }
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                let before = client.released + client.tally.received;
                if client.read_available()? > 0 {
                    last_read = Instant::now();
                }
                if let Some(window) = &mut window {
                    window.moved(before, client.released + client.tally.received);
                }
                if !client.done && client.tally.received == wanted {
                    client.done = true;
                    done += 1;
                    end = last_read;
                }
            }
        }
        if let Some(window) = &mut window {
            window.send(&mut clients)?;
        }
        let now = Instant::now();
        if done < shape.clients && now - last_read > STALL_TIMEOUT {
            return Err(stalled(
                &clients,
                wanted,
                STALL_TIMEOUT,
                "with no byte from the server",
            ));
        }
        if done < shape.clients && now - start > RUN_TIMEOUT {
            return Err(stalled(&clients, wanted, RUN_TIMEOUT, "in all"));
        }
    }
    let client_cpu = client_cpu.elapsed();
    let cpu_after = server.cpu_time()?;
    Ok(Sample {
        elapsed: end - start,
        server_cpu: cpu_after.saturating_sub(cpu_before),
        client_cpu,
    })
}

/// The error of a timed phase that did not finish: how far the clients got.
fn stalled(clients: &[Client], wanted: usize, after: Duration, how: &str) -> String {
    let done = clients.iter().filter(|client| client.done).count();
    let behind = clients
        .iter()
        .min_by_key(|client| client.tally.received)
        .expect("at least two clients");
    let unsent = clients
        .iter()
        .filter(|client| client.written < client.out.len())
        .count();
    format!(
        "the load test stopped after {} s {how}: {done} of {} clients have all {wanted} \
         messages, {unsent} have not sent all theirs; client {} has {}{}",
        after.as_secs(),
        clients.len(),
        behind.index,
        behind.tally.received,
        behind.tally.last_error_notice(),
    )
}

/// One client: its socket, what it has to send, and what it has read.
struct Client {
    /// Its number, in its messages' text.
    index: usize,
    stream: TcpStream,
    /// Its M lines, written from `written` up to `allowed`, the end of the
    /// `released`th line.
    out: Vec<u8>,
    written: usize,
    allowed: usize,
    released: usize,
    /// Bytes read and not yet handled, `buf[head..tail]`: at most a
    /// partial line once lines are handled.
    buf: Box<[u8]>,
    head: usize,
    tail: usize,
    tally: Tally,
    /// Has all its messages.
    done: bool,
}

/// What a client has read, checked line by line.
struct Tally {
    /// Whose client this is (not a sender of its own messages).
    index: usize,
    /// M: no sender's `<i>` may reach it.
    messages: usize,
    /// Per sender, the next `<i>` due.
    next: Vec<u32>,
    /// Message lines received.
    received: usize,
    /// `* ... joined` notices received.
    joins: usize,
    /// Whether the timed phase has begun: a message line before it is an
    /// error.
    sending: bool,
    /// The last `!` notice the server sent, if any.
    last_error: Option<String>,
}

// === impl Client ===

impl Client {
    /// Connects client `index` and reads its greeting.
    fn connect(addr: SocketAddr, index: usize, shape: Shape) -> Result<Client, String> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .map_err(|e| format!("client {index}: connect: {e}"))?;
        let setup = |stream: &TcpStream| {
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))
        };
        setup(&stream).map_err(|e| format!("client {index}: socket options: {e}"))?;
        let mut out = Vec::with_capacity(shape.messages * 16);
        for i in 0..shape.messages {
            out.extend_from_slice(format!("m {index} {i}\n").as_bytes());
        }
        let mut client = Client {
            index,
            stream,
            out,
            written: 0,
            allowed: 0,
            released: 0,
            buf: vec![0; READ_BUF].into_boxed_slice(),
            head: 0,
            tail: 0,
            tally: Tally {
                index,
                messages: shape.messages,
                next: vec![0; shape.clients],
                received: 0,
                joins: 0,
                sending: false,
                last_error: None,
            },
            done: false,
        };
        let welcome = client.next_line("its greeting")?;
        let commands = client.next_line("its greeting")?;
        if !welcome.starts_with("* welcome to ") || !commands.starts_with("* commands:") {
            return Err(format!(
                "client {index}: the greeting is not `* welcome to ...` and `* commands: ...`, \
                 but {welcome:?} and {commands:?}"
            ));
        }
        Ok(client)
    }

    /// Reads (blocking) until `joins` `* ... joined` notices have come.
    fn wait_for_joins(&mut self, joins: usize) -> Result<(), String> {
        while self.tally.joins < joins {
            let line = self.next_line("`* user-N joined` notices")?;
            self.tally
                .handle(line.as_bytes())
                .map_err(|e| format!("client {}: {e}", self.index))?;
        }
        Ok(())
    }

    /// The next line, without its `\n`, reading (blocking) as needed;
    /// `waiting_for` says what for in an error.
    fn next_line(&mut self, waiting_for: &str) -> Result<String, String> {
        loop {
            if let Some(len) = self.buf[self.head..self.tail]
                .iter()
                .position(|&b| b == b'\n')
            {
                let line = &self.buf[self.head..self.head + len];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let line = String::from_utf8_lossy(line).into_owned();
                self.head += len + 1;
                return Ok(line);
            }
            self.fill()
                .map_err(|e| format!("client {}: waiting for {waiting_for}: {e}", self.index))?;
        }
    }

    /// Makes room after `tail` and reads once into it; `Err` on end of
    /// stream, an error or a full buffer (a line too long).
    fn fill(&mut self) -> Result<usize, String> {
        if self.head > 0 {
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
        if self.tail == self.buf.len() {
            return Err(format!("a line longer than {READ_BUF} bytes"));
        }
        loop {
            match self.stream.read(&mut self.buf[self.tail..]) {
                Ok(0) => {
                    return Err(format!(
                        "the server closed the connection, after {} messages{}",
                        self.tally.received,
                        self.tally.last_error_notice()
                    ));
                }
                Ok(n) => {
                    self.tail += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if self.tally.sending {
                        return Ok(0);
                    }
                    return Err(format!("nothing for {} s", IO_TIMEOUT.as_secs()));
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    return Err(format!(
                        "the server reset the connection (it closed it with lines of ours \
                         unread), after {} messages{}",
                        self.tally.received,
                        self.tally.last_error_notice()
                    ));
                }
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Switches to non-blocking and registers with `poll` (edge-triggered,
    /// readable and writable), token = its index; the timed phase begins.
    fn go_nonblocking(&mut self, poll: &Poll) -> Result<(), String> {
        let fd = self.stream.as_raw_fd();
        self.stream
            .set_nonblocking(true)
            .and_then(|()| {
                poll.registry().register(
                    &mut SourceFd(&fd),
                    Token(self.index),
                    Interest::READABLE | Interest::WRITABLE,
                )
            })
            .map_err(|e| format!("client {}: registering: {e}", self.index))?;
        self.tally.sending = true;
        Ok(())
    }

    /// Lets the next `lines` of its lines be written (all that are left,
    /// if fewer).
    fn release(&mut self, lines: usize) {
        for _ in 0..lines {
            let Some(len) = self.out[self.allowed..].iter().position(|&b| b == b'\n') else {
                return;
            };
            self.allowed += len + 1;
            self.released += 1;
        }
    }

    /// Writes what is left of its released lines, until the socket would
    /// block.
    fn write(&mut self) -> Result<(), String> {
        while self.written < self.allowed {
            match self.stream.write(&self.out[self.written..self.allowed]) {
                Ok(0) => return Err(format!("client {}: write: wrote 0 bytes", self.index)),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(format!(
                        "client {}: write: {e}, after {} messages received{}",
                        self.index,
                        self.tally.received,
                        self.tally.last_error_notice()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Reads until the socket would block, handling every complete line;
    /// returns the bytes read.
    fn read_available(&mut self) -> Result<usize, String> {
        let mut total = 0;
        loop {
            let n = self
                .fill()
                .map_err(|e| format!("client {}: {e}", self.index))?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
            let mut start = self.head;
            while let Some(len) = self.buf[start..self.tail].iter().position(|&b| b == b'\n') {
                self.tally
                    .handle(&self.buf[start..start + len])
                    .map_err(|e| format!("client {}: {e}", self.index))?;
                start += len + 1;
            }
            self.head = start;
        }
    }
}

/// The window of step 2: how many lines may be sent, and whose turn it is.
struct Window {
    /// W.
    width: usize,
    /// M.
    messages: usize,
    /// Lines released so far, all clients together.
    sent: usize,
    /// Lines left to release.
    left: usize,
    /// The client whose turn is next.
    next: usize,
    /// `counts[v]`: the clients that have sent and received `v` lines
    /// together (at most N*M).
    counts: Vec<u32>,
    /// The least such `v`.
    floor: usize,
}

// === impl Window ===

impl Window {
    fn new(width: usize, shape: Shape) -> Window {
        let total = shape.clients * shape.messages;
        let mut counts = vec![0; total + 1];
        counts[0] = u32::try_from(shape.clients).expect("clients fit in u32");
        Window {
            width,
            messages: shape.messages,
            sent: 0,
            left: total,
            next: 0,
            counts,
            floor: 0,
        }
    }

    /// A client's lines sent and received went from `from` to `to`.
    fn moved(&mut self, from: usize, to: usize) {
        if from == to {
            return;
        }
        self.counts[from] -= 1;
        self.counts[to] += 1;
        while self.counts[self.floor] == 0 {
            self.floor += 1;
        }
    }

    /// Releases and writes lines, the clients taking turns, while the
    /// window has room.
    fn send(&mut self, clients: &mut [Client]) -> Result<(), String> {
        while self.left > 0 && self.sent < self.floor + self.width {
            let turn = self.next;
            self.next = (turn + 1) % clients.len();
            let client = &mut clients[turn];
            if client.released == self.messages {
                continue;
            }
            let before = client.released + client.tally.received;
            client.release(1);
            self.moved(before, before + 1);
            self.sent += 1;
            self.left -= 1;
            client.write()?;
        }
        Ok(())
    }
}

// === impl Tally ===

impl Tally {
    /// Checks and counts one line (without its `\n`).
    fn handle(&mut self, line: &[u8]) -> Result<(), String> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match line.first() {
            Some(b'<') => self.message(line),
            Some(b'*') => {
                if line.ends_with(b" joined") {
                    self.joins += 1;
                }
                Ok(())
            }
            Some(b'!') => {
                self.last_error = Some(String::from_utf8_lossy(line).into_owned());
                Ok(())
            }
            _ => Err(format!("unexpected line {}", shown(line))),
        }
    }

    /// Checks and counts a message line, `<nick> m <client> <i>`.
    fn message(&mut self, line: &[u8]) -> Result<(), String> {
        if !self.sending {
            return Err(format!(
                "a message before any client sent one: {}",
                shown(line)
            ));
        }
        let (from, i) = line
            .windows(2)
            .position(|w| w == b"> ")
            .and_then(|end| parse_message(&line[end + 2..]))
            .ok_or_else(|| format!("not a message of the load test: {}", shown(line)))?;
        if from == self.index {
            return Err(format!("got its own message back: {}", shown(line)));
        }
        let next = self
            .next
            .get_mut(from)
            .ok_or_else(|| format!("a message from no client: {}", shown(line)))?;
        if i != *next || i as usize >= self.messages {
            return Err(format!(
                "message {i} from client {from} where {next} was due (order per sender not \
                 kept, or a message lost or repeated): {}",
                shown(line)
            ));
        }
        *next += 1;
        self.received += 1;
        Ok(())
    }

    /// `; last notice: <line>` for the last `!` notice, if any.
    fn last_error_notice(&self) -> String {
        self.last_error.as_ref().map_or_else(String::new, |line| {
            format!("; its last `!` notice: {line:?}")
        })
    }
}

/// `m <client> <i>`, parsed.
fn parse_message(text: &[u8]) -> Option<(usize, u32)> {
    let rest = text.strip_prefix(b"m ")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let from = parse_number(&rest[..space])?;
    let i = parse_number(&rest[space + 1..])?;
    Some((usize::try_from(from).ok()?, u32::try_from(i).ok()?))
}

/// A decimal number of 1 to 9 digits.
fn parse_number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// A line for an error message: lossy UTF-8, at most 120 bytes.
fn shown(line: &[u8]) -> String {
    let cut = &line[..line.len().min(120)];
    let more = if cut.len() < line.len() { "..." } else { "" };
    format!("{:?}{more}", String::from_utf8_lossy(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(index: usize) -> Tally {
        Tally {
            index,
            messages: 2,
            next: vec![0; 3],
            received: 0,
            joins: 0,
            sending: true,
            last_error: None,
        }
    }

    #[test]
    fn counts_messages_in_order_and_skips_notices() {
        let mut t = tally(0);
        for line in [
            &b"* user-3 joined"[..],
            b"<user-2> m 1 0",
            b"<bob> m 2 0\r",
            b"<user-2> m 1 1",
            b"! slow down",
            b"* bob left",
        ] {
            t.handle(line).unwrap();
        }
        assert_eq!(t.received, 3);
        assert_eq!(t.joins, 1);
        assert_eq!(t.next, [0, 2, 1]);
        assert_eq!(t.last_error.as_deref(), Some("! slow down"));
    }

    #[test]
    fn the_window_floor_is_the_least_sent_and_received() {
        let shape = Shape {
            clients: 3,
            messages: 2,
            window: Some(2),
        };
        let mut w = Window::new(2, shape);
        w.moved(0, 1);
        w.moved(0, 3);
        assert_eq!(w.floor, 0, "one client is still at 0");
        w.moved(0, 1);
        assert_eq!(w.floor, 1);
        w.moved(1, 4);
        w.moved(1, 2);
        assert_eq!(w.floor, 2);
        w.moved(2, 2);
        assert_eq!(w.floor, 2);
    }

    #[test]
    fn rejects_what_the_protocol_does_not_allow() {
        let bad: [&[u8]; 7] = [
            b"<user-2> m 1 1",  // 1 before 0
            b"<user-1> m 0 0",  // its own
            b"<user-9> m 7 0",  // no such client
            b"<user-2> m 1 2",  // past M
            b"<user-2> hello",  // not a load-test line
            b"hello",           // not a notice or a message
            b"<user-2> m 1 0x", // not a number
        ];
        for line in bad {
            assert!(tally(0).handle(line).is_err(), "{:?}", shown(line));
        }
        let mut early = tally(0);
        early.sending = false;
        assert!(early.handle(b"<user-2> m 1 0").is_err());
    }
}
