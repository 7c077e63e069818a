//! The memory probe's protocol, shared by the bench and the probe
//! (`src/bin/mt-memory.rs`, which includes this file as its own module).
//!
//! The bench runs `mt-memory --runtime <pollen|tokio|smol> --park
//! <pending|oneshot> --tasks N`; the probe answers with one line of JSON on
//! stdout, a [`ProbeSample`].

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// The runtime the probe measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Runtime {
    Pollen,
    Tokio,
    Smol,
}

/// What the probe's tasks wait on, forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Park {
    /// `std::future::pending()`: the task alone.
    Pending,
    /// The receiver of the runtime's oneshot, whose sender the task holds
    /// and never sends on: the task and one channel.
    Oneshot,
}

/// What `tasks` parked tasks added to the probe's memory.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct ProbeSample {
    /// Tasks parked.
    pub tasks: u64,
    /// Heap bytes allocated and not freed (as requested of the allocator,
    /// without its own overhead), after less before.
    pub heap_bytes: i64,
    /// Allocations not freed, after less before.
    pub allocations: i64,
    /// Resident memory (`/proc/self/statm`), after less before.
    pub rss_bytes: i64,
}
