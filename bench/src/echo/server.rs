//! The echo servers: which binary each is, building them, and starting one
//! as a child process ([`ServerProcess`]).
//!
//! Every server binary takes `--addr HOST:PORT` (pollen-echo after its `run`
//! subcommand) and prints a first stdout line ending in `listening on
//! <addr>`.

use std::path::PathBuf;

use core_affinity::CoreId;
use serde::Serialize;

use crate::bins;
pub use crate::process::{Memory, ServerProcess};

/// An echo server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Server {
    /// `pollen-echo`, from `apps/echo`: the full app.
    Pollen,
    /// `echo-pollen`: the minimal server on pollen's current-thread
    /// runtime, the same shape as `echo-tokio`.
    PollenMin,
    /// `echo-tokio`: tokio's current-thread runtime.
    Tokio,
    /// `echo-smol`: smol's `LocalExecutor` and `async-net`.
    Smol,
    /// `echo-mio`: the hand-written mio loop, the reference.
    Mio,
}

// === impl Server ===

impl Server {
    /// Its name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Server::Pollen => "pollen-echo",
            Server::PollenMin => "pollen-min",
            Server::Tokio => "tokio-ct",
            Server::Smol => "smol-local",
            Server::Mio => "mio-loop",
        }
    }

    /// Its binary's file name.
    pub fn binary(self) -> &'static str {
        match self {
            Server::Pollen => "pollen-echo",
            Server::PollenMin => "echo-pollen",
            Server::Tokio => "echo-tokio",
            Server::Smol => "echo-smol",
            Server::Mio => "echo-mio",
        }
    }

    /// Its command-line arguments.
    ///
    /// pollen-echo is told to echo through 64 bytes like the others (its
    /// default is 4 KiB), to log nothing per connection, and to lift its
    /// limits out of the way: at most a million connections (default
    /// 10 000, which the idle connections would reach) and an hour's idle
    /// timeout (default 10 s, which a slow memory measurement could reach).
    /// It still arms that timeout on every read and holds a permit of its
    /// connection limit per connection: costs the other servers do not have.
    fn args(self) -> &'static [&'static str] {
        match self {
            Server::Pollen => &[
                "run",
                "--addr",
                "127.0.0.1:0",
                "--buffer-size",
                "64",
                "--quiet",
                "--max-conns",
                "1000000",
                "--idle-timeout",
                "1h",
            ],
            _ => &["--addr", "127.0.0.1:0"],
        }
    }

    /// The path of its binary: next to the bench's own executable.
    pub fn path(self) -> PathBuf {
        bins::path(self.binary())
    }

    /// Starts it, pinned to `cpu` if any, and waits for its `listening on
    /// <addr>` line.
    pub fn start(self, cpu: Option<CoreId>) -> Result<ServerProcess, String> {
        ServerProcess::start(self.name(), self.binary(), self.args(), cpu)
    }
}

/// Builds the servers with cargo (see [`bins::cargo_build`]): first the
/// bench's own four (which must build), then pollen-echo. Returns why
/// pollen-echo could not be built, if it could not (`None`: it was built,
/// or `no_build`, or there is no workspace to build in).
pub fn build(no_build: bool) -> Option<String> {
    if no_build {
        return None;
    }
    let own = [
        "-p",
        "pollen-bench",
        "--bin",
        "echo-pollen",
        "--bin",
        "echo-tokio",
    ];
    let own = [&own[..], &["--bin", "echo-smol", "--bin", "echo-mio"]].concat();
    match bins::cargo_build(&own)? {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "building the echo servers failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            eprintln!("echo: could not run cargo ({e}); using the binaries as they are");
            return None;
        }
    }
    match bins::cargo_build(&["-p", "pollen-echo"])? {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`cargo build -p pollen-echo`: {}",
            bins::first_error(&out)
        )),
        Err(e) => Some(format!("could not run cargo: {e}")),
    }
}
