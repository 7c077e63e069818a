//! The handle to the state actor: [`Queue`], the commands it sends, and
//! the counts it gets back.
//!
//! Every method sends one [`Command`] through the actor's bounded channel
//! (waiting for room when the actor is behind, which slows callers down
//! instead of growing memory) and, for questions, waits on a oneshot for
//! the answer. A handle whose actor is gone gets [`Closed`].

use std::time::Duration;

use pollen::channel::{broadcast, mpsc, oneshot};
use pollen::sync::CancellationToken;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Closed, DeleteError, RetryError, SubmitError};
use crate::events::Event;
use crate::job::{JobId, JobKind, JobSpec, JobView};
use crate::metrics::Metrics;

/// The counts `GET /status` shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Status {
    /// Jobs waiting for their time (`delay_ms`, `run_at`).
    pub scheduled: usize,
    /// Jobs queued, waiting for a worker.
    pub pending: usize,
    /// Jobs being run.
    pub running: usize,
    /// Completed jobs remembered (the last `keep_finished`).
    pub completed: usize,
    /// Jobs whose last attempt failed, waiting out their backoff.
    pub failed: usize,
    /// Jobs out of retries.
    pub dead: usize,
    /// Worker tasks configured.
    pub workers: usize,
    /// Worker tasks running.
    pub workers_alive: usize,
    /// Jobs completed per second over the last ten seconds.
    pub throughput_per_s: f64,
    /// Jobs that will still run and are not running: scheduled, pending
    /// and failed. New submissions are refused while it is at
    /// `queue_capacity`.
    pub queue_depth: usize,
    /// The most jobs waiting to run before submissions are refused.
    pub queue_capacity: usize,
}

/// Which jobs [`Queue::list`] returns: those with an id after `after`
/// (all, without it), of status `status` (any, without it), at most
/// `limit`, in the order of their ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobQuery {
    /// Only jobs with this status (`pending`, `running`, ...: see
    /// [`STATUSES`](crate::STATUSES)).
    pub status: Option<&'static str>,
    /// Only jobs with a greater id (where the last page ended).
    pub after: Option<JobId>,
    /// At most this many jobs.
    pub limit: usize,
}

/// A page of jobs (`GET /jobs`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobPage {
    /// The jobs, in the order of their ids.
    pub jobs: Vec<JobView>,
    /// Where the next page starts (give it as `after`), when there are
    /// more jobs than `limit`.
    pub next_after: Option<String>,
}

/// A job handed to the dispatcher.
#[derive(Debug)]
pub(crate) struct Next {
    pub(crate) id: JobId,
    pub(crate) kind: JobKind,
    /// Which attempt this is (1 for the first), over the job's life.
    pub(crate) attempt: u32,
}

/// What the actor is asked.
#[derive(Debug)]
pub(crate) enum Command {
    Submit {
        spec: JobSpec,
        reply: oneshot::Sender<'static, Result<JobId, SubmitError>>,
    },
    Get {
        id: JobId,
        reply: oneshot::Sender<'static, Option<JobView>>,
    },
    Status {
        reply: oneshot::Sender<'static, Status>,
    },
    Dead {
        reply: oneshot::Sender<'static, Vec<JobView>>,
    },
    Metrics {
        reply: oneshot::Sender<'static, Metrics>,
    },
    /// Answered once everything before it is in the journal, synced.
    Flush { reply: oneshot::Sender<'static, ()> },
    RetryDead {
        id: JobId,
        reply: oneshot::Sender<'static, Result<JobView, RetryError>>,
    },
    Delete {
        id: JobId,
        reply: oneshot::Sender<'static, Result<JobView, DeleteError>>,
    },
    List {
        query: JobQuery,
        reply: oneshot::Sender<'static, JobPage>,
    },
    /// The dispatcher wants the next pending job; answered when there is
    /// one.
    Next {
        reply: oneshot::Sender<'static, Next>,
    },
    /// The dispatcher stopped waiting for its `Next`: drop the reply.
    StopWaiting,
    /// A job handed to the dispatcher that no worker will run: it goes
    /// back to the front of the queue, its attempt not made.
    Unclaimed { id: JobId },
    /// A worker started a job the dispatcher took.
    Started { id: JobId, worker: usize },
    /// A worker panicked: the attempt it was running failed.
    WorkerCrashed { worker: usize, error: String },
    /// A worker finished an attempt.
    Finished {
        id: JobId,
        outcome: Result<Value, String>,
        duration: Duration,
    },
}

/// A handle to the queue: submit jobs, look at them, retry dead ones.
/// Cheap to clone; the queue lives while any handle does.
#[derive(Clone, Debug)]
pub struct Queue {
    pub(crate) tx: mpsc::Sender<'static, Command>,
    pub(crate) events: broadcast::Sender<'static, Event>,
}

// === impl Queue ===

impl Queue {
    async fn ask<T: Send + 'static>(
        &self,
        command: impl FnOnce(oneshot::Sender<'static, T>) -> Command,
    ) -> Result<T, Closed> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(command(reply)).await.map_err(|_| Closed)?;
        answer.await.map_err(|_| Closed)
    }

