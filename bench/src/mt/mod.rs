//! The mt suite: tokio's multi-thread scheduler benchmarks
//! (`benches/rt_multi_threaded.rs` in tokio's repository) on pollen's
//! multi-thread runtime, tokio's and smol's `Executor` on a thread pool,
//! each with [`WORKERS`] (2) worker threads, in one process; and the memory
//! of a parked task, in a process of its own per runtime.
//!
//! # What is measured
//!
//! Timed, with tokio's sizes, each run timed from its first spawn to the
//! bench seeing the last task done:
//!
//! 1. **spawn inside**: inside `block_on`, spawn [`SPAWNS`] (10 000)
//!    tasks that each count down a shared atomic; the one that reaches zero
//!    signals, and `block_on` waits for the signal (tokio's
//!    `spawn_many_local`); ns per task.
//! 2. **spawn outside**: from the main thread, spawn [`SPAWNS`] empty
//!    tasks through the runtime, keeping the handles, then await every
//!    handle in `block_on` (tokio's `spawn_many_remote_idle`); ns per task.
//! 3. **yield many**: from the main thread, spawn [`YIELD_TASKS`] (200)
//!    tasks that each yield [`YIELDS`] (1 000) times and then signal; wait
//!    for every signal (tokio's `yield_many`); ns per yield.
//! 4. **ping-pong**: inside `block_on`, spawn a task that spawns [`PINGS`]
//!    (1 000) tasks; each makes two oneshots, spawns a peer that awaits the
//!    first and answers on the second, sends on the first and awaits the
//!    answer, then counts down a shared atomic; the one that reaches zero
//!    signals (tokio's `ping_pong`); ns per round trip (a spawn, two
//!    oneshots, two wake-ups).
//! 5. **chained spawn**: inside `block_on`, spawn a task that spawns the
//!    next, [`CHAIN_DEPTH`] (1 000) deep; the last signals (tokio's
//!    `chained_spawn`); ns per spawn (the first task's included).
//!
//! Every signal goes through one `std::sync::mpsc::sync_channel`, waited on
//! with a blocking receive, as in tokio's benchmarks (inside `block_on` too:
//! that blocks the main thread, which is not a worker). The memory table
//! ([`memory`]): `--mt-parked N` (default 100 000) tasks parked on
//! `std::future::pending()`, and separately on the receiver of a oneshot
//! that never fires (the task holds its sender), spawned from the main
//! thread; per task, the heap bytes the runtime asked for and did not give
//! back (a counting global allocator), the growth of resident memory
//! (`/proc/self/statm`), and the allocations. Each probe is a fresh process
//! (`mt-memory`, which the bench builds as the echo suite builds its
//! servers), so that resident memory is the one runtime's alone and the
//! counting allocator slows no timed workload.
//!
//! # The runtimes
//!
//! Each with its ordinary API, through [`Pool`](pool::Pool), so every
//! workload is the same code on all three:
//!
//! - pollen: `Builder::new_multi_thread().worker_threads(2).enable_all()`
//!   ([`pool::pollen_runtime`]); `Runtime::block_on`, `Handle::spawn` from
//!   outside, `pollen::spawn` inside, `pollen::task::yield_now`,
//!   `pollen::channel::oneshot`.
//! - tokio: `Builder::new_multi_thread().worker_threads(2).enable_all()`;
//!   `Runtime::block_on`, `Runtime::spawn`, `tokio::spawn`,
//!   `tokio::task::yield_now`, `tokio::sync::oneshot`.
//! - smol: one `async_executor::Executor` run by two threads, each in
//!   `futures_lite::future::block_on(ex.run(shutdown))` (smol's documented
//!   way to use a thread pool); `futures_lite::future::block_on` on the
//!   main thread (which runs no tasks), `Executor::spawn` from anywhere,
//!   `futures_lite::future::yield_now`, and for a oneshot
//!   `async_channel::bounded(1)` (smol has none; the channel suite's
//!   choice).
//!
//! # Fairness
//!
//! The three runtimes are built once, before the first run, and live side
//! by side; while one runs, the others' workers sleep. Warm-up, `--mt-runs`
//! interleaved rounds (default 41: a run of ping-pong or chained spawn
//! takes a fraction of a millisecond, and with 21 rounds a ratio still
//! moved by a fifth from run to run, with the median of the noisiest
//! runtime) and cache eviction before every timed run as in every suite
//! ([`harness::rounds`]); `median (min)` per cell.
//! The memory probes run `--mt-memory-runs` rounds (default 3), after one
//! warm-up probe per runtime.
//!
//! # Checks
//!
//! Every task must run: each run waits for its completion signals (and
//! panics after a minute without them), checks that the countdowns reached
//! zero, that every joined handle succeeded, and that no signal is left
//! over; every oneshot send and receive must succeed.
//!
//! # Caveats
//!
//! Two workers on a two-core machine, shared with the main thread (which
//! spawns or waits) and the system: the figures include cross-core
//! wake-ups and the cost of idle workers going to sleep and waking, which
//! vary from run to run; ping-pong and chained spawn take about a
//! millisecond a run or less, so their minimum is worth a look too. Spawning from
//! `block_on` on the main thread is spawning from outside the workers on
//! tokio and smol (tokio's `spawn_many_local` is that too). The heap figure
//! counts what the runtime requested, not malloc's own overhead (which the
//! RSS figure includes); neither counts the workers' stacks, set up before
//! the baseline.

