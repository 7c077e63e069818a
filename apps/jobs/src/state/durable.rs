//! The actor and its journal: entries written, confirmations, compaction,
//! and the jobs rebuilt from a journal at start.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Actor, COMPACT_MIN, MAX_BACKOFF, Record, State, duration_ms, unix_ms};
use crate::error::SubmitError;
use crate::job::{JobId, JobSpec};
use crate::journal::{self, End, Entry, Recovery, Replayed, Write, Written};

impl Actor {
    /// Remembers that the writer is gone.
    pub(super) fn journal_gone(&mut self) {
        self.broken
            .get_or_insert_with(|| "the journal writer stopped".to_owned());
    }

    /// The writer confirmed (or failed) the entry of a submitted or ending
    /// job.
    pub(super) fn written(&mut self, confirmed: Written) {
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
    pub(super) fn refuse(&mut self, id: JobId, error: String) {
        self.forget(id);
        if let Some(reply) = self.submitting.remove(&id) {
            let _ = reply.send(Err(SubmitError::Journal { error }));
        }
    }

    /// Writes `entry` to the journal, if there is one.
    pub(super) fn journal(&mut self, entry: Entry) {
        if let Some(journal) = &self.journal {
            let _ = journal.send(Write::Entry(entry));
            self.wrote();
        }
    }

    /// Counts an entry written to the journal; compacts it when it has
    /// grown past [`COMPACT_MIN`] and eight entries per job.
    pub(super) fn wrote(&mut self) {
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
    pub(super) fn forget_finished(&mut self) {
        while self.finished.len() > self.keep_finished {
            let Some(id) = self.finished.pop_front() else {
                return;
            };
            self.forget(id);
        }
    }

    /// Rebuilds the jobs the journal tells of.
    pub(super) fn recover(&mut self, recovery: Recovery) {
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
                "priority": job.priority,
            });
            let spec = match JobSpec::parse(submission.to_string().as_bytes()) {
                Ok(spec) => spec,
                Err(invalid) => {
                    eprintln!("pollen-jobs: journal: job {id} is not run again: {invalid}");
                    continue;
                }
            };
            self.records.insert(
                id,
                Record {
                    spec,
                    attempts: job.attempts,
                    retries_used: job.retries_used,
                    state: State::Submitting,
                },
            );
            self.counts.submitting += 1;
            match job.end {
                // Waiting for a retry: the rest of its wait, by the wall
                // clock (none left, or unknown: at once), and never more
                // than the longest backoff (the clock may have gone back).
                End::Run { last_error } => match (job.retry_at, job.run_at) {
                    (Some(retry_at_unix), _) if retry_at_unix > now_unix => {
                        let wait = Duration::from_millis(retry_at_unix - now_unix).min(MAX_BACKOFF);
                        let retry_at = pollen::time::now().saturating_add(wait);
                        self.set_state(
                            id,
                            State::Failed {
                                error: last_error.unwrap_or_default(),
                                retry_at,
                                retry_at_unix,
                            },
                        );
                        self.timed.insert((retry_at, id));
                    }
                    // Scheduled, and its time is still to come.
                    (_, Some(run_at_unix)) if run_at_unix > now_unix => {
                        self.schedule(id, run_at_unix);
                    }
                    _ => self.enqueue(id, false),
                },
                End::Completed {
                    result,
                    duration_ms,
                } => {
                    let duration = Duration::from_secs_f64(duration_ms.max(0.0) / 1000.0);
                    self.set_state(id, State::Completed { result, duration });
                    self.finished.push_back(id);
                }
                End::Dead { error } => {
                    self.set_state(id, State::Dead { error });
                    self.dead.push_back(id);
                }
            }
        }
        self.next_id = self.next_id.max(recovery.next_id);
        self.forget_finished();
        self.forget_dead();
    }
}

// === impl Record ===

impl Record {
    /// What the journal's snapshot says of it.
    pub(super) fn replayed(&self, id: JobId) -> Replayed {
        // An ending job's entry is already on its way to the journal,
        // before any snapshot taken now.
        let state = match &self.state {
            State::Ending { end } => end,
            state => state,
        };
        let end = match state {
            State::Submitting
            | State::Scheduled { .. }
            | State::Pending
            | State::Running { .. }
            | State::Ending { .. } => End::Run { last_error: None },
            State::Failed { error, .. } => End::Run {
                last_error: Some(error.clone()),
            },
            State::Completed { result, duration } => End::Completed {
                result: result.clone(),
                duration_ms: duration_ms(*duration),
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
            priority: self.spec.priority,
            // A job handed to the dispatcher and not yet started has its
            // attempt counted here, but no `Start` in the journal.
            attempts: match state {
                State::Running { worker: None } => self.attempts - 1,
                _ => self.attempts,
            },
            retries_used: self.retries_used,
            // Only a job a worker started has its `Start` in the journal.
            running: matches!(state, State::Running { worker: Some(_) }),
            retry_at: match state {
                State::Failed { retry_at_unix, .. } => Some(*retry_at_unix),
                _ => None,
            },
            run_at: match state {
                State::Scheduled { run_at_unix, .. } => Some(*run_at_unix),
                _ => None,
            },
            end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(attempts: u32, state: State) -> Record {
        Record {
            spec: JobSpec::parse(br#"{"type":"sleep","payload":{"ms":1}}"#).unwrap(),
            attempts,
            retries_used: 1,
            state,
        }
    }

    #[test]
    fn a_snapshot_leaves_out_an_attempt_handed_over_but_not_started() {
        // Handed to the dispatcher for its third attempt: the journal
        // holds two `Start`s, and so does the snapshot.
        let handed = record(3, State::Running { worker: None }).replayed(JobId(1));
        assert_eq!((handed.attempts, handed.running), (2, false));
        let started = record(3, State::Running { worker: Some(0) }).replayed(JobId(1));
        assert_eq!((started.attempts, started.running), (3, true));
    }
}
