//! A watch channel: one sender publishes a value, any number of receivers
//! see the latest one and can wait for it to change.
//!
//! Values are not queued: a receiver that looks late sees only the newest.
//! Receivers read the value through a closure
//! ([`Receiver::with`](Receiver::with)), or copy it out
//! ([`Receiver::get`], or [`Receiver::borrow`] for the shape tokio users
//! know): the value sits behind the channel's short lock `M`, which is
//! never held across an `.await`.
//!
//! This is where pollen's watch differs from tokio's, on purpose: tokio's
//! `borrow()` returns a guard that holds a read lock for as long as the
//! caller keeps it. Here the lock is the embedder's raw mutex, on a
//! microcontroller an interrupt-free section, and a guard would let any
//! caller keep interrupts off for as long as it likes. The closure bounds
//! the critical section to the caller's read; `borrow()` returns a [`Ref`]
//! holding a copy taken under the lock (so `T: Clone`, and a large `T` is
//! better read with `with`).
//!
//! # Examples
//!
//! ```
//! use pollen_core::channel::watch;
//! # use core::future::Future;
//! # let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
//!
//! static CONFIG: watch::Channel<u32> = watch::Channel::new(1);
//!
//! let (tx, mut rx) = CONFIG.split().expect("not in use");
//! assert_eq!(rx.get(), 1);
//! tx.send(2).unwrap();
//! {
//!     let mut changed = core::pin::pin!(rx.changed());
//!     assert!(changed.as_mut().poll(&mut cx).is_ready()); // 2 not seen yet
//! }
//! assert_eq!(rx.get(), 2);
//! ```

use core::fmt;

use crate::sync::blocking_mutex::Mutex;
use crate::sync::{DefaultRawMutex, Notify, RawMutex};

/// The sender is gone: the value will not change again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

/// Every receiver is gone; the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// A watch channel holding a `T`, usable in a `static`:
/// [`split`](Channel::split) it into its halves.
pub struct Channel<T, M = DefaultRawMutex> {
    state: Mutex<M, State<T>>,
    /// Told on every change, and when the sender goes.
    changed: Notify<M>,
    /// Told when the last receiver goes, for [`Sender::closed`].
    rx_gone: Notify<M>,
}

struct State<T> {
    value: T,
    /// Bumped by every send.
    version: u64,
    sender: bool,
    receivers: usize,
    /// Halves of a split are alive.
    claimed: bool,
}

enum Handle<'a, T, M> {
    Borrowed(&'a Channel<T, M>),
    #[cfg(feature = "alloc")]
    Shared(alloc::sync::Arc<Channel<T, M>>),
}

/// A copy of a watch channel's value, as [`Receiver::borrow`] and
/// [`Sender::borrow`] return it: it derefs to the value, and says whether
/// the value was new to the receiver when it was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref<T> {
    value: T,
    has_changed: bool,
}

impl<T> Ref<T> {
    /// Whether the receiver had not seen this value when it was taken
    /// (always `false` from the sender).
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }

    /// The value itself.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> core::ops::Deref for Ref<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// The sending half.
pub struct Sender<'a, T, M: RawMutex = DefaultRawMutex> {
    handle: Handle<'a, T, M>,
}

/// A receiving half; clone it for more receivers.
pub struct Receiver<'a, T, M: RawMutex = DefaultRawMutex> {
    handle: Handle<'a, T, M>,
    /// The version this receiver has seen.
    seen: u64,
}

// === impl Channel ===

impl<T> Channel<T, DefaultRawMutex> {
    /// A channel holding `value`, not in use, on the default lock. Usable
    /// in a `static`.
    #[cfg(not(loom))]
    pub const fn new(value: T) -> Self {
        Channel::with_raw_mutex(value)
    }

    /// A channel holding `value` (not `const` under loom).
    #[cfg(loom)]
    pub fn new(value: T) -> Self {
        Channel::with_raw_mutex(value)
    }
}

impl<T, M: RawMutex> Channel<T, M> {
    /// A channel holding `value`, not in use, on the lock `M`.
    #[cfg(not(loom))]
    pub const fn with_raw_mutex(value: T) -> Self {
        Channel {
            state: Mutex::new(State::new(value, false)),
            changed: Notify::with_raw_mutex(),
            rx_gone: Notify::with_raw_mutex(),
        }
    }

    /// A channel holding `value` on the lock `M` (not `const` under loom).
    #[cfg(loom)]
    pub fn with_raw_mutex(value: T) -> Self {
        Channel {
            state: Mutex::new(State::new(value, false)),
            changed: Notify::with_raw_mutex(),
            rx_gone: Notify::with_raw_mutex(),
        }
    }

