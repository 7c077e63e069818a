//! Small helpers for the crate's models (test builds only).

/// A `&'static $ty` made from `$init`, fresh for each model iteration: a
/// `static` when the model runs once (plain tests, Miri: nothing leaks),
/// leaked under loom (where `$init` cannot be `const` and the model runs
/// many times).
macro_rules! model_static {
    ($ty:ty, $init:expr) => {{
        #[cfg(not(loom))]
        {
            static VALUE: $ty = $init;
            &VALUE
        }
        #[cfg(loom)]
        {
            let value: &'static $ty = alloc::boxed::Box::leak(alloc::boxed::Box::new($init));
            value
        }
    }};
}

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use crate::loom::atomic::{AtomicBool, Ordering};
use crate::loom::thread;

/// A one-value hand-off between model threads.
pub(crate) struct Slot<T> {
    value: crate::loom::UnsafeCell<Option<T>>,
    full: AtomicBool,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            value: crate::loom::UnsafeCell::new(None),
            full: AtomicBool::new(false),
        }
    }
}

// SAFETY: `full` hands the value from the one `put` to the one `take`.
unsafe impl<T: Send> Sync for Slot<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Slot<T> {}

impl<T> Slot<T> {
    /// Stores the value; called once.
    pub(crate) fn put(&self, value: T) {
        // SAFETY: `full` is clear, so `take` does not read the cell yet.
        self.value.with_mut(|v| unsafe { *v = Some(value) });
        self.full.store(true, Ordering::Release);
    }

    /// Waits for the value and takes it.
    pub(crate) fn take(&self) -> T {
        while !self.full.swap(false, Ordering::Acquire) {
            thread::yield_now();
        }
        // SAFETY: `put` is done with the cell (Acquire above).
        self.value
            .with_mut(|v| unsafe { (*v).take() })
            .expect("slot filled")
    }
}

/// Blocks the calling model thread on `fut`: loom's `block_on` under loom
/// (which parks the thread properly), a yielding poll loop otherwise.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    #[cfg(loom)]
    {
        loom::future::block_on(fut)
    }
    #[cfg(not(loom))]
    {
        let mut fut = core::pin::pin!(fut);
        loop {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                return out;
            }
            thread::yield_now();
        }
    }
}

/// Polls `fut` once with a no-op waker.
pub(crate) fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

/// A raw mutex that blocks (loom's `Mutex` under loom): the models explore
/// the timer's protocol, not a spin lock's retries (which would exhaust
/// loom's branch budget with three threads; `SpinRawMutex` has its own
/// model).
pub(crate) struct BlockingRawMutex {
    #[cfg(loom)]
    inner: loom::sync::Mutex<()>,
    #[cfg(not(loom))]
    inner: std::sync::Mutex<()>,
}

// SAFETY: `lock` holds the inner mutex's guard while `f` runs.
unsafe impl crate::sync::RawMutex for BlockingRawMutex {
    #[cfg(not(loom))]
    const INIT: Self = BlockingRawMutex {
        inner: std::sync::Mutex::new(()),
    };

    #[cfg(loom)]
    fn new() -> Self {
        BlockingRawMutex {
            inner: loom::sync::Mutex::new(()),
        }
    }

    fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.inner.lock().unwrap();
        f()
    }
}
