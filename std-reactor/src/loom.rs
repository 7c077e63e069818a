//! The one door through which the std runtime's own hand-off protocols reach
//! atomics and locks: loom's under `--cfg loom`, std's otherwise, so the
//! models next to the code explore every interleaving.

#[cfg(loom)]
pub(crate) use loom::sync::atomic;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic;

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
    #[cfg(loom)]
    pub(crate) use loom::sync::{Arc, Condvar, Mutex};
    #[cfg(loom)]
    pub(crate) use loom::thread;
    #[cfg(not(loom))]
    pub(crate) use std::sync::{Arc, Condvar, Mutex};
    #[cfg(not(loom))]
    pub(crate) use std::thread;
}
