//! The HTTP load: requests over keep-alive HTTP/1.1 connections, each in
//! its own task, at most `concurrency` at once.
//!
//! # How a load runs
//!
//! A semaphore with `concurrency` permits bounds the requests in flight.
//! The load's loop (a task on the runtime, so that starting a request
//! needs no hand-off between threads) takes a permit, then spawns the
//! request as a task of its own, inside a [`REQUEST_ID`] scope that holds
//! its number (1, 2, ...) for the `X-Request-Id` header; the task gives the
//! permit back when it is done. Connections are kept in a pool: a request takes an idle one (or
//! connects a new one), and puts it back after a complete response that
//! leaves it open, so there are never more connections than permits. A
//! request on a reused connection that the server had closed meanwhile
//! (it fails before any byte of the response) is retried once on a newly
//! connected one (not another pooled one, which may be as stale), as
//! browsers do, if its method is idempotent (`GET`, `HEAD`, `PUT`,
//! `DELETE`, `OPTIONS`, `TRACE`): the server may have acted on it, so a
//! `POST` fails instead. The idle connections left in the pool are dropped
//! then, and the report counts the retries. Before a pooled connection
//! is reused it is looked at without waiting: one the server has closed,
//! or sent bytes on unasked (a `408` before closing), is dropped with the
//! rest of the pool, and the request connects anew; otherwise such bytes
//! would be read as its response.
//!
//! Each request, connect included, has `timeout` to complete. It ends as
//! an HTTP status (recorded with its latency), or an error of one
//! [`ErrorKind`] (recorded without latency). Nothing a server sends (or
//! does not send) makes the load hang or panic.
//!
//! # Closed and open loop
//!
//! Without a rate, each permit starts the next request as soon as the last
//! one finished (closed loop), and latency is measured from when the
//! request starts. With a rate, request `i` is *due* at `start + i / rate`
//! whether or not earlier requests are done (open loop), and latency is
//! measured from when it was due: a server that stalls for a second shows
//! a second of latency on every request that was due meanwhile, not only on
//! the one it stalled on (no coordinated omission). A request may start up
//! to a millisecond before it is due (then its latency counts from its
//! start), so that the timers' own lateness is not counted as latency.
//! When `concurrency` is too low for the rate, requests start late; those
//! still not started when the load stops are reported as not sent, with
//! the rate achieved.
//!
//! # Stopping
//!
//! The load stops starting requests after `requests` requests, after
//! `duration`, or when its [`Control`] is stopped, whichever comes first;
//! then it waits (at most `timeout`, since each request is bounded by it)
//! for the requests in flight, and reports. [`run`] returns only when the
//! report is complete.

mod conn;
mod request;

use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pollen::sync::{OwnedSemaphorePermit, Semaphore};
use pollen::time::Instant;

use self::conn::{Conn, Transfer};
use self::request::RequestTemplate;
use crate::abort::AbortOnDrop;
use crate::connect::{Connect, connect_within};
use crate::control::Control;
use crate::error::{ErrorKind, SetupError};
use crate::lock::lock;
use crate::report::{Mode, Report};
use crate::stats::{Outcome, Recorder};
use crate::url::HttpUrl;

pollen::task_local! {
    /// The number of the request the current task sends (1, 2, ...), sent
    /// as its `X-Request-Id` header.
    pub static REQUEST_ID: u64;
}

/// What an HTTP load sends, and how much.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Where to send the requests.
    pub url: HttpUrl,
    /// `GET`, `POST`, ...
    pub method: String,
    /// Extra headers, sent as given.
    pub headers: Vec<(String, String)>,
    /// A request body (sent with `Content-Length`, and `Content-Type:
    /// application/json` unless `headers` has a `Content-Type`).
    pub body: Option<Vec<u8>>,
    /// Stop after this many requests (`None`: only `duration` or the
    /// control stops the load).
    pub requests: Option<u64>,
    /// Stop starting requests after this long.
    pub duration: Option<Duration>,
    /// Requests in flight at most (and connections open at most). At
    /// least 1.
    pub concurrency: usize,
    /// Requests per second to start (open loop), if any.
    pub rate: Option<f64>,
    /// How long one request may take, connecting included.
    pub timeout: Duration,
}

impl HttpConfig {
    /// `GET url`, 100 requests, 10 at a time, 10 s timeout: the CLI's
    /// defaults.
    pub fn new(url: HttpUrl) -> HttpConfig {
        HttpConfig {
            url,
            method: "GET".to_owned(),
            headers: Vec::new(),
            body: None,
            requests: Some(100),
            duration: None,
            concurrency: 10,
            rate: None,
            timeout: Duration::from_secs(10),
        }
    }
}

type Permits = Semaphore;

