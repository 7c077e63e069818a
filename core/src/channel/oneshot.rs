//! A one-shot channel: one value, once, from a [`Sender`] to a
//! [`Receiver`].
//!
//! The receiver is a future of `Result<T, RecvError>`: the value, or an
//! error once the sender is gone without sending. [`Sender::send`] consumes
//! the sender and gives the value back if the receiver is gone. The sender
//! can wait for the receiver to go ([`Sender::closed`]), to stop work no one
//! waits for.
//!
//! Lock-free: one atomic state word and two wakers; nothing allocates
//! unless the channel itself is made with [`channel`] (under `alloc`).
//!
//! # Examples
//!
//! With no heap, a channel in a `static`, used again once both halves are
//! gone:
//!
//! ```
//! use pollen_core::channel::oneshot;
//! # use core::future::Future;
//! # let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
//!
//! static ANSWER: oneshot::Channel<u32> = oneshot::Channel::new();
//!
//! let (tx, rx) = ANSWER.split().expect("not in use");
//! assert!(ANSWER.split().is_none(), "in use until both halves are gone");
//! tx.send(42).unwrap();
//! let mut rx = core::pin::pin!(rx);
//! assert_eq!(rx.as_mut().poll(&mut cx), core::task::Poll::Ready(Ok(42)));
//! ```
//!
//! With `alloc`, as in other runtimes:
//!
//! ```
//! use pollen_core::channel::oneshot;
//! use pollen_core::executor::Executor;
//!
//! static EXECUTOR: Executor = Executor::new();
//!
//! let (tx, rx) = oneshot::channel();
//! drop(EXECUTOR.spawn(async move { tx.send(42).unwrap() }));
//! let got = EXECUTOR.spawn(async move { rx.await });
//! EXECUTOR.run_until_stalled();
//! # let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
//! # use core::future::Future;
//! # let mut got = core::pin::pin!(got);
//! # assert!(matches!(got.as_mut().poll(&mut cx), core::task::Poll::Ready(Ok(Ok(42)))));
//! ```

use core::fmt;
use core::future::Future;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ops::Deref;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{AtomicWaker, UnsafeCell};

/// A split handed out halves that are not both gone yet.
const CLAIMED: usize = 1 << 0;
/// The slot holds a value sent and not received.
const VALUE: usize = 1 << 1;
/// The sender sent or is gone: no value will come after this.
const TX_DONE: usize = 1 << 2;
/// The receiver is gone.
const RX_DONE: usize = 1 << 3;
/// The receiver has put its waker in `rx_task`: the sender's last step
/// (a send or its drop) must wake it. Without it the sender touches no
/// waker.
const RX_WAITING: usize = 1 << 4;
/// The sender has put a waker in `tx_waker` (in `closed()`).
const TX_WAITING: usize = 1 << 5;
/// The sender's last step saw `RX_WAITING` and is waking the receiver
/// through `rx_task`: set with `TX_DONE`, cleared once it is done with the
/// cell. While it is set, whoever goes last leaves the release to it.
const TX_WAKING: usize = 1 << 6;

/// The storage of a one-shot channel, usable in a `static`:
/// [`split`](Channel::split) it into its two halves.
pub struct Channel<T> {
    state: AtomicUsize,
    /// # Safety
    ///
    /// Written by the sender while neither `VALUE` nor `TX_DONE` is set;
    /// after it sets `VALUE`, read once by the receiver (its `done` flag
    /// keeps it from reading again, and it clears `VALUE` if it hands the
    /// release to the sender), or dropped by the half that goes last.
    value: UnsafeCell<MaybeUninit<T>>,
    /// The receiver's task, woken when a value comes or the sender goes.
    ///
    /// # Safety
    ///
    /// While `RX_WAITING` is clear, only the receiver touches it. While it
    /// is set, the receiver may only read it, and the sender reads it once,
    /// in its last step (under `TX_WAKING`); to write it again the receiver
    /// clears `RX_WAITING` first, and backs off if the sender has finished.
    /// `release` empties it when both halves are done.
    rx_task: UnsafeCell<Option<Waker>>,
    /// The sender's task in [`Sender::closed`], woken when the receiver goes.
    tx_waker: AtomicWaker,
}

