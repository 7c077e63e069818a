//! The registry on core's executor, with no reactor: these also run
//! under Miri (the `unsafe` of the registry, `Tracked` and the task pages).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use pollen_core::executor::Executor;

use super::TaskRegistry;

struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Panics when dropped: a future whose destructor panics.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("in a future's destructor");
    }
}

/// Core's executor, keeping its tasks alive as the runtime's
/// schedulers do (the registry relies on it).
struct Kept(Executor);

impl pollen_core::task::Schedule for Kept {
    const KEEPS_TASKS_ALIVE: bool = true;

    fn schedule(&self, runnable: pollen_core::task::Runnable) {
        pollen_core::task::Schedule::schedule(&self.0, runnable);
    }
}

impl std::ops::Deref for Kept {
    type Target = Executor;

    fn deref(&self) -> &Executor {
        &self.0
    }
}

/// Spawns `future` as the runtime does, boxed with an entry in the
/// table.
fn spawn<F>(
    registry: &'static TaskRegistry,
    executor: &'static Kept,
    future: F,
) -> pollen_core::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_in(registry, executor, future, false)
}

/// Spawns `future` as the runtime does, on a page if `paged`.
fn spawn_in<F>(
    registry: &'static TaskRegistry,
    executor: &'static Kept,
    future: F,
    paged: bool,
) -> pollen_core::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let layout = pollen_core::task::cell_layout::<super::Tracked<F>>();
    let slot = registry
        .reserve(
            std::panic::Location::caller(),
            Some("probe"),
            paged.then_some(layout),
        )
        .expect("registry open");
    assert_eq!(slot.is_paged(), paged);
    let (runnable, handle) = slot.spawn(future, executor);
    pollen_core::task::Schedule::schedule(executor, runnable);
    handle
}