    /// The two halves, if the channel is not in use: `None` while halves of
    /// an earlier split are alive. The value stays what it was.
    pub fn split(&self) -> Option<(Sender<'_, T, M>, Receiver<'_, T, M>)> {
        let seen = self.state.lock(|s| {
            if s.claimed {
                return None;
            }
            s.claimed = true;
            s.sender = true;
            s.receivers = 1;
            Some(s.version)
        })?;
        Some((
            Sender {
                handle: Handle::Borrowed(self),
            },
            Receiver {
                handle: Handle::Borrowed(self),
                seen,
            },
        ))
    }
}

impl<T> State<T> {
    const fn new(value: T, claimed: bool) -> State<T> {
        State {
            value,
            version: 0,
            sender: claimed,
            receivers: if claimed { 1 } else { 0 },
            claimed,
        }
    }

    fn release_if_unused(&mut self) {
        if !self.sender && self.receivers == 0 {
            self.claimed = false;
        }
    }
}

impl<T, M> fmt::Debug for Channel<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel").finish_non_exhaustive()
    }
}

/// A watch channel holding `value`, kept in an `Arc`.
#[cfg(feature = "alloc")]
pub fn channel<T>(value: T) -> (Sender<'static, T>, Receiver<'static, T>) {
    let channel = alloc::sync::Arc::new(Channel {
        state: Mutex::new(State::new(value, true)),
        changed: Notify::new(),
        rx_gone: Notify::new(),
    });
    (
        Sender {
            handle: Handle::Shared(channel.clone()),
        },
        Receiver {
            handle: Handle::Shared(channel),
            seen: 0,
        },
    )
}

impl<T, M> core::ops::Deref for Handle<'_, T, M> {
    type Target = Channel<T, M>;

    fn deref(&self) -> &Channel<T, M> {
        match self {
            Handle::Borrowed(channel) => channel,
            #[cfg(feature = "alloc")]
            Handle::Shared(channel) => channel,
        }
    }
}

impl<T, M> Handle<'_, T, M> {
    fn duplicate(&self) -> Self {
        match self {
            Handle::Borrowed(channel) => Handle::Borrowed(channel),
            #[cfg(feature = "alloc")]
            Handle::Shared(channel) => Handle::Shared(channel.clone()),
        }
    }
}

// === impl Sender ===

