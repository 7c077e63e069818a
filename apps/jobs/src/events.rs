//! The event bus: what happens to jobs, broadcast to whoever listens (the
//! log today; a dashboard later).
//!
//! The state actor publishes every event as the change happens, in the
//! order the changes happen. Publishing never waits: a subscriber that
//! falls more than [`EVENT_BUFFER`] events behind misses the oldest ones
//! and is told how many (`RecvError::Lagged`), without slowing the queue.

use std::fmt;
use std::time::Duration;

use crate::job::JobId;

/// Events kept for subscribers that are behind.
pub const EVENT_BUFFER: usize = 1024;

/// Something that happened to a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A job was accepted.
    JobEnqueued {
        /// Its id.
        id: JobId,
        /// Its type.
        kind: &'static str,
    },
    /// A worker started an attempt.
    JobStarted {
        /// The job.
        id: JobId,
        /// The worker.
        worker: usize,
        /// Which attempt (1 for the first).
        attempt: u32,
    },
    /// An attempt succeeded.
    JobCompleted {
        /// The job.
        id: JobId,
        /// How long the attempt ran.
        duration: Duration,
    },
    /// An attempt failed and the job will run again after `retry_in`.
    JobFailed {
        /// The job.
        id: JobId,
        /// Why.
        error: String,
        /// The backoff before the retry.
        retry_in: Duration,
    },
    /// An attempt failed and the job is out of retries.
    JobDead {
        /// The job.
        id: JobId,
        /// Why its last attempt failed.
        error: String,
    },
    /// A dead job was queued again by hand.
    JobRetried {
        /// The job.
        id: JobId,
    },
    /// A job was deleted by a client (`DELETE /jobs/{id}`).
    JobDeleted {
        /// The job.
        id: JobId,
    },
    /// A worker panicked (running a job, whose attempt failed with it).
    WorkerCrashed {
        /// The worker.
        worker: usize,
        /// The panic's message.
        error: String,
    },
    /// The supervisor started a crashed worker again.
    WorkerRestarted {
        /// The worker.
        worker: usize,
    },
    /// The supervisor gave up on a crashed worker: it was restarted
    /// [`MAX_RESTARTS`](crate::MAX_RESTARTS) times within a minute. It
    /// comes back (`WorkerRestarted`) once that minute has passed.
    WorkerGaveUp {
        /// The worker, down for now.
        worker: usize,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::JobEnqueued { id, kind } => write!(f, "job {id} ({kind}) enqueued"),
            Event::JobStarted {
                id,
                worker,
                attempt,
            } => write!(f, "job {id} started on worker {worker} (attempt {attempt})"),
            Event::JobCompleted { id, duration } => {
                write!(f, "job {id} completed in {duration:.1?}")
            }
            Event::JobFailed {
                id,
                error,
                retry_in,
            } => write!(f, "job {id} failed: {error}; retry in {retry_in:.1?}"),
            Event::JobDead { id, error } => {
                write!(f, "job {id} is dead (out of retries): {error}")
            }
            Event::JobRetried { id } => write!(f, "job {id} retried from the dead letters"),
            Event::JobDeleted { id } => write!(f, "job {id} deleted"),
            Event::WorkerCrashed { worker, error } => {
                write!(f, "worker {worker} crashed: {error}")
            }
            Event::WorkerRestarted { worker } => write!(f, "worker {worker} restarted"),
            Event::WorkerGaveUp { worker } => write!(
                f,
                "worker {worker} is not restarted for now: restarted {} times within a minute",
                crate::MAX_RESTARTS
            ),
        }
    }
}
