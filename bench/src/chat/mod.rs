//! Chat suite: the chat server's load test (the course's project 2,
//! scaled up) on two servers of the same broker design, `pollen-chat`
//! (`apps/chat`) and the bench's `chat-tokio` (tokio's multi-thread
//! runtime), each in its own process with [`WORKERS`] (2) worker threads,
//! driven by one load generator in the bench process over loopback.
//!
//! # What is measured
//!
//! N clients (`--chat-clients`, default 500) connect and are greeted; once
//! the server has registered them all, each sends M messages
//! (`--chat-messages`, default 20) as fast as the server takes them, while
//! every client reads the others' ([`load`]). Per server:
//!
//! - **time**: from the first message written to the last client having
//!   all its (N-1)*M messages, ms;
//! - **messages/s**: the messages delivered, (N-1)*N*M (4 990 000 by
//!   default), over the median time;
//! - **server CPU**: the server process's CPU time over the same span
//!   (user + system, all threads, from `/proc`; 2 000 ms of CPU in a
//!   1 000 ms run is both workers busy throughout);
//! - **load CPU**: the load generator's CPU time over the same span (its
//!   thread's): close to the time, the load generator was the limit.
//!
//! The footer compares pollen-chat's median time with tokio's: the target
//! is a ratio of at most 1.00 (pollen at least as fast).
//!
//! # The servers
//!
//! The same design on both: an accept-loop task, a task per client in a
//! `select!` over its socket's next line and its bounded inbox (64 lines),
//! and a broker task that owns the client map and takes joins, leaves and
//! messages over one bounded channel (1 024 events); a client whose inbox
//! is full is disconnected. A client's task keeps serving its inbox while
//! its next line waits for room in the broker's channel (in chat-tokio,
//! the wait is a branch of the `select!`): a task parked in `send().await`
//! has its inbox overflow as soon as more clients talk at once than the
//! channel holds. `chat-tokio` is in `src/bin/chat-tokio.rs`;
//! pollen-chat runs as `pollen-chat --addr 127.0.0.1:0 --threads 2
//! --max-clients 10000` (or N if more), tokio's as `chat-tokio --addr
//! 127.0.0.1:0 --threads 2`. `--chat-inbox N` adds `--inbox N` to both
//! command lines (pollen-chat must know that flag).
//!
//! # The window
//!
//! By default every client sends all its messages at once, as the issue's
//! test does: each client then has (N-1)*M lines (9 980) coming its way
//! within a second, and its inbox of 64 overflows whenever its task is not
//! polled while the broker handles 64 events. The broker handles an event
//! with N cheap `try_send`s, a client task a line with a system call, and
//! the broker runs many events per turn: so with an inbox of 64 and the
//! disconnect rule, chat-tokio fails that test in every run, at 10, 50 and
//! 500 clients (with its broker yielding after every event it passes at
//! 10 and 50, at half the speed, and still fails at 500). With
//! `--chat-inbox 16384` it passes. `--chat-window W` sends instead at most
//! W messages ahead of what the slowest client has read, which keeps every
//! inbox at W lines or fewer however the server schedules its tasks
//! ([`load`]): with W <= 64 both servers pass with their default inboxes.
//! The window makes the test closed-loop, so its time includes the load
//! generator's turn-around; compare servers within one window.
//!
//! The bench builds them itself, like the echo servers (`cargo build -p
//! pollen-bench --bin chat-tokio`, `cargo build -p pollen-chat`), in its
//! own profile and target directory. If pollen-chat cannot be built (before
//! `apps/chat` is in the workspace, say), the suite says so on a
//! `pollen-chat not built` line and runs tokio's alone; `--only tokio`
//! runs tokio's alone on purpose. smol has no chat server here (`--only`
//! with smol alone runs nothing).
//!
//! # Fairness
//!
//! Every round starts a fresh server process per server, so each round
//! starts from an empty broker and an idle process, and no round pays for
//! the previous one's 500 disconnects. First one untimed round per server
//! (warm-up, and a check that the server works), then `--chat-runs` rounds
//! (default 3), one server after the other, the order rotated each round;
//! the table shows the median (and min) time. Every server gets the same
//! clients, the same messages and the same checks: every message arrives,
//! once, in order per sender, at every other client and not at its sender.
//!
//! # Caveats
//!
//! The load generator is one thread that competes with the server's two
//! workers for the machine's cores (two, on the machines this was written
//! on): the time is that of the pair, as in the echo suite. The bulk of the
//! work is the fan-out: each message is written to 499 inboxes and read by
//! 499 client tasks, which gather what their inbox holds into one socket
//! write, so how a server batches its writes counts as much as its
//! runtime. A server that disconnects a client fails the run, with the
//! client's last `!` notice (say, `! disconnected: too slow`) if it came.
//! A round takes about 3 s with the defaults and a window of 48 (2 s timed,
//! the rest connecting: every client reads every later client's join
//! notice before the next connects): about 25 s for both servers.

