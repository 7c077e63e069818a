//! Tasks: everything in [`pollen_core::task`] (`JoinHandle`, `JoinError`,
//! static task storage, ...; its module docs describe the task design),
//! plus task-local storage.
//!
//! # Task-locals
//!
//! [`task_local!`](crate::task_local) declares keys ([`LocalKey`]) whose
//! value a future sees while it runs inside [`LocalKey::scope`] (a
//! [`TaskLocalFuture`]), without passing it down through every call.
//!
//! - The value is set only while the scoped future is being polled (or
//!   dropped), and only on the polling thread: tasks interleaving on one
//!   thread each see their own value, and between polls the key is not set.
//! - Scopes of one key nest: the innermost value wins, and the outer value
//!   is back after every poll of an inner scope, also when that poll panics.
//! - The value is never cloned and is dropped exactly once: with its
//!   `TaskLocalFuture`, when [`sync_scope`](LocalKey::sync_scope) returns, or
//!   by whoever took it with [`take_value`](TaskLocalFuture::take_value).
//! - A `TaskLocalFuture` dropped early drops its inner future with the key
//!   set, so the inner future's destructors can read the value.
//! - [`with`](LocalKey::with) inside `with` of the same key is fine;
//!   entering a scope of a key inside `with` of that key panics (the value
//!   is borrowed). Neither is undefined behaviour.
//!
//! ## Not inherited by spawned tasks
//!
//! A task spawned from inside a scope does **not** see the value. Spawning
//! only queues the new task; its executor polls it later, outside the poll
//! of the future that spawned it, where the key is not set. Pass the value
//! in explicitly, or give the child a scope of its own:
//!
//! ```
//! use pollen::executor::{Executor, StdPark};
//!
//! pollen::task_local! {
//!     static REQUEST_ID: u64;
//! }
//!
//! static EXECUTOR: Executor = Executor::new();
//! static PARK: StdPark = StdPark::new();
//!
//! EXECUTOR.block_on(&PARK, REQUEST_ID.scope(7, async {
//!     let id = REQUEST_ID.get();
//!     let child = EXECUTOR.spawn(async { REQUEST_ID.try_with(|id| *id).is_ok() });
//!     assert!(!child.await.unwrap(), "children do not inherit");
//!
//!     let child = EXECUTOR.spawn(REQUEST_ID.scope(id, async { REQUEST_ID.get() }));
//!     assert_eq!(child.await.unwrap(), 7, "unless given a scope of their own");
//! }));
//! ```

mod builder;
mod error;
mod join_set;
mod local;
mod pool;

pub use pollen_core::task::*;

pub use crate::runtime::{spawn, spawn_blocking, spawn_local};
/// Gives the runtime a chance to run other tasks: the task is queued
/// behind the others and the current poll returns.
pub use pollen_core::future::{YieldNow, yield_now};

pub use self::builder::Builder;
pub use self::error::AccessError;
pub use self::join_set::JoinSet;
pub use self::local::{LocalKey, TaskLocalFuture};
pub use self::pool::TaskPool;
pub use crate::task_local;
