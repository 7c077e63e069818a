//! Timer workloads: pollen's timer wheel (`pollen::time::Timer` on the OS
//! clock, driven by the core `Executor` through a `TimerPark`), tokio's
//! timer driver (current-thread runtime with `enable_time`) and smol's
//! timers (`async_io::Timer`, with a `LocalExecutor` driven by
//! `async_io::block_on`).
//!
//! # What is measured
//!
//! 1. **arm+fire**: `--timers N` (default 100 000) tasks are spawned, each
//!    with a delay drawn uniformly from 1–10 ms by a seeded RNG (the same
//!    delays, in the same spawn order, for every runtime). When a task first
//!    runs it takes `deadline = std::time::Instant::now() + delay`, sleeps
//!    until that deadline with its runtime's timer, then takes
//!    `std::time::Instant::now() - deadline` as its **lateness**. The run is
//!    timed from before the first spawn to when the last task has finished:
//!    wall time (`std::time::Instant`) and process CPU time (all threads,
//!    `CLOCK_PROCESS_CPUTIME_ID` via `cpu-time`), in ms per batch. The wall
//!    time is at least 10 ms by nature; what it adds on top is spawning,
//!    arming, firing and lateness. CPU time below wall time means the thread
//!    slept while waiting for deadlines, as it should.
//! 2. **arm+cancel**: `--cancels M` (default 1 000 000) times, a 1 s sleep is
//!    created, pinned, polled once (it must return `Pending`: armed) and
//!    dropped (cancelled): the common case of a timeout that did not fire.
//!    In ns per arm+cancel; the whole loop runs inside each runtime's
//!    `block_on`.
//! 3. **lateness** of every fired timer of the timed arm+fire runs, in an
//!    HDR histogram per runtime: p50, p99 and max, in µs. On a small
//!    machine 100 000 timers due within 10 ms are more than any of the
//!    runtimes can arm in time (arming alone takes longer than 10 ms), so
//!    the thread never sleeps, and most timers fall due while their task
//!    still waits behind the first polls of the others: that lateness is
//!    the backlog, a measure of throughput. So lateness is also measured
//!    **light**: `--light-timers` (default 1 000) timers with delays from
//!    the same distribution (the first of the same seeded sequence), run
//!    the same way; there it is the timer's precision: the OS wake-up and
//!    the runtime's rounding.
//!
//! How each runtime sleeps until the same `std::time::Instant`:
//!
//! - pollen: `TIMER.sleep_until(..)`, with the std deadline converted to
//!   pollen's clock through one pair of clock readings taken before the run,
//!   rounded so that it is never earlier than the std deadline (it may be up
//!   to about 1 µs later, plus pollen's own rounding up to its 1 µs tick).
//! - tokio: `tokio::time::sleep_until(deadline.into())`; tokio rounds
//!   deadlines up to its 1 ms tick, so its lateness includes up to 1 ms of
//!   rounding by design.
//! - smol: `async_io::Timer::at(deadline)`, nanosecond deadlines.
//!
//! Tasks are spawned from inside each runtime's `block_on` future and their
//! handles dropped (pollen: `drop(handle)`, tokio: `drop(JoinHandle)`,
//! smol: `Task::detach`); the future then waits for a latch the last task
//! opens. For arm+cancel, tokio's loop runs under
//! `tokio::task::unconstrained`: otherwise tokio's cooperative budget makes
//! every poll after the 128th return `Pending` without arming anything.
//!
//! # Checks (a broken runtime cannot post a fast figure)
//!
//! - arm+fire: every task finished, exactly once each (every lateness slot
//!   written once), and none woke before its deadline; pollen's wheel is
//!   empty afterwards.
//! - arm+cancel: the sleeps are polled with a waker that counts: after its
//!   poll each sleep must be `Pending` and hold a clone of the waker
//!   (registered); after the loop, once the runtime has processed what it
//!   queued, no clone is left (every timer deregistered) and the waker was
//!   never woken (none fired); pollen's wheel is empty.
//!
//! # How to read it, and caveats
//!
//! Ratios within one run are what to compare: the machine is shared and
//! noisy (2 cores here), so absolute figures move between runs and machines.
//! Lateness is mostly the operating system's doing: a sleeping thread is
//! woken by a kernel timer that is allowed `timerslack` (50 µs by default on
//! Linux) of slack, plus the scheduler's wake-up latency; a runtime that
//! rounds deadlines (tokio: 1 ms) adds its rounding. Lateness of timers that
//! fall due while the thread is still busy spawning and arming the other
//! tasks measures how often the runtime looks at its timers while busy.
//! arm+cancel includes each runtime's clock readings and waker clones (the
//! counting waker is `Arc`-based, like a real task's waker), so it is the
//! cost a task pays for a timeout that did not fire.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use cpu_time::ProcessTime;
use hdrhistogram::Histogram;
use pollen::executor::{Executor, StdPark};
use pollen::sync::StdRawMutex;
use pollen::time::{StdClock, Timer, TimerPark};
use serde::Serialize;

