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
//! Such a channel is one allocation with no reference count: the state
//! word already tells which half goes last, and that half frees it.
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
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ops::Deref;
use core::pin::Pin;
use core::ptr::NonNull;
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
/// The receiver's drop saw `TX_WAITING` and is waking the sender through
/// `tx_waker`: set with `RX_DONE`, cleared once it is done with the
/// channel. While it is set, a sender that goes last leaves the release to
/// it. Never set together with `TX_WAKING` (each needs the other half not
/// done).
const RX_WAKING: usize = 1 << 7;
/// The sender's last step (under `TX_WAKING`) moved the receiver's waker
/// out of `rx_task` to wake it by value: the cell's bits are stale (the
/// receiver may still compare them, nothing drops them), and the release
/// overwrites them. Set with `TX_WAKING`, kept until the release.
const RX_TASK_TAKEN: usize = 1 << 8;

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
    /// in its last step (under `TX_WAKING`), moving the waker out with that
    /// read (`RX_TASK_TAKEN`); to write it again the receiver clears
    /// `RX_WAITING` first, and backs off if the sender has finished.
    /// `release` empties it when both halves are done (overwriting the
    /// moved-out bits without dropping them).
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

/// Where the channel lives, as each half sees it: borrowed (`&'a
/// Channel`, a `static`) or, under `alloc`, a `Box` of its own that the
/// last half frees ([`channel`]).
///
/// # Safety
///
/// `ptr` stays valid while the half that holds this handle has not
/// released the channel: the state word lets exactly one half release it,
/// after the other is done with it (see [`Handle::release`]).
struct Handle<'a, T> {
    ptr: NonNull<Channel<T>>,
    /// Made by [`channel`]: the release frees the `Box`.
    #[cfg(feature = "alloc")]
    owned: bool,
    _borrow: PhantomData<&'a Channel<T>>,
}

// SAFETY: the value crosses from the sender's thread to the receiver's:
// `T: Send`. Everything else is atomic.
unsafe impl<T: Send> Send for Channel<T> {}
// SAFETY: `&Channel` lets two threads each own one half, which move the
// value from one to the other, never share it: `T: Send` is enough.
unsafe impl<T: Send> Sync for Channel<T> {}
// SAFETY: a half is a `&Channel` in effect (a borrowed one, or one that
// the halves share and the last frees), and `&Channel` is `Send` when `T`
// is (above). Freeing it drops a value of `T`, which `T: Send` allows on
// any thread.
unsafe impl<T: Send> Send for Handle<'_, T> {}
// SAFETY: `&Handle` only reaches `&Channel`, which is `Sync` for `T: Send`.
unsafe impl<T: Send> Sync for Handle<'_, T> {}

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
                channel: Handle::borrowed(self),
            },
            Receiver {
                channel: Handle::borrowed(self),
                done: false,
            },
        ))
    }

    /// The last half is going (`state` is the state it saw, the other half
    /// finished): drops a value still in the slot (`VALUE`: sent and not
    /// received), empties the wakers that were set, and marks the channel
    /// free again.
    fn clear(&self, state: usize) {
        if state & VALUE != 0 {
            // SAFETY: a value was sent and not received, and both halves are
            // done with the slot: it is ours to drop (AcqRel on the state).
            self.value.with_mut(|v| unsafe { (*v).assume_init_drop() });
        }
        // Stale wakers would keep their tasks alive.
        let old = self.rx_task.with_mut(|t| {
            if state & RX_TASK_TAKEN != 0 {
                // SAFETY: both halves are done with the cell (and no
                // `TX_WAKING`); the sender moved the waker out, so its bits
                // are overwritten, not dropped.
                unsafe { t.write(None) };
                None
            } else {
                // SAFETY: both halves are done with the cell.
                unsafe { (*t).take() }
            }
        });
        drop(old);
        if state & TX_WAITING != 0 {
            drop(self.tx_waker.take());
        }
        self.state.store(0, Ordering::Release);
    }

    /// The sender's last step: sets `TX_DONE` (and `VALUE` if `send`) and,
    /// if the receiver waits, takes its waker out. Says what is left to do,
    /// and returns the waker: the caller wakes it (by value) once it is
    /// done with the channel.
    ///
    /// When sending to a receiver that is gone it changes nothing and
    /// returns [`SenderDone::ReceiverGone`]: the value is the sender's
    /// again, and the channel stays alive (no `TX_DONE`) while it takes it
    /// back; it then finishes as a drop.
    fn finish_sender(&self, send: bool) -> (SenderDone, Option<Waker>) {
        let mut prev = self.state.load(Ordering::Relaxed);
        let waking = loop {
            if prev & RX_DONE != 0 && send {
                return (SenderDone::ReceiverGone, None);
            }
            let waking = prev & RX_WAITING != 0 && prev & RX_DONE == 0;
            let mut next = prev | TX_DONE;
            if send {
                next |= VALUE;
            }
            if waking {
                next |= TX_WAKING | RX_TASK_TAKEN;
            }
            match self
                .state
                .compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break waking,
                Err(actual) => prev = actual,
            }
        };
        if waking {
            let waker = self.rx_task.with(|t| {
                // SAFETY: `RX_WAITING` was set and we set `TX_DONE` and
                // `TX_WAKING`: the receiver no longer writes the cell (it
                // would clear `RX_WAITING` first and see `TX_DONE`), and
                // nobody empties or frees it until we clear `TX_WAKING`.
                // Acquire above saw the receiver's write. The receiver may
                // still read the bits (to compare wakers), never drop them:
                // `RX_TASK_TAKEN` makes the waker ours, and this read moves
                // it out without writing the cell.
                unsafe { t.read() }
            });
            // `TX_WAKING` is set (by us): subtracting clears it, in one
            // instruction where `fetch_and` would be a loop.
            let after = self.state.fetch_sub(TX_WAKING, Ordering::AcqRel) - TX_WAKING;
            if after & RX_DONE != 0 {
                // The receiver went meanwhile, and left the release to us
                // (it clears `VALUE` if it took the value).
                return (SenderDone::Release(after), waker);
            }
            return (SenderDone::Done, waker);
        }
        let done = if prev & RX_DONE != 0 && prev & RX_WAKING == 0 {
            // The receiver went first and is done: we are the last half.
            SenderDone::Release(prev | TX_DONE)
        } else {
            // The receiver is there (or still waking us: then it releases).
            SenderDone::Done
        };
        (done, None)
    }
}

