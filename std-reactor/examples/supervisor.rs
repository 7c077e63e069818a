//! The supervisor pattern: a worker pool that survives crashing workers.
//!
//! Three workers take jobs from one shared queue. Now and then a worker
//! panics in the middle of a job (at random, from a seed, so every run with
//! the same seed crashes the same way). A panic in a pollen task ends only
//! that task: its `JoinHandle` returns a `JoinError` for which `is_panic()`
//! is true, and the runtime goes on. The supervisor watches its workers and
//! starts a replacement for each one that crashes, the way Erlang's
//! supervisors do: a worker need not handle every failure, it may "let it
//! crash" and be restarted clean.
//!
//! A job a worker was holding when it crashed is not lost: the worker holds
//! it in a [`Lease`], whose `Drop` puts the job back in the queue, and
//! `Drop` runs while a panic unwinds the task. A crash loop must not go on
//! forever either: after 5 restarts within 60 seconds the supervisor gives
//! up restarting, and the workers still alive finish the queue.
//!
//! Use a supervisor for long-running workers that can fail in ways you do
//! not want to handle inline (a flaky dependency, a bad input), when a
//! fresh start is a good enough fix.
//!
//! ```text
//! cargo run --release --example supervisor
//! cargo run --release --example supervisor -- --seed 7
//! ```

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use pollen::channel::mpsc;
use pollen::sync::{CancellationToken, Mutex};
use pollen::task::JoinError;
use pollen::time::Instant;

/// What a run looks like.
#[derive(Clone, Copy, Debug)]
struct Config {
    jobs: u32,
    workers: usize,
    /// How long a job takes.
    job_time: Duration,
    /// The chance that a worker crashes on one attempt at a job.
    crash_rate: f64,
    seed: u64,
    /// At most this many restarts ...
    max_restarts: usize,
    /// ... within this long.
    window: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            jobs: 20,
            workers: 3,
            job_time: Duration::from_millis(100),
            crash_rate: 0.1,
            seed: 3,
            max_restarts: 5,
            window: Duration::from_secs(60),
        }
    }
}

/// A job, and how many workers crashed on it so far.
#[derive(Clone, Copy, Debug)]
struct Job {
    id: u32,
    attempt: u32,
}

impl Job {
    /// Whether this attempt crashes its worker. A pure function of the
    /// seed, the job and the attempt, so the crashes are the same in every
    /// run, whichever worker happens to take which job.
    fn crashes(&self, config: &Config) -> bool {
        // Mix the seed first, so that runs with nearby seeds differ.
        let seed = fastrand::Rng::with_seed(config.seed).u64(..);
        let mut rng =
            fastrand::Rng::with_seed(seed ^ (u64::from(self.id) << 32 | u64::from(self.attempt)));
        rng.f64() < config.crash_rate
    }
}

/// The panic payload of a simulated crash (a real crash would carry a
/// message, or anything else).
#[derive(Debug)]
struct Crash {
    job: u32,
}

/// The queue the workers share. A bounded `mpsc` channel has one receiver,
/// so the workers take turns at it through an async mutex: a worker waiting
/// for a job holds the lock, the others queue behind it.
#[derive(Clone)]
struct Queue {
    jobs: Arc<Mutex<mpsc::Receiver<'static, Job>>>,
    /// For jobs given back by crashed workers.
    give_back: mpsc::Sender<'static, Job>,
    /// Cancelled when every job is done.
    closed: CancellationToken,
}

impl Queue {
    /// The next job, or `None` once the queue is closed.
    async fn next(&self) -> Option<Job> {
        let mut jobs = self.jobs.lock().await;
        // The channel itself never closes (workers hold senders to give
        // jobs back), so the worker that waits for a job also watches for
        // the end. It cannot wait for the lock to close the channel: the
        // waiting worker holds the lock.
        pollen::select! {
            biased;
            () = self.closed.cancelled() => None,
            job = jobs.recv() => job,
        }
    }

    /// No more jobs: every worker's `next` returns `None`.
    fn close(&self) {
        self.closed.cancel();
    }
}

/// A job a worker is working on. If the worker drops it without calling
/// [`done`](Lease::done) (because it panicked), the job goes back to the
/// queue for another try.
struct Lease {
    job: Option<Job>,
    queue: Queue,
}

impl Lease {
    fn done(mut self) -> Job {
        self.job.take().expect("a lease holds its job until done")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(mut job) = self.job.take() {
            job.attempt += 1;
            // The channel has room for every job (see `supervise`), so this
            // cannot find it full; it fails only once the queue is closed,
            // and it is closed only when every job is done.
            let _ = self.queue.give_back.try_send(job);
        }
    }
}

