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

    use super::super::{PAGES_FREED, Pages, push_remote};
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
            let (a, b) = {
                let mut pages = pages.lock().expect("the shard's lock");
                let (a, _) = pages.take(layout()).expect("a slot");
                let (b, _) = pages.take(layout()).expect("a slot");
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
            let slots = super::super::Geometry::new(layout().size()).slots;
            let taken: Vec<NonNull<u8>> = {
                let mut guard = pages.lock().expect("the shard's lock");
                // One access through the guard (loom counts each).
                let pages: &mut Pages = &mut guard;
                (0..slots)
                    .map(|_| pages.take(layout()).expect("a slot").0)
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
            let again = pages.lock().expect("the shard's lock").take(layout());
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
