//! What the actor shows of its jobs: a job, the counts.

use std::sync::atomic::Ordering;

use pollen::time::Instant;

use super::{Actor, State, THROUGHPUT_WINDOW};
use crate::job::{JobId, JobView, StateView};
use crate::queue::Status;

impl Actor {
    pub(super) fn view(&self, id: JobId) -> Option<JobView> {
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
