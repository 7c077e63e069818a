//! `pollen-load`: an HTTP and echo load generator on pollen.
//!
//! ```text
//! pollen-load http --url http://127.0.0.1:8080/status -n 10000 -c 50 [--duration 10s] [--rate 5000]
//!                  [-m POST -d '{"type":"sleep"}'] [-H 'Name: value'] [--timeout 2s] [--json]
//! pollen-load echo --addr 127.0.0.1:8080 -c 50 --size 64 --duration 10s [--json]
//! ```
//!
//! The report goes to standard output; a progress line goes to standard
//! error while it is a terminal. Exit status: 0 when the load ran (failed
//! requests are counted in the report, not in the status), 130 when Ctrl-C
//! (or SIGTERM) stopped it (the report is then partial; stopped while
//! still connecting, there is no report), 2 for bad
//! arguments (an unparsable or https URL included), 1 when the load could
//! not start (a host that does not resolve, a server that cannot be
//! reached).
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::net::ToSocketAddrs;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use pollen_load::echo::{EchoConfig, MAX_MESSAGE};
use pollen_load::http::HttpConfig;
use pollen_load::{Control, HttpUrl, Report, SetupError, TcpConnector};

/// Exit status for bad arguments (as clap's own).
const USAGE: u8 = 2;
/// Exit status when Ctrl-C stopped the load.
const INTERRUPTED: u8 = 130;

#[derive(Parser)]
#[command(
    version,
    about = "An HTTP and echo load generator on the pollen runtime",
    after_help = "Exit status: 0 when the load ran (failed requests are in the report), 130 after \
                  Ctrl-C (partial report), 2 for bad arguments, 1 when the target cannot be \
                  reached."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Worker threads of the load generator (default: one per core).
    #[arg(long, global = true, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
}

#[derive(Subcommand)]
enum Command {
    /// Send HTTP/1.1 requests over keep-alive connections and report
    /// latency percentiles.
    Http(HttpArgs),
    /// Send messages to an echo server, check each echo, and report round
    /// trip latency.
    Echo(EchoArgs),
}

