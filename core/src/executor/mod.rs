//! The executor: a value the embedder drives.
//!
//! [`Executor`] holds a run queue and nothing else: no thread, no timer, no
//! allocation. The embedder calls [`tick`](Executor::tick) (one bounded
//! batch), [`run_until_stalled`](Executor::run_until_stalled),
//! [`run`](Executor::run) (forever, sleeping through a [`Park`]) or
//! [`block_on`](Executor::block_on).
//!
//! # Guarantees
//!
//! - **FIFO by rounds.** A tick runs tasks in the order they were woken, and a
//!   task woken during a tick runs in a later tick, after every task that was
//!   already waiting: a task that wakes itself in a loop cannot starve others.
//! - **Bounded ticks.** One tick polls at most [`TICK_BATCH`] tasks, each at
//!   most once.
//! - **Waking never allocates** and never blocks: it is an atomic transition
//!   and, if the task was idle, a compare-and-swap push. Wakers may be used
//!   from any thread and from interrupt handlers. (With the `std` feature, a
//!   task woken by another task of the same executor, on the thread that
//!   runs them, is queued with no atomic at all, in the same order.)
//! - **No lost wake-ups.** A wake that lands while the task runs requeues it
//!   after the poll; a wake that lands while the executor parks unparks it.
//! - Tasks are bound to an executor that lives for ever (`&'static`), so a
//!   waker can never outlive its queue. Put the executor in a `static`
//!   (`Executor::new` is `const`), or leak one.

mod park;
mod queue;
mod spawner;

use core::fmt;
use core::future::Future;
use core::pin::pin;
use core::ptr::NonNull;
use core::task::{Context, Poll};

use crate::loom::AtomicWaker;

#[cfg(feature = "std")]
pub use self::park::StdPark;
pub(crate) use self::park::waker as park_waker;
pub use self::park::{Park, ParkTimeout, SpinPark};
pub use self::spawner::Spawner;

use self::queue::{Batch, LocalQueue, RunQueue};
use crate::loom::UnsafeCell;
use crate::loom::atomic::{AtomicBool, Ordering};
use crate::task::{Runnable, Schedule};

/// The most tasks one [`Executor::tick`] polls.
pub const TICK_BATCH: usize = if cfg!(loom) { 2 } else { 128 };

/// A single-queue executor that the embedder drives.
///
/// See the [module docs](self) for its guarantees.
///
/// # Examples
///
/// An embedder's loop, with no heap: a static executor, static task
/// storage, and a park of the embedder's own.
///
/// ```
/// use core::future::Future;
/// use pollen_core::executor::{Executor, Park};
/// use pollen_core::task::TaskArena;
///
/// static EXECUTOR: Executor = Executor::new();
/// static TASKS: TaskArena<256, 2> = TaskArena::new();
///
/// let task = TASKS.spawn(&EXECUTOR, async {
///     pollen_core::future::yield_now().await;
///     "done"
/// }).unwrap();
///
/// while !task.is_finished() {
///     if EXECUTOR.tick() == 0 {
///         // nothing to run: a real embedder would sleep here (WFE)
///     }
/// }
/// ```
pub struct Executor {
    queue: RunQueue,
    /// Tasks taken from `queue` but not run yet.
    ///
    /// # Safety
    ///
    /// Only touched by whoever holds `driving`.
    ready: UnsafeCell<Batch>,
    /// Tasks woken by this executor's tasks, on the thread running them,
    /// during a tick; all woken before any task still in `queue`. The next
    /// round takes them first.
    ///
    /// # Safety
    ///
    /// Only touched by whoever holds `driving`.
    local: UnsafeCell<LocalQueue>,
    /// Whether `local` holds tasks, for [`is_queue_empty`](Self::is_queue_empty)
    /// on other threads. Written only by whoever holds `driving`.
    local_pending: AtomicBool,
    /// Set while a thread drives the executor (the queue has one consumer).
    driving: AtomicBool,
    /// Wakes the driving thread when the queue goes from empty to not empty.
    unpark: AtomicWaker,
}

// SAFETY: `ready` is only touched under the `driving` flag; everything else
// is atomic. Tasks are `Send` (every safe spawn requires it).
unsafe impl Sync for Executor {}
// SAFETY: as above.
unsafe impl Send for Executor {}

// === impl Executor ===

