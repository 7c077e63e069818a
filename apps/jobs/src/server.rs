//! The HTTP server: the accept loop, one task per connection, and the
//! shutdown sequence the [crate docs](crate#shutdown) describe.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pollen::channel::broadcast;
use pollen::net::TcpListener;
use pollen::sync::{CancellationToken, OwnedSemaphorePermit, Semaphore};
use pollen::time::timeout;

use crate::events::Event;
use crate::http::{Budget, Conn, Limits, Read, Response};
use crate::queue::Queue;
use crate::service::{Drained, QueueConfig, Service};
use crate::{api, dashboard};

/// The largest request body accepted by default: 1 MiB.
pub const MAX_BODY: usize = 1 << 20;
/// The most bytes of request bodies buffered at once by default, over all
/// connections: 64 MiB, room for 64 bodies of [`MAX_BODY`] (and for
/// thousands of the usual job submissions, well under a KiB each).
pub const MAX_BODY_MEMORY: usize = 64 << 20;

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
    /// The largest request body accepted, in bytes; larger ones get `413`.
    /// Capped at `max_body_memory` (a body larger than the whole budget
    /// could never be read).
    pub max_body: usize,
    /// The most bytes of request bodies buffered at once, over all
    /// connections: each body takes its `Content-Length` from this budget
    /// before it is read and gives it back once its request is handled.
    /// A body that finds it spent waits, within its request timeout; past
    /// it, `503` with `Retry-After`.
    pub max_body_memory: usize,
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
            max_body_memory: MAX_BODY_MEMORY,
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
        max_body: config.max_body.min(config.max_body_memory),
        idle_timeout: config.idle_timeout,
        request_timeout: config.request_timeout,
    };
    let stop = CancellationToken::new();
    let dashboard = config.dashboard.then(|| {
        let in_place = std::io::IsTerminal::is_terminal(&std::io::stderr());
        pollen::spawn(dashboard::run(queue.clone(), stop.clone(), in_place))
    });
    let open = Arc::new(Semaphore::new(config.max_connections));
    let budget: Budget = Arc::new(Semaphore::new(config.max_body_memory));
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
                let conn = Conn::new(stream, limits, budget.clone());
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
    _permit: OwnedSemaphorePermit,
) {
    loop {
        match conn.read_request(&stop).await {
            Read::Request(request) => {
                let mut response = api::handle(&queue, &request).await;
                response.close |= !request.keep_alive || stop.is_cancelled();
                // HTTP/1.1 keeps the connection by default; HTTP/1.0 only
                // when the response says so.
                response.keep_alive = request.http_1_0 && !response.close;
                // The body and its bytes of the budget go back now, not
                // after a client slow to read the response.
                drop(request);
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
