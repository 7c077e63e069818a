//! What every echo server binary shares: its one flag and its first line.
//!
//! The contract the bench relies on (and that `pollen-echo run` follows):
//! `--addr HOST:PORT` is the address to bind (port 0 picks a free one), and
//! the first line on stdout is `listening on <addr>`, flushed, with the
//! address actually bound.

use std::io::Write;
use std::net::SocketAddr;

/// The `--addr` value (default `127.0.0.1:0`); exits with a usage line on
/// anything else.
pub fn addr() -> SocketAddr {
    let usage = |why: &str| -> ! {
        let name = std::env::args().next().unwrap_or_default();
        eprintln!("{name}: {why}\nusage: {name} [--addr 127.0.0.1:0]");
        std::process::exit(2)
    };
    let mut args = std::env::args().skip(1);
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--addr" => args.next(),
            _ => match arg.strip_prefix("--addr=") {
                Some(value) => Some(value.to_owned()),
                None => usage(&format!("unknown argument {arg:?}")),
            },
        };
        let Some(value) = value else {
            usage("--addr needs a value")
        };
        addr = value
            .parse()
            .unwrap_or_else(|e| usage(&format!("--addr {value:?}: {e}")));
    }
    addr
}

/// Prints `listening on <addr>` as the first stdout line, and flushes it.
pub fn announce(addr: SocketAddr) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}").expect("writing to stdout");
    out.flush().expect("flushing stdout");
}