/// What the workers and their monitors tell the supervisor.
enum Event {
    /// A job is done.
    Done,
    /// A worker's task ended: `Ok` when the queue closed, a `JoinError`
    /// when it panicked.
    Exited {
        worker: usize,
        result: Result<(), JoinError>,
    },
}

/// A worker: takes jobs until the queue is closed and empty.
async fn worker(id: usize, queue: Queue, events: mpsc::Sender<'static, Event>, config: Config) {
    while let Some(job) = queue.next().await {
        let lease = Lease {
            job: Some(job),
            queue: queue.clone(),
        };
        pollen::time::sleep(config.job_time / 2).await;
        if job.crashes(&config) {
            // `panic_any` panics with a value of our own type, which the
            // supervisor gets back from the `JoinError`.
            std::panic::panic_any(Crash { job: job.id });
        }
        pollen::time::sleep(config.job_time / 2).await;
        let job = lease.done();
        println!("[worker {id}] processed job-{}", job.id);
        let _ = events.send(Event::Done).await;
    }
}

/// Starts worker `id`, and a monitor task that awaits the worker's
/// `JoinHandle` and reports how it ended.
fn start_worker(id: usize, queue: &Queue, events: &mpsc::Sender<'static, Event>, config: Config) {
    let handle = pollen::spawn(worker(id, queue.clone(), events.clone(), config));
    let events = events.clone();
    pollen::spawn(async move {
        let result = handle.await;
        let _ = events.send(Event::Exited { worker: id, result }).await;
    });
}

/// What a run did.
#[derive(Debug, PartialEq, Eq)]
struct Report {
    processed: u32,
    restarts: usize,
    gave_up: bool,
}

/// Runs the jobs on supervised workers until every job is done, or every
/// worker is gone.
async fn supervise(config: Config) -> Report {
    // Room for every job, so a crashed worker can always give its job back
    // without waiting.
    let (jobs_tx, jobs_rx) = mpsc::channel(config.jobs as usize);
    for id in 1..=config.jobs {
        jobs_tx
            .try_send(Job { id, attempt: 0 })
            .expect("room for every job");
    }
    let queue = Queue {
        jobs: Arc::new(Mutex::new(jobs_rx)),
        give_back: jobs_tx,
        closed: CancellationToken::new(),
    };
    let (events_tx, mut events) = mpsc::channel(16);

    let mut next_id = 0;
    for _ in 0..config.workers {
        start_worker(next_id, &queue, &events_tx, config);
        next_id += 1;
    }
    let mut alive = config.workers;
    let mut processed = 0;
    let mut recent_restarts: VecDeque<Instant> = VecDeque::new();
    let mut restarts = 0;
    let mut gave_up = false;

    while alive > 0 {
        // We hold `events_tx` ourselves, so the channel never closes.
        let Some(event) = events.recv().await else {
            unreachable!("the supervisor holds a sender")
        };
        match event {
            Event::Done => {
                processed += 1;
                if processed == config.jobs {
                    queue.close();
                }
            }
            Event::Exited { result: Ok(()), .. } => alive -= 1,
            Event::Exited {
                worker,
                result: Err(error),
            } => {
                alive -= 1;
                let what = crash_message(error);
                // Forget restarts older than the window.
                let now = pollen::time::now();
                while recent_restarts
                    .front()
                    .is_some_and(|&at| now - at >= config.window)
                {
                    recent_restarts.pop_front();
                }
                if !gave_up && recent_restarts.len() < config.max_restarts {
                    recent_restarts.push_back(now);
                    restarts += 1;
                    println!(
                        "Worker {worker} {what}. Restarting as worker {next_id} (restart {}/{}).",
                        recent_restarts.len(),
                        config.max_restarts
                    );
                    start_worker(next_id, &queue, &events_tx, config);
                    next_id += 1;
                    alive += 1;
                } else if !gave_up {
                    gave_up = true;
                    println!(
                        "Worker {worker} {what}. {} restarts within {}s: giving up on restarts, \
                         {alive} worker(s) left.",
                        config.max_restarts,
                        config.window.as_secs()
                    );
                } else {
                    println!("Worker {worker} {what}. {alive} worker(s) left.");
                }
            }
        }
    }
    Report {
        processed,
        restarts,
        gave_up,
    }
}

