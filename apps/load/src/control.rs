//! [`Control`]: starting the measurement and stopping a load from outside
//! (Ctrl-C, a bench's window), and the live count for a progress line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use pollen::sync::CancellationToken;

const WARMUP: u8 = 0;
const RECORDING: u8 = 1;
/// Stopped after recording started: what finishes is still recorded.
const STOPPED: u8 = 2;
/// Stopped while warming up: nothing is ever recorded.
const STOPPED_WARMING_UP: u8 = 3;

/// A handle on a running load, shared by its tasks and whoever steers it.
///
/// A load records results from the start ([`Control::new`]), or only once
/// [`start_recording`](Self::start_recording) is called
/// ([`Control::warming_up`]: requests made before then warm up the server
/// and are not counted). [`stop`](Self::stop) ends it: no new request
/// starts, requests in flight finish (within the load's timeout) and the
/// engine returns its report. [`interrupt`](Self::interrupt) is a stop that
/// marks the report as partial (Ctrl-C).
///
/// Cheap to clone; every clone steers the same load. Its methods may be
/// called from any thread, inside a runtime or not.
///
/// # Examples
///
/// ```
/// use pollen_load::Control;
///
/// let control = Control::warming_up();
/// assert!(!control.is_recording());
/// control.start_recording();
/// assert!(control.is_recording());
/// control.interrupt();
/// assert!(control.is_stopped() && control.is_interrupted());
/// ```
#[derive(Clone, Debug)]
pub struct Control {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    phase: AtomicU8,
    interrupted: AtomicBool,
    /// Set by the engine once its setup is done and the load runs.
    running: AtomicBool,
    stopped: CancellationToken,
    completed: AtomicU64,
}

// === impl Control ===

impl Control {
    /// A control that records from the start.
    pub fn new() -> Control {
        Control::with_phase(RECORDING)
    }

    /// A control that records nothing until
    /// [`start_recording`](Self::start_recording).
    pub fn warming_up() -> Control {
        Control::with_phase(WARMUP)
    }

    fn with_phase(phase: u8) -> Control {
        Control {
            inner: Arc::new(Inner {
                phase: AtomicU8::new(phase),
                interrupted: AtomicBool::new(false),
                running: AtomicBool::new(false),
                stopped: CancellationToken::new(),
                completed: AtomicU64::new(0),
            }),
        }
    }

    /// Starts counting: requests that complete from now on are recorded.
    /// Does nothing once stopped.
    pub fn start_recording(&self) {
        let _ = self.inner.phase.compare_exchange(
            WARMUP,
            RECORDING,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Stops the load: nothing new starts; what is in flight finishes (and
    /// is recorded, unless the load was still warming up).
    pub fn stop(&self) {
        let _ = self
            .inner
            .phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |phase| {
                Some(match phase {
                    WARMUP | STOPPED_WARMING_UP => STOPPED_WARMING_UP,
                    _ => STOPPED,
                })
            });
        self.inner.stopped.cancel();
    }

    /// Stops the load and marks its report as partial (Ctrl-C).
    pub fn interrupt(&self) {
        self.inner.interrupted.store(true, Ordering::Release);
        self.stop();
    }

    /// Whether requests completing now are recorded (not warming up, not
    /// stopped).
    pub fn is_recording(&self) -> bool {
        self.inner.phase.load(Ordering::Acquire) == RECORDING
    }

    /// Whether [`stop`](Self::stop) or [`interrupt`](Self::interrupt) was
    /// called.
    pub fn is_stopped(&self) -> bool {
        self.inner.phase.load(Ordering::Acquire) >= STOPPED
    }

    /// Whether [`interrupt`](Self::interrupt) was called.
    pub fn is_interrupted(&self) -> bool {
        self.inner.interrupted.load(Ordering::Acquire)
    }

    /// Whether the engine has finished its setup (connecting) and the load
    /// runs (or ran): the time to start a warm-up.
    pub fn is_running(&self) -> bool {
        self.inner.running.load(Ordering::Acquire)
    }

    /// Requests (or round trips) recorded so far, succeeded or failed: the
    /// progress line's count.
    pub fn completed(&self) -> u64 {
        self.inner.completed.load(Ordering::Relaxed)
    }

    /// Completes once the load is stopped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn stopped(&self) {
        self.inner.stopped.cancelled().await;
    }

    pub(crate) fn set_running(&self) {
        self.inner.running.store(true, Ordering::Release);
    }

    pub(crate) fn count_completed(&self) {
        self.inner.completed.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a request that completes now is recorded: `false` while
    /// warming up, `true` once recording started, and still `true` after a
    /// stop, for the requests in flight that finish after it (`false` if
    /// the load was stopped while warming up).
    pub(crate) fn records(&self) -> bool {
        matches!(
            self.inner.phase.load(Ordering::Acquire),
            RECORDING | STOPPED
        )
    }
}

impl Default for Control {
    fn default() -> Control {
        Control::new()
    }
}
