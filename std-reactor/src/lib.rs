//! pollen: the async runtime for desktop and server programs.
//!
//! This crate re-exports the portable API of [`pollen_core`] (tasks, the
//! embeddable executor, future utilities, sync primitives, timers) and adds
//! what needs an operating system: today the monotonic clock
//! [`time::StdClock`]. The mio reactor, sockets, the work-stealing pool, the
//! blocking pool, signals and the `#[pollen::main]` / `#[pollen::test]`
//! macros build on it.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub use pollen_core::{executor, future, join, select, sync, task};

pub mod time;

mod blocking;
