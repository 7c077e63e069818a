//! Static task storage: `TaskStorage`, `TaskPool`, `TaskArena`: busy slots,
//! reuse, lazily built futures, no leaks.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Counted, Counts, WakerSlot, poll_once};
use pollen_core::executor::Executor;
use pollen_core::task::{SpawnError, TaskArena, TaskPool, TaskStorage, cell_size};

#[test]
fn storage_is_busy_until_task_and_handles_are_gone() {
    static EX: Executor = Executor::new();
    static TASK: TaskStorage<Counted> = TaskStorage::new();
    let counts = Counts::new();
    let slot = WakerSlot::new();
    let handle = TASK
        .spawn(&EX, Counted::pending(1, 1, &counts, &slot))
        .unwrap();
    assert!(TASK.is_busy());
    let err = TASK.spawn(&EX, Counted::ready(2, &counts)).unwrap_err();
    assert_eq!(err, SpawnError::Busy);
    assert_eq!(err.to_string(), "every task slot is in use (pool busy)");
    assert_eq!(counts.future_drops(), 1, "the rejected future was dropped");

    EX.run_until_stalled();
    slot.wake();
    EX.run_until_stalled();
    assert!(handle.is_finished());
    assert!(TASK.is_busy(), "the JoinHandle still refers to the task");
    drop(handle);
    assert!(!TASK.is_busy());
    assert_eq!(counts.output_drops(), 1);

    // Reused.
    let mut again = TASK.spawn(&EX, Counted::ready(3, &counts)).unwrap();
    EX.run_until_stalled();
    assert!(matches!(poll_once(&mut again), std::task::Poll::Ready(Ok(ref o)) if o.value == 3));
    drop(again);
    assert!(!TASK.is_busy());
    assert_eq!(counts.future_drops(), 3);
    assert_eq!(counts.output_drops(), 2);
}

#[test]
fn spawn_with_builds_the_future_only_when_a_slot_is_free() {
    static EX: Executor = Executor::new();
    static TASK: TaskStorage<Counted> = TaskStorage::new();
    let counts = Counts::new();
    let built = AtomicUsize::new(0);
    let make = || {
        built.fetch_add(1, Ordering::SeqCst);
        Counted::ready(1, &counts)
    };
    let first = TASK.spawn_with(&EX, make).unwrap();
    assert_eq!(TASK.spawn_with(&EX, make).unwrap_err(), SpawnError::Busy);
    assert_eq!(built.load(Ordering::SeqCst), 1);
    EX.run_until_stalled();
    drop(first);
    assert!(!TASK.is_busy());
}

#[test]
fn pool_fills_up_and_frees_slots() {
    static EX: Executor = Executor::new();
    static POOL: TaskPool<Counted, 3> = TaskPool::new();
    let counts = Counts::new();
    let slot = WakerSlot::new();
    let a = POOL.spawn(&EX, Counted::ready(1, &counts)).unwrap();
    let b = POOL
        .spawn(&EX, Counted::pending(1, 2, &counts, &slot))
        .unwrap();
    let c = POOL.spawn(&EX, Counted::ready(3, &counts)).unwrap();
    assert_eq!(POOL.busy(), 3);
    assert_eq!(
        POOL.spawn(&EX, Counted::ready(4, &counts)).unwrap_err(),
        SpawnError::Busy
    );
    EX.run_until_stalled();
    drop(a);
    assert_eq!(POOL.busy(), 2);
    let d = POOL.spawn(&EX, Counted::ready(5, &counts)).unwrap();
    EX.run_until_stalled();
    slot.wake();
    EX.run_until_stalled();
    drop((b, c, d));
    assert_eq!(POOL.busy(), 0);
    assert_eq!(counts.future_drops(), 5, "four spawned and one rejected");
    assert_eq!(counts.output_drops(), 4);
}

#[test]
fn unreachable_static_task_frees_its_slot() {
    static EX: Executor = Executor::new();
    static TASK: TaskStorage<core::future::Pending<()>> = TaskStorage::new();
    let handle = TASK.spawn(&EX, core::future::pending()).unwrap();
    EX.run_until_stalled();
    assert!(TASK.is_busy());
    drop(handle); // nothing can wake it now: cancelled, slot freed
    EX.run_until_stalled();
    assert!(!TASK.is_busy());
}

