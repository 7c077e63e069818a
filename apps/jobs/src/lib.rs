//! The job-queue service behind `pollen-jobs`, as a library so tests can
//! run it in-process.
//!
//! # Design
//!
//! - An **accept loop** spawns one task per HTTP connection
//!   (requests are read with `httparse`, bodies framed by
//!   `Content-Length`; see the README for every status code).
//! - A **state actor** owns every piece of mutable state: the queue of
//!   pending jobs, each job's record, the scheduled retries, the dead
//!   letters and the counters. Connections, the dispatcher and the
//!   workers reach it through one bounded channel of commands, questions
//!   carrying a oneshot for the answer. A [`Queue`] is a handle to it.
//! - A **dispatcher** takes a permit from a semaphore of `workers` permits,
//!   then the next pending job from the actor, and hands both to the
//!   **workers**: `workers` long-lived tasks (`cpu` jobs run on the
//!   blocking pool).
//! - A **supervisor** task per worker restarts it when a job panics (the
//!   attempt fails and is retried), at most [`MAX_RESTARTS`] times a minute
//!   for that worker; past that, the crashed worker stays down, loudly,
//!   until the minute has passed. With no worker alive, `POST /jobs`
//!   answers `503`.
//! - An **event bus** (a broadcast channel, [`Queue::events`]) carries
//!   what happens to jobs and workers ([`Event`]) to the log, and to a
//!   dashboard later.
//! - A failed attempt is retried after `retry_base`, then twice that, and
//!   so on ([`backoff`]), up to the job's `max_retries`; then the job is
//!   **dead** until `POST /dead/{id}/retry` queues it again or it is
//!   deleted. Past `max_dead` dead jobs, the oldest death is deleted.
//! - Pending jobs wait in one line per [`Priority`], taken in strict order
//!   (high, normal, low). A job submitted with `delay_ms` or `run_at` is
//!   **scheduled** until then; scheduled jobs and failed ones waiting for
//!   their retry share one set ordered by time, which the actor sleeps on.
//! - `GET /jobs` lists jobs by id, a page at a time ([`JobQuery`]);
//!   `DELETE /jobs/{id}` deletes one no worker has.
//!
//! # Backpressure
//!
//! Jobs waiting to run (scheduled, pending, or failed and waiting for
//! their retry) are at most `queue_capacity`: past that, `POST /jobs` answers `503`
//! with `Retry-After`, and nothing accepted is dropped. A job leaves the
//! queue only when a worker is free for it.
//!
//! Request bodies buffered at once hold at most `max_body_memory` bytes
//! over all connections: a body takes its `Content-Length` from that
//! budget before it is read (before `100 Continue`), and waits while it
//! is spent; a body still waiting at its request timeout gets `503` with
//! `Retry-After`. What else a connection may hold (its head buffer, at
//! most [`MAX_HEAD`] + [`READ_SIZE`] bytes) is in the `http` module's
//! docs.
//!
//! # Shutdown
//!
//! When the `shutdown` future given to [`serve`] completes, the listener
//! closes, idle connections close, requests being read are answered, then
//! the dispatcher stops and running jobs get `shutdown_grace` to finish.
//! Jobs still pending are not run: with a data directory they stay in the
//! journal and run after the next start (so do jobs abandoned at the end
//! of the grace period, the abandoned attempt counted as a failure, as
//! after a crash); without one they are lost.
//!
//! # Durability
//!
//! With `data_dir`, one service at a time may use the directory (a second
//! one fails to start: the first holds a lock on its `LOCK` file, released
//! when the process ends). Every accepted job is appended to a journal and synced
//! before its `201` and before it can run (until then `GET` says `404`),
//! and every change after it is appended too; a job shows completed (or
//! dead) only once that entry is written. A restart reads the journal
//! back, so a crash loses no accepted job and reruns none that was seen
//! completed; an attempt a crash interrupted uses one of the job's
//! retries (with none left, the job is dead). Once a journal write fails, the submission waiting for it
//! and every later one get a `500`: nothing is accepted that would not
//! survive a crash. It is compacted at start and as it grows; completed jobs past
//! `keep_finished` are forgotten. The journal's format, its group commit,
//! its replay and its compaction are described in the `journal` module's
//! source.
#![forbid(unsafe_code)]

mod api;
mod dashboard;
#[cfg(test)]
mod durability_tests;
mod error;
mod events;
mod exec;
mod fetch;
mod http;
mod job;
mod journal;
mod metrics;
mod queue;
mod server;
mod service;
mod state;
mod workers;

pub use self::api::{DEFAULT_PAGE, MAX_PAGE};
pub use self::error::{Closed, DeleteError, RetryError, SubmitError};
pub use self::events::{EVENT_BUFFER, Event};
pub use self::fetch::HTTP_TIMEOUT;
pub use self::http::{MAX_HEAD, MAX_HEADERS, READ_SIZE};
pub use self::job::{
    DEFAULT_MAX_RETRIES, InvalidJob, JOB_TYPES, JobId, JobKind, JobSpec, JobView,
    MAX_CPU_ITERATIONS, MAX_DELAY, MAX_HTTP_TIMEOUT_MS, MAX_RETRIES_LIMIT, MAX_SLEEP_MS, Priority,
    STATUSES, StateView,
};
pub use self::journal::{JOURNAL_FILE, LOCK_FILE};
pub use self::metrics::{DURATION_BUCKETS, Histogram, Metrics};
pub use self::queue::{JobPage, JobQuery, Queue, Status};
pub use self::service::{Drained, QueueConfig, Service};
pub use self::state::backoff;
pub use self::workers::MAX_RESTARTS;

pub use self::server::{Config, MAX_BODY, MAX_BODY_MEMORY, Summary, serve};
