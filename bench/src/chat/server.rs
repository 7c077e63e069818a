//! The chat servers: which binary each is, its command line, building it
//! and starting it as a child process ([`ServerProcess`]).
//!
//! Both take `--addr HOST:PORT` and `--threads N` and print a first stdout
//! line `<binary> listening on <addr>`.

use serde::Serialize;

use crate::process::ServerProcess;
use crate::{Rt, bins};

/// A chat server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatServer {
    /// `pollen-chat`, from `apps/chat`.
    Pollen,
    /// `chat-tokio`, the bench's own: the same broker design on tokio's
    /// multi-thread runtime.
    Tokio,
}

// === impl ChatServer ===

impl ChatServer {
    /// The server of `rt`, if it has one (smol has none).
    pub fn of(rt: Rt) -> Option<ChatServer> {
        match rt {
            Rt::Pollen => Some(ChatServer::Pollen),
            Rt::Tokio => Some(ChatServer::Tokio),
            Rt::Smol => None,
        }
    }

    /// Its name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            ChatServer::Pollen => "pollen-chat",
            ChatServer::Tokio => "tokio-mt",
        }
    }

    /// Its binary's file name.
    pub fn binary(self) -> &'static str {
        match self {
            ChatServer::Pollen => "pollen-chat",
            ChatServer::Tokio => "chat-tokio",
        }
    }

    /// Its command line for `clients` clients: any free port on loopback,
    /// `workers` worker threads; pollen-chat's client limit out of the
    /// way, at 10 000 (or `clients` if more). Its line limit and idle
    /// timeout stay at their defaults (a bench line is a dozen bytes, a
    /// round a few seconds). With `inbox`, `--inbox <lines>` too (which
    /// pollen-chat must then know).
    fn args(self, clients: usize, workers: usize, inbox: Option<usize>) -> Vec<String> {
        let mut args = vec![
            "--addr".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--threads".to_owned(),
            workers.to_string(),
        ];
        if self == ChatServer::Pollen {
            args.push("--max-clients".to_owned());
            args.push(clients.max(10_000).to_string());
        }
        if let Some(inbox) = inbox {
            args.push("--inbox".to_owned());
            args.push(inbox.to_string());
        }
        args
    }

    /// Starts it for `clients` clients with `workers` worker threads (and
    /// `inbox` lines per client, if given), and waits for its `listening
    /// on <addr>` line.
    pub fn start(
        self,
        clients: usize,
        workers: usize,
        inbox: Option<usize>,
    ) -> Result<ServerProcess, String> {
        let args = self.args(clients, workers, inbox);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ServerProcess::start(self.name(), self.binary(), &args, None)
    }

    /// `Err` says why it cannot run: it could not be built, or (with
    /// `--no-build`) there is no binary.
    fn check_binary(self) -> Result<(), String> {
        let path = bins::path(self.binary());
        if path.is_file() {
            Ok(())
        } else {
            Err(format!(
                "{} not built: no {}",
                self.binary(),
                path.display()
            ))
        }
    }
}

/// Builds `servers` with cargo (see [`bins::cargo_build`]): `chat-tokio`
/// from the bench's own package (which must build) and `pollen-chat` from
/// package `pollen-chat` (`apps/chat`). Returns, per server, `Ok` if it can
/// run, or why not: pollen-chat's build failed (before `apps/chat` is in the
/// workspace, cargo knows no such package), or its binary is missing.
pub fn build(servers: &[ChatServer], no_build: bool) -> Vec<Result<(), String>> {
    let mut pollen_not_built = None;
    if !no_build {
        if servers.contains(&ChatServer::Tokio) {
            let own = ["-p", "pollen-bench", "--bin", ChatServer::Tokio.binary()];
            match bins::cargo_build(&own) {
                None => {}
                Some(Ok(out)) if out.status.success() => {}
                Some(Ok(out)) => panic!(
                    "building chat-tokio failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ),
                Some(Err(e)) => {
                    eprintln!("chat: could not run cargo ({e}); using the binaries as they are")
                }
            }
        }
        if servers.contains(&ChatServer::Pollen) {
            pollen_not_built = match bins::cargo_build(&["-p", "pollen-chat"]) {
                None => None,
                Some(Ok(out)) if out.status.success() => None,
                Some(Ok(out)) => Some(format!(
                    "pollen-chat not built: `cargo build -p pollen-chat`: {}",
                    bins::first_error(&out)
                )),
                Some(Err(e)) => Some(format!("pollen-chat not built: could not run cargo: {e}")),
            };
        }
    }
    servers
        .iter()
        .map(|&server| match (server, &pollen_not_built) {
            (ChatServer::Pollen, Some(why)) => Err(why.clone()),
            _ => server.check_binary(),
        })
        .collect()
}
