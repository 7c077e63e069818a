//! pollen-bench: the same workloads on pollen, tokio's current-thread
//! runtime and smol's `LocalExecutor` (and, in the mt suite, the three
//! runtimes' multi-thread forms), in one process, printed as figures per
//! runtime and as ratios.
//!
//! # What is measured
//!
//! Six suites, each printed as its own table:
//!
//! - **tasks** ([`tasks`]): spawning and running 100 000 tiny tasks on
//!   pollen-core's [`Executor`](pollen_core::executor::Executor), detached
//!   and joined; ns per task.
//! - **timers** ([`timers`]): arming and firing 100 000 timers with random
//!   1–10 ms deadlines (wall and process CPU time per batch, and the
//!   lateness of every fired timer: p50, p99, max), the same with 1 000
//!   timers for lateness under light load, and arming and cancelling
//!   1 000 000 timers (ns each), on pollen's timer wheel driven by the core
//!   executor through a `TimerPark`, tokio's timer driver and smol's
//!   `async-io` timers.
//! - **channels** ([`channels`]): 1 000 000 messages through a bounded
//!   mpsc channel of 1 024 slots from 1 and from 10 producer tasks to one
//!   consumer (ns per message), 100 000 oneshots created, sent and
//!   received (ns per oneshot), and 100 pairs of tasks passing a value back
//!   and forth 1 000 times each through a fresh oneshot per message (ns
//!   per round trip), on pollen-core's channels, tokio's and smol's
//!   (`async-channel`).
//! - **mt** ([`mt`]): tokio's multi-thread scheduler benchmarks on pollen's
//!   multi-thread runtime, tokio's and smol's `Executor` on a thread pool,
//!   each with 2 worker threads: 10 000 tasks spawned from inside
//!   `block_on` and from outside (ns per task), 200 tasks yielding 1 000
//!   times each (ns per yield), 1 000 ping-pongs over oneshots (ns per
//!   round trip) and a chain of 1 000 tasks each spawning the next (ns per
//!   spawn); and the memory of 100 000 tasks parked on `pending()` or on a
//!   oneshot (heap bytes, resident bytes and allocations per task, each
//!   runtime in a probe process of its own, which the bench builds). The
//!   footer compares pollen with the targets: at most 0.80 of the
//!   faster peer's time on every workload, at most 64 heap bytes and 96
//!   resident bytes per `pending()` task. About 15 seconds, once the
//!   probe is built.
//! - **echo** ([`echo`]): a TCP echo server on pollen (the full app,
//!   `pollen-echo`, and a minimal server, `pollen-min`), tokio, smol and a
//!   hand-written mio loop (the reference), each in its own process, under
//!   one closed-loop load generator (`pollen-load`'s echo engine) of
//!   64-byte messages at 1, 50 and 500
//!   connections: requests/s, p50/p99 latency, server CPU time per
//!   request; and the server's memory per idle connection with 10 000
//!   held open. Its own table layout and footer; see its docs. The
//!   bench builds the server binaries itself (`pollen-echo` is skipped,
//!   with a line saying so, if it cannot be built). About two minutes.
//! - **chat** ([`chat`]): the chat server's load test on a chat server of
//!   one broker design on pollen (the app, `pollen-chat`) and on tokio's
//!   multi-thread runtime (`chat-tokio`), each in its own process with 2
//!   worker threads: 500 clients connect, then each sends 20 messages and
//!   reads every other client's, from one load generator in the bench
//!   process; total time (first message sent to the last delivered) and
//!   messages delivered per second, with pollen's time over tokio's and
//!   the target (at most 1.00). A fresh server process per round;
//!   `--chat-window W` paces the clients so that no server's inbox of W
//!   lines per client can overflow (see its docs). The bench builds both
//!   servers (`pollen-chat` is skipped, with a line saying so, if it
//!   cannot be built). About 15 seconds.
//!
//! Every workload checks its own result after every run (every task ran,
//! every timer fired once and not early, or was armed and cancelled, every
//! message came once and in order), so a broken runtime cannot produce a
//! fast figure.
//!
//! # Fairness
//!
//! Each runtime is built once, outside any timed region. Before a workload
//! is timed, it runs once on each runtime untimed (warm-up: allocator pools,
//! caches, lazily started threads). Then it runs `--runs R` rounds (default
//! 11; `--timer-runs` for the timer suite, `--channel-runs` for the channel
//! suite, `--mt-runs` for the mt suite, default 41), and each round runs
//! pollen, tokio and smol one after the other, so machine noise falls on all
//! three alike. Before every timed run, untimed, a 64 MiB buffer is written (one
//! word per cache line), so that every run starts from the same cold caches
//! whichever runtime ran before it: without that, a run pays for (or profits
//! from) what its predecessor left in the caches, and at N = 100 000 that
//! moved pollen's spawn figure by 2x or more.
//!
//! # How to read it
//!
//! Each cell is `median (min)` of the R runs, in the row's unit (the task
//! table: ns per task; the timer table says its unit per row). The ratio
//! columns are pollen's median over the other runtime's median: below 1.00
//! pollen is faster, above 1.00 it is slower (2.00 = twice the time). The
//! lateness table is in µs, over every timer of the timed arm+fire runs.
//! The task table's last line is what pollen adds to every task: its
//! header, and the whole task allocation (header, future or output, join
//! waker slot) for the detached workload's future. The channel table's
//! last line is pollen's worst ratio to the faster of tokio and smol, over
//! its workloads (the target is <= 1.00 on every one). The mt tables name
//! their peers `tokio-mt` and `smol-mt` (in JSON too: `tokio_mt`,
//! `smol_mt`), and list pollen's ratio to the faster peer per workload.
//! `--json` prints the same numbers as one JSON object.
//!
//! Compare ratios from the same run, not absolute figures across machines
//! or runs: the machine is shared and noisy, and the figures also depend on
//! the memory allocator's state, which the runtimes share in one process.
//! Each module's docs list its workloads' own caveats.
//!
//! Hidden flags, for investigating: `--only pollen` (or a comma-separated
//! list) runs only those runtimes, e.g. under
//! `valgrind --tool=callgrind target/release/pollen-bench --only pollen --runs 1 --no-evict`;
//! `--no-evict` skips the cache eviction; `--suite timers` (or `tasks`,
//! `channels`, `mt`, `echo`, `chat`, `jobs`, or a comma-separated list) runs only those
//! suites, e.g. `cargo run -p pollen-bench --release -- --suite mt`. The
//! echo suite always runs the mio loop, its reference, whatever `--only`
//! says (`--only pollen` runs both pollen servers there); the chat suite
//! runs the servers of pollen and tokio that `--only` names (`--only
//! tokio` runs chat-tokio alone); `--no-build` makes the echo and chat
//! suites (and the mt suite's memory probe) use the binaries as they are.
//! `bench/profile/` holds scripts that count the minimal echo servers'
//! instructions and system calls per request (callgrind, perf); see its
//! README.