/// The sending half: [`send`](Sender::send) once, or drop it to tell the
/// receiver nothing will come.
pub struct Sender<'a, T> {
    channel: Handle<'a, T>,
}

/// The receiving half: a future of the value, or of [`RecvError`] if the
/// sender went without sending.
///
/// # Cancel safety
///
/// Dropping the receiver loses the value (it was not received): the sender
/// sees the channel closed. Polling it again after a `Pending` loses
/// nothing.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Receiver<'a, T> {
    channel: Handle<'a, T>,
    /// The value or the error was returned.
    done: bool,
}

/// The sender went without sending a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No value yet; the sender may still send one.
    Empty,
    /// The sender went without sending (or the value was received).
    Closed,
}

/// Where the channel lives: a `&'a Channel` (a `static`) or, under
/// `alloc`, a shared `Arc`.
enum Handle<'a, T> {
    Borrowed(&'a Channel<T>),
    #[cfg(feature = "alloc")]
    Shared(alloc::sync::Arc<Channel<T>>),
}

// SAFETY: the value crosses from the sender's thread to the receiver's:
// `T: Send`. Everything else is atomic.
unsafe impl<T: Send> Send for Channel<T> {}
// SAFETY: `&Channel` lets two threads each own one half, which move the
// value from one to the other, never share it: `T: Send` is enough.
unsafe impl<T: Send> Sync for Channel<T> {}

// === impl Channel ===

impl<T> Channel<T> {
    /// A channel not in use.
    #[cfg(not(loom))]
    pub const fn new() -> Channel<T> {
        Channel {
            state: AtomicUsize::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            rx_task: UnsafeCell::new(None),
            tx_waker: AtomicWaker::new(),
        }
    }

    /// A channel not in use (not `const` under loom).
    #[cfg(loom)]
    pub fn new() -> Channel<T> {
        Channel {
            state: AtomicUsize::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            rx_task: UnsafeCell::new(None),
            tx_waker: AtomicWaker::new(),
        }
    }

    /// The two halves, if the channel is not in use: `None` while halves of
    /// an earlier split are alive. Once both are gone the channel can be
    /// split again.
    pub fn split(&self) -> Option<(Sender<'_, T>, Receiver<'_, T>)> {
        self.state
            .compare_exchange(0, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        Some((
            Sender {
                channel: Handle::Borrowed(self),
            },
            Receiver {
                channel: Handle::Borrowed(self),
                done: false,
            },
        ))
    }

    /// The last half is going (`state` is the state it saw, the other half
    /// finished): drops a value still in the slot (`VALUE`: sent and not
    /// received), empties the wakers that were set, and makes the channel
    /// free again.
    fn release(&self, state: usize) {
        if state & VALUE != 0 {
            // SAFETY: a value was sent and not received, and both halves are
            // done with the slot: it is ours to drop (AcqRel on the state).
            self.value.with_mut(|v| unsafe { (*v).assume_init_drop() });
        }
        // Stale wakers would keep their tasks alive.
        // SAFETY: both halves are done with the cell (and no `TX_WAKING`).
        drop(self.rx_task.with_mut(|t| unsafe { (*t).take() }));
        if state & TX_WAITING != 0 {
            drop(self.tx_waker.take());
        }
        self.state.store(0, Ordering::Release);
    }

    /// The sender's last step: sets `bits` (with `TX_DONE`) and, if the
    /// receiver waits, wakes it. Returns the state before. If that shows
    /// `RX_DONE`, the receiver went first and the caller is the last half
    /// (it releases); if the receiver goes while we wake it, we release.
    fn finish_sender(&self, bits: usize) -> usize {
        let mut prev = self.state.load(Ordering::Relaxed);
        let waking = loop {
            let waking = prev & RX_WAITING != 0 && prev & RX_DONE == 0;
            let next = prev | bits | if waking { TX_WAKING } else { 0 };
            match self
                .state
                .compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break waking,
                Err(actual) => prev = actual,
            }
        };
        if waking {
            self.rx_task.with(|t| {
                // SAFETY: `RX_WAITING` was set and we set `TX_DONE` and
                // `TX_WAKING`: the receiver no longer writes the cell (it
                // would clear `RX_WAITING` first and see `TX_DONE`), and
                // nobody empties it until we clear `TX_WAKING`. Acquire
                // above saw the receiver's write.
                if let Some(waker) = unsafe { &*t } {
                    waker.wake_by_ref();
                }
            });
            let after = self.state.fetch_and(!TX_WAKING, Ordering::AcqRel);
            if after & RX_DONE != 0 {
                // The receiver went while we woke it, and left the release
                // to us (it clears `VALUE` if it took the value).
                self.release(after & !TX_WAKING);
            }
        }
        prev
    }
}

