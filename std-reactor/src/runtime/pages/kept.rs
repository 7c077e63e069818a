//! A thread's kept cells: see [`Freed`].

use std::ptr::NonNull;

use super::{SLOT_BITS, page_of, push_chain};
use crate::loom::atomic::Ordering;

/// Cells a thread freed, kept for its next spawns on the same shard: no
/// atomic operation on either side, and the memory is still in this core's
/// cache. A way holds up to `KEPT` cells of one shard (its `Pages`'s id)
/// and one slot size, with their keys; each kind has two candidate ways. A
/// free whose ways are both busy with other kinds goes to its page's
/// remote stack; a full way sends its cells there first. A thread's cells
/// go there too when it exits. A kept cell is neither free on its page nor
/// live: its page is not given back while the cell is kept.
pub(super) struct Freed {
    ways: [Way; WAYS],
}

pub(super) struct Way {
    owner: u64,
    slot_size: u32,
    len: usize,
    cells: [(NonNull<u8>, u32); KEPT],
}

/// Ways of `Freed` (a power of two).
const WAYS: usize = 64;
/// Cells kept per way.
const KEPT: usize = 16;

thread_local! {
    pub(super) static FREED: std::cell::RefCell<Freed> = const {
        std::cell::RefCell::new(Freed {
            ways: [const {
                Way {
                    owner: 0,
                    slot_size: 0,
                    len: 0,
                    cells: [(NonNull::dangling(), 0); KEPT],
                }
            }; WAYS],
        })
    };
}

impl Freed {
    /// The two ways a shard's cells of one slot size may use (by a hash:
    /// two choices keep a few kinds of cells from evicting each other).
    fn ways(owner: u64, slot_size: u32) -> [usize; 2] {
        let hash = owner.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ u64::from(slot_size).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        let at = (hash >> (u64::BITS - WAYS.trailing_zeros())) as usize;
        [at, at ^ 1]
    }

    /// The way holding a shard's cells of one slot size, if one does.
    pub(super) fn holding(&mut self, owner: u64, slot_size: u32) -> Option<&mut Way> {
        let at = Freed::ways(owner, slot_size)
            .into_iter()
            .find(|&at| self.ways[at].holds(owner, slot_size))?;
        Some(&mut self.ways[at])
    }

    /// A way to keep a shard's cell of one slot size in: the one holding
    /// such cells, or an empty one, or one whose cells' runtime is gone
    /// (they go back to their pages first); `None` if both are busy with
    /// live cells of other kinds.
    pub(super) fn keeping(&mut self, owner: u64, slot_size: u32) -> Option<&mut Way> {
        let candidates = Freed::ways(owner, slot_size);
        let at = candidates
            .into_iter()
            .find(|&at| self.ways[at].holds(owner, slot_size))
            .or_else(|| candidates.into_iter().find(|&at| self.ways[at].len == 0))
            .or_else(|| candidates.into_iter().find(|&at| self.ways[at].is_stale()))?;
        let way = &mut self.ways[at];
        if !way.holds(owner, slot_size) {
            way.flush();
            way.owner = owner;
            way.slot_size = slot_size;
        }
        Some(way)
    }
}

impl Way {
    /// Keeps `cell` (with its key); a full way first sends its cells back
    /// to their pages, one compare-and-swap per page.
    pub(super) fn keep(&mut self, cell: NonNull<u8>, key: u32) {
        if self.len == KEPT {
            self.flush();
        }
        self.cells[self.len] = (cell, key);
        self.len += 1;
    }

    /// The cell kept last, with its key.
    pub(super) fn take(&mut self) -> Option<(NonNull<u8>, u32)> {
        self.len = self.len.checked_sub(1)?;
        Some(self.cells[self.len])
    }

    fn holds(&self, owner: u64, slot_size: u32) -> bool {
        self.owner == owner && self.slot_size == slot_size
    }

    /// Whether the kept cells' runtime is gone (their page given up).
    fn is_stale(&self) -> bool {
        // SAFETY: a kept cell's page lives.
        self.len > 0
            && unsafe { page_of(self.cells[0].0).as_ref() }
                .geometry
                .0
                .orphaned
                .load(Ordering::Relaxed)
    }

    /// Sends the kept cells back to their pages, those of one page linked
    /// into one chain and pushed at once (they are mostly of one page).
    fn flush(&mut self) {
        let cells = &mut self.cells[..self.len];
        let mut rest = cells.len();
        while rest > 0 {
            // The last cell's page: gather its cells at the end.
            let page = page_of(cells[rest - 1].0);
            let mut first = rest - 1;
            for i in (0..first).rev() {
                if page_of(cells[i].0) == page {
                    first -= 1;
                    cells.swap(i, first);
                }
            }
            let chain = &cells[first..rest];
            // Linked in order: each cell's link is the next one's slot.
            for pair in chain.windows(2) {
                let next = pair[1].1 & ((1 << SLOT_BITS) - 1);
                // SAFETY: kept cells are free: their links are ours.
                unsafe { pair[0].0.cast::<u32>().write(next) };
            }
            // SAFETY: kept cells are free, linked above, and their page
            // lives.
            unsafe { push_chain(page, chain[0].0, chain[chain.len() - 1].0, chain.len()) };
            rest = first;
        }
        self.len = 0;
    }
}

impl Drop for Freed {
    fn drop(&mut self) {
        for way in &mut self.ways {
            way.flush();
        }
    }
}
