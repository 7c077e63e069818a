//! The timed workloads of the mt suite, each written once over [`Pool`]
//! and so the same code on every runtime (see the module docs of `mt` for
//! what each does and how it is timed).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::{Duration, Instant};

use super::pool::{Pool, SmolPool, pollen_runtime, tokio_runtime};
use super::{CHAIN_DEPTH, PINGS, SPAWNS, WORKERS, YIELD_TASKS, YIELDS};
use crate::Rt;

/// How long a run may wait for its tasks before the bench gives up on it
/// (a runtime that lost a wake-up, say) with a panic instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A workload.
#[derive(Clone, Copy, Debug)]
pub enum Workload {
    SpawnInside,
    SpawnOutside,
    YieldMany,
    PingPong,
    ChainedSpawn,
}

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::SpawnInside,
        Workload::SpawnOutside,
        Workload::YieldMany,
        Workload::PingPong,
        Workload::ChainedSpawn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::SpawnInside => "spawn inside",
            Workload::SpawnOutside => "spawn outside",
            Workload::YieldMany => "yield many",
            Workload::PingPong => "ping-pong",
            Workload::ChainedSpawn => "chained spawn",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Workload::SpawnInside | Workload::SpawnOutside => "ns/task",
            Workload::YieldMany => "ns/yield",
            Workload::PingPong => "ns/round trip",
            Workload::ChainedSpawn => "ns/spawn",
        }
    }

    /// What one run does, in the row's unit.
    pub fn ops(self) -> usize {
        match self {
            Workload::SpawnInside | Workload::SpawnOutside => SPAWNS,
            Workload::YieldMany => YIELD_TASKS * YIELDS,
            Workload::PingPong => PINGS,
            // The first task, then one per level.
            Workload::ChainedSpawn => CHAIN_DEPTH + 1,
        }
    }
}

/// The runtimes, each with [`WORKERS`] worker threads, built once, outside
/// any timed region; and the channel tasks signal completion on.
pub struct MtBench {
    pollen: pollen::runtime::Runtime,
    tokio: tokio::runtime::Runtime,
    smol: SmolPool,
    done: Done,
}

impl MtBench {
    pub fn new() -> MtBench {
        MtBench {
            pollen: pollen_runtime(WORKERS),
            tokio: tokio_runtime(WORKERS),
            smol: SmolPool::start(WORKERS),
            done: Done::new(),
        }
    }

    /// Runs `workload` once on `rt`; returns the time of the timed region.
    /// Panics if the workload's result is wrong.
    pub fn run(&self, rt: Rt, workload: Workload) -> Duration {
        match rt {
            Rt::Pollen => self.run_on(&self.pollen, workload),
            Rt::Tokio => self.run_on(&self.tokio, workload),
            Rt::Smol => self.run_on(&self.smol, workload),
        }
    }

    fn run_on<P: Pool>(&self, pool: &P, workload: Workload) -> Duration {
        let elapsed = match workload {
            Workload::SpawnInside => spawn_inside(pool, &self.done),
            Workload::SpawnOutside => spawn_outside(pool),
            Workload::YieldMany => yield_many(pool, &self.done),
            Workload::PingPong => ping_pong(pool, &self.done),
            Workload::ChainedSpawn => chained_spawn(pool, &self.done),
        };
        self.done.check_empty(P::NAME, workload);
        elapsed
    }
}

/// Inside `block_on`, spawns [`SPAWNS`] tasks that each count down a shared
/// counter; the one that reaches zero signals, and `block_on` waits for
/// the signal.
fn spawn_inside<P: Pool>(pool: &P, done: &Done) -> Duration {
    let remaining = Arc::new(AtomicUsize::new(SPAWNS));
    let start = Instant::now();
    pool.block_on(async {
        for _ in 0..SPAWNS {
            let remaining = Arc::clone(&remaining);
            let tx = done.tx.clone();
            P::spawn_inside(async move {
                if remaining.fetch_sub(1, Ordering::Relaxed) == 1 {
                    tx.send(()).expect("the bench waits for the signal");
                }
            });
        }
        done.wait(1, P::NAME, Workload::SpawnInside);
    });
    let elapsed = start.elapsed();
    let left = remaining.load(Ordering::Relaxed);
    assert_eq!(left, 0, "{}: {left} tasks did not run", P::NAME);
    elapsed
}

