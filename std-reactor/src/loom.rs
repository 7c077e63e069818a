//! The one door through which the std runtime's own hand-off protocols reach
//! atomics, locks and threads: loom's under `--cfg loom`, std's otherwise,
//! so the models next to the code explore every interleaving.
//!
//! The park protocol (`io/park.rs`) and the blocking pool (`blocking/`) go
//! through here; nothing in them imports `std::sync` or `std::thread`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic;

/// Threads: `Builder`, `spawn`, `yield_now`, `current`.
#[cfg(loom)]
pub(crate) use loom::thread;
#[cfg(not(loom))]
pub(crate) use std::thread;

/// Locks and condition variables.
pub(crate) mod sync {
    #[cfg(loom)]
    pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
    #[cfg(not(loom))]
    pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

    /// The error in a poisoned lock's result; loom's locks report std's.
    pub(crate) use std::sync::PoisonError;

    /// std's in both builds: loom has no `OnceLock`. Only for a value
    /// written once before the structure holding it is shared, so there is
    /// no race on it for loom to see.
    pub(crate) use std::sync::OnceLock;
}

/// Runs `f` under `loom::model` with `--cfg loom`, directly otherwise.
#[cfg(test)]
#[allow(dead_code)]
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    #[cfg(loom)]
    loom::model(f);
    #[cfg(not(loom))]
    f();
}

/// Threads, `Arc`, `Mutex` and `Condvar` for models.
#[cfg(test)]
#[allow(unused_imports)]
pub(crate) mod model_sync {
    pub(crate) use super::sync::{Condvar, Mutex};
    pub(crate) use super::thread;
    #[cfg(loom)]
    pub(crate) use loom::sync::Arc;
    #[cfg(not(loom))]
    pub(crate) use std::sync::Arc;
}