/// What every request task shares.
struct Shared<C: Connect> {
    connector: C,
    request: RequestTemplate,
    pool: Mutex<Vec<Conn<C::Stream>>>,
    recorder: Recorder,
    timeout: Duration,
}

/// Runs an HTTP load on the current runtime and reports it.
///
/// Before the load starts, one connection is opened (and kept for the
/// first request): if the server cannot be reached, nothing is sent and
/// the error is returned. Once the load runs, every failure is counted in
/// the report instead.
///
/// # Errors
///
/// If the first connection fails (or takes longer than the timeout), or
/// the control is stopped before it is made
/// ([`SetupError::is_interrupted`]).
///
/// # Cancel safety
///
/// Dropping the future stops the load without a report: no new request
/// starts; requests already started run on to their end (within the
/// timeout) as tasks of their own, and their connections close with them.
///
/// # Panics
///
/// If `concurrency` is 0 or `rate` is not positive; outside a runtime with
/// I/O and time enabled.
pub async fn run<C: Connect>(
    config: HttpConfig,
    connector: C,
    control: &Control,
) -> Result<Report, SetupError> {
    assert!(
        config.concurrency > 0,
        "pollen-load: concurrency must be at least 1"
    );
    assert!(
        config
            .rate
            .is_none_or(|rate| rate > 0.0 && rate.is_finite()),
        "pollen-load: the rate must be positive"
    );
    let context = || format!("cannot connect to {}", connector.describe());
    let first = pollen::select! {
        biased;
        () = control.stopped() => return Err(SetupError::interrupted(context())),
        first = connect_within(&connector, config.timeout) => {
            first.map_err(|e| SetupError::new(context(), e))?
        }
    };
    let shared = Arc::new(Shared {
        request: RequestTemplate::new(
            &config.url,
            &config.method,
            &config.headers,
            config.body.as_deref(),
        ),
        connector,
        pool: Mutex::new(vec![Conn::new(first)]),
        recorder: Recorder::new(control.clone()),
        timeout: config.timeout,
    });
    let permits = Arc::new(Permits::new(config.concurrency));

    control.set_running();
    let start = pollen::time::now();
    // The loop runs as a task of the runtime, so its timers, and the
    // requests it spawns, stay on the runtime's threads (no hand-off from
    // the thread that awaits `run`).
    let looping = pollen::spawn(start_requests(
        config.clone(),
        shared.clone(),
        permits.clone(),
        control.clone(),
        start,
    ));
    let _abort = AbortOnDrop(vec![looping.abort_handle()]);
    let started = looping.await.expect("the request loop does not panic");
    let sending = pollen::time::now() - start;

    // Every request in flight holds a permit until it is recorded. Each is
    // bounded by the timeout; the extra second covers the scheduling of
    // their last steps.
    let drained = config.timeout + Duration::from_secs(1);
    let all = permits.acquire_many(config.concurrency);
    let _ = pollen::time::timeout(drained, all).await;
    let elapsed = pollen::time::now() - start;

    // Every request started either completed (recorded, or not while
    // warming up) or is still in flight: cancelled.
    let recorded = shared.recorder.snapshot();
    let missing = started.saturating_sub(recorded.completed());
    let mut tally = recorded.tally;
    if missing > 0 && control.records() {
        *tally.errors.entry(ErrorKind::Cancelled).or_default() += missing;
        tally.failed += missing;
    }
    // An open loop that could not keep up (too few permits for the rate)
    // leaves requests that were due but never started: not failures, but
    // the rate was not met.
    let not_sent = config.rate.map_or(0, |rate| {
        let due = due_by(sending, rate).min(config.requests.unwrap_or(u64::MAX));
        due.saturating_sub(started)
    });
    Ok(Report {
        mode: Mode::Http,
        not_sent,
        // Each start takes up one interval of the schedule: on schedule,
        // the last one's interval ends one interval after it started.
        achieved_rate: config.rate.map(|rate| {
            let window = sending + Duration::from_secs_f64(1.0 / rate);
            crate::report::per_second(started as f64, window)
        }),
        target: config.url.to_string(),
        requests: config.requests,
        duration_limit: config.duration,
        rate: config.rate,
        concurrency: config.concurrency,
        message_size: None,
        interrupted: control.is_interrupted(),
        elapsed,
        tally,
    })
}

/// Starts requests until the load stops; returns how many it started.
async fn start_requests<C: Connect>(
    config: HttpConfig,
    shared: Arc<Shared<C>>,
    permits: Arc<Permits>,
    control: Control,
    start: Instant,
) -> u64 {
    let mut deadline = pin!(until(config.duration.map(|d| start + d)));
    let mut stopped = pin!(control.stopped());
    let mut started: u64 = 0;
    while config.requests.is_none_or(|n| started < n) {
        let due = config.rate.map(|rate| due_at(start, started, rate));
        let permit = pollen::select! {
            biased;
            () = &mut stopped => break,
            () = &mut deadline => break,
            permit = permit_when_due(&permits, due) => permit,
        };
        started += 1;
        let shared = shared.clone();
        // Late (waiting for a permit): from when it was due. Early (see
        // `PACING_SLACK`): from now.
        let now = pollen::time::now();
        let sent_at = due.map_or(now, |due| due.min(now));
        pollen::spawn(REQUEST_ID.scope(started, async move {
            request(&shared, sent_at).await;
            drop(permit);
        }));
    }
    started
}

