//! The state actor: one task owns the queue of pending jobs, every job's
//! record, the scheduled retries and the dead letters. Everyone else talks
//! to it through a [`Queue`] handle, with [`Command`]s through a bounded
//! channel, each question carrying a oneshot for its answer, so there is
//! no lock and commands take effect in the order they arrive. Changes go
//! to the journal (when there is one) and the event bus as they happen.
//!
//! # With a journal
//!
//! A submitted job waits, invisible (`GET` says `404`, workers never see
//! it, the counts leave it out), until the writer confirms its entry is
//! synced: only then is it queued and its submitter answered `201`. If the
//! write fails it is forgotten, its submitter gets the error, and every
//! submission after it is refused up front: the journal is broken.
//!
//! A job that completed or died shows as running until the writer confirms
//! its `Done` or `Dead` entry is written (not synced: written, the entry is
//! in the kernel's page cache and survives a crash of the process). So no
//! job seen completed runs again after a crash of the process. If that
//! write fails the job stays running, as it is after a restart: it runs
//! again.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use pollen::channel::{broadcast, mpsc, oneshot};
use pollen::time::Instant;
use serde_json::Value;

use crate::error::SubmitError;
use crate::events::{EVENT_BUFFER, Event};
use crate::job::{JobId, JobSpec, MAX_DELAY};
use crate::journal::{Entry, Recovery, Write, Written};
use crate::metrics::Metrics;
use crate::queue::{Command, Next, Queue};
use crate::service::QueueConfig;

mod durable;
mod lifecycle;
mod views;

/// Commands queued for the actor before senders wait.
const INBOX: usize = 1024;
/// The window `throughput_per_s` is measured over.
const THROUGHPUT_WINDOW: Duration = Duration::from_secs(10);
/// The journal is compacted once it holds this many entries, and eight
/// per job remembered.
const COMPACT_MIN: usize = 4096;
/// The longest backoff, whatever the base and the attempt.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Starts the actor; returns its handle and its task.
pub(crate) fn spawn(
    config: &QueueConfig,
    workers_alive: Arc<AtomicUsize>,
    journal: Option<(Recovery, JournalLink)>,
) -> (Queue, pollen::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(INBOX);
    let (events, _) = broadcast::channel(EVENT_BUFFER);
    let (recovery, link) = journal.unzip();
    let (journal, written) = link.map(|link| (link.tx, link.written)).unzip();
    let mut actor = Actor {
        journal,
        broken: None,
        submitting: HashMap::new(),
        journal_len: 0,
        keep_finished: config.keep_finished,
        finished: VecDeque::new(),
        events: events.clone(),
        capacity: config.queue_capacity,
        retry_base: config.retry_base,
        workers: config.workers,
        workers_alive,
        records: BTreeMap::new(),
        queues: Default::default(),
        timed: BTreeSet::new(),
        dead: VecDeque::new(),
        max_dead: config.max_dead,
        waiting: None,
        running_on: HashMap::new(),
        counts: Counts::default(),
        completions: VecDeque::new(),
        next_id: 1,
        metrics: Metrics::default(),
    };
    if let Some(recovery) = recovery {
        actor.recover(recovery);
    }
    let task = pollen::task::Builder::new()
        .name("jobs-state")
        .spawn(actor.run(rx, written));
    (Queue { tx, events }, task)
}

/// The actor's two ends of the journal writer.
#[derive(Debug)]
pub(crate) struct JournalLink {
    /// Where the actor sends what to write.
    pub(crate) tx: mpsc::UnboundedSender<Write>,
    /// Where the writer confirms submissions and ends.
    pub(crate) written: mpsc::UnboundedReceiver<Written>,
}

/// What woke the actor.
enum Wake {
    Command(Option<Command>),
    Written(Option<Written>),
    Due,
}

/// A job's record.
#[derive(Debug)]
struct Record {
    spec: JobSpec,
    /// Attempts started over the job's life.
    attempts: u32,
    /// Retries used since it was submitted or last retried by hand.
    retries_used: u32,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Submitted, its entry not yet confirmed synced: not queued, not
    /// shown.
    Submitting,
    /// Accepted, to run at `run_at`.
    Scheduled {
        run_at: Instant,
        /// `run_at` on the wall clock (ms since the Unix epoch), for the
        /// journal and for clients.
        run_at_unix: u64,
    },
    Pending,
    Running {
        worker: Option<usize>,
    },
    Completed {
        result: Value,
        duration: Duration,
    },
    Failed {
        error: String,
        retry_at: Instant,
        /// `retry_at` on the wall clock (ms since the Unix epoch), for the
        /// journal: a restart waits out the rest of the backoff.
        retry_at_unix: u64,
    },
    Dead {
        error: String,
    },
    /// Completed or dead (`end`), its entry not yet confirmed written:
    /// shown as running.
    Ending {
        end: Box<State>,
    },
}

