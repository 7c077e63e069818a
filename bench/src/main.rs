//! pollen-bench: the same task workloads on pollen-core's [`Executor`],
//! tokio's current-thread runtime and smol's `LocalExecutor`, in one process,
//! printed as times per task and as ratios.
//!
//! # What is measured
//!
//! Every workload spawns `--tasks N` (default 100 000) tiny tasks on one
//! thread and times, with [`Instant`], only the spawning and running (and,
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
//!   workload awaits each handle in turn.
//! - smol: `LocalExecutor::spawn`, `while ex.try_tick() {}`, and for joining
//!   `futures_lite::future::block_on` of a future that awaits every handle.
//!
//! # Fairness
//!
//! Each runtime is built once, outside any timed region; the `Vec` for the
//! join handles is allocated once per runtime, outside any timed region.
//! Before a workload is timed, it runs once on each runtime untimed
//! (warm-up: allocator pools, caches). Then it runs `--runs R` rounds (default
//! 11), and each round runs pollen, tokio and smol one after the other, so
//! machine noise falls on all three alike. Before every timed run, untimed,
//! a 64 MiB buffer is written (one word per cache line), so that every run
//! starts from the same cold caches whichever runtime ran before it: without
//! that, a run pays for (or profits from) what its predecessor left in the
//! caches, and at N = 100 000 that moved pollen's figure by 2x or more.
//!
//! Caveat: at large N the figures depend on the memory allocator's state
//! (glibc's malloc here), which the runtimes share in one process; medians
//! of interleaved runs damp that but do not remove it. Compare ratios from
//! the same run, not absolute figures across machines or runs.
//!
//! # How to read it
//!
//! Each cell is `median (min)` of the R runs, in nanoseconds per task (the
//! whole timed region divided by N). The ratio columns are pollen's median
//! over the other runtime's median: below 1.00 pollen is faster, above 1.00
//! it is slower (2.00 = twice the time per task). The last line is what
//! pollen adds to every task: its header, and the whole task allocation
//! (header, future or output, join waker slot) for the detached workload's
//! future. `--json` prints the same numbers as one JSON object.
//!
//! Hidden flags, for investigating: `--only pollen` (or a comma-separated
//! list) runs only those runtimes, e.g. under
//! `valgrind --tool=callgrind target/release/pollen-bench --only pollen --runs 1 --no-evict`;
//! `--no-evict` skips the cache eviction.

#![forbid(unsafe_code)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use clap::{Parser, ValueEnum};
use pollen_core::executor::{Executor, StdPark};
use serde::Serialize;

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

/// The same tiny tasks on pollen, tokio (current thread) and smol
/// (`LocalExecutor`), as ns per task and ratios.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Tasks spawned per run.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    tasks: u64,
    /// Timed runs per workload and runtime (median and min are reported).
    #[arg(long, default_value_t = 11, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Do not evict the caches before each timed run (then each runtime
    /// starts from whatever the runtime before it left in the caches).
    #[arg(long, hide = true)]
    no_evict: bool,
    /// Run only these runtimes, comma-separated (for profiling, e.g. under
    /// callgrind, and for checking how the runtimes affect each other).
    #[arg(long, value_enum, value_delimiter = ',', hide = true)]
    only: Vec<Rt>,
}

/// A runtime under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Rt {
    Pollen,
    Tokio,
    Smol,
}

impl Rt {
    const ALL: [Rt; 3] = [Rt::Pollen, Rt::Tokio, Rt::Smol];
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

/// A buffer larger than the last-level cache, written before every timed
/// run so that each run starts from the same cold caches, whichever runtime
/// ran before it.
struct Evict {
    buf: Vec<u64>,
    pass: u64,
}

impl Evict {
    /// 64 MiB: twice the 32 MiB last-level cache of the machines this was
    /// written on.
    const BYTES: usize = 64 << 20;

    fn new() -> Evict {
        Evict {
            buf: vec![0; Evict::BYTES / 8],
            pass: 0,
        }
    }

