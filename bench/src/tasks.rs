//! Task workloads: spawn and run `--tasks N` (default 100 000) tiny tasks on
//! one thread, timing with [`Instant`] only the spawning and running (and,
//! for the join workload, the awaiting of every handle):
//!
//! 1. **spawn+run detached**: N tasks that each bump a relaxed atomic
//!    counter; their handles are dropped at once (pollen: `drop(handle)`,
//!    tokio: `drop(JoinHandle)`, smol: `Task::detach`), then the executor runs
//!    until all N have run. The counter is checked to be N after every run.
//! 2. **spawn+run+join**: N tasks that return their index; the handles are
//!    kept, the tasks run, then every handle is awaited and its output
//!    checked.
//!
//! How each runtime is driven, with its ordinary API:
//!
//! - pollen: `EX.spawn` from outside the executor, `run_until_stalled`, and
//!   for joining, `block_on` of a future that awaits every handle in turn.
//! - tokio: everything inside one `Runtime::block_on` (so `tokio::spawn`
//!   takes the local-queue path of the current-thread scheduler); the
//!   detached workload then yields until the counter reaches N, the join
//!   workload awaits each handle in turn. The runtime has no drivers (`rt`
//!   only).
//! - smol: `LocalExecutor::spawn`, `while ex.try_tick() {}`, and for joining
//!   `futures_lite::future::block_on` of a future that awaits every handle.
//!
//! Each runtime is built once, outside any timed region; the `Vec` for the
//! join handles is allocated once per runtime, outside any timed region.
//!
//! Caveat: at large N the figures depend on the memory allocator's state
//! (glibc's malloc here), which the runtimes share in one process; medians
//! of interleaved runs damp that but do not remove it.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use pollen_core::executor::{Executor, StdPark};

use crate::Rt;
use crate::harness::{self, Evict, WorkloadResult};

/// pollen's executor (`spawn` takes `&'static self`).
static POLLEN: Executor = Executor::new();
/// Where `POLLEN.block_on` sleeps (never, here: every handle is ready).
static PARK: StdPark = StdPark::new();
/// Bumped by every detached task, so the tasks do observable work.
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The detached workload's task: bump the counter.
async fn noop_task() {
    COUNTER.fetch_add(1, Ordering::Relaxed);
}

/// The join workload's task: return its index.
async fn value_task(i: usize) -> usize {
    i
}

/// Runs every task workload on `runtimes` (warm-up, then `runs` interleaved
/// rounds); the rows are in ns per task.
pub fn run(n: usize, runtimes: &[Rt], runs: u64, evict: &mut Evict) -> Vec<WorkloadResult> {
    let mut bench = Bench::new(n);
    Workload::ALL
        .into_iter()
        .map(|workload| {
            let samples = harness::rounds(runtimes, runs, evict, |rt, _timed| {
                bench.run(rt, workload).as_nanos() as f64 / n as f64
            });
            WorkloadResult::new(workload.name(), "ns/task", samples)
        })
        .collect()
}

/// `cell_size` of the detached workload's future: the whole allocation.
pub fn noop_task_bytes() -> usize {
    cell_size_of(noop_task())
}

/// `cell_size` of the join workload's future (returns a `usize`).
pub fn join_task_bytes() -> usize {
    cell_size_of(value_task(0))
}

/// `cell_size` of the type of `future` (which is dropped unpolled).
fn cell_size_of<F: Future>(_future: F) -> usize {
    pollen_core::task::cell_size::<F>()
}

/// A workload.
#[derive(Clone, Copy, Debug)]
enum Workload {
    Detached,
    Join,
}

impl Workload {
    const ALL: [Workload; 2] = [Workload::Detached, Workload::Join];

    fn name(self) -> &'static str {
        match self {
            Workload::Detached => "spawn+run detached",
            Workload::Join => "spawn+run+join",
        }
    }
}

/// The runtimes, built once, and the handle buffers, allocated once.
struct Bench {
    n: usize,
    tokio: tokio::runtime::Runtime,
    smol: LocalExecutor<'static>,
    pollen_handles: Vec<pollen_core::task::JoinHandle<usize>>,
    tokio_handles: Vec<tokio::task::JoinHandle<usize>>,
    smol_handles: Vec<async_executor::Task<usize>>,
}

