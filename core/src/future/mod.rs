//! Futures and combinators that need no executor and no allocation.
//!
//! | item | what it is |
//! |---|---|
//! | [`yield_now`] | returns `Pending` once, waking itself first, then `Ready` |
//! | [`poll_fn`] / [`PollFn`] | a future from a `FnMut(&mut Context) -> Poll<T>` |
//! | [`ready`] / [`Ready`] | ready with a value on the first poll |
//! | [`pending`] / [`Pending`] | never ready |
//! | [`fuse`] / [`Fuse`] | pending forever after completion; a [`FusedFuture`] (around a `Stream`, a `FusedStream`) |
//! | [`join!`](crate::join), [`join`], [`join3`] | wait for all, outputs as a tuple |
//! | `join_all` / `JoinAll` (feature `alloc`) | wait for all of a collection, outputs as a `Vec` in input order |
//! | [`select!`](crate::select) | wait for the first branch whose output matches its pattern |
//!
//! `join!` and `select!` are exported at the crate root
//! (`pollen_core::join!`, `pollen_core::select!`) and are usable without the
//! `alloc` feature. Only `join_all` allocates.
//!
//! # Guarantees
//!
//! - **No lost wake-ups.** A future here returns `Pending` only after an inner
//!   future it polled returned `Pending` (which arranged its own wake-up), or
//!   after waking the waker itself ([`yield_now`]). The one exception is
//!   [`pending`], which never completes and never wakes.
//! - **Nothing is polled after it completed.** `join!`, `join_all` and
//!   `select!` never poll an inner future again once it has returned
//!   `Ready`. [`Fuse`] makes any future safe to poll after it completed.
//! - **Every value is dropped exactly once.** `join!`, `join_all` and
//!   [`Fuse`] drop an inner future as soon as it completes; dropping any of
//!   these futures early drops the inner futures and outputs they still
//!   hold. `select!` drops all its futures before it runs the winning arm.
//! - **Fairness.** `join!` and `join_all` poll every unfinished future on
//!   each wake, in order. `select!` starts at a random branch on each poll
//!   unless written with `biased;`.
//!
//! What dropping loses is told under `# Cancel safety` on each item.
//!
//! [`FusedFuture`]: futures_core::future::FusedFuture

mod fuse;
mod join;
#[cfg(feature = "alloc")]
mod join_all;
mod pending;
mod poll_fn;
mod ready;
mod rng;
mod select;
mod yield_now;

pub use self::fuse::{Fuse, fuse};
pub use self::join::{join, join3};
#[cfg(feature = "alloc")]
pub use self::join_all::{JoinAll, join_all};
pub use self::pending::{Pending, pending};
pub use self::poll_fn::{PollFn, poll_fn};
pub use self::ready::{Ready, ready};
#[cfg(feature = "std")]
pub use self::rng::seed_select;
pub use self::yield_now::{YieldNow, yield_now};

/// What the exported macros name through `$crate`. Not public API: may change
/// in any release.
#[doc(hidden)]
pub mod __private {
    pub use super::join::{poll_join_slot, take_join_output};
    pub use super::rng::SelectRng;
    pub use core::future::Future;
    pub use core::pin::pin;
    pub use core::task::Poll;
}