use crate::Rt;
use crate::harness::{self, Evict, WorkloadResult};

/// pollen's executor for the timer workloads.
static EXECUTOR: Executor = Executor::new();
/// pollen's timers on the OS clock (1 µs ticks), behind a std mutex.
static TIMER: Timer<StdClock, StdRawMutex> = Timer::new(StdClock::new());
/// Where the executor's thread sleeps.
static THREAD: StdPark = StdPark::new();
/// Fires due timers every executor round, and sleeps until the next one.
static PARK: TimerPark<StdClock, StdRawMutex, StdPark> = TimerPark::new(&TIMER, &THREAD);

/// The shortest delay of an arm+fire timer.
pub const MIN_DELAY: Duration = Duration::from_millis(1);
/// The longest delay of an arm+fire timer.
pub const MAX_DELAY: Duration = Duration::from_millis(10);
/// The seed of the arm+fire delays.
pub const SEED: u64 = 0x706f_6c6c_656e; // "pollen"
/// The delay of an arm+cancel sleep: far enough never to fire.
pub const CANCEL_AFTER: Duration = Duration::from_secs(1);

/// Lateness histograms record nanoseconds up to this (larger values are
/// clamped to it), with 3 significant digits.
const LATENESS_MAX_NS: u64 = 60_000_000_000;

/// The timer workloads' results.
#[derive(Debug, Serialize)]
pub struct TimerReport {
    /// Timers per arm+fire run.
    pub timers: u64,
    pub min_delay_ms: u64,
    pub max_delay_ms: u64,
    pub seed: u64,
    /// Arm+cancel operations per run.
    pub cancels: u64,
    pub cancel_after_ms: u64,
    /// Timed runs per workload and runtime.
    pub runs: u64,
    /// arm+fire wall and CPU time (ms per batch), arm+cancel (ns each).
    pub workloads: Vec<WorkloadResult>,
    /// The faster of tokio and smol at arm+cancel (by median), if both ran.
    pub arm_cancel_fastest_peer: Option<&'static str>,
    /// pollen's arm+cancel median over the faster peer's (target: <= 1).
    pub arm_cancel_pollen_over_fastest: Option<f64>,
    /// Lateness of every fired timer of the timed arm+fire runs, in µs.
    pub lateness_us: LatenessReport,
    /// Timers per light arm+fire run.
    pub light_timers: u64,
    /// Lateness of every fired timer of the timed light runs, in µs.
    pub light_lateness_us: LatenessReport,
}

/// Lateness per runtime (`None` for one left out with `--only`).
#[derive(Debug, Serialize)]
pub struct LatenessReport {
    pub pollen: Option<Lateness>,
    pub tokio_ct: Option<Lateness>,
    pub smol_local: Option<Lateness>,
}

impl LatenessReport {
    fn of(histograms: &[Histogram<u64>; 3]) -> LatenessReport {
        let [pollen, tokio_ct, smol_local] = histograms.each_ref().map(Lateness::of);
        LatenessReport {
            pollen,
            tokio_ct,
            smol_local,
        }
    }
}

/// One runtime's lateness distribution, in µs.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Lateness {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// How many fired timers were recorded.
    pub timers: u64,
}

impl Lateness {
    fn of(histogram: &Histogram<u64>) -> Option<Lateness> {
        if histogram.is_empty() {
            return None;
        }
        let us = |ns: u64| ns as f64 / 1_000.0;
        Some(Lateness {
            p50: us(histogram.value_at_quantile(0.50)),
            p99: us(histogram.value_at_quantile(0.99)),
            max: us(histogram.max()),
            timers: histogram.len(),
        })
    }
}

/// How many timers each workload uses.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Per arm+fire run.
    pub timers: usize,
    /// Per light arm+fire run.
    pub light_timers: usize,
    /// Per arm+cancel run.
    pub cancels: usize,
}

