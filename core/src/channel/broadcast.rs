//! A broadcast channel: every receiver sees every message.
//!
//! The channel keeps the last `N` messages. A receiver that falls more
//! than `N` messages behind does not hold the sender back: its next `recv`
//! returns [`RecvError::Lagged`] with how many it missed, and it goes on
//! from the oldest message still kept. Messages are cloned out to each
//! receiver (`T: Clone`); the channel drops a message when a newer one
//! takes its slot, or with the channel.
//!
//! Two forms: [`Channel<T, N>`] with its slots inline, for a `static`
//! ([`split`](Channel::split)), and under `alloc` [`channel`] with the
//! capacity chosen at run time.
//!
//! # Examples
//!
//! ```
//! use pollen_core::channel::broadcast::{self, RecvError};
//!
//! static EVENTS: broadcast::Channel<u32, 2> = broadcast::Channel::new();
//!
//! let (tx, mut a) = EVENTS.split().expect("not in use");
//! let mut b = tx.subscribe();
//! tx.send(1).unwrap();
//! assert_eq!(a.try_recv(), Ok(1));
//! assert_eq!(b.try_recv(), Ok(1)); // every receiver sees it
//! tx.send(2).unwrap();
//! tx.send(3).unwrap();
//! tx.send(4).unwrap(); // `a` is now 3 behind, with 2 slots kept
//! assert_eq!(a.try_recv(), Err(broadcast::TryRecvError::Lagged(1)));
//! assert_eq!(a.try_recv(), Ok(3));
//! # let _ = RecvError::Closed;
//! ```

use core::fmt;

use crate::sync::blocking_mutex::Mutex;
use crate::sync::{DefaultRawMutex, Notify, RawMutex};

/// One kept message and its position in the stream.
struct Slot<T> {
    pos: u64,
    value: Option<T>,
}

/// What the lock guards: the ring and the halves' bookkeeping.
struct State<S: ?Sized> {
    /// The position the next message gets.
    tail: u64,
    senders: usize,
    receivers: usize,
    claimed: bool,
    slots: S,
}

struct Shared<M, S: ?Sized> {
    /// Told on every send and when the last sender goes.
    sent: Notify<M>,
    state: Mutex<M, State<S>>,
}

/// A broadcast channel keeping the last `N` messages inline, usable in a
/// `static`.
pub struct Channel<T, const N: usize, M = DefaultRawMutex> {
    shared: Shared<M, [Slot<T>; N]>,
}

enum Handle<'a, T, M> {
    Inline(&'a Shared<M, [Slot<T>]>),
    #[cfg(feature = "alloc")]
    Heap(alloc::sync::Arc<Shared<M, alloc::boxed::Box<[Slot<T>]>>>),
}

/// The sending half; clone it for more senders.
pub struct Sender<'a, T, M: RawMutex = DefaultRawMutex> {
    handle: Handle<'a, T, M>,
}

/// A receiving half; [`Sender::subscribe`] makes more, and cloning one
/// makes a receiver at the same place in the stream.
pub struct Receiver<'a, T, M: RawMutex = DefaultRawMutex> {
    handle: Handle<'a, T, M>,
    /// The position of the next message this receiver reads.
    next: u64,
}

/// Every receiver is gone; the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why [`Receiver::recv`] returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// Every sender is gone and every kept message was read.
    Closed,
    /// The receiver fell behind: this many messages were overwritten
    /// before it read them. The next `recv` returns the oldest kept one.
    Lagged(u64),
}

/// Why [`Receiver::try_recv`] returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No new message yet.
    Empty,
    /// Every sender is gone and every kept message was read.
    Closed,
    /// As [`RecvError::Lagged`].
    Lagged(u64),
}

// === impl Channel ===

impl<T, const N: usize> Channel<T, N, DefaultRawMutex> {
    /// A channel keeping `N` messages, not in use, on the default lock.
    /// Usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Channel::with_raw_mutex()
    }

    /// A channel keeping `N` messages (not `const` under loom).
    #[cfg(loom)]
    pub fn new() -> Self {
        Channel::with_raw_mutex()
    }
}

impl<T, const N: usize, M: RawMutex> Channel<T, N, M> {
    /// A channel keeping `N` messages, not in use, on the lock `M`.
    ///
    /// # Panics
    ///
    /// If `N` is zero (at compile time in a `static`).
    #[cfg(not(loom))]
    pub const fn with_raw_mutex() -> Self {
        assert!(
            N > 0,
            "pollen: a broadcast channel keeps at least one message"
        );
        Channel {
            shared: Shared {
                sent: Notify::with_raw_mutex(),
                state: Mutex::new(State::new([const { Slot::EMPTY }; N], false)),
            },
        }
    }

    /// A channel keeping `N` messages on the lock `M` (not `const` under
    /// loom).
    #[cfg(loom)]
    pub fn with_raw_mutex() -> Self {
        assert!(
            N > 0,
            "pollen: a broadcast channel keeps at least one message"
        );
        Channel {
            shared: Shared {
                sent: Notify::with_raw_mutex(),
                state: Mutex::new(State::new(core::array::from_fn(|_| Slot::EMPTY), false)),
            },
        }
    }

