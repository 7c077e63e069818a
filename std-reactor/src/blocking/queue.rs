//! `TaskQueue`: the pool's FIFO of waiting tasks, behind a small trait.
//!
//! crossbeam's lock-free `Injector` cannot be loom-checked, so the pool
//! reaches its queue only through [`TaskQueue`]: [`Queue`] is the
//! `Injector` in ordinary builds and `ModelQueue` under `--cfg loom`.
//!
//! # What the pool may rely on
//!
//! Only what crossbeam promises: FIFO, every item is popped at most once,
//! and a push happens before the pop that returns its item. Neither
//! [`is_empty`](TaskQueue::is_empty) nor a `pop` that finds nothing orders
//! anything: the protocol in `pool.rs` adds its own `SeqCst` fences around
//! the queue for that.
//!
//! The model promises no more. Its items sit under a loom `Mutex`, but it
//! tells whether it is empty from a length that pushes publish with
//! `Release`, read without the lock. Were that look taken under the lock,
//! the lock's own ordering would stand in for the pool's fences, and the
//! models could not tell whether the fences are there.

#[cfg(loom)]
use std::collections::VecDeque;

use crossbeam_deque::{Injector, Steal};

#[cfg(loom)]
use crate::loom::atomic::{
    AtomicUsize,
    Ordering::{Acquire, Release},
};
#[cfg(loom)]
use crate::loom::sync::{Mutex, PoisonError};

/// The queue the pool uses in this build.
#[cfg(not(loom))]
pub(super) type Queue<T> = Injector<T>;
/// The queue the pool uses in this build: the loom model.
#[cfg(loom)]
pub(super) type Queue<T> = ModelQueue<T>;

/// A multi-producer, multi-consumer FIFO; see the [module docs](self) for
/// the orderings it guarantees.
pub(super) trait TaskQueue<T> {
    /// Appends `item`.
    fn push(&self, item: T);

    /// Takes the oldest item, or `None` if the queue looked empty.
    fn pop(&self) -> Option<T>;

    /// Whether the queue looked empty.
    fn is_empty(&self) -> bool;

    /// How many items the queue looked to hold.
    fn len(&self) -> usize;
}

// === impl Injector ===

impl<T> TaskQueue<T> for Injector<T> {
    fn push(&self, item: T) {
        Injector::push(self, item);
    }

    fn pop(&self) -> Option<T> {
        loop {
            match self.steal() {
                Steal::Success(item) => return Some(item),
                Steal::Empty => return None,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    fn is_empty(&self) -> bool {
        Injector::is_empty(self)
    }

    fn len(&self) -> usize {
        Injector::len(self)
    }
}

/// The queue under loom: items under a mutex, and a length read without it
/// (see the [module docs](self) for why).
#[cfg(loom)]
pub(super) struct ModelQueue<T> {
    /// The items, oldest first.
    items: Mutex<VecDeque<T>>,
    /// `items.len()`, stored under the lock with `Release` after every
    /// change; read with `Acquire` and no lock.
    len: AtomicUsize,
}

// === impl ModelQueue ===

#[cfg(loom)]
impl<T> ModelQueue<T> {
    /// An empty queue.
    pub(super) fn new() -> ModelQueue<T> {
        ModelQueue {
            items: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }
}

#[cfg(loom)]
impl<T> TaskQueue<T> for ModelQueue<T> {
    fn push(&self, item: T) {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        items.push_back(item);
        self.len.store(items.len(), Release);
    }

    fn pop(&self) -> Option<T> {
        // Like the `Injector`, an empty-looking queue is left alone.
        if self.is_empty() {
            return None;
        }
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let item = items.pop_front();
        self.len.store(items.len(), Release);
        item
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn len(&self) -> usize {
        self.len.load(Acquire)
    }
}