#[test]
fn a_finished_task_leaves_the_registry_after_its_future_is_dropped() {
    static EXECUTOR: Kept = Kept(Executor::new());
    // A `static` (not a leaked box): Miri counts what a static reaches
    // as still in use.
    static REGISTRY: LazyLock<TaskRegistry> = LazyLock::new(|| TaskRegistry::new(4));
    let registry: &'static TaskRegistry = &REGISTRY;
    let executor = &EXECUTOR;
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = CountDrop(drops.clone());
    let handle = spawn(registry, executor, async move {
        pollen_core::future::yield_now().await;
        drop(guard);
        5
    });
    assert_eq!(registry.len(), 1);
    let mut seen = Vec::new();
    registry.snapshot(false, &mut seen);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].name(), Some("probe"));
    assert_eq!(seen[0].polls(), 0);
    assert_eq!(seen[0].status(), pollen_core::task::TaskStatus::Scheduled);
    // One poll: the task yields (and is queued again).
    executor.tick();
    seen.clear();
    registry.snapshot(false, &mut seen);
    assert_eq!(seen[0].polls(), 1, "the count, read through the entry");
    executor.run_until_stalled();
    assert!(handle.is_finished());
    assert_eq!(registry.len(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn closing_aborts_every_live_task_and_refuses_new_ones() {
    static EXECUTOR: Kept = Kept(Executor::new());
    // A `static` (not a leaked box): Miri counts what a static reaches
    // as still in use.
    static REGISTRY: LazyLock<TaskRegistry> = LazyLock::new(|| TaskRegistry::new(4));
    let registry: &'static TaskRegistry = &REGISTRY;
    let executor = &EXECUTOR;
    let drops = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let guard = CountDrop(drops.clone());
        spawn(registry, executor, async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
    }
    executor.run_until_stalled();
    assert_eq!(registry.len(), 3);
    assert!(!registry.released.load(Ordering::SeqCst));
    assert_eq!(registry.close_and_abort_all(), 3);
    assert!(
        !registry.released.load(Ordering::SeqCst),
        "its tasks still name it"
    );
    executor.run_until_stalled();
    assert_eq!(registry.len(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    assert!(
        registry.released.load(Ordering::SeqCst),
        "the last task out gives the number back"
    );
    assert!(
        registry
            .reserve(std::panic::Location::caller(), None, None)
            .is_none()
    );
}

/// A future whose destructor panics: the task completes with the
/// panic and is freed, and its entry must be gone first (a dump after
/// it would read freed memory, which Miri reports).
#[test]
fn a_future_that_panics_when_dropped_leaves_the_registry() {
    static EXECUTOR: Kept = Kept(Executor::new());
    static REGISTRY: LazyLock<TaskRegistry> = LazyLock::new(|| TaskRegistry::new(4));
    let registry: &'static TaskRegistry = &REGISTRY;
    let handle = spawn(registry, &EXECUTOR, async {
        let _guard = PanicOnDrop;
        std::future::pending::<()>().await;
    });
    EXECUTOR.run_until_stalled();
    handle.abort();
    EXECUTOR.run_until_stalled();
    assert!(handle.is_finished());
    drop(handle);
    assert_eq!(registry.len(), 0);
    let mut seen = Vec::new();
    registry.snapshot(false, &mut seen);
    assert!(seen.is_empty());
    assert_eq!(registry.close_and_abort_all(), 0);
    assert!(
        registry.released.load(Ordering::SeqCst),
        "closed with no task: the number is given back at once"
    );
}

/// A task on a page: listed with its name, location and polls, taken
/// out when its future is dropped, its slot used again once it is
/// freed (here, from this thread's kept cells).
#[test]
fn a_task_on_a_page_is_listed_until_its_future_is_dropped() {
    static EXECUTOR: Kept = Kept(Executor::new());
    static REGISTRY: LazyLock<TaskRegistry> = LazyLock::new(|| TaskRegistry::new(1));
    let registry: &'static TaskRegistry = &REGISTRY;
    let drops = Arc::new(AtomicUsize::new(0));
    let task = |guard: CountDrop| async move {
        pollen_core::future::yield_now().await;
        drop(guard);
        5
    };
    let handle = spawn_in(registry, &EXECUTOR, task(CountDrop(drops.clone())), true);
    assert_eq!(registry.len(), 1);
    EXECUTOR.tick();
    let mut seen = Vec::new();
    registry.snapshot(false, &mut seen);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].name(), Some("probe"));
    assert_eq!(seen[0].polls(), 1);
    assert_eq!(seen[0].location().file(), file!());
    EXECUTOR.run_until_stalled();
    assert!(handle.is_finished());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(registry.len(), 0, "out when its future is dropped");
    let first = handle.as_ptr();
    drop(handle);
    let again = spawn_in(registry, &EXECUTOR, task(CountDrop(drops.clone())), true);
    assert_eq!(again.as_ptr(), first, "the freed slot is taken again");
    EXECUTOR.run_until_stalled();
    assert!(again.is_finished());
}

/// Shutdown aborts tasks on pages, whose futures (one panicking as it
/// is dropped) go; a thread's kept cells go back to their pages when
/// it exits; and once the registry is empty its pages are given back.
#[test]
fn closing_aborts_tasks_on_pages_and_gives_the_pages_back() {
    static EXECUTOR: Kept = Kept(Executor::new());
    static REGISTRY: LazyLock<TaskRegistry> = LazyLock::new(|| TaskRegistry::new(2));
    let registry: &'static TaskRegistry = &REGISTRY;
    let drops = Arc::new(AtomicUsize::new(0));
    // Spawned, run and freed on another thread, which then exits.
    let counted = drops.clone();
    std::thread::spawn(move || {
        for _ in 0..3 {
            let guard = CountDrop(counted.clone());
            let handle = spawn_in(
                registry,
                &EXECUTOR,
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                },
                true,
            );
            drop(handle);
        }
        let handle = spawn_in(
            registry,
            &EXECUTOR,
            async {
                let _guard = PanicOnDrop;
                std::future::pending::<()>().await;
            },
            true,
        );
        drop(handle);
        EXECUTOR.run_until_stalled();
    })
    .join()
    .expect("the spawning thread");
    assert_eq!(registry.len(), 4);
    let held: usize = (0..registry.shards.len())
        .map(|shard| registry.lock(shard).pages.pages_held())
        .sum();
    assert!(held > 0);
    let freed_before = super::pages::Pages::pages_freed();
    assert_eq!(registry.close_and_abort_all(), 4);
    let spawner = std::thread::spawn(|| EXECUTOR.run_until_stalled());
    spawner.join().expect("the thread that drops the futures");
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    assert_eq!(registry.len(), 0);
    assert!(registry.released.load(Ordering::SeqCst));
    for shard in 0..registry.shards.len() {
        assert_eq!(registry.lock(shard).pages.pages_held(), 0);
    }
    // The last cells were freed after the registry emptied, on a thread
    // that kept them until it exited: their pages went then. (Other
    // tests free pages too: at least ours.)
    assert!(super::pages::Pages::pages_freed() - freed_before >= held);
}

/// Dumps on one thread while tasks on pages finish, leave their slots
/// (without the shard's lock) and are freed on another, their slots
/// taken again: every task a dump lists is whole.
#[test]
fn dumps_see_whole_tasks_while_tasks_leave_on_another_thread() {
    static EXECUTOR: Kept = Kept(Executor::new());
    static REGISTRY: LazyLock<TaskRegistry> = LazyLock::new(|| TaskRegistry::new(1));
    let registry: &'static TaskRegistry = &REGISTRY;
    let rounds = if cfg!(miri) { 8 } else { 400 };
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let finished = done.clone();
    let worker = std::thread::spawn(move || {
        for _ in 0..rounds {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let task = async { pollen_core::future::yield_now().await };
                    spawn_in(registry, &EXECUTOR, task, true)
                })
                .collect();
            EXECUTOR.run_until_stalled();
            assert!(handles.iter().all(|handle| handle.is_finished()));
        }
        finished.store(true, Ordering::SeqCst);
    });
    let mut dumps = 0;
    while !done.load(Ordering::SeqCst) || dumps == 0 {
        let mut seen = Vec::new();
        registry.snapshot(false, &mut seen);
        for task in &seen {
            assert_eq!(task.name(), Some("probe"));
            assert!(task.polls() <= 2, "{task}");
        }
        dumps += 1;
        std::thread::yield_now();
    }
    worker.join().expect("the worker");
    assert_eq!(registry.len(), 0);
}

