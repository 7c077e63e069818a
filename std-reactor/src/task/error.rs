//! Errors of the task-local API.

use std::fmt;

/// A task-local value could not be read: no scope of its key is active on
/// this thread right now.
///
/// Returned by [`LocalKey::try_with`](super::LocalKey::try_with), outside
/// every [`scope`](super::LocalKey::scope) and
/// [`sync_scope`](super::LocalKey::sync_scope) of the key (which includes a
/// task spawned from inside a scope: task-locals are not inherited), after
/// the value was taken with
/// [`TaskLocalFuture::take_value`](super::TaskLocalFuture::take_value), or
/// while the thread's thread-locals are being destroyed.
///
/// # Examples
///
/// ```
/// pollen::task_local! {
///     static TRACE_ID: u64;
/// }
///
/// let err = TRACE_ID.try_with(|id| *id).unwrap_err();
/// assert_eq!(err.to_string(), "task-local value not set");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError {
    _private: (),
}

// === impl AccessError ===

impl AccessError {
    pub(super) fn new() -> AccessError {
        AccessError { _private: () }
    }
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessError").finish_non_exhaustive()
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set")
    }
}

impl std::error::Error for AccessError {}
