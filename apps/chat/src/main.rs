//! `pollen-chat`: a line-based TCP chat server on pollen.
//!
//! ```text
//! pollen-chat --addr 127.0.0.1:8080 [--threads N] [--max-clients 1000] [--max-line 4096] [--idle-timeout 5m]
//! ```
//!
//! Talk to it with `nc 127.0.0.1 8080` (or `telnet`) from two terminals.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pollen::net::TcpListener;
use pollen_chat::{Config, serve};

#[derive(Parser)]
#[command(version, about = "A line-based TCP chat server on the pollen runtime")]
struct Cli {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Worker threads (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// The most clients connected at once; more are refused.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    max_clients: u32,
    /// The longest line a client may send, in bytes.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    max_line: u32,
    /// Disconnect clients that send nothing for this long.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,
    /// Lines queued in a client's inbox.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1 << 16))]
    inbox: u32,
    /// Lines held for a client whose inbox is full before it is
    /// disconnected as not reading.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    backlog: u32,
    /// Do not log joins, departures and kicks.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut builder = pollen::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        builder.worker_threads(threads as usize);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pollen-chat: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        max_clients: cli.max_clients as usize,
        max_line: cli.max_line as usize,
        idle_timeout: cli.idle_timeout,
        inbox: cli.inbox as usize,
        backlog: cli.backlog as usize,
        verbose: !cli.quiet,
        ..Config::default()
    };
    runtime.block_on(async move {
        let listener = match TcpListener::bind(cli.addr).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("pollen-chat: cannot listen on {}: {e}", cli.addr);
                return ExitCode::FAILURE;
            }
        };
        let shutdown = match pollen::signal::shutdown() {
            Ok(shutdown) => shutdown,
            Err(e) => {
                eprintln!("pollen-chat: cannot install the signal handlers: {e}");
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().map_or(cli.addr, |addr| addr);
        println!("pollen-chat listening on {addr}");
        let summary = serve(listener, config, async {
            shutdown.await;
            eprintln!("pollen-chat: shutting down");
        })
        .await;
        eprintln!(
            "pollen-chat: served {} clients ({} refused, {} disconnected for not reading), {} \
             messages",
            summary.served, summary.refused, summary.kicked, summary.messages
        );
        ExitCode::SUCCESS
    })
}
