//! Waiting for a future on a plain thread: what the `blocking_*` methods of
//! the channels and locks do (with the `std` feature).

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use alloc::sync::Arc;
use alloc::task::Wake;
use std::thread::{self, Thread};

/// Wakes the thread that waits.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread, parking it between polls, until it is
/// ready.
///
/// # Panics
///
/// Inside a task poll: the thread is a worker, and blocking it would stall
/// every task queued there (and, if what it waits for needs this worker,
/// never end). `what` names the method in the message.
pub(crate) fn block_on<F: Future>(what: &str, future: F) -> F::Output {
    assert!(
        !crate::task::coop::in_task_poll(),
        "pollen: `{what}` blocks its thread, so it cannot be called from async code; \
         use the async form there, or call it from a plain thread or `spawn_blocking`"
    );
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // A wake between the poll and here leaves a token: `park` returns
        // at once. It may also return for no reason: the loop polls again.
        thread::park();
    }
}

// The `blocking_*` methods, beside the async ones they wait for: for code
// on plain threads that talks to tasks.

use crate::channel::{broadcast, mpsc, oneshot};
use crate::sync::{Mutex, MutexGuard, RawMutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

impl<T, M: RawMutex> mpsc::Sender<'_, T, M> {
    /// [`send`](Self::send) for a thread that runs no async code: blocks it
    /// while the channel is full.
    ///
    /// # Errors
    ///
    /// The value comes back if the receiver is gone or closed the channel.
    ///
    /// # Panics
    ///
    /// When called from inside a task (it would block a worker).
    pub fn blocking_send(&self, value: T) -> Result<(), mpsc::SendError<T>> {
        block_on("mpsc::Sender::blocking_send", self.send(value))
    }
}

impl<T, M: RawMutex> mpsc::Receiver<'_, T, M> {
    /// [`recv`](Self::recv) for a thread that runs no async code: blocks it
    /// until a value comes; `None` once every sender is gone and the buffer
    /// is drained.
    ///
    /// # Panics
    ///
    /// When called from inside a task (it would block a worker).
    pub fn blocking_recv(&mut self) -> Option<T> {
        block_on("mpsc::Receiver::blocking_recv", self.recv())
    }
}

impl<T> mpsc::UnboundedReceiver<T> {
    /// [`recv`](Self::recv) for a thread that runs no async code: blocks it
    /// until a value comes; `None` once every sender is gone and the buffer
    /// is drained.
    ///
    /// # Panics
    ///
    /// When called from inside a task (it would block a worker).
    pub fn blocking_recv(&mut self) -> Option<T> {
        block_on("mpsc::UnboundedReceiver::blocking_recv", self.recv())
    }
}

impl<T> oneshot::Receiver<'_, T> {
    /// Awaiting the receiver, for a thread that runs no async code: blocks
    /// it until the value comes.
    ///
    /// # Errors
    ///
    /// [`RecvError`](oneshot::RecvError) if the sender was dropped without
    /// sending.
    ///
    /// # Panics
    ///
    /// When called from inside a task (it would block a worker).
    pub fn blocking_recv(self) -> Result<T, oneshot::RecvError> {
        block_on("oneshot::Receiver::blocking_recv", self)
    }
}

impl<T: Clone, M: RawMutex> broadcast::Receiver<'_, T, M> {
    /// [`recv`](Self::recv) for a thread that runs no async code: blocks it
    /// until a message comes.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv): [`Lagged`](broadcast::RecvError::Lagged)
    /// or [`Closed`](broadcast::RecvError::Closed).
    ///
    /// # Panics
    ///
    /// When called from inside a task (it would block a worker).
    pub fn blocking_recv(&mut self) -> Result<T, broadcast::RecvError> {
        block_on("broadcast::Receiver::blocking_recv", self.recv())
    }
}

impl<T: ?Sized, M: RawMutex> Mutex<T, M> {
    /// [`lock`](Self::lock) for a thread that runs no async code: blocks it
    /// until the lock is free (in turn with the tasks waiting for it).
    ///
    /// # Panics
    ///
    /// When called from inside a task (it would block a worker).
    pub fn blocking_lock(&self) -> MutexGuard<'_, T, M> {
        block_on("Mutex::blocking_lock", self.lock())
    }
}

impl<T: ?Sized, M: RawMutex> RwLock<T, M> {
    /// [`read`](Self::read) for a thread that runs no async code: blocks it
    /// until it may read.
    ///
    /// # Panics
    ///
    /// When called from inside a task (it would block a worker).
    pub fn blocking_read(&self) -> RwLockReadGuard<'_, T, M> {
        block_on("RwLock::blocking_read", self.read())
    }

    /// [`write`](Self::write) for a thread that runs no async code: blocks
    /// it until it may write.
    ///
    /// # Panics
    ///
    /// When called from inside a task (it would block a worker).
    pub fn blocking_write(&self) -> RwLockWriteGuard<'_, T, M> {
        block_on("RwLock::blocking_write", self.write())
    }
}
