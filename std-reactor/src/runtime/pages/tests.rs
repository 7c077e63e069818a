//! Tests of the page layout, and loom models of the lock-free parts
//! (with `--cfg loom`; without it, each model runs once).

mod geometry {
    use super::super::{Geometry, HEADER_BYTES, MAX_SLOT, PAGE_BYTES, RECORD_BYTES};

    #[test]
    fn a_page_of_56_byte_slots_costs_under_64_bytes_a_slot() {
        let geometry = Geometry::new(56);
        assert!(geometry.slots >= 1024, "{geometry:?}");
        assert!(PAGE_BYTES / (geometry.slots as usize) < 64, "{geometry:?}");
    }

    #[test]
    fn every_slot_size_fits_its_page() {
        for slot_size in (8..=MAX_SLOT).step_by(8) {
            let g = Geometry::new(slot_size);
            assert!(g.slots >= 25);
            assert_eq!(g.slots_at % 16, 0);
            assert!((g.slots_at + g.slots * g.slot_size) as usize <= PAGE_BYTES);
            assert!(HEADER_BYTES + RECORD_BYTES * g.slots as usize <= g.slots_at as usize);
        }
    }
}

/// Models of the lock-free parts: frees pushing onto a page's remote stack
/// while the shard takes slots, or gives the page up. (Run with
/// `--cfg loom`; without it, each runs once.)
mod loom {
    use std::alloc::Layout;
    use std::ptr::NonNull;
    use std::sync::atomic::Ordering::SeqCst;

    use super::super::{Directory, PAGES_FREED, Pages, push_remote};
    use crate::loom::model_sync::{Arc, Mutex, thread};

    /// A free cell, to hand to another thread.
    struct Cell(NonNull<u8>);

    // SAFETY: a free cell's memory is the holder's alone.
    unsafe impl Send for Cell {}

    fn layout() -> Layout {
        Layout::from_size_align(64, 8).expect("a layout")
    }

    /// Two cells freed on two threads while a third gives their page up:
    /// whichever comes last frees the page, exactly once.
    #[test]
    fn the_last_free_of_a_given_up_page_frees_it_once() {
        crate::loom::model(|| {
            let before = PAGES_FREED.load(SeqCst);
            let pages = Arc::new(Mutex::new(Pages::default()));
            let directory = Directory::new();
            let (a, b) = {
                let mut pages = pages.lock().expect("the shard's lock");
                let (a, _) = pages.take(&directory, layout()).expect("a slot");
                let (b, _) = pages.take(&directory, layout()).expect("a slot");
                (Cell(a), Cell(b))
            };
            let freer = thread::spawn(move || {
                let a = a;
                // SAFETY: the cell is free, its page lives until freed.
                unsafe { push_remote(a.0) };
            });
            let shard = Arc::clone(&pages);
            let giver = thread::spawn(move || {
                shard.lock().expect("the shard's lock").give_back();
            });
            // SAFETY: as above.
            unsafe { push_remote(b.0) };
            freer.join().expect("the freeing thread");
            giver.join().expect("the giving-back thread");
            // (Other tests free pages meanwhile: at least ours. Twice would
            // be a double free, which the allocator or Miri reports.)
            assert!(PAGES_FREED.load(SeqCst) - before >= 1);
        });
    }

