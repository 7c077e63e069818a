//! A bounded multi-producer, single-consumer channel, with backpressure.
//!
//! [`Sender::send`] waits while the channel is full, so a fast producer
//! slows to the consumer's pace instead of filling memory; senders waiting
//! for room are served in FIFO order. [`Receiver::recv`] returns `None` once
//! every sender is gone and the buffer is drained. `Receiver` is a
//! [`Stream`](futures_core::Stream).
//!
//! Two forms, the same halves: [`Channel<T, N>`] holds its `N` slots inline
//! and lives in a `static` (no heap; [`split`](Channel::split) it), and
//! under `alloc` [`channel`] keeps the slots in an `Arc` with a capacity
//! chosen at run time.
//!
//! Under the hood the free slots are the permits of a FIFO semaphore: a
//! [`Permit`] is a reserved slot. `M` is the lock ([`RawMutex`]).
//!
//! Under `alloc` there is also [`unbounded_channel`], whose sends never
//! wait: the exception, for senders that must not (see its docs).
//!
//! # Examples
//!
//! ```
//! use pollen_core::channel::mpsc;
//! use pollen_core::executor::Executor;
//!
//! static EXECUTOR: Executor = Executor::new();
//! static QUEUE: mpsc::Channel<u32, 2> = mpsc::Channel::new();
//!
//! let (tx, mut rx) = QUEUE.split().expect("not in use");
//! for worker in 0..3 {
//!     let tx = tx.clone();
//!     drop(EXECUTOR.spawn(async move {
//!         for i in 0..10 {
//!             tx.send(worker * 100 + i).await.unwrap(); // waits while full
//!         }
//!     }));
//! }
//! drop(tx);
//! let total = EXECUTOR.spawn(async move {
//!     let mut n = 0;
//!     while let Some(_) = rx.recv().await {
//!         n += 1;
//!     }
//!     n
//! });
//! EXECUTOR.run_until_stalled();
//! # use core::future::Future;
//! # let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
//! # let mut total = core::pin::pin!(total);
//! assert!(matches!(total.as_mut().poll(&mut cx), core::task::Poll::Ready(Ok(30))));
//! ```

mod receiver;
#[cfg(feature = "alloc")]
mod unbounded;

#[cfg(feature = "alloc")]
pub use self::unbounded::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use core::fmt;
use core::future::Future;
use core::mem::MaybeUninit;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use crate::loom::UnsafeCell;
use crate::sync::{
    DefaultRawMutex, Notify, OnRelease, RawAcquire, RawMutex, RawSemaphore, SemaphoreShared,
    TryAcquireError, WakeList,
};

/// One slot of the ring.
///
/// # Safety
///
/// Touched only under the channel's lock: written by a permit's `send` at
/// the ring's tail, read by the receiver at its head.
type Slot<T> = UnsafeCell<MaybeUninit<T>>;

/// The shared part of both forms.
struct Chan<M> {
    /// Permits are the free slots; the ring's state rides under its lock.
    sem: RawSemaphore<M, Ring>,
    /// Told when the receiver goes, for [`Sender::closed`].
    rx_gone: Notify<M>,
}

/// The ring and the halves' bookkeeping, under the semaphore's lock.
struct Ring {
    head: usize,
    len: usize,
    cap: usize,
    /// Live `Sender`s.
    senders: usize,
    /// Whether the receiver is alive.
    receiver: bool,
    /// Whether halves of a split are alive (a static channel is reused
    /// once they are all gone).
    claimed: bool,
    /// The receiver's task, when it waits.
    rx_waker: Option<Waker>,
}

/// A bounded channel with `N` slots inline, usable in a `static`.
pub struct Channel<T, const N: usize, M = DefaultRawMutex> {
    chan: Chan<M>,
    slots: [Slot<T>; N],
}

/// Where a half finds its channel.
enum Handle<'a, T, M> {
    Inline(&'a Chan<M>, &'a [Slot<T>]),
    #[cfg(feature = "alloc")]
    Heap(alloc::sync::Arc<HeapChannel<T, M>>),
}

