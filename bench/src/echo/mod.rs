//! Echo suite: the same TCP echo server on pollen (twice: the full app,
//! `pollen-echo` from `apps/echo`, and a minimal server, `echo-pollen`),
//! tokio, smol and a hand-written mio loop, each in its own process, driven
//! by one load generator in the bench process over loopback: `pollen-load`'s
//! echo engine (`apps/load`), on a pollen runtime of its own.
//!
//! # What is measured
//!
//! For each connection count (`--echo-connections`, default 1, 50 and 500),
//! closed-loop clients send 64-byte messages and wait for the echo
//! ([`load`]). Per server and point:
//!
//! - **requests/s**: round trips completed in the measured window (default
//!   2 s, after 0.5 s of warm-up) over the window;
//! - **p50, p99**: round-trip latency as the client sees it, µs;
//! - **CPU per request**: the server process's CPU time (user + system,
//!   all its threads, from `/proc/<pid>/stat`) over the window, divided by
//!   the requests; the server's CPU over the window's wall time is shown
//!   too (1.00 = one core busy all the time);
//!
//! and, in a fresh process per server, **memory per idle connection**
//! ([`idle`]): `VmRSS` (and peak, `VmHWM`) while holding `--echo-idle`
//! (default 10 000) idle connections, less `VmRSS` holding none, over the
//! connections. The footer compares both pollen servers with the targets:
//! CPU per request within 5% of the mio loop's (ratio <= 1.05), and peak
//! memory per idle connection at most half of tokio's (ratio <= 0.50).
//!
//! # The servers
//!
//! All five are single-threaded and echo through a 64-byte buffer, one
//! task per connection (the mio loop: one slab entry per connection):
//! `pollen-echo run --addr 127.0.0.1:0 --buffer-size 64 --quiet` (row
//! `pollen-echo`; with its connection limit and idle timeout raised out of
//! the way; it still arms the idle timeout on every read and holds a
//! connection-limit permit per connection, work the others do not do), and
//! the bench's own binaries `echo-pollen` (row `pollen-min`: pollen's
//! current-thread runtime, I/O driver only, the same code as `echo-tokio`
//! line for line, so it and tokio-ct differ only in the runtime),
//! `echo-tokio` (current-thread runtime, I/O driver only), `echo-smol`
//! (`LocalExecutor` under `async_io::block_on`, `async-net` sockets) and
//! `echo-mio` (one `Poll`, a `Slab` of connections, edge-triggered, reads
//! until `WouldBlock`, keeps a partial write pending until WRITABLE). Each
//! runs as its own process, so its CPU time and memory are its alone.
//! `--only pollen` runs both pollen servers.
//!
//! The bench builds them itself, in its own profile and target directory
//! (`cargo build -p pollen-bench --bin echo-...` and `cargo build -p
//! pollen-echo`), and runs them from its own executable's directory. If
//! pollen-echo cannot be built (before `apps/echo` exists, say), the suite
//! says so on a `pollen-echo not built` line and runs the other four.
//! `--no-build` skips the building and uses whatever binaries are there.
//!
//! # Fairness
//!
//! The throughput servers are started once and stay up (an idle server
//! sleeps in `epoll_wait`). Each of `--echo-runs` rounds (default 3) runs
//! every connection count on every server, one server after the other, the
//! order rotated each round so none always follows the same one; the
//! tables show the median over the rounds (CPU per request also its min
//! and max). Every server gets the same clients, the same messages and the
//! same checks: each echo must be the message sent.
//!
//! # Caveats
//!
//! The load generator runs on the same machine and competes with the server
//! for its cores (two, on the machines this was written on): requests/s and
//! latency are those of the pair, and where the server's CPU is well below
//! 1.00 the clients, not the server, were the limit. One client thread
//! (the default `--echo-client-threads`: a current-thread runtime; more
//! threads make it a multi-thread runtime with that many workers) costs
//! about as much CPU per round trip as the servers do (with `--echo-pin
//! shared` every server gets about 0.45 of the shared CPU), so on two
//! cores, and with the machine otherwise quiet, it keeps every server at
//! about one busy core from 50 connections on; more threads only take CPU
//! from the server. CPU per request is the server's own and the figure to
//! compare; it still moves with the machine's noise and the other
//! processes on it, and `/proc` counts CPU in clock ticks (10 ms), under 1%
//! of a 2 s window with the server busy but more when it is mostly idle.
//!
//! With one connection and nothing pinned, client and server mostly run on
//! different cores, and every request wakes the sleeping server from the
//! other core: on the virtual machines this was written on, that wake-up
//! is most of the server's CPU per request (about 25 µs of it, against
//! about 3 µs when the two share a core), it is the same for every server,
//! and it varies by +-15% from run to run, so it hides differences of a few
//! percent between the servers. `--echo-pin shared` puts the clients and
//! the server on one CPU, taking turns: no wake-up crosses cores, and the
//! runtimes' own costs stand out (run-to-run spread of a few percent).
//! `--echo-pin split` puts them on two different CPUs.
//!
//! The memory figure is user-space memory only (socket buffers are the
//! kernel's), and includes whatever the allocator keeps around per
//! connection.
//!
//! The whole suite takes about 3 runs x 3 counts x 5 servers x 2.6 s plus
//! a few seconds per server for the idle connections: about two minutes
//! (100 s without pollen-echo), so the default run of the bench includes it
//! as it is. `--echo-runs 1 --echo-secs 0.5` is a quick
//! look; `--echo-idle 0` skips the memory table.