    /// A sender and a receiver, if the channel is not in use: `None` while
    /// halves of an earlier split are alive. Messages kept from an earlier
    /// use are dropped.
    pub fn split(&self) -> Option<(Sender<'_, T, M>, Receiver<'_, T, M>)> {
        let shared: &Shared<M, [Slot<T>]> = &self.shared;
        let next = shared.state.lock(|s| {
            if s.claimed {
                return None;
            }
            s.claimed = true;
            s.senders = 1;
            s.receivers = 1;
            clear(&mut s.slots);
            Some(s.tail)
        })?;
        Some((
            Sender {
                handle: Handle::Inline(shared),
            },
            Receiver {
                handle: Handle::Inline(shared),
                next,
            },
        ))
    }
}

/// Empties the ring of an earlier use (at `split`, when no half is alive,
/// so dropping under the lock holds no one up).
fn clear<T>(slots: &mut [Slot<T>]) {
    for slot in slots {
        *slot = Slot::EMPTY;
    }
}

impl<T, const N: usize> Default for Channel<T, N, DefaultRawMutex> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize, M> fmt::Debug for Channel<T, N, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("capacity", &N)
            .finish_non_exhaustive()
    }
}

impl<T> Slot<T> {
    const EMPTY: Slot<T> = Slot {
        pos: u64::MAX,
        value: None,
    };
}

impl<S> State<S> {
    const fn new(slots: S, claimed: bool) -> State<S> {
        State {
            tail: 0,
            senders: if claimed { 1 } else { 0 },
            receivers: if claimed { 1 } else { 0 },
            claimed,
            slots,
        }
    }
}

/// A broadcast channel keeping the last `capacity` messages, in an `Arc`.
///
/// # Panics
///
/// If `capacity` is zero.
#[cfg(feature = "alloc")]
pub fn channel<T>(capacity: usize) -> (Sender<'static, T>, Receiver<'static, T>) {
    assert!(
        capacity > 0,
        "pollen: a broadcast channel keeps at least one message"
    );
    let slots: alloc::boxed::Box<[Slot<T>]> = (0..capacity).map(|_| Slot::EMPTY).collect();
    let shared = alloc::sync::Arc::new(Shared {
        sent: Notify::new(),
        state: Mutex::new(State::new(slots, true)),
    });
    (
        Sender {
            handle: Handle::Heap(shared.clone()),
        },
        Receiver {
            handle: Handle::Heap(shared),
            next: 0,
        },
    )
}

/// The ring and bookkeeping as every form sees them.
struct View<'s, T> {
    tail: &'s mut u64,
    senders: &'s mut usize,
    receivers: &'s mut usize,
    claimed: &'s mut bool,
    slots: &'s mut [Slot<T>],
}

impl<T, M: RawMutex> Handle<'_, T, M> {
    fn lock<R>(&self, f: impl FnOnce(View<'_, T>) -> R) -> R {
        match self {
            Handle::Inline(shared) => shared.state.lock(|s| f(s.view())),
            #[cfg(feature = "alloc")]
            Handle::Heap(shared) => shared.state.lock(|s| {
                f(View {
                    tail: &mut s.tail,
                    senders: &mut s.senders,
                    receivers: &mut s.receivers,
                    claimed: &mut s.claimed,
                    slots: &mut s.slots,
                })
            }),
        }
    }

    fn sent(&self) -> &Notify<M> {
        match self {
            Handle::Inline(shared) => &shared.sent,
            #[cfg(feature = "alloc")]
            Handle::Heap(shared) => &shared.sent,
        }
    }

    fn duplicate(&self) -> Self {
        match self {
            Handle::Inline(shared) => Handle::Inline(shared),
            #[cfg(feature = "alloc")]
            Handle::Heap(shared) => Handle::Heap(shared.clone()),
        }
    }
}

impl<T> State<[Slot<T>]> {
    fn view(&mut self) -> View<'_, T> {
        View {
            tail: &mut self.tail,
            senders: &mut self.senders,
            receivers: &mut self.receivers,
            claimed: &mut self.claimed,
            slots: &mut self.slots,
        }
    }
}

// === impl Sender ===

impl<'a, T, M: RawMutex> Sender<'a, T, M> {
    /// Sends `value` to every receiver; never waits (a receiver that falls
    /// too far behind lags instead). Returns how many receivers there are.
    ///
    /// # Errors
    ///
    /// The value comes back if there is no receiver.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let sent = self.handle.lock(|v| {
            if *v.receivers == 0 {
                return Err(value);
            }
            let cap = v.slots.len() as u64;
            let slot = &mut v.slots[(*v.tail % cap) as usize];
            slot.pos = *v.tail;
            let old = slot.value.replace(value);
            *v.tail += 1;
            Ok((old, *v.receivers))
        });
        match sent {
            Err(value) => Err(SendError(value)),
            Ok((old, receivers)) => {
                // Outside the lock: a value's `Drop` may do anything.
                drop(old);
                self.handle.sent().notify_waiters();
                Ok(receivers)
            }
        }
    }

    /// A new receiver, which sees the messages sent from now on.
    pub fn subscribe(&self) -> Receiver<'a, T, M> {
        let next = self.handle.lock(|v| {
            *v.receivers += 1;
            *v.tail
        });
        Receiver {
            handle: self.handle.duplicate(),
            next,
        }
    }

    /// How many receivers there are.
    pub fn receiver_count(&self) -> usize {
        self.handle.lock(|v| *v.receivers)
    }
}