#[cfg(feature = "alloc")]
struct HeapChannel<T, M> {
    chan: Chan<M>,
    slots: alloc::boxed::Box<[Slot<T>]>,
}

/// The sending half; clone it for more producers.
pub struct Sender<'a, T, M: RawMutex = DefaultRawMutex> {
    handle: Handle<'a, T, M>,
}

/// The receiving half.
pub struct Receiver<'a, T, M: RawMutex = DefaultRawMutex> {
    handle: Handle<'a, T, M>,
}

/// A reserved slot: [`send`](Permit::send) fills it without waiting;
/// dropping it gives the slot back.
#[must_use = "dropping a permit gives the slot back at once"]
pub struct Permit<'a, T, M: RawMutex = DefaultRawMutex> {
    handle: &'a Handle<'a, T, M>,
}

/// The future of [`Sender::reserve`].
///
/// # Cancel safety
///
/// Dropping it loses nothing: its place in the queue is given up, and a
/// slot granted to it goes to the next sender.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Reserve<'a, T, M: RawMutex = DefaultRawMutex> {
    handle: &'a Handle<'a, T, M>,
    acquire: RawAcquire<'a, M, Ring>,
}

/// The receiver is gone (or closed the channel); the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`] did not send; the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// No free slot now.
    Full(T),
    /// The receiver is gone (or closed the channel).
    Closed(T),
}

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing buffered; senders may still send.
    Empty,
    /// Nothing buffered, and nothing ever will be: every sender is gone.
    Disconnected,
}

// SAFETY: values move from senders to the receiver, never shared: `T: Send`.
// The ring and slots are only touched under the lock, which must be `Sync`
// for the channel to be shared.
unsafe impl<T: Send, const N: usize, M: RawMutex + Sync> Sync for Channel<T, N, M> {}
// SAFETY: as above.
unsafe impl<T: Send, const N: usize, M: RawMutex + Send> Send for Channel<T, N, M> {}
// SAFETY: as above.
#[cfg(feature = "alloc")]
unsafe impl<T: Send, M: RawMutex + Sync> Sync for HeapChannel<T, M> {}
// SAFETY: as above.
#[cfg(feature = "alloc")]
unsafe impl<T: Send, M: RawMutex + Send> Send for HeapChannel<T, M> {}

// SAFETY: a handle reaches the slots only under the channel's lock (which
// must be `Sync`), and the values in them move between threads: `T: Send`.
// (`M: Send` too: the last `Arc` of a heap channel may drop the lock on
// another thread.)
unsafe impl<T: Send, M: RawMutex + Send + Sync> Send for Handle<'_, T, M> {}
// SAFETY: as above.
unsafe impl<T: Send, M: RawMutex + Sync> Sync for Handle<'_, T, M> {}

// === impl Chan ===

impl<M: RawMutex> Chan<M> {
    #[cfg(not(loom))]
    const fn new(cap: usize, claimed: bool) -> Chan<M> {
        Chan {
            sem: RawSemaphore::new(cap, Ring::new(cap, claimed)),
            rx_gone: Notify::with_raw_mutex(),
        }
    }

    #[cfg(loom)]
    fn new(cap: usize, claimed: bool) -> Chan<M> {
        Chan {
            sem: RawSemaphore::new(cap, Ring::new(cap, claimed)),
            rx_gone: Notify::with_raw_mutex(),
        }
    }
}

impl Ring {
    const fn new(cap: usize, claimed: bool) -> Ring {
        Ring {
            head: 0,
            len: 0,
            cap,
            senders: if claimed { 1 } else { 0 },
            receiver: claimed,
            claimed,
            rx_waker: None,
        }
    }

    /// Permits granted and not used or given back yet.
    fn reserved(&self, free: usize) -> usize {
        self.cap - free - self.len
    }

    /// Once the ring is empty, starts it again at the first slot: the
    /// next values go to slots just used (still in cache, on both the
    /// sender's and the receiver's core), instead of marching through the
    /// whole buffer. With a large capacity and a receiver that keeps up,
    /// that is a few warm cache lines per channel instead of the whole
    /// ring, each line a miss once per lap.
    ///
    /// Only with no value claimed outside the lock (see `take_into`): the
    /// slots are then all free, whatever their position.
    fn rewind_if_empty(&mut self) {
        if self.len == 0 {
            self.head = 0;
        }
    }
}

