//! What the actor shows of its jobs: a job, a page of them, the counts.

use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use pollen::time::Instant;

use super::{Actor, State, THROUGHPUT_WINDOW, duration_ms, millis};
use crate::job::{JobId, JobView, StateView};
use crate::queue::{JobPage, JobQuery, Status};

impl Actor {
    pub(super) fn view(&self, id: JobId) -> Option<JobView> {
        let record = self.records.get(&id)?;
        let state = match &record.state {
            State::Submitting => return None,
            State::Ending { .. } => StateView::Running { worker: None },
            State::Scheduled {
                run_at,
                run_at_unix,
            } => StateView::Scheduled {
                run_at: humantime::format_rfc3339_millis(
                    UNIX_EPOCH + Duration::from_millis(*run_at_unix),
                )
                .to_string(),
                run_in_ms: millis(run_at.saturating_duration_since(pollen::time::now())),
            },
            State::Pending => StateView::Pending,
            State::Running { worker } => StateView::Running { worker: *worker },
            State::Completed { result, duration } => StateView::Completed {
                result: result.clone(),
                duration_ms: duration_ms(*duration),
            },
            State::Failed {
                error, retry_at, ..
            } => StateView::Failed {
                error: error.clone(),
                retries_left: record.spec.max_retries - record.retries_used,
                retry_in_ms: millis(retry_at.saturating_duration_since(pollen::time::now())),
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
            priority: record.spec.priority,
            attempts: record.attempts,
            state,
        })
    }

    /// The jobs `query` asks for.
    pub(super) fn list(&self, query: &JobQuery) -> JobPage {
        let from = query.after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut jobs = Vec::new();
        let mut more = false;
        for (&id, record) in self.records.range((from, Bound::Unbounded)) {
            if matches!(record.state, State::Submitting)
                || query
                    .status
                    .is_some_and(|status| status != record.state.name())
            {
                continue;
            }
            if jobs.len() == query.limit {
                more = true;
                break;
            }
            jobs.extend(self.view(id));
        }
        let next_after = more
            .then(|| jobs.last().map(|job: &JobView| job.id.clone()))
            .flatten();
        JobPage { jobs, next_after }
    }

    /// Drops the completion times older than [`THROUGHPUT_WINDOW`].
    pub(super) fn prune_completions(&mut self, now: Instant) {
        while let Some(&at) = self.completions.front() {
            if now.saturating_duration_since(at) <= THROUGHPUT_WINDOW {
                break;
            }
            self.completions.pop_front();
        }
    }

    pub(super) fn status(&mut self) -> Status {
        self.prune_completions(pollen::time::now());
        Status {
            scheduled: self.counts.scheduled,
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
