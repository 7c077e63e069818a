//! [`AbortOnDrop`]: tasks that must not outlive the load that spawned them.

use pollen::task::AbortHandle;

/// Aborts its tasks when dropped (when the load's future is dropped before
/// they end; after they ended, aborting does nothing).
#[derive(Debug, Default)]
pub(crate) struct AbortOnDrop(pub(crate) Vec<AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
