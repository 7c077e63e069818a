//! The receiving half of the bounded channel: taking values out of the
//! ring, one at a time or in batches, and closing.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use super::{Receiver, Ring, Slot, TryRecvError, wrap};
use crate::sync::{RawMutex, SemaphoreShared};

/// What a receiver finding nothing buffered is told: `Disconnected` if
/// nothing ever will be, else `Empty`, and then `waker` (if any) is
/// stored to be woken by the next send.
///
/// Called under the lock.
fn nothing_buffered(s: &mut SemaphoreShared<Ring>, waker: Option<&Waker>) -> TryRecvError {
    let free = s.permits();
    let closed = s.is_closed();
    let ring = &mut s.extra;
    if ring.senders == 0 || (closed && ring.reserved(free) == 0) {
        return TryRecvError::Disconnected;
    }
    if let Some(waker) = waker {
        crate::sync::store_waker(&mut ring.rx_waker, waker);
    }
    TryRecvError::Empty
}

/// Takes the value at the ring's head, if any, and frees its slot.
///
/// # Safety
///
/// Called under the lock.
unsafe fn pop<T>(s: &mut SemaphoreShared<Ring>, slots: &[Slot<T>]) -> Option<T> {
    let ring = &mut s.extra;
    if ring.len == 0 {
        return None;
    }
    // SAFETY: the head slot holds a value (len > 0), and the lock makes us
    // its only user.
    let value = slots[ring.head].with_mut(|slot| unsafe { (*slot).assume_init_read() });
    ring.head = wrap(ring.head + 1, ring.cap);
    ring.len -= 1;
    // The value is out: no slot is claimed outside the lock.
    ring.rewind_if_empty();
    // The slot is free: a permit for the next sender (served by `with`).
    s.add(1);
    Some(value)
}

// === impl Receiver ===

