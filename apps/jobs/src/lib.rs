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
//!   **dead** until `POST /dead/{id}/retry` queues it again.
//!
//! # Backpressure
//!
//! Jobs waiting to run (pending, or failed and waiting for their retry)
//! are at most `queue_capacity`: past that, `POST /jobs` answers `503`
//! with `Retry-After`, and nothing accepted is dropped. A job leaves the
//! queue only when a worker is free for it.
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
mod service;
mod state;
mod workers;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pollen::channel::broadcast;
use pollen::net::TcpListener;
use pollen::sync::{CancellationToken, OwnedSemaphorePermit, Semaphore, StdRawMutex};
use pollen::time::timeout;

pub use self::error::{Closed, RetryError, SubmitError};
pub use self::events::{EVENT_BUFFER, Event};
pub use self::fetch::HTTP_TIMEOUT;
pub use self::http::{MAX_HEAD, MAX_HEADERS};
pub use self::job::{
    DEFAULT_MAX_RETRIES, InvalidJob, JOB_TYPES, JobId, JobKind, JobSpec, JobView,
    MAX_CPU_ITERATIONS, MAX_RETRIES_LIMIT, MAX_SLEEP_MS, StateView,
};
pub use self::journal::{JOURNAL_FILE, LOCK_FILE};
pub use self::metrics::{DURATION_BUCKETS, Histogram, Metrics};
pub use self::queue::{Queue, Status};
pub use self::service::{Drained, QueueConfig, Service};
pub use self::state::backoff;
pub use self::workers::MAX_RESTARTS;

use self::http::{Conn, Limits, Read, Response};

/// The largest request body accepted by default: 1 MiB.
pub const MAX_BODY: usize = 1 << 20;

/// How the service behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// The queue: workers, capacity, retry backoff.
    pub queue: QueueConfig,
    /// How long running jobs get to finish at shutdown.
    pub shutdown_grace: Duration,
    /// How long requests being answered get at shutdown.
    pub drain_timeout: Duration,
    /// Close a keep-alive connection idle for this long.
    pub idle_timeout: Duration,
    /// The longest a request may take to arrive whole, from its first byte.
    pub request_timeout: Duration,
    /// The largest request body accepted, in bytes.
    pub max_body: usize,
    /// The most connections open at once; more are answered `503` and
    /// closed.
    pub max_connections: usize,
    /// Log accept errors to stderr.
    pub verbose: bool,
    /// Log every [`Event`] to stderr.
    pub log_events: bool,
    /// Draw the dashboard on stderr every second (in place when stderr is
    /// a terminal).
    pub dashboard: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            queue: QueueConfig::default(),
            shutdown_grace: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            max_body: MAX_BODY,
            max_connections: 10_000,
            verbose: false,
            log_events: false,
            dashboard: false,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Connections accepted.
    pub connections: u64,
    /// Requests answered (refusals included).
    pub requests: u64,
    /// How the queue's shutdown went.
    pub drained: Drained,
}

/// Serves the job queue's HTTP API on `listener` until `shutdown`
/// completes, then shuts down as the [crate docs](crate#shutdown) say.
///
/// Must run on a pollen runtime with I/O and time enabled.
///
/// # Errors
///
/// The journal in `config.queue.data_dir` cannot be opened (see
/// [`Service::start`]).
///
/// # Panics
///
/// If `config.queue` has no workers or no capacity.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<Summary> {
    let service = Service::start(&config.queue)?;
    let queue = service.queue();
    let log = config
        .log_events
        .then(|| pollen::spawn(log_events(queue.events())));
    let limits = Limits {
        max_body: config.max_body,
        idle_timeout: config.idle_timeout,
        request_timeout: config.request_timeout,
    };
    let stop = CancellationToken::new();
    let dashboard = config.dashboard.then(|| {
        let in_place = std::io::IsTerminal::is_terminal(&std::io::stderr());
        pollen::spawn(dashboard::run(queue.clone(), stop.clone(), in_place))
    });
    let open = Arc::new(Semaphore::<StdRawMutex>::with_raw_mutex(
        config.max_connections,
    ));
    let connections = AtomicU64::new(0);
    let requests = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    {
        let accept = async {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors, say: keep serving the others.
                        if config.verbose {
                            eprintln!("pollen-jobs: accept failed: {e}");
                        }
                        pollen::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                connections.fetch_add(1, Ordering::Relaxed);
                let conn = Conn::new(stream, limits);
                let Ok(permit) = open.clone().try_acquire_owned() else {
                    pollen::spawn(refuse(conn));
                    continue;
                };
                tasks.push(pollen::spawn(connection(
                    conn,
                    queue.clone(),
                    stop.clone(),
                    requests.clone(),
                    permit,
                )));
                // Forget finished connections now and then.
                if tasks.len() >= 64 && tasks.len().is_power_of_two() {
                    tasks.retain(|task| !task.is_finished());
                }
            }
        };
        pollen::select! {
            () = accept => {}
            () = shutdown => {}
        }
    }
    drop(listener);
    stop.cancel();
    let drained = timeout(config.drain_timeout, async {
        for task in &mut tasks {
            let _ = task.await;
        }
    })
    .await;
    if drained.is_err() {
        for task in &tasks {
            task.abort();
        }
    }
    if let Some(dashboard) = dashboard {
        // Its last frame, drawn at the stop.
        let _ = timeout(Duration::from_secs(1), dashboard).await;
    }
    drop(queue);
    let drained = service.shutdown(config.shutdown_grace).await;
    if let Some(log) = log {
        // The log ends once the actor is gone, after the last event: the
        // actor goes when the last handle to the queue does.
        let _ = timeout(Duration::from_secs(1), log).await;
    }
    Ok(Summary {
        connections: connections.load(Ordering::Relaxed),
        requests: requests.load(Ordering::Relaxed),
        drained,
    })
}

/// Serves requests on one connection until the client or the server ends
/// it.
async fn connection(
    mut conn: Conn,
    queue: Queue,
    stop: CancellationToken,
    requests: Arc<AtomicU64>,
    _permit: OwnedSemaphorePermit<StdRawMutex>,
) {
    loop {
        match conn.read_request(&stop).await {
            Read::Request(request) => {
                let mut response = api::handle(&queue, &request).await;
                response.close |= !request.keep_alive || stop.is_cancelled();
                // HTTP/1.1 keeps the connection by default; HTTP/1.0 only
                // when the response says so.
                response.keep_alive = request.http_1_0 && !response.close;
                requests.fetch_add(1, Ordering::Relaxed);
                if conn.respond(&response).await.is_err() || response.close {
                    return;
                }
            }
            Read::Refuse(response) => {
                requests.fetch_add(1, Ordering::Relaxed);
                if conn.respond(&response).await.is_ok() {
                    conn.linger().await;
                }
                return;
            }
            Read::Done => return,
        }
    }
}

/// Tells a client over the connection limit to come back later.
async fn refuse(mut conn: Conn) {
    let response = Response::error(503, "too many connections; try again later")
        .header("retry-after", "1")
        .close();
    if conn.respond(&response).await.is_ok() {
        conn.linger().await;
    }
}

/// Writes each event to stderr, until the queue is gone.
async fn log_events(mut events: broadcast::Receiver<'static, Event>) {
    loop {
        match events.recv().await {
            Ok(event) => eprintln!("pollen-jobs: {event}"),
            Err(broadcast::RecvError::Lagged(missed)) => {
                eprintln!("pollen-jobs: ({missed} events not logged: the log fell behind)");
            }
            Err(broadcast::RecvError::Closed) => return,
        }
    }
}
