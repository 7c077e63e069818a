//! Models of the timer: firing racing cancellation, waker replacement and
//! arming from other threads. Under `--cfg loom` each explores all
//! interleavings of our atomics and the wheel's lock; otherwise it runs
//! once as a plain test (and under Miri).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::task::Wake;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use super::{Instant, ManualClock, Sleep, Timer};
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::loom::{model, thread};
use crate::loom_test_slot::BlockingRawMutex;

type TestTimer = Timer<ManualClock, BlockingRawMutex>;

/// A fresh timer for one model iteration (`Sleep` needs `'static`).
macro_rules! timer {
    () => {
        model_static!(TestTimer, Timer::new(ManualClock::new()))
    };
}

#[derive(Default)]
struct CountingWaker {
    wakes: AtomicUsize,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let count = Arc::new(CountingWaker::default());
    let waker = Waker::from(count.clone());
    (count, waker)
}

fn poll(sleep: &mut Pin<Box<Sleep>>, waker: &Waker) -> Poll<()> {
    sleep.as_mut().poll(&mut Context::from_waker(waker))
}

#[test]
fn timer_cancelled_while_it_fires() {
    model(|| {
        let timer = timer!();
        let (count, waker) = counting_waker();
        let mut sleep = Box::pin(timer.sleep(Duration::from_millis(1)));
        assert!(poll(&mut sleep, &waker).is_pending());
        timer.clock().advance(Duration::from_millis(1));
        let firer = thread::spawn(move || timer.process());
        // Dropping unlinks the entry under the lock, before or after the
        // firer took it out: never both, never a dangling pointer.
        drop(sleep);
        let fired = firer.join().unwrap();
        assert!(fired <= 1);
        assert_eq!(count.wakes.load(Ordering::SeqCst), fired);
        assert_eq!(timer.next_deadline(), None);
        assert_eq!(timer.process(), 0);
    });
}

#[test]
fn waker_replaced_while_the_timer_fires() {
    model(|| {
        let timer = timer!();
        let (first, first_waker) = counting_waker();
        let (second, second_waker) = counting_waker();
        let mut sleep = Box::pin(timer.sleep(Duration::from_millis(1)));
        assert!(poll(&mut sleep, &first_waker).is_pending());
        timer.clock().advance(Duration::from_millis(1));
        let firer = thread::spawn(move || timer.process());
        // The task polls again with a new waker while the timer fires: it
        // sees the timer done, or the new waker is woken.
        let ready = poll(&mut sleep, &second_waker).is_ready();
        assert_eq!(firer.join().unwrap(), 1);
        if !ready {
            assert_eq!(second.wakes.load(Ordering::SeqCst), 1, "lost wake-up");
            assert!(poll(&mut sleep, &second_waker).is_ready());
        }
        assert!(first.wakes.load(Ordering::SeqCst) + second.wakes.load(Ordering::SeqCst) <= 1);
    });
}

#[test]
fn two_threads_arm_while_a_third_advances() {
    model(|| {
        let timer = timer!();
        let arm = move || {
            let (count, waker) = counting_waker();
            let mut sleep = Box::pin(timer.sleep_until(Instant::from_millis(1)));
            let first = poll(&mut sleep, &waker);
            (sleep, count, waker, first)
        };
        let a = thread::spawn(arm);
        let b = thread::spawn(arm);
        // Time reaches the deadline and the timer fires while both arm:
        // each is armed before the fire (and woken by it), or after it (and
        // fired by the next `process`), or sees the time passed and is
        // ready at once. None is lost or woken twice.
        timer.clock().advance(Duration::from_millis(1));
        timer.process();
        let armed = [a.join().unwrap(), b.join().unwrap()];
        timer.process();
        for (mut sleep, count, waker, first) in armed {
            let wakes = count.wakes.load(Ordering::SeqCst);
            if first.is_pending() {
                assert_eq!(wakes, 1, "lost or doubled wake-up");
            } else {
                assert_eq!(wakes, 0);
            }
            assert!(poll(&mut sleep, &waker).is_ready());
        }
        assert_eq!(timer.next_deadline(), None);
    });
}