    /// A cell freed while the shard, its page's untouched slots used up,
    /// takes a slot: the cell is handed out once, by that take or by the
    /// next one from its page.
    #[test]
    fn a_slot_freed_while_the_shard_takes_slots_is_handed_out_once() {
        crate::loom::model(|| {
            let pages = Arc::new(Mutex::new(Pages::default()));
            let directory = Directory::new();
            let slots = super::super::Geometry::new(layout().size()).slots;
            let taken: Vec<NonNull<u8>> = {
                let mut guard = pages.lock().expect("the shard's lock");
                // One access through the guard (loom counts each).
                let pages: &mut Pages = &mut guard;
                (0..slots)
                    .map(|_| pages.take(&directory, layout()).expect("a slot").0)
                    .collect()
            };
            let page = super::super::page_of(taken[0]);
            assert!(
                taken
                    .iter()
                    .all(|&cell| super::super::page_of(cell) == page)
            );
            let freed = Cell(taken[0]);
            let freer = thread::spawn(move || {
                let freed = freed;
                // SAFETY: the cell is free, its page lives.
                unsafe { push_remote(freed.0) };
            });
            // The page has no untouched slot: the freed cell, if it is on
            // the stack yet, or a new page's.
            let again = pages
                .lock()
                .expect("the shard's lock")
                .take(&directory, layout());
            freer.join().expect("the freeing thread");
            let mut pages = pages.lock().expect("the shard's lock");
            // SAFETY: a page of this shard, under its lock.
            let from_page = unsafe { super::super::take_slot(page) }.map(|(cell, _)| cell);
            let again = again.map(|(cell, _)| cell);
            assert_eq!(
                [again, from_page]
                    .into_iter()
                    .flatten()
                    .filter(|&cell| cell == taken[0])
                    .count(),
                1,
                "the freed slot comes back, once"
            );
            if again == Some(taken[0]) {
                assert_eq!(from_page, None, "no other slot on a full page");
            }
            // Given up, then every cell freed: each page goes, once.
            let before = PAGES_FREED.load(SeqCst);
            pages.give_back();
            drop(pages);
            let new_page = again.filter(|&cell| cell != taken[0]);
            // The full page's cells in one chain (one atomic operation, not
            // one per cell: loom counts each).
            for pair in taken.windows(2) {
                let next = super::super::slot_of(page, pair[1]);
                // SAFETY: the cells are ours to free: their links too.
                unsafe { pair[0].cast::<u32>().write(next) };
            }
            let last = *taken.last().expect("a full page");
            // SAFETY: each cell is handed out once, and freed here once.
            unsafe { super::super::push_chain(page, taken[0], last, taken.len()) };
            if let Some(cell) = new_page {
                // SAFETY: as above.
                unsafe { push_remote(cell) };
            }
            let given_up = 1 + usize::from(new_page.is_some());
            assert!(PAGES_FREED.load(SeqCst) - before >= given_up);
        });
    }
}

/// Models of a task leaving its slot without the shard's lock: a walker's
/// pin against the task's wrapper, and the count of tasks gone against
/// the shard's close.
mod leaving {
    use crate::loom::atomic::AtomicU8;
    use crate::loom::model_sync::{Arc, thread};

    use super::super::leaving::{Leaving, mark_gone, pin, publish, reserve, unpin, wait_published};
    use super::super::{GONE, PINNED};
    use crate::loom::model_sync::Mutex;

    /// A published task's state (its poll count 8 bytes in).
    const LIVE: u8 = 2;

    /// A task in its slot: its state byte, and its memory, which the
    /// spawner writes before it publishes the task and the task's free
    /// takes back (loom checks that no walker reads it meanwhile).
    struct Slot {
        state: AtomicU8,
        task: UnsafeCell<u32>,
    }

    #[cfg(loom)]
    use loom::cell::UnsafeCell;
    #[cfg(not(loom))]
    use std::cell::UnsafeCell;

    // SAFETY: the task's memory is written by its spawner before it
    // publishes the slot and by its free after the slot is gone, and read
    // by a walker while it has the slot pinned: the protocol orders them
    // (which is what these models check).
    unsafe impl Sync for Slot {}

    impl Slot {
        fn new(state: u8, task: u32) -> Slot {
            Slot {
                state: AtomicU8::new(state),
                task: UnsafeCell::new(task),
            }
        }