impl Executor {
    /// An executor with no tasks, usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Executor {
        Executor {
            queue: RunQueue::new(),
            ready: UnsafeCell::new(Batch::empty()),
            local: UnsafeCell::new(LocalQueue::new()),
            local_pending: AtomicBool::new(false),
            driving: AtomicBool::new(false),
            unpark: AtomicWaker::new(),
        }
    }

    /// An executor with no tasks (not `const` under loom).
    #[cfg(loom)]
    pub fn new() -> Executor {
        Executor {
            queue: RunQueue::new(),
            ready: UnsafeCell::new(Batch::empty()),
            local: UnsafeCell::new(LocalQueue::new()),
            local_pending: AtomicBool::new(false),
            driving: AtomicBool::new(false),
            unpark: AtomicWaker::new(),
        }
    }

    /// A copyable handle for spawning onto this executor.
    pub fn spawner(&'static self) -> Spawner {
        Spawner::new(self)
    }

    /// Spawns `future` as a boxed task (one allocation: header, future and
    /// output together). It first runs at the executor's next tick.
    ///
    /// For spawning with no heap, see [`TaskStorage`](crate::task::TaskStorage),
    /// [`TaskPool`](crate::task::TaskPool) and [`TaskArena`](crate::task::TaskArena).
    #[cfg(feature = "alloc")]
    pub fn spawn<F>(&'static self, future: F) -> crate::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (runnable, handle) = crate::task::new_boxed(future, self);
        self.schedule(runnable);
        handle
    }

    /// Runs one batch: up to [`TICK_BATCH`] tasks, each polled once, in the
    /// order they were woken. Tasks woken meanwhile wait for a later tick.
    /// Returns how many tasks were polled; `0` means none was runnable.
    ///
    /// # Panics
    ///
    /// If the executor is already being driven: from inside one of its tasks,
    /// or on another thread at the same time.
    pub fn tick(&self) -> usize {
        self.tick_with(|_| {})
    }

    /// [`tick`](Self::tick), calling `before_poll` with each task's address
    /// ([`Runnable::as_ptr`]) just before its poll: for a scheduler that
    /// publishes what it is polling, to a watchdog or to its metrics.
    ///
    /// # Panics
    ///
    /// As [`tick`](Self::tick).
    pub fn tick_with(&self, mut before_poll: impl FnMut(NonNull<()>)) -> usize {
        let _driving = self.enter();
        // Take what is queued now, once: tasks woken during this tick wait
        // for the next one. Those woken here first (all woken before the
        // rest), then the others.
        self.ready.with_mut(|ready| {
            // SAFETY: we hold `driving`, so `ready` is ours.
            let ready = unsafe { &mut *ready };
            if ready.is_empty() {
                *ready = self.local.with_mut(|local| {
                    // SAFETY: we hold `driving`, so `local` is ours.
                    let local = unsafe { &mut *local };
                    if local.is_empty() {
                        return self.queue.take_all();
                    }
                    local.append_from(&self.queue);
                    self.local_pending.store(false, Ordering::Relaxed);
                    local.take()
                });
            }
        });
        // Wakes of our tasks on this thread go to `local` from here on.
        let _ticking = ticking::enter(self);
        let mut polled = 0;
        while polled < TICK_BATCH {
            // The batch stays in `self.ready` while a task runs, so a panic
            // that unwinds out of `run` leaves no task behind.
            // SAFETY: we hold `driving`, so `ready` is ours.
            let next = self.ready.with_mut(|ready| unsafe { &mut *ready }.pop());
            let Some(runnable) = next else { break };
            before_poll(runnable.as_ptr());
            runnable.run();
            polled += 1;
        }
        polled
    }

    /// Ticks until no task is runnable; returns how many polls that took.
    ///
    /// # Panics
    ///
    /// As [`tick`](Self::tick).
    pub fn run_until_stalled(&self) -> usize {
        let mut polled = 0;
        loop {
            match self.tick() {
                0 => return polled,
                n => polled += n,
            }
        }
    }

    /// Runs tasks for ever, parking on `park` whenever none is runnable.
    ///
    /// # Panics
    ///
    /// As [`tick`](Self::tick).
    pub fn run<P: Park>(&self, park: &'static P) -> ! {
        let waker = park::waker(park);
        loop {
            self.unpark.register(&waker);
            park.turn();
            if self.tick() == 0 && self.is_idle() {
                park.park();
            }
        }
    }

    /// Runs tasks until `future` completes, and returns its output.
    ///
    /// `future` is polled on the caller's stack (it need not be `Send` or
    /// `'static`), between ticks; the thread parks on `park` when neither it
    /// nor any task can make progress.
    ///
    /// # Panics
    ///
    /// As [`tick`](Self::tick).
    pub fn block_on<F: Future, P: Park>(&self, park: &'static P, future: F) -> F::Output {
        let waker = park::waker(park);
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            self.unpark.register(&waker);
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            park.turn();
            if self.tick() == 0 && self.is_idle() {
                park.park();
            }
        }
    }

    /// Queues `runnable` like [`Schedule::schedule`], but wakes nothing:
    /// for a scheduler that wraps an executor and wakes its own driver.
    /// Returns `true` if the queue was empty, when the driver may be asleep
    /// and the caller must wake it (a push onto a queue that already had
    /// tasks is covered by the wake of whoever made it non-empty).
    #[inline]
    pub fn enqueue(&self, runnable: Runnable) -> bool {
        self.queue.push(runnable)
    }

    /// Whether no task is runnable right now: for embedders that write
    /// their own loop around [`tick`](Self::tick) and must decide whether to
    /// sleep.
    ///
    /// # Panics
    ///
    /// As [`tick`](Self::tick): not from inside one of its tasks.
    pub fn is_idle(&self) -> bool {
        let _driving = self.enter();
        // SAFETY: we hold `driving`, so `ready` and `local` are ours.
        self.queue.is_empty()
            && self.ready.with(|ready| unsafe { &*ready }.is_empty())
            && self.local.with(|local| unsafe { &*local }.is_empty())
    }

    /// Whether no woken task waits in the queue: a snapshot (a wake may
    /// follow at once), taken without claiming the executor, so it may be
    /// called while another thread drives it, and costs one load.
    ///
    /// Unlike [`is_idle`](Self::is_idle), tasks already taken by a
    /// [`tick`](Self::tick) in progress are not counted.
    #[inline]
    pub fn is_queue_empty(&self) -> bool {
        self.queue.is_empty() && !self.local_pending.load(Ordering::Relaxed)
    }

    fn enter(&self) -> Driving<'_> {
        if self.driving.swap(true, Ordering::Acquire) {
            already_driving();
        }
        Driving(&self.driving)
    }
}

