//! What can go wrong when talking to the queue.

use std::fmt;

/// The queue is gone (the service shut down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the job queue is shutting down")
    }
}

impl std::error::Error for Closed {}

/// Why a job was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue holds `capacity` jobs waiting to run: try again later.
    Full {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The service is shutting down.
    Closed,
    /// No worker is running (every one crashed too often and is down for
    /// now): try again later.
    NoWorkers,
    /// The job could not be written to the journal (so it was not
    /// accepted: it might not survive a crash).
    Journal {
        /// What the write said.
        error: String,
    },
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Full { capacity } => write!(
                f,
                "the queue is full ({capacity} jobs waiting to run); try again later"
            ),
            SubmitError::Closed => Closed.fmt(f),
            SubmitError::NoWorkers => {
                f.write_str("no worker is running (they crashed too often); try again later")
            }
            SubmitError::Journal { error } => {
                write!(f, "the job could not be written to the journal: {error}")
            }
        }
    }
}

impl std::error::Error for SubmitError {}

impl From<Closed> for SubmitError {
    fn from(Closed: Closed) -> SubmitError {
        SubmitError::Closed
    }
}

/// Why a dead job was not re-queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryError {
    /// No job has this id.
    NotFound,
    /// The job is not in the dead letters; `status` is where it is.
    NotDead {
        /// Its status (`pending`, `running`, ...).
        status: &'static str,
    },
    /// The queue is full; try again later.
    Full {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The service is shutting down.
    Closed,
}

impl fmt::Display for RetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryError::NotFound => f.write_str("no job has this id"),
            RetryError::NotDead { status } => {
                write!(
                    f,
                    "the job is {status}, not dead: only dead jobs are retried"
                )
            }
            RetryError::Full { capacity } => SubmitError::Full {
                capacity: *capacity,
            }
            .fmt(f),
            RetryError::Closed => Closed.fmt(f),
        }
    }
}

impl std::error::Error for RetryError {}

impl From<Closed> for RetryError {
    fn from(Closed: Closed) -> RetryError {
        RetryError::Closed
    }
}

/// Why a job was not deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteError {
    /// No job has this id.
    NotFound,
    /// A worker is running it; it can be deleted once it has ended.
    Running,
    /// The service is shutting down.
    Closed,
}

impl fmt::Display for DeleteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteError::NotFound => f.write_str("no job has this id"),
            DeleteError::Running => {
                f.write_str("the job is running; it can be deleted once it has ended")
            }
            DeleteError::Closed => Closed.fmt(f),
        }
    }
}

impl std::error::Error for DeleteError {}

impl From<Closed> for DeleteError {
    fn from(Closed: Closed) -> DeleteError {
        DeleteError::Closed
    }
}