        /// A walker's read of the task (its handle, its poll count).
        fn read(&self) -> u32 {
            #[cfg(loom)]
            // SAFETY: see `Sync`.
            return self.task.with(|task| unsafe { *task });
            #[cfg(not(loom))]
            // SAFETY: see `Sync`.
            unsafe {
                *self.task.get()
            }
        }

        /// The spawner's making of the task, or the free that follows its
        /// leaving (`0`).
        fn write(&self, value: u32) {
            #[cfg(loom)]
            // SAFETY: see `Sync`.
            self.task.with_mut(|task| unsafe { *task = value });
            #[cfg(not(loom))]
            // SAFETY: see `Sync`.
            unsafe {
                *self.task.get() = value
            }
        }
    }

    /// A walker pins the slot (twice, as two dumps would) while its task
    /// leaves: each walk sees the task whole, or sees it gone; the task
    /// leaves once, after the walks that pinned it.
    #[test]
    fn a_walker_reads_a_pinned_task_before_the_task_leaves() {
        crate::loom::model(|| {
            let slot = Arc::new(Slot::new(LIVE, 7));
            let walked = Arc::clone(&slot);
            let walker = thread::spawn(move || {
                let mut seen = 0;
                for _ in 0..2 {
                    if let Some(was) = pin(&walked.state) {
                        assert_eq!(was, LIVE);
                        assert_eq!(walked.read(), 7, "a pinned task is whole");
                        unpin(&walked.state, was);
                        seen += 1;
                    }
                }
                seen
            });
            assert!(mark_gone(&slot.state), "it leaves once");
            slot.write(0);
            let seen = walker.join().expect("the walker");
            assert!(seen <= 2);
            let state = slot.state.load(std::sync::atomic::Ordering::SeqCst);
            assert_eq!(state, GONE, "not {PINNED} or live again");
        });
    }

    /// A spawn takes a slot under the shard's lock and publishes its task
    /// after, without it, while shutdown closes the shard: shutdown either
    /// refuses the spawn, or waits for the task to be published and pins
    /// it (and reads it whole), so that it aborts it too.
    #[test]
    fn shutdown_waits_for_a_reserved_slot_and_sees_its_task() {
        crate::loom::model(|| {
            // The shard's lock, over its closed flag.
            let closed = Arc::new(Mutex::new(false));
            let slot = Arc::new(Slot::new(GONE, 0));
            let (lock, made) = (Arc::clone(&closed), Arc::clone(&slot));
            let spawner = thread::spawn(move || {
                {
                    let closed = lock.lock().expect("the shard's lock");
                    if *closed {
                        return false;
                    }
                    reserve(&made.state);
                }
                made.write(7);
                publish(&made.state, LIVE);
                true
            });
            let seen = {
                let mut shut = closed.lock().expect("the shard's lock");
                *shut = true;
                wait_published(&slot.state);
                pin(&slot.state).map(|was| {
                    assert_eq!(slot.read(), 7, "a published task is whole");
                    unpin(&slot.state, was);
                })
            };
            let spawned = spawner.join().expect("the spawner");
            assert_eq!(spawned, seen.is_some(), "a task spawned is seen");
        });
    }

    /// The shard closes while its last two tasks leave: exactly one of the
    /// three sees the shard closed with none left (and so releases the
    /// registry), whatever the order.
    #[test]
    fn exactly_one_sees_a_closed_shard_empty() {
        crate::loom::model(|| {
            let leaving = Arc::new(Leaving::new());
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let leaving = Arc::clone(&leaving);
                    thread::spawn(move || leaving.one_gone())
                })
                .collect();
            // Two tasks allocated, then none: the shard closes (under its
            // lock, which the tasks leaving do not take).
            let closer_saw_empty = leaving.close(2);
            let saw_empty = threads
                .into_iter()
                .map(|t| t.join().expect("a leaving task"))
                .filter(|&last| last)
                .count()
                + usize::from(closer_saw_empty);
            assert_eq!(saw_empty, 1);
            assert_eq!(leaving.live(2), 0);
        });
    }
}