/// How many jobs are in each state.
#[derive(Debug, Default)]
struct Counts {
    /// Not shown; counted against the capacity.
    submitting: usize,
    scheduled: usize,
    pending: usize,
    running: usize,
    completed: usize,
    failed: usize,
    dead: usize,
}

struct Actor {
    /// Where changes are written, with a data directory.
    journal: Option<mpsc::UnboundedSender<Write>>,
    /// Why the journal can no longer be written, once a write failed or the
    /// writer is gone: submissions are refused.
    broken: Option<String>,
    /// The submitters of the jobs whose entry is not yet synced.
    submitting: HashMap<JobId, oneshot::Sender<'static, Result<JobId, SubmitError>>>,
    /// Entries in the journal (since its last compaction).
    journal_len: usize,
    /// How many completed jobs are remembered.
    keep_finished: usize,
    /// Completed jobs, oldest first: past `keep_finished`, the oldest is
    /// forgotten.
    finished: VecDeque<JobId>,
    events: broadcast::Sender<'static, Event>,
    capacity: usize,
    retry_base: Duration,
    workers: usize,
    workers_alive: Arc<AtomicUsize>,
    /// Every job remembered, in the order of their ids (`GET /jobs` lists
    /// them so).
    records: BTreeMap<JobId, Record>,
    /// Pending jobs, one queue per priority (most urgent first), each in
    /// the order they run.
    queues: [VecDeque<JobId>; 3],
    /// Scheduled jobs and failed ones waiting for their retry, by when
    /// they become pending.
    timed: BTreeSet<(Instant, JobId)>,
    /// Dead jobs, oldest death first.
    dead: VecDeque<JobId>,
    /// How many dead jobs are kept.
    max_dead: usize,
    /// The dispatcher, when it waits for a job.
    waiting: Option<oneshot::Sender<'static, Next>>,
    /// Which job each busy worker runs, since when.
    running_on: HashMap<usize, (JobId, Instant)>,
    counts: Counts,
    /// When jobs completed, over the last [`THROUGHPUT_WINDOW`].
    completions: VecDeque<Instant>,
    next_id: u64,
    /// The totals since the start (its `status` is filled in when asked).
    metrics: Metrics,
}

// === impl State ===

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Pending | State::Submitting => "pending",
            State::Scheduled { .. } => "scheduled",
            State::Running { .. } | State::Ending { .. } => "running",
            State::Completed { .. } => "completed",
            State::Failed { .. } => "failed",
            State::Dead { .. } => "dead",
        }
    }
}

// === impl Counts ===

impl Counts {
    fn slot(&mut self, state: &State) -> &mut usize {
        match state {
            State::Submitting => &mut self.submitting,
            State::Scheduled { .. } => &mut self.scheduled,
            State::Pending => &mut self.pending,
            State::Running { .. } | State::Ending { .. } => &mut self.running,
            State::Completed { .. } => &mut self.completed,
            State::Failed { .. } => &mut self.failed,
            State::Dead { .. } => &mut self.dead,
        }
    }
}

// === impl Actor ===