mod idle;
mod load;
mod server;

use std::time::Duration;

use core_affinity::CoreId;
use serde::Serialize;

use crate::process::Skipped;

pub use idle::IdleSample;
pub use server::Server;

/// The targets the footer reports against.
const CPU_TARGET: f64 = 1.05;
const IDLE_TARGET: f64 = 0.50;
/// File descriptors the bench keeps for itself beyond its connections.
const SPARE_FDS: usize = 128;

/// Where the load generator's threads and the servers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Pin {
    /// Wherever the scheduler puts them.
    None,
    /// The load generator's threads on the first CPU, the server on the
    /// second.
    Split,
    /// The load generator's threads and the server all on the first CPU,
    /// taking turns: no wake-up crosses cores.
    Shared,
}

/// How the suite runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The connection counts, one table each.
    pub connections: Vec<usize>,
    /// Rounds over every count and server.
    pub runs: u64,
    pub warmup: Duration,
    pub window: Duration,
    /// Load generator threads per point (at most one per connection).
    pub client_threads: usize,
    /// Idle connections for the memory table (0: no memory table).
    pub idle: usize,
    /// Use the binaries as they are, without building.
    pub no_build: bool,
    pub pin: Pin,
}

/// The echo suite's results.
#[derive(Debug, Serialize)]
pub struct EchoReport {
    pub message_bytes: usize,
    pub runs: u64,
    pub warmup_ms: u128,
    pub window_ms: u128,
    pub client_threads: usize,
    pub pin: Pin,
    /// The machine's cores, shared by the servers and the load generator.
    pub cores: usize,
    /// Servers that did not run, and why.
    pub skipped: Vec<Skipped>,
    /// One table per connection count.
    pub points: Vec<PointReport>,
    /// The memory table (`null` with `--echo-idle 0`).
    pub idle: Option<IdleReport>,
    pub targets: Targets,
}

/// One connection count: a row per server that ran.
#[derive(Debug, Serialize)]
pub struct PointReport {
    pub connections: usize,
    pub rows: Vec<Row>,
}