#[derive(Args)]
struct HttpArgs {
    /// The URL to load (http:// only).
    #[arg(short, long)]
    url: String,
    /// Requests to send [default: 100, or no limit with --duration].
    #[arg(short = 'n', long, value_parser = clap::value_parser!(u64).range(1..))]
    requests: Option<u64>,
    /// Requests in flight at most (one keep-alive connection each).
    #[arg(short, long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    concurrency: u32,
    /// Stop starting requests after this long (e.g. 10s, 1m); with -n,
    /// whichever comes first.
    #[arg(short = 'z', long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Start this many requests per second (open loop); latency is then
    /// measured from when each request was due.
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// The request method [default: GET, or POST with -d].
    #[arg(short, long)]
    method: Option<String>,
    /// The request body (sent as application/json unless -H sets a
    /// Content-Type).
    #[arg(short, long)]
    data: Option<String>,
    /// An extra request header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// How long one request may take, connecting included.
    #[arg(short, long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EchoArgs {
    /// The echo server's address, HOST:PORT.
    #[arg(short, long)]
    addr: String,
    /// Connections, each with one message in flight.
    #[arg(short, long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    concurrency: u32,
    /// Bytes per message.
    #[arg(short, long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=MAX_MESSAGE as i64))]
    size: u32,
    /// Round trips in all [default: no limit].
    #[arg(short = 'n', long, value_parser = clap::value_parser!(u64).range(1..))]
    requests: Option<u64>,
    /// Stop after this long [default: 10s, or no limit with -n].
    #[arg(short = 'z', long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// How long one round trip (or reconnect) may take.
    #[arg(short, long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// A load ready to run.
enum Plan {
    Http(HttpConfig, TcpConnector),
    Echo(EchoConfig, TcpConnector),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (plan, json) = match plan(cli.command) {
        Ok(plan) => plan,
        Err((message, status)) => {
            eprintln!("pollen-load: {message}");
            return ExitCode::from(status);
        }
    };
    let mut builder = pollen::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        builder.worker_threads(threads as usize);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pollen-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(plan));
    match result {
        Ok(report) => {
            let mut out = std::io::stdout().lock();
            let written = if json {
                writeln!(out, "{}", report.to_json_pretty())
            } else {
                write!(out, "{report}")
            };
            if let Err(e) = written.and_then(|()| out.flush()) {
                eprintln!("pollen-load: cannot print the report: {e}");
                return ExitCode::FAILURE;
            }
            if report.interrupted {
                ExitCode::from(INTERRUPTED)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("pollen-load: {e}");
            if e.is_interrupted() {
                ExitCode::from(INTERRUPTED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Checks the arguments and resolves the target: the load and whether to
/// print JSON, or a message and the exit status.
fn plan(command: Command) -> Result<(Plan, bool), (String, u8)> {
    match command {
        Command::Http(args) => {
            let url: HttpUrl = args.url.parse().map_err(|e| (format!("{e}"), USAGE))?;
            let headers = args
                .headers
                .iter()
                .map(|header| parse_header(header))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| (e, USAGE))?;
            let addrs = url
                .resolve()
                .map_err(|e| (format!("cannot resolve {}: {e}", url.host()), 1))?;
            let method = match (&args.method, &args.data) {
                (Some(method), _) => method.to_ascii_uppercase(),
                (None, Some(_)) => "POST".to_owned(),
                (None, None) => "GET".to_owned(),
            };
            if !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') || method.is_empty() {
                return Err((format!("not a request method: {method:?}"), USAGE));
            }
            let requests = match (args.requests, args.duration) {
                (None, None) => Some(100),
                (requests, _) => requests,
            };
            let config = HttpConfig {
                method,
                headers,
                body: args.data.map(String::into_bytes),
                requests,
                duration: args.duration,
                concurrency: args.concurrency as usize,
                rate: args.rate,
                timeout: args.timeout,
                ..HttpConfig::new(url)
            };
            Ok((Plan::Http(config, TcpConnector::new(addrs)), args.json))
        }
        Command::Echo(args) => {
            let addrs: Vec<_> = args
                .addr
                .to_socket_addrs()
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::InvalidInput => (
                        format!("not an address (expected HOST:PORT): {}", args.addr),
                        USAGE,
                    ),
                    _ => (format!("cannot resolve {}: {e}", args.addr), 1),
                })?
                .collect();
            if addrs.is_empty() {
                return Err((format!("{} has no address", args.addr), 1));
            }
            let duration = match (args.requests, args.duration) {
                (None, None) => Some(Duration::from_secs(10)),
                (_, duration) => duration,
            };
            let config = EchoConfig {
                connections: args.concurrency as usize,
                size: args.size as usize,
                requests: args.requests,
                duration,
                timeout: args.timeout,
            };
            Ok((Plan::Echo(config, TcpConnector::new(addrs)), args.json))
        }
    }
}

/// `Name: value`.
fn parse_header(header: &str) -> Result<(String, String), String> {
    let bad = || format!("a header is \"Name: value\", not {header:?}");
    let (name, value) = header.split_once(':').ok_or_else(bad)?;
    let name = name.trim();
    let value = value.trim();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) || value.contains(['\r', '\n']) {
        return Err(bad());
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err("the rate is a positive number of requests per second".to_owned()),
    }
}

/// Runs the load with Ctrl-C handling and, on a terminal, a progress line.
async fn run(plan: Plan) -> Result<Report, SetupError> {
    let control = Control::new();
    let shutdown =
        pollen::signal::shutdown().map_err(|e| SetupError::new("cannot handle Ctrl-C", e))?;
    pollen::spawn({
        let control = control.clone();
        async move {
            shutdown.await;
            eprintln!(
                "pollen-load: stopping; waiting for the requests in flight (Ctrl-C again to quit now)"
            );
            control.interrupt();
            if pollen::signal::ctrl_c().await.is_ok() {
                std::process::exit(INTERRUPTED.into());
            }
        }
    });
    let total = match &plan {
        Plan::Http(config, _) => config.requests,
        Plan::Echo(config, _) => config.requests,
    };
    let done = Arc::new(AtomicBool::new(false));
    let progress = std::io::stderr()
        .is_terminal()
        .then(|| pollen::spawn(progress(control.clone(), total, done.clone())));
    let result = match plan {
        Plan::Http(config, connector) => pollen_load::http::run(config, connector, &control).await,
        Plan::Echo(config, connector) => pollen_load::echo::run(config, connector, &control).await,
    };
    done.store(true, Ordering::Release);
    if let Some(progress) = progress {
        let _ = progress.await;
    }
    result
}

/// Every 100 ms once the load runs, `[done/total] N req/s` on standard
/// error, over itself, with the rate of the last 100 ms; `Running...
/// [done/total] done` at the end. Nothing before setup has succeeded
/// (the error, if it fails, is then the only line).
async fn progress(control: Control, total: Option<u64>, done: Arc<AtomicBool>) {
    let mut tick = pollen::time::interval(Duration::from_millis(100));
    let line = |completed: u64| match total {
        Some(total) => format!("[{completed}/{total}]"),
        None => format!("[{completed}]"),
    };
    // When the last line was printed, and the count then.
    let mut last: Option<(pollen::time::Instant, u64)> = None;
    loop {
        tick.tick().await;
        let completed = control.completed();
        if done.load(Ordering::Acquire) {
            if last.is_some() {
                eprintln!("\r\x1b[2KRunning... {} done", line(completed));
            }
            return;
        }
        if !control.is_running() {
            continue;
        }
        let now = pollen::time::now();
        let rate = last.map_or(0.0, |(then, before)| {
            recent_rate(completed.saturating_sub(before), now - then)
        });
        last = Some((now, completed));
        eprint!("\r\x1b[2K{} {rate:.0} req/s", line(completed));
        let _ = std::io::stderr().flush();
    }
}

/// `count` per second of `window` (0 for no time).
fn recent_rate(count: u64, window: Duration) -> f64 {
    let secs = window.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_name_colon_value() {
        assert_eq!(
            parse_header("X-Token:  abc "),
            Ok(("X-Token".to_owned(), "abc".to_owned()))
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": empty name").is_err());
        assert!(parse_header("bad name: x").is_err());
    }

    #[test]
    fn the_progress_rate_is_the_last_window_s() {
        assert_eq!(recent_rate(50, Duration::from_millis(100)), 500.0);
        assert_eq!(recent_rate(5, Duration::ZERO), 0.0);
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
