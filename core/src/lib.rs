//! The executor core of pollen: tasks, wakers and a run queue that work the
//! same on a microcontroller with no heap and inside a server runtime.
//!
//! - [`task`]: the task representation (a 32-byte header on 64-bit targets),
//!   [`JoinHandle`](task::JoinHandle), static task storage
//!   ([`TaskStorage`](task::TaskStorage), [`TaskPool`](task::TaskPool),
//!   [`TaskArena`](task::TaskArena)) and, with `alloc`, boxed tasks.
//! - [`executor`]: the [`Executor`](executor::Executor) an embedder drives
//!   with `tick`, `run_until_stalled`, `run(park)` or `block_on`.
//! - [`future`]: `yield_now`, `poll_fn`, [`join!`], [`select!`], `Fuse`, ...
//! - [`channel`]: [`oneshot`](channel::oneshot) so far, each with a
//!   `static` form that needs no heap.
//! - [`sync`]: the async [`Mutex`](sync::Mutex), [`Semaphore`](sync::Semaphore)
//!   and [`Notify`](sync::Notify), the [`RawMutex`](sync::RawMutex) lock
//!   parameter core primitives take, and
//!   [`blocking_mutex::Mutex`](sync::blocking_mutex::Mutex).
//! - [`time`]: the [`Clock`](time::Clock) trait, the timer wheel
//!   ([`Timer`](time::Timer)), `sleep`, `timeout`, `Interval`, and virtual
//!   time ([`ManualClock`](time::ManualClock)).
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---------|---------|--------------|
//! | `alloc` | yes     | boxed tasks (`Executor::spawn`), `join_all` |
//! | `std`   | no      | panics in tasks caught as `JoinError`, `StdPark` (also a `ParkTimeout`), `StdRawMutex` (then the lock of every primitive that names none: `DefaultRawMutex`), the cooperative budget, `blocking_*` methods on the channels and locks for plain threads |
//!
//! Without `alloc` nothing allocates; with it, only the APIs that say so do.
//! Waking a task never allocates.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(
    missing_docs,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

#[cfg(all(feature = "std", not(loom)))]
mod blocking;
mod loom;
#[cfg(all(test, feature = "alloc"))]
#[macro_use]
mod loom_test_slot;

pub mod channel;
pub mod executor;
pub mod future;
pub mod sync;
pub mod task;
pub mod time;
