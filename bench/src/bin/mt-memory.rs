//! The mt suite's memory probe: parks `--tasks N` tasks on one runtime with
//! two worker threads and prints, as one line of JSON, how much heap and
//! resident memory they added (see `mt/probe.rs` for the protocol).
//!
//! Its own process, so that resident memory is the one runtime's alone and
//! the counting allocator (every allocation counted with atomic adds)
//! slows no timed workload of the bench.
//!
//! 1. Build the runtime; run and join [`WARM_UP`] empty tasks (one-time
//!    lazy initialisation: the workers' queues, the allocator's arenas);
//!    let the workers go idle ([`SETTLE`]).
//! 2. Read the allocator's counts and `/proc/self/statm`: the baseline.
//! 3. From the main thread, spawn N tasks, each parked for good on
//!    `std::future::pending()` or on a oneshot receiver (the task holds the
//!    sender and never sends); handles dropped (detached). Wait until
//!    every task has been polled, then [`SETTLE`] again.
//! 4. Read both again; print the differences. Exit without shutting the
//!    runtime down.

#![forbid(unsafe_code)]

use std::alloc::System;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[path = "../mt/pool.rs"]
#[allow(
    dead_code,
    reason = "the probe uses only part of what the workloads need"
)]
mod pool;
#[path = "../mt/probe.rs"]
mod probe;

use pool::{Pool, SmolPool};
use probe::{Park, ProbeSample, Runtime};

/// Counts every allocation and free, and their bytes.
#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Worker threads of the runtime, as in the timed workloads.
const WORKERS: usize = 2;
/// Empty tasks run and joined before the baseline.
const WARM_UP: usize = 1_000;
/// How long the workers get to go idle before memory is read.
const SETTLE: Duration = Duration::from_millis(100);
/// How long the parked tasks may take to be polled once.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Tasks that have been polled (and so are parked, or about to be).
static POLLED: AtomicUsize = AtomicUsize::new(0);

/// Parks tasks on one runtime and prints the memory they added.
#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum)]
    runtime: Runtime,
    #[arg(long, value_enum)]
    park: Park,
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
}

fn main() {
    let args = Args::parse();
    let sample = match args.runtime {
        Runtime::Pollen => measure(&pool::pollen_runtime(WORKERS), args.park, args.tasks),
        Runtime::Tokio => measure(&pool::tokio_runtime(WORKERS), args.park, args.tasks),
        Runtime::Smol => measure(&SmolPool::start(WORKERS), args.park, args.tasks),
    };
    let line = serde_json::to_string(&sample).expect("serialising the sample");
    println!("{line}");
    // Dropping the runtime would drop every parked task first: not needed.
    std::process::exit(0);
}

/// Steps 1-4 of the module docs.
fn measure<P: Pool>(pool: &P, park: Park, tasks: usize) -> ProbeSample {
    let page_bytes = page_bytes();
    let warm_up: Vec<_> = (0..WARM_UP).map(|_| pool.spawn_outside(async {})).collect();
    pool.block_on(async {
        for handle in warm_up {
            P::join(handle).await;
        }
    });
    thread::sleep(SETTLE);

    let before = Memory::now(page_bytes);
    for _ in 0..tasks {
        let handle = match park {
            Park::Pending => pool.spawn_outside(pending()),
            Park::Oneshot => pool.spawn_outside(oneshot::<P>()),
        };
        P::detach(handle);
    }
    let start = Instant::now();
    while POLLED.load(Ordering::Relaxed) < tasks {
        assert!(
            start.elapsed() < TIMEOUT,
            "{}: {} of {tasks} parked tasks polled in {TIMEOUT:?}",
            P::NAME,
            POLLED.load(Ordering::Relaxed),
        );
        thread::sleep(Duration::from_millis(1));
    }
    thread::sleep(SETTLE);
    let after = Memory::now(page_bytes);

    ProbeSample {
        tasks: tasks as u64,
        heap_bytes: after.heap_bytes - before.heap_bytes,
        allocations: after.allocations - before.allocations,
        rss_bytes: after.rss_bytes - before.rss_bytes,
    }
}

/// A task parked on `std::future::pending()`.
async fn pending() {
    POLLED.fetch_add(1, Ordering::Relaxed);
    std::future::pending::<()>().await;
}

/// A task parked on the receiver of a oneshot whose sender it holds.
async fn oneshot<P: Pool>() {
    let (sender, receiver) = P::oneshot();
    POLLED.fetch_add(1, Ordering::Relaxed);
    P::recv(receiver).await;
    drop(sender);
}

/// The process's memory at one moment.
#[derive(Clone, Copy, Debug)]
struct Memory {
    /// Bytes allocated and not freed.
    heap_bytes: i64,
    /// Allocations not freed.
    allocations: i64,
    /// Resident bytes.
    rss_bytes: i64,
}

impl Memory {
    fn now(page_bytes: i64) -> Memory {
        let stats = ALLOCATOR.stats();
        let as_i64 = |n: usize| i64::try_from(n).expect("fits in i64");
        Memory {
            heap_bytes: as_i64(stats.bytes_allocated) - as_i64(stats.bytes_deallocated),
            allocations: as_i64(stats.allocations) - as_i64(stats.deallocations),
            rss_bytes: resident_pages() * page_bytes,
        }
    }
}

/// Resident pages: the second field of `/proc/self/statm`.
fn resident_pages() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("reading /proc/self/statm");
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse().ok())
        .expect("/proc/self/statm has a resident field")
}

/// The page size (`getconf PAGESIZE`; 4096 if that fails).
fn page_bytes() -> i64 {
    Command::new("getconf")
        .arg("PAGESIZE")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&bytes: &i64| bytes > 0)
        .unwrap_or(4096)
}
