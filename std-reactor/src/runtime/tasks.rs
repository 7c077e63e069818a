//! The registry of a runtime's live tasks, so that shutdown can drop them.
//!
//! A task's future is wrapped in [`Tracked`], which holds the task's slot in
//! the registry and frees it when the future is dropped (on completion or
//! cancellation). The slot holds an `AbortHandle`: shutdown aborts every
//! task still registered, and the runtime drops their futures.

use std::cell::Cell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use slab::Slab;

use crate::task::AbortHandle;

/// The live tasks of one runtime, in shards.
///
/// Each shard is a slab under its own lock. A spawn picks the next shard
/// of its thread's round (a thread-local counter, no shared write), so
/// threads that spawn and workers that finish tasks rarely want the same
/// lock at once; a task frees its slot in the shard it was given.
#[derive(Debug)]
pub(crate) struct TaskRegistry {
    shards: Box<[Mutex<Inner>]>,
    /// `shards.len() - 1`; the count is a power of two.
    mask: usize,
}

#[derive(Debug, Default)]
struct Inner {
    tasks: Slab<AbortHandle>,
    /// Set by shutdown: no new task is admitted.
    closed: bool,
}

/// Bits of a task's key that name its shard; the rest is its slab key.
const SHARD_BITS: u32 = 8;
const MAX_SHARDS: usize = 1 << SHARD_BITS;

thread_local! {
    /// This thread's round over the shards.
    static NEXT_SHARD: Cell<usize> = const { Cell::new(0) };
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
    shard: usize,
    registry: &'static TaskRegistry,
}

// === impl TaskRegistry ===

impl TaskRegistry {
    /// An open registry with no task, in `shards` shards (rounded up to a
    /// power of two, at most 256).
    pub(crate) fn new(shards: usize) -> TaskRegistry {
        let shards = shards.clamp(1, MAX_SHARDS).next_power_of_two();
        TaskRegistry {
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            mask: shards - 1,
        }
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Inner> {
        // No critical section calls out, so none leaves the slab
        // inconsistent.
        self.shards[shard].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a slot for a new task, or `None` if the runtime is shut down.
    /// The shard's lock is held until the reservation is filled or dropped.
    pub(crate) fn reserve(&'static self) -> Option<Reservation<'static>> {
        let shard = NEXT_SHARD.with(|next| {
            let shard = next.get();
            next.set(shard.wrapping_add(1));
            shard
        }) & self.mask;
        let inner = self.lock(shard);
        (!inner.closed).then_some(Reservation {
            inner,
            shard,
            registry: self,
        })
    }

    /// Closes the registry and aborts every live task. Returns how many
    /// were aborted.
    pub(crate) fn close_and_abort_all(&self) -> usize {
        let mut tasks: Vec<AbortHandle> = Vec::new();
        // Every shard closed before any task is aborted: an aborted task
        // cannot spawn another that slips in.
        let mut guards: Vec<_> = (0..self.shards.len()).map(|s| self.lock(s)).collect();
        for inner in &mut guards {
            inner.closed = true;
            tasks.extend(inner.tasks.iter().map(|(_, task)| task.clone()));
        }
        drop(guards);
        // Outside the locks: aborting an idle task schedules it, and the
        // scheduler looks at the registry.
        for task in &tasks {
            task.abort();
        }
        tasks.len()
    }

    /// How many tasks are alive (spawned and not yet dropped).
    pub(crate) fn len(&self) -> usize {
        (0..self.shards.len())
            .map(|s| self.lock(s).tasks.len())
            .sum()
    }

    fn remove(&self, key: usize) {
        let shard = key & self.mask;
        let removed = self.lock(shard).tasks.try_remove(key >> SHARD_BITS);
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
            key: self.inner.tasks.vacant_key() << SHARD_BITS | self.shard,
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
        static EXECUTOR: Executor = Executor::new();
        let registry: &'static TaskRegistry = Box::leak(Box::new(TaskRegistry::new(4)));
        let executor = &EXECUTOR;
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
        static EXECUTOR: Executor = Executor::new();
        let registry: &'static TaskRegistry = Box::leak(Box::new(TaskRegistry::new(4)));
        let executor = &EXECUTOR;
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