impl OnRelease for Ring {
    /// A slot reserved and given back unused (a dropped `Permit`, a
    /// cancelled `Reserve`): after `close`, the last one ends the
    /// receiver's wait.
    fn on_release(&mut self, permits: usize, closed: bool) -> Option<Waker> {
        if closed && self.reserved(permits) == 0 {
            self.rx_waker.take()
        } else {
            None
        }
    }
}

/// Writes `value` at the ring's tail (the caller holds a permit: there is
/// room) and takes the receiver's waker. If the receiver is gone (it went
/// after the permit was granted), the value comes back instead: nobody
/// would ever take it out.
///
/// # Safety
///
/// Called under the lock, with a permit the caller gives up to the value.
unsafe fn push<T>(
    s: &mut SemaphoreShared<Ring>,
    slots: &[Slot<T>],
    value: T,
    wake: &mut WakeList,
) -> Result<(), T> {
    let ring = &mut s.extra;
    if !ring.receiver {
        return Err(value);
    }
    debug_assert!(ring.len < ring.cap);
    // `head < cap` and `len < cap`: one subtraction wraps it (no division).
    let tail = wrap(ring.head + ring.len, ring.cap);
    // SAFETY: the slot at the tail is empty (the permit reserved it), and
    // the lock makes us its only user.
    slots[tail].with_mut(|slot| unsafe { (*slot).write(value) });
    ring.len += 1;
    wake.push(ring.rx_waker.take());
    Ok(())
}

/// `index % cap` for an `index < 2 * cap`.
#[inline]
fn wrap(index: usize, cap: usize) -> usize {
    debug_assert!(index < 2 * cap);
    if index >= cap { index - cap } else { index }
}

// === impl Channel ===

impl<T, const N: usize> Channel<T, N, DefaultRawMutex> {
    /// A channel with `N` slots, not in use, on the default lock. Usable in
    /// a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Channel::with_raw_mutex()
    }

    /// A channel with `N` slots, not in use (not `const` under loom).
    #[cfg(loom)]
    pub fn new() -> Self {
        Channel::with_raw_mutex()
    }
}

impl<T, const N: usize, M: RawMutex> Channel<T, N, M> {
    /// A channel with `N` slots, not in use, on the lock `M`.
    ///
    /// # Panics
    ///
    /// If `N` is zero (at compile time in a `static`).
    #[cfg(not(loom))]
    pub const fn with_raw_mutex() -> Self {
        assert!(N > 0, "pollen: a bounded channel needs at least one slot");
        Channel {
            chan: Chan::new(N, false),
            slots: [const { UnsafeCell::new(MaybeUninit::uninit()) }; N],
        }
    }

    /// A channel with `N` slots on the lock `M` (not `const` under loom).
    #[cfg(loom)]
    pub fn with_raw_mutex() -> Self {
        assert!(N > 0, "pollen: a bounded channel needs at least one slot");
        Channel {
            chan: Chan::new(N, false),
            slots: core::array::from_fn(|_| UnsafeCell::new(MaybeUninit::uninit())),
        }
    }

