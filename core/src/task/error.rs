//! Errors of the task API.

use core::fmt;

use super::catch::Payload;

/// Why a task produced no output: it was cancelled, or it panicked.
///
/// Returned by awaiting a [`JoinHandle`](super::JoinHandle).
pub struct JoinError {
    repr: Repr,
}

// SAFETY: through `&JoinError` the panic payload is only ever downcast to
// `&'static str` or `String` (in `panic_message`), both `Sync`; `Any::type_id`
// reads no data. Everything else needs `JoinError` by value.
unsafe impl Sync for JoinError {}

enum Repr {
    Cancelled,
    // Uninhabited without the `std` feature: nothing can be caught there.
    // Boxed once more (a panic is rare; the extra allocation is only then)
    // so that `JoinError` is one pointer: every task stores a
    // `Result<Output, JoinError>` where its future was, and a thin error
    // keeps that slot, and so the task, small.
    #[cfg(feature = "std")]
    Panic(alloc::boxed::Box<Payload>),
    #[cfg(not(feature = "std"))]
    Panic(Payload),
}

// === impl JoinError ===

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    #[cfg(feature = "std")]
    pub(crate) fn panic(payload: Payload) -> JoinError {
        JoinError {
            repr: Repr::Panic(alloc::boxed::Box::new(payload)),
        }
    }

    #[cfg(not(feature = "std"))]
    pub(crate) fn panic(payload: Payload) -> JoinError {
        JoinError {
            repr: Repr::Panic(payload),
        }
    }

    /// The task was aborted (or dropped unreachable) before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked. Always `false` without the `std` feature, where a
    /// panic cannot be caught.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to resume it with `std::panic::resume_unwind`.
    ///
    /// # Panics
    ///
    /// If the error is not a panic; see [`try_into_panic`](Self::try_into_panic).
    #[cfg(feature = "std")]
    #[track_caller]
    pub fn into_panic(self) -> Payload {
        self.try_into_panic()
            .expect("`JoinError::into_panic` called on a cancelled task's error")
    }

    /// The panic payload, or the error itself if the task was cancelled.
    #[cfg(feature = "std")]
    pub fn try_into_panic(self) -> Result<Payload, JoinError> {
        match self.repr {
            Repr::Panic(payload) => Ok(*payload),
            Repr::Cancelled => Err(self),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("task was cancelled"),
            #[cfg(feature = "std")]
            Repr::Panic(payload) => match panic_message(payload) {
                Some(msg) => write!(f, "task panicked with message {msg:?}"),
                None => f.write_str("task panicked"),
            },
            #[cfg(not(feature = "std"))]
            Repr::Panic(never) => match *never {},
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            #[cfg(feature = "std")]
            Repr::Panic(payload) => match panic_message(payload) {
                Some(msg) => write!(f, "JoinError::Panic({msg:?}, ..)"),
                None => f.write_str("JoinError::Panic(..)"),
            },
            #[cfg(not(feature = "std"))]
            Repr::Panic(never) => match *never {},
        }
    }
}

impl core::error::Error for JoinError {}

#[cfg(feature = "std")]
fn panic_message(payload: &Payload) -> Option<&str> {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        Some(s)
    } else {
        payload
            .downcast_ref::<alloc::string::String>()
            .map(|s| s.as_str())
    }
}

/// Why a task could not be spawned into static storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// Every slot of the `TaskStorage` / `TaskPool` holds a live task. Slots
    /// are reused as soon as their task has finished and every handle to it
    /// (`JoinHandle`, wakers) is gone.
    Busy,
    /// The scheduler no longer takes tasks (a runtime that has shut down).
    ShutDown,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Busy => f.write_str("every task slot is in use (pool busy)"),
            SpawnError::ShutDown => f.write_str("the runtime has shut down"),
        }
    }
}

impl core::error::Error for SpawnError {}
