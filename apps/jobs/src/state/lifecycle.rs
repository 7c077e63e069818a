//! A job's life in the actor: submitted, queued, handed to the dispatcher,
//! finished, retried or ended.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pollen::channel::oneshot;
use serde_json::Value;

use super::{Actor, Record, State, backoff, duration_ms, millis, unix_ms, unix_ms_of};
use crate::error::{DeleteError, RetryError, SubmitError};
use crate::events::Event;
use crate::job::{JobId, JobSpec, JobView};
use crate::journal::{Entry, Write};
use crate::queue::Next;

impl Actor {
    pub(super) fn submit(
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
            priority: spec.priority,
            run_at: spec.run_at.map(unix_ms_of),
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

    /// Queues submitted job `id`: it is pending from now on, or scheduled
    /// until its time.
    pub(super) fn accept(&mut self, id: JobId) {
        self.metrics.submitted += 1;
        let spec = &self.records[&id].spec;
        let kind = spec.kind.name();
        match spec.run_at.map(unix_ms_of) {
            Some(run_at_unix) if run_at_unix > unix_ms() => self.schedule(id, run_at_unix),
            _ => self.enqueue(id, false),
        }
        self.publish(Event::JobEnqueued { id, kind });
    }

    /// Hands the first pending job to the dispatcher if it waits for one.
    pub(super) fn dispatch(&mut self) {
        if self.waiting.is_none() {
            return;
        }
        let Some(id) = self.queues.iter_mut().find_map(VecDeque::pop_front) else {
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
            self.enqueue(id, true);
        }
    }

    /// Puts job `id`, handed to the dispatcher but never run, back first
    /// in line, its attempt not made.
    pub(super) fn unclaimed(&mut self, id: JobId) {
        let Some(record) = self.records.get_mut(&id) else {
            return;
        };
        if !matches!(record.state, State::Running { worker: None }) {
            return;
        }
        record.attempts -= 1;
        self.enqueue(id, true);
        self.dispatch();
    }

    pub(super) fn finished(
        &mut self,
        id: JobId,
        outcome: Result<Value, String>,
        duration: Duration,
    ) {
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
                    duration_ms: duration_ms(duration),
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
                self.timed.insert((retry_at, id));
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
    pub(super) fn end(&mut self, id: JobId, end: State, entry: Entry) {
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
    pub(super) fn ended(&mut self, id: JobId, end: State) {
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
                self.forget_dead();
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

    /// Queues the failed jobs whose backoff is over and the scheduled
    /// jobs whose time has come.
    pub(super) fn promote_due(&mut self) {
        let now = pollen::time::now();
        while let Some(&(at, id)) = self.timed.first() {
            if at > now {
                break;
            }
            self.timed.pop_first();
            self.enqueue(id, false);
        }
        self.dispatch();
    }

    pub(super) fn retry_dead(&mut self, id: JobId) -> Result<JobView, RetryError> {
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
        self.enqueue(id, false);
        self.publish(Event::JobRetried { id });
        self.journal(Entry::Retry { id: id.0 });
        let view = self.view(id).expect("known");
        self.dispatch();
        Ok(view)
    }
}

impl Actor {
    /// Deletes job `id`, unless a worker has it; returns what it was.
    pub(super) fn delete(&mut self, id: JobId) -> Result<JobView, DeleteError> {
        let view = self.view(id).ok_or(DeleteError::NotFound)?;
        let record = &self.records[&id];
        match &record.state {
            State::Running { .. } | State::Ending { .. } => return Err(DeleteError::Running),
            State::Submitting => unreachable!("not shown, so not found above"),
            State::Pending => {
                self.queues[record.spec.priority.rank()].retain(|&queued| queued != id);
            }
            &State::Scheduled { run_at: at, .. } | &State::Failed { retry_at: at, .. } => {
                self.timed.remove(&(at, id));
            }
            State::Dead { .. } => self.dead.retain(|&dead| dead != id),
            State::Completed { .. } => self.finished.retain(|&done| done != id),
        }
        self.forget(id);
        self.journal(Entry::Delete { id: id.0 });
        self.publish(Event::JobDeleted { id });
        Ok(view)
    }

    /// Deletes the oldest dead jobs past `max_dead`.
    pub(super) fn forget_dead(&mut self) {
        while self.dead.len() > self.max_dead {
            let Some(id) = self.dead.pop_front() else {
                return;
            };
            self.forget(id);
            self.journal(Entry::Delete { id: id.0 });
        }
    }
}
