//! `Sleep` on a virtual clock: deadlines, ordering, cancellation, wakers.
#![cfg(feature = "std")]

mod future_support;
mod time_support;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::sync::Mutex as StdMutex;

use future_support::CountWaker;
use pollen_core::executor::{Executor, StdPark};
use pollen_core::sync::SpinRawMutex;
use pollen_core::time::{Instant, ManualClock, Timer, TimerPark};
use time_support::runtime;

#[test]
fn three_sleepers_finish_in_deadline_order_in_three_virtual_seconds() {
    let (ex, timer, park) = runtime!();
    static LOG: StdMutex<Vec<(char, u64)>> = StdMutex::new(Vec::new());
    ex.block_on(park, async {
        let mut handles = Vec::new();
        for (name, secs) in [('C', 3), ('A', 1), ('B', 2)] {
            handles.push(ex.spawn(async move {
                timer.sleep(Duration::from_secs(secs)).await;
                LOG.lock().unwrap().push((name, timer.now().as_millis()));
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(
        *LOG.lock().unwrap(),
        [('A', 1000), ('B', 2000), ('C', 3000)],
        "concurrent sleeps: 3 s in all, not 6"
    );
    assert_eq!(timer.now(), Instant::from_millis(3000));
}

#[test]
fn the_deadline_is_fixed_when_the_sleep_is_made() {
    let (_, timer, _) = runtime!();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let sleep = timer.sleep(Duration::from_millis(10));
    assert_eq!(sleep.deadline(), Instant::from_millis(10));
    timer.clock().advance(Duration::from_millis(4));
    let mut sleep = pin!(sleep);
    assert!(sleep.as_mut().poll(&mut cx).is_pending());
    timer.clock().advance(Duration::from_millis(5));
    assert_eq!(timer.process(), 0, "not due at 9 ms");
    assert!(sleep.as_mut().poll(&mut cx).is_pending());
    timer.clock().advance(Duration::from_millis(1));
    assert_eq!(timer.process(), 1);
    assert_eq!(counter.wakes(), 1);
    assert!(sleep.is_elapsed());
    assert_eq!(sleep.as_mut().poll(&mut cx), Poll::Ready(()));
}

#[test]
fn a_past_deadline_is_ready_at_the_first_poll_without_arming() {
    let (_, timer, _) = runtime!();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    timer.clock().advance(Duration::from_secs(1));
    let mut zero = pin!(timer.sleep(Duration::ZERO));
    assert_eq!(zero.as_mut().poll(&mut cx), Poll::Ready(()));
    let mut past = pin!(timer.sleep_until(Instant::from_millis(500)));
    assert_eq!(past.as_mut().poll(&mut cx), Poll::Ready(()));
    assert_eq!(timer.next_deadline(), None, "nothing armed");
    assert_eq!(counter.wakes(), 0);
}

#[test]
fn dropping_a_sleep_disarms_it() {
    let (_, timer, _) = runtime!();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    {
        let mut sleep = pin!(timer.sleep(Duration::from_millis(3)));
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        // Never later than the deadline (earlier while the timer sits in a
        // coarse wheel slot).
        let next = timer.next_deadline().expect("armed");
        assert!(next <= Instant::from_millis(3), "{next:?}");
    }
    assert_eq!(timer.next_deadline(), None);
    timer.clock().advance(Duration::from_millis(3));
    assert_eq!(timer.process(), 0);
    assert_eq!(counter.wakes(), 0);
}

#[test]
fn the_last_waker_registered_is_the_one_woken() {
    let (_, timer, _) = runtime!();
    let (first, first_waker) = CountWaker::new();
    let (second, second_waker) = CountWaker::new();
    let mut sleep = pin!(timer.sleep(Duration::from_millis(1)));
    assert!(
        sleep
            .as_mut()
            .poll(&mut Context::from_waker(&first_waker))
            .is_pending()
    );
    // The task moved to another worker: it polls with another waker.
    assert!(
        sleep
            .as_mut()
            .poll(&mut Context::from_waker(&second_waker))
            .is_pending()
    );
    timer.clock().advance(Duration::from_millis(1));
    assert_eq!(timer.process(), 1);
    assert_eq!((first.wakes(), second.wakes()), (0, 1));
}

#[test]
fn reset_moves_the_deadline_even_after_completion() {
    let (_, timer, _) = runtime!();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut sleep = pin!(timer.sleep(Duration::from_millis(5)));
    assert!(sleep.as_mut().poll(&mut cx).is_pending());
    sleep.as_mut().reset(Instant::from_millis(8));
    assert_eq!(timer.next_deadline(), None, "disarmed until polled");
    assert!(sleep.as_mut().poll(&mut cx).is_pending());
    timer.clock().advance(Duration::from_millis(5));
    assert_eq!(timer.process(), 0, "the old deadline is gone");
    timer.clock().advance(Duration::from_millis(3));
    assert_eq!(timer.process(), 1);
    assert!(sleep.as_mut().poll(&mut cx).is_ready());
    sleep.as_mut().reset(Instant::from_millis(20));
    assert!(!sleep.is_elapsed());
    assert!(sleep.as_mut().poll(&mut cx).is_pending());
    timer.clock().advance(Duration::from_millis(12));
    assert_eq!(timer.process(), 1);
    assert!(sleep.as_mut().poll(&mut cx).is_ready());
    assert_eq!(counter.wakes(), 2);
}

#[test]
fn timers_due_together_each_wake_their_task_once() {
    let (_, timer, _) = runtime!();
    let wakers: Vec<_> = (0..100).map(|_| CountWaker::new()).collect();
    // More than one firing batch, with a spread of deadlines that end up in
    // the same tick.
    let mut sleeps: Vec<_> = (0..100u64)
        .map(|i| Box::pin(timer.sleep(Duration::from_micros(900 + i % 100))))
        .collect();
    for (sleep, (_, waker)) in sleeps.iter_mut().zip(&wakers) {
        assert!(
            sleep
                .as_mut()
                .poll(&mut Context::from_waker(waker))
                .is_pending()
        );
    }
    timer.clock().advance(Duration::from_millis(1));
    assert_eq!(timer.process(), 100);
    assert_eq!(timer.process(), 0);
    for (sleep, (counter, waker)) in sleeps.iter_mut().zip(&wakers) {
        assert_eq!(counter.wakes(), 1);
        assert!(
            sleep
                .as_mut()
                .poll(&mut Context::from_waker(waker))
                .is_ready()
        );
    }
}

#[test]
fn a_thirty_day_sleep_fires_on_time() {
    // 30 days is far past one rotation of the wheel's top level (2^36 µs,
    // about 19 hours): the timer goes round and still fires exactly on time.
    let (ex, timer, park) = runtime!();
    let month = Duration::from_secs(30 * 24 * 3600);
    let woke_at = ex.block_on(park, async {
        timer.sleep(month).await;
        timer.now()
    });
    assert_eq!(woke_at, Instant::ZERO + month);
}

#[test]
fn a_busy_executor_still_fires_timers() {
    // A task that never lets the executor go idle: the park's per-round
    // turn fires the timer anyway.
    let (ex, timer, park) = runtime!();
    timer.clock().set_auto_advance(false);
    let rounds = ex.block_on(park, async {
        let sleeper = ex.spawn(timer.sleep(Duration::from_millis(1)));
        let mut rounds = 0;
        while !sleeper.is_finished() {
            timer.clock().advance(Duration::from_micros(100));
            pollen_core::future::yield_now().await;
            rounds += 1;
            assert!(rounds < 100, "the timer never fired");
        }
        rounds
    });
    assert!((10..=12).contains(&rounds), "{rounds} rounds");
}

#[test]
fn without_auto_advance_the_park_sleeps_until_time_moves() {
    let (ex, timer, park) = runtime!();
    timer.clock().set_auto_advance(false);
    let mover = std::thread::spawn(move || {
        // Time moves from outside; the parked executor wakes on its own
        // once the deadline is near (a 1 µs real timeout per virtual tick
        // is not involved: `park_timeout` is given the virtual distance).
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(1));
            timer.clock().advance(Duration::from_millis(1));
        }
    });
    ex.block_on(park, timer.sleep(Duration::from_millis(20)));
    assert!(timer.now() >= Instant::from_millis(20));
    mover.join().unwrap();
}

#[test]
fn a_paused_clock_jumps_while_idle_and_resumes_from_there() {
    use pollen_core::time::{Clock, PausableClock};

    type Paused = PausableClock<ManualClock>;
    static EX: Executor = Executor::new();
    static TIMER: Timer<Paused, SpinRawMutex> = Timer::new(PausableClock::new(ManualClock::new()));
    static THREAD: StdPark = StdPark::new();
    static PARK: TimerPark<Paused, SpinRawMutex, StdPark> = TimerPark::new(&TIMER, &THREAD);
    let clock = TIMER.clock();
    // The inner clock stands for real time: it moves only when we say.
    clock.inner().set_auto_advance(false);
    clock.inner().advance(Duration::from_millis(7));
    clock.pause();
    assert!(clock.is_paused());
    let hour = Duration::from_secs(3600);
    EX.block_on(&PARK, TIMER.sleep(hour));
    assert_eq!(
        TIMER.now(),
        Instant::from_millis(7) + hour,
        "jumped, exactly"
    );
    assert_eq!(
        clock.inner().now(),
        Instant::from_millis(7),
        "no real time passed"
    );
    clock.resume();
    clock.inner().advance(Duration::from_millis(2));
    assert_eq!(TIMER.now(), Instant::from_millis(9) + hour);
    let advanced = std::panic::catch_unwind(|| clock.advance(Duration::from_secs(1)));
    assert!(advanced.is_err(), "a running clock cannot be moved");
}
