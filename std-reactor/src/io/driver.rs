//! The reactor: a `mio::Poll`, and the slab of sources registered with it.
//!
//! [`Driver`] is the poller itself, owned by whichever thread drives the
//! runtime; [`IoHandle`] is the shared side every source reaches: the mio
//! `Registry` and the slab of [`ScheduledIo`]s.
//!
//! # Tokens
//!
//! A source's mio token is its slab index in the low bits and a generation
//! in the high bits. A slab slot is reused after its source is dropped, with
//! a new generation, so an event still queued for the old source (it was
//! read by `epoll_wait` before the drop) finds a different generation and is
//! ignored: it can never wake the slot's new owner.
//!
//! # Events
//!
//! Edge-triggered: an event sets readiness bits, which stay set until an
//! operation hits `WouldBlock` (see `Registration::poll_io`). Wakers are
//! taken under the slab lock and woken after it is let go, so a waker that
//! drops a socket (and so takes the lock) cannot deadlock.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Poll, Registry, Token};
use slab::Slab;

use super::scheduled_io::ScheduledIo;
use super::{Interest, Ready};

/// The token of the `mio::Waker` that interrupts a blocking poll.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// Bits of a token that hold the slab index; the rest, but the top bit,
/// hold the generation (so no source token collides with the waker's).
const INDEX_BITS: u32 = if usize::BITS >= 64 { 32 } else { 24 };
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
const GENERATION_MASK: usize = usize::MAX >> (INDEX_BITS + 1);

/// Events read per poll.
const EVENTS_CAPACITY: usize = 1024;

/// The poller, owned by the thread that drives the runtime.
pub(crate) struct Driver {
    poll: Poll,
    handle: Arc<IoHandle>,
    events: Events,
    /// Counts polls; readiness remembers the tick that set it.
    tick: u16,
    /// Wakers taken under the lock, woken after it (kept for its capacity).
    wake: Vec<Waker>,
}

/// The shared side of the reactor.
pub(crate) struct IoHandle {
    registry: Registry,
    registrations: Mutex<Registrations>,
    /// Sources in the slab (written under its lock): with none, a busy
    /// worker's periodic look at the poller has nothing to find.
    sources: AtomicUsize,
}

struct Registrations {
    slab: Slab<Arc<ScheduledIo>>,
    /// The generation the next registration gets.
    generation: usize,
    /// Set when the runtime shuts down: no new registrations.
    is_shutdown: bool,
}

// === impl Driver ===