/// Runs the timer workloads on `runtimes`: warm-up, then `runs` interleaved
/// rounds of each.
pub fn run(sizes: Sizes, runtimes: &[Rt], runs: u64, evict: &mut Evict) -> TimerReport {
    let Sizes {
        timers,
        light_timers,
        cancels,
    } = sizes;
    let mut bench = TimerBench::new(sizes);
    let histograms = || -> [Histogram<u64>; 3] {
        std::array::from_fn(|_| {
            Histogram::new_with_bounds(1, LATENESS_MAX_NS, 3).expect("valid histogram bounds")
        })
    };

    let mut lateness = histograms();
    let fire = harness::rounds(runtimes, runs, evict, |rt, timed| {
        let sample = bench.arm_fire(rt, &bench.load);
        if timed {
            bench.load.record_lateness(&mut lateness[rt as usize]);
        }
        sample
    });
    let mut light_lateness = histograms();
    harness::rounds(runtimes, runs, evict, |rt, timed| {
        bench.arm_fire(rt, &bench.light);
        if timed {
            bench
                .light
                .record_lateness(&mut light_lateness[rt as usize]);
        }
    });
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let wall = fire
        .each_ref()
        .map(|s| s.iter().map(|s| ms(s.wall)).collect());
    let cpu = fire
        .each_ref()
        .map(|s| s.iter().map(|s| ms(s.cpu)).collect());

    let cancel = harness::rounds(runtimes, runs, evict, |rt, _timed| {
        bench.arm_cancel(rt).as_nanos() as f64 / cancels as f64
    });
    let cancel = WorkloadResult::new("arm+cancel", "ns/timer", cancel);
    let fastest = cancel.fastest_peer();
    let over_fastest = fastest.and_then(|(_, peer)| Some(cancel.pollen?.median / peer));

    TimerReport {
        timers: timers as u64,
        min_delay_ms: MIN_DELAY.as_millis() as u64,
        max_delay_ms: MAX_DELAY.as_millis() as u64,
        seed: SEED,
        cancels: cancels as u64,
        cancel_after_ms: CANCEL_AFTER.as_millis() as u64,
        runs,
        workloads: vec![
            WorkloadResult::new("arm+fire wall", "ms/batch", wall),
            WorkloadResult::new("arm+fire cpu", "ms/batch", cpu),
            cancel,
        ],
        arm_cancel_fastest_peer: fastest.map(|(name, _)| name),
        arm_cancel_pollen_over_fastest: over_fastest,
        lateness_us: LatenessReport::of(&lateness),
        light_timers: light_timers as u64,
        light_lateness_us: LatenessReport::of(&light_lateness),
    }
}

/// One arm+fire run's times.
#[derive(Clone, Copy, Debug)]
struct FireSample {
    wall: Duration,
    cpu: Duration,
}

/// The runtimes and buffers, built once, outside any timed region.
struct TimerBench {
    /// The arm+fire batch.
    load: FireBatch,
    /// The light arm+fire batch.
    light: FireBatch,
    cancels: usize,
    /// The counting waker the arm+cancel sleeps are polled with.
    probe: Arc<Probe>,
    waker: Waker,
    /// Current-thread, with its timer driver.
    tokio: tokio::runtime::Runtime,
    smol: LocalExecutor<'static>,
}

impl TimerBench {
    fn new(sizes: Sizes) -> TimerBench {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("building tokio's current-thread runtime");
        let probe = Arc::new(Probe::default());
        TimerBench {
            load: FireBatch::new(sizes.timers),
            light: FireBatch::new(sizes.light_timers),
            cancels: sizes.cancels,
            waker: Waker::from(Arc::clone(&probe)),
            probe,
            tokio,
            smol: LocalExecutor::new(),
        }
    }

    /// One arm+fire run of `batch` on `rt`. Panics if a timer did not fire
    /// exactly once or fired early.
    fn arm_fire(&self, rt: Rt, batch: &FireBatch) -> FireSample {
        let state = batch.state;
        state.reset();
        let delays = &batch.delays;
        // Untimed: the pairing of pollen's clock with std's.
        let anchor = Anchor::now();
        let start = Instant::now();
        let cpu = ProcessTime::now();
        match rt {
            Rt::Pollen => EXECUTOR.block_on(&PARK, async {
                for (i, &delay) in delays.iter().enumerate() {
                    drop(EXECUTOR.spawn(sleeper(state, i, delay, move |deadline| {
                        TIMER.sleep_until(anchor.to_pollen(deadline))
                    })));
                }
                state.all_done().await;
            }),
            Rt::Tokio => self.tokio.block_on(async {
                for (i, &delay) in delays.iter().enumerate() {
                    drop(tokio::spawn(sleeper(state, i, delay, |deadline| {
                        tokio::time::sleep_until(deadline.into())
                    })));
                }
                state.all_done().await;
            }),
            Rt::Smol => {
                let ex = &self.smol;
                async_io::block_on(ex.run(async {
                    for (i, &delay) in delays.iter().enumerate() {
                        ex.spawn(sleeper(state, i, delay, async_io::Timer::at))
                            .detach();
                    }
                    state.all_done().await;
                }));
            }
        }
        let sample = FireSample {
            wall: start.elapsed(),
            cpu: cpu.elapsed(),
        };
        state.check(rt);
        if rt == Rt::Pollen {
            assert_eq!(TIMER.next_deadline(), None, "pollen: timers left armed");
        }
        sample
    }

