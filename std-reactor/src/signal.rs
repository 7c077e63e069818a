//! Signals: Ctrl-C and the Unix signals a server handles.
//!
//! Built on `signal-hook` (the handler) and `signal-hook-mio` (its pipe,
//! registered with the runtime's reactor): no signal handling is written by
//! hand here. Each [`Signal`] listener has its own pipe, so several
//! listeners of one signal each see every delivery.
//!
//! Once a listener for a signal has been created, that signal's default
//! action (for SIGINT and SIGTERM: terminating the process) no longer runs,
//! for the rest of the process: the program decides what to do.

use std::fmt;
use std::io;
use std::task::{Context, Poll};

use signal_hook_mio::v1_0::Signals;

use crate::io::Interest;
use crate::io::registration::PollEvented;

/// Waits for Ctrl-C (SIGINT).
///
/// The handler is installed when the future is first polled: a Ctrl-C
/// before that is not seen (and terminates the process as usual, if no
/// other listener exists).
///
/// # Errors
///
/// If the handler cannot be installed, or the thread is not in a runtime
/// with I/O enabled.
///
/// # Cancel safety
///
/// Not cancel safe across calls: each call installs a fresh listener, and a
/// signal that arrives between two calls is seen by neither. Keep one
/// [`Signal`] (from [`unix::signal`]) and call [`Signal::recv`] in a loop
/// to see every delivery.
///
/// # Examples
///
/// ```no_run
/// # let runtime = pollen::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
/// pollen::signal::ctrl_c().await.expect("failed to listen for Ctrl-C");
/// println!("shutting down");
/// # });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut signal = unix::signal(unix::SignalKind::interrupt())?;
    signal.recv().await;
    Ok(())
}

/// Listens for what a server stops on, Ctrl-C (SIGINT) or SIGTERM (a
/// service manager, `kill`), and returns a future that completes on the
/// first of them.
///
/// The handlers are installed by this call, not by the first poll, so a
/// signal that arrives while the server is still starting up is not lost.
///
/// # Cancel safety
///
/// The returned future owns its listeners: dropping it stops listening
/// (a signal that arrives afterwards is not seen by it). Poll it by
/// reference (`&mut`, pinned) in a `select!` loop to keep listening.
///
/// # Errors
///
/// If the handlers cannot be installed, or the thread is not in a runtime
/// with I/O enabled.
///
/// # Examples
///
/// ```no_run
/// # let runtime = pollen::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
/// let stop = pollen::signal::shutdown().expect("signal handlers");
/// // ... start serving ...
/// stop.await;
/// println!("shutting down");
/// # });
/// ```
pub fn shutdown() -> io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    let mut interrupt = unix::signal(unix::SignalKind::interrupt())?;
    let mut terminate = unix::signal(unix::SignalKind::terminate())?;
    Ok(async move {
        crate::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Unix signals.
pub mod unix {
    pub use super::{Signal, SignalKind};

    /// Listens for `kind`; see [`Signal`].
    ///
    /// # Errors
    ///
    /// If the signal may not be handled (SIGKILL, SIGSTOP, SIGSEGV...; see
    /// `signal_hook::low_level::register`), or the thread is not in a
    /// runtime with I/O enabled.
    pub fn signal(kind: SignalKind) -> std::io::Result<Signal> {
        Signal::new(kind)
    }
}

/// A kind of Unix signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(i32);

impl SignalKind {
    /// The signal numbered `signum`.
    pub const fn from_raw(signum: i32) -> SignalKind {
        SignalKind(signum)
    }

    /// Its number.
    pub const fn as_raw_value(self) -> i32 {
        self.0
    }

    /// SIGINT: Ctrl-C at a terminal.
    pub const fn interrupt() -> SignalKind {
        SignalKind(signal_hook::consts::SIGINT)
    }

    /// SIGTERM: the polite request to stop (what `kill` and service
    /// managers send).
    pub const fn terminate() -> SignalKind {
        SignalKind(signal_hook::consts::SIGTERM)
    }

    /// SIGHUP: the terminal went away; daemons reload their settings.
    pub const fn hangup() -> SignalKind {
        SignalKind(signal_hook::consts::SIGHUP)
    }

    /// SIGQUIT: Ctrl-\ at a terminal.
    pub const fn quit() -> SignalKind {
        SignalKind(signal_hook::consts::SIGQUIT)
    }

    /// SIGUSR1.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(signal_hook::consts::SIGUSR1)
    }

    /// SIGUSR2.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(signal_hook::consts::SIGUSR2)
    }
}

/// A listener for one kind of signal: [`recv`](Self::recv) completes once
/// per delivery (deliveries that come while nobody waits are merged into
/// one, as the kernel merges pending signals).
///
/// # Examples
///
/// ```
/// use pollen::signal::unix::{signal, SignalKind};
///
/// # let runtime = pollen::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # runtime.block_on(async {
/// let mut hangups = signal(SignalKind::hangup())?;
/// signal_hook::low_level::raise(SignalKind::hangup().as_raw_value())?;
/// hangups.recv().await;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct Signal {
    kind: SignalKind,
    signals: PollEvented<Signals>,
}

impl Signal {
    fn new(kind: SignalKind) -> io::Result<Signal> {
        // signal-hook panics on these; say it as an error instead.
        if signal_hook::consts::FORBIDDEN.contains(&kind.0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("pollen: signal {} cannot be handled by a program", kind.0),
            ));
        }
        let signals = Signals::new([kind.0])?;
        Ok(Signal {
            kind,
            signals: PollEvented::with_interest(signals, Interest::READABLE)?,
        })
    }

    /// Waits for the next delivery. `None` only if the runtime shut down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a delivery is only taken when `recv` returns it.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let delivered = self.signals.poll_io_mut(cx, Interest::READABLE, |signals| {
            if signals.pending().count() == 0 {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(())
            }
        });
        delivered.map(Result::ok)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).finish()
    }
}
