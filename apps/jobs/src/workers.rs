//! The dispatcher and the workers.
//!
//! The dispatcher takes a permit from a semaphore of `workers` permits,
//! then asks the state actor for the next pending job, and hands both to
//! the workers through a channel. A job therefore leaves the queue only
//! when a worker is free for it (until then it is `pending`, and counts
//! against the queue's capacity), and at most `workers` jobs run at once.
//!
//! The workers are `workers` long-lived tasks, numbered from 0, taking
//! turns at the channel. A worker runs each attempt in a task of its own
//! so that a job that panics fails its attempt (and is retried) instead of
//! taking the worker down; it reports the outcome to the actor, then gives
//! the permit back.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pollen::channel::mpsc;
use pollen::sync::{CancellationToken, Mutex, OwnedSemaphorePermit, Semaphore, StdRawMutex};
use pollen::task::JoinHandle;

use crate::exec;
use crate::state::{Next, Queue};

pub(crate) type Limit = Semaphore<StdRawMutex>;
type Inbox = Arc<Mutex<mpsc::Receiver<'static, Assignment>, StdRawMutex>>;

/// A job for a worker, with the permit that lets it run.
#[derive(Debug)]
pub(crate) struct Assignment {
    next: Next,
    permit: OwnedSemaphorePermit<StdRawMutex>,
}

/// Starts the dispatcher and `workers` workers; they stop when `stop` is
/// cancelled (the dispatcher at once, the workers once the jobs handed to
/// them are done).
pub(crate) fn spawn(
    queue: &Queue,
    workers: usize,
    alive: &Arc<AtomicUsize>,
    stop: &CancellationToken,
) -> (JoinHandle<()>, Vec<JoinHandle<()>>) {
    let limit = Arc::new(Limit::with_raw_mutex(workers));
    let (work, inbox) = mpsc::channel(workers);
    let inbox: Inbox = Arc::new(Mutex::with_raw_mutex(inbox));
    let dispatcher = pollen::task::Builder::new()
        .name("jobs-dispatcher")
        .spawn(dispatch(queue.clone(), limit, work, stop.clone()));
    let workers = (0..workers)
        .map(|id| {
            // Counted before the task first runs, so that `workers_alive`
            // is right as soon as the service is up.
            alive.fetch_add(1, Ordering::Relaxed);
            let alive = Alive(alive.clone());
            pollen::task::Builder::new()
                .name("jobs-worker")
                .spawn(work_loop(id, inbox.clone(), queue.clone(), alive))
        })
        .collect();
    (dispatcher, workers)
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
        // Cancel safe: a job handed to a dropped `next` goes back to the
        // front of the queue.
        let next = pollen::select! {
            () = stop.cancelled() => return,
            next = queue.next() => match next {
                Ok(next) => next,
                Err(_) => return,
            },
        };
        // The channel has a slot per permit: this never waits long.
        if work.send(Assignment { next, permit }).await.is_err() {
            return;
        }
    }
}

/// Counts a worker alive until it ends (even by a panic).
struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn work_loop(id: usize, inbox: Inbox, queue: Queue, _alive: Alive) {
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
        let mut attempt = AbortOnDrop(pollen::spawn(exec::run(next.kind, next.attempt)));
        let outcome = match (&mut attempt.0).await {
            Ok(outcome) => outcome,
            Err(e) if e.is_panic() => Err(format!(
                "the job panicked: {}",
                panic_message(&*e.into_panic())
            )),
            Err(_) => Err("the attempt was cancelled".to_owned()),
        };
        let duration = pollen::time::now().saturating_duration_since(started);
        queue.finished(next.id, outcome, duration).await;
        drop(permit);
    }
}

/// Aborts an attempt whose worker is dropped (a shutdown past its grace
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
