//! `pollen-echo`: a TCP echo server on pollen.
//!
//! ```text
//! pollen-echo run --addr 127.0.0.1:8080 [--idle-timeout 10s] [--max-conns 10000]
//! pollen-echo test
//! ```
#![forbid(unsafe_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::net::{TcpListener, TcpStream};
use pollen_echo::{Config, serve};

#[derive(Parser)]
#[command(version, about = "A TCP echo server on the pollen runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve echo until Ctrl-C or SIGTERM, then drain open connections.
    Run {
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Close connections that send nothing for this long.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        idle_timeout: Duration,
        /// The most connections open at once; more wait in the backlog.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
        max_conns: u32,
        /// How long open connections may go on after Ctrl-C.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        drain_timeout: Duration,
        /// Bytes read and echoed at a time per connection.
        #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
        buffer_size: u32,
        /// Do not log connection events.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Start a server on a free port, check that it echoes, exit 0 or 1.
    Test,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match pollen::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pollen-echo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Run {
            addr,
            idle_timeout,
            max_conns,
            drain_timeout,
            buffer_size,
            quiet,
        } => {
            let config = Config {
                idle_timeout,
                max_conns: max_conns as usize,
                drain_timeout,
                buffer_size: buffer_size as usize,
                verbose: !quiet,
            };
            runtime.block_on(run(addr, config))
        }
        Command::Test => runtime.block_on(self_test()),
    }
}

async fn run(addr: SocketAddr, config: Config) -> ExitCode {
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("pollen-echo: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = match pollen::signal::shutdown() {
        Ok(shutdown) => shutdown,
        Err(e) => {
            eprintln!("pollen-echo: cannot handle Ctrl-C: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    eprintln!(
        "pollen-echo: idle timeout {}, at most {} connections; Ctrl-C to stop",
        humantime::format_duration(config.idle_timeout),
        config.max_conns
    );
    // The banner ends with the address, for scripts that start the server
    // on port 0.
    println!("pollen-echo listening on {local}");
    let _ = std::io::stdout().flush();
    match serve(listener, config, shutdown).await {
        Ok(summary) => {
            eprintln!(
                "pollen-echo: stopped: {} connection(s) served, {} closed idle, {} error(s), {} cut at \
                 shutdown",
                summary.accepted, summary.idle_closed, summary.errors, summary.cut_at_shutdown
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pollen-echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The seed's self-test: a server on a free port, and clients that check
/// the echo.
async fn self_test() -> ExitCode {
    match self_test_checks().await {
        Ok(()) => {
            println!("pollen-echo: self-test passed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("pollen-echo: self-test FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn self_test_checks() -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let stop = pollen::sync::CancellationToken::new();
    let config = Config {
        verbose: false,
        ..Config::default()
    };
    let server = pollen::spawn({
        let stop = stop.clone();
        async move { serve(listener, config, async move { stop.cancelled().await }).await }
    });
    println!("pollen-echo: test server on {addr}");

    let checks = async {
        echo_once(addr, b"hello\n").await?;
        println!("ok: a line comes back as sent");
        let big: Vec<u8> = (0..10_240u32).map(|i| (i % 251) as u8).collect();
        echo_in_chunks(addr, &big, 100).await?;
        println!("ok: 10 KB written in 100-byte chunks comes back whole");
        let clients: Vec<_> = (0..20)
            .map(|i| {
                pollen::spawn(
                    async move { echo_once(addr, format!("client {i}\n").as_bytes()).await },
                )
            })
            .collect();
        for client in clients {
            client
                .await
                .map_err(|e| format!("client task failed: {e}"))??;
        }
        println!("ok: 20 concurrent clients each get their own echo");
        Ok::<(), String>(())
    };
    let result = pollen::time::timeout(Duration::from_secs(10), checks)
        .await
        .unwrap_or_else(|_| Err("no answer within 10 s".to_owned()));
    stop.cancel();
    let summary = server
        .await
        .map_err(|e| format!("server task failed: {e}"))?
        .map_err(|e| format!("server failed: {e}"))?;
    result?;
    if summary.errors != 0 {
        return Err(format!(
            "the server saw {} connection error(s)",
            summary.errors
        ));
    }
    Ok(())
}

async fn echo_once(addr: SocketAddr, message: &[u8]) -> Result<(), String> {
    echo_in_chunks(addr, message, message.len()).await
}

async fn echo_in_chunks(addr: SocketAddr, message: &[u8], chunk: usize) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let (mut reader, mut writer) = stream.split();
    let write = async {
        for piece in message.chunks(chunk) {
            writer.write_all(piece).await?;
        }
        std::io::Result::Ok(())
    };
    let mut back = vec![0; message.len()];
    let read = reader.read_exact(&mut back);
    let (written, read) = pollen::join!(write, read);
    written.map_err(|e| format!("write failed: {e}"))?;
    read.map_err(|e| format!("read failed: {e}"))?;
    if back != message {
        return Err(format!(
            "sent {} bytes, got different bytes back",
            message.len()
        ));
    }
    Ok(())
}