/// What [`Channel::finish_sender`] leaves to the sender.
#[must_use]
enum SenderDone {
    /// Nothing: the receiver will release the channel.
    Done,
    /// We are the last half: release with this state.
    Release(usize),
    /// Sending, and the receiver is gone: nothing changed.
    ReceiverGone,
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

/// A one-shot channel on the heap: its two halves. One allocation, freed
/// by the half that goes last.
#[cfg(feature = "alloc")]
pub fn channel<T>() -> (Sender<'static, T>, Receiver<'static, T>) {
    let channel = alloc::boxed::Box::new(Channel::new());
    channel.state.store(CLAIMED, Ordering::Relaxed);
    let ptr = NonNull::from(alloc::boxed::Box::leak(channel));
    let handle = || Handle {
        ptr,
        owned: true,
        _borrow: PhantomData,
    };
    (
        Sender { channel: handle() },
        Receiver {
            channel: handle(),
            done: false,
        },
    )
}

// === impl Handle ===

impl<'a, T> Handle<'a, T> {
    fn borrowed(channel: &'a Channel<T>) -> Handle<'a, T> {
        Handle {
            ptr: NonNull::from(channel),
            #[cfg(feature = "alloc")]
            owned: false,
            _borrow: PhantomData,
        }
    }

    /// The last half goes: clears the channel (see [`Channel::clear`]) and
    /// frees it if it is on the heap, or makes it free for the next split.
    ///
    /// # Safety
    ///
    /// The state word made the caller the last half (the other is done
    /// with the channel for good); the handle is not used again.
    unsafe fn release(&self, state: usize) {
        // SAFETY: the channel is alive until this release; the reference
        // ends before the `Box` is freed.
        unsafe { self.ptr.as_ref() }.clear(state);
        #[cfg(feature = "alloc")]
        if self.owned {
            // SAFETY: made by `Box::leak` in `channel`, and we are the last
            // half: nothing refers to it any more.
            drop(unsafe { alloc::boxed::Box::from_raw(self.ptr.as_ptr()) });
        }
    }
}

impl<T> Deref for Handle<'_, T> {
    type Target = Channel<T>;