impl Bench {
    fn new(n: usize) -> Bench {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("building tokio's current-thread runtime");
        Bench {
            n,
            tokio,
            smol: LocalExecutor::new(),
            pollen_handles: Vec::with_capacity(n),
            tokio_handles: Vec::with_capacity(n),
            smol_handles: Vec::with_capacity(n),
        }
    }

    /// Runs `workload` once on `rt`; returns the time of the timed region.
    /// Panics if any task did not run or returned the wrong value.
    fn run(&mut self, rt: Rt, workload: Workload) -> Duration {
        COUNTER.store(0, Ordering::Relaxed);
        let elapsed = match (rt, workload) {
            (Rt::Pollen, Workload::Detached) => self.pollen_detached(),
            (Rt::Pollen, Workload::Join) => self.pollen_join(),
            (Rt::Tokio, Workload::Detached) => self.tokio_detached(),
            (Rt::Tokio, Workload::Join) => self.tokio_join(),
            (Rt::Smol, Workload::Detached) => self.smol_detached(),
            (Rt::Smol, Workload::Join) => self.smol_join(),
        };
        if let Workload::Detached = workload {
            let ran = COUNTER.load(Ordering::Relaxed);
            assert_eq!(
                ran, self.n,
                "{rt:?}: {ran} of {} detached tasks ran",
                self.n
            );
        }
        elapsed
    }

    fn pollen_detached(&mut self) -> Duration {
        let n = self.n;
        let start = Instant::now();
        for _ in 0..n {
            drop(POLLEN.spawn(noop_task()));
        }
        let polls = POLLEN.run_until_stalled();
        let elapsed = start.elapsed();
        assert_eq!(polls, n, "pollen: {polls} polls for {n} tasks");
        elapsed
    }

    fn pollen_join(&mut self) -> Duration {
        let n = self.n;
        let handles = &mut self.pollen_handles;
        let start = Instant::now();
        for i in 0..n {
            handles.push(POLLEN.spawn(value_task(i)));
        }
        POLLEN.run_until_stalled();
        POLLEN.block_on(&PARK, async {
            for (i, handle) in handles.drain(..).enumerate() {
                assert_eq!(handle.await.expect("pollen task failed"), i);
            }
        });
        start.elapsed()
    }

    fn tokio_detached(&mut self) -> Duration {
        let n = self.n;
        let start = Instant::now();
        self.tokio.block_on(async {
            for _ in 0..n {
                drop(tokio::spawn(noop_task()));
            }
            // The current-thread scheduler runs spawned tasks while this
            // future yields; a task's poll is over once it has counted.
            while COUNTER.load(Ordering::Relaxed) < n {
                tokio::task::yield_now().await;
            }
        });
        start.elapsed()
    }

    fn tokio_join(&mut self) -> Duration {
        let n = self.n;
        let handles = &mut self.tokio_handles;
        let start = Instant::now();
        self.tokio.block_on(async {
            for i in 0..n {
                handles.push(tokio::spawn(value_task(i)));
            }
            for (i, handle) in handles.drain(..).enumerate() {
                assert_eq!(handle.await.expect("tokio task failed"), i);
            }
        });
        start.elapsed()
    }

    fn smol_detached(&mut self) -> Duration {
        let n = self.n;
        let ex = &self.smol;
        let start = Instant::now();
        for _ in 0..n {
            ex.spawn(noop_task()).detach();
        }
        while ex.try_tick() {}
        start.elapsed()
    }

    fn smol_join(&mut self) -> Duration {
        let n = self.n;
        let ex = &self.smol;
        let handles = &mut self.smol_handles;
        let start = Instant::now();
        for i in 0..n {
            handles.push(ex.spawn(value_task(i)));
        }
        while ex.try_tick() {}
        futures_lite::future::block_on(async {
            for (i, handle) in handles.drain(..).enumerate() {
                assert_eq!(handle.await, i);
            }
        });
        start.elapsed()
    }
}
