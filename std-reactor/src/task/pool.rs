//! `TaskPool`: fixed memory for up to `N` tasks of one future type, on a
//! pollen runtime.

use std::future::Future;

use pollen_core::task::SpawnError;

use crate::runtime::Handle;
use crate::runtime::tasks::Tracked;
use crate::task::JoinHandle;

/// Room for at most `N` live tasks of future type `F`, in a `static`: the
/// admission control a server needs (one pooled task per connection, say),
/// with no allocation per task.
///
/// The runtime's flavour of the core's
/// [`TaskPool`](pollen_core::task::TaskPool): its tasks run on a pollen
/// runtime like any other (they show in [`Handle::dump`], and shutdown
/// drops them), and [`try_spawn`](Self::try_spawn) refuses with
/// [`SpawnError::Busy`] when all `N` slots hold live tasks. A slot is free
/// again once its task has finished and its `JoinHandle` and wakers are
/// gone.
///
/// `F` must be nameable to write the `static`'s type: a future type of
/// your own, or a boxed future if only the count matters.
///
/// # Examples
///
/// ```
/// use std::future::Ready;
///
/// use pollen::task::{SpawnError, TaskPool};
///
/// static POOL: TaskPool<Ready<u32>, 2> = TaskPool::new();
///
/// # let runtime = pollen::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let a = POOL.try_spawn(std::future::ready(1)).unwrap();
/// let b = POOL.try_spawn(std::future::ready(2)).unwrap();
/// assert_eq!(POOL.try_spawn(std::future::ready(3)).unwrap_err(), SpawnError::Busy);
/// assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
/// assert_eq!(POOL.busy(), 0);
/// # });
/// ```
pub struct TaskPool<F: Future, const N: usize> {
    pool: pollen_core::task::TaskPool<Tracked<F>, N>,
}

impl<F: Future, const N: usize> TaskPool<F, N> {
    /// An empty pool, usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> TaskPool<F, N> {
        TaskPool {
            pool: pollen_core::task::TaskPool::new(),
        }
    }

    /// An empty pool (not `const` under loom, whose atomics are not).
    #[cfg(loom)]
    pub fn new() -> TaskPool<F, N> {
        TaskPool {
            pool: pollen_core::task::TaskPool::new(),
        }
    }

    /// How many slots hold live tasks now.
    pub fn busy(&self) -> usize {
        self.pool.busy()
    }

    /// How many tasks the pool holds at most: `N`.
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<F, const N: usize> TaskPool<F, N>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    /// Spawns `future` on the current runtime in a free slot.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Busy`] if every slot holds a live task,
    /// [`SpawnError::ShutDown`] if the runtime has shut down; `future` is
    /// dropped.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn try_spawn(&'static self, future: F) -> Result<JoinHandle<F::Output>, SpawnError> {
        self.try_spawn_on(&Handle::current(), future)
    }

    /// Spawns `future` on the runtime of `handle` in a free slot; see
    /// [`try_spawn`](Self::try_spawn).
    ///
    /// # Errors
    ///
    /// As `try_spawn`.
    #[track_caller]
    pub fn try_spawn_on(
        &'static self,
        handle: &Handle,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError> {
        handle.shared.spawn_pooled(&self.pool, future)
    }
}

impl<F: Future, const N: usize> Default for TaskPool<F, N> {
    fn default() -> Self {
        TaskPool::new()
    }
}

impl<F: Future, const N: usize> std::fmt::Debug for TaskPool<F, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskPool")
            .field("capacity", &N)
            .field("busy", &self.busy())
            .finish()
    }
}
