//! The echo server behind `pollen-echo`, as a library so tests (and the
//! `test` subcommand) can run it in-process.
//!
//! One task per connection; a semaphore caps open connections (the accept
//! loop waits for a free slot, so extra clients queue in the kernel's
//! backlog); a connection that sends nothing for `idle_timeout` is closed;
//! on shutdown the server stops accepting and gives open connections
//! `drain_timeout` to finish before closing them.
//!
//! The per-connection path is kept lean, since an echo server is mostly
//! idle connections and tiny requests: the idle timer is armed once and
//! only moved when it fires (a read just records the time), and the
//! connections cut at shutdown are aborted through their task handles
//! rather than each waiting on a cancellation future.
#![forbid(unsafe_code)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pollen::io::AsyncWriteExt;
use pollen::net::{TcpListener, TcpStream};
use pollen::sync::Semaphore;
use pollen::task::AbortHandle;

/// How the server behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// Close a connection that sends nothing for this long.
    pub idle_timeout: Duration,
    /// The most connections open at once.
    pub max_conns: usize,
    /// How long open connections may go on after shutdown begins.
    pub drain_timeout: Duration,
    /// Bytes read (and echoed) at a time per connection.
    pub buffer_size: usize,
    /// Log connection events to stderr.
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            idle_timeout: Duration::from_secs(10),
            max_conns: 10_000,
            drain_timeout: Duration::from_secs(5),
            buffer_size: 4096,
            verbose: true,
        }
    }
}

/// What a server run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections closed for being idle.
    pub idle_closed: u64,
    /// Connections that ended in an error (reset, broken pipe).
    pub errors: u64,
    /// Connections still open when the drain deadline passed (closed then).
    pub cut_at_shutdown: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    idle_closed: AtomicU64,
    errors: AtomicU64,
}

/// How one connection ended.
enum End {
    /// The client closed its side (after everything it sent was echoed).
    Closed,
    /// Nothing arrived for the idle timeout.
    Idle,
    /// A read or write failed.
    Error(io::Error),
}

type Limit = Semaphore;

/// Serves echo on `listener` until `shutdown` completes, then drains.
///
/// # Errors
///
/// Only if the listener itself fails in a way that retrying cannot fix;
/// errors of single connections are logged and counted in the summary.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> io::Result<Summary> {
    let config = Arc::new(config);
    let limit = Arc::new(Limit::new(config.max_conns));
    // The open connections' tasks, to abort those still open when the
    // drain deadline passes.
    let open: Arc<std::sync::Mutex<slab::Slab<AbortHandle>>> = Arc::default();
    let counters = Arc::new(Counters::default());
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        let accepted = pollen::select! {
            biased;
            () = &mut shutdown => break,
            accepted = accept(&listener, &limit) => accepted,
        };
        let (stream, peer, permit) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and friends: say so, give the system a moment, go on.
                log(&config, format_args!("accept failed: {e}; retrying"));
                pollen::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let (config, counters, open_tasks) = (config.clone(), counters.clone(), open.clone());
        let mut tasks = lock(&open);
        let slot = tasks.vacant_entry();
        let key = slot.key();
        let task = pollen::spawn(async move {
            match echo(stream, &config).await {
                End::Closed => {}
                End::Idle => {
                    counters.idle_closed.fetch_add(1, Ordering::Relaxed);
                    log(
                        &config,
                        format_args!("{peer}: idle for {:?}, closed", config.idle_timeout),
                    );
                }
                End::Error(e) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    log(&config, format_args!("{peer}: {e}"));
                }
            }
            lock(&open_tasks).try_remove(key);
            drop(permit);
        });
        slot.insert(task.abort_handle());
    }

    drop(listener);
    let still_open = config.max_conns - limit.available_permits();
    log(
        &config,
        format_args!(
            "shutting down: {still_open} connection(s) open, draining for up to {:?}",
            config.drain_timeout
        ),
    );
    let all = u32::try_from(config.max_conns).unwrap_or(u32::MAX) as usize;
    let drained = pollen::time::timeout(config.drain_timeout, limit.acquire_many(all)).await;
    let cut_at_shutdown = match drained {
        Ok(_) => 0,
        Err(_) => {
            let cut: Vec<AbortHandle> = lock(&open).drain().collect();
            for task in &cut {
                task.abort();
            }
            // Aborted tasks drop their sockets (closing them) and permits
            // when the runtime next runs them.
            let _ = pollen::time::timeout(Duration::from_secs(1), limit.acquire_many(all)).await;
            log(
                &config,
                format_args!("closed {} connection(s) at the drain deadline", cut.len()),
            );
            cut.len() as u64
        }
    };
    Ok(Summary {
        accepted: counters.accepted.load(Ordering::Relaxed),
        idle_closed: counters.idle_closed.load(Ordering::Relaxed),
        errors: counters.errors.load(Ordering::Relaxed),
        cut_at_shutdown,
    })
}

/// Waits for a free connection slot, then for a connection.
async fn accept(
    listener: &TcpListener,
    limit: &Arc<Limit>,
) -> io::Result<(TcpStream, SocketAddr, pollen::sync::OwnedSemaphorePermit)> {
    let permit = limit
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| io::Error::other("connection limit closed"))?;
    let (stream, peer) = listener.accept().await?;
    Ok((stream, peer, permit))
}

/// Echoes until the client closes, goes idle, or fails.
///
/// An idle connection holds no buffer: it waits for readability, then
/// borrows one from this thread's spare buffers, reads and echoes until the
/// socket has nothing more, and gives the buffer back. Memory per idle
/// connection does not grow with `--buffer-size`.
async fn echo(stream: TcpStream, config: &Config) -> End {
    // Armed once; a read only notes the time. When the timer fires, the
    // connection is idle if nothing was read since `idle_timeout` ago, and
    // otherwise the timer moves to that point.
    let mut last_read = pollen::time::now();
    let mut idle = std::pin::pin!(pollen::time::sleep(config.idle_timeout));
    loop {
        let readable = pollen::select! {
            biased;
            readable = stream.readable() => readable,
            () = &mut idle => {
                let deadline = last_read + config.idle_timeout;
                if pollen::time::now() >= deadline {
                    return End::Idle;
                }
                idle.as_mut().reset(deadline);
                continue;
            }
        };
        if let Err(e) = readable {
            return End::Error(e);
        }
        let mut buf = SpareBuffer::take(config.buffer_size);
        loop {
            let n = match stream.try_read(&mut buf) {
                Ok(0) => return End::Closed,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return End::Error(e),
            };
            last_read = pollen::time::now();
            if let Err(e) = (&stream).write_all(&buf[..n]).await {
                return End::Error(e);
            }
        }
    }
}

/// A buffer borrowed from this thread's spares, given back on drop.
struct SpareBuffer(Vec<u8>);

thread_local! {
    /// Buffers not in use. As many exist as connections were ever reading
    /// or blocked writing at once on this thread, which is few.
    static SPARES: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl SpareBuffer {
    fn take(size: usize) -> SpareBuffer {
        let spare = SPARES.with(|spares| spares.borrow_mut().pop());
        let mut buf = spare.unwrap_or_default();
        buf.resize(size, 0);
        SpareBuffer(buf)
    }
}

impl std::ops::Deref for SpareBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::DerefMut for SpareBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl Drop for SpareBuffer {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        SPARES.with(|spares| spares.borrow_mut().push(buf));
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section here leaves the data consistent.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn log(config: &Config, message: std::fmt::Arguments<'_>) {
    if config.verbose {
        eprintln!("pollen-echo: {message}");
    }
}