#![forbid(unsafe_code)]

mod bins;
mod channels;
mod chat;
mod echo;
mod harness;
mod jobs;
mod mt;
mod process;
mod tables;
mod tasks;
mod timers;

use clap::{Parser, ValueEnum};
use serde::Serialize;

use crate::channels::ChannelReport;
use crate::chat::ChatReport;
use crate::echo::{EchoReport, Server};
use crate::harness::{Evict, WorkloadResult};
use crate::jobs::JobsReport;
use crate::mt::MtReport;
use crate::timers::TimerReport;

/// The same workloads on pollen, tokio (current thread) and smol
/// (`LocalExecutor`): tiny tasks as ns per task, timers as time per batch,
/// lateness and ns per arm+cancel, channels as ns per message, oneshot and
/// round trip; tokio's multi-thread benchmarks on the three runtimes'
/// multi-thread forms, and memory per parked task; echo and chat servers
/// under load; with ratios.
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
    /// Timers armed and fired (deadlines 1-10 ms) per arm+fire run.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    timers: u64,
    /// Timers armed and fired per light arm+fire run (lateness without
    /// overload).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    light_timers: u64,
    /// Timers armed and cancelled per arm+cancel run.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    cancels: u64,
    /// Timed runs per timer workload and runtime.
    #[arg(long, default_value_t = 11, value_parser = clap::value_parser!(u64).range(1..))]
    timer_runs: u64,
    /// Messages per run of an mpsc workload (sent by one producer, or by
    /// ten together).
    #[arg(long, default_value_t = 1_000_000)]
    #[arg(value_parser = clap::value_parser!(u64).range(1..=u64::from(u32::MAX)))]
    messages: u64,
    /// Oneshots created, sent and received per oneshot run.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    oneshots: u64,
    /// Task pairs per ping-pong run.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pairs: u64,
    /// Round trips per pair per ping-pong run, each message through a
    /// fresh oneshot.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    round_trips: u64,
    /// Timed runs per channel workload and runtime.
    #[arg(long, default_value_t = 11, value_parser = clap::value_parser!(u64).range(1..))]
    channel_runs: u64,
    /// Timed runs per mt workload and runtime (its short workloads are
    /// noisy: more rounds than the other suites).
    #[arg(long, default_value_t = 41, value_parser = clap::value_parser!(u64).range(1..))]
    mt_runs: u64,
    /// Tasks parked per memory probe of the mt suite (0 skips the memory
    /// table).
    #[arg(long, default_value_t = 100_000)]
    mt_parked: u64,
    /// Memory probes per wait and runtime of the mt suite (each a fresh
    /// process).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    mt_memory_runs: u64,
    /// Connection counts of the echo suite, comma-separated (one table
    /// each).
    #[arg(long, value_delimiter = ',', default_value = "1,50,500")]
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    echo_connections: Vec<u64>,
    /// Rounds of the echo suite (every count on every server; medians are
    /// reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    echo_runs: u64,
    /// Measured window of each echo point, seconds.
    #[arg(long, default_value_t = 2.0)]
    echo_secs: f64,
    /// Warm-up before each echo point's window, milliseconds.
    #[arg(long, default_value_t = 500)]
    echo_warmup_ms: u64,
    /// Load generator threads per echo point (at most one per connection):
    /// 1 runs `pollen-load`'s echo engine on a current-thread runtime, more
    /// on a multi-thread runtime with that many workers.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    echo_client_threads: u64,
    /// Idle connections held open for the echo suite's memory table (0
    /// skips the table).
    #[arg(long, default_value_t = 10_000)]
    echo_idle: u64,
    /// Clients of the chat suite's load test (at least 2).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(2..))]
    chat_clients: u64,
    /// Messages each client of the chat suite sends.
    #[arg(long, default_value_t = 20)]
    #[arg(value_parser = clap::value_parser!(u64).range(1..=u64::from(u32::MAX)))]
    chat_messages: u64,
    /// Timed rounds of the chat suite (each server in a fresh process per
    /// round; the median is reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    chat_runs: u64,
    /// Window of the chat suite's load test: send at most this many
    /// messages ahead of what the slowest client has read (0: no window,
    /// every client sends all its messages at once, the test).
    /// A window of at most a server's inbox per client keeps every inbox
    /// from overflowing.
    #[arg(long, default_value_t = 0)]
    chat_window: u64,
    /// Lines of each chat server's inbox per client, passed to both
    /// servers as `--inbox N` (default: the servers' own, 64).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=u64::from(u32::MAX)))]
    chat_inbox: Option<u64>,
    /// Jobs the job-queue suite submits per round.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    jobs_count: u64,
    /// Keep-alive connections the job-queue suite submits over.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    jobs_connections: u64,
    /// Timed rounds of the job-queue suite (a fresh server each).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    jobs_runs: u64,
    /// Also run the job-queue suite with a journal (`--data-dir`, synced
    /// before each 201).
    #[arg(long)]
    jobs_journal: bool,
    /// Pin the echo suite's load generator and servers: `split` puts the
    /// load generator's threads on the first CPU and the server on the
    /// second, `shared` puts them all on the first (no cross-core
    /// wake-ups: the runtimes' own cost per request stands out).
    #[arg(long, value_enum, default_value = "none")]
    echo_pin: echo::Pin,
    /// Do not build the echo and chat servers and the mt suite's memory
    /// probe; use the binaries as they are.
    #[arg(long, hide = true)]
    no_build: bool,
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
    /// Run only these suites, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', hide = true)]
    suite: Vec<Suite>,
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

