//! `Interval` on a virtual clock: the schedule and missed ticks.
#![cfg(feature = "std")]

mod future_support;
mod time_support;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::sync::Mutex as StdMutex;

use future_support::CountWaker;
use pollen_core::time::{Instant, Interval, ManualClock, MissedTickBehavior, Timer};
use time_support::{VirtualTimer, runtime};

const MS: fn(u64) -> Instant = Instant::from_millis;

#[test]
fn a_heartbeat_every_500ms_beats_six_times_during_a_3s_sleep() {
    let (ex, timer, park) = runtime!();
    static BEATS: StdMutex<Vec<u64>> = StdMutex::new(Vec::new());
    ex.block_on(park, async {
        let heartbeat = ex.spawn(async move {
            let mut every = timer.interval(Duration::from_millis(500));
            loop {
                every.tick().await;
                BEATS.lock().unwrap().push(timer.now().as_millis());
            }
        });
        let sleeper = ex.spawn(async move {
            timer.sleep(Duration::from_secs(3)).await;
            heartbeat.abort();
        });
        sleeper.await.unwrap();
    });
    let beats = BEATS.lock().unwrap();
    let before_3s: Vec<u64> = beats.iter().copied().filter(|&t| t < 3000).collect();
    assert_eq!(before_3s, [0, 500, 1000, 1500, 2000, 2500]);
    assert!(beats.len() <= 7, "nothing after the 3 s mark: {beats:?}");
    assert_eq!(timer.now(), MS(3000));
}

/// Polls `interval.tick()` once; `Some(scheduled)` if it completed.
fn try_tick(interval: &mut Interval) -> Option<Instant> {
    let (_, waker) = CountWaker::new();
    let mut tick = pin!(interval.tick());
    match tick.as_mut().poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(at) => Some(at),
        Poll::Pending => None,
    }
}

/// Ticks at 0, then the task is busy until 3.5 periods later: what comes
/// next under `behavior`, as (time of the tick() call, what it returned).
fn after_a_stall(behavior: MissedTickBehavior) -> Vec<(u64, Option<u64>)> {
    static TIMERS: [VirtualTimer; 3] = [
        Timer::new(ManualClock::new()),
        Timer::new(ManualClock::new()),
        Timer::new(ManualClock::new()),
    ];
    let timer = &TIMERS[behavior as usize];
    let mut every = timer.interval(Duration::from_millis(100));
    every.set_missed_tick_behavior(behavior);
    assert_eq!(try_tick(&mut every), Some(MS(0)));
    timer.clock().advance(Duration::from_millis(350));
    let mut seen = Vec::new();
    for _ in 0..4 {
        let now = timer.now().as_millis();
        seen.push((now, try_tick(&mut every).map(Instant::as_millis)));
    }
    // Then wait for the next tick on time.
    timer.clock().set(
        timer
            .next_deadline()
            .map_or(timer.now(), |d| d.max(timer.now())),
    );
    loop {
        let next = timer.now();
        if let Some(at) = try_tick(&mut every) {
            seen.push((next.as_millis(), Some(at.as_millis())));
            break;
        }
        let step = Duration::from_millis(10);
        timer.clock().advance(step);
    }
    seen
}

#[test]
fn burst_catches_up_on_missed_ticks() {
    assert_eq!(
        after_a_stall(MissedTickBehavior::Burst),
        [
            (350, Some(100)),
            (350, Some(200)),
            (350, Some(300)),
            (350, None),
            (400, Some(400))
        ]
    );
}

#[test]
fn delay_restarts_the_schedule_from_the_late_tick() {
    assert_eq!(
        after_a_stall(MissedTickBehavior::Delay),
        [
            (350, Some(100)),
            (350, None),
            (350, None),
            (350, None),
            (450, Some(450))
        ]
    );
}

#[test]
fn skip_jumps_to_the_next_tick_on_the_schedule() {
    assert_eq!(
        after_a_stall(MissedTickBehavior::Skip),
        [
            (350, Some(100)),
            (350, None),
            (350, None),
            (350, None),
            (400, Some(400))
        ]
    );
}

#[test]
fn a_dropped_tick_loses_nothing() {
    let (_, timer, _) = runtime!();
    let mut every = timer.interval_at(MS(50), Duration::from_millis(50));
    assert_eq!(try_tick(&mut every), None, "not yet");
    assert_eq!(timer.next_deadline(), None, "the dropped tick disarmed");
    timer.clock().advance(Duration::from_millis(50));
    assert_eq!(try_tick(&mut every), Some(MS(50)));
    assert_eq!(every.period(), Duration::from_millis(50));
    every.reset();
    assert_eq!(try_tick(&mut every), None);
    timer.clock().advance(Duration::from_millis(50));
    assert_eq!(try_tick(&mut every), Some(MS(100)));
    every.reset_immediately();
    assert_eq!(try_tick(&mut every), Some(MS(100)));
}

#[test]
#[should_panic(expected = "period must not be zero")]
fn a_zero_period_is_refused() {
    let (_, timer, _) = runtime!();
    let _ = timer.interval(Duration::ZERO);
}