    /// The two halves, if the channel is not in use: `None` while halves of
    /// an earlier split are alive. Once all are gone (values left in it are
    /// dropped with the receiver) it can be split again.
    pub fn split(&self) -> Option<(Sender<'_, T, M>, Receiver<'_, T, M>)> {
        let claimed = self.chan.sem.with(|s, _| {
            if s.extra.claimed {
                return false;
            }
            // The last receiver emptied the ring, and refused later values.
            debug_assert_eq!(s.extra.len, 0);
            s.reopen(N);
            s.extra = Ring::new(N, true);
            true
        });
        claimed.then(|| {
            (
                Sender {
                    handle: Handle::Inline(&self.chan, &self.slots),
                },
                Receiver {
                    handle: Handle::Inline(&self.chan, &self.slots),
                },
            )
        })
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

/// A bounded channel with `capacity` slots, kept in an `Arc`.
///
/// # Panics
///
/// If `capacity` is zero.
#[cfg(feature = "alloc")]
pub fn channel<T>(capacity: usize) -> (Sender<'static, T>, Receiver<'static, T>) {
    channel_with_raw_mutex(capacity)
}

/// A bounded channel with `capacity` slots, kept in an `Arc`, on the lock `M`.
///
/// # Panics
///
/// If `capacity` is zero.
#[cfg(feature = "alloc")]
pub fn channel_with_raw_mutex<T, M: RawMutex>(
    capacity: usize,
) -> (Sender<'static, T, M>, Receiver<'static, T, M>) {
    assert!(
        capacity > 0,
        "pollen: a bounded channel needs at least one slot"
    );
    let heap = alloc::sync::Arc::new(HeapChannel {
        chan: Chan::new(capacity, true),
        slots: (0..capacity)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect(),
    });
    (
        Sender {
            handle: Handle::Heap(heap.clone()),
        },
        Receiver {
            handle: Handle::Heap(heap),
        },
    )
}

impl<T, M: RawMutex> Handle<'_, T, M> {
    fn parts(&self) -> (&Chan<M>, &[Slot<T>]) {
        match self {
            Handle::Inline(chan, slots) => (chan, slots),
            #[cfg(feature = "alloc")]
            Handle::Heap(heap) => (&heap.chan, &heap.slots),
        }
    }

    fn chan(&self) -> &Chan<M> {
        self.parts().0
    }

    fn duplicate(&self) -> Self {
        match self {
            Handle::Inline(chan, slots) => Handle::Inline(chan, slots),
            #[cfg(feature = "alloc")]
            Handle::Heap(heap) => Handle::Heap(heap.clone()),
        }
    }
}

// === impl Sender ===

impl<'a, T, M: RawMutex> Sender<'a, T, M> {
    /// Sends `value`, waiting while the channel is full.
    ///
    /// # Errors
    ///
    /// The value comes back if the receiver is gone or closed the channel.
    ///
    /// # Cancel safety
    ///
    /// If cancelled, the value was not sent, and it is dropped with the
    /// future. To keep it, [`reserve`](Self::reserve) a slot first (cancel
    /// safe), then [`Permit::send`].
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        // A free slot and nobody queued for one: `try_send`'s single lock.
        // This spends the task's budget as `reserve` would.
        let mut value = Some(value);
        let full = core::future::poll_fn(|cx| {
            let coop = core::task::ready!(crate::task::coop::poll_proceed(cx));
            let Some(v) = value.take() else {
                unreachable!("polled after it returned");
            };
            Poll::Ready(match self.try_send(v) {
                Ok(()) => {
                    coop.made_progress();
                    Ok(Ok(()))
                }
                Err(TrySendError::Closed(v)) => Ok(Err(SendError(v))),
                Err(TrySendError::Full(v)) => Err(v),
            })
        })
        .await;
        let value = match full {
            Ok(sent) => return sent,
            Err(value) => value,
        };
        match self.reserve().await {
            Ok(permit) => {
                permit.send(value);
                Ok(())
            }
            Err(SendError(())) => Err(SendError(value)),
        }
    }

