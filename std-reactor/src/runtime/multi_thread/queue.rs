//! The scheduler's queues, behind small traits: crossbeam-deque's in
//! ordinary builds, a loom-checkable model under `--cfg loom`.
//!
//! Each worker owns a FIFO deque ([`LocalQueue`]): it pushes and pops at
//! its end; other workers take about half of it at once through its
//! [`StealQueue`] handle. Tasks scheduled from outside the pool go to one
//! [`GlobalQueue`], from which workers also take batches.
//!
//! # What the scheduler may rely on
//!
//! Only what crossbeam promises: every item is taken at most once, a push
//! happens before the take that returns its item, and a steal may answer
//! `Retry` (try again: it lost a race) rather than find an item that is
//! there. Length and emptiness are snapshots that order nothing; the
//! scheduler's own fences (in `idle.rs`) order its look at the queues
//! against its sleep.
//!
//! The model promises no more: its items sit under a loom `Mutex`, but the
//! look at its length takes no lock (a `Release` store, an `Acquire` load),
//! so the lock does not stand in for the scheduler's fences.

use crossbeam_deque::Steal;

/// The owner's end of a worker's deque.
pub(crate) trait LocalQueue<T> {
    /// The handle other workers steal through.
    type Stealer: StealQueue<T, Local = Self> + Clone;

    /// An empty deque and its stealer.
    fn new() -> (Self, Self::Stealer)
    where
        Self: Sized;

    /// Appends `item` (owner only).
    fn push(&self, item: T);

    /// Takes the oldest item (owner only).
    fn pop(&self) -> Option<T>;

    /// How many items the deque looked to hold.
    fn len(&self) -> usize;
}

/// Another worker's handle on a deque.
pub(crate) trait StealQueue<T> {
    /// The deque type stolen items go to.
    type Local;

    /// Moves about half of the items into `dest` and returns one of them.
    fn steal_batch_and_pop(&self, dest: &Self::Local) -> Steal<T>;

    /// How many items the deque looked to hold.
    fn len(&self) -> usize;
}

/// The queue of tasks scheduled from outside the pool.
pub(crate) trait GlobalQueue<T, L> {
    /// An empty queue.
    fn new() -> Self;

    /// Appends `item`.
    fn push(&self, item: T);

    /// Moves a batch into `dest` and returns one item.
    fn steal_batch_and_pop(&self, dest: &L) -> Steal<T>;

    /// Takes the oldest item.
    fn steal(&self) -> Steal<T>;

    /// How many items the queue looked to hold.
    fn len(&self) -> usize;
}

/// Retries `steal` while it reports a lost race.
pub(crate) fn retrying<T>(mut steal: impl FnMut() -> Steal<T>) -> Option<T> {
    loop {
        match steal() {
            Steal::Success(item) => return Some(item),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}

#[cfg(not(loom))]
mod crossbeam {
    use crossbeam_deque::{Injector, Steal, Stealer, Worker};

    use super::{GlobalQueue, LocalQueue, StealQueue};

    impl<T> LocalQueue<T> for Worker<T> {
        type Stealer = Stealer<T>;

        fn new() -> (Worker<T>, Stealer<T>) {
            let worker = Worker::new_fifo();
            let stealer = worker.stealer();
            (worker, stealer)
        }

        #[inline]
        fn push(&self, item: T) {
            Worker::push(self, item);
        }

        #[inline]
        fn pop(&self) -> Option<T> {
            Worker::pop(self)
        }

        #[inline]
        fn len(&self) -> usize {
            Worker::len(self)
        }
    }

    impl<T> StealQueue<T> for Stealer<T> {
        type Local = Worker<T>;

        #[inline]
        fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            Stealer::steal_batch_and_pop(self, dest)
        }

        #[inline]
        fn len(&self) -> usize {
            Stealer::len(self)
        }
    }

    impl<T> GlobalQueue<T, Worker<T>> for Injector<T> {
        fn new() -> Injector<T> {
            Injector::new()
        }

        #[inline]
        fn push(&self, item: T) {
            Injector::push(self, item);
        }

        #[inline]
        fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            Injector::steal_batch_and_pop(self, dest)
        }

        #[inline]
        fn steal(&self) -> Steal<T> {
            Injector::steal(self)
        }

        #[inline]
        fn len(&self) -> usize {
            Injector::len(self)
        }
    }

    /// The queues in this build.
    pub(crate) type Local<T> = Worker<T>;
    /// The queues in this build.
    pub(crate) type Thief<T> = Stealer<T>;
    /// The queues in this build.
    pub(crate) type Global<T> = Injector<T>;
}