impl Driver {
    /// A new poller, its shared handle, and the waker that interrupts it.
    pub(crate) fn new() -> io::Result<(Driver, Arc<IoHandle>, mio::Waker)> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let registry = poll.registry().try_clone()?;
        let handle = Arc::new(IoHandle {
            registry,
            registrations: Mutex::new(Registrations {
                slab: Slab::new(),
                generation: 0,
                is_shutdown: false,
            }),
            sources: AtomicUsize::new(0),
        });
        let driver = Driver {
            poll,
            handle: handle.clone(),
            events: Events::with_capacity(EVENTS_CAPACITY),
            tick: 0,
            wake: Vec::new(),
        };
        Ok((driver, handle, waker))
    }

    /// Whether any I/O source is registered. Without one, a poll that does
    /// not wait can only find the poller's own wake-up, which a waiting poll
    /// finds later just as well.
    pub(crate) fn has_sources(&self) -> bool {
        self.handle.sources.load(Ordering::Relaxed) > 0
    }

    /// Polls for events, waiting at most `timeout` (`None`: until one
    /// comes), and wakes the tasks waiting on them. Returns whether any
    /// source had an event (a wake-up of the poller itself does not count).
    ///
    /// `polled` runs between the poll and the wakes: the runtime marks its
    /// thread awake there, so that waking tasks on it costs no poller
    /// wake-up (an eventfd write, and a wasted poll after).
    pub(crate) fn turn(
        &mut self,
        timeout: Option<Duration>,
        polled: impl FnOnce(),
    ) -> io::Result<bool> {
        let result = self.poll.poll(&mut self.events, timeout);
        polled();
        match result {
            Ok(()) => {}
            // A signal interrupted the wait: as good as a spurious wake-up.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(e),
        }
        if self.events.is_empty() {
            return Ok(false);
        }
        self.tick = self.tick.wrapping_add(1);
        let mut any = false;
        {
            let registrations = self.handle.lock();
            for event in self.events.iter() {
                match event.token() {
                    WAKER_TOKEN => {}
                    token => {
                        let Some(io) = registrations.get(token) else {
                            continue;
                        };
                        io.set_readiness(self.tick, Ready::from_event(event), &mut self.wake);
                        any = true;
                    }
                }
            }
        }
        for waker in self.wake.drain(..) {
            waker.wake();
        }
        Ok(any)
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

// === impl IoHandle ===

impl IoHandle {
    fn lock(&self) -> MutexGuard<'_, Registrations> {
        // The slab stays consistent across a panic in any critical section
        // (none of them calls out), so a poisoned lock is still usable.
        self.registrations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `source` for `interest`; returns its record and slab key.
    pub(crate) fn add(
        &self,
        source: &mut impl Source,
        interest: Interest,
    ) -> io::Result<(Arc<ScheduledIo>, usize)> {
        let mut registrations = self.lock();
        if registrations.is_shutdown {
            return Err(shut_down_error());
        }
        let generation = registrations.generation;
        registrations.generation = (generation + 1) & GENERATION_MASK;
        let entry = registrations.slab.vacant_entry();
        let key = entry.key();
        if key > INDEX_MASK {
            return Err(io::Error::other(
                "pollen: too many I/O sources registered with one reactor",
            ));
        }
        let io = Arc::new(ScheduledIo::new(generation));
        let token = Token(key | (generation << INDEX_BITS));
        self.registry.register(source, token, interest.to_mio())?;
        entry.insert(io.clone());
        self.sources.fetch_add(1, Ordering::Relaxed);
        Ok((io, key))
    }

    /// Deregisters `source` and frees its slot `key`. The slot is freed
    /// even if mio fails to deregister (the source is going away anyway).
    pub(crate) fn remove(
        &self,
        source: &mut impl Source,
        key: usize,
        io: &Arc<ScheduledIo>,
    ) -> io::Result<()> {
        let result = self.registry.deregister(source);
        self.release(key, io);
        result
    }

    /// Frees slot `key` if it still holds `io`, without touching mio.
    pub(crate) fn release(&self, key: usize, io: &Arc<ScheduledIo>) {
        let removed = {
            let mut registrations = self.lock();
            match registrations.slab.get(key) {
                Some(current) if Arc::ptr_eq(current, io) => {
                    self.sources.fetch_sub(1, Ordering::Relaxed);
                    Some(registrations.slab.remove(key))
                }
                _ => None,
            }
        };
        // Dropped outside the lock.
        drop(removed);
    }

    /// Refuses new registrations and wakes every waiter with an error: the
    /// runtime is going away.
    pub(crate) fn shutdown(&self) {
        let mut wake = Vec::new();
        {
            let mut registrations = self.lock();
            registrations.is_shutdown = true;
            for (_, io) in registrations.slab.iter() {
                io.shutdown(&mut wake);
            }
        }
        for waker in wake {
            waker.wake();
        }
    }

    /// How many sources are registered now.
    pub(crate) fn registrations(&self) -> usize {
        self.lock().slab.len()
    }
}

impl Registrations {
    /// The live record `token` was issued for, if it is still registered.
    fn get(&self, token: Token) -> Option<&Arc<ScheduledIo>> {
        let index = token.0 & INDEX_MASK;
        let generation = token.0 >> INDEX_BITS;
        self.slab
            .get(index)
            .filter(|io| io.generation() == generation)
    }
}

impl std::fmt::Debug for IoHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoHandle")
            .field("registrations", &self.registrations())
            .finish_non_exhaustive()
    }
}

/// The error an operation on a source gets once its runtime has shut down.
pub(crate) fn shut_down_error() -> io::Error {
    io::Error::other("pollen: the runtime this I/O source belongs to has shut down")
}

#[cfg(test)]
mod tests;
