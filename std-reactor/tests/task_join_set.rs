//! `JoinSet`: results in the order tasks finish, errors, aborts, drops, and
//! both runtime flavours.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pollen::runtime::{Builder, Runtime};
use pollen::task::JoinSet;
use pollen::time::sleep;

fn paused() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Counts its drops.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn results_come_back_in_the_order_the_tasks_finish() {
    paused().block_on(async {
        let mut set = JoinSet::new();
        for ms in [50u64, 10, 40, 20, 30] {
            set.spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                ms
            });
        }
        assert_eq!(set.len(), 5);
        let mut order = Vec::new();
        while let Some(result) = set.join_next().await {
            order.push(result.unwrap());
        }
        assert_eq!(order, [10, 20, 30, 40, 50]);
        assert!(set.is_empty());
        assert!(set.join_next().await.is_none(), "empty: None at once");
    });
}

#[test]
fn a_panicking_task_is_an_error_and_the_others_still_come_back() {
    paused().block_on(async {
        let mut set = JoinSet::new();
        set.spawn(async { 1 });
        set.spawn(async { panic!("deliberate") });
        set.spawn(async {
            sleep(Duration::from_millis(5)).await;
            3
        });
        let mut outputs = Vec::new();
        let mut panics = 0;
        while let Some(result) = set.join_next().await {
            match result {
                Ok(v) => outputs.push(v),
                Err(e) => {
                    assert!(e.is_panic());
                    panics += 1;
                }
            }
        }
        outputs.sort_unstable();
        assert_eq!((outputs, panics), (vec![1, 3], 1));
    });
}

#[test]
fn abort_all_cancels_and_dropping_the_set_drops_every_task() {
    let drops = Arc::new(AtomicUsize::new(0));
    paused().block_on({
        let drops = drops.clone();
        async move {
            let mut set = JoinSet::new();
            for _ in 0..3 {
                let held = Dropped(drops.clone());
                set.spawn(async move {
                    let _held = held;
                    std::future::pending::<()>().await;
                });
            }
            set.abort_all();
            let mut cancelled = 0;
            while let Some(result) = set.join_next().await {
                assert!(result.unwrap_err().is_cancelled());
                cancelled += 1;
            }
            assert_eq!(cancelled, 3);
            assert_eq!(drops.load(Ordering::SeqCst), 3);

            // A set dropped with tasks in it aborts them.
            let mut set = JoinSet::new();
            for _ in 0..2 {
                let held = Dropped(drops.clone());
                set.spawn(async move {
                    let _held = held;
                    std::future::pending::<()>().await;
                });
            }
            pollen::task::yield_now().await;
            drop(set);
            // The aborted tasks are dropped when the runtime next runs them.
            sleep(Duration::from_millis(1)).await;
        }
    });
    assert_eq!(drops.load(Ordering::SeqCst), 5);
}

#[test]
fn try_join_next_takes_only_what_has_finished() {
    paused().block_on(async {
        let mut set = JoinSet::new();
        set.spawn(async {
            sleep(Duration::from_millis(10)).await;
            "late"
        });
        set.spawn(async { "early" });
        assert!(set.try_join_next().is_none(), "nothing has run yet");
        pollen::task::yield_now().await;
        assert_eq!(set.try_join_next().map(Result::unwrap), Some("early"));
        assert!(set.try_join_next().is_none());
        sleep(Duration::from_millis(20)).await;
        assert_eq!(set.try_join_next().map(Result::unwrap), Some("late"));
        assert!(set.is_empty());
    });
}

#[test]
fn join_all_and_detach_all() {
    paused().block_on(async {
        let mut set = JoinSet::new();
        for i in 0..10u32 {
            set.spawn(async move { i * i });
        }
        let mut squares = set.join_all().await;
        squares.sort_unstable();
        assert_eq!(squares, (0..10).map(|i| i * i).collect::<Vec<_>>());

        let finished = Arc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        for _ in 0..3 {
            let finished = finished.clone();
            set.spawn(async move {
                sleep(Duration::from_millis(5)).await;
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        set.detach_all();
        assert!(set.is_empty());
        drop(set);
        sleep(Duration::from_millis(10)).await;
        assert_eq!(finished.load(Ordering::SeqCst), 3, "detached tasks ran on");
    });
}

#[test]
fn join_all_passes_a_panic_on() {
    let caught = std::panic::catch_unwind(|| {
        paused().block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async { panic!("from the task") });
            set.join_all().await
        })
    });
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"from the task"));
}

#[test]
fn local_and_blocking_tasks_join_the_set_too() {
    paused().block_on(async {
        let mut set = JoinSet::new();
        let shared = std::rc::Rc::new(7); // not `Send`
        set.spawn_local({
            let shared = shared.clone();
            async move { *shared }
        });
        let mut blocking = JoinSet::new();
        blocking.spawn_blocking(|| 6 * 7);
        assert_eq!(set.join_next().await.unwrap().unwrap(), 7);
        assert_eq!(blocking.join_next().await.unwrap().unwrap(), 42);
    });
}

#[test]
fn thousands_of_tasks_on_the_multi_thread_runtime() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let total = rt.block_on(async {
        let mut set = JoinSet::new();
        for i in 0..5_000u64 {
            set.spawn(async move {
                if i % 7 == 0 {
                    pollen::task::yield_now().await;
                }
                i
            });
        }
        let mut total = 0;
        let mut count = 0;
        while let Some(result) = set.join_next().await {
            total += result.unwrap();
            count += 1;
        }
        assert_eq!(count, 5_000);
        total
    });
    assert_eq!(total, (0..5_000u64).sum::<u64>());
}