mod load;
mod server;

use std::time::Duration;

use serde::Serialize;

use crate::Rt;
use crate::harness::Stats;
use crate::process::Skipped;

use self::server::ChatServer;

/// Worker threads of every server.
pub const WORKERS: usize = 2;
/// The target: pollen-chat's median time at most this times tokio's.
pub const TIME_TARGET: f64 = 1.00;
/// File descriptors the bench keeps for itself beyond its clients.
const SPARE_FDS: usize = 128;
/// A pause after each round, for the kernel to tear down its connections
/// before the next round starts.
const SETTLE: Duration = Duration::from_millis(100);

/// How the suite runs.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// N, at least 2.
    pub clients: usize,
    /// M, messages per client.
    pub messages: usize,
    /// Timed rounds.
    pub runs: u64,
    /// W: the load test's window, if any (see [`load`]).
    pub window: Option<usize>,
    /// Each server's inbox per client, lines, if not its default.
    pub inbox: Option<usize>,
    /// Use the binaries as they are, without building.
    pub no_build: bool,
}

/// The chat suite's results.
#[derive(Debug, Serialize)]
pub struct ChatReport {
    pub clients: usize,
    /// Messages each client sends.
    pub messages: usize,
    /// Messages delivered per run: (N-1)*N*M.
    pub deliveries: u64,
    pub workers: usize,
    /// Timed rounds.
    pub runs: u64,
    /// The load test's window, lines (`null`: none, every client sends
    /// all its messages at once).
    pub window: Option<usize>,
    /// The servers' inbox per client, lines (`null`: each server's
    /// default, 64).
    pub inbox: Option<usize>,
    /// Servers that did not run (or stopped running), and why.
    pub skipped: Vec<Skipped>,
    /// One row per server that ran every round.
    pub rows: Vec<Row>,
    pub targets: Targets,
}

/// One server, over the rounds.
#[derive(Debug, Serialize)]
pub struct Row {
    pub server: &'static str,
    /// From the first message written to the last delivered, ms.
    pub time_ms: Stats,
    /// Deliveries over the median time.
    pub messages_per_sec: f64,
    /// The server's CPU time over the same span, ms.
    pub server_cpu_ms: Stats,
    /// The load generator's CPU time over the same span, ms.
    pub load_cpu_ms: Stats,
}

/// pollen-chat against tokio.
#[derive(Debug, Serialize)]
pub struct Targets {
    /// The most pollen-chat's median time may be over tokio's.
    pub time_ratio: f64,
    /// pollen-chat's median time over tokio's (where both ran).
    pub pollen_over_tokio: Option<f64>,
    /// `pollen_over_tokio <= time_ratio`.
    pub met: Option<bool>,
}

