//! The queue without HTTP: the state actor, the dispatcher and the
//! workers, started and stopped together.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use pollen::channel::mpsc;
use pollen::sync::CancellationToken;
use pollen::task::JoinHandle;
use pollen::time::timeout;

use crate::journal;
use crate::queue::{Queue, Status};
use crate::state;
use crate::workers;

/// How the queue behaves.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Worker tasks: the most jobs that run at once.
    pub workers: usize,
    /// The most jobs waiting to run (scheduled, pending, or failed and
    /// waiting for a retry) before submissions are refused.
    pub queue_capacity: usize,
    /// The wait before a failed job's first retry; it doubles for each
    /// retry after that.
    pub retry_base: std::time::Duration,
    /// Where the journal lives; without one, jobs live in memory only.
    pub data_dir: Option<PathBuf>,
    /// How many completed jobs are remembered (`GET /jobs/{id}` of an
    /// older one is `404`).
    pub keep_finished: usize,
    /// How many dead jobs are kept until retried or deleted; past that,
    /// the oldest death is deleted.
    pub max_dead: usize,
}

impl Default for QueueConfig {
    fn default() -> QueueConfig {
        QueueConfig {
            workers: 4,
            queue_capacity: 1000,
            retry_base: Duration::from_secs(1),
            data_dir: None,
            keep_finished: 100_000,
            max_dead: 10_000,
        }
    }
}

/// The running queue.
///
/// # Examples
///
/// ```
/// use pollen_jobs::{JobSpec, QueueConfig, Service};
///
/// #[pollen::main(flavor = "current_thread", start_paused = true)]
/// async fn main() {
///     let service = Service::start(&QueueConfig::default()).unwrap();
///     let queue = service.queue();
///     let spec = JobSpec::parse(br#"{"type":"sleep","payload":{"ms":1000}}"#).unwrap();
///     let id = queue.submit(spec).await.unwrap();
///     pollen::time::sleep(std::time::Duration::from_secs(2)).await;
///     let job = queue.job(id).await.unwrap().unwrap();
///     assert_eq!(job.state.name(), "completed");
///     service.shutdown(std::time::Duration::from_secs(5)).await;
/// }
/// ```
#[derive(Debug)]
pub struct Service {
    queue: Queue,
    stop: CancellationToken,
    dispatcher: JoinHandle<()>,
    workers: Vec<JoinHandle<()>>,
    /// The data dir's lock, held while the service lives.
    _lock: Option<std::fs::File>,
}

/// How a shutdown went.
#[derive(Clone, Debug, PartialEq)]
pub struct Drained {
    /// Whether every running job finished within the grace period (the
    /// others were abandoned).
    pub in_time: bool,
    /// The counts once the workers stopped; pending jobs stay pending.
    pub status: Option<Status>,
}

// === impl Service ===

impl Service {
    /// Starts the actor, the dispatcher and the workers on the current
    /// runtime. With a `data_dir`, first reads the journal back (jobs that
    /// were not done are queued again) and compacts it; that reading
    /// blocks the thread.
    ///
    /// # Errors
    ///
    /// The data directory or its journal cannot be created, read or
    /// written.
    ///
    /// # Panics
    ///
    /// Outside a pollen runtime, or if `workers` or `queue_capacity` is 0.
    pub fn start(config: &QueueConfig) -> io::Result<Service> {
        assert!(config.workers > 0, "pollen-jobs: at least one worker");
        assert!(
            config.queue_capacity > 0,
            "pollen-jobs: a queue capacity of at least one job"
        );
        let lock = match &config.data_dir {
            Some(dir) => Some(journal::lock(dir).map_err(|e| {
                io::Error::new(e.kind(), format!("the data dir {}: {e}", dir.display()))
            })?),
            None => None,
        };
        let journal = match &config.data_dir {
            Some(dir) => {
                let (recovery, file) = journal::open(dir).map_err(|e| {
                    io::Error::new(e.kind(), format!("the journal in {}: {e}", dir.display()))
                })?;
                let (tx, rx) = mpsc::unbounded_channel();
                let (written_tx, written) = mpsc::unbounded_channel();
                pollen::task::Builder::new()
                    .name("jobs-journal")
                    .spawn(journal::writer(
                        rx,
                        written_tx,
                        file,
                        dir.join(journal::JOURNAL_FILE),
                    ));
                Some((recovery, state::JournalLink { tx, written }))
            }
            None => None,
        };
        let alive = Arc::new(AtomicUsize::new(0));
        let (queue, _actor) = state::spawn(config, alive.clone(), journal);
        let stop = CancellationToken::new();
        let (dispatcher, workers) = workers::spawn(&queue, config.workers, &alive, &stop);
        Ok(Service {
            queue,
            stop,
            dispatcher,
            workers,
            _lock: lock,
        })
    }

    /// A handle to the queue.
    pub fn queue(&self) -> Queue {
        self.queue.clone()
    }

    /// Stops handing out jobs, lets the running ones finish for up to
    /// `grace`, then abandons the rest. Pending jobs are not run (with a
    /// journal they run after the next start, and so do abandoned ones);
    /// everything is in the journal, synced, when this returns.
    pub async fn shutdown(self, grace: Duration) -> Drained {
        self.stop.cancel();
        let _ = self.dispatcher.await;
        let mut workers = self.workers;
        let in_time = timeout(grace, async {
            for worker in &mut workers {
                let _ = worker.await;
            }
        })
        .await
        .is_ok();
        if !in_time {
            for worker in &workers {
                worker.abort();
            }
        }
        let _ = self.queue.flush().await;
        Drained {
            in_time,
            status: self.queue.status().await.ok(),
        }
    }
}