impl Actor {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<'static, Command>,
        mut written: Option<mpsc::UnboundedReceiver<Written>>,
    ) {
        loop {
            let due = self.timed.first().map(|&(at, _)| at);
            let wake = pollen::select! {
                command = rx.recv() => Wake::Command(command),
                confirmed = recv_written(&mut written) => Wake::Written(confirmed),
                () = sleep_until(due) => Wake::Due,
            };
            match wake {
                Wake::Command(Some(command)) => {
                    // What the writer confirmed first: a command sent after
                    // a flush sees the writes it waited for.
                    while let Some(confirmed) = written.as_mut().and_then(|rx| rx.try_recv().ok()) {
                        self.written(confirmed);
                    }
                    self.handle(command);
                }
                Wake::Command(None) => return,
                Wake::Written(Some(confirmed)) => self.written(confirmed),
                Wake::Written(None) => {
                    written = None;
                    self.journal_gone();
                }
                Wake::Due => self.promote_due(),
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Submit { spec, reply } => self.submit(spec, reply),
            Command::Flush { reply } => match &self.journal {
                Some(journal) => {
                    if let Err(unsent) = journal.send(Write::Flush(reply)) {
                        // The writer is gone: nothing more will be synced.
                        drop(unsent);
                    }
                }
                None => {
                    let _ = reply.send(());
                }
            },
            Command::Get { id, reply } => {
                let _ = reply.send(self.view(id));
            }
            Command::Metrics { reply } => {
                let mut metrics = self.metrics.clone();
                metrics.status = self.status();
                let _ = reply.send(metrics);
            }
            Command::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Command::Dead { reply } => {
                let views = self.dead.iter().filter_map(|&id| self.view(id)).collect();
                let _ = reply.send(views);
            }
            Command::RetryDead { id, reply } => {
                let _ = reply.send(self.retry_dead(id));
            }
            Command::Delete { id, reply } => {
                let _ = reply.send(self.delete(id));
            }
            Command::List { query, reply } => {
                let _ = reply.send(self.list(&query));
            }
            Command::Next { reply } => {
                self.waiting = Some(reply);
                self.dispatch();
            }
            Command::StopWaiting => self.waiting = None,
            Command::Unclaimed { id } => self.unclaimed(id),
            Command::Started { id, worker } => {
                if let Some(Record {
                    state: State::Running { worker: slot },
                    attempts,
                    ..
                }) = self.records.get_mut(&id)
                {
                    *slot = Some(worker);
                    let attempt = *attempts;
                    self.running_on.insert(worker, (id, pollen::time::now()));
                    self.publish(Event::JobStarted {
                        id,
                        worker,
                        attempt,
                    });
                    // Written when the attempt starts, not when the job is
                    // handed to the dispatcher: one never started is still
                    // pending in the journal.
                    self.journal(Entry::Start { id: id.0, attempt });
                }
            }
            Command::WorkerCrashed { worker, error } => {
                if let Some((id, since)) = self.running_on.get(&worker).copied() {
                    let duration = pollen::time::now().saturating_duration_since(since);
                    self.finished(id, Err(error), duration);
                }
            }
            Command::Finished {
                id,
                outcome,
                duration,
            } => self.finished(id, outcome, duration),
        }
    }

    /// Tells the subscribers, if any.
    fn publish(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Jobs that will run and are not running.
    fn queue_depth(&self) -> usize {
        self.counts.scheduled + self.counts.pending + self.counts.failed
    }

    /// Makes job `id` pending: last in its priority's line, or first
    /// (`front`) when it goes back after a hand-over that did not happen.
    fn enqueue(&mut self, id: JobId, front: bool) {
        let rank = self.records[&id].spec.priority.rank();
        self.set_state(id, State::Pending);
        if front {
            self.queues[rank].push_front(id);
        } else {
            self.queues[rank].push_back(id);
        }
    }

    /// Schedules job `id` to become pending at `run_at_unix` (ms since the
    /// Unix epoch), waiting at most [`MAX_DELAY`] from now (the clock may
    /// have gone back since it was scheduled).
    fn schedule(&mut self, id: JobId, run_at_unix: u64) {
        let wait = Duration::from_millis(run_at_unix.saturating_sub(unix_ms())).min(MAX_DELAY);
        let run_at = pollen::time::now().saturating_add(wait);
        self.set_state(
            id,
            State::Scheduled {
                run_at,
                run_at_unix,
            },
        );
        self.timed.insert((run_at, id));
    }

    /// Forgets job `id` (only its record: the caller takes it out of the
    /// line it is in).
    fn forget(&mut self, id: JobId) {
        if let Some(record) = self.records.remove(&id) {
            *self.counts.slot(&record.state) -= 1;
        }
    }

    /// Moves job `id` to `state`, keeping the counts.
    fn set_state(&mut self, id: JobId, state: State) {
        let record = self.records.get_mut(&id).expect("a known job");
        *self.counts.slot(&record.state) -= 1;
        *self.counts.slot(&state) += 1;
        record.state = state;
    }
}

/// The wait before retry number `retry` (1 for the first): `base`,
/// `2 * base`, `4 * base`, ..., at most an hour.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pollen_jobs::backoff;
///
/// let base = Duration::from_secs(1);
/// assert_eq!(backoff(base, 1), Duration::from_secs(1));
/// assert_eq!(backoff(base, 3), Duration::from_secs(4));
/// assert_eq!(backoff(base, 40), Duration::from_secs(3600));
/// ```
pub fn backoff(base: Duration, retry: u32) -> Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor)
        .map_or(MAX_BACKOFF, |wait| wait.min(MAX_BACKOFF))
}

/// The wall clock, in milliseconds since the Unix epoch (0 before it).
fn unix_ms() -> u64 {
    unix_ms_of(std::time::SystemTime::now())
}

/// `time` in milliseconds since the Unix epoch (0 before it).
fn unix_ms_of(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH).map_or(0, millis)
}

/// `duration` in milliseconds, to the microsecond (so that JSON shows
/// `2000.526`, not `2000.5259999999998`).
fn duration_ms(duration: Duration) -> f64 {
    // Exact in an f64 for any duration under 285 years.
    duration.as_micros() as f64 / 1000.0
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}

/// The writer's next confirmation; never, without a writer.
async fn recv_written(written: &mut Option<mpsc::UnboundedReceiver<Written>>) -> Option<Written> {
    match written {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => pollen::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
