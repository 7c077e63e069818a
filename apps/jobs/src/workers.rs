//! The dispatcher, the workers and their supervisor.
//!
//! The dispatcher takes a permit from a semaphore of `workers` permits,
//! then asks the state actor for the next pending job, and hands both to
//! the workers through a channel. A job therefore leaves the queue only
//! when a worker is free for it (until then it is `pending`, and counts
//! against the queue's capacity), and at most `workers` jobs run at once.
//!
//! The workers are `workers` long-lived tasks, numbered from 0, taking
//! turns at the channel; each reports the outcome of an attempt to the
//! actor, then gives the permit back.
//!
//! A job that panics takes its worker down with it. Each worker runs
//! under a supervisor task that sees the panic (as the worker's
//! `JoinError`), tells the actor (the attempt fails and is retried like any
//! other failure) and starts the worker again, unless that worker was
//! already restarted [`MAX_RESTARTS`] times within the last minute: then
//! it gives up on it, loudly (on stderr and on the event bus), and the
//! others carry on. The budget is each worker's own, so one worker's
//! crashes never keep another down, and it recovers: a worker given up
//! on comes back once the oldest of its restarts is a minute old (or at
//! shutdown, stays down). A worker counts as alive (`workers_alive`) from
//! its start until its supervisor gives up on it, restarts included; with
//! none alive, submissions are refused. The permit and the job channel
//! need no clean-up: the permit is dropped as the panic unwinds, and a
//! crashed worker held no lock.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pollen::channel::mpsc;
use pollen::sync::{CancellationToken, Mutex, OwnedSemaphorePermit, Semaphore};
use pollen::task::JoinHandle;
use pollen::time::Instant;

use crate::events::Event;
use crate::exec;
use crate::queue::{Next, Queue};

pub(crate) type Limit = Semaphore;
type Inbox = Arc<Mutex<mpsc::Receiver<'static, Assignment>>>;

/// A job for a worker, with the permit that lets it run.
#[derive(Debug)]
pub(crate) struct Assignment {
    next: Next,
    permit: OwnedSemaphorePermit,
}

/// Restarts allowed within a minute, for each worker; past that a crashed
/// worker stays down until the minute has passed.
pub const MAX_RESTARTS: usize = 5;
/// The window [`MAX_RESTARTS`] counts over.
const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// Starts the dispatcher and `workers` supervised workers; they stop when
/// `stop` is cancelled (the dispatcher at once, the workers once the jobs
/// handed to them are done).
pub(crate) fn spawn(
    queue: &Queue,
    workers: usize,
    alive: &Arc<AtomicUsize>,
    stop: &CancellationToken,
) -> (JoinHandle<()>, Vec<JoinHandle<()>>) {
    let limit = Arc::new(Limit::new(workers));
    let (work, inbox) = mpsc::channel(workers);
    let inbox: Inbox = Arc::new(Mutex::new(inbox));
    let dispatcher = pollen::task::Builder::new()
        .name("jobs-dispatcher")
        .spawn(dispatch(queue.clone(), limit, work, stop.clone()));
    let supervisors = (0..workers)
        .map(|id| {
            let worker = Worker {
                id,
                inbox: inbox.clone(),
                queue: queue.clone(),
                alive: alive.clone(),
            };
            // Counted before the task first runs, so that `workers_alive`
            // is right as soon as the service is up.
            let counted = Alive::count(alive);
            let first = worker.start();
            pollen::task::Builder::new()
                .name("jobs-supervisor")
                .spawn(supervise(worker, first, counted, stop.clone()))
        })
        .collect();
    (dispatcher, supervisors)
}

/// What a worker needs, to start it again.
struct Worker {
    id: usize,
    inbox: Inbox,
    queue: Queue,
    alive: Arc<AtomicUsize>,
}

impl Worker {
    fn start(&self) -> AbortOnDrop<()> {
        AbortOnDrop(
            pollen::task::Builder::new()
                .name("jobs-worker")
                .spawn(work_loop(self.id, self.inbox.clone(), self.queue.clone())),
        )
    }
}

/// The restarts within the last [`RESTART_WINDOW`].
#[derive(Debug, Default)]
struct Restarts(VecDeque<Instant>);

impl Restarts {
    /// Counts a restart at `now` if the budget allows one.
    fn allow(&mut self, now: Instant) -> bool {
        while let Some(&at) = self.0.front() {
            if now.saturating_duration_since(at) < RESTART_WINDOW {
                break;
            }
            self.0.pop_front();
        }
        if self.0.len() >= MAX_RESTARTS {
            return false;
        }
        self.0.push_back(now);
        true
    }

