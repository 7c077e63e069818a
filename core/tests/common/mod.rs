//! Helpers shared by the integration tests: futures and outputs that count
//! every poll and every drop.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

/// Counters for one test.
#[derive(Default, Debug)]
pub struct Counts {
    pub polls: AtomicUsize,
    pub future_drops: AtomicUsize,
    pub output_drops: AtomicUsize,
}

impl Counts {
    pub fn new() -> Arc<Counts> {
        Arc::new(Counts::default())
    }
    pub fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }
    pub fn future_drops(&self) -> usize {
        self.future_drops.load(Ordering::SeqCst)
    }
    pub fn output_drops(&self) -> usize {
        self.output_drops.load(Ordering::SeqCst)
    }
}

/// An output that counts its drops.
#[derive(Debug)]
pub struct Output {
    pub value: u32,
    counts: Arc<Counts>,
}

impl Drop for Output {
    fn drop(&mut self) {
        self.counts.output_drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Where a `Counted` future's waker goes when it returns `Pending`.
#[derive(Default, Debug)]
pub struct WakerSlot(Mutex<Option<Waker>>);

impl WakerSlot {
    pub fn new() -> Arc<WakerSlot> {
        Arc::new(WakerSlot::default())
    }
    pub fn take(&self) -> Option<Waker> {
        self.0.lock().unwrap().take()
    }
    pub fn wake(&self) -> bool {
        match self.take() {
            Some(w) => {
                w.wake();
                true
            }
            None => false,
        }
    }
}

/// A future that is `Pending` `pending` times (storing its waker in `slot`
/// each time), then `Ready(Output)`. Counts polls and drops.
pub struct Counted {
    pub pending: usize,
    pub value: u32,
    pub counts: Arc<Counts>,
    pub slot: Option<Arc<WakerSlot>>,
    /// Wake itself before returning `Pending` (a busy task).
    pub self_wake: bool,
}

impl Counted {
    pub fn ready(value: u32, counts: &Arc<Counts>) -> Counted {
        Counted {
            pending: 0,
            value,
            counts: counts.clone(),
            slot: None,
            self_wake: false,
        }
    }
    pub fn pending(n: usize, value: u32, counts: &Arc<Counts>, slot: &Arc<WakerSlot>) -> Counted {
        Counted {
            pending: n,
            value,
            counts: counts.clone(),
            slot: Some(slot.clone()),
            self_wake: false,
        }
    }
    pub fn yielding(n: usize, value: u32, counts: &Arc<Counts>) -> Counted {
        Counted {
            pending: n,
            value,
            counts: counts.clone(),
            slot: None,
            self_wake: true,
        }
    }
}

impl Future for Counted {
    type Output = Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        self.counts.polls.fetch_add(1, Ordering::SeqCst);
        if self.pending == 0 {
            return Poll::Ready(Output {
                value: self.value,
                counts: self.counts.clone(),
            });
        }
        self.pending -= 1;
        if self.self_wake {
            cx.waker().wake_by_ref();
        }
        if let Some(slot) = &self.slot {
            *slot.0.lock().unwrap() = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.counts.future_drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `fut` once with a no-op waker.
pub fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(fut).poll(&mut cx)
}