impl<T, M: RawMutex> Clone for Sender<'_, T, M> {
    fn clone(&self) -> Self {
        self.handle.lock(|v| *v.senders += 1);
        Sender {
            handle: self.handle.duplicate(),
        }
    }
}

impl<T, M: RawMutex> Drop for Sender<'_, T, M> {
    fn drop(&mut self) {
        let last = self.handle.lock(|v| {
            *v.senders -= 1;
            if *v.senders == 0 && *v.receivers == 0 {
                *v.claimed = false;
            }
            *v.senders == 0
        });
        if last {
            // Waiting receivers learn there will be nothing more.
            self.handle.sent().notify_waiters();
        }
    }
}

impl<T, M: RawMutex> fmt::Debug for Sender<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

// === impl Receiver ===

impl<T: Clone, M: RawMutex> Receiver<'_, T, M> {
    /// Waits for the next message.
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged`] if messages were overwritten before this
    /// receiver read them (it then goes on from the oldest kept one), or
    /// [`RecvError::Closed`] once every sender is gone and everything was
    /// read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a message counts as read only when `recv` returns it.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        let coop = crate::task::coop::proceed().await;
        let Receiver { handle, next } = self;
        let received = loop {
            let notified = handle.sent().notified();
            match recv_at(handle, next) {
                Ok(value) => break Ok(value),
                Err(TryRecvError::Lagged(n)) => break Err(RecvError::Lagged(n)),
                Err(TryRecvError::Closed) => break Err(RecvError::Closed),
                Err(TryRecvError::Empty) => notified.await,
            }
        };
        coop.made_progress();
        received
    }

    /// The next message, if one was sent, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], [`TryRecvError::Lagged`] or
    /// [`TryRecvError::Closed`].
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        recv_at(&self.handle, &mut self.next)
    }
}

/// Reads the message at `*next` if there is one, and moves `*next` on.
fn recv_at<T: Clone, M: RawMutex>(
    handle: &Handle<'_, T, M>,
    next: &mut u64,
) -> Result<T, TryRecvError> {
    handle.lock(|v| {
        let cap = v.slots.len() as u64;
        if *next >= *v.tail {
            return Err(if *v.senders == 0 {
                TryRecvError::Closed
            } else {
                TryRecvError::Empty
            });
        }
        let oldest = v.tail.saturating_sub(cap);
        if *next < oldest {
            let missed = oldest - *next;
            *next = oldest;
            return Err(TryRecvError::Lagged(missed));
        }
        let slot = &v.slots[(*next % cap) as usize];
        debug_assert_eq!(slot.pos, *next);
        let value = slot.value.clone().expect("a kept message");
        *next += 1;
        Ok(value)
    })
}

impl<T, M: RawMutex> Receiver<'_, T, M> {
    /// How many messages this receiver has not read yet (those kept).
    pub fn len(&self) -> usize {
        let next = self.next;
        self.handle.lock(|v| {
            let oldest = v.tail.saturating_sub(v.slots.len() as u64);
            (*v.tail - next.max(oldest)) as usize
        })
    }

    /// Whether this receiver has read every message sent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A new receiver, which sees the messages sent from now on (not those
    /// this one has yet to read), as [`Sender::subscribe`] makes them.
    pub fn resubscribe(&self) -> Self {
        let next = self.handle.lock(|v| {
            *v.receivers += 1;
            *v.tail
        });
        Receiver {
            handle: self.handle.duplicate(),
            next,
        }
    }
}

impl<T, M: RawMutex> Clone for Receiver<'_, T, M> {
    fn clone(&self) -> Self {
        self.handle.lock(|v| *v.receivers += 1);
        Receiver {
            handle: self.handle.duplicate(),
            next: self.next,
        }
    }
}

impl<T, M: RawMutex> Drop for Receiver<'_, T, M> {
    fn drop(&mut self) {
        self.handle.lock(|v| {
            *v.receivers -= 1;
            if *v.senders == 0 && *v.receivers == 0 {
                *v.claimed = false;
            }
        });
    }
}

impl<T, M: RawMutex> fmt::Debug for Receiver<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

// === impl errors ===

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("there is no receiver")
    }
}

impl<T> core::error::Error for SendError<T> {}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("every sender is gone"),
            RecvError::Lagged(n) => write!(f, "the receiver lagged behind by {n} messages"),
        }
    }
}

impl core::error::Error for RecvError {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no new message"),
            TryRecvError::Closed => f.write_str("every sender is gone"),
            TryRecvError::Lagged(n) => write!(f, "the receiver lagged behind by {n} messages"),
        }
    }
}

impl core::error::Error for TryRecvError {}
