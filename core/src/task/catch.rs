//! Panic capture around user code (poll, drop), where the platform has it.
//!
//! With the `std` feature a panic in a task's `poll` or `Drop` is caught and
//! reported through its `JoinHandle` as [`JoinError::is_panic`]. Without
//! `std` there is no unwinding to catch (firmware builds use
//! `panic = "abort"`), and [`Payload`] is uninhabited.
//!
//! [`JoinError::is_panic`]: super::JoinError::is_panic

/// What a caught panic carries.
#[cfg(feature = "std")]
pub(crate) type Payload = alloc::boxed::Box<dyn core::any::Any + Send + 'static>;

/// What a caught panic carries: nothing can be caught without `std`.
#[cfg(not(feature = "std"))]
pub(crate) type Payload = core::convert::Infallible;

/// Runs `f`, catching a panic if the platform can.
#[cfg(feature = "std")]
#[inline]
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Payload> {
    std::panic::catch_unwind(core::panic::AssertUnwindSafe(f))
}

/// Runs `f`, catching a panic if the platform can.
#[cfg(not(feature = "std"))]
#[inline(always)]
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Payload> {
    Ok(f())
}

/// Continues a panic caught by [`catch`] once the caller has restored its
/// invariants.
#[cfg(feature = "std")]
pub(crate) fn resume(payload: Payload) -> ! {
    std::panic::resume_unwind(payload)
}

/// Continues a panic caught by [`catch`] (never called without `std`).
#[cfg(not(feature = "std"))]
pub(crate) fn resume(payload: Payload) -> ! {
    match payload {}
}