    /// Writes one word of every cache line of the buffer.
    fn run(&mut self) {
        self.pass += 1;
        for line in self.buf.chunks_mut(8) {
            line[0] = self.pass;
        }
        std::hint::black_box(&mut self.buf);
    }
}

/// Median and minimum of one runtime's runs, in ns per task.
#[derive(Clone, Copy, Debug, Serialize)]
struct Stats {
    median: f64,
    min: f64,
}

impl Stats {
    fn of(mut ns_per_task: Vec<f64>) -> Stats {
        ns_per_task.sort_by(f64::total_cmp);
        let len = ns_per_task.len();
        let median = if len % 2 == 1 {
            ns_per_task[len / 2]
        } else {
            (ns_per_task[len / 2 - 1] + ns_per_task[len / 2]) / 2.0
        };
        Stats {
            median,
            min: ns_per_task[0],
        }
    }
}

/// One workload's results (`None` for a runtime left out with `--only`).
#[derive(Debug, Serialize)]
struct WorkloadResult {
    workload: &'static str,
    pollen: Option<Stats>,
    tokio_ct: Option<Stats>,
    smol_local: Option<Stats>,
    /// pollen's median over tokio's.
    pollen_over_tokio: Option<f64>,
    /// pollen's median over smol's.
    pollen_over_smol: Option<f64>,
}

/// Everything one run prints.
#[derive(Debug, Serialize)]
struct Report {
    tasks: u64,
    runs: u64,
    unit: &'static str,
    workloads: Vec<WorkloadResult>,
    /// `pollen_core::task::HEADER_SIZE`.
    task_header_bytes: usize,
    task_header_target_bytes: usize,
    /// `cell_size` of the detached workload's future: the whole allocation.
    noop_task_bytes: usize,
    /// `cell_size` of the join workload's future (returns a `usize`).
    join_task_bytes: usize,
}

/// The header size pollen aims for on 64-bit targets.
const HEADER_TARGET: usize = 32;

/// `cell_size` of the type of `future` (which is dropped unpolled).
fn cell_size_of<F: Future>(_future: F) -> usize {
    pollen_core::task::cell_size::<F>()
}

fn main() {
    let args = Args::parse();
    let n = usize::try_from(args.tasks).expect("--tasks does not fit in usize");
    let runtimes: Vec<Rt> = if args.only.is_empty() {
        Rt::ALL.to_vec()
    } else {
        args.only.clone()
    };

    let mut bench = Bench::new(n);
    let mut evict = Evict::new();
    let mut workloads = Vec::new();
    for workload in Workload::ALL {
        // Untimed warm-up, once per runtime.
        for &rt in &runtimes {
            bench.run(rt, workload);
        }
        let mut samples: [Vec<f64>; 3] = Default::default();
        for _round in 0..args.runs {
            for &rt in &runtimes {
                if !args.no_evict {
                    evict.run();
                }
                let elapsed = bench.run(rt, workload);
                samples[rt as usize].push(elapsed.as_nanos() as f64 / n as f64);
            }
        }
        let [pollen, tokio, smol] = samples.map(|s| {
            if s.is_empty() {
                None
            } else {
                Some(Stats::of(s))
            }
        });
        let ratio = |other: Option<Stats>| Some(pollen?.median / other?.median);
        workloads.push(WorkloadResult {
            workload: workload.name(),
            pollen,
            tokio_ct: tokio,
            smol_local: smol,
            pollen_over_tokio: ratio(tokio),
            pollen_over_smol: ratio(smol),
        });
    }

    let report = Report {
        tasks: args.tasks,
        runs: args.runs,
        unit: "ns/task",
        workloads,
        task_header_bytes: pollen_core::task::HEADER_SIZE,
        task_header_target_bytes: HEADER_TARGET,
        noop_task_bytes: cell_size_of(noop_task()),
        join_task_bytes: cell_size_of(value_task(0)),
    };
    if args.json {
        let json = serde_json::to_string_pretty(&report).expect("serialising the report");
        println!("{json}");
    } else {
        print_table(&report);
    }
}

fn print_table(report: &Report) {
    println!(
        "pollen bench: {} tasks, {} runs, median (min) ns/task",
        report.tasks, report.runs
    );
    print_row([
        "workload",
        "pollen",
        "tokio-ct",
        "smol-local",
        "pollen/tokio",
        "pollen/smol",
    ]);
    let stats = |s: Option<Stats>| match s {
        Some(s) => format!("{:.1} ({:.1})", s.median, s.min),
        None => "-".to_owned(),
    };
    let ratio = |r: Option<f64>| match r {
        Some(r) => format!("{r:.2}"),
        None => "-".to_owned(),
    };
    for w in &report.workloads {
        print_row([
            w.workload,
            &stats(w.pollen),
            &stats(w.tokio_ct),
            &stats(w.smol_local),
            &ratio(w.pollen_over_tokio),
            &ratio(w.pollen_over_smol),
        ]);
    }
    println!(
        "task header: {} bytes (target <= {}); whole task for a no-op future: {} bytes \
         (join workload's future: {} bytes)",
        report.task_header_bytes,
        report.task_header_target_bytes,
        report.noop_task_bytes,
        report.join_task_bytes,
    );
}

/// Prints one table row: the first column 22 wide, the others 16, and at
/// least one space between any two cells.
fn print_row(cells: [&str; 6]) {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        let width = if i == 0 { 22 } else { 16 };
        line.push_str(&format!("{cell:<0$} ", width - 1));
    }
    println!("{}", line.trim_end());
}