impl<T> Default for Channel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        // Both halves are gone (they borrow the channel), so the last one
        // released it: no value is left in the slot.
        debug_assert_eq!(self.state.load(Ordering::Relaxed) & VALUE, 0);
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field(
                "in_use",
                &(self.state.load(Ordering::Relaxed) & CLAIMED != 0),
            )
            .finish_non_exhaustive()
    }
}

/// A one-shot channel kept in an `Arc`: its two halves.
#[cfg(feature = "alloc")]
pub fn channel<T>() -> (Sender<'static, T>, Receiver<'static, T>) {
    let channel = alloc::sync::Arc::new(Channel::new());
    channel.state.store(CLAIMED, Ordering::Relaxed);
    (
        Sender {
            channel: Handle::Shared(channel.clone()),
        },
        Receiver {
            channel: Handle::Shared(channel),
            done: false,
        },
    )
}

impl<T> Deref for Handle<'_, T> {
    type Target = Channel<T>;

    fn deref(&self) -> &Channel<T> {
        match self {
            Handle::Borrowed(channel) => channel,
            #[cfg(feature = "alloc")]
            Handle::Shared(channel) => channel,
        }
    }
}

// === impl Sender ===

impl<T> Sender<'_, T> {
    /// Sends `value`, consuming the sender.
    ///
    /// # Errors
    ///
    /// The value comes back if the receiver is gone.
    pub fn send(self, value: T) -> Result<(), T> {
        let mut this = ManuallyDrop::new(self);
        let channel = &*this.channel;
        // SAFETY: neither `VALUE` nor `TX_DONE` is set (this is the one
        // sender, and it has not sent): the slot is ours to write.
        channel.value.with_mut(|v| unsafe { (*v).write(value) });
        let prev = channel.finish_sender(VALUE | TX_DONE);
        let result = if prev & RX_DONE != 0 {
            // The receiver went first and never looked at the slot: the
            // value is ours again, and we are the last half.
            // SAFETY: written just above; the receiver is gone.
            let value = channel
                .value
                .with_mut(|v| unsafe { (*v).assume_init_read() });
            channel.release(prev & !VALUE);
            Err(value)
        } else {
            Ok(())
        };
        // SAFETY: `this` is not used again; its handle (an `Arc` under
        // `alloc`) is dropped once, here, without running `Sender::drop`.
        unsafe { core::ptr::drop_in_place(&mut this.channel) };
        result
    }

    /// Whether the receiver is gone (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.channel.state.load(Ordering::Acquire) & RX_DONE != 0
    }

    /// Waits until the receiver is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    pub async fn closed(&mut self) {
        core::future::poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// `Ready` once the receiver is gone; otherwise registers `cx`'s waker.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_closed() {
            return Poll::Ready(());
        }
        self.channel.tx_waker.register(cx.waker());
        // Waker first, then the flag: a receiver that goes after this sees
        // the flag and wakes us; one that went before shows in `prev`.
        let prev = self.channel.state.fetch_or(TX_WAITING, Ordering::AcqRel);
        if prev & RX_DONE != 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<T> Drop for Sender<'_, T> {
    fn drop(&mut self) {
        let channel = &*self.channel;
        let prev = channel.finish_sender(TX_DONE);
        if prev & RX_DONE != 0 {
            channel.release(prev);
        }
    }
}

impl<T> fmt::Debug for Sender<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

// === impl Receiver ===

