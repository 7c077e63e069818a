//! What a shard's pages keep outside its lock, so that a task leaves them
//! without taking it: where each page is ([`Directory`]), how many tasks
//! have left ([`Leaving`]), and the protocol on a record's state byte that
//! lets a task's wrapper mark its slot gone while a dump or shutdown walks
//! the shard's slots under the lock ([`pin`], [`unpin`], [`mark_gone`]),
//! with the spawn's steps before ([`reserve`], [`publish`],
//! [`wait_published`]).
//!
//! A walker (holding the lock, so one at a time) pins a live slot by
//! swapping its state for `PINNED` before it makes a handle to the task or
//! reads its poll count, and puts the state back after. A task's wrapper
//! marks its slot gone with a compare-and-swap, waiting while the slot is
//! pinned; it finishes dropping, and the task can be freed, only after
//! that. So a walker that pinned a slot uses a task that is still there,
//! and one that finds it gone leaves it alone.

use std::ptr::{NonNull, null_mut};

use super::{GONE, Header, PAGE_BITS, PINNED, RESERVED, record};
use crate::loom::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Pages per chunk of the directory (a power of two).
const CHUNK: usize = 64;
/// Chunks in a directory: enough for every page number.
const CHUNKS: usize = (1 << PAGE_BITS) / CHUNK;

type Chunk = [AtomicPtr<Header>; CHUNK];

/// A shard's pages by number, and its count of tasks gone, for the tasks'
/// wrappers, which use them without the shard's lock.
///
/// The pages are in chunks of 64 made as the shard grows: a shard with a
/// few pages has one chunk of 512 bytes, not a table for all 4,096.
#[repr(C, align(128))]
pub(crate) struct Directory {
    /// Written under the shard's lock, when it makes a page or a chunk.
    chunks: [AtomicPtr<Chunk>; CHUNKS],
    /// Written by every task that leaves: a line pair of its own, not to
    /// take the chunks' lines from the cores that read them.
    leaving: Pair<Leaving>,
}

/// Two cache lines of their own (CPUs that fetch lines in pairs).
#[repr(align(128))]
struct Pair<T>(T);

impl Directory {
    pub(crate) fn new() -> Directory {
        Directory {
            chunks: std::array::from_fn(|_| AtomicPtr::new(null_mut())),
            leaving: Pair(Leaving::new()),
        }
    }

    /// The count of the tasks that left the shard's pages.
    pub(super) fn leaving(&self) -> &Leaving {
        &self.leaving.0
    }

    /// Puts page `number` in. Under the shard's lock.
    pub(super) fn insert(&self, number: usize, page: NonNull<Header>) {
        let at = &self.chunks[number / CHUNK];
        let mut chunk = at.load(Ordering::Relaxed);
        if chunk.is_null() {
            let new: Box<Chunk> = Box::new(std::array::from_fn(|_| AtomicPtr::new(null_mut())));
            chunk = Box::into_raw(new);
            // Release: the chunk's contents, for `page` (Acquire).
            at.store(chunk, Ordering::Release);
        }
        // SAFETY: chunks stay until the directory is dropped.
        let chunk = unsafe { &*chunk };
        // Release: the page's header, written before.
        chunk[number % CHUNK].store(page.as_ptr(), Ordering::Release);
    }

    /// Page `number`, which holds a live task (the caller's).
    fn page(&self, number: usize) -> NonNull<Header> {
        let chunk = self.chunks[number / CHUNK].load(Ordering::Acquire);
        assert!(!chunk.is_null(), "a live task's page is in the directory");
        // SAFETY: chunks stay until the directory is dropped.
        let chunk = unsafe { &*chunk };
        NonNull::new(chunk[number % CHUNK].load(Ordering::Acquire))
            .expect("a live task's page is in the directory")
    }

    /// Marks the task in slot `key` (page, slot) gone: its wrapper calls
    /// this, without the shard's lock, before the task can be freed.
    /// Returns whether it was the last task to leave a closed shard's
    /// pages (see [`Leaving::one_gone`]).
    pub(crate) fn set_gone(&self, key: u32) -> bool {
        let number = (key >> super::SLOT_BITS) as usize;
        let slot = key & ((1 << super::SLOT_BITS) - 1);
        let header = self.page(number);
        // SAFETY: the record is in a page that lives (it holds the task).
        let state = unsafe { super::state(record(header, slot)) };
        mark_gone(state) && self.leaving().one_gone()
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        for at in &self.chunks {
            let chunk = at.load(Ordering::Relaxed);
            if !chunk.is_null() {
                // SAFETY: made by `insert` with `Box::into_raw`, and no
                // longer reachable.
                drop(unsafe { Box::from_raw(chunk) });
            }
        }
    }
}

/// How many tasks have left a shard's pages, and whether the shard is
/// closed, in one word: both sides of a close race (the shard closing, the
/// last task leaving) read-modify-write it, so exactly one of them sees the
/// shard's pages empty after the close.
pub(crate) struct Leaving {
    /// Twice the tasks gone (wrapping), plus 1 once the shard is closed.
    count: AtomicUsize,
    /// The tasks the shard had allocated when it closed (below `1 <<
    /// (usize::BITS - 1)`, wrapping): written before the close bit is set.
    at_close: AtomicUsize,
}

/// Counts of tasks wrap at this (the count's low bit is the close bit).
const COUNTS: usize = usize::MAX >> 1;

impl Leaving {
    pub(crate) fn new() -> Leaving {
        Leaving {
            count: AtomicUsize::new(0),
            at_close: AtomicUsize::new(0),
        }
    }