mod memory;
mod pool;
mod probe;
mod workloads;

use serde::Serialize;

use crate::Rt;
use crate::harness::{self, Evict, Flavour, WorkloadResult};

use self::workloads::{MtBench, Workload};

/// Worker threads of every runtime.
pub const WORKERS: usize = 2;
/// Tasks spawned per spawn-many run.
pub const SPAWNS: usize = 10_000;
/// Tasks per yield-many run.
pub const YIELD_TASKS: usize = 200;
/// Yields per task per yield-many run.
pub const YIELDS: usize = 1_000;
/// Round trips per ping-pong run.
pub const PINGS: usize = 1_000;
/// Tasks in the chain of a chained-spawn run, after the first.
pub const CHAIN_DEPTH: usize = 1_000;

/// The target for every timed workload: pollen's median at most
/// this times the faster peer's.
pub const TIME_TARGET: f64 = 0.80;
/// The target for the heap bytes of a task parked on `pending()`.
pub const PENDING_HEAP_TARGET: f64 = 64.0;
/// The target for the resident bytes of a task parked on
/// `pending()`.
pub const PENDING_RSS_TARGET: f64 = 96.0;
/// tokio's figures, as the issue gives them.
pub const REFERENCE: &str = "tokio, from the issue: ~930 ns/spawned task, 53 ns/yield, \
     139 ns/ping-pong round trip; 128 B heap, ~320 B RSS per pending() task";

/// How the suite runs.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Timed rounds of every workload.
    pub runs: u64,
    /// Tasks each memory probe parks (0: no memory table).
    pub parked: usize,
    /// Rounds of memory probes.
    pub memory_runs: u64,
    /// Use the probe's binary as it is, without building it.
    pub no_build: bool,
}

/// The mt suite's results.
#[derive(Debug, Serialize)]
pub struct MtReport {
    pub workers: usize,
    pub spawns: usize,
    pub yield_tasks: usize,
    pub yields: usize,
    pub pings: usize,
    pub chain_depth: usize,
    /// Timed runs per workload and runtime.
    pub runs: u64,
    /// One row per timed workload, each in its own unit.
    pub workloads: Vec<WorkloadResult>,
    /// Tasks parked per memory probe.
    pub parked: u64,
    /// Probes per wait and runtime.
    pub memory_runs: u64,
    /// Heap, RSS and allocations per parked task, for each wait (empty if
    /// skipped).
    pub memory: Vec<WorkloadResult>,
    /// Why there is no memory table, if there is none.
    pub memory_skipped: Option<String>,
    pub targets: Targets,
    /// tokio's figures from the issue, for scale.
    pub reference: &'static str,
}

