//! The registry of a runtime's live tasks, so that shutdown can drop them.
//!
//! A task's future is wrapped in [`Tracked`], which holds the task's slot in
//! the registry and frees it when the future is dropped (on completion or
//! cancellation). The slot holds an `AbortHandle`: shutdown aborts every
//! task still registered, and the runtime drops their futures.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use slab::Slab;

use crate::task::AbortHandle;

/// The live tasks of one runtime.
#[derive(Debug, Default)]
pub(crate) struct TaskRegistry {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    tasks: Slab<AbortHandle>,
    /// Set by shutdown: no new task is admitted.
    closed: bool,
}

/// A task's future, holding its slot in the registry.
pub(crate) struct Tracked<F> {
    future: ManuallyDrop<F>,
    key: usize,
    registry: &'static TaskRegistry,
}

/// A slot reserved for a task about to be created.
pub(crate) struct Reservation<'a> {
    inner: MutexGuard<'a, Inner>,
    registry: &'static TaskRegistry,
}

// === impl TaskRegistry ===

impl TaskRegistry {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No critical section calls out, so none leaves the slab
        // inconsistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a slot for a new task, or `None` if the runtime is shut down.
    /// The lock is held until the reservation is filled or dropped.
    pub(crate) fn reserve(&'static self) -> Option<Reservation<'static>> {
        let inner = self.lock();
        (!inner.closed).then_some(Reservation {
            inner,
            registry: self,
        })
    }

    /// Closes the registry and aborts every live task. Returns how many
    /// were aborted.
    pub(crate) fn close_and_abort_all(&self) -> usize {
        let tasks: Vec<AbortHandle> = {
            let mut inner = self.lock();
            inner.closed = true;
            inner.tasks.iter().map(|(_, task)| task.clone()).collect()
        };
        // Outside the lock: aborting an idle task schedules it, and the
        // scheduler looks at the registry.
        for task in &tasks {
            task.abort();
        }
        tasks.len()
    }

    /// How many tasks are alive (spawned and not yet dropped).
    pub(crate) fn len(&self) -> usize {
        self.lock().tasks.len()
    }

    fn remove(&self, key: usize) {
        let removed = self.lock().tasks.try_remove(key);
        // Dropped outside the lock: dropping the handle may free the task.
        drop(removed);
    }
}

// === impl Reservation ===

impl Reservation<'_> {
    /// Wraps `future` so it frees this slot when dropped.
    pub(crate) fn track<F>(&self, future: F) -> Tracked<F> {
        Tracked {
            future: ManuallyDrop::new(future),
            key: self.inner.tasks.vacant_key(),
            registry: self.registry,
        }
    }

    /// Fills the slot with the task's abort handle.
    pub(crate) fn fill(mut self, task: AbortHandle) {
        self.inner.tasks.insert(task);
    }
}

// === impl Tracked ===

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // `Tracked` (only dropped in place, in `drop`), and `Tracked` has no
        // `Unpin` impl that would let it move while pinned.
        let future = unsafe { self.map_unchecked_mut(|t| &mut *t.future) };
        future.poll(cx)
    }
}

impl<F> Drop for Tracked<F> {
    fn drop(&mut self) {
        // SAFETY: dropped exactly once, here, in place (it is pinned), and
        // never used again.
        unsafe { ManuallyDrop::drop(&mut self.future) };
        // After the future: shutdown waits for the registry to empty, and
        // then every future's destructor has run.
        self.registry.remove(self.key);
    }
}