    /// One arm+cancel run on `rt`; returns the time of the whole loop.
    /// Panics if a sleep was not armed, not disarmed, or fired.
    fn arm_cancel(&mut self, rt: Rt) -> Duration {
        let n = self.cancels;
        let (probe, waker) = (&self.probe, &self.waker);
        let start = Instant::now();
        match rt {
            Rt::Pollen => EXECUTOR.block_on(&PARK, async {
                arm_cancel(n, probe, waker, || TIMER.sleep(CANCEL_AFTER));
            }),
            Rt::Tokio => self.tokio.block_on(tokio::task::unconstrained(async {
                arm_cancel(n, probe, waker, || tokio::time::sleep(CANCEL_AFTER));
            })),
            Rt::Smol => async_io::block_on(self.smol.run(async {
                arm_cancel(n, probe, waker, || async_io::Timer::after(CANCEL_AFTER));
            })),
        }
        let elapsed = start.elapsed();
        // Untimed: let the runtime finish what it queued, then check that
        // every timer let go of its waker and none fired.
        match rt {
            Rt::Pollen => {
                assert_eq!(TIMER.next_deadline(), None, "pollen: timers left armed");
            }
            Rt::Tokio => {}
            // async-io queues inserts and removals (each insert with a waker
            // clone) and applies them when its reactor next processes
            // timers, at the latest when this timer is due.
            Rt::Smol => {
                async_io::block_on(async_io::Timer::after(Duration::from_millis(1)));
            }
        }
        let clones = Arc::strong_count(&self.probe) - 2;
        assert_eq!(clones, 0, "{rt:?}: {clones} cancelled timers kept a waker");
        let woken = probe.woken.load(Ordering::Relaxed);
        assert_eq!(woken, 0, "{rt:?}: {woken} wake-ups from 1 s timers");
        elapsed
    }
}

/// An arm+fire batch: each task's delay, and what the tasks report to.
struct FireBatch {
    /// Each task's delay, in spawn order.
    delays: Vec<Duration>,
    /// Leaked once per process: the tasks of pollen and tokio must be
    /// `'static`, and a `&'static` costs them no reference count.
    state: &'static FireState,
}

impl FireBatch {
    /// `n` delays, the first `n` of the seeded sequence.
    fn new(n: usize) -> FireBatch {
        let mut rng = fastrand::Rng::with_seed(SEED);
        let (min, max) = (MIN_DELAY.as_nanos() as u64, MAX_DELAY.as_nanos() as u64);
        FireBatch {
            delays: (0..n)
                .map(|_| Duration::from_nanos(rng.u64(min..=max)))
                .collect(),
            state: Box::leak(Box::new(FireState::new(n))),
        }
    }

    /// Adds the last run's lateness to `histogram` (in ns).
    fn record_lateness(&self, histogram: &mut Histogram<u64>) {
        for slot in &self.state.lateness {
            histogram.saturating_record(slot.load(Ordering::Relaxed));
        }
    }
}

/// Creates, polls once and drops `n` sleeps made by `sleep`, checking after
/// each poll that the sleep is pending and holds a clone of `waker` (whose
/// `Arc` is `probe`'s).
fn arm_cancel<S: Future>(
    n: usize,
    probe: &Arc<Probe>,
    waker: &Waker,
    mut sleep: impl FnMut() -> S,
) {
    let mut cx = Context::from_waker(waker);
    for _ in 0..n {
        let mut sleep = pin!(sleep());
        let armed = sleep.as_mut().poll(&mut cx).is_pending();
        // `probe` itself and `waker` hold two counts; an armed timer holds
        // at least one more.
        assert!(
            armed && Arc::strong_count(probe) > 2,
            "a 1 s sleep was not armed by its first poll"
        );
    }
}