/// The targets, and where pollen stands.
#[derive(Debug, Serialize)]
pub struct Targets {
    /// The most pollen's median may be over the faster peer's, on every
    /// timed workload.
    pub time_ratio: f64,
    /// Each timed workload's ratio (where pollen and a peer ran).
    pub times: Vec<TimeTarget>,
    /// The most heap bytes a task parked on `pending()` may take.
    pub pending_heap_bytes: f64,
    /// The most resident bytes a task parked on `pending()` may take.
    pub pending_rss_bytes: f64,
    /// pollen's median heap bytes per `pending()` task, if measured.
    pub pollen_pending_heap_bytes: Option<f64>,
    /// pollen's median resident bytes per `pending()` task, if measured.
    pub pollen_pending_rss_bytes: Option<f64>,
}

/// pollen against the faster peer on one timed workload.
#[derive(Debug, Serialize)]
pub struct TimeTarget {
    pub workload: &'static str,
    pub fastest_peer: &'static str,
    pub pollen_over_fastest_peer: f64,
    /// `pollen_over_fastest_peer <= time_ratio`.
    pub met: bool,
}

/// Runs the timed workloads on `runtimes` (warm-up, then `config.runs`
/// interleaved rounds), then the memory probes.
pub fn run(config: Config, runtimes: &[Rt], evict: &mut Evict) -> MtReport {
    let bench = MtBench::new();
    let workloads: Vec<WorkloadResult> = Workload::ALL
        .into_iter()
        .map(|workload| {
            let ops = workload.ops() as f64;
            let samples = harness::rounds(runtimes, config.runs, evict, |rt, _timed| {
                bench.run(rt, workload).as_nanos() as f64 / ops
            });
            WorkloadResult::of_flavour(
                Flavour::MultiThread,
                workload.name(),
                workload.unit(),
                samples,
            )
        })
        .collect();
    // Its threads would only sleep through the probes.
    drop(bench);

    let (memory, memory_skipped) = if config.parked == 0 {
        (Vec::new(), Some("--mt-parked 0".to_owned()))
    } else {
        match memory::run(runtimes, config.parked, config.memory_runs, config.no_build) {
            Ok(rows) => (rows, None),
            Err(why) => (Vec::new(), Some(why)),
        }
    };

    let times = workloads
        .iter()
        .filter_map(|w| {
            let (peer, ratio) = w.pollen_over_fastest_peer()?;
            Some(TimeTarget {
                workload: w.workload,
                fastest_peer: peer,
                pollen_over_fastest_peer: ratio,
                met: ratio <= TIME_TARGET,
            })
        })
        .collect();
    let pollen_median = |row: &str| {
        let row = memory.iter().find(|w| w.workload == row)?;
        Some(row.pollen?.median)
    };
    let targets = Targets {
        time_ratio: TIME_TARGET,
        times,
        pending_heap_bytes: PENDING_HEAP_TARGET,
        pending_rss_bytes: PENDING_RSS_TARGET,
        pollen_pending_heap_bytes: pollen_median(memory::PENDING_HEAP),
        pollen_pending_rss_bytes: pollen_median(memory::PENDING_RSS),
    };
    MtReport {
        workers: WORKERS,
        spawns: SPAWNS,
        yield_tasks: YIELD_TASKS,
        yields: YIELDS,
        pings: PINGS,
        chain_depth: CHAIN_DEPTH,
        runs: config.runs,
        workloads,
        parked: config.parked as u64,
        memory_runs: config.memory_runs,
        memory,
        memory_skipped,
        targets,
        reference: REFERENCE,
    }
}
