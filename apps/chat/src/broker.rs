//! The broker: the one task that owns the room (who is connected, under
//! which nick, with which inbox), fed by one channel of [`Event`]s; see the
//! crate docs for its backpressure rules.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pollen::channel::mpsc;
use pollen::sync::CancellationToken;
use pollen::time::sleep;

use crate::{Config, Event, Out, Stats};

/// One connected client, as the broker knows it.
struct Member {
    nick: Arc<str>,
    inbox: mpsc::Sender<'static, Out>,
    kick: CancellationToken,
    /// Lines for a full inbox, oldest first.
    backlog: VecDeque<Out>,
}

impl Member {
    /// Queues `out`: in the inbox, or behind the backlog (noting `id` in
    /// `backlogged` when the backlog starts). Returns whether the backlog
    /// has outgrown `bound` (kick the member).
    fn deliver(&mut self, id: u64, out: Out, backlogged: &mut Vec<u64>, bound: usize) -> bool {
        if self.backlog.is_empty() {
            match self.inbox.try_send(out) {
                // Its task has ended; its `Leave` is on the way.
                Ok(()) | Err(mpsc::TrySendError::Closed(_)) => return false,
                Err(mpsc::TrySendError::Full(out)) => {
                    self.backlog.push_back(out);
                    backlogged.push(id);
                }
            }
        } else {
            self.backlog.push_back(out);
        }
        self.backlog.len() > bound
    }
}

/// How often the broker moves backlogs on while any is non-empty.
const BACKLOG_TICK: Duration = Duration::from_millis(5);

/// The broker: owns the members, handles events in order, never waits on a
/// client. Ends when `stop` is cancelled (shutdown), after saying goodbye.
pub(crate) async fn broker(
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
    // One stop waiter for the whole run, not one per event (each would
    // join and leave the token's waiter list).
    let mut stopped = std::pin::pin!(stop.cancelled());
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
            () = stopped.as_mut() => break,
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
        let bound = self.config.backlog;
        let mut slow = Vec::new();
        for (&id, member) in &mut self.members {
            if Some(id) != except
                && member.deliver(id, Out::Line(line.clone()), &mut self.backlogged, bound)
            {
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
        let bound = self.config.backlog;
        match self.members.get_mut(&id) {
            Some(member) => member.deliver(id, out, &mut self.backlogged, bound),
            None => false,
        }
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

#[cfg(test)]
mod tests {
    use super::valid_nick;

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
