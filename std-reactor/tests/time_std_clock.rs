//! Timers on the real clock: never early, each fired once.

use std::time::{Duration, Instant as StdInstant};

use pollen::executor::{Executor, StdPark};
use pollen::sync::StdRawMutex;
use pollen::time::{Clock, StdClock, Timer, TimerPark};

static EXECUTOR: Executor = Executor::new();
static TIMER: Timer<StdClock, StdRawMutex> = Timer::new(StdClock::new());
static THREAD: StdPark = StdPark::new();
static PARK: TimerPark<StdClock, StdRawMutex, StdPark> = TimerPark::new(&TIMER, &THREAD);

#[test]
fn sleeps_on_the_real_clock_are_never_early() {
    let clock = StdClock::new();
    let first = clock.now();
    std::thread::sleep(Duration::from_millis(2));
    assert!(clock.now() >= first + Duration::from_millis(2));
    assert_eq!(clock.tick_nanos(), 1_000);

    EXECUTOR.block_on(&PARK, async {
        let mut handles = Vec::new();
        for i in 0..20u64 {
            let wanted = Duration::from_micros(300 * (i % 7) + 50 * i);
            handles.push(EXECUTOR.spawn(async move {
                let start = StdInstant::now();
                TIMER.sleep(wanted).await;
                (wanted, start.elapsed())
            }));
        }
        for handle in handles {
            let (wanted, slept) = handle.await.unwrap();
            assert!(slept >= wanted, "woke after {slept:?}, asked {wanted:?}");
        }
    });
    assert_eq!(TIMER.next_deadline(), None);
}
