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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pollen::channel::{broadcast, mpsc, oneshot};
use pollen::time::Instant;
use serde_json::Value;

use crate::error::{RetryError, SubmitError};
use crate::events::{EVENT_BUFFER, Event};
use crate::job::{JobId, JobSpec, JobView, StateView};
use crate::journal::{self, End, Entry, Recovery, Replayed, Write, Written};
use crate::metrics::Metrics;
use crate::queue::{Command, Next, Queue, Status};

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
    capacity: usize,
    retry_base: Duration,
    workers: usize,
    workers_alive: Arc<AtomicUsize>,
    keep_finished: usize,
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
        keep_finished,
        finished: VecDeque::new(),
        events: events.clone(),
        capacity,
        retry_base,
        workers,
        workers_alive,
        records: HashMap::new(),
        queue: VecDeque::new(),
        retries: BTreeSet::new(),
        dead: VecDeque::new(),
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
    records: HashMap<JobId, Record>,
    /// Pending jobs, in the order they run.
    queue: VecDeque<JobId>,
    /// Failed jobs by the time of their retry.
    retries: BTreeSet<(Instant, JobId)>,
    /// Dead jobs, oldest death first.
    dead: VecDeque<JobId>,
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

// === impl Record ===

impl Record {
    /// What the journal's snapshot says of it.
    fn replayed(&self, id: JobId) -> Replayed {
        // An ending job's entry is already on its way to the journal,
        // before any snapshot taken now.
        let state = match &self.state {
            State::Ending { end } => end,
            state => state,
        };
        let end = match state {
            State::Submitting | State::Pending | State::Running { .. } | State::Ending { .. } => {
                End::Run { last_error: None }
            }
            State::Failed { error, .. } => End::Run {
                last_error: Some(error.clone()),
            },
            State::Completed { result, duration } => End::Completed {
                result: result.clone(),
                duration_ms: duration.as_secs_f64() * 1000.0,
            },
            State::Dead { error } => End::Dead {
                error: error.clone(),
            },
        };
        Replayed {
            id,
            kind: self.spec.kind.name().to_owned(),
            payload: self.spec.kind.payload(),
            max_retries: self.spec.max_retries,
            attempts: self.attempts,
            retries_used: self.retries_used,
            // Only a job a worker started has its `Start` in the journal.
            running: matches!(state, State::Running { worker: Some(_) }),
            retry_at: match state {
                State::Failed { retry_at_unix, .. } => Some(*retry_at_unix),
                _ => None,
            },
            end,
        }
    }
}

