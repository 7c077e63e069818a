//! `Spawner`: a copyable handle that spawns onto one executor.

use core::fmt;

use super::Executor;

/// Spawns tasks onto an [`Executor`] from anywhere: from inside its tasks,
/// from other threads (it is `Send` and `Sync`, and only accepts `Send`
/// futures), or from an interrupt handler (spawning into static storage).
///
/// # Examples
///
/// ```
/// use pollen_core::executor::Executor;
///
/// static EXECUTOR: Executor = Executor::new();
///
/// let spawner = EXECUTOR.spawner();
/// let outer = spawner.spawn(async move {
///     // Spawn a child from inside a task.
///     spawner.spawn(async { 2 }).await.unwrap() * 21
/// });
/// EXECUTOR.run_until_stalled();
/// assert!(outer.is_finished());
/// ```
#[derive(Clone, Copy)]
pub struct Spawner {
    executor: &'static Executor,
}

impl Spawner {
    pub(crate) fn new(executor: &'static Executor) -> Spawner {
        Spawner { executor }
    }

    /// The executor this spawner spawns onto, for spawning into static
    /// storage: `POOL.spawn(spawner.executor(), future)`.
    pub fn executor(&self) -> &'static Executor {
        self.executor
    }

    /// Spawns a boxed task; see [`Executor::spawn`].
    #[cfg(feature = "alloc")]
    pub fn spawn<F>(&self, future: F) -> crate::task::JoinHandle<F::Output>
    where
        F: core::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.executor.spawn(future)
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner")
            .field("executor", &(self.executor as *const Executor))
            .finish()
    }
}
