//! The executor: FIFO by rounds, bounded ticks, parking without lost
//! wake-ups, spawning from tasks and threads, and re-entrancy.
#![cfg(feature = "alloc")]

mod common;

use std::sync::Arc;
use std::sync::Mutex;

use common::{Counted, Counts, WakerSlot};
use pollen_core::executor::{Executor, TICK_BATCH};

/// A task that records its id into `log` each poll, yielding `rounds` times.
fn logger(
    id: usize,
    rounds: usize,
    log: &Arc<Mutex<Vec<usize>>>,
) -> impl Future<Output = ()> + Send + 'static {
    let log = log.clone();
    async move {
        for _ in 0..rounds {
            log.lock().unwrap().push(id);
            pollen_core::future::yield_now().await;
        }
        log.lock().unwrap().push(id);
    }
}

#[test]
fn tasks_run_in_spawn_order_and_round_robin() {
    static EX: Executor = Executor::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..3).map(|id| EX.spawn(logger(id, 2, &log))).collect();
    assert_eq!(EX.tick(), 3);
    assert_eq!(*log.lock().unwrap(), [0, 1, 2]);
    assert_eq!(EX.tick(), 3);
    assert_eq!(EX.tick(), 3);
    assert_eq!(*log.lock().unwrap(), [0, 1, 2, 0, 1, 2, 0, 1, 2]);
    assert_eq!(EX.tick(), 0);
    assert!(handles.iter().all(|h| h.is_finished()));
}

#[test]
fn tick_polls_at_most_a_batch() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let n = TICK_BATCH * 2 + 5;
    let handles: Vec<_> = (0..n)
        .map(|i| EX.spawn(Counted::ready(i as u32, &counts)))
        .collect();
    assert_eq!(EX.tick(), TICK_BATCH);
    assert_eq!(EX.tick(), TICK_BATCH);
    assert_eq!(EX.tick(), 5);
    assert_eq!(EX.tick(), 0);
    assert_eq!(counts.polls(), n);
    drop(handles);
    assert_eq!(counts.output_drops(), n);
}

#[test]
fn tick_with_names_each_task_just_before_its_poll() {
    static EX: Executor = Executor::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..3).map(|id| EX.spawn(logger(id, 1, &log))).collect();
    // Each call sees the log as the previous polls left it: before the poll.
    let mut seen = Vec::new();
    let polled = EX.tick_with(|task| seen.push((task, log.lock().unwrap().len())));
    assert_eq!(polled, 3);
    let first: Vec<_> = seen.iter().map(|&(task, _)| task).collect();
    assert_eq!(
        seen.iter().map(|&(_, len)| len).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(first[0] != first[1] && first[1] != first[2] && first[0] != first[2]);
    // The same three tasks, in the same order, on their second poll.
    let mut again = Vec::new();
    assert_eq!(EX.tick_with(|task| again.push(task)), 3);
    assert_eq!(again, first);
    assert_eq!(EX.tick_with(|_| panic!("nothing is runnable")), 0);
    assert!(handles.iter().all(|h| h.is_finished()));
}

#[test]
fn a_busy_task_cannot_starve_others() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let busy = EX.spawn(Counted::yielding(1000, 0, &counts));
    let slot = WakerSlot::new();
    let other_counts = Counts::new();
    let other = EX.spawn(Counted::pending(1, 0, &other_counts, &slot));
    EX.tick();
    slot.wake();
    // The busy task wakes itself every poll; the woken task still runs in
    // the very next tick.
    EX.tick();
    assert!(other.is_finished());
    busy.abort();
    EX.run_until_stalled();
    assert!(busy.is_finished());
}

#[test]
fn tasks_spawn_tasks() {
    static EX: Executor = Executor::new();
    let spawner = EX.spawner();
    let outer = EX.spawn(async move {
        let mut sum = 0;
        for i in 0..10u32 {
            sum += spawner.spawn(async move { i * 2 }).await.unwrap();
        }
        sum
    });
    EX.run_until_stalled();
    assert!(outer.is_finished());
    let mut outer = outer;
    assert!(matches!(
        common::poll_once(&mut outer),
        std::task::Poll::Ready(Ok(90))
    ));
}

#[test]
#[cfg_attr(not(feature = "std"), should_panic(expected = "already being driven"))]
fn ticking_from_inside_a_task_panics() {
    static EX: Executor = Executor::new();
    let mut h = EX.spawn(async {
        EX.tick();
    });
    EX.tick();
    // With `std` the panic is caught and reported through the handle, and
    // the executor is still usable.
    let std::task::Poll::Ready(Err(err)) = common::poll_once(&mut h) else {
        panic!("expected the task to panic");
    };
    assert!(err.is_panic());
    assert!(err.to_string().contains("already being driven"), "{err}");
    let after = EX.spawn(async { 3 });
    assert_eq!(EX.run_until_stalled(), 1);
    assert!(after.is_finished());
}

