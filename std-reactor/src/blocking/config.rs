//! `BlockingConfig`: how the blocking pool sizes and names its threads.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Settings of a [`BlockingPool`](super::BlockingPool), filled in by the
/// runtime builder.
#[derive(Clone)]
pub(crate) struct BlockingConfig {
    /// The most threads the pool runs at once (default 512). `0` counts as
    /// `1`; the pool also caps it at what its state word can count (far
    /// more than an operating system allows).
    pub(crate) max_threads: usize,
    /// How long a thread waits for work before it exits (default 10 s).
    pub(crate) keep_alive: Duration,
    /// Names each new thread (default `"pollen-blocking"`).
    pub(crate) thread_name: Arc<dyn Fn() -> String + Send + Sync>,
    /// The stack size of each thread, or the standard library's default.
    pub(crate) stack_size: Option<usize>,
    /// Runs on each new thread before it takes work.
    pub(crate) on_thread_start: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Runs on each thread after it stopped taking work, before it exits.
    pub(crate) on_thread_stop: Option<Arc<dyn Fn() + Send + Sync>>,
}

// === impl BlockingConfig ===

impl Default for BlockingConfig {
    fn default() -> BlockingConfig {
        BlockingConfig {
            max_threads: 512,
            keep_alive: Duration::from_secs(10),
            thread_name: Arc::new(|| String::from("pollen-blocking")),
            stack_size: None,
            on_thread_start: None,
            on_thread_stop: None,
        }
    }
}

impl fmt::Debug for BlockingConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingConfig")
            .field("max_threads", &self.max_threads)
            .field("keep_alive", &self.keep_alive)
            .field("stack_size", &self.stack_size)
            .field("on_thread_start", &self.on_thread_start.is_some())
            .field("on_thread_stop", &self.on_thread_stop.is_some())
            .finish_non_exhaustive()
    }
}