/// A dump reads a task's poll count while another thread is polling the
/// task, through a future that is `Unpin` (the poll's `&mut` to the
/// `Tracked` would otherwise claim the count for itself: Miri checks).
#[test]
fn a_dump_reads_the_poll_count_of_a_task_being_polled() {
    /// Stays in its first poll until let go.
    struct Held {
        polling: Arc<std::sync::atomic::AtomicBool>,
        go: Arc<std::sync::atomic::AtomicBool>,
    }

    impl std::future::Future for Held {
        type Output = ();

        fn poll(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            self.polling.store(true, Ordering::SeqCst);
            while !self.go.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            std::task::Poll::Ready(())
        }
    }

    static EXECUTOR: Kept = Kept(Executor::new());
    static REGISTRY: LazyLock<TaskRegistry> = LazyLock::new(|| TaskRegistry::new(1));
    let registry: &'static TaskRegistry = &REGISTRY;
    let polling = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let go = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for paged in [true, false] {
        polling.store(false, Ordering::SeqCst);
        go.store(false, Ordering::SeqCst);
        let held = Held {
            polling: polling.clone(),
            go: go.clone(),
        };
        let handle = spawn_in(registry, &EXECUTOR, held, paged);
        let poller = std::thread::spawn(|| EXECUTOR.run_until_stalled());
        while !polling.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let mut seen = Vec::new();
        registry.snapshot(false, &mut seen);
        go.store(true, Ordering::SeqCst);
        poller.join().expect("the polling thread");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].polls(), 1, "counted before the future's poll");
        assert!(handle.is_finished());
    }
}

