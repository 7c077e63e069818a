//! The current-thread scheduler: the thread in `block_on` runs every task,
//! the reactor and the timers.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use super::context;
use super::shared::Shared;
use crate::io::driver::Driver;

/// The `block_on` future's waker: marks it woken and unparks the driver.
struct MainWaker {
    woken: AtomicBool,
    shared: &'static Shared,
    /// The thread in `block_on`, for when another thread holds the driver.
    thread: thread::Thread,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.shared.park.unpark();
        self.thread.unpark();
    }
}

/// Runs `future` to completion on this thread, driving the runtime while
/// it waits. If another thread drives the runtime already, polls `future`
/// here and takes over driving when that thread lets go.
pub(crate) fn block_on<F: Future>(shared: &'static Shared, future: F) -> F::Output {
    let _driving = context::enter_driving();
    let _enter = context::enter(shared);
    let _seeded = shared.seed_thread(0);
    let main = Arc::new(MainWaker {
        woken: AtomicBool::new(true),
        shared,
        thread: thread::current(),
    });
    let waker = Waker::from(main.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Some(driver) = shared.take_driver() {
            let mut driver = DriverGuard {
                shared,
                driver: Some(driver),
            };
            return drive(shared, driver.get(), &main, &mut cx, future.as_mut());
        }
        // Another thread drives: we were queued to be unparked when it
        // lets go; meanwhile our future runs here when woken.
        if main.woken.swap(false, Ordering::AcqRel) {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        }
        thread::park();
    }
}

fn drive<F: Future>(
    shared: &'static Shared,
    driver: &mut Driver,
    main: &MainWaker,
    cx: &mut Context<'_>,
    mut future: std::pin::Pin<&mut F>,
) -> F::Output {
    let unpark = shared.timer_unpark_waker();
    let me = thread::current().id();
    let mut polls_since_maintain = 0;
    loop {
        if main.woken.swap(false, Ordering::AcqRel) {
            // Counted like a task's poll: a `block_on` future that keeps
            // waking itself (a `yield_now` loop) must not keep the runtime
            // from ever looking at I/O and timers again.
            polls_since_maintain += 1;
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return output;
            }
        }
        // Work handed over before this is visible to the tick below; work
        // handed over after it stops the park (see `io::park`).
        shared.park.reset();
        let mut polled = shared.executor.tick() as u32;
        if let Some(local) = shared.local_for(me) {
            polled += local.executor.tick() as u32;
        }
        polls_since_maintain += polled;
        if polled == 0 && !main.woken.load(Ordering::Acquire) {
            shared.park(driver, &unpark);
            polls_since_maintain = 0;
        } else if polls_since_maintain >= shared.event_interval {
            shared.maintain(driver);
            polls_since_maintain = 0;
        }
    }
}

/// Holds the driver while this thread drives, and gives it back (also on
/// unwind).
struct DriverGuard {
    shared: &'static Shared,
    driver: Option<Driver>,
}

impl DriverGuard {
    fn get(&mut self) -> &mut Driver {
        self.driver.as_mut().expect("driver present until drop")
    }
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            self.shared.release_driver(driver);
        }
    }
}

/// Runs `f` with the driver, waiting for another `block_on` to let go of it
/// if need be: shutdown needs it.
pub(crate) fn with_driver<R>(shared: &'static Shared, f: impl FnOnce(&mut Driver) -> R) -> R {
    loop {
        if let Some(driver) = shared.take_driver() {
            let mut guard = DriverGuard {
                shared,
                driver: Some(driver),
            };
            return f(guard.get());
        }
        thread::park();
    }
}
