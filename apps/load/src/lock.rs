//! [`lock`]: a mutex's guard, poisoned or not.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, even if a thread panicked while holding it: every
/// critical section of this crate (a push or pop on the connection pool,
/// an update of the tally) leaves its data consistent, so a panic cannot
/// have left it half done.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
