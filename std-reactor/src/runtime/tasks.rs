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
    /// An open registry with no task.
    pub(crate) const fn new() -> TaskRegistry {
        TaskRegistry {
            inner: Mutex::new(Inner {
                tasks: Slab::new(),
                closed: false,
            }),
        }
    }

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

// Not under loom: core's executor is not `const` there, and nothing here
// is a model.
#[cfg(all(test, not(loom)))]
mod tests {
    //! The registry on core's executor, with no reactor: these also run
    //! under Miri (the `unsafe` pin projection and in-place drop above).

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use pollen_core::executor::Executor;

    use super::TaskRegistry;

    struct CountDrop(Arc<AtomicUsize>);

    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn spawn<F>(
        registry: &'static TaskRegistry,
        executor: &'static Executor,
        future: F,
    ) -> pollen_core::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let slot = registry.reserve().expect("registry open");
        let (runnable, handle) = pollen_core::task::new_boxed(slot.track(future), executor);
        slot.fill(handle.abort_handle());
        pollen_core::task::Schedule::schedule(executor, runnable);
        handle
    }

    #[test]
    fn a_finished_task_leaves_the_registry_after_its_future_is_dropped() {
        static REGISTRY: TaskRegistry = TaskRegistry::new();
        static EXECUTOR: Executor = Executor::new();
        let (registry, executor) = (&REGISTRY, &EXECUTOR);
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = CountDrop(drops.clone());
        let handle = spawn(registry, executor, async move {
            pollen_core::future::yield_now().await;
            drop(guard);
            5
        });
        assert_eq!(registry.len(), 1);
        executor.run_until_stalled();
        assert!(handle.is_finished());
        assert_eq!(registry.len(), 0);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn closing_aborts_every_live_task_and_refuses_new_ones() {
        static REGISTRY: TaskRegistry = TaskRegistry::new();
        static EXECUTOR: Executor = Executor::new();
        let (registry, executor) = (&REGISTRY, &EXECUTOR);
        let drops = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let guard = CountDrop(drops.clone());
            spawn(registry, executor, async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
        }
        executor.run_until_stalled();
        assert_eq!(registry.len(), 3);
        assert_eq!(registry.close_and_abort_all(), 3);
        executor.run_until_stalled();
        assert_eq!(registry.len(), 0);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        assert!(registry.reserve().is_none());
    }
}