/// One server at one connection count, over the rounds.
#[derive(Debug, Serialize)]
pub struct Row {
    pub server: &'static str,
    pub requests_per_sec: Spread,
    pub p50_us: Spread,
    pub p99_us: Spread,
    pub cpu_us_per_request: Spread,
    /// The server's CPU time over the window's wall time.
    pub server_cpu_share: Spread,
    /// Median requests/s over the mio loop's.
    pub requests_over_mio: Option<f64>,
    /// Median CPU per request over the mio loop's.
    pub cpu_over_mio: Option<f64>,
    /// Median CPU per request over tokio's.
    pub cpu_over_tokio: Option<f64>,
}

/// Median, min and max of a figure over the rounds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// The memory table.
#[derive(Debug, Serialize)]
pub struct IdleReport {
    pub connections: usize,
    pub rows: Vec<IdleRow>,
}

/// One server's memory per idle connection.
#[derive(Debug, Serialize)]
pub struct IdleRow {
    pub server: &'static str,
    #[serde(flatten)]
    pub sample: IdleSample,
    /// Peak bytes per connection over tokio's.
    pub peak_over_tokio: Option<f64>,
}

/// The pollen servers against their targets.
#[derive(Debug, Serialize)]
pub struct Targets {
    /// The most CPU per request over the mio loop's.
    pub cpu_target: f64,
    /// The most peak bytes per idle connection over tokio's.
    pub idle_target: f64,
    /// One entry per pollen server asked for (`pollen-echo`, then
    /// `pollen-min`).
    pub servers: Vec<ServerTargets>,
}

/// One pollen server's ratios for the targets (`None` where it or the peer
/// did not run).
#[derive(Debug, Serialize)]
pub struct ServerTargets {
    pub server: &'static str,
    /// CPU per request over the mio loop's, per connection count.
    pub cpu_over_mio: Vec<(usize, Option<f64>)>,
    /// Peak bytes per idle connection over tokio's.
    pub idle_peak_over_tokio: Option<f64>,
}

/// One server's samples at one connection count.
#[derive(Default)]
struct Samples {
    requests_per_sec: Vec<f64>,
    p50_us: Vec<f64>,
    p99_us: Vec<f64>,
    cpu_us_per_request: Vec<f64>,
    server_cpu_share: Vec<f64>,
}

/// Runs the suite on `servers` (the reference, the mio loop, is always
/// added).
pub fn run(servers: &[Server], config: &Config) -> EchoReport {
    let mut servers = servers.to_vec();
    if !servers.contains(&Server::Mio) {
        servers.push(Server::Mio);
    }
    let pollens: Vec<Server> = servers
        .iter()
        .copied()
        .filter(|server| matches!(server, Server::Pollen | Server::PollenMin))
        .collect();
    let mut config = config.clone();
    let mut skipped = Vec::new();
    room_for_connections(&mut config);

    eprintln!("echo: building the servers");
    let pollen_not_built = server::build(config.no_build);
    servers.retain(|&server| {
        let why = match (server, &pollen_not_built) {
            (Server::Pollen, Some(why)) => format!("pollen-echo not built: {why}"),
            _ if !server.path().is_file() => {
                format!(
                    "{} not built: no {}",
                    server.binary(),
                    server.path().display()
                )
            }
            _ => return true,
        };
        skipped.push(Skipped {
            server: server.name(),
            why,
        });
        false
    });

    let points = throughput(&servers, &config, &mut skipped);
    let idle = (config.idle > 0).then(|| idle(&servers, config.idle, &mut skipped));

    let targets = Targets {
        cpu_target: CPU_TARGET,
        idle_target: IDLE_TARGET,
        servers: pollens
            .iter()
            .map(|server| ServerTargets {
                server: server.name(),
                cpu_over_mio: points
                    .iter()
                    .map(|point| {
                        let row = point.rows.iter().find(|row| row.server == server.name());
                        (point.connections, row.and_then(|row| row.cpu_over_mio))
                    })
                    .collect(),
                idle_peak_over_tokio: idle.as_ref().and_then(|idle| {
                    let row = idle.rows.iter().find(|row| row.server == server.name());
                    row.and_then(|row| row.peak_over_tokio)
                }),
            })
            .collect(),
    };
    EchoReport {
        message_bytes: load::MESSAGE,
        runs: config.runs,
        warmup_ms: config.warmup.as_millis(),
        window_ms: config.window.as_millis(),
        client_threads: config.client_threads,
        pin: config.pin,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        skipped,
        points,
        idle,
        targets,
    }
}

