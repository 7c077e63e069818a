//! An embedder's view of pollen-core: static tasks, no heap, a hand-written
//! park and clock, and a loop that drives the executor with `tick()`.
//!
//! This runs on a desktop, but it is laid out like firmware: a background
//! thread plays the hardware timer interrupt (it bumps a tick counter, fires
//! the timers that are due, and unparks the main loop, like SEV after an
//! interrupt), and `park` spins the way WFE would sleep. The `Clock` reads
//! the tick counter, as one on SysTick would. A counting global allocator
//! checks that spawning, waking, running tasks and arming timers never
//! touches the heap.
//!
//! Run it with `cargo run -p pollen-core --example no_heap`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use atomic_waker::AtomicWaker;
use pollen_core::executor::{Executor, Park};
use pollen_core::sync::SpinRawMutex;
use pollen_core::task::TaskArena;
use pollen_core::time::{Clock, Timer};

// --- platform glue: what an embedder writes ---------------------------------

/// Counts heap allocations, to show the executor makes none.
struct CountingAlloc;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// The park a firmware writes: sleep until an interrupt signals an event.
/// Here `park` spins on a flag (WFE) and `unpark` sets it (SEV).
struct EventPark {
    event: AtomicBool,
}

impl Park for EventPark {
    fn park(&self) {
        while !self.event.swap(false, Ordering::Acquire) {
            std::hint::spin_loop();
        }
    }
    fn unpark(&self) {
        self.event.store(true, Ordering::Release);
    }
}

static PARK: EventPark = EventPark {
    event: AtomicBool::new(false),
};

/// The "hardware timer": a counter the interrupt bumps every 10 ms.
static TICKS: AtomicU32 = AtomicU32::new(0);
static STOP_TIMER: AtomicBool = AtomicBool::new(false);

/// The clock a firmware writes on its tick counter. (A 32-bit counter
/// wraps; at 10 ms a tick that is after 497 days, so a real one extends it
/// to 64 bits, as the `Clock` docs show.)
struct SysTick;

impl Clock for SysTick {
    fn now_ticks(&self) -> u64 {
        u64::from(TICKS.load(Ordering::Acquire))
    }
    fn tick_nanos(&self) -> u64 {
        10_000_000
    }
}

/// The timers, on that clock. The lock: a spin lock, right here where the
/// "interrupt" is another thread; on a single-core chip it would be an
/// interrupt-free critical section (see `pollen_core::sync::RawMutex`).
static TIMER: Timer<SysTick, SpinRawMutex> = Timer::new(SysTick);

/// The timer interrupt handler: count, fire what is due, signal the core.
fn timer_interrupt() {
    TICKS.fetch_add(1, Ordering::Release);
    TIMER.process();
    PARK.unpark();
}

/// A one-slot mailbox in a `static`: the producer waits while it is full,
/// the consumer while it is empty.
struct Mailbox {
    value: AtomicU32,
    full: AtomicBool,
    to_producer: AtomicWaker,
    to_consumer: AtomicWaker,
}

static MAILBOX: Mailbox = Mailbox {
    value: AtomicU32::new(0),
    full: AtomicBool::new(false),
    to_producer: AtomicWaker::new(),
    to_consumer: AtomicWaker::new(),
};

impl Mailbox {
    async fn send(&'static self, v: u32) {
        std::future::poll_fn(|cx| {
            self.to_producer.register(cx.waker());
            if self.full.load(Ordering::Acquire) {
                return Poll::Pending;
            }
            self.value.store(v, Ordering::Relaxed);
            self.full.store(true, Ordering::Release);
            self.to_consumer.wake();
            Poll::Ready(())
        })
        .await
    }

    async fn recv(&'static self) -> u32 {
        std::future::poll_fn(|cx| {
            self.to_consumer.register(cx.waker());
            if !self.full.load(Ordering::Acquire) {
                return Poll::Pending;
            }
            let v = self.value.load(Ordering::Relaxed);
            self.full.store(false, Ordering::Release);
            self.to_producer.wake();
            Poll::Ready(v)
        })
        .await
    }
}