impl<'a, T, M: RawMutex> Sender<'a, T, M> {
    /// Publishes `value` and wakes every receiver waiting in `changed()`.
    ///
    /// # Errors
    ///
    /// The value comes back if every receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let old = self.handle.state.lock(|s| {
            if s.receivers == 0 {
                return Err(value);
            }
            s.version += 1;
            Ok(core::mem::replace(&mut s.value, value))
        });
        match old {
            Err(value) => Err(SendError(value)),
            Ok(old) => {
                // Outside the lock: a value's `Drop` may do anything.
                drop(old);
                self.handle.changed.notify_waiters();
                Ok(())
            }
        }
    }

    /// Publishes `value` whether or not anyone watches; returns the old one.
    pub fn send_replace(&self, value: T) -> T {
        let old = self.handle.state.lock(|s| {
            s.version += 1;
            core::mem::replace(&mut s.value, value)
        });
        self.handle.changed.notify_waiters();
        old
    }

    /// Changes the value in place with `modify` (under the lock: keep it
    /// short) and wakes the receivers.
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.handle.state.lock(|s| {
            modify(&mut s.value);
            s.version += 1;
        });
        self.handle.changed.notify_waiters();
    }

    /// Changes the value in place with `modify` (under the lock: keep it
    /// short), which says whether it changed anything: only then do the
    /// receivers hear of it. Returns what `modify` said.
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        let modified = self.handle.state.lock(|s| {
            let modified = modify(&mut s.value);
            if modified {
                s.version += 1;
            }
            modified
        });
        if modified {
            self.handle.changed.notify_waiters();
        }
        modified
    }

    /// Runs `f` on the current value.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.handle.state.lock(|s| f(&s.value))
    }

    /// A copy of the current value (see the [module docs](self) for why a
    /// copy, not a guard).
    pub fn borrow(&self) -> Ref<T>
    where
        T: Clone,
    {
        Ref {
            value: self.with(T::clone),
            has_changed: false,
        }
    }

    /// A new receiver, which has seen the current value.
    pub fn subscribe(&self) -> Receiver<'a, T, M> {
        let seen = self.handle.state.lock(|s| {
            s.receivers += 1;
            s.version
        });
        Receiver {
            handle: self.handle.duplicate(),
            seen,
        }
    }

    /// How many receivers there are.
    pub fn receiver_count(&self) -> usize {
        self.handle.state.lock(|s| s.receivers)
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Waits until every receiver is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    pub async fn closed(&self) {
        loop {
            let notified = self.handle.rx_gone.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

impl<T, M: RawMutex> Drop for Sender<'_, T, M> {
    fn drop(&mut self) {
        self.handle.state.lock(|s| {
            s.sender = false;
            s.release_if_unused();
        });
        // Receivers waiting for a change learn there will be none.
        self.handle.changed.notify_waiters();
    }
}

impl<T, M: RawMutex> fmt::Debug for Sender<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

// === impl Receiver ===

impl<T, M: RawMutex> Receiver<'_, T, M> {
    /// Runs `f` on the current value (without marking it seen).
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.handle.state.lock(|s| f(&s.value))
    }

    /// Runs `f` on the current value and marks it seen.
    pub fn with_and_update<R>(&mut self, f: impl FnOnce(&T) -> R) -> R {
        let seen = &mut self.seen;
        self.handle.state.lock(|s| {
            *seen = s.version;
            f(&s.value)
        })
    }

    /// A copy of the current value (without marking it seen).
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.with(T::clone)
    }

    /// A copy of the current value, without marking it seen, that says
    /// whether it is new to this receiver (see the [module docs](self) for
    /// why a copy, not a guard).
    pub fn borrow(&self) -> Ref<T>
    where
        T: Clone,
    {
        let seen = self.seen;
        self.handle.state.lock(|s| Ref {
            value: s.value.clone(),
            has_changed: s.version != seen,
        })
    }

    /// As [`borrow`](Self::borrow), and marks the value seen.
    pub fn borrow_and_update(&mut self) -> Ref<T>
    where
        T: Clone,
    {
        let seen = &mut self.seen;
        self.handle.state.lock(|s| {
            let has_changed = s.version != *seen;
            *seen = s.version;
            Ref {
                value: s.value.clone(),
                has_changed,
            }
        })
    }

    /// Whether a value was sent since this receiver last marked one seen.
    ///
    /// # Errors
    ///
    /// [`RecvError`] if the sender is gone.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        self.handle.state.lock(|s| {
            if s.version != self.seen {
                Ok(true)
            } else if !s.sender {
                Err(RecvError(()))
            } else {
                Ok(false)
            }
        })
    }

    /// Waits until a value is sent that this receiver has not seen, and
    /// marks it seen. Completes at once if one was sent already.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the sender is gone (after any unseen change has
    /// been reported).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is marked seen unless it returns.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        let coop = crate::task::coop::proceed().await;
        loop {
            let notified = self.handle.changed.notified();
            let seen = &mut self.seen;
            let news = self.handle.state.lock(|s| {
                if s.version != *seen {
                    *seen = s.version;
                    Some(Ok(()))
                } else if !s.sender {
                    Some(Err(RecvError(())))
                } else {
                    None
                }
            });
            if let Some(news) = news {
                coop.made_progress();
                return news;
            }
            notified.await;
        }
    }

    /// Waits until the value satisfies `f` (the current one first, then
    /// each new one; `f` runs under the lock: keep it short), marks it seen
    /// and returns a copy of it.
    ///
    /// # Errors
    ///
    /// [`RecvError`] if the sender goes before a value satisfies `f`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe; the values `f` turned down stay marked seen.
    pub async fn wait_for(&mut self, mut f: impl FnMut(&T) -> bool) -> Result<T, RecvError>
    where
        T: Clone,
    {
        let coop = crate::task::coop::proceed().await;
        loop {
            let notified = self.handle.changed.notified();
            let seen = &mut self.seen;
            let found = self.handle.state.lock(|s| {
                *seen = s.version;
                if f(&s.value) {
                    Some(Ok(s.value.clone()))
                } else if !s.sender {
                    Some(Err(RecvError(())))
                } else {
                    None
                }
            });
            if let Some(found) = found {
                coop.made_progress();
                return found;
            }
            notified.await;
        }
    }

    /// Marks the current value seen.
    pub fn mark_unchanged(&mut self) {
        let seen = &mut self.seen;
        self.handle.state.lock(|s| *seen = s.version);
    }
}

impl<T, M: RawMutex> Clone for Receiver<'_, T, M> {
    fn clone(&self) -> Self {
        self.handle.state.lock(|s| s.receivers += 1);
        Receiver {
            handle: self.handle.duplicate(),
            seen: self.seen,
        }
    }
}

impl<T, M: RawMutex> Drop for Receiver<'_, T, M> {
    fn drop(&mut self) {
        let last = self.handle.state.lock(|s| {
            s.receivers -= 1;
            s.release_if_unused();
            s.receivers == 0
        });
        if last {
            self.handle.rx_gone.notify_waiters();
        }
    }
}

impl<T, M: RawMutex> fmt::Debug for Receiver<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

// === impl errors ===

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the sender is gone")
    }
}

impl core::error::Error for RecvError {}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("every receiver is gone")
    }
}

impl<T> core::error::Error for SendError<T> {}
