//! The executor's run queue: intrusive, lock-free, many producers, one
//! consumer.
//!
//! Producers (wakers, on any thread or in an interrupt handler) push a task
//! with one compare-and-swap onto a stack threaded through the tasks'
//! `queue_next` links. The consumer takes the whole stack with one swap and
//! reverses it, so tasks run in the order they were woken. No node is ever
//! popped singly, so there is no ABA problem: a pusher's CAS succeeds only if
//! the head it linked to is still the head, which is then exactly right.
//!
//! The links belong to whoever holds each task's `Runnable`: the pusher until
//! its CAS publishes the node (Release), the consumer after its swap
//! (Acquire).
//!
//! Tasks woken on the consumer's own thread while it runs tasks need no
//! atomic at all: they go to a [`LocalQueue`] that only the consumer
//! touches (see `Executor::schedule`).

use core::ptr::{self, NonNull};

use crate::loom::atomic::{AtomicPtr, Ordering};
use crate::task::{Header, Runnable};

/// A multi-producer, single-consumer intrusive queue of `Runnable`s.
pub(crate) struct RunQueue {
    head: AtomicPtr<Header>,
}

/// Tasks taken from the queue, oldest first, linked through `queue_next`.
///
/// Owns one reference per task (each is a `Runnable` in waiting); the
/// executor runs them with [`Batch::pop`].
pub(crate) struct Batch {
    head: Option<NonNull<Header>>,
}

// === impl RunQueue ===

impl RunQueue {
    #[cfg(not(loom))]
    #[inline]
    pub(crate) const fn new() -> RunQueue {
        RunQueue {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    #[cfg(loom)]
    #[inline]
    pub(crate) fn new() -> RunQueue {
        RunQueue {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Pushes `task`; returns `true` if the queue was empty, that is, if the
    /// consumer may be parked and needs waking.
    #[inline]
    pub(crate) fn push(&self, task: Runnable) -> bool {
        let node = task.into_header();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: we hold the task's `Runnable`, so its link is ours until
            // the CAS below publishes it.
            unsafe { node.as_ref() }
                .queue_next
                .with_mut(|next| unsafe { *next = NonNull::new(head) });
            match self.head.compare_exchange_weak(
                head,
                node.as_ptr(),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return head.is_null(),
                Err(actual) => head = actual,
            }
        }
    }

    /// Whether no task is queued (a snapshot: pushes may follow at once).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.load(Ordering::Acquire).is_null()
    }

    /// Takes every queued task, oldest first.
    ///
    /// Only the queue's single consumer may call this.
    #[inline]
    pub(crate) fn take_all(&self) -> Batch {
        self.take_all_with_tail().0
    }

    /// As [`take_all`](Self::take_all), and the batch's last task.
    #[inline]
    fn take_all_with_tail(&self) -> (Batch, Option<NonNull<Header>>) {
        let newest = NonNull::new(self.head.swap(ptr::null_mut(), Ordering::Acquire));
        let mut node = newest;
        // Reverse newest-first into oldest-first.
        let mut reversed = None;
        while let Some(task) = node {
            // SAFETY: the swap gave us every node in the list and its link.
            let link = unsafe { &task.as_ref().queue_next };
            // SAFETY: as above, the link is ours.
            node = link.with_mut(|next| unsafe { core::mem::replace(&mut *next, reversed) });
            reversed = Some(task);
        }
        (Batch { head: reversed }, newest)
    }
}

impl core::fmt::Debug for RunQueue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RunQueue")
            .field("empty", &self.is_empty())
            .finish()
    }
}

// === impl Batch ===

impl Batch {
    #[inline]
    pub(crate) const fn empty() -> Batch {
        Batch { head: None }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// The oldest task left in the batch.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Runnable> {
        let task = self.head?;
        // SAFETY: the batch owns the task's `Runnable`, hence its link; we
        // read it before the `Runnable` leaves (running may requeue it).
        self.head = unsafe { task.as_ref() }
            .queue_next
            .with(|next| unsafe { *next });
        // SAFETY: the batch held the task's reference and `NOTIFIED`.
        Some(unsafe { Runnable::from_header(task) })
    }
}

impl Drop for Batch {
    #[inline]
    fn drop(&mut self) {
        // Dropping a `Runnable` cancels its task: nothing is leaked.
        while self.pop().is_some() {}
    }
}

// SAFETY: a batch owns `Runnable`s, which are `Send`.
unsafe impl Send for Batch {}

/// Tasks woken on the consumer's thread, oldest first: a plain FIFO list
/// through the same `queue_next` links, with no atomic.
///
/// It keeps the wake order of both queues together: every task in it was
/// woken before every task still in the [`RunQueue`]. A push that finds the
/// run queue not empty moves its tasks over first ([`push`](Self::push)),
/// and the consumer takes this list before the run queue.
///
/// Owns one reference per task, like a [`Batch`].
pub(crate) struct LocalQueue {
    head: Option<NonNull<Header>>,
    tail: Option<NonNull<Header>>,
}

// === impl LocalQueue ===

impl LocalQueue {
    #[inline]
    pub(crate) const fn new() -> LocalQueue {
        LocalQueue {
            head: None,
            tail: None,
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Appends `task`, woken now. If `queue` (whose single consumer the
    /// caller is) holds tasks, they were woken first: they are moved here
    /// before it. A push racing ours onto `queue` after our look at it
    /// counts as woken after ours.
    #[inline]
    pub(crate) fn push(&mut self, task: Runnable, queue: &RunQueue) {
        if !queue.is_empty() {
            self.append_from(queue);
        }
        let node = task.into_header();
        // SAFETY: we hold the task's `Runnable`, so its link is ours.
        unsafe { node.as_ref() }
            .queue_next
            .with_mut(|next| unsafe { *next = None });
        self.append(Some(node), node);
    }

    /// Moves every task of `queue` to the end of this list.
    #[inline]
    pub(crate) fn append_from(&mut self, queue: &RunQueue) {
        let (batch, tail) = queue.take_all_with_tail();
        let batch = core::mem::ManuallyDrop::new(batch);
        if let Some(tail) = tail {
            self.append(batch.head, tail);
        }
    }

    /// Links the list `head ..= tail` (owned by the caller, `tail`'s link
    /// `None`) after ours.
    #[inline]
    fn append(&mut self, head: Option<NonNull<Header>>, tail: NonNull<Header>) {
        match self.tail {
            // SAFETY: the list owns its tasks' `Runnable`s, hence their links.
            Some(last) => unsafe { last.as_ref() }
                .queue_next
                .with_mut(|next| unsafe { *next = head }),
            None => self.head = head,
        }
        self.tail = Some(tail);
    }

    /// Takes every task, oldest first.
    #[inline]
    pub(crate) fn take(&mut self) -> Batch {
        self.tail = None;
        Batch {
            head: self.head.take(),
        }
    }
}

impl Drop for LocalQueue {
    #[inline]
    fn drop(&mut self) {
        // Dropping a `Runnable` cancels its task: nothing is leaked.
        drop(self.take());
    }
}

// SAFETY: the list owns `Runnable`s, which are `Send`.
unsafe impl Send for LocalQueue {}
