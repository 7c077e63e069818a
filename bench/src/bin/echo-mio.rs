//! The reference echo server: one thread, one `mio::Poll`, a `Slab` of
//! connections, no runtime. Each connection is a 64-byte buffer and the
//! bytes of it not yet written back.
//!
//! mio's readiness is edge-triggered, so on every event a connection writes
//! back what is pending, then reads and echoes until a read would block. A
//! write that would block (or writes only part) keeps the rest pending and
//! stops reading until the socket reports WRITABLE: a connection never holds
//! more than one buffer. Sockets are registered once for READABLE and
//! WRITABLE (an edge for each), as tokio's reactor does, so no event needs a
//! re-registration.
//!
//! `echo-mio [--addr 127.0.0.1:0]` prints `listening on <addr>` first.

#![forbid(unsafe_code)]

mod cli;

use std::io::{self, ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

/// The echo buffer: one 64-byte message.
const BUF: usize = 64;
/// The listener's token; connections' tokens are their slab keys.
const LISTENER: Token = Token(usize::MAX);

/// One connection.
struct Conn {
    stream: TcpStream,
    buf: [u8; BUF],
    /// `buf[start..end]` was read and is not yet written back.
    start: usize,
    end: usize,
}

/// What a connection does after an event.
enum Next {
    /// Wait for the next readiness event.
    Wait,
    /// End of stream or an error: drop the connection.
    Close,
}

fn main() -> io::Result<()> {
    let mut listener = TcpListener::bind(cli::addr())?;
    cli::announce(listener.local_addr()?);

    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut conns: Slab<Conn> = Slab::new();
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            if event.token() == LISTENER {
                accept(&listener, &poll, &mut conns);
                continue;
            }
            let key = event.token().0;
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            if let Next::Close = conn.drive() {
                // Closing the socket removes it from the epoll set.
                conns.remove(key);
            }
        }
    }
}

/// Accepts every pending connection (the listener's readiness is an edge
/// too) and registers it.
fn accept(listener: &TcpListener, poll: &Poll, conns: &mut Slab<Conn>) {
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let entry = conns.vacant_entry();
                let interest = Interest::READABLE | Interest::WRITABLE;
                if let Err(e) = poll
                    .registry()
                    .register(&mut stream, Token(entry.key()), interest)
                {
                    eprintln!("echo-mio: register: {e}");
                    continue;
                }
                entry.insert(Conn {
                    stream,
                    buf: [0; BUF],
                    start: 0,
                    end: 0,
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                // Out of file descriptors, say: the listener stays
                // readable and the next connection retries.
                eprintln!("echo-mio: accept: {e}");
                return;
            }
        }
    }
}

// === impl Conn ===

impl Conn {
    /// Writes back what is pending, then reads and echoes until a read or
    /// a write would block.
    fn drive(&mut self) -> Next {
        loop {
            while self.start < self.end {
                match self.stream.write(&self.buf[self.start..self.end]) {
                    Ok(0) => return Next::Close,
                    Ok(n) => self.start += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Wait,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return Next::Close,
                }
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => return Next::Close,
                Ok(n) => {
                    self.start = 0;
                    self.end = n;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }
}