/// A registry closes while its tasks on pages leave on another thread:
/// every task is aborted or finishes, and the registry is given back
/// once the last has left, whichever side saw it last.
#[test]
fn a_registry_closed_while_its_tasks_leave_is_given_back() {
    static EXECUTOR: Kept = Kept(Executor::new());
    static REGISTRIES: [LazyLock<TaskRegistry>; 12] =
        [const { LazyLock::new(|| TaskRegistry::new(2)) }; 12];
    let rounds = if cfg!(miri) { 3 } else { REGISTRIES.len() };
    for registry in &REGISTRIES[..rounds] {
        let registry: &'static TaskRegistry = registry;
        let start = Arc::new(std::sync::Barrier::new(2));
        let started = start.clone();
        let worker = std::thread::spawn(move || {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let task = async { pollen_core::future::yield_now().await };
                    spawn_in(registry, &EXECUTOR, task, true)
                })
                .collect();
            started.wait();
            EXECUTOR.run_until_stalled();
            handles
        });
        start.wait();
        registry.close_and_abort_all();
        // Twice: the second finds nothing more to do.
        registry.close_and_abort_all();
        let handles = worker.join().expect("the worker");
        // The aborted ones, scheduled by the abort, drop their futures.
        EXECUTOR.run_until_stalled();
        assert!(handles.iter().all(|handle| handle.is_finished()));
        assert_eq!(registry.len(), 0);
        assert!(registry.released.load(Ordering::SeqCst), "given back");
    }
}

/// A shut-down runtime that never spawned takes no registry number
/// from a late spawn (it would never be given back).
#[test]
fn a_registry_closed_before_its_first_task_takes_no_number() {
    static REGISTRY: LazyLock<TaskRegistry> = LazyLock::new(|| TaskRegistry::new(4));
    let registry: &'static TaskRegistry = &REGISTRY;
    assert_eq!(registry.close_and_abort_all(), 0);
    assert!(
        registry
            .reserve(std::panic::Location::caller(), None, None)
            .is_none()
    );
    assert!(registry.number.get().is_none());
}

/// The count sits in front of the future in `Tracked`, a few bytes from
/// the header, however large the future: a dump reads it.
#[test]
fn the_poll_count_of_a_large_future_is_read() {
    static EXECUTOR: Kept = Kept(Executor::new());
    static REGISTRY: LazyLock<TaskRegistry> = LazyLock::new(|| TaskRegistry::new(4));
    let registry: &'static TaskRegistry = &REGISTRY;
    let handle = spawn(registry, &EXECUTOR, async {
        let held = [7_u64; 10_000];
        pollen_core::future::yield_now().await;
        held.iter().sum::<u64>()
    });
    EXECUTOR.tick();
    let mut seen = Vec::new();
    registry.snapshot(false, &mut seen);
    assert_eq!(seen[0].polls(), 1);
    EXECUTOR.run_until_stalled();
    assert!(handle.is_finished());
}

#[test]
#[cfg(target_pointer_width = "64")]
fn a_small_task_is_56_bytes() {
    // Header (32) + future-or-output (16: a 12-byte `Tracked`, with
    // the stage's tag in its `bool`'s spare values) + join waker (8).
    fn cell_of<F: std::future::Future>(_: &F) -> usize {
        pollen_core::task::cell_size::<super::Tracked<F>>()
    }
    fn tracked_of<F>(_: &F) -> usize {
        std::mem::size_of::<super::Tracked<F>>()
    }
    let parked = async { std::future::pending::<()>().await };
    assert_eq!(tracked_of(&parked), 12);
    assert_eq!(cell_of(&parked), 56);
    // A future of two words with an output of one: no larger than the
    // `Tracked` of a reference used to make it.
    let holding = async {
        let held = std::sync::Arc::new(1_u64);
        std::future::pending::<()>().await;
        *held
    };
    assert_eq!(cell_of(&holding), 72);
}

#[test]
#[cfg(target_pointer_width = "64")]
fn a_table_entry_is_16_bytes() {
    // The task's address, where it counts polls, the location's
    // number and the id's high part.
    assert_eq!(std::mem::size_of::<super::Entry>(), 16);
    // The slab stores `enum { Vacant(usize), Occupied(Entry) }`: the
    // vacant variant's key fits beside the pointer's niche.
    #[allow(dead_code)]
    enum SlabSlot {
        Vacant(usize),
        Occupied(super::Entry),
    }
    assert_eq!(std::mem::size_of::<SlabSlot>(), 16);
}