    /// Counts one task gone. Returns whether the shard was closed and that
    /// was the last of its tasks.
    pub(crate) fn one_gone(&self) -> bool {
        // AcqRel: the close (Release) and its `at_close`, if it came first.
        let before = self.count.fetch_add(2, Ordering::AcqRel);
        before & 1 == 1
            && (before >> 1).wrapping_add(1) & COUNTS == self.at_close.load(Ordering::Relaxed)
    }

    /// Closes the shard, which has allocated `allocated` tasks (wrapping).
    /// Under the shard's lock; nothing is allocated after. Returns whether
    /// every one had left already.
    pub(crate) fn close(&self, allocated: usize) -> bool {
        self.at_close.store(allocated & COUNTS, Ordering::Relaxed);
        // AcqRel: publishes `at_close` to the tasks that leave after.
        let before = self.count.fetch_or(1, Ordering::AcqRel);
        debug_assert_eq!(before & 1, 0, "a shard closes once");
        before >> 1 == allocated & COUNTS
    }

    /// How many of `allocated` tasks (wrapping) have not left. Under the
    /// shard's lock, which `allocated` is counted under.
    pub(crate) fn live(&self, allocated: usize) -> usize {
        allocated.wrapping_sub(self.count.load(Ordering::Acquire) >> 1) & COUNTS
    }
}

/// A record's state byte: std's atomic on a page, loom's in the models of
/// the protocol.
pub(super) trait StateByte {
    fn load(&self, order: Ordering) -> u8;
    fn store(&self, state: u8, order: Ordering);
    fn compare_exchange(&self, now: u8, new: u8, ok: Ordering, err: Ordering) -> Result<u8, u8>;
}

macro_rules! state_byte {
    ($atomic:ty) => {
        impl StateByte for $atomic {
            fn load(&self, order: Ordering) -> u8 {
                <$atomic>::load(self, order)
            }
            fn store(&self, state: u8, order: Ordering) {
                <$atomic>::store(self, state, order)
            }
            fn compare_exchange(
                &self,
                now: u8,
                new: u8,
                ok: Ordering,
                err: Ordering,
            ) -> Result<u8, u8> {
                <$atomic>::compare_exchange(self, now, new, ok, err)
            }
        }
    };
}

state_byte!(std::sync::atomic::AtomicU8);
#[cfg(loom)]
state_byte!(loom::sync::atomic::AtomicU8);

/// Marks a free slot taken for a task about to be made, under the shard's
/// lock (see `Pages::alloc`).
pub(super) fn reserve(state: &impl StateByte) {
    // Relaxed: the lock orders it before shutdown's look (`wait_published`).
    state.store(RESERVED, Ordering::Relaxed);
}

/// Makes a reserved slot's task live, its record's other bytes written:
/// the spawner's last step, without the lock (see `publish`).
pub(super) fn publish(state: &impl StateByte, live: u8) {
    debug_assert!(!matches!(live, GONE | PINNED | RESERVED));
    // Release: the task and the record, for a walker's `pin` (Acquire).
    state.store(live, Ordering::Release);
}

/// Waits while the slot is reserved: shutdown, holding the lock of a shard
/// it has closed, waits for a spawn that took the slot before to publish
/// its task, so that it aborts that task too. The spawner is between two
/// steps that do not block: a yield, if it was preempted there.
pub(super) fn wait_published(state: &impl StateByte) {
    while state.load(Ordering::Acquire) == RESERVED {
        crate::loom::thread::yield_now();
    }
}

/// Pins the slot whose state this is, for a walker holding the shard's
/// lock, if a published task is there: until [`unpin`], the task's wrapper
/// cannot mark it gone, and so the task is not freed. Returns the state to
/// put back.
pub(super) fn pin(state: &impl StateByte) -> Option<u8> {
    // Acquire: the record's other bytes, and the task, written before
    // `publish`.
    let now = state.load(Ordering::Acquire);
    if matches!(now, GONE | RESERVED) {
        return None;
    }
    debug_assert_ne!(now, PINNED, "one walker at a time, under the lock");
    // Only the task's wrapper changes a published state meanwhile (to
    // gone): then there is nothing to pin.
    state
        .compare_exchange(now, PINNED, Ordering::Acquire, Ordering::Relaxed)
        .ok()
}

/// Puts a pinned slot's state back (see [`pin`]).
pub(super) fn unpin(state: &impl StateByte, was: u8) {
    // Release: the walker's use of the task happens before the wrapper
    // marks the slot gone (Acquire), and so before the task is freed.
    state.store(was, Ordering::Release);
}

/// Marks a published slot gone, for the task's wrapper (no lock), waiting
/// while a walker has it pinned. Returns whether it was live (always, but
/// for a wrapper dropped twice, which cannot happen).
pub(super) fn mark_gone(state: &impl StateByte) -> bool {
    let mut now = state.load(Ordering::Relaxed);
    loop {
        match now {
            GONE | RESERVED => {
                debug_assert!(false, "a task leaves its slot once, after publishing it");
                return false;
            }
            PINNED => {
                // A walker holds it for a few loads and stores.
                crate::loom::thread::yield_now();
                now = state.load(Ordering::Relaxed);
            }
            live => {
                // Acquire: after the walker that unpinned it.
                match state.compare_exchange(live, GONE, Ordering::AcqRel, Ordering::Relaxed) {
                    Ok(_) => return true,
                    Err(changed) => now = changed,
                }
            }
        }
    }
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}
