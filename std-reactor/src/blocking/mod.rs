//! The blocking pool: the threads behind `spawn_blocking`.
//!
//! A blocking closure becomes an ordinary core task (a [`BlockingTask`]
//! whose first poll runs the closure to the end), so its caller awaits a
//! plain [`JoinHandle`](pollen_core::task::JoinHandle) and a panic in the
//! closure comes back as [`JoinError::is_panic`](pollen_core::task::JoinError::is_panic).
//! The [`BlockingPool`] is the task's scheduler: scheduling queues the task
//! for one of the pool's threads.
//!
//! # Guarantees
//!
//! - **FIFO.** Tasks start in the order they were spawned (several threads
//!   may then run them side by side).
//! - **Grows on demand.** A thread is started only when a task arrives and
//!   no thread is idle, up to `max_threads`; beyond that tasks wait in the
//!   queue. A thread idle for `keep_alive` exits.
//! - **No lost wake-ups.** A queued task is never left behind while every
//!   thread sleeps (see `pool.rs` for the protocol and the argument).
//! - **No lock on the common spawn path.** The queue is lock-free; the lock
//!   is only taken to wake an idle thread, to start one, and by a thread
//!   going to sleep.
//! - **Dropping work cancels it.** Tasks dropped by `shutdown`, or spawned
//!   after it, are never run: their closures are dropped (once) and their
//!   handles yield a cancelled `JoinError`.

mod config;
mod keep_alive;
mod pool;
mod queue;
mod state;
mod task;

// Under loom only the models run: the other tests use real threads and time.
#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(test)]
mod loom_tests;

pub(crate) use self::config::BlockingConfig;
pub(crate) use self::pool::BlockingPool;
pub(crate) use self::task::BlockingTask;