#[cfg(not(loom))]
pub(crate) use self::crossbeam::{Global, Local, Thief};

#[cfg(loom)]
pub(crate) use self::model::{Global, Local, Thief};

#[cfg(loom)]
mod model {
    //! The queues under loom: items under a mutex, lengths read without it.

    use std::collections::VecDeque;

    use crossbeam_deque::Steal;

    use super::{GlobalQueue, LocalQueue, StealQueue};
    use crate::loom::atomic::{
        AtomicUsize,
        Ordering::{Acquire, Release},
    };
    use crate::loom::sync::{Mutex, PoisonError};
    use loom::sync::Arc;

    /// A FIFO under a lock, with a lock-free length.
    pub(crate) struct Fifo<T> {
        items: Mutex<VecDeque<T>>,
        len: AtomicUsize,
    }

    impl<T> Fifo<T> {
        fn new() -> Fifo<T> {
            Fifo {
                items: Mutex::new(VecDeque::new()),
                len: AtomicUsize::new(0),
            }
        }

        fn with<R>(&self, f: impl FnOnce(&mut VecDeque<T>) -> R) -> R {
            let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
            let r = f(&mut items);
            self.len.store(items.len(), Release);
            r
        }

        fn len(&self) -> usize {
            self.len.load(Acquire)
        }

        /// Takes half (rounded up) of the items, oldest first; the lock is
        /// let go before they go anywhere, so two workers stealing from each
        /// other cannot deadlock.
        fn take_half(&self) -> VecDeque<T> {
            if self.len() == 0 {
                return VecDeque::new();
            }
            self.with(|items| {
                let n = items.len().div_ceil(2);
                items.drain(..n).collect()
            })
        }
    }

    fn batch_into<T>(mut batch: VecDeque<T>, dest: &Local<T>) -> Steal<T> {
        match batch.pop_front() {
            None => Steal::Empty,
            Some(first) => {
                if !batch.is_empty() {
                    dest.0.with(|items| items.extend(batch));
                }
                Steal::Success(first)
            }
        }
    }

    /// A worker's deque, modelled.
    pub(crate) struct Local<T>(Arc<Fifo<T>>);
    /// A handle on another worker's deque, modelled.
    pub(crate) struct Thief<T>(Arc<Fifo<T>>);
    /// The global queue, modelled.
    pub(crate) struct Global<T>(Fifo<T>);

    impl<T> Clone for Thief<T> {
        fn clone(&self) -> Thief<T> {
            Thief(self.0.clone())
        }
    }

    impl<T> LocalQueue<T> for Local<T> {
        type Stealer = Thief<T>;

        fn new() -> (Local<T>, Thief<T>) {
            let fifo = Arc::new(Fifo::new());
            (Local(fifo.clone()), Thief(fifo))
        }

        fn push(&self, item: T) {
            self.0.with(|items| items.push_back(item));
        }

        fn pop(&self) -> Option<T> {
            if self.0.len() == 0 {
                return None;
            }
            self.0.with(VecDeque::pop_front)
        }

        fn len(&self) -> usize {
            self.0.len()
        }
    }

    impl<T> StealQueue<T> for Thief<T> {
        type Local = Local<T>;

        fn steal_batch_and_pop(&self, dest: &Local<T>) -> Steal<T> {
            batch_into(self.0.take_half(), dest)
        }

        fn len(&self) -> usize {
            self.0.len()
        }
    }

    impl<T> GlobalQueue<T, Local<T>> for Global<T> {
        fn new() -> Global<T> {
            Global(Fifo::new())
        }

        fn push(&self, item: T) {
            self.0.with(|items| items.push_back(item));
        }

        fn steal_batch_and_pop(&self, dest: &Local<T>) -> Steal<T> {
            batch_into(self.0.take_half(), dest)
        }

        fn steal(&self) -> Steal<T> {
            if self.0.len() == 0 {
                return Steal::Empty;
            }
            self.0
                .with(VecDeque::pop_front)
                .map_or(Steal::Empty, Steal::Success)
        }

        fn len(&self) -> usize {
            self.0.len()
        }
    }
}