    /// Accepts a job: it is pending from now on. With a journal, answers
    /// once the job is synced to it; the job runs only after that.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`] when `queue_capacity` jobs wait to run,
    /// [`SubmitError::Closed`] when the service is gone,
    /// [`SubmitError::NoWorkers`] when every worker is down,
    /// [`SubmitError::Journal`] when the journal cannot be written (this
    /// job's entry or an earlier one): the job is not accepted.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a cancelled call may or may not have queued the
    /// job.
    pub async fn submit(&self, spec: JobSpec) -> Result<JobId, SubmitError> {
        self.ask(|reply| Command::Submit { spec, reply }).await?
    }

    /// The job with this id, if there is one.
    ///
    /// # Errors
    ///
    /// [`Closed`] when the service is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn job(&self, id: JobId) -> Result<Option<JobView>, Closed> {
        self.ask(|reply| Command::Get { id, reply }).await
    }

    /// The counts.
    ///
    /// # Errors
    ///
    /// [`Closed`] when the service is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn status(&self) -> Result<Status, Closed> {
        self.ask(|reply| Command::Status { reply }).await
    }

    /// The counters, gauges and histogram of `GET /metrics`.
    ///
    /// # Errors
    ///
    /// [`Closed`] when the service is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn metrics(&self) -> Result<Metrics, Closed> {
        self.ask(|reply| Command::Metrics { reply }).await
    }

    /// The dead letters, oldest death first.
    ///
    /// # Errors
    ///
    /// [`Closed`] when the service is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn dead(&self) -> Result<Vec<JobView>, Closed> {
        self.ask(|reply| Command::Dead { reply }).await
    }

    /// Moves a dead job back to the queue, with its full retries again.
    ///
    /// # Errors
    ///
    /// See [`RetryError`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a cancelled call may or may not have re-queued the
    /// job.
    pub async fn retry_dead(&self, id: JobId) -> Result<JobView, RetryError> {
        self.ask(|reply| Command::RetryDead { id, reply }).await?
    }

    /// Deletes a job that no worker has (scheduled, pending, failed,
    /// dead or completed): it will not run, and is forgotten. Returns the
    /// job as it was.
    ///
    /// With a journal, the deletion is written after the answer, not
    /// waited for: a crash right after it may bring the job back.
    ///
    /// # Errors
    ///
    /// See [`DeleteError`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a cancelled call may or may not have deleted the
    /// job.
    pub async fn delete(&self, id: JobId) -> Result<JobView, DeleteError> {
        self.ask(|reply| Command::Delete { id, reply }).await?
    }

    /// A page of jobs, in the order of their ids: see [`JobQuery`].
    ///
    /// # Errors
    ///
    /// [`Closed`] when the service is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn list(&self, query: JobQuery) -> Result<JobPage, Closed> {
        self.ask(|reply| Command::List { query, reply }).await
    }

    /// Waits until every change so far is in the journal, synced (at
    /// once without a journal).
    ///
    /// # Errors
    ///
    /// [`Closed`] when the service is gone.
    pub async fn flush(&self) -> Result<(), Closed> {
        self.ask(|reply| Command::Flush { reply }).await
    }

    /// Tells the subscribers, if any.
    pub(crate) fn publish(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Records that `worker` panicked.
    pub(crate) async fn worker_crashed(&self, worker: usize, error: String) {
        let _ = self.tx.send(Command::WorkerCrashed { worker, error }).await;
    }

    /// Subscribes to the [`Event`]s from now on.
    pub fn events(&self) -> broadcast::Receiver<'static, Event> {
        self.events.subscribe()
    }

    /// The next pending job, marked running; `None` once `stop` is
    /// cancelled (or the actor is gone).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a job handed over to a dropped call is lost (it
    /// stays running and never runs). Stop it with `stop` instead: a job
    /// the actor hands over as `stop` fires is returned if it arrived
    /// first, else given back to the front of the queue.
    pub(crate) async fn next_unless(&self, stop: &CancellationToken) -> Option<Next> {
        let (reply, mut answer) = oneshot::channel();
        // A send dropped before it completes has asked for nothing.
        let sent = pollen::select! {
            biased;
            sent = self.tx.send(Command::Next { reply }) => sent.is_ok(),
            () = stop.cancelled() => false,
        };
        if !sent {
            return None;
        }
        pollen::select! {
            biased;
            next = &mut answer => return next.ok(),
            () = stop.cancelled() => {}
        }
        // The actor may hand a job over until it hears that we stopped;
        // once it has, the answer is settled: a job, or none.
        let _ = self.tx.send(Command::StopWaiting).await;
        if let Ok(next) = answer.await {
            let _ = self.tx.send(Command::Unclaimed { id: next.id }).await;
        }
        None
    }

    /// Records that `worker` started job `id`.
    pub(crate) async fn started(&self, id: JobId, worker: usize) {
        let _ = self.tx.send(Command::Started { id, worker }).await;
    }

    /// Records the end of an attempt.
    pub(crate) async fn finished(
        &self,
        id: JobId,
        outcome: Result<Value, String>,
        duration: Duration,
    ) {
        let _ = self
            .tx
            .send(Command::Finished {
                id,
                outcome,
                duration,
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use pollen::sync::CancellationToken;

    use crate::job::JobSpec;
    use crate::queue::Queue;
    use crate::state;

    /// The actor alone, without a dispatcher or workers.
    fn actor() -> Queue {
        // One worker counted alive, or submissions are refused.
        let alive = Arc::new(AtomicUsize::new(1));
        let config = crate::QueueConfig {
            workers: 1,
            queue_capacity: 10,
            keep_finished: 100,
            ..crate::QueueConfig::default()
        };
        state::spawn(&config, alive, None).0
    }

    fn sleep_job() -> JobSpec {
        JobSpec::parse(br#"{"type":"sleep","payload":{"ms":1}}"#).unwrap()
    }

    #[pollen::test]
    async fn a_job_handed_over_as_the_dispatcher_stops_goes_back_to_the_queue() {
        let queue = actor();
        let id = queue.submit(sleep_job()).await.unwrap();
        let stop = CancellationToken::new();
        stop.cancel();
        // The request reaches the actor, which hands the job over only
        // after the dispatcher has seen the stop: the job must come back.
        assert!(queue.next_unless(&stop).await.is_none());
        let status = queue.status().await.unwrap();
        assert_eq!((status.pending, status.running), (1, 0), "{status:?}");
        let job = queue.job(id).await.unwrap().unwrap();
        assert_eq!(job.state.name(), "pending");
        assert_eq!(job.attempts, 0, "an attempt never made was counted");

        // It is handed over again, as the first attempt.
        let running = CancellationToken::new();
        let next = queue.next_unless(&running).await.unwrap();
        assert_eq!((next.id, next.attempt), (id, 1));
    }

    #[pollen::test]
    async fn a_job_handed_over_as_the_stop_fires_is_taken_or_given_back_never_lost() {
        let queue = actor();
        let stop = CancellationToken::new();
        let dispatcher = pollen::spawn({
            let queue = queue.clone();
            let stop = stop.clone();
            async move { queue.next_unless(&stop).await }
        });
        // The dispatcher asks, and waits: nothing is pending.
        pollen::time::sleep(Duration::from_millis(1)).await;
        // The actor hands the new job over, and the stop fires before the
        // dispatcher looks: both are ready when it does.
        let id = queue.submit(sleep_job()).await.unwrap();
        stop.cancel();
        let taken = dispatcher.await.unwrap();
        let status = queue.status().await.unwrap();
        match taken {
            Some(next) => {
                assert_eq!((next.id, next.attempt), (id, 1));
                assert_eq!((status.pending, status.running), (0, 1), "{status:?}");
            }
            None => {
                assert_eq!((status.pending, status.running), (1, 0), "{status:?}");
                assert_eq!(queue.job(id).await.unwrap().unwrap().attempts, 0);
            }
        }
    }

    #[pollen::test]
    async fn a_dispatcher_that_stopped_waiting_is_handed_nothing_later() {
        let queue = actor();
        let stop = CancellationToken::new();
        stop.cancel();
        assert!(queue.next_unless(&stop).await.is_none());
        let id = queue.submit(sleep_job()).await.unwrap();
        let status = queue.status().await.unwrap();
        assert_eq!((status.pending, status.running), (1, 0), "{status:?}");
        assert_eq!(queue.job(id).await.unwrap().unwrap().attempts, 0);
    }
}