// --- the program ---------------------------------------------------------------

static EXECUTOR: Executor = Executor::new();
/// Room for three tasks of any type up to 512 bytes each: no heap.
static TASKS: TaskArena<512, 3> = TaskArena::new();

/// Toggles the "LED" every 50 ms, `times` times.
async fn blink(times: u32) -> u32 {
    let mut every = TIMER.interval(Duration::from_millis(50));
    every.tick().await; // the first tick is at once
    let mut on = false;
    for _ in 0..times {
        let at = every.tick().await;
        on = !on;
        println!(
            "[{:>3} ms] led {}",
            at.as_millis(),
            if on { "on" } else { "off" }
        );
    }
    times
}

async fn produce(n: u32) {
    for i in 1..=n {
        MAILBOX.send(i * i).await;
    }
    MAILBOX.send(0).await; // end of stream
}

async fn consume() -> u32 {
    let mut sum = 0;
    loop {
        // A producer that stalls for a second is a bug: give up then.
        let received = TIMER.timeout(Duration::from_secs(1), MAILBOX.recv()).await;
        match received.expect("the producer stalled") {
            0 => return sum,
            v => {
                println!("consumer got {v}");
                sum += v;
            }
        }
    }
}

fn main() {
    println!(
        "pollen-core no-heap example: 3 static tasks, timers on a tick counter, a hand-written park"
    );
    let timer = std::thread::spawn(|| {
        while !STOP_TIMER.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(10));
            timer_interrupt();
        }
    });

    let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
    let blinker = TASKS.spawn(&EXECUTOR, blink(4)).expect("a free slot");
    let producer = TASKS.spawn(&EXECUTOR, produce(5)).expect("a free slot");
    let consumer = TASKS.spawn(&EXECUTOR, consume()).expect("a free slot");
    assert!(
        TASKS.spawn(&EXECUTOR, consume()).is_err(),
        "the arena holds three tasks"
    );

    // The embedder's loop: run a batch, and sleep when nothing is runnable.
    // A wake-up from the interrupt also unparks, so none is lost between
    // `tick` returning 0 and `park`.
    let mut ticks = 0u32;
    while !(blinker.is_finished() && producer.is_finished() && consumer.is_finished()) {
        ticks += 1;
        if EXECUTOR.tick() == 0 {
            PARK.park();
        }
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;

    STOP_TIMER.store(true, Ordering::Release);
    timer.join().expect("timer thread");

    let blinks = EXECUTOR.block_on(&PARK, blinker).expect("blinker finished");
    let sum = EXECUTOR
        .block_on(&PARK, consumer)
        .expect("consumer finished");
    drop(producer);
    println!("blinked {blinks} times; consumer sum {sum}; {ticks} executor loop turns");
    println!("heap allocations while spawning and running tasks: {allocations}");
    assert_eq!(sum, 1 + 4 + 9 + 16 + 25);
    assert_eq!(blinks, 4);
    assert!(TIMER.now().as_millis() >= 200, "four blinks take 200 ms");
    // A slot is free once its task finished and every handle to it is gone.
    // The statics above still hold the last wakers they were given; a
    // driver clears them when it is done with its waiters.
    println!(
        "slots busy while wakers are kept in statics: {}",
        TASKS.busy()
    );
    drop((MAILBOX.to_producer.take(), MAILBOX.to_consumer.take()));
    assert_eq!(TASKS.busy(), 0, "every slot is free again");
    let again = TASKS.spawn(&EXECUTOR, blink(0)).expect("a reused slot");
    EXECUTOR.run_until_stalled();
    assert_eq!(EXECUTOR.block_on(&PARK, again).expect("finished"), 0);
    println!("slots reused: ok");
    assert_eq!(allocations, 0, "the executor allocated");
}
