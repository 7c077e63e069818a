//! The watchdog: notices a worker stuck in one poll, gets its queued work
//! and the poller to another worker, and reports the stall.
//!
//! It runs on a thread of its own and looks at the workers every
//! [`TICK`]. A worker that is not parked and whose poll counter has not
//! moved since the last look is inside one poll (or one look at the
//! reactor, which is short). After a tick stuck, the watchdog marks it
//! stuck (thieves may then take its LIFO slot too) and wakes a parked
//! worker (through the ordinary notification, so only if no worker
//! searches): it steals the tasks waiting behind the stuck one and parks
//! in the poller if no one else does, so timers and I/O go on. It does so again each tick while the stuck worker has tasks
//! queued. After the stall threshold it reports the stall once.
//!
//! When every worker is parked it sleeps until one wakes: an idle runtime
//! wakes no thread. The workers' side is a `SeqCst` store to their `parked`
//! flag and a load of `sleeping` when they wake; the watchdog sets
//! `sleeping` and then looks at every `parked` flag once more (`SeqCst`
//! too), so a worker that wakes meanwhile is seen by one side or the other.

use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::Pool;
use crate::runtime::TaskInfo;
use crate::runtime::shared::{Shared, lock};

/// A task that stayed inside one poll longer than the runtime's
/// [`stall_threshold`](crate::runtime::Builder::stall_threshold): what the
/// [`on_stall`](crate::runtime::Builder::on_stall) hook is given.
/// `Display` gives the one-line report logged or printed when no hook is
/// set.
#[derive(Clone, Debug)]
pub struct StallReport {
    worker: usize,
    stuck: Duration,
    threshold: Duration,
    task: Option<TaskInfo>,
}

impl StallReport {
    /// The worker the task blocks (0-based, as in the runtime's metrics).
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// How long the task had been inside the one poll when this was made.
    pub fn duration(&self) -> Duration {
        self.stuck
    }

    /// The threshold it crossed.
    pub fn threshold(&self) -> Duration {
        self.threshold
    }

    /// The task, if it was still alive and known to the runtime when the
    /// report was made (id, name, spawn location).
    pub fn task(&self) -> Option<&TaskInfo> {
        self.task.as_ref()
    }
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pollen: ")?;
        match &self.task {
            Some(task) => {
                write!(f, "task {}", task.id())?;
                if let Some(name) = task.name() {
                    write!(f, " ({name:?})")?;
                }
                write!(f, " spawned at {}", task.location())?;
            }
            None => f.write_str("a task")?,
        }
        write!(
            f,
            " has been inside one poll for {} ms on worker {} (threshold {} ms): it blocks the \
             thread or computes without yielding; move blocking work to `spawn_blocking`",
            self.stuck.as_millis(),
            self.worker,
            self.threshold.as_millis()
        )
    }
}

/// What [`Builder::on_stall`](crate::runtime::Builder::on_stall) set.
#[derive(Clone)]
pub(crate) struct StallHook(pub(crate) Arc<dyn Fn(&StallReport) + Send + Sync>);

impl fmt::Debug for StallHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StallHook(..)")
    }
}

/// How often the watchdog looks while a worker is busy.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// The watchdog's shared side.
pub(crate) struct Watchdog {
    threshold: Option<Duration>,
    /// Where reports go; the logger or standard error if `None`.
    on_stall: Option<StallHook>,
    /// Whether the watchdog sleeps until a worker wakes (read by workers
    /// without the lock).
    sleeping: AtomicBool,
    state: Mutex<State>,
    condvar: Condvar,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

struct State {
    sleeping: bool,
    stopped: bool,
}

/// What the watchdog remembers of one worker.
#[derive(Clone, Copy)]
struct Seen {
    polls: u64,
    since: Instant,
    nudged: bool,
    reported: bool,
}

impl Watchdog {
    pub(crate) fn new(threshold: Option<Duration>, on_stall: Option<StallHook>) -> Watchdog {
        Watchdog {
            threshold,
            on_stall,
            sleeping: AtomicBool::new(false),
            state: Mutex::new(State {
                sleeping: false,
                stopped: false,
            }),
            condvar: Condvar::new(),
            thread: Mutex::new(None),
        }
    }

