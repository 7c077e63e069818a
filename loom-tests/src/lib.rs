//! loom models of pollen-core's public API live in `tests/`; this crate has
//! no code of its own besides the model helper.
//!
//! Run them with `RUSTFLAGS="--cfg loom" cargo test -p pollen-loom-tests
//! --release`; without `--cfg loom` each model runs once as a plain test.

/// Runs `f` under `loom::model` with `--cfg loom`, directly otherwise.
pub fn model(f: impl Fn() + Sync + Send + 'static) {
    #[cfg(loom)]
    loom::model(f);
    #[cfg(not(loom))]
    f();
}

/// Threads: loom's with `--cfg loom`, std's otherwise.
pub mod thread {
    #[cfg(loom)]
    pub use loom::thread::{spawn, yield_now};
    #[cfg(not(loom))]
    pub use std::thread::{spawn, yield_now};
}