/// Raises the open-file limit for the idle connections (the servers,
/// started by the bench, inherit it), or lowers `config.idle` to what fits.
fn room_for_connections(config: &mut Config) {
    let busiest = config.connections.iter().copied().max().unwrap_or(0);
    let wanted = config.idle.max(busiest) + SPARE_FDS;
    let limit = rlimit::increase_nofile_limit(wanted as u64).unwrap_or(0);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if limit < wanted && config.idle > 0 {
        let idle = limit.saturating_sub(SPARE_FDS);
        eprintln!(
            "echo: the open-file limit is {limit}: {idle} idle connections instead of {}",
            config.idle
        );
        config.idle = idle;
    }
}

/// The throughput tables: every round, every connection count, every
/// server. A server that fails is dropped (and listed in `skipped`).
fn throughput(servers: &[Server], config: &Config, skipped: &mut Vec<Skipped>) -> Vec<PointReport> {
    let (client_cpu, server_cpu) = config.pin.cpus();
    let mut started = Vec::new();
    let mut processes = Vec::new();
    for &server in servers {
        match server.start(server_cpu) {
            Ok(process) => {
                started.push(server.name());
                processes.push(Some(process));
            }
            Err(why) => skipped.push(Skipped {
                server: server.name(),
                why,
            }),
        }
    }
    let mut samples: Vec<Vec<Samples>> = config
        .connections
        .iter()
        .map(|_| processes.iter().map(|_| Samples::default()).collect())
        .collect();

    for round in 0..config.runs {
        for (point, &connections) in config.connections.iter().enumerate() {
            let shape = load::Shape {
                connections,
                threads: config.client_threads,
                warmup: config.warmup,
                window: config.window,
                cpu: client_cpu,
            };
            let n = processes.len();
            for i in (0..n).map(|i| (i + round as usize) % n) {
                let Some(process) = &mut processes[i] else {
                    continue;
                };
                eprintln!(
                    "echo: round {}/{}, {connections} connections, {}",
                    round + 1,
                    config.runs,
                    process.name()
                );
                let sample = process
                    .check_alive()
                    .and_then(|()| load::run(process, shape));
                // Let the server see the connections close.
                std::thread::sleep(Duration::from_millis(50));
                match sample {
                    Ok(sample) => samples[point][i].push(&sample),
                    Err(why) => {
                        let why = process.failure(&why);
                        eprintln!("echo: {why}");
                        skipped.push(Skipped {
                            server: process.name(),
                            why,
                        });
                        processes[i] = None;
                    }
                }
            }
        }
    }

    let ran: Vec<bool> = processes.iter().map(Option::is_some).collect();
    drop(processes);
    config
        .connections
        .iter()
        .zip(samples)
        .map(|(&connections, samples)| PointReport {
            connections,
            rows: rows(&started, &ran, samples),
        })
        .collect()
}

