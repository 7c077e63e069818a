//! loom models of pollen-core's public API: spawning, joining, aborting and
//! static storage used from several threads at once. With `--cfg loom` every
//! interleaving is explored; without it each model runs once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pollen_core::executor::Executor;
use pollen_core::task::{SpawnError, TaskStorage};
use pollen_loom_tests::{model, thread};

/// A fresh executor for one model iteration (leaked under loom, a `static`
/// otherwise).
macro_rules! leak {
    ($ty:ty, $new:expr) => {{
        #[cfg(not(loom))]
        {
            static VALUE: $ty = $new;
            &VALUE
        }
        #[cfg(loom)]
        {
            let value: &'static $ty = Box::leak(Box::new($new));
            value
        }
    }};
}

fn drive_until(ex: &Executor, done: impl Fn() -> bool) {
    while !done() {
        if ex.tick() == 0 {
            thread::yield_now();
        }
    }
}

fn block_on<F: Future>(fut: F) -> F::Output {
    #[cfg(loom)]
    {
        loom::future::block_on(fut)
    }
    #[cfg(not(loom))]
    {
        let mut fut = std::pin::pin!(fut);
        loop {
            if let Poll::Ready(v) = fut
                .as_mut()
                .poll(&mut Context::from_waker(std::task::Waker::noop()))
            {
                return v;
            }
            std::thread::yield_now();
        }
    }
}

#[test]
fn spawn_from_another_thread_while_ticking() {
    model(|| {
        let ex = leak!(Executor, Executor::new());
        let spawner = ex.spawner();
        let t = thread::spawn(move || spawner.spawn(async { 7 }));
        let first = ex.spawn(async { 1 });
        ex.tick();
        let second = t.join().unwrap();
        drive_until(ex, || first.is_finished() && second.is_finished());
        assert_eq!(block_on(first).unwrap() + block_on(second).unwrap(), 8);
    });
}

#[test]
fn join_on_another_thread() {
    model(|| {
        let ex = leak!(Executor, Executor::new());
        let handle = ex.spawn(async {
            pollen_core::future::yield_now().await;
            5
        });
        let joiner = thread::spawn(move || block_on(handle).unwrap());
        ex.run_until_stalled();
        assert_eq!(joiner.join().unwrap(), 5);
    });
}

#[test]
fn abort_from_another_thread() {
    model(|| {
        let ex = leak!(Executor, Executor::new());
        let dropped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let guard = DropCount(dropped.clone());
        let handle = ex.spawn(async move {
            let _guard = guard;
            pollen_core::future::yield_now().await;
            1
        });
        let abort = handle.abort_handle();
        let t = thread::spawn(move || abort.abort());
        drive_until(ex, || handle.is_finished());
        t.join().unwrap();
        match block_on(handle) {
            Ok(v) => assert_eq!(v, 1),
            Err(e) => assert!(e.is_cancelled()),
        }
        assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 1);
    });
}

#[test]
fn storage_reuse_races_with_release() {
    model(|| {
        let ex = leak!(Executor, Executor::new());
        let storage = leak!(TaskStorage<Yield>, TaskStorage::new());
        let first = storage.spawn(ex, Yield(false)).unwrap();
        ex.run_until_stalled();
        // The handle is dropped on another thread while we try to reuse
        // the slot: we either see it busy or get it, never both tasks.
        let t = thread::spawn(move || drop(first));
        let second = match storage.spawn(ex, Yield(false)) {
            Ok(h) => Some(h),
            Err(SpawnError::Busy) => None,
            Err(e) => panic!("{e}"),
        };
        t.join().unwrap();
        let second = second.unwrap_or_else(|| {
            storage
                .spawn(ex, Yield(false))
                .expect("free after the drop")
        });
        ex.run_until_stalled();
        assert!(second.is_finished());
        drop(second);
        assert!(!storage.is_busy());
    });
}

/// `Pending` once (waking itself), then `Ready`.
struct Yield(bool);

impl Future for Yield {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

struct DropCount(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