#[test]
fn arena_holds_unnameable_futures() {
    static EX: Executor = Executor::new();
    static ARENA: TaskArena<256, 2> = TaskArena::new();
    let counts = Counts::new();
    let c1 = counts.clone();
    let c2 = counts.clone();
    let a = ARENA
        .spawn(&EX, async move { Counted::ready(10, &c1).await.value + 1 })
        .unwrap();
    let b = ARENA
        .spawn(&EX, async move {
            pollen_core::future::yield_now().await;
            Counted::ready(20, &c2).await.value + 2
        })
        .unwrap();
    assert_eq!(ARENA.busy(), 2);
    assert!(ARENA.spawn(&EX, async {}).is_err());
    EX.run_until_stalled();
    let (mut a, mut b) = (a, b);
    assert!(matches!(poll_once(&mut a), std::task::Poll::Ready(Ok(11))));
    assert!(matches!(poll_once(&mut b), std::task::Poll::Ready(Ok(22))));
    drop((a, b));
    assert_eq!(ARENA.busy(), 0);
    assert_eq!(counts.future_drops(), 2);
    assert_eq!(counts.output_drops(), 2);
}

#[test]
fn cell_size_accounts_for_the_future() {
    assert!(cell_size::<core::future::Ready<()>>() >= pollen_core::task::HEADER_SIZE);
    assert!(
        cell_size::<core::future::Ready<[u8; 1000]>>() >= 1000 + pollen_core::task::HEADER_SIZE
    );
}

#[cfg(target_pointer_width = "64")]
#[test]
fn header_is_four_words() {
    assert_eq!(pollen_core::task::HEADER_SIZE, 32);
}

/// Memory a scheduler manages itself: one static buffer, and a count of
/// the cells given back.
mod in_memory {
    use core::cell::UnsafeCell;
    use core::ptr::NonNull;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use pollen_core::executor::Executor;
    use pollen_core::task::{TaskMemory, cell_layout, new_in};

    #[repr(C, align(64))]
    struct Buffer(UnsafeCell<[u8; 512]>);

    // SAFETY: handed to one task at a time (the test below), which governs
    // access to itself.
    unsafe impl Sync for Buffer {}

    static BUFFER: Buffer = Buffer(UnsafeCell::new([0; 512]));
    static FREED: AtomicUsize = AtomicUsize::new(0);
    static FREED_SIZE: AtomicUsize = AtomicUsize::new(0);

    struct Counted;

    // SAFETY: takes back the one buffer, once per task placed in it.
    unsafe impl TaskMemory for Counted {
        unsafe fn free(cell: NonNull<u8>, layout: core::alloc::Layout) {
            assert_eq!(cell.as_ptr(), BUFFER.0.get().cast::<u8>());
            FREED_SIZE.store(layout.size(), Ordering::SeqCst);
            FREED.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct CountDrop<'a>(&'a AtomicUsize);

    impl Drop for CountDrop<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_task_placed_in_managed_memory_is_given_back_once() {
        static EX: Executor = Executor::new();
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        fn task() -> impl Future<Output = u32> + Send + 'static {
            let guard = CountDrop(&DROPS);
            async move {
                pollen_core::future::yield_now().await;
                drop(guard);
                7
            }
        }
        fn layout_of<F: Future>(_: &F) -> core::alloc::Layout {
            cell_layout::<F>()
        }
        let future = task();
        let layout = layout_of(&future);
        assert!(layout.size() <= 512 && layout.align() <= 64);
        let memory = NonNull::new(BUFFER.0.get().cast::<u8>()).expect("a static's address");
        // SAFETY: the buffer fits the cell, and nothing else uses it until
        // `Counted::free` is given it back.
        let (runnable, handle, seen) = unsafe {
            new_in::<_, _, Counted, _>(memory, future, &EX, |f| {
                core::ptr::from_ref(f.get_ref()).addr()
            })
        };
        assert!(
            seen > memory.as_ptr().addr(),
            "the future lies in the buffer"
        );
        assert!(seen < memory.as_ptr().addr() + layout.size());
        pollen_core::task::Schedule::schedule(&EX, runnable);
        EX.run_until_stalled();
        assert!(handle.is_finished());
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        assert_eq!(FREED.load(Ordering::SeqCst), 0, "the handle still holds it");
        drop(handle);
        assert_eq!(FREED.load(Ordering::SeqCst), 1);
        assert_eq!(FREED_SIZE.load(Ordering::SeqCst), layout.size());
    }
}