#[test]
fn spawns_from_other_threads_are_run() {
    static EX: Executor = Executor::new();
    let counts = Counts::new();
    let per_thread = if cfg!(miri) { 5 } else { 500 };
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let counts = counts.clone();
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|i| EX.spawn(Counted::ready(i, &counts)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut handles = Vec::new();
    for t in threads {
        handles.extend(t.join().unwrap());
    }
    EX.run_until_stalled();
    assert!(handles.iter().all(|h| h.is_finished()));
    assert_eq!(counts.polls(), 2 * per_thread as usize);
}

/// A task that waits for one wake-up, then logs `id`.
fn sleeper(
    id: usize,
    slot: Arc<Mutex<Option<std::task::Waker>>>,
    log: &Arc<Mutex<Vec<usize>>>,
) -> impl Future<Output = ()> + Send + 'static {
    let log = log.clone();
    let mut waited = false;
    std::future::poll_fn(move |cx| {
        if !waited {
            waited = true;
            *slot.lock().unwrap() = Some(cx.waker().clone());
            return std::task::Poll::Pending;
        }
        log.lock().unwrap().push(id);
        std::task::Poll::Ready(())
    })
}

#[test]
fn wakes_from_tasks_and_other_threads_run_in_wake_order() {
    static EX: Executor = Executor::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let slots: Vec<_> = (0..5).map(|_| Arc::new(Mutex::new(None))).collect();
    let sleepers: Vec<_> = (0..5)
        .map(|id| EX.spawn(sleeper(id, slots[id].clone(), &log)))
        .collect();
    assert_eq!(EX.tick(), 5);
    let wake_elsewhere = |id: usize| {
        let slot = slots[id].clone();
        std::thread::spawn(move || slot.lock().unwrap().take().unwrap().wake())
            .join()
            .unwrap();
    };
    // Woken from another thread before the tick that wakes the others.
    wake_elsewhere(0);
    let waker = EX.spawn({
        let slots = slots.clone();
        async move {
            let wake = |id: usize| slots[id].lock().unwrap().take().unwrap().wake();
            wake(1);
            let slot = slots[2].clone();
            std::thread::spawn(move || slot.lock().unwrap().take().unwrap().wake())
                .join()
                .unwrap();
            wake(3);
            let slot = slots[4].clone();
            std::thread::spawn(move || slot.lock().unwrap().take().unwrap().wake())
                .join()
                .unwrap();
        }
    });
    // This tick runs sleeper 0 and the waking task; the others, woken
    // during it by the task (1, 3) and by threads (2, 4), wait for the
    // next one, in the order they were woken.
    assert_eq!(EX.tick(), 2);
    assert_eq!(*log.lock().unwrap(), [0]);
    assert!(!EX.is_idle());
    assert!(!EX.is_queue_empty());
    assert_eq!(EX.tick(), 4);
    assert_eq!(*log.lock().unwrap(), [0, 1, 2, 3, 4]);
    assert!(EX.is_idle() && EX.is_queue_empty());
    assert!(waker.is_finished() && sleepers.iter().all(|h| h.is_finished()));
}

#[cfg(feature = "std")]
mod with_std {
    use super::*;
    use pollen_core::executor::StdPark;

    #[test]
    fn block_on_parks_until_another_thread_wakes() {
        static EX: Executor = Executor::new();
        static PARK: StdPark = StdPark::new();
        let counts = Counts::new();
        let slot = WakerSlot::new();
        let task = EX.spawn(Counted::pending(3, 7, &counts, &slot));
        let waker_slot = slot.clone();
        let t = std::thread::spawn(move || {
            let mut woken = 0;
            while woken < 3 {
                std::thread::sleep(std::time::Duration::from_millis(1));
                if waker_slot.wake() {
                    woken += 1;
                }
            }
        });
        let out = EX.block_on(&PARK, task).unwrap();
        assert_eq!(out.value, 7);
        t.join().unwrap();
        assert_eq!(counts.polls(), 4);
    }

    #[test]
    fn block_on_future_need_not_be_send() {
        static EX: Executor = Executor::new();
        static PARK: StdPark = StdPark::new();
        let local = std::rc::Rc::new(5);
        let v = EX.block_on(&PARK, async {
            pollen_core::future::yield_now().await;
            *local + EX.spawn(async { 1 }).await.unwrap()
        });
        assert_eq!(v, 6);
    }

    #[test]
    // `run` never returns, so its thread outlives the test, which Miri
    // reports as an error; `block_on` tests cover the same park/unpark path.
    #[cfg_attr(miri, ignore = "the run() thread outlives main")]
    fn run_drives_tasks_on_a_thread_of_its_own() {
        static EX: Executor = Executor::new();
        static PARK: StdPark = StdPark::new();
        std::thread::spawn(|| EX.run(&PARK));
        // Spawned from this thread: the executor thread is parked and must be
        // woken by the push.
        for i in 0..20u32 {
            let (tx, rx) = std::sync::mpsc::channel();
            let _h = EX.spawn(async move { tx.send(i * 3).unwrap() });
            assert_eq!(rx.recv().unwrap(), i * 3);
        }
    }
}