/// "crashed on job-N", from the panic's payload.
fn crash_message(error: JoinError) -> String {
    if !error.is_panic() {
        return "was cancelled".to_owned();
    }
    let payload = error.into_panic();
    if let Some(crash) = payload.downcast_ref::<Crash>() {
        format!("crashed on job-{}", crash.job)
    } else if let Some(message) = payload.downcast_ref::<&str>() {
        format!("panicked: {message}")
    } else if let Some(message) = payload.downcast_ref::<String>() {
        format!("panicked: {message}")
    } else {
        "panicked".to_owned()
    }
}

#[pollen::main]
async fn main() -> std::process::ExitCode {
    let mut config = Config::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, seed] if flag == "--seed" && seed.parse::<u64>().is_ok() => {
            config.seed = seed.parse().expect("checked above");
        }
        _ => {
            eprintln!("usage: supervisor [--seed N]");
            return std::process::ExitCode::FAILURE;
        }
    }

    // The default panic hook prints every panic to stderr. The crashes here
    // are on purpose and the supervisor reports them, so leave those out
    // (any other panic is still printed).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.payload().is::<Crash>() {
            default_hook(info);
        }
    }));

    println!(
        "{} workers, {} jobs, crash rate {:.0}%, seed {}",
        config.workers,
        config.jobs,
        config.crash_rate * 100.0,
        config.seed
    );
    let report = supervise(config).await;
    if report.processed == config.jobs {
        println!("All jobs processed. Total restarts: {}", report.restarts);
        std::process::ExitCode::SUCCESS
    } else {
        println!(
            "{} of {} jobs processed: every worker crashed. Total restarts: {}",
            report.processed, config.jobs, report.restarts
        );
        std::process::ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many crashes a run must see: each job's attempts crash in a
    /// fixed way, until one does not.
    fn expected_crashes(config: &Config) -> usize {
        let mut crashes = 0;
        for id in 1..=config.jobs {
            let mut job = Job { id, attempt: 0 };
            while job.crashes(config) {
                crashes += 1;
                job.attempt += 1;
            }
        }
        crashes
    }

    #[pollen::test(start_paused = true)]
    async fn every_job_is_processed_and_restarts_are_bounded() {
        let mut seen_crashes = false;
        for seed in 0..20 {
            let config = Config {
                seed,
                ..Config::default()
            };
            let crashes = expected_crashes(&config);
            let report = supervise(config).await;
            // A crash within the limit is restarted; past it the
            // supervisor gives up but the survivors still finish.
            assert_eq!(report.processed, config.jobs, "seed {seed}");
            assert!(report.restarts <= config.max_restarts, "seed {seed}");
            assert_eq!(
                report.restarts,
                crashes.min(config.max_restarts),
                "seed {seed}"
            );
            assert_eq!(report.gave_up, crashes > config.max_restarts, "seed {seed}");
            seen_crashes |= crashes > 0;
        }
        assert!(seen_crashes, "some seed crashes a worker");
    }

    #[pollen::test(start_paused = true)]
    async fn the_default_run_restarts_and_finishes() {
        let config = Config::default();
        let report = supervise(config).await;
        assert_eq!(
            report,
            Report {
                processed: 20,
                restarts: expected_crashes(&config),
                gave_up: false
            }
        );
        assert!(report.restarts > 0);
    }

    #[pollen::test(start_paused = true)]
    async fn a_crash_loop_makes_the_supervisor_give_up() {
        let config = Config {
            crash_rate: 0.9,
            ..Config::default()
        };
        let report = supervise(config).await;
        assert!(report.gave_up);
        assert_eq!(report.restarts, config.max_restarts);
        // Past the limit every crash costs a worker for good, and at 90%
        // the three survivors do not last long.
        assert!(report.processed < config.jobs);
    }

    /// Restarts count only within the window: crashes spread out over
    /// minutes are all restarted, however many there are.
    #[pollen::test(start_paused = true)]
    async fn old_restarts_fall_out_of_the_window() {
        let config = Config {
            job_time: Duration::from_secs(40),
            workers: 1,
            crash_rate: 0.3,
            ..Config::default()
        };
        let crashes = expected_crashes(&config);
        assert!(
            crashes > config.max_restarts,
            "the seed crashes often enough"
        );
        let start = pollen::time::now();
        let report = supervise(config).await;
        assert_eq!(report.processed, config.jobs);
        assert_eq!(report.restarts, crashes);
        assert!(!report.gave_up);
        assert!(pollen::time::now() - start >= config.job_time * config.jobs);
    }
}
