//! pollen-core on a microcontroller: a firmware image for QEMU's
//! `lm3s6965evb` (a Cortex-M3), with no heap and no allocator linked.
//!
//! - The platform glue an embedder writes for a chip, kept small: a
//!   [`Clock`] on SysTick (1 kHz), a [`Park`] that sleeps with WFE and is
//!   woken by interrupts (SEV), and the lock parameter filled with an
//!   interrupt-free critical section ([`CsRawMutex`]).
//! - Static tasks from a [`TaskArena`]: a "LED" blinking every 100 ms with an
//!   `Interval`; a task receiving what the SysTick interrupt sends into a
//!   static bounded channel; a `select!` against a timeout; a producer and a
//!   slower consumer over a static channel with backpressure.
//! - It prints what happens over semihosting and exits with status 0 when
//!   every check holds (a panic exits non-zero).
//!
//! Run it with `cargo run --release` in this folder (needs
//! `qemu-system-arm` and the `thumbv7m-none-eabi` target).

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use pollen_core::channel::mpsc;
use pollen_core::executor::{Executor, Park, ParkTimeout};
use pollen_core::future::pending;
use pollen_core::sync::RawMutex;
use pollen_core::sync::blocking_mutex::Mutex;
use pollen_core::task::TaskArena;
use pollen_core::time::{Clock, Timer, TimerPark};

// --- platform glue: what an embedder writes for a chip ---------------------

/// The lock for everything shared with interrupt handlers: interrupts off
/// while it is held (one core, so that excludes everyone).
pub struct CsRawMutex(());

// SAFETY: with interrupts disabled nothing else runs on this single-core
// chip until `f` returns, and the critical section's barriers order memory.
unsafe impl RawMutex for CsRawMutex {
    const INIT: Self = CsRawMutex(());

    fn lock<R>(&self, f: impl FnOnce() -> R) -> R {
        cortex_m::interrupt::free(|_| f())
    }
}

/// Milliseconds since boot, counted by the SysTick interrupt.
static TICKS: AtomicU32 = AtomicU32::new(0);

/// The clock: SysTick at 1 kHz. (The 32-bit count wraps after 49 days; a
/// long-running firmware extends it to 64 bits, as `Clock`'s docs show.)
pub struct SysTickClock;

impl Clock for SysTickClock {
    fn now_ticks(&self) -> u64 {
        u64::from(TICKS.load(Ordering::Acquire))
    }

    fn tick_nanos(&self) -> u64 {
        1_000_000
    }
}

/// Sleeps with WFE; interrupts (and SEV from a waker) end the sleep.
pub struct WfePark;

impl Park for WfePark {
    fn park(&self) {
        cortex_m::asm::wfe();
    }

    fn unpark(&self) {
        cortex_m::asm::sev();
    }
}

impl ParkTimeout for WfePark {
    fn park_timeout(&self, _timeout: Duration) {
        // SysTick interrupts every millisecond, and every interrupt ends a
        // WFE: that is never later than a deadline, which counts in ticks.
        cortex_m::asm::wfe();
    }
}

// --- the program -------------------------------------------------------------

static EXECUTOR: Executor = Executor::new();
static TIMER: Timer<SysTickClock, CsRawMutex> = Timer::new(SysTickClock);
static THREAD: WfePark = WfePark;
static PARK: TimerPark<SysTickClock, CsRawMutex, WfePark> = TimerPark::new(&TIMER, &THREAD);
static TASKS: TaskArena<512, 4> = TaskArena::new();

/// Filled by the SysTick interrupt, read by a task.
static FROM_IRQ: mpsc::Channel<u32, 4, CsRawMutex> = mpsc::Channel::with_raw_mutex();
static IRQ_SENDER: Mutex<CsRawMutex, Option<mpsc::Sender<'static, u32, CsRawMutex>>> =
    Mutex::new(None);
/// Between the producer and the slower consumer.
static WORK: mpsc::Channel<u32, 2, CsRawMutex> = mpsc::Channel::with_raw_mutex();

#[exception]
fn SysTick() {
    let now = TICKS.fetch_add(1, Ordering::AcqRel) + 1;
    TIMER.process();
    if now % 25 == 0 {
        IRQ_SENDER.lock(|tx| {
            if let Some(tx) = tx {
                // A full channel loses the sample: an interrupt never waits.
                let _ = tx.try_send(now);
            }
        });
    }
}