    /// When the budget allows a restart again: once the oldest restart
    /// counted is [`RESTART_WINDOW`] old.
    fn free_at(&self, now: Instant) -> Instant {
        self.0.front().map_or(now, |&oldest| {
            oldest.checked_add(RESTART_WINDOW).unwrap_or(now)
        })
    }
}

/// Watches one worker; restarts it when it panics, within its budget,
/// or once its budget allows again. Keeps it counted alive (`counted`)
/// while it runs or is about to be restarted.
///
/// Dropping (aborting) the supervisor aborts its worker.
async fn supervise(
    worker: Worker,
    mut running: AbortOnDrop<()>,
    counted: Alive,
    stop: CancellationToken,
) {
    let mut restarts = Restarts::default();
    let mut counted = Some(counted);
    loop {
        let error = match (&mut running.0).await {
            // The job channel closed: shutdown.
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                format!("the job panicked: {}", panic_message(&*e.into_panic()))
            }
            Err(_) => return,
        };
        let id = worker.id;
        worker.queue.publish(Event::WorkerCrashed {
            worker: id,
            error: error.clone(),
        });
        worker.queue.worker_crashed(id, error).await;
        let now = pollen::time::now();
        if !restarts.allow(now) {
            let back_at = restarts.free_at(now);
            let wait = back_at.saturating_duration_since(now);
            eprintln!(
                "pollen-jobs: worker {id} crashed and is NOT restarted for {wait:.0?}: restarted \
                 {MAX_RESTARTS} times within a minute"
            );
            drop(counted.take());
            worker.queue.publish(Event::WorkerGaveUp { worker: id });
            pollen::select! {
                biased;
                () = stop.cancelled() => return,
                () = pollen::time::sleep_until(back_at) => {}
            }
            let allowed = restarts.allow(pollen::time::now());
            debug_assert!(allowed, "the window has passed");
            counted = Some(Alive::count(&worker.alive));
        }
        running = worker.start();
        worker.queue.publish(Event::WorkerRestarted { worker: id });
    }
}

async fn dispatch(
    queue: Queue,
    limit: Arc<Limit>,
    work: mpsc::Sender<'static, Assignment>,
    stop: CancellationToken,
) {
    loop {
        let permit = pollen::select! {
            () = stop.cancelled() => return,
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        // A job handed over as `stop` fires is not dropped: it comes back
        // here, or goes back to the front of the queue.
        let Some(next) = queue.next_unless(&stop).await else {
            return;
        };
        // The channel has a slot per permit: this never waits long.
        if work.send(Assignment { next, permit }).await.is_err() {
            return;
        }
    }
}

/// Counts a worker alive until dropped: when its supervisor gives up on
/// it or ends.
struct Alive(Arc<AtomicUsize>);

impl Alive {
    fn count(alive: &Arc<AtomicUsize>) -> Alive {
        alive.fetch_add(1, Ordering::Relaxed);
        Alive(alive.clone())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn work_loop(id: usize, inbox: Inbox, queue: Queue) {
    loop {
        let assignment = {
            let mut inbox = inbox.lock().await;
            inbox.recv().await
        };
        let Some(Assignment { next, permit }) = assignment else {
            return;
        };
        queue.started(next.id, id).await;
        let started = pollen::time::now();
        // A panic here ends the worker; its supervisor takes over.
        let outcome = exec::run(next.kind, next.attempt).await;
        let duration = pollen::time::now().saturating_duration_since(started);
        queue.finished(next.id, outcome, duration).await;
        drop(permit);
    }
}

/// Aborts a worker whose supervisor is dropped (a shutdown past its grace
/// period) instead of leaving it to run on.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "(a panic without a message)"
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{MAX_RESTARTS, RESTART_WINDOW, Restarts};

    #[pollen::test(start_paused = true)]
    async fn the_budget_allows_five_restarts_a_minute_then_frees_up_as_they_age() {
        let start = pollen::time::now();
        let mut restarts = Restarts::default();
        for i in 0..MAX_RESTARTS {
            let at = start + Duration::from_secs(i as u64);
            assert!(restarts.allow(at), "restart {i}");
        }
        let late = start + Duration::from_secs(10);
        assert!(!restarts.allow(late));
        assert_eq!(restarts.free_at(late), start + RESTART_WINDOW);
        assert!(!restarts.allow(start + RESTART_WINDOW - Duration::from_millis(1)));
        assert!(restarts.allow(start + RESTART_WINDOW));
        assert!(!restarts.allow(start + RESTART_WINDOW));
    }
}