/// From this thread, outside the runtime, spawns [`SPAWNS`] empty tasks
/// through the runtime, keeping their handles; then awaits every handle
/// in `block_on`.
fn spawn_outside<P: Pool>(pool: &P) -> Duration {
    let mut handles = Vec::with_capacity(SPAWNS);
    let start = Instant::now();
    for _ in 0..SPAWNS {
        handles.push(pool.spawn_outside(async {}));
    }
    let joined = pool.block_on(async {
        let mut joined = 0;
        for handle in handles {
            P::join(handle).await;
            joined += 1;
        }
        joined
    });
    let elapsed = start.elapsed();
    assert_eq!(joined, SPAWNS, "{}: {joined} of {SPAWNS} joined", P::NAME);
    elapsed
}

/// From outside the runtime, spawns [`YIELD_TASKS`] tasks that each yield
/// [`YIELDS`] times and then signal; waits for every signal.
fn yield_many<P: Pool>(pool: &P, done: &Done) -> Duration {
    let start = Instant::now();
    for _ in 0..YIELD_TASKS {
        let tx = done.tx.clone();
        P::detach(pool.spawn_outside(async move {
            for _ in 0..YIELDS {
                P::yield_now().await;
            }
            tx.send(()).expect("the bench waits for the signal");
        }));
    }
    done.wait(YIELD_TASKS, P::NAME, Workload::YieldMany);
    start.elapsed()
}

/// Inside `block_on`, spawns a task that spawns [`PINGS`] tasks; each
/// makes two oneshots, spawns a peer that awaits the first and sends on
/// the second, sends on the first and awaits the second, then counts down
/// a shared counter; the one that reaches zero signals.
fn ping_pong<P: Pool>(pool: &P, done: &Done) -> Duration {
    let remaining = Arc::new(AtomicUsize::new(PINGS));
    let tasks_remaining = Arc::clone(&remaining);
    let tx = done.tx.clone();
    let start = Instant::now();
    pool.block_on(async {
        P::spawn_inside(async move {
            for _ in 0..PINGS {
                let remaining = Arc::clone(&tasks_remaining);
                let tx = tx.clone();
                P::spawn_inside(async move {
                    let (ping_tx, ping_rx) = P::oneshot();
                    let (pong_tx, pong_rx) = P::oneshot();
                    P::spawn_inside(async move {
                        P::recv(ping_rx).await;
                        P::send(pong_tx);
                    });
                    P::send(ping_tx);
                    P::recv(pong_rx).await;
                    if remaining.fetch_sub(1, Ordering::Relaxed) == 1 {
                        tx.send(()).expect("the bench waits for the signal");
                    }
                });
            }
        });
        done.wait(1, P::NAME, Workload::PingPong);
    });
    let elapsed = start.elapsed();
    let left = remaining.load(Ordering::Relaxed);
    assert_eq!(left, 0, "{}: {left} round trips did not finish", P::NAME);
    elapsed
}

/// Inside `block_on`, spawns a task that spawns the next, [`CHAIN_DEPTH`]
/// deep; the last signals.
fn chained_spawn<P: Pool>(pool: &P, done: &Done) -> Duration {
    /// Spawns the task of level `depth`, or signals at the bottom.
    fn link<P: Pool>(tx: SyncSender<()>, depth: usize) {
        if depth == 0 {
            tx.send(()).expect("the bench waits for the signal");
        } else {
            P::spawn_inside(async move { link::<P>(tx, depth - 1) });
        }
    }

    let tx = done.tx.clone();
    let start = Instant::now();
    pool.block_on(async {
        P::spawn_inside(async move { link::<P>(tx, CHAIN_DEPTH) });
        done.wait(1, P::NAME, Workload::ChainedSpawn);
    });
    start.elapsed()
}

/// The channel tasks signal completion on, as in tokio's benchmarks: a
/// `std::sync::mpsc::sync_channel`, waited on with a blocking receive
/// (also inside `block_on`, which blocks that thread, not a worker).
struct Done {
    tx: SyncSender<()>,
    rx: Receiver<()>,
}

impl Done {
    fn new() -> Done {
        let (tx, rx) = mpsc::sync_channel(YIELD_TASKS.max(1_000));
        Done { tx, rx }
    }

    /// Waits for `signals` signals; panics after [`TIMEOUT`].
    fn wait(&self, signals: usize, rt: &str, workload: Workload) {
        for received in 0..signals {
            if self.rx.recv_timeout(TIMEOUT).is_err() {
                panic!(
                    "{rt}: {}: {received} of {signals} tasks finished in {TIMEOUT:?}",
                    workload.name()
                );
            }
        }
    }

    /// Panics if a signal is left over: some task signalled twice.
    fn check_empty(&self, rt: &str, workload: Workload) {
        assert!(
            self.rx.try_recv().is_err(),
            "{rt}: {}: a completion signal too many",
            workload.name()
        );
    }
}
