//! pollen-bench: the same workloads on pollen, tokio's current-thread
//! runtime and smol's `LocalExecutor`, in one process, printed as figures
//! per runtime and as ratios.
//!
//! # What is measured
//!
//! - **tasks** ([`tasks`]): spawning and running 100 000 tiny tasks on
//!   pollen-core's [`Executor`](pollen_core::executor::Executor), detached
//!   and joined; ns per task.
//!
//! Every workload checks its own result after every run (every task ran,
//! with the right output), so a broken runtime cannot produce a fast figure.
//!
//! # Fairness
//!
//! Each runtime is built once, outside any timed region. Before a workload
//! is timed, it runs once on each runtime untimed (warm-up: allocator pools,
//! caches, lazily started threads). Then it runs `--runs R` rounds (default
//! 11), and each round runs pollen, tokio and smol one after the other, so
//! machine noise falls on all three alike. Before every timed run, untimed,
//! a 64 MiB buffer is written (one word per cache line), so that every run
//! starts from the same cold caches whichever runtime ran before it: without
//! that, a run pays for (or profits from) what its predecessor left in the
//! caches, and at N = 100 000 that moved pollen's spawn figure by 2x or more.
//!
//! # How to read it
//!
//! Each cell is `median (min)` of the R runs, in ns per task (the whole
//! timed region divided by N). The ratio columns are pollen's median over
//! the other runtime's median: below 1.00 pollen is faster, above 1.00 it is
//! slower (2.00 = twice the time per task). The table's last line is what
//! pollen adds to every task: its header, and the whole task allocation
//! (header, future or output, join waker slot) for the detached workload's
//! future. `--json` prints the same numbers as one JSON object.
//!
//! Compare ratios from the same run, not absolute figures across machines
//! or runs: the machine is shared and noisy, and the figures also depend on
//! the memory allocator's state, which the runtimes share in one process.
//! Each module's docs list its workloads' own caveats.
//!
//! Hidden flags, for investigating: `--only pollen` (or a comma-separated
//! list) runs only those runtimes, e.g. under
//! `valgrind --tool=callgrind target/release/pollen-bench --only pollen --runs 1 --no-evict`;
//! `--no-evict` skips the cache eviction.

#![forbid(unsafe_code)]

mod harness;
mod tasks;

use clap::{Parser, ValueEnum};
use serde::Serialize;

use crate::harness::{Evict, Stats, WorkloadResult};

/// The same tiny tasks on pollen, tokio (current thread) and smol
/// (`LocalExecutor`), as ns per task and ratios.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Tasks spawned per run of a task workload.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    tasks: u64,
    /// Timed runs per task workload and runtime (median and min are
    /// reported).
    #[arg(long, default_value_t = 11, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// Print the results as JSON instead of tables.
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

fn main() {
    let args = Args::parse();
    let runtimes: Vec<Rt> = if args.only.is_empty() {
        Rt::ALL.to_vec()
    } else {
        args.only.clone()
    };
    let n = usize::try_from(args.tasks).expect("--tasks does not fit in usize");

    let mut evict = Evict::new(!args.no_evict);
    let workloads = tasks::run(n, &runtimes, args.runs, &mut evict);

    let report = Report {
        tasks: args.tasks,
        runs: args.runs,
        unit: "ns/task",
        workloads,
        task_header_bytes: pollen_core::task::HEADER_SIZE,
        task_header_target_bytes: HEADER_TARGET,
        noop_task_bytes: tasks::noop_task_bytes(),
        join_task_bytes: tasks::join_task_bytes(),
    };
    if args.json {
        let json = serde_json::to_string_pretty(&report).expect("serialising the report");
        println!("{json}");
    } else {
        print_task_table(&report);
    }
}

fn print_task_table(report: &Report) {
    println!(
        "pollen bench: {} tasks, {} runs, median (min) ns/task",
        report.tasks, report.runs
    );
    print_workloads(&report.workloads, |w| w.workload.to_owned());
    println!(
        "task header: {} bytes (target <= {}); whole task for a no-op future: {} bytes \
         (join workload's future: {} bytes)",
        report.task_header_bytes,
        report.task_header_target_bytes,
        report.noop_task_bytes,
        report.join_task_bytes,
    );
}

/// Prints the header and one row per workload, named by `name`.
fn print_workloads(workloads: &[WorkloadResult], name: impl Fn(&WorkloadResult) -> String) {
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
    for w in workloads {
        print_row([
            &name(w),
            &stats(w.pollen),
            &stats(w.tokio_ct),
            &stats(w.smol_local),
            &ratio(w.pollen_over_tokio),
            &ratio(w.pollen_over_smol),
        ]);
    }
}

/// Prints one table row: the first column 26 wide, the others 16, and at
/// least one space between any two cells.
fn print_row(cells: [&str; 6]) {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        let width = if i == 0 { 26 } else { 16 };
        line.push_str(&format!("{cell:<0$} ", width - 1));
    }
    println!("{}", line.trim_end());
}