impl<T, M: RawMutex> Receiver<'_, T, M> {
    /// Waits for the next value; `None` once every sender is gone (or the
    /// channel was closed) and the buffer is drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a value is taken out of the buffer only by the poll
    /// that returns it.
    pub async fn recv(&mut self) -> Option<T> {
        core::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Self::recv).
    ///
    /// Spends one unit of the task's [budget](crate::task::coop).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let coop = core::task::ready!(crate::task::coop::poll_proceed(cx));
        let received = match self.take(Some(cx.waker())) {
            Ok(value) => Some(value),
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => return Poll::Pending,
        };
        coop.made_progress();
        Poll::Ready(received)
    }

    /// Waits for values, then moves up to `limit` of them into `buffer`
    /// (appended, in order) and returns how many: at least one, or `0` when
    /// `limit` is `0` or every sender is gone (or the channel was closed)
    /// and the buffer is drained. Feature `alloc`.
    ///
    /// One lock takes them all, which is what makes a batch cheaper than as
    /// many [`recv`](Self::recv)s.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: values are taken out of the channel only by the poll
    /// that returns them.
    #[cfg(feature = "alloc")]
    pub async fn recv_many(&mut self, buffer: &mut alloc::vec::Vec<T>, limit: usize) -> usize {
        core::future::poll_fn(|cx| self.poll_recv_many(cx, buffer, limit)).await
    }

    /// The poll form of [`recv_many`](Self::recv_many). Feature `alloc`.
    ///
    /// Spends one unit of the task's [budget](crate::task::coop) per batch.
    #[cfg(feature = "alloc")]
    pub fn poll_recv_many(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut alloc::vec::Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        let coop = core::task::ready!(crate::task::coop::poll_proceed(cx));
        match self.take_into(Some(cx.waker()), buffer, limit) {
            Ok(taken) => {
                coop.made_progress();
                Poll::Ready(taken)
            }
            Err(TryRecvError::Disconnected) => Poll::Ready(0),
            Err(TryRecvError::Empty) => Poll::Pending,
        }
    }

    /// Moves up to `limit` buffered values into `buffer` (appended, in
    /// order) without waiting, and returns how many: `recv_many` for a
    /// caller that must not wait, under the same single lock. Unlike a
    /// `poll_recv_many` that finds nothing, it stores no waker, so a send
    /// meanwhile wakes no one. Feature `alloc`.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is buffered (or `limit` is `0`),
    /// [`TryRecvError::Disconnected`] if nothing ever will be.
    #[cfg(feature = "alloc")]
    pub fn try_recv_many(
        &mut self,
        buffer: &mut alloc::vec::Vec<T>,
        limit: usize,
    ) -> Result<usize, TryRecvError> {
        if limit == 0 {
            return Err(TryRecvError::Empty);
        }
        self.take_into(None, buffer, limit)
    }

    /// Moves up to `limit` (at least 1) buffered values into `buffer`.
    ///
    /// The lock is held only to claim them: the values are read after it
    /// is let go, and their slots are given back (a second, short critical
    /// section) once they are read. A sender on another core then waits
    /// for two short critical sections instead of one that reads every
    /// value (each read a cache miss, the sender having written it).
    #[cfg(feature = "alloc")]
    fn take_into(
        &mut self,
        waker: Option<&Waker>,
        buffer: &mut alloc::vec::Vec<T>,
        limit: usize,
    ) -> Result<usize, TryRecvError> {
        let (chan, slots) = self.handle.parts();
        // Room first: `push` below cannot allocate, so cannot panic, while
        // the claimed slots are out of the ring.
        buffer.reserve(limit.min(slots.len()));
        let (start, taken) = chan.sem.with(|s, _| {
            let ring = &mut s.extra;
            if ring.len == 0 {
                return Err(nothing_buffered(s, waker));
            }
            let taken = ring.len.min(limit);
            let start = ring.head;
            ring.head = wrap(ring.head + taken, ring.cap);
            ring.len -= taken;
            Ok((start, taken))
        })?;
        for i in 0..taken {
            let at = wrap(start + i, slots.len());
            // SAFETY: the claim above took `taken` values at `start..` out
            // of the ring, and their slots stay out of every sender's reach
            // until `release` below gives their permits back: no sender
            // can reserve them, so none writes them. The lock's release
            // and acquire order the senders' writes before these reads.
            // Each value is read once.
            let value = slots[at].with_mut(|slot| unsafe { (*slot).assume_init_read() });
            buffer.push(value);
        }
        // The slots are free: permits for the next senders (served by
        // `with`). The values are out, so an empty ring may start again at
        // its first slot.
        chan.sem.with(|s, _| {
            s.add(taken);
            s.extra.rewind_if_empty();
        });
        Ok(taken)
    }

    /// The next value if one is buffered, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] or [`TryRecvError::Disconnected`].
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.take(None)
    }

    /// Under one lock: hands buffered values to `each` while it returns
    /// `true`; `Ok` if it got at least one. With nothing buffered, tells
    /// whether more may come, and stores `waker` if so.
    fn take(&mut self, waker: Option<&Waker>) -> Result<T, TryRecvError> {
        let (chan, slots) = self.handle.parts();
        chan.sem.with(|s, _| {
            // SAFETY: under the lock.
            match unsafe { pop(s, slots) } {
                Some(value) => Ok(value),
                None => Err(nothing_buffered(s, waker)),
            }
        })
    }

    /// Closes the channel: sends and reservations fail from now on; values
    /// already buffered, and those sent through permits reserved before,
    /// can still be received.
    pub fn close(&mut self) {
        let chan = self.handle.chan();
        chan.sem.close();
        chan.rx_gone.notify_waiters();
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.handle.chan().sem.with(|s, _| s.extra.len)
    }

    /// Whether no value is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether no more values can be sent: the channel was closed, or
    /// every sender is gone. (Values already buffered can still be
    /// received.)
    pub fn is_closed(&self) -> bool {
        self.handle
            .chan()
            .sem
            .with(|s, _| s.is_closed() || s.extra.senders == 0)
    }

    /// Free slots now.
    pub fn capacity(&self) -> usize {
        self.handle.chan().sem.available()
    }

    /// The channel's number of slots.
    pub fn max_capacity(&self) -> usize {
        self.handle.chan().sem.with(|s, _| s.extra.cap)
    }
}

impl<T, M: RawMutex> Drop for Receiver<'_, T, M> {
    fn drop(&mut self) {
        self.close();
        let (chan, slots) = self.handle.parts();
        // Drop what is buffered, one value at a time outside the lock (a
        // value's `Drop` may do anything). The lock that finds the buffer
        // empty also marks the receiver gone, so a permit used later hands
        // its value back instead of buffering it.
        loop {
            let value = chan.sem.with(|s, _| {
                // SAFETY: under the lock.
                let value = unsafe { pop(s, slots) };
                if value.is_none() {
                    let ring = &mut s.extra;
                    ring.receiver = false;
                    ring.rx_waker = None;
                    if ring.senders == 0 {
                        ring.claimed = false;
                    }
                }
                value
            });
            match value {
                Some(value) => drop(value),
                None => break,
            }
        }
    }
}

impl<T, M: RawMutex> futures_core::Stream for Receiver<'_, T, M> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T, M: RawMutex> fmt::Debug for Receiver<'_, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