async fn blink() -> u32 {
    let mut every = TIMER.interval(Duration::from_millis(100));
    every.tick().await; // the first tick is at once
    let mut on = false;
    for _ in 0..5 {
        let at = every.tick().await;
        on = !on;
        hprintln!(
            "[{:>4} ms] led {}",
            at.as_millis(),
            if on { "on" } else { "off" }
        );
    }
    5
}

async fn from_interrupt(mut rx: mpsc::Receiver<'static, u32, CsRawMutex>) -> u32 {
    let mut got = 0;
    while got < 3 {
        let sent_at = rx.recv().await.expect("the interrupt's sender stays");
        hprintln!(
            "[{:>4} ms] the SysTick interrupt sent {}",
            TIMER.now().as_millis(),
            sent_at
        );
        assert_eq!(sent_at % 25, 0);
        got += 1;
    }
    got
}

async fn produce(tx: mpsc::Sender<'static, u32, CsRawMutex>) -> u32 {
    let mut waited = 0;
    for i in 1..=6 {
        if tx.try_send(i).is_err() {
            // Full: wait for the consumer (backpressure).
            hprintln!(
                "[{:>4} ms] producer: channel full, waiting to send {}",
                TIMER.now().as_millis(),
                i
            );
            waited += 1;
            tx.send(i).await.expect("the consumer stays");
        }
    }
    waited
}

async fn consume(mut rx: mpsc::Receiver<'static, u32, CsRawMutex>) -> u32 {
    let mut sum = 0;
    while let Some(v) = rx.recv().await {
        TIMER.sleep(Duration::from_millis(10)).await; // slower than the producer
        sum += v;
    }
    sum
}

#[entry]
fn main() -> ! {
    let mut core = cortex_m::Peripherals::take().expect("taken once");
    // QEMU runs the LM3S6965's core clock at 12 MHz: SysTick every 1 ms.
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(12_000 - 1);
    core.SYST.clear_current();
    core.SYST.enable_counter();
    core.SYST.enable_interrupt();

    hprintln!("pollen firmware: static tasks, SysTick timers, no heap");
    hprintln!(
        "static sizes: executor {} B, timer {} B, task arena {} B (4 x 512), channels {} B + {} B",
        core::mem::size_of_val(&EXECUTOR),
        core::mem::size_of_val(&TIMER),
        core::mem::size_of_val(&TASKS),
        core::mem::size_of_val(&FROM_IRQ),
        core::mem::size_of_val(&WORK)
    );
    let (irq_tx, irq_rx) = FROM_IRQ.split().expect("split once");
    IRQ_SENDER.lock(|tx| *tx = Some(irq_tx));
    let (work_tx, work_rx) = WORK.split().expect("split once");

    let blinker = TASKS.spawn(&EXECUTOR, blink()).expect("a free slot");
    let listener = TASKS
        .spawn(&EXECUTOR, from_interrupt(irq_rx))
        .expect("a free slot");
    let producer = TASKS
        .spawn(&EXECUTOR, produce(work_tx))
        .expect("a free slot");
    let consumer = TASKS
        .spawn(&EXECUTOR, consume(work_rx))
        .expect("a free slot");

    let (blinks, irqs, waited, sum, timed_out) = EXECUTOR.block_on(&PARK, async {
        // A select! against a timeout: nothing ever comes on `pending`.
        let selected = pollen_core::select! {
            () = pending::<()>() => false,
            () = TIMER.sleep(Duration::from_millis(30)) => true,
        };
        hprintln!(
            "[{:>4} ms] select!: the timeout won",
            TIMER.now().as_millis()
        );
        // And `timeout` around a future that never completes.
        let elapsed = TIMER
            .timeout(Duration::from_millis(20), pending::<()>())
            .await
            .is_err();
        hprintln!("[{:>4} ms] timeout: elapsed", TIMER.now().as_millis());
        let timed_out = selected && elapsed;
        (
            blinker.await.expect("blinker"),
            listener.await.expect("listener"),
            producer.await.expect("producer"),
            consumer.await.expect("consumer"),
            timed_out,
        )
    });

    hprintln!(
        "blinks {}, interrupt messages {}, producer waited {} times, sum {}",
        blinks,
        irqs,
        waited,
        sum
    );
    let ok = blinks == 5 && irqs == 3 && waited > 0 && sum == 21 && timed_out;
    hprintln!(
        "{}",
        if ok {
            "all checks passed"
        } else {
            "CHECK FAILED"
        }
    );
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfe();
    }
}
