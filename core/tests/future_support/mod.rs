//! Helpers shared by the `future_*` tests: a counting waker, a `block_on`,
//! and futures and outputs that count their polls and drops.
#![allow(dead_code)] // each test file uses a different subset

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use core::task::{Context, Poll, Waker};
use std::sync::{Arc, Mutex};
use std::task::Wake;
use std::vec::Vec;

/// A waker that counts its wake-ups.
#[derive(Default)]
pub struct CountWaker {
    wakes: AtomicUsize,
}

impl CountWaker {
    pub fn new() -> (Arc<Self>, Waker) {
        let this = Arc::new(Self::default());
        let waker = Waker::from(this.clone());
        (this, waker)
    }

    pub fn wakes(&self) -> usize {
        self.wakes.load(SeqCst)
    }
}

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
    }
}

/// Polls `future` until it is ready; panics after 10 000 polls (a hang).
/// Returns the output and the number of polls.
pub fn block_on_counted<F: Future>(future: F) -> (F::Output, usize) {
    let (_, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut future = core::pin::pin!(future);
    for polls in 1..=10_000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return (output, polls);
        }
    }
    panic!("future still pending after 10 000 polls");
}

/// Polls `future` until it is ready; panics after 10 000 polls.
pub fn block_on<F: Future>(future: F) -> F::Output {
    block_on_counted(future).0
}

/// Polls once with the given waker.
pub fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

/// Counters shared by the [`CountFuture`]s and [`Tracked`] outputs of a test.
#[derive(Debug, Default)]
pub struct Stats {
    /// Polls, per future id.
    polls: Mutex<Vec<usize>>,
    /// Drops of futures, per future id.
    future_drops: Mutex<Vec<usize>>,
    /// Drops of outputs, per future id.
    output_drops: Mutex<Vec<usize>>,
    /// The ids of the futures in the order they were polled.
    order: Mutex<Vec<usize>>,
}

impl Stats {
    pub fn new(futures: usize) -> Arc<Self> {
        Arc::new(Self {
            polls: Mutex::new(vec![0; futures]),
            future_drops: Mutex::new(vec![0; futures]),
            output_drops: Mutex::new(vec![0; futures]),
            order: Mutex::new(Vec::new()),
        })
    }

    pub fn polls(&self) -> Vec<usize> {
        self.polls.lock().unwrap().clone()
    }

    pub fn future_drops(&self) -> Vec<usize> {
        self.future_drops.lock().unwrap().clone()
    }

    pub fn output_drops(&self) -> Vec<usize> {
        self.output_drops.lock().unwrap().clone()
    }

    /// Takes the poll order recorded so far.
    pub fn take_order(&self) -> Vec<usize> {
        core::mem::take(&mut *self.order.lock().unwrap())
    }
}

/// An output that records its drop.
#[derive(Debug)]
pub struct Tracked {
    pub id: usize,
    pub value: u32,
    stats: Arc<Stats>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.stats.output_drops.lock().unwrap()[self.id] += 1;
    }
}

/// A future that is ready on its `ready_on`-th poll (waking itself on every
/// earlier one), with a [`Tracked`] output; `ready_on == 0` means never.
/// Records every poll and its drop, and panics if polled after completion.
pub struct CountFuture {
    id: usize,
    ready_on: usize,
    value: u32,
    polls: usize,
    done: bool,
    stats: Arc<Stats>,
}

impl CountFuture {
    pub fn new(stats: &Arc<Stats>, id: usize, ready_on: usize, value: u32) -> Self {
        Self {
            id,
            ready_on,
            value,
            polls: 0,
            done: false,
            stats: stats.clone(),
        }
    }
}

impl Future for CountFuture {
    type Output = Tracked;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Tracked> {
        let this = self.get_mut();
        assert!(
            !this.done,
            "CountFuture {} polled after completion",
            this.id
        );
        this.polls += 1;
        this.stats.polls.lock().unwrap()[this.id] += 1;
        this.stats.order.lock().unwrap().push(this.id);
        if this.polls == this.ready_on {
            this.done = true;
            Poll::Ready(Tracked {
                id: this.id,
                value: this.value,
                stats: this.stats.clone(),
            })
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl Drop for CountFuture {
    fn drop(&mut self) {
        self.stats.future_drops.lock().unwrap()[self.id] += 1;
    }
}
