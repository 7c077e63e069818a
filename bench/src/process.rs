//! A server under test as a child process (the echo and chat suites'):
//! starting it, reading the address from its first line, its CPU time and
//! memory from `/proc`, and its last output lines for error messages.
//!
//! A server takes its address to bind on its command line and prints a
//! first stdout line containing `listening on <addr>` (the address may be
//! written `http://<addr>`, and more may follow it): that is the address
//! the bench connects to. After that line the bench keeps draining the server's
//! stdout and stderr (so a chatty server never blocks on a full pipe) and
//! keeps their last lines, to show if the server dies.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use core_affinity::CoreId;
use serde::Serialize;

use crate::bins;

/// How long a server may take to print its first line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Output lines kept from each server, for error messages.
const LOG_LINES: usize = 20;

/// A running server process, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    /// Its name in the tables.
    name: &'static str,
    /// Its binary's file name.
    binary: &'static str,
    pub addr: SocketAddr,
    child: Child,
    /// The last lines of its stdout and stderr.
    log: Arc<Mutex<VecDeque<String>>>,
}

/// A server's memory, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Memory {
    /// `VmRSS`: resident now, KiB.
    pub rss_kib: u64,
    /// `VmHWM`: the peak of `VmRSS` so far, KiB.
    pub hwm_kib: u64,
}

// === impl ServerProcess ===

impl ServerProcess {
    /// Starts `binary` (from the bench's executable's directory, see
    /// [`bins::path`]; row `name` in the tables) with `args`, pinned to
    /// `cpu` if any, and waits for its `listening on <addr>` line.
    pub fn start(
        name: &'static str,
        binary: &'static str,
        args: &[&str],
        cpu: Option<CoreId>,
    ) -> Result<ServerProcess, String> {
        let path = bins::path(binary);
        let spawn = || {
            Command::new(&path)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("starting {}: {e}", path.display()))
        };
        let mut child = match cpu {
            None => spawn()?,
            // A child inherits the CPUs of the thread that forks it: fork
            // from a thread pinned to `cpu`.
            Some(cpu) => std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        if !core_affinity::set_for_current(cpu) {
                            return Err(format!("could not pin to CPU {}", cpu.id));
                        }
                        spawn()
                    })
                    .join()
                    .expect("the spawning thread does not panic")
            })?,
        };
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (first_tx, first_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        drain(stdout, Arc::clone(&log), Some(first_tx));
        drain(stderr, Arc::clone(&log), None);

        let mut process = ServerProcess {
            name,
            binary,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
            log,
        };
        let line = first_rx
            .recv_timeout(START_TIMEOUT)
            .map_err(|_| process.failure("printed no first line"))?;
        process.addr = listening_addr(&line)
            .ok_or_else(|| process.failure(&format!("first line {line:?}: no address")))?;
        Ok(process)
    }

    /// Its name in the tables.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// An error message: `what`, with the server's last output lines.
    pub fn failure(&self, what: &str) -> String {
        let log = self.log.lock().expect("log lock");
        let mut message = format!("{} ({}): {what}", self.name, self.binary);
        for line in log.iter() {
            message.push_str("\n  | ");
            message.push_str(line);
        }
        message
    }

    /// `Err` if the server has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.failure(&format!("exited: {status}"))),
            Err(e) => Err(self.failure(&format!("waiting for it: {e}"))),
        }
    }

    /// The CPU time the server has used, user and system, all its threads
    /// (`utime + stime` from `/proc/<pid>/stat`, in clock ticks: 10 ms
    /// each at the usual 100 Hz).
    pub fn cpu_time(&self) -> Result<Duration, String> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        // The command name, field 2, is in parentheses and may hold spaces;
        // after it, utime and stime are the 12th and 13th fields (fields 14
        // and 15 of the line).
        let after_name = &stat[stat.rfind(')').ok_or("no ')' in stat")? + 1..];
        let mut fields = after_name.split_whitespace().skip(11);
        let mut tick_field = || -> Result<u64, String> {
            fields
                .next()
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| format!("{path}: no utime/stime"))
        };
        let ticks = tick_field()? + tick_field()?;
        Ok(Duration::from_secs_f64(
            ticks as f64 / clock_ticks_per_sec(),
        ))
    }

    /// Its `VmRSS` and `VmHWM`.
    pub fn memory(&self) -> Result<Memory, String> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| format!("{path}: no {key}"))
        };
        Ok(Memory {
            rss_kib: kib("VmRSS:")?,
            hwm_kib: kib("VmHWM:")?,
        })
    }
}

/// The address in a `... listening on [http://]ADDR[/] ...` line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let (_, after) = line.split_once("listening on ")?;
    let token = after.split_whitespace().next()?;
    let token = token.strip_prefix("http://").unwrap_or(token);
    token.trim_end_matches('/').parse().ok()
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `pipe` line by line on a thread until it closes: the first line
/// goes to `first` (if any), the others to `log`, which keeps the last
/// [`LOG_LINES`].
fn drain(
    pipe: impl Read + Send + 'static,
    log: Arc<Mutex<VecDeque<String>>>,
    mut first: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if let Some(first) = first.take() {
                let _ = first.send(line.clone());
            }
            let mut log = log.lock().expect("log lock");
            if log.len() == LOG_LINES {
                log.pop_front();
            }
            log.push_back(line);
        }
    });
}

/// The kernel's clock ticks per second for `/proc` times (`getconf
/// CLK_TCK`; 100 if that fails, the value on every common Linux).
fn clock_ticks_per_sec() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&ticks: &f64| ticks > 0.0)
            .unwrap_or(100.0)
    })
}

/// A server that did not run (or stopped running), and why.
#[derive(Debug, Serialize)]
pub struct Skipped {
    pub server: &'static str,
    pub why: String,
}

#[cfg(test)]
mod tests {
    use super::listening_addr;

    #[test]
    fn the_address_is_found_in_every_servers_first_line() {
        let addr = "127.0.0.1:8080".parse().ok();
        for line in [
            "listening on 127.0.0.1:8080",
            "pollen-chat listening on 127.0.0.1:8080",
            "pollen-jobs listening on http://127.0.0.1:8080 (4 workers, queue capacity 1000)",
            "listening on http://127.0.0.1:8080/",
        ] {
            assert_eq!(listening_addr(line), addr, "{line}");
        }
        assert_eq!(listening_addr("starting up"), None);
        assert_eq!(listening_addr("listening on nowhere"), None);
    }
}
