//! The runtime a thread is in: what `pollen::spawn`, `pollen::time::sleep`
//! and socket constructors find.

use std::cell::Cell;
use std::io;
use std::sync::Arc;

use super::shared::Shared;
use crate::io::driver::IoHandle;

thread_local! {
    /// The runtime this thread is in (inside `block_on`, a task, a blocking
    /// closure, or an `enter` guard).
    static CURRENT: Cell<Option<&'static Shared>> = const { Cell::new(None) };
    /// Whether this thread is driving a runtime (inside `block_on`).
    static DRIVING: Cell<bool> = const { Cell::new(false) };
}

/// The runtime this thread is in, if any.
pub(crate) fn current() -> Option<&'static Shared> {
    CURRENT.with(Cell::get)
}

/// Makes `shared` the current runtime until the guard drops; the previous
/// one comes back then (guards nest).
pub(crate) fn enter(shared: &'static Shared) -> EnterGuard {
    EnterGuard {
        previous: CURRENT.with(|c| c.replace(Some(shared))),
    }
}

/// Makes `shared` the current runtime of this thread for the rest of its
/// life: for the runtime's own threads (the blocking pool's).
pub(crate) fn set_for_thread(shared: &'static Shared) {
    CURRENT.with(|c| c.set(Some(shared)));
}

/// Whether this thread is driving a runtime now.
pub(crate) fn is_driving() -> bool {
    DRIVING.with(Cell::get)
}

/// Marks this thread as driving a runtime until the guard drops.
///
/// # Panics
///
/// If it already drives one: `block_on` inside `block_on` would deadlock
/// the outer runtime, whose thread would be stuck in the inner one.
#[track_caller]
pub(crate) fn enter_driving() -> DrivingGuard {
    if DRIVING.with(|d| d.replace(true)) {
        panic!(
            "pollen: cannot start a runtime from within a runtime: `block_on` was called on a \
             thread that is already driving one (from inside a task or another `block_on`). \
             Spawn the future instead, or run it with `spawn_blocking` on a thread of its own."
        );
    }
    DrivingGuard(())
}

/// The reactor of the current runtime, to register a source with.
pub(crate) fn io_handle() -> io::Result<Arc<IoHandle>> {
    match current() {
        Some(shared) => shared.io_handle(),
        None => Err(io::Error::other(
            "pollen: there is no runtime on this thread: sockets must be created inside a \
             pollen runtime (in `block_on`, a task, or after `Runtime::enter`)",
        )),
    }
}

/// Restores the previous current runtime when dropped.
#[derive(Debug)]
pub(crate) struct EnterGuard {
    previous: Option<&'static Shared>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous.take()));
    }
}

/// Clears the driving mark when dropped.
#[derive(Debug)]
pub(crate) struct DrivingGuard(());

impl Drop for DrivingGuard {
    fn drop(&mut self) {
        DRIVING.with(|d| d.set(false));
    }
}