/// Runs the suite on the servers of `runtimes`.
pub fn run(runtimes: &[Rt], config: Config) -> ChatReport {
    let mut config = config;
    room_for_clients(&mut config);
    let shape = load::Shape {
        clients: config.clients,
        messages: config.messages,
        window: config.window,
    };
    let mut servers: Vec<ChatServer> = runtimes
        .iter()
        .filter_map(|&rt| ChatServer::of(rt))
        .collect();
    servers.dedup();

    eprintln!("chat: building the servers");
    let mut skipped = Vec::new();
    let built = server::build(&servers, config.no_build);
    let servers: Vec<ChatServer> = servers
        .into_iter()
        .zip(built)
        .filter_map(|(server, built)| match built {
            Ok(()) => Some(server),
            Err(why) => {
                eprintln!("chat: {why}");
                skipped.push(Skipped {
                    server: server.name(),
                    why,
                });
                None
            }
        })
        .collect();

    // Per server, the timed rounds' samples; `None` once it has failed.
    let mut samples: Vec<Option<Vec<load::Sample>>> =
        servers.iter().map(|_| Some(Vec::new())).collect();
    // Round 0 is the warm-up.
    for round in 0..=config.runs {
        let n = servers.len();
        for i in (0..n).map(|i| (i + round as usize) % n) {
            let server = servers[i];
            let Some(server_samples) = &mut samples[i] else {
                continue;
            };
            let what = if round == 0 {
                "warm-up".to_owned()
            } else {
                format!("round {round}/{}", config.runs)
            };
            eprintln!(
                "chat: {what}, {} clients x {} messages, {}",
                config.clients,
                config.messages,
                server.name()
            );
            match one_round(server, shape, config.inbox) {
                Ok(sample) if round > 0 => server_samples.push(sample),
                Ok(_) => {}
                Err(why) => {
                    eprintln!("chat: {why}");
                    skipped.push(Skipped {
                        server: server.name(),
                        why,
                    });
                    samples[i] = None;
                }
            }
        }
    }

    let deliveries = (config.clients as u64 - 1) * config.clients as u64 * config.messages as u64;
    let rows: Vec<Row> = servers
        .into_iter()
        .zip(samples)
        .filter_map(|(server, samples)| {
            let samples = samples?;
            let ms = |of: fn(&load::Sample) -> Duration| {
                Stats::of(samples.iter().map(|s| of(s).as_secs_f64() * 1e3).collect())
            };
            let time_ms = ms(|s| s.elapsed)?;
            Some(Row {
                server: server.name(),
                time_ms,
                messages_per_sec: deliveries as f64 / (time_ms.median / 1e3),
                server_cpu_ms: ms(|s| s.server_cpu)?,
                load_cpu_ms: ms(|s| s.client_cpu)?,
            })
        })
        .collect();
    let median = |server: ChatServer| {
        let row = rows.iter().find(|row| row.server == server.name())?;
        Some(row.time_ms.median)
    };
    let pollen_over_tokio = median(ChatServer::Pollen)
        .zip(median(ChatServer::Tokio))
        .map(|(pollen, tokio)| pollen / tokio);
    ChatReport {
        clients: config.clients,
        messages: config.messages,
        deliveries,
        workers: WORKERS,
        runs: config.runs,
        window: config.window,
        inbox: config.inbox,
        skipped,
        rows,
        targets: Targets {
            time_ratio: TIME_TARGET,
            pollen_over_tokio,
            met: pollen_over_tokio.map(|ratio| ratio <= TIME_TARGET),
        },
    }
}

/// One round on a fresh process of `server` (with `inbox` lines per
/// client, if given).
fn one_round(
    server: ChatServer,
    shape: load::Shape,
    inbox: Option<usize>,
) -> Result<load::Sample, String> {
    let mut process = server.start(shape.clients, WORKERS, inbox)?;
    let sample = load::run(&process, shape);
    // A broken server is most likely one that died: say so, with its last
    // lines.
    let sample = match (sample, process.check_alive()) {
        (Ok(sample), Ok(())) => Ok(sample),
        (_, Err(died)) => Err(died),
        (Err(why), Ok(())) => Err(process.failure(&why)),
    };
    drop(process);
    std::thread::sleep(SETTLE);
    sample
}

/// Raises the open-file limit for the clients (the servers, started by the
/// bench, inherit it), or lowers `config.clients` to what fits.
fn room_for_clients(config: &mut Config) {
    let wanted = config.clients + SPARE_FDS;
    let limit = rlimit::increase_nofile_limit(wanted as u64).unwrap_or(0);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if limit < wanted {
        let clients = limit.saturating_sub(SPARE_FDS).max(2);
        eprintln!(
            "chat: the open-file limit is {limit}: {clients} clients instead of {}",
            config.clients
        );
        config.clients = clients;
    }
}