/// An arm+fire task: sleep until `delay` from its first poll, then report
/// how late it woke.
async fn sleeper<S: Future>(
    state: &'static FireState,
    i: usize,
    delay: Duration,
    sleep_until: impl FnOnce(Instant) -> S,
) {
    let deadline = Instant::now() + delay;
    sleep_until(deadline).await;
    let late = Instant::now().checked_duration_since(deadline);
    state.finish(i, late);
}

/// Maps a `std::time::Instant` to pollen's clock.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    std: Instant,
    pollen: pollen::time::Instant,
}

impl Anchor {
    /// Reads std's clock, then pollen's.
    fn now() -> Anchor {
        let std = Instant::now();
        let pollen = TIMER.now();
        Anchor { std, pollen }
    }

    /// A pollen instant at or after the std instant `deadline`. pollen's
    /// time at `self.std` is below `self.pollen + 1 µs`: it was read later,
    /// and `TIMER.now()` truncates to the clock's 1 µs tick.
    fn to_pollen(self, deadline: Instant) -> pollen::time::Instant {
        self.pollen + deadline.saturating_duration_since(self.std) + Duration::from_micros(1)
    }
}

/// What the arm+fire tasks report to: one lateness slot each, and a latch
/// the last one opens.
struct FireState {
    /// Task `i`'s lateness in ns; [`UNFIRED`] until it finishes,
    /// [`EARLY`] if it woke before its deadline.
    lateness: Box<[AtomicU64]>,
    /// Slots written more than once.
    repeats: AtomicUsize,
    /// Tasks not finished yet.
    remaining: AtomicUsize,
    /// The future waiting for `remaining` to reach 0.
    waiter: Mutex<Option<Waker>>,
}

/// A lateness slot whose task has not finished.
const UNFIRED: u64 = u64::MAX;
/// A lateness slot whose task woke before its deadline.
const EARLY: u64 = u64::MAX - 1;

impl FireState {
    fn new(n: usize) -> FireState {
        FireState {
            lateness: (0..n).map(|_| AtomicU64::new(UNFIRED)).collect(),
            repeats: AtomicUsize::new(0),
            remaining: AtomicUsize::new(n),
            waiter: Mutex::new(None),
        }
    }

    /// Ready for the next run.
    fn reset(&self) {
        for slot in &self.lateness {
            slot.store(UNFIRED, Ordering::Relaxed);
        }
        self.repeats.store(0, Ordering::Relaxed);
        self.remaining.store(self.lateness.len(), Ordering::Relaxed);
        *self.waiter() = None;
    }

    fn waiter(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        self.waiter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Task `i` woke `late` after its deadline (`None`: before it).
    fn finish(&self, i: usize, late: Option<Duration>) {
        let ns = late.map_or(EARLY, |late| {
            u64::try_from(late.as_nanos()).unwrap_or(EARLY - 1)
        });
        if self.lateness[i].swap(ns, Ordering::Relaxed) != UNFIRED {
            self.repeats.fetch_add(1, Ordering::Relaxed);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(waiter) = self.waiter().take() {
                waiter.wake();
            }
        }
    }

    /// Completes when every task has finished.
    async fn all_done(&self) {
        poll_fn(|cx| {
            if self.remaining.load(Ordering::Acquire) == 0 {
                return Poll::Ready(());
            }
            let mut waiter = self.waiter();
            if !waiter.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *waiter = Some(cx.waker().clone());
            }
            // Looked at again under the lock: the last task takes the
            // waker under it, after counting down.
            if self.remaining.load(Ordering::Acquire) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// Panics unless every task finished once, none early.
    fn check(&self, rt: Rt) {
        let mut unfired = 0;
        let mut early = 0;
        for slot in &self.lateness {
            match slot.load(Ordering::Relaxed) {
                UNFIRED => unfired += 1,
                EARLY => early += 1,
                _ => {}
            }
        }
        let n = self.lateness.len();
        assert_eq!(unfired, 0, "{rt:?}: {unfired} of {n} timers never fired");
        assert_eq!(early, 0, "{rt:?}: {early} of {n} timers fired early");
        let repeats = self.repeats.load(Ordering::Relaxed);
        assert_eq!(repeats, 0, "{rt:?}: {repeats} timers finished twice");
    }
}

/// A waker that counts its wake-ups; its clones are its `Arc`'s counts.
#[derive(Debug, Default)]
struct Probe {
    woken: AtomicUsize,
}

impl Wake for Probe {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.fetch_add(1, Ordering::Relaxed);
    }
}
