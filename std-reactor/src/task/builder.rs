//! `task::Builder`: spawning with options.

use std::future::Future;

use crate::runtime::Handle;
use crate::task::JoinHandle;

/// Spawns a task with options: for now, a name, which
/// [`Handle::dump`](crate::runtime::Handle::dump) and the runtime's stall
/// reports show next to the task's id and spawn location.
///
/// # Examples
///
/// ```
/// # let runtime = pollen::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let task = pollen::task::Builder::new()
///     .name("compactor")
///     .spawn(async { 3 });
/// assert_eq!(task.await.unwrap(), 3);
/// # });
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[must_use = "a builder does nothing until `spawn`"]
pub struct Builder<'a> {
    name: Option<&'a str>,
}

impl<'a> Builder<'a> {
    /// A builder with no options set.
    pub fn new() -> Builder<'a> {
        Builder::default()
    }

    /// Names the task.
    pub fn name(self, name: &'a str) -> Builder<'a> {
        Builder { name: Some(name) }
    }

    /// Spawns `future` on the current runtime, as [`crate::spawn`].
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_on(future, &Handle::current())
    }

    /// Spawns `future` on the runtime of `handle`.
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        handle.shared.spawn(future, self.name)
    }

    /// Spawns a future that is not `Send` on this thread, as
    /// [`spawn_local`](crate::task::spawn_local).
    ///
    /// # Panics
    ///
    /// As `spawn_local`.
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        crate::runtime::local::spawn_local_named(future, self.name)
    }
}