    pub(crate) fn start(&'static self, shared: &'static Shared) -> io::Result<()> {
        let handle = thread::Builder::new()
            .name("pollen-watchdog".into())
            .spawn(move || self.run(shared))?;
        *lock(&self.thread) = Some(handle);
        Ok(())
    }

    /// Called by a worker that just woke up.
    #[inline]
    pub(crate) fn worker_woke(&self) {
        if self.sleeping.load(SeqCst) {
            let mut state = lock(&self.state);
            if state.sleeping {
                state.sleeping = false;
                self.sleeping.store(false, SeqCst);
                self.condvar.notify_one();
            }
        }
    }

    /// Stops the watchdog and waits for its thread.
    pub(crate) fn stop(&self) {
        lock(&self.state).stopped = true;
        self.condvar.notify_one();
        if let Some(handle) = lock(&self.thread).take() {
            if handle.thread().id() != thread::current().id() {
                let _ = handle.join();
            }
        }
    }

    fn run(&self, shared: &'static Shared) {
        let pool = shared.pool().expect("a multi-thread runtime has a pool");
        let now = Instant::now();
        let mut seen = vec![
            Seen {
                polls: 0,
                since: now,
                nudged: false,
                reported: false,
            };
            pool.workers()
        ];
        let all_parked = || (0..pool.workers()).all(|w| pool.worker_metrics(w).parked.load(SeqCst));
        let mut state = lock(&self.state);
        while !state.stopped {
            if all_parked() {
                state.sleeping = true;
                self.sleeping.store(true, SeqCst);
                if all_parked() {
                    while state.sleeping && !state.stopped {
                        state = self.condvar.wait(state).unwrap_or_else(|e| e.into_inner());
                    }
                }
                state.sleeping = false;
                self.sleeping.store(false, SeqCst);
                continue;
            }
            state = self
                .condvar
                .wait_timeout(state, TICK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            if state.stopped {
                break;
            }
            drop(state);
            self.look(shared, pool, &mut seen);
            state = lock(&self.state);
        }
    }

    /// One look at every worker.
    fn look(&self, shared: &Shared, pool: &Pool, seen: &mut [Seen]) {
        let now = Instant::now();
        for (worker, seen) in seen.iter_mut().enumerate() {
            let metrics = pool.worker_metrics(worker);
            let polls = metrics.polls.load(SeqCst);
            if metrics.parked.load(SeqCst) || polls != seen.polls {
                *seen = Seen {
                    polls,
                    since: now,
                    nudged: false,
                    reported: false,
                };
                continue;
            }
            let stuck = now.duration_since(seen.since);
            if stuck < TICK {
                continue;
            }
            let waiting = pool.local_queue_depth(worker) > 0;
            if waiting {
                // Its LIFO task may be taken now.
                metrics.stuck.store(true, SeqCst);
            }
            if !seen.nudged || waiting {
                seen.nudged = true;
                pool.notify_parked(shared);
            }
            if let Some(threshold) = self.threshold {
                if stuck >= threshold && !seen.reported {
                    seen.reported = true;
                    let current = metrics.current.load(SeqCst);
                    self.report(&StallReport {
                        worker,
                        stuck,
                        threshold,
                        task: pool.describe(shared, current),
                    });
                }
            }
        }
    }

    /// Hands `report` to the hook, or logs or prints it.
    fn report(&self, report: &StallReport) {
        match &self.on_stall {
            Some(StallHook(hook)) => {
                // The watchdog must outlive a hook that panics: it still has
                // stuck workers to unblock.
                if catch_unwind(AssertUnwindSafe(|| hook(report))).is_err() {
                    eprintln!("pollen: the on_stall hook panicked; the report was: {report}");
                }
            }
            None => log_or_print(report),
        }
    }
}

/// The log target of stall reports.
#[cfg(feature = "log")]
const LOG_TARGET: &str = "pollen::stall";

/// Logs `report` as a warning if the program installed a logger that
/// takes it; prints it on standard error otherwise, so it is never lost
/// for want of a logger.
fn log_or_print(report: &StallReport) {
    #[cfg(feature = "log")]
    if log::log_enabled!(target: LOG_TARGET, log::Level::Warn) {
        log::warn!(target: LOG_TARGET, "{report}");
        return;
    }
    eprintln!("{report}");
}