// === impl State ===

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Pending | State::Submitting => "pending",
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
            let due = self.retries.first().map(|&(at, _)| at);
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

    /// Remembers that the writer is gone.
    fn journal_gone(&mut self) {
        self.broken
            .get_or_insert_with(|| "the journal writer stopped".to_owned());
    }

    /// The writer confirmed (or failed) the entry of a submitted or ending
    /// job.
    fn written(&mut self, confirmed: Written) {
        let Written { id, result } = confirmed;
        if let Err(error) = &result {
            self.broken.get_or_insert_with(|| error.clone());
        }
        let Some(record) = self.records.get_mut(&id) else {
            return;
        };
        match (&mut record.state, result) {
            (State::Submitting, Ok(())) => {
                let reply = self.submitting.remove(&id);
                self.accept(id);
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(id));
                }
                self.dispatch();
            }
            (State::Submitting, Err(error)) => self.refuse(id, error),
            (State::Ending { end }, Ok(())) => {
                let end = std::mem::replace(&mut **end, State::Pending);
                self.ended(id, end);
            }
            // An end not written stays running, and runs again after a
            // restart.
            _ => {}
        }
    }

    /// Forgets submitted job `id`, whose entry could not be written, and
    /// tells its submitter.
    fn refuse(&mut self, id: JobId, error: String) {
        if let Some(record) = self.records.remove(&id) {
            *self.counts.slot(&record.state) -= 1;
        }
        if let Some(reply) = self.submitting.remove(&id) {
            let _ = reply.send(Err(SubmitError::Journal { error }));
        }
    }

    /// Queues submitted job `id`: it is pending from now on.
    fn accept(&mut self, id: JobId) {
        self.set_state(id, State::Pending);
        self.metrics.submitted += 1;
        self.queue.push_back(id);
        self.publish(Event::JobEnqueued {
            id,
            kind: self.records[&id].spec.kind.name(),
        });
    }

    fn queue_depth(&self) -> usize {
        self.counts.pending + self.counts.failed
    }

    /// Moves job `id` to `state`, keeping the counts.
    fn set_state(&mut self, id: JobId, state: State) {
        let record = self.records.get_mut(&id).expect("a known job");
        *self.counts.slot(&record.state) -= 1;
        *self.counts.slot(&state) += 1;
        record.state = state;
    }

    /// Writes `entry` to the journal, if there is one.
    fn journal(&mut self, entry: Entry) {
        if let Some(journal) = &self.journal {
            let _ = journal.send(Write::Entry(entry));
            self.wrote();
        }
    }

    /// Counts an entry written to the journal; compacts it when it has
    /// grown past [`COMPACT_MIN`] and eight entries per job.
    fn wrote(&mut self) {
        self.journal_len += 1;
        if self.journal_len < COMPACT_MIN.max(8 * self.records.len()) {
            return;
        }
        let Some(journal) = &self.journal else {
            return;
        };
        let jobs: BTreeMap<JobId, Replayed> = self
            .records
            .iter()
            .map(|(&id, record)| (id, record.replayed(id)))
            .collect();
        let entries = journal::snapshot(&jobs, self.next_id);
        self.journal_len = entries.len();
        let _ = journal.send(Write::Compact(entries));
    }

    /// Forgets the oldest completed jobs past `keep_finished`.
    fn forget_finished(&mut self) {
        while self.finished.len() > self.keep_finished {
            let Some(id) = self.finished.pop_front() else {
                return;
            };
            if let Some(record) = self.records.remove(&id) {
                *self.counts.slot(&record.state) -= 1;
            }
        }
    }

    /// Rebuilds the jobs the journal tells of.
    fn recover(&mut self, recovery: Recovery) {
        for warning in &recovery.warnings {
            eprintln!("pollen-jobs: journal: {warning}");
        }
        let now_unix = unix_ms();
        for (id, job) in recovery.jobs {
            self.next_id = self.next_id.max(id.0 + 1);
            let submission = serde_json::json!({
                "type": job.kind,
                "payload": job.payload,
                "max_retries": job.max_retries,
            });
            let spec = match JobSpec::parse(submission.to_string().as_bytes()) {
                Ok(spec) => spec,
                Err(invalid) => {
                    eprintln!("pollen-jobs: journal: job {id} is not run again: {invalid}");
                    continue;
                }
            };
            let state = match job.end {
                // Waiting for a retry: the rest of its wait, by the wall
                // clock (none left, or unknown: at once), and never more
                // than the longest backoff (the clock may have gone back).
                End::Run { last_error } => match job.retry_at {
                    Some(retry_at_unix) if retry_at_unix > now_unix => {
                        let wait = Duration::from_millis(retry_at_unix - now_unix).min(MAX_BACKOFF);
                        State::Failed {
                            error: last_error.unwrap_or_default(),
                            retry_at: pollen::time::now().saturating_add(wait),
                            retry_at_unix,
                        }
                    }
                    _ => State::Pending,
                },
                End::Completed {
                    result,
                    duration_ms,
                } => State::Completed {
                    result,
                    duration: Duration::from_secs_f64(duration_ms.max(0.0) / 1000.0),
                },
                End::Dead { error } => State::Dead { error },
            };
            match state {
                State::Pending => self.queue.push_back(id),
                State::Failed { retry_at, .. } => {
                    self.retries.insert((retry_at, id));
                }
                State::Dead { .. } => self.dead.push_back(id),
                State::Completed { .. } => self.finished.push_back(id),
                _ => {}
            }
            *self.counts.slot(&state) += 1;
            self.records.insert(
                id,
                Record {
                    spec,
                    attempts: job.attempts,
                    retries_used: job.retries_used,
                    state,
                },
            );
        }
        self.next_id = self.next_id.max(recovery.next_id);
        self.forget_finished();
    }

    fn submit(
        &mut self,
        spec: JobSpec,
        reply: oneshot::Sender<'static, Result<JobId, SubmitError>>,
    ) {
        if let Some(error) = &self.broken {
            let _ = reply.send(Err(SubmitError::Journal {
                error: error.clone(),
            }));
            return;
        }
        if self.workers_alive.load(Ordering::Relaxed) == 0 {
            // Every worker is down: nothing would run it.
            let _ = reply.send(Err(SubmitError::NoWorkers));
            return;
        }
        if self.queue_depth() + self.counts.submitting >= self.capacity {
            self.metrics.refused += 1;
            let _ = reply.send(Err(SubmitError::Full {
                capacity: self.capacity,
            }));
            return;
        }
        let id = JobId(self.next_id);
        self.next_id += 1;
        self.records.insert(
            id,
            Record {
                spec,
                attempts: 0,
                retries_used: 0,
                state: State::Submitting,
            },
        );
        self.counts.submitting += 1;
        // The submission goes to the journal; the job is queued, and the
        // client hears of it, once the writer says it is synced.
        let Some(journal) = &self.journal else {
            self.accept(id);
            let _ = reply.send(Ok(id));
            self.dispatch();
            return;
        };
        let spec = &self.records[&id].spec;
        let entry = Entry::Submit {
            id: id.0,
            kind: spec.kind.name().to_owned(),
            payload: spec.kind.payload(),
            max_retries: spec.max_retries,
        };
        self.submitting.insert(id, reply);
        if journal.send(Write::Submit { entry, id }).is_err() {
            self.journal_gone();
            let error = self.broken.clone().expect("set above");
            self.refuse(id, error);
            return;
        }
        self.wrote();
    }

    /// Hands the first pending job to the dispatcher if it waits for one.
    fn dispatch(&mut self) {
        if self.waiting.is_none() {
            return;
        }
        let Some(id) = self.queue.pop_front() else {
            return;
        };
        let reply = self.waiting.take().expect("checked above");
        let record = self.records.get_mut(&id).expect("a queued job is known");
        record.attempts += 1;
        let next = Next {
            id,
            kind: record.spec.kind.clone(),
            attempt: record.attempts,
        };
        self.set_state(id, State::Running { worker: None });
        if reply.send(next).is_err() {
            // The dispatcher stopped waiting (shutdown): the job was not
            // taken, so it stays first in line.
            let record = self.records.get_mut(&id).expect("known");
            record.attempts -= 1;
            self.set_state(id, State::Pending);
            self.queue.push_front(id);
        }
    }

    /// Puts job `id`, handed to the dispatcher but never run, back first
    /// in line, its attempt not made.
    fn unclaimed(&mut self, id: JobId) {
        let Some(record) = self.records.get_mut(&id) else {
            return;
        };
        if !matches!(record.state, State::Running { worker: None }) {
            return;
        }
        record.attempts -= 1;
        self.set_state(id, State::Pending);
        self.queue.push_front(id);
        self.dispatch();
    }

    fn finished(&mut self, id: JobId, outcome: Result<Value, String>, duration: Duration) {
        let Some(record) = self.records.get_mut(&id) else {
            return;
        };
        let State::Running { worker } = record.state else {
            return;
        };
        if let Some(worker) = worker {
            self.running_on.remove(&worker);
        }
        self.metrics.durations.record(duration);
        match outcome {
            Ok(result) => {
                let entry = Entry::Done {
                    id: id.0,
                    result: result.clone(),
                    duration_ms: duration.as_secs_f64() * 1000.0,
                };
                self.end(id, State::Completed { result, duration }, entry);
            }
            Err(error) if record.retries_used < record.spec.max_retries => {
                self.metrics.failed_attempts += 1;
                record.retries_used += 1;
                let retry_in = backoff(self.retry_base, record.retries_used);
                let retry_at = pollen::time::now().saturating_add(retry_in);
                let retry_at_unix = unix_ms().saturating_add(millis(retry_in));
                if let Some(journal) = &self.journal {
                    let _ = journal.send(Write::Entry(Entry::Fail {
                        id: id.0,
                        error: error.clone(),
                        retries_used: record.retries_used,
                        retry_at: Some(retry_at_unix),
                    }));
                }
                self.retries.insert((retry_at, id));
                self.publish(Event::JobFailed {
                    id,
                    error: error.clone(),
                    retry_in,
                });
                self.set_state(
                    id,
                    State::Failed {
                        error,
                        retry_at,
                        retry_at_unix,
                    },
                );
                if self.journal.is_some() {
                    self.wrote();
                }
            }
            Err(error) => {
                self.metrics.failed_attempts += 1;
                let entry = Entry::Dead {
                    id: id.0,
                    error: error.clone(),
                };
                self.end(id, State::Dead { error }, entry);
            }
        }
    }

    /// Ends job `id` as `end` (completed or dead): at once without a
    /// journal, else once the writer confirms `entry` is written.
    fn end(&mut self, id: JobId, end: State, entry: Entry) {
        let Some(journal) = &self.journal else {
            self.ended(id, end);
            return;
        };
        let sent = journal.send(Write::Ending { entry, id });
        self.set_state(id, State::Ending { end: Box::new(end) });
        if sent.is_err() {
            // Never written: it stays running, and runs again after a
            // restart.
            self.journal_gone();
            return;
        }
        self.wrote();
    }

    /// Job `id` ended as `end` (completed or dead), and is shown so from
    /// now on.
    fn ended(&mut self, id: JobId, end: State) {
        let event = match &end {
            State::Completed { duration, .. } => {
                self.metrics.completed += 1;
                // Pruned here too, so that memory stays bounded when
                // nobody asks for the status.
                let now = pollen::time::now();
                self.prune_completions(now);
                self.completions.push_back(now);
                Event::JobCompleted {
                    id,
                    duration: *duration,
                }
            }
            State::Dead { error } => {
                self.metrics.died += 1;
                self.dead.push_back(id);
                Event::JobDead {
                    id,
                    error: error.clone(),
                }
            }
            _ => unreachable!("a job ends completed or dead"),
        };
        self.publish(event);
        let completed = matches!(end, State::Completed { .. });
        self.set_state(id, end);
        if completed {
            self.finished.push_back(id);
            self.forget_finished();
        }
    }

    /// Queues the failed jobs whose backoff is over.
    fn promote_due(&mut self) {
        let now = pollen::time::now();
        while let Some(&(at, id)) = self.retries.first() {
            if at > now {
                break;
            }
            self.retries.pop_first();
            self.set_state(id, State::Pending);
            self.queue.push_back(id);
        }
        self.dispatch();
    }

    fn retry_dead(&mut self, id: JobId) -> Result<JobView, RetryError> {
        let record = self
            .records
            .get(&id)
            .filter(|record| !matches!(record.state, State::Submitting))
            .ok_or(RetryError::NotFound)?;
        if !matches!(record.state, State::Dead { .. }) {
            return Err(RetryError::NotDead {
                status: record.state.name(),
            });
        }
        if self.queue_depth() >= self.capacity {
            return Err(RetryError::Full {
                capacity: self.capacity,
            });
        }
        self.dead.retain(|&dead| dead != id);
        self.records.get_mut(&id).expect("known").retries_used = 0;
        self.set_state(id, State::Pending);
        self.queue.push_back(id);
        self.publish(Event::JobRetried { id });
        self.journal(Entry::Retry { id: id.0 });
        let view = self.view(id).expect("known");
        self.dispatch();
        Ok(view)
    }

    fn view(&self, id: JobId) -> Option<JobView> {
        let record = self.records.get(&id)?;
        let state = match &record.state {
            State::Submitting => return None,
            State::Ending { .. } => StateView::Running { worker: None },
            State::Pending => StateView::Pending,
            State::Running { worker } => StateView::Running { worker: *worker },
            State::Completed { result, duration } => StateView::Completed {
                result: result.clone(),
                duration_ms: duration.as_secs_f64() * 1000.0,
            },
            State::Failed {
                error, retry_at, ..
            } => StateView::Failed {
                error: error.clone(),
                retries_left: record.spec.max_retries - record.retries_used,
                retry_in_ms: retry_at
                    .saturating_duration_since(pollen::time::now())
                    .as_millis()
                    .try_into()
                    .unwrap_or(u64::MAX),
            },
            State::Dead { error } => StateView::Dead {
                error: error.clone(),
            },
        };
        Some(JobView {
            id: id.to_string(),
            kind: record.spec.kind.name(),
            payload: record.spec.kind.payload(),
            max_retries: record.spec.max_retries,
            attempts: record.attempts,
            state,
        })
    }

    /// Drops the completion times older than [`THROUGHPUT_WINDOW`].
    fn prune_completions(&mut self, now: Instant) {
        while let Some(&at) = self.completions.front() {
            if now.saturating_duration_since(at) <= THROUGHPUT_WINDOW {
                break;
            }
            self.completions.pop_front();
        }
    }

    fn status(&mut self) -> Status {
        self.prune_completions(pollen::time::now());
        Status {
            pending: self.counts.pending,
            running: self.counts.running,
            completed: self.counts.completed,
            failed: self.counts.failed,
            dead: self.counts.dead,
            workers: self.workers,
            workers_alive: self.workers_alive.load(Ordering::Relaxed),
            throughput_per_s: self.completions.len() as f64 / THROUGHPUT_WINDOW.as_secs_f64(),
            queue_depth: self.queue_depth(),
            queue_capacity: self.capacity,
        }
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
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, millis)
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