/// When request number `index` (from 0) is due at `rate` per second.
fn due_at(start: Instant, index: u64, rate: f64) -> Instant {
    start + Duration::from_secs_f64(index as f64 / rate)
}

/// How many requests are due within `elapsed` of the start at `rate`
/// per second (request `i` is due at `i / rate`).
fn due_by(elapsed: Duration, rate: f64) -> u64 {
    // Less a hair, so that float error does not count one more.
    (elapsed.as_secs_f64() * rate - 1e-9).ceil().max(0.0) as u64
}

/// Waits until `deadline`, forever without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => pollen::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// How early a request of an open loop may start. The runtime's timers
/// wake up to a millisecond late (the poller waits in whole
/// milliseconds): a request started on time by the timer would leave up to
/// a millisecond late, and that lag, the load generator's own, would count
/// as the server's latency. Started up to this much early instead, and
/// measured from when it started, it does not; the schedule only shifts
/// by less than this.
const PACING_SLACK: Duration = Duration::from_millis(1);

/// A permit, once `due` (if any) is less than [`PACING_SLACK`] away.
async fn permit_when_due(permits: &Arc<Permits>, due: Option<Instant>) -> OwnedSemaphorePermit {
    if let Some(due) = due {
        pollen::time::sleep_until(due.saturating_sub(PACING_SLACK)).await;
    }
    permits
        .clone()
        .acquire_owned()
        .await
        .expect("the load never closes its semaphore")
}

/// One request, recorded.
async fn request<C: Connect>(shared: &Shared<C>, sent_at: Instant) {
    // Outside the timeout, so that a request that times out still counts
    // what it wrote and read.
    let mut transfer = Transfer::default();
    let mut retried = false;
    let exchange = exchange(shared, &mut transfer, &mut retried);
    let outcome = pollen::time::timeout(shared.timeout, exchange).await;
    let latency = pollen::time::now().saturating_duration_since(sent_at);
    let outcome = match outcome {
        Ok(Ok(status)) => Outcome::Status(status),
        Ok(Err(kind)) => Outcome::Failed(kind),
        Err(_) => Outcome::Failed(ErrorKind::Timeout),
    };
    shared
        .recorder
        .record(outcome, latency, transfer.sent, transfer.received, retried);
}

/// Sends the current task's request on a pooled or new connection: the
/// response's status, or the error's kind. Counts the bytes in `transfer`,
/// and sets `retried` if the request had to be sent again.
async fn exchange<C: Connect>(
    shared: &Shared<C>,
    transfer: &mut Transfer,
    retried: &mut bool,
) -> Result<u16, ErrorKind> {
    let request = shared.request.render(REQUEST_ID.get());
    loop {
        // A retry connects afresh: the other pooled connections are likely
        // as stale as the one that failed.
        let mut pooled = if *retried {
            None
        } else {
            lock(&shared.pool).pop()
        };
        // A connection the server closed, or spoke on, while it idled is
        // stale before the request is even sent (and likely not alone).
        if let Some(conn) = &mut pooled {
            if !conn.is_quiet().await {
                pooled = None;
                drop(std::mem::take(&mut *lock(&shared.pool)));
            }
        }
        let reused = pooled.is_some();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => match shared.connector.connect().await {
                Ok(stream) => Conn::new(stream),
                Err(e) => return Err(ErrorKind::of_connect(&e)),
            },
        };
        let received_before = transfer.received;
        match conn
            .exchange(&request, shared.request.is_head, transfer)
            .await
        {
            Ok(response) => {
                if response.reusable {
                    lock(&shared.pool).push(conn);
                }
                return Ok(response.status);
            }
            // The server closed the idle connection, most likely before it
            // saw the request: not the request's fault; once more on a new
            // connection, if sending it twice is harmless (it may have
            // been acted on). Connections that idled as long (a server's
            // keep-alive timeout, or restart) are dropped too.
            Err(e)
                if reused
                    && !*retried
                    && shared.request.idempotent
                    && transfer.received == received_before
                    && is_stale(&e) =>
            {
                *retried = true;
                drop(std::mem::take(&mut *lock(&shared.pool)));
            }
            Err(e) => return Err(ErrorKind::of_io(&e)),
        }
    }
}

/// Whether an error on a reused connection means the server had closed it.
fn is_stale(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
    )
}