/// A group of workloads, printed as one table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Suite {
    Tasks,
    Timers,
    Channels,
    Mt,
    Echo,
    Chat,
    Jobs,
}

/// Everything one run prints. The task suite's fields are at the top level
/// (as before the timer suite existed); the timer suite's are in `timers`,
/// the channel suite's in `channels`, the mt suite's in `mt`.
#[derive(Debug, Serialize)]
struct Report {
    tasks: u64,
    runs: u64,
    unit: &'static str,
    /// The task workloads (empty if the suite was skipped).
    workloads: Vec<WorkloadResult>,
    /// `pollen_core::task::HEADER_SIZE`.
    task_header_bytes: usize,
    task_header_target_bytes: usize,
    /// `cell_size` of the detached workload's future: the whole allocation.
    noop_task_bytes: usize,
    /// `cell_size` of the join workload's future (returns a `usize`).
    join_task_bytes: usize,
    /// The timer workloads (`null` if the suite was skipped).
    timers: Option<TimerReport>,
    /// The channel workloads (`null` if the suite was skipped).
    channels: Option<ChannelReport>,
    /// The multi-thread workloads and memory per parked task (`null` if
    /// the suite was skipped).
    mt: Option<MtReport>,
    /// The echo servers (`null` if the suite was skipped).
    echo: Option<EchoReport>,
    /// The chat servers (`null` if the suite was skipped).
    chat: Option<ChatReport>,
    /// The job-queue service (`null` if the suite was skipped).
    jobs: Option<JobsReport>,
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
    let runs_suite = |suite| args.suite.is_empty() || args.suite.contains(&suite);
    let to_usize = |n: u64, flag: &str| {
        usize::try_from(n).unwrap_or_else(|_| panic!("--{flag} does not fit in usize"))
    };