/// A point's rows, for the servers that ran to the end.
fn rows(names: &[&'static str], ran: &[bool], samples: Vec<Samples>) -> Vec<Row> {
    let mut rows: Vec<Row> = names
        .iter()
        .zip(ran)
        .zip(samples)
        .filter(|((_, ran), samples)| **ran && !samples.requests_per_sec.is_empty())
        .map(|((&server, _), samples)| Row {
            server,
            requests_per_sec: Spread::of(samples.requests_per_sec),
            p50_us: Spread::of(samples.p50_us),
            p99_us: Spread::of(samples.p99_us),
            cpu_us_per_request: Spread::of(samples.cpu_us_per_request),
            server_cpu_share: Spread::of(samples.server_cpu_share),
            requests_over_mio: None,
            cpu_over_mio: None,
            cpu_over_tokio: None,
        })
        .collect();
    let median_of = |rows: &[Row], name: &str, figure: fn(&Row) -> Spread| {
        rows.iter()
            .find(|row| row.server == name)
            .map(|row| figure(row).median)
    };
    let mio_rps = median_of(&rows, "mio-loop", |row| row.requests_per_sec);
    let mio_cpu = median_of(&rows, "mio-loop", |row| row.cpu_us_per_request);
    let tokio_cpu = median_of(&rows, "tokio-ct", |row| row.cpu_us_per_request);
    for row in &mut rows {
        let cpu = row.cpu_us_per_request.median;
        row.requests_over_mio = mio_rps.map(|mio| row.requests_per_sec.median / mio);
        row.cpu_over_mio = mio_cpu.map(|mio| cpu / mio);
        row.cpu_over_tokio = tokio_cpu.map(|tokio| cpu / tokio);
    }
    rows
}

/// The memory table: each server in a fresh process, one after the other.
fn idle(servers: &[Server], connections: usize, skipped: &mut Vec<Skipped>) -> IdleReport {
    let mut rows: Vec<IdleRow> = Vec::new();
    for &server in servers {
        eprintln!("echo: {} idle connections, {}", connections, server.name());
        match idle::measure(server, connections) {
            Ok(sample) => rows.push(IdleRow {
                server: server.name(),
                sample,
                peak_over_tokio: None,
            }),
            Err(why) => {
                eprintln!("echo: {why}");
                skipped.push(Skipped {
                    server: server.name(),
                    why,
                });
            }
        }
    }
    let tokio = rows
        .iter()
        .find(|row| row.server == "tokio-ct")
        .map(|row| row.sample.peak_bytes_per_connection);
    for row in &mut rows {
        row.peak_over_tokio = tokio.map(|tokio| row.sample.peak_bytes_per_connection / tokio);
    }
    IdleReport { connections, rows }
}

// === impl Pin ===

impl Pin {
    /// The CPUs of the load generator's threads and of the server. Falls
    /// back to no pinning (with a warning) on a machine without the CPUs.
    fn cpus(self) -> (Option<CoreId>, Option<CoreId>) {
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let pick = |clients: usize, server: usize| match (cores.get(clients), cores.get(server)) {
            (Some(&c), Some(&s)) => (Some(c), Some(s)),
            _ => {
                eprintln!(
                    "echo: not enough CPUs to pin ({}); not pinning",
                    cores.len()
                );
                (None, None)
            }
        };
        match self {
            Pin::None => (None, None),
            Pin::Split => pick(0, 1),
            Pin::Shared => pick(0, 0),
        }
    }
}

// === impl Samples ===

impl Samples {
    fn push(&mut self, sample: &load::Sample) {
        let secs = sample.elapsed.as_secs_f64();
        let requests = sample.requests.max(1) as f64;
        self.requests_per_sec.push(sample.requests as f64 / secs);
        self.p50_us
            .push(sample.latency_us.value_at_quantile(0.50) as f64);
        self.p99_us
            .push(sample.latency_us.value_at_quantile(0.99) as f64);
        self.cpu_us_per_request
            .push(sample.server_cpu.as_secs_f64() * 1e6 / requests);
        self.server_cpu_share
            .push(sample.server_cpu.as_secs_f64() / secs);
    }
}

// === impl Spread ===

impl Spread {
    /// Of at least one sample.
    fn of(mut samples: Vec<f64>) -> Spread {
        samples.sort_by(f64::total_cmp);
        let len = samples.len();
        let median = if len % 2 == 1 {
            samples[len / 2]
        } else {
            (samples[len / 2 - 1] + samples[len / 2]) / 2.0
        };
        Spread {
            median,
            min: samples[0],
            max: samples[len - 1],
        }
    }
}