#[cold]
#[track_caller]
fn already_driving() -> ! {
    panic!(
        "pollen: this Executor is already being driven (re-entrant call from one of its tasks, \
         or two threads at once)"
    );
}

/// Releases the executor's `driving` flag, also on unwind.
struct Driving<'a>(&'a AtomicBool);

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Schedule for Executor {
    #[inline]
    fn schedule(&self, runnable: Runnable) {
        if let Some(_claim) = ticking::claim(self) {
            // Woken by one of our tasks, on the thread running it: no other
            // thread may touch `local`, and the driver needs no wake-up (it
            // looks at `local` before it sleeps).
            self.local.with_mut(|local| {
                // SAFETY: this thread is inside our `tick` (`ticking` said
                // so, and only `tick` sets it), which holds `driving`, and
                // the claim keeps a signal handler that interrupts us here
                // off `local`: it is ours.
                let local = unsafe { &mut *local };
                if local.is_empty() {
                    self.local_pending.store(true, Ordering::Relaxed);
                }
                local.push(runnable, &self.queue);
            });
            return;
        }
        if self.enqueue(runnable) {
            self.unpark.wake();
        }
    }
}

/// Which executor's tick, if any, this thread is in: how a wake knows it
/// runs on the thread that owns the executor's `local` queue. Needs thread
/// locals (`std`); without them every wake takes the atomic queue. Not
/// under loom, whose models run the threads of one test on one OS thread.
#[cfg(all(feature = "std", not(loom)))]
mod ticking {
    use core::cell::Cell;
    use core::ptr;

    use super::Executor;
    use crate::loom::atomic::{Ordering, compiler_fence};

    std::thread_local! {
        static TICKING: Cell<*const Executor> = const { Cell::new(ptr::null()) };
    }

    /// If this thread is inside `executor.tick()`: a claim on the
    /// executor's `local` queue until it drops. Meanwhile this thread counts
    /// as outside the tick, so a wake in a signal handler that interrupts
    /// the holder takes the shared queue instead of touching `local` too.
    #[inline]
    pub(super) fn claim(executor: &Executor) -> Option<Claim> {
        TICKING.with(|t| {
            if !ptr::eq(t.get(), executor) {
                return None;
            }
            t.set(ptr::null());
            // A signal handler runs on this thread: compiler fences order
            // the mark against our use of `local`.
            compiler_fence(Ordering::SeqCst);
            Some(Claim(executor))
        })
    }

    /// Gives the claim back: this thread is in the tick again.
    pub(super) struct Claim(*const Executor);

    impl Drop for Claim {
        #[inline]
        fn drop(&mut self) {
            compiler_fence(Ordering::SeqCst);
            TICKING.with(|t| t.set(self.0));
        }
    }

    /// Marks this thread as inside `executor.tick()` until the guard drops
    /// (also on unwind); the previous mark comes back then (ticks of two
    /// executors may nest).
    #[inline]
    pub(super) fn enter(executor: &Executor) -> Guard {
        Guard(TICKING.with(|t| t.replace(executor)))
    }

    pub(super) struct Guard(*const Executor);

    impl Drop for Guard {
        #[inline]
        fn drop(&mut self) {
            TICKING.with(|t| t.set(self.0));
        }
    }
}

#[cfg(not(all(feature = "std", not(loom))))]
mod ticking {
    use super::Executor;

    #[inline]
    pub(super) fn claim(_: &Executor) -> Option<Claim> {
        None
    }

    pub(super) struct Claim;

    #[inline]
    pub(super) fn enter(_: &Executor) -> Guard {
        Guard
    }

    pub(super) struct Guard;
}

impl Default for Executor {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("queue", &self.queue)
            .field("driving", &self.driving.load(Ordering::Relaxed))
            .finish()
    }
}
