//! One client's task: reads its lines, writes its inbox.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use pollen::channel::{mpsc, oneshot};
use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::net::TcpStream;
use pollen::sync::{CancellationToken, OwnedSemaphorePermit};
use pollen::time::{now, sleep_until, timeout};

use crate::protocol::{Command, Input, LineReader, parse};
use crate::{COMMANDS, Config, Event, Out};

/// One connection's task.
pub(crate) struct Client {
    pub(crate) id: u64,
    pub(crate) events: mpsc::Sender<'static, Event>,
    pub(crate) config: Arc<Config>,
    /// Held while connected: counts against `max_clients`.
    pub(crate) _permit: OwnedSemaphorePermit,
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
    pub(crate) async fn run(self, mut stream: TcpStream) {
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
        /// Inbox lines taken in one go, at most.
        const MAX_TAKE: usize = 64;

        let mut lines = LineReader::new(self.config.max_line);
        let mut outgoing: VecDeque<Event> = VecDeque::new();
        // After `/quit`, input is ignored until the goodbye arrives.
        let mut quitting = false;
        let mut chunk = vec![0u8; 4096];
        let mut batch: Vec<u8> = Vec::new();
        let mut outs: Vec<Out> = Vec::new();
        // One idle timer and one kick waiter for the whole session, not one
        // per turn of the loop (each would take the timer's or the token's
        // lock twice). The timer is lazy: a read only notes the time, and
        // when the timer fires it is moved on if the client spoke since.
        let mut last_heard = now();
        let idle = sleep_until(last_heard + self.config.idle_timeout);
        let mut idle = std::pin::pin!(idle);
        let mut kicked = std::pin::pin!(kick.cancelled());
        // The wait for room in the broker's channel, kept across turns of
        // the loop while events are outgoing: it keeps its place in the
        // channel's queue (a new one per turn would join and leave the
        // queue each time, under the lock every client shares).
        let mut room = std::pin::pin!(None::<mpsc::Reserve<'_, Event>>);
        loop {
            enum Step<'p> {
                Read(io::Result<usize>),
                /// Lines taken from the inbox into `outs`; 0: it is closed.
                Out(usize),
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
            if !outgoing.is_empty() && room.is_none() {
                room.set(Some(self.events.reserve()));
            }
            let wait_room = async {
                match room.as_mut().as_pin_mut() {
                    Some(reserve) => reserve.await,
                    None => std::future::pending().await,
                }
            };
            let step = pollen::select! {
                read = read => Step::Read(read),
                taken = inbox.recv_many(&mut outs, MAX_TAKE) => Step::Out(taken),
                room = wait_room => Step::Room(room),
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
                    room.set(None);
                    if let Some(event) = outgoing.pop_front() {
                        permit.send(event);
                    }
                    // And the rest, while there is room without waiting.
                    while let Some(event) = outgoing.pop_front() {
                        match self.events.try_send(event) {
                            Ok(()) => {}
                            Err(mpsc::TrySendError::Full(event)) => {
                                outgoing.push_front(event);
                                break;
                            }
                            Err(mpsc::TrySendError::Closed(_)) => return End::Shutdown,
                        }
                    }
                }
                // The broker has stopped: shutdown.
                Step::Room(Err(_)) => return End::Shutdown,
                // The broker dropped us: shutdown, or a kick racing us.
                Step::Out(0) => {
                    return if kick.is_cancelled() {
                        End::Kicked
                    } else {
                        End::Shutdown
                    };
                }
                Step::Out(_) => {
                    // These lines and whatever else is queued, in one write.
                    batch.clear();
                    let mut bye = false;
                    let mut yielded = false;
                    loop {
                        for out in outs.drain(..) {
                            let line = match out {
                                Out::Line(line) => line,
                                Out::Bye(line) => {
                                    bye = true;
                                    line
                                }
                            };
                            batch.extend_from_slice(line.as_bytes());
                            if bye {
                                // The last line the broker sends.
                                break;
                            }
                        }
                        if bye || batch.len() >= MAX_WRITE {
                            break;
                        }
                        // Whatever else is queued, without waiting for more.
                        let mut taken = inbox.try_recv_many(&mut outs, MAX_TAKE).unwrap_or(0);
                        if taken == 0 && !yielded {
                            // Under load more lines are on their way: let
                            // the broker run, and write them all with one
                            // system call. Once per write: while the broker
                            // keeps pace with its clients, each yield brings
                            // a line or two, and yielding again as long as
                            // lines came made every client follow the broker
                            // through the run queue, five trips and ten
                            // inbox locks per write, for no bigger writes.
                            // Idle, this costs one trip through the run queue.
                            yielded = true;
                            pollen::task::yield_now().await;
                            taken = inbox.try_recv_many(&mut outs, MAX_TAKE).unwrap_or(0);
                        }
                        if taken == 0 {
                            break;
                        }
                    }
                    outs.clear();
                    let written = write_or_kick(stream, &batch, kicked.as_mut()).await;
                    if bye {
                        return End::Shutdown;
                    }
                    if !written {
                        return End::Kicked;
                    }
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