    let mut evict = Evict::new(!args.no_evict);
    let workloads = if runs_suite(Suite::Tasks) {
        let n = to_usize(args.tasks, "tasks");
        tasks::run(n, &runtimes, args.runs, &mut evict)
    } else {
        Vec::new()
    };
    let timers = runs_suite(Suite::Timers).then(|| {
        let sizes = timers::Sizes {
            timers: to_usize(args.timers, "timers"),
            light_timers: to_usize(args.light_timers, "light-timers"),
            cancels: to_usize(args.cancels, "cancels"),
        };
        timers::run(sizes, &runtimes, args.timer_runs, &mut evict)
    });
    let channels = runs_suite(Suite::Channels).then(|| {
        let sizes = channels::Sizes {
            messages: to_usize(args.messages, "messages"),
            oneshots: to_usize(args.oneshots, "oneshots"),
            pairs: to_usize(args.pairs, "pairs"),
            round_trips: to_usize(args.round_trips, "round-trips"),
        };
        channels::run(sizes, &runtimes, args.channel_runs, &mut evict)
    });
    let mt = runs_suite(Suite::Mt).then(|| {
        let config = mt::Config {
            runs: args.mt_runs,
            parked: to_usize(args.mt_parked, "mt-parked"),
            memory_runs: args.mt_memory_runs,
            no_build: args.no_build,
        };
        mt::run(config, &runtimes, &mut evict)
    });
    // Not needed any more: free the eviction buffer before the servers run.
    drop(evict);
    let echo = runs_suite(Suite::Echo).then(|| {
        let servers: Vec<Server> = runtimes
            .iter()
            .flat_map(|rt| match rt {
                Rt::Pollen => &[Server::Pollen, Server::PollenMin][..],
                Rt::Tokio => &[Server::Tokio],
                Rt::Smol => &[Server::Smol],
            })
            .copied()
            .collect();
        assert!(
            args.echo_secs.is_finite() && args.echo_secs > 0.0,
            "--echo-secs must be positive"
        );
        let config = echo::Config {
            connections: args
                .echo_connections
                .iter()
                .map(|&n| to_usize(n, "echo-connections"))
                .collect(),
            runs: args.echo_runs,
            warmup: std::time::Duration::from_millis(args.echo_warmup_ms),
            window: std::time::Duration::from_secs_f64(args.echo_secs),
            client_threads: to_usize(args.echo_client_threads, "echo-client-threads"),
            idle: to_usize(args.echo_idle, "echo-idle"),
            no_build: args.no_build,
            pin: args.echo_pin,
        };
        echo::run(&servers, &config)
    });
    let chat = runs_suite(Suite::Chat).then(|| {
        let config = chat::Config {
            clients: to_usize(args.chat_clients, "chat-clients"),
            messages: to_usize(args.chat_messages, "chat-messages"),
            runs: args.chat_runs,
            window: (args.chat_window > 0).then(|| to_usize(args.chat_window, "chat-window")),
            inbox: args.chat_inbox.map(|n| to_usize(n, "chat-inbox")),
            no_build: args.no_build,
        };
        chat::run(&runtimes, config)
    });
    let jobs = (runs_suite(Suite::Jobs) && runtimes.contains(&Rt::Pollen)).then(|| {
        jobs::run(&jobs::Config {
            jobs: args.jobs_count,
            connections: to_usize(args.jobs_connections, "jobs-connections"),
            runs: args.jobs_runs,
            journal: args.jobs_journal,
            no_build: args.no_build,
        })
    });

    let report = Report {
        tasks: args.tasks,
        runs: args.runs,
        unit: "ns/task",
        workloads,
        task_header_bytes: pollen_core::task::HEADER_SIZE,
        task_header_target_bytes: HEADER_TARGET,
        noop_task_bytes: tasks::noop_task_bytes(),
        join_task_bytes: tasks::join_task_bytes(),
        timers,
        channels,
        mt,
        echo,
        chat,
        jobs,
    };
    if args.json {
        let json = serde_json::to_string_pretty(&report).expect("serialising the report");
        println!("{json}");
    } else {
        tables::print_tables(&report);
    }
}