impl<T> Receiver<'_, T> {
    /// The value if it has come, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if the sender may still send,
    /// [`TryRecvError::Closed`] if it went without sending or the value was
    /// already received.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if self.done {
            return Err(TryRecvError::Closed);
        }
        match self.take() {
            Some(Ok(value)) => Ok(value),
            Some(Err(RecvError(()))) => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Takes the value if there is one, or the error if the sender is gone.
    fn take(&mut self) -> Option<Result<T, RecvError>> {
        let channel = &*self.channel;
        let state = channel.state.load(Ordering::Acquire);
        if state & VALUE != 0 {
            // SAFETY: `VALUE` is set (Acquire): the sender wrote the slot
            // and is done with it; the receiver reads it once (`done` keeps
            // it from reading or dropping it again; the flag stays set).
            let value = channel
                .value
                .with_mut(|v| unsafe { (*v).assume_init_read() });
            self.done = true;
            return Some(Ok(value));
        }
        if state & TX_DONE != 0 {
            self.done = true;
            return Some(Err(RecvError(())));
        }
        None
    }
}

impl<T> Future for Receiver<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(!self.done, "oneshot::Receiver polled after it completed");
        let coop = core::task::ready!(crate::task::coop::poll_proceed(cx));
        let polled = self.as_mut().poll_inner(cx);
        if polled.is_ready() {
            coop.made_progress();
        }
        polled
    }
}

impl<T> Receiver<'_, T> {
    /// `poll`, once the budget allowed it.
    fn poll_inner(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        if let Some(done) = self.take() {
            return Poll::Ready(done);
        }
        let channel = &*self.channel;
        let state = channel.state.load(Ordering::Acquire);
        if state & RX_WAITING != 0 {
            let same = channel.rx_task.with(|t| {
                // SAFETY: with `RX_WAITING` set the receiver may read the
                // cell (the sender only reads it too).
                unsafe { &*t }
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
            });
            if same {
                return Poll::Pending;
            }
            // To write the cell, take the flag back first.
            let prev = channel.state.fetch_and(!RX_WAITING, Ordering::AcqRel);
            if prev & (VALUE | TX_DONE) != 0 {
                // The sender finished (and may be reading the cell): done.
                return Poll::Ready(self.take().expect("the sender finished"));
            }
        }
        // SAFETY: `RX_WAITING` is clear: the cell is the receiver's alone (a
        // sender finishing now sees the flag clear and does not read it).
        channel
            .rx_task
            .with_mut(|t| unsafe { *t = Some(cx.waker().clone()) });
        // Waker first, then the flag (Release publishes the waker): a send
        // after this sees the flag and wakes us; one before shows in `prev`.
        let prev = channel.state.fetch_or(RX_WAITING, Ordering::AcqRel);
        if prev & (VALUE | TX_DONE) != 0 {
            return Poll::Ready(self.take().expect("the sender finished"));
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<'_, T> {
    fn drop(&mut self) {
        let channel = &*self.channel;
        if self.done {
            // We saw the sender finished (Acquire), and the value, if any,
            // is received. We are the last half, unless the sender is still
            // waking us: then it releases, once done with the cell.
            let mut state = channel.state.load(Ordering::Acquire);
            loop {
                if state & TX_WAKING == 0 {
                    channel.release(state & !VALUE);
                    return;
                }
                let next = (state | RX_DONE) & !VALUE;
                match channel.state.compare_exchange_weak(
                    state,
                    next,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return,
                    Err(actual) => state = actual,
                }
            }
        }
        let prev = channel.state.fetch_or(RX_DONE, Ordering::AcqRel);
        if prev & TX_DONE != 0 {
            if prev & TX_WAKING == 0 {
                channel.release(prev);
            }
            // else: the sender releases (and drops the value we never got)
            // once done with the cell.
        } else if prev & TX_WAITING != 0 {
            channel.tx_waker.wake();
        }
    }
}

impl<T> fmt::Debug for Receiver<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

// === impl errors ===

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the sender went without sending a value")
    }
}

impl core::error::Error for RecvError {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "no value yet",
            TryRecvError::Closed => "the sender went without sending a value",
        })
    }
}

impl core::error::Error for TryRecvError {}