    /// Sends `value` if there is a free slot now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], with the value.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let (chan, slots) = self.handle.parts();
        // The permit and the push under one lock.
        let pushed = chan.sem.try_acquire_with(1, value, |s, wake, value| {
            // SAFETY: under the lock, with the permit just taken.
            unsafe { push(s, slots, value, wake) }
        });
        match pushed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(value)) | Err((TryAcquireError::Closed, value)) => {
                Err(TrySendError::Closed(value))
            }
            Err((TryAcquireError::NoPermits, value)) => Err(TrySendError::Full(value)),
        }
    }

    /// Waits for a free slot and reserves it.
    ///
    /// # Errors
    ///
    /// `SendError(())` if the receiver is gone or closed the channel.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see [`Reserve`].
    pub fn reserve(&self) -> Reserve<'_, T, M> {
        Reserve {
            handle: &self.handle,
            acquire: self.handle.chan().sem.acquire(1),
        }
    }

    /// Whether the receiver is gone or closed the channel.
    pub fn is_closed(&self) -> bool {
        self.handle.chan().sem.is_closed()
    }

    /// Waits until the receiver is gone or closes the channel.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    pub async fn closed(&self) {
        let chan = self.handle.chan();
        loop {
            let notified = chan.rx_gone.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Free slots now.
    pub fn capacity(&self) -> usize {
        self.handle.chan().sem.available()
    }

    /// The channel's number of slots.
    pub fn max_capacity(&self) -> usize {
        self.handle.chan().sem.with(|s, _| s.extra.cap)
    }

    /// Reserves a slot if one is free now (and no sender waits for one).
    ///
    /// # Errors
    ///
    /// `TrySendError::Full(())` without a free slot,
    /// `TrySendError::Closed(())` if the receiver is gone or closed the
    /// channel.
    pub fn try_reserve(&self) -> Result<Permit<'_, T, M>, TrySendError<()>> {
        match self.handle.chan().sem.try_acquire(1) {
            Ok(()) => Ok(Permit {
                handle: &self.handle,
            }),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(())),
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(())),
        }
    }

    /// Whether `other` sends into the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        core::ptr::eq(self.handle.chan(), other.handle.chan())
    }
}

impl<T, M: RawMutex> Clone for Sender<'_, T, M> {
    fn clone(&self) -> Self {
        self.handle.chan().sem.with(|s, _| s.extra.senders += 1);
        Sender {
            handle: self.handle.duplicate(),
        }
    }
}

impl<T, M: RawMutex> Drop for Sender<'_, T, M> {
    fn drop(&mut self) {
        self.handle.chan().sem.with(|s, wake| {
            let ring = &mut s.extra;
            ring.senders -= 1;
            if ring.senders == 0 {
                // The receiver sees the end once the buffer is drained.
                wake.push(ring.rx_waker.take());
                if !ring.receiver {
                    ring.claimed = false;
                }
            }
        });
    }
}

impl<T, M: RawMutex> fmt::Debug for Sender<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

// === impl Reserve and Permit ===

impl<'a, T, M: RawMutex> Future for Reserve<'a, T, M> {
    type Output = Result<Permit<'a, T, M>, SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `acquire` is structurally pinned: never moved out, and
        // `Reserve` has no `Drop` and is not `repr(packed)`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let acquire = unsafe { Pin::new_unchecked(&mut this.acquire) };
        acquire.poll(cx).map(|granted| match granted {
            Ok(()) => Ok(Permit {
                handle: this.handle,
            }),
            Err(_) => Err(SendError(())),
        })
    }
}

impl<T, M: RawMutex> fmt::Debug for Reserve<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve").finish_non_exhaustive()
    }
}

impl<T, M: RawMutex> Permit<'_, T, M> {
    /// Fills the reserved slot with `value`; never waits. If the receiver
    /// has gone meanwhile, the value is dropped here.
    pub fn send(self, value: T) {
        let this = core::mem::ManuallyDrop::new(self);
        let (chan, slots) = this.handle.parts();
        let refused = chan.sem.with(|s, wake| {
            // SAFETY: under the lock, with our permit, given up to the value.
            unsafe { push(s, slots, value, wake) }
        });
        // Outside the lock: a value's `Drop` may do anything.
        drop(refused);
    }
}

impl<T, M: RawMutex> Drop for Permit<'_, T, M> {
    fn drop(&mut self) {
        self.handle.chan().sem.release(1);
    }
}

impl<T, M: RawMutex> fmt::Debug for Permit<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
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
        f.write_str("the channel is closed")
    }
}

impl<T> core::error::Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "the channel is full",
            TrySendError::Closed(_) => "the channel is closed",
        })
    }
}

impl<T> core::error::Error for TrySendError<T> {}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(value) | TrySendError::Closed(value) => value,
        }
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "the channel is empty",
            TryRecvError::Disconnected => "every sender is gone",
        })
    }
}

impl core::error::Error for TryRecvError {}
