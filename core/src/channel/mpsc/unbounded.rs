//! The unbounded mpsc channel (`alloc` only): sends never wait.
//!
//! It is the exception, not the default: with no bound, a producer faster
//! than its consumer fills memory instead of slowing down. Use it where a
//! sender must never wait (a callback, a `Drop`, an event source that
//! cannot be slowed) and the rate is bounded some other way.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use super::{SendError, TryRecvError};
use crate::sync::blocking_mutex::Mutex;
use crate::sync::{DefaultRawMutex, Notify};

/// A channel with no bound, kept in an `Arc`: its two halves.
///
/// # Examples
///
/// ```
/// use pollen_core::channel::mpsc;
///
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// for i in 0..1000 {
///     tx.send(i).unwrap(); // never waits
/// }
/// drop(tx);
/// assert_eq!(rx.try_recv(), Ok(0));
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            closed: false,
            rx_waker: None,
        }),
        rx_gone: Notify::new(),
    });
    (
        UnboundedSender {
            shared: shared.clone(),
        },
        UnboundedReceiver { shared },
    )
}

struct Shared<T> {
    state: Mutex<DefaultRawMutex, State<T>>,
    rx_gone: Notify,
}

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    /// The receiver closed the channel (or went).
    closed: bool,
    rx_waker: Option<Waker>,
}

/// The sending half of an unbounded channel; clone it for more producers.
pub struct UnboundedSender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving half of an unbounded channel.
pub struct UnboundedReceiver<T> {
    shared: Arc<Shared<T>>,
}

// === impl UnboundedSender ===

impl<T> UnboundedSender<T> {
    /// Queues `value`; never waits.
    ///
    /// # Errors
    ///
    /// The value comes back if the receiver is gone or closed the channel.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let woken = self.shared.state.lock(|s| {
            if s.closed {
                return Err(value);
            }
            s.queue.push_back(value);
            Ok(s.rx_waker.take())
        });
        match woken {
            Err(value) => Err(SendError(value)),
            Ok(waker) => {
                if let Some(waker) = waker {
                    waker.wake();
                }
                Ok(())
            }
        }
    }

    /// Whether the receiver is gone or closed the channel.
    pub fn is_closed(&self) -> bool {
        self.shared.state.lock(|s| s.closed)
    }

    /// Waits until the receiver is gone or closes the channel.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    pub async fn closed(&self) {
        loop {
            let notified = self.shared.rx_gone.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock(|s| s.senders += 1);
        UnboundedSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        let waker = self.shared.state.lock(|s| {
            s.senders -= 1;
            if s.senders == 0 {
                s.rx_waker.take()
            } else {
                None
            }
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender").finish_non_exhaustive()
    }
}

// === impl UnboundedReceiver ===

impl<T> UnboundedReceiver<T> {
    /// Waits for the next value; `None` once every sender is gone (or the
    /// channel was closed) and the queue is drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a value leaves the queue only in the poll that returns
    /// it.
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
    /// and the queue is drained. One lock takes them all.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: values leave the queue only in the poll that returns
    /// them.
    pub async fn recv_many(&mut self, buffer: &mut alloc::vec::Vec<T>, limit: usize) -> usize {
        core::future::poll_fn(|cx| self.poll_recv_many(cx, buffer, limit)).await
    }

    /// The poll form of [`recv_many`](Self::recv_many).
    ///
    /// Spends one unit of the task's [budget](crate::task::coop) per batch.
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
        let waker = cx.waker();
        let taken = self.shared.state.lock(|s| {
            if !s.queue.is_empty() {
                let n = limit.min(s.queue.len());
                buffer.extend(s.queue.drain(..n));
                return Ok(n);
            }
            if s.senders == 0 || s.closed {
                return Ok(0);
            }
            crate::sync::store_waker(&mut s.rx_waker, waker);
            Err(())
        });
        match taken {
            Ok(0) => Poll::Ready(0),
            Ok(n) => {
                coop.made_progress();
                Poll::Ready(n)
            }
            Err(()) => Poll::Pending,
        }
    }

    /// The next value if one is queued, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] or [`TryRecvError::Disconnected`].
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.take(None)
    }

    fn take(&mut self, waker: Option<&Waker>) -> Result<T, TryRecvError> {
        self.shared.state.lock(|s| {
            if let Some(value) = s.queue.pop_front() {
                return Ok(value);
            }
            if s.senders == 0 || s.closed {
                return Err(TryRecvError::Disconnected);
            }
            if let Some(waker) = waker {
                crate::sync::store_waker(&mut s.rx_waker, waker)
            }
            Err(TryRecvError::Empty)
        })
    }

    /// Closes the channel: sends fail from now on; values already queued
    /// can still be received.
    pub fn close(&mut self) {
        self.shared.state.lock(|s| s.closed = true);
        self.shared.rx_gone.notify_waiters();
    }

    /// How many values are queued.
    pub fn len(&self) -> usize {
        self.shared.state.lock(|s| s.queue.len())
    }

    /// Whether no value is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for UnboundedReceiver<T> {
    fn drop(&mut self) {
        self.close();
        // Drop the queued values outside the lock (their `Drop` may do
        // anything); no send can add more now.
        let queued = self.shared.state.lock(|s| {
            s.rx_waker = None;
            core::mem::take(&mut s.queue)
        });
        drop(queued);
    }
}

impl<T> futures_core::Stream for UnboundedReceiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver").finish_non_exhaustive()
    }
}
