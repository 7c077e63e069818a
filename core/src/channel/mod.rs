//! Channels: tasks talk by sending values.
//!
//! - [`oneshot`]: one value, once, from one task to another.
//! - [`mpsc`]: bounded, many senders, one receiver, with backpressure.
//! - [`watch`]: the latest value, for any number of receivers.
//! - [`broadcast`]: every message to every receiver; one that falls behind
//!   lags instead of holding the sender back.
//!
//! Each channel has a `static`-friendly form that needs no heap (a
//! `Channel` value you put in a `static` and `split`), and under `alloc`
//! the `channel()` constructor users of other runtimes know, which keeps the
//! channel on the heap (in an `Arc`; `oneshot`'s in a `Box` that its last
//! half frees, with no reference count).

pub mod broadcast;
pub mod mpsc;
pub mod oneshot;
pub mod watch;

#[cfg(all(test, feature = "alloc"))]
mod loom_tests;