    #[inline]
    fn deref(&self) -> &Channel<T> {
        // SAFETY: the half holding the handle has not released the channel
        // (a release is the half's last use of it), so it is alive.
        unsafe { self.ptr.as_ref() }
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
        // The handle needs no drop: `Sender::drop` is what must not run.
        let this = ManuallyDrop::new(self);
        let channel = &*this.channel;
        // SAFETY: neither `VALUE` nor `TX_DONE` is set (this is the one
        // sender, and it has not sent): the slot is ours to write.
        channel.value.with_mut(|v| unsafe { (*v).write(value) });
        let (done, waker) = channel.finish_sender(true);
        match done {
            SenderDone::Done => {}
            // SAFETY: `finish_sender` made us the last half; `this` is not
            // used again.
            SenderDone::Release(state) => unsafe { this.channel.release(state) },
            SenderDone::ReceiverGone => {
                // The receiver went first and never looked at the slot:
                // the value is ours again. Without `TX_DONE` from us the
                // channel stays alive until we finish below.
                // SAFETY: written just above; the receiver is gone.
                let value = channel
                    .value
                    .with_mut(|v| unsafe { (*v).assume_init_read() });
                this.finish_as_drop();
                return Err(value);
            }
        }
        // Last, with the channel left behind: a waker may panic.
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// The sender goes without (or after failing to) send: sets `TX_DONE`,
    /// and releases the channel if it is the last half.
    fn finish_as_drop(&self) {
        let (done, waker) = self.channel.finish_sender(false);
        match done {
            SenderDone::Done => {}
            // SAFETY: `finish_sender` made us the last half; this is the
            // sender's last use of the handle.
            SenderDone::Release(state) => unsafe { self.channel.release(state) },
            SenderDone::ReceiverGone => unreachable!("only a send reports the receiver gone"),
        }
        if let Some(waker) = waker {
            waker.wake();
        }
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
        self.finish_as_drop();
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
            // To write the cell, take the flag back first (only we set and
            // clear it, so it is set: a subtraction clears it, in one
            // instruction where `fetch_and` would be a loop).
            let prev = channel.state.fetch_sub(RX_WAITING, Ordering::AcqRel);
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
        // The flag is clear (only we set it), so adding sets it.
        let prev = channel.state.fetch_add(RX_WAITING, Ordering::AcqRel);
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
                    // SAFETY: the sender is done with the channel for good
                    // (`TX_DONE` without `TX_WAKING`): we are the last half.
                    unsafe { self.channel.release(state & !VALUE) };
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
        let mut state = channel.state.load(Ordering::Relaxed);
        let prev = loop {
            // A sender waiting in `closed` must be woken, and may finish
            // meanwhile: `RX_WAKING` keeps the channel alive until we are
            // done with its waker.
            let waking = state & (TX_DONE | TX_WAITING) == TX_WAITING;
            let next = state | RX_DONE | if waking { RX_WAKING } else { 0 };
            match channel.state.compare_exchange_weak(
                state,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break state,
                Err(actual) => state = actual,
            }
        };
        if prev & TX_DONE != 0 {
            if prev & TX_WAKING == 0 {
                // SAFETY: the sender is done with the channel for good: we
                // are the last half.
                unsafe { self.channel.release(prev | RX_DONE) };
            }
            // else: the sender releases (and drops the value we never got)
            // once done with the cell.
        } else if prev & TX_WAITING != 0 {
            channel.tx_waker.wake();
            // `RX_WAKING` is set (by us): subtracting clears it.
            let after = channel.state.fetch_sub(RX_WAKING, Ordering::AcqRel) - RX_WAKING;
            if after & TX_DONE != 0 {
                // The sender went while we woke it, and left the release to
                // us.
                // SAFETY: the sender set `TX_DONE` while `RX_WAKING` was
                // set, so it left the channel to us: we are the last half.
                unsafe { self.channel.release(after) };
            }
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
