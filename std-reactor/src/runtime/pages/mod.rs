//! Task cells on pages the runtime owns: where the runtime's boxed tasks
//! live, and how its task registry finds them.
//!
//! A page is 64 KiB, aligned to its size, of one slot size: a header (three
//! cache lines), a 7-byte record per slot (its state: free, reserved, or
//! live and where in the cell its poll count is; its spawn location; the
//! high part of its id), then the slots. A task costs its cell rounded up
//! to 8 bytes, its record, and its share of the header: no malloc header
//! and no table entry. A parked 56-byte task takes 63 bytes, where a boxed
//! task and its entry took 72 and more.
//!
//! Each registry shard has its own pages, used under its lock:
//!
//! - **Spawn.** `reserve` takes a slot under the lock and marks it
//!   `RESERVED`. The task is made in it outside the lock, and [`publish`]
//!   makes it live with one store (Release). A dump skips reserved slots;
//!   shutdown waits for them to be published ([`Pages::wait_reserved`]), so
//!   it aborts those tasks too.
//! - **Dumps and shutdown** walk a shard's live slots under its lock, as
//!   they walk the table's entries. A task's future wrapper marks its slot
//!   gone without the lock, once the future is dropped
//!   ([`Directory::set_gone`], which finds the page in a directory kept
//!   outside the lock); a walker pins each live slot while it uses the
//!   task, and the wrapper waits for that (see `leaving`). A count of the
//!   tasks gone, beside the directory, tells how many are live.
//! - **Free.** The task's last reference may go on any thread, without the
//!   lock. The slot is kept by that thread for its next spawn on the same
//!   shard (`Freed`: no atomic operation on either side, and the memory is
//!   still in this core's cache); when its cache is full, or the thread
//!   exits, the slot goes onto its page's stack of remote frees (one
//!   compare-and-swap), which the shard takes whole when it runs out of
//!   slots. A slot finds its page by masking its address.
//! - **Giving back.** A shard keeps the pages it has had while its registry
//!   is open, as a slab allocator keeps its high-water mark. Once the
//!   registry is closed and empty, [`Pages::give_back`] frees the pages with
//!   no cell left, and leaves the others a countdown of their cells (tasks
//!   whose handles outlive the runtime, slots a thread keeps): the free of
//!   the last one frees the page.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::ptr::NonNull;
// The records' state bytes are std's atomics, made from a page's raw bytes;
// the header's go through `crate::loom`, for the models at the end.
use std::sync::atomic::AtomicU8;

use crate::loom::atomic::{AtomicBool, AtomicU32, Ordering};

use pollen_core::task::TaskMemory;

use self::kept::FREED;
pub(crate) use self::leaving::Directory;

mod kept;
mod leaving;

/// Bytes per page, and their alignment.
const PAGE_BYTES: usize = 1 << 16;
/// Room for the header at the page's start: three cache lines.
const HEADER_BYTES: usize = size_of::<Header>();
/// Largest slot on a page (at least 25 per page); larger tasks are boxed.
const MAX_SLOT: usize = 2048;
/// Largest alignment of a slot; more-aligned tasks are boxed.
const MAX_ALIGN: usize = 16;
/// Bits of a paged task's key within its shard that name its slot, and
/// above them its page (the registry's key puts the shard's index in its
/// low `tasks::SHARD_BITS`, and this above).
pub(crate) const SLOT_BITS: u32 = 12;
pub(crate) const PAGE_BITS: u32 = 12;
const MAX_PAGES: usize = 1 << PAGE_BITS;
/// The end of a free list.
const NONE: u32 = u32::MAX;
/// `remote_free` of a page its shard gave up while cells were left on it:
/// the last of them to be freed frees the page (see `Info::left`).
const ORPHAN: u32 = u32::MAX - 1;

/// A slot's state (its record's first byte, atomic): its task has lost its
/// future, or it holds no task.
const GONE: u8 = 0;
/// A slot's state: its task has its future, and a walker holding the
/// shard's lock is using it (see `leaving::pin`).
const PINNED: u8 = 253;
/// A slot's state: taken for a task being made (see [`Pages::alloc`]).
const RESERVED: u8 = 254;
/// A slot's state: its task has its future, and its poll count is too far
/// into the cell to say. Any other state in `1..PINNED`: the task has its
/// future, and its count is that many fours of bytes into its cell.
const POLLS_UNKNOWN: u8 = u8::MAX;

/// The start of a page, on three cache lines: one read by everyone, one
/// written by the shard under its lock, one written by the threads that
/// free slots (a line shared by writers on different cores moves between
/// them at every write).
#[repr(C)]
struct Header {
    geometry: Line<Info>,
    /// Under the shard's lock only.
    local: Line<UnsafeCell<Local>>,
    /// Slots freed on any thread since the shard last took them: a stack
    /// of slot indices linked through the slots' first four bytes; or
    /// `ORPHAN` once the shard has given the page up (`Pages::give_back`).
    remote_free: Line<AtomicU32>,
}

/// A cache line of its own.
#[repr(C, align(64))]
struct Line<T>(T);

/// What a page's owner changes, under the shard's lock.
struct Local {
    /// Freed slots taken from `remote_free`, linked the same way.
    free: u32,
    /// Slots handed out at least once: those from `bump` on are untouched.
    bump: u32,
}

/// Where things are on a page of one slot size. The records start at
/// `HEADER_BYTES`, `RECORD_BYTES` each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Geometry {
    slot_size: u32,
    slots: u32,
    /// The offset of the first slot from the page's start.
    slots_at: u32,
    /// The page's number in its shard (`Pages::pages`).
    number: u16,
    /// The id of the shard's `Pages` (see `Freed`).
    owner: u64,
}

/// What the first line holds besides the geometry: set once, when the
/// shard gives the page up, and read by every free (which reads the
/// geometry anyway).
struct Info {
    geometry: Geometry,
    /// Whether the page is an orphan (a hint: frees then skip the thread's
    /// kept cells).
    orphaned: AtomicBool,
    /// Cells an orphan still has, counted down by their frees; the count
    /// wraps if frees come before `give_back` adds the cells it found.
    left: AtomicU32,
}

/// A slot's record: its state byte (atomic), its location's number and its
/// id's high part (little-endian, unaligned): one array of them, so a
/// spawn writes one cache line, not three.
const RECORD_BYTES: usize = 7;

/// A live task on a page, as the registry sees it.
pub(crate) struct LiveTask {
    /// The task's cell, with the page's provenance.
    pub(crate) task: NonNull<()>,
    /// Its poll count (in its `Tracked`), if known (see [`publish`]).
    pub(crate) polls: Option<NonNull<std::sync::atomic::AtomicU32>>,
    pub(crate) location: u16,
    pub(crate) admitted: u32,
    /// Its key within the shard: page, then slot.
    pub(crate) key: u32,
}

/// The pages of one registry shard. Every method runs under the shard's
/// lock (`&mut self`, or `&self` through the locked guard); those that need
/// the shard's [`Directory`] (kept outside the lock) take it.
#[derive(Debug)]
pub(crate) struct Pages {
    /// Unique in the process (never 0): what a thread's kept cells say
    /// they belong to (see `Freed`).
    id: u64,
    /// By page number (the middle bits of a paged task's key); `None` once
    /// given back.
    pages: Vec<Option<NonNull<Header>>>,
    /// Slot sizes in use, and their pages.
    classes: Vec<Class>,
    /// Slots ever taken for a task (wrapping): less those whose task has
    /// left (`Directory`'s count), the tasks that have their futures.
    allocated: usize,
}

#[derive(Debug)]
struct Class {
    slot_size: u32,
    /// Page numbers of this size.
    pages: Vec<u16>,
    /// Where the next search for a free slot starts, in `pages`.
    cursor: usize,
}

impl Default for Pages {
    fn default() -> Pages {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Pages {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            pages: Vec::new(),
            classes: Vec::new(),
            allocated: 0,
        }
    }
}

// SAFETY: the pages are owned by the shard, reached only under its lock
// (but for `remote_free`, atomic), and hold tasks that are `Send`.
unsafe impl Send for Pages {}

/// A slot taken by [`Pages::alloc`] for a task about to be made.
pub(crate) struct Reserved {
    /// Memory for the cell, with the page's provenance.
    pub(crate) cell: NonNull<u8>,
    /// The cell's layout, which the slot fits.
    pub(crate) layout: Layout,
    /// Its key within the shard: page, then slot.
    pub(crate) key: u32,
    record: NonNull<u8>,
}

/// Makes the task in `reserved` live for dumps and shutdown: where its
/// poll count is (`polls` bytes into its cell, if known), its spawn
/// location and its id's high part. Needs no lock, nor a read-modify-write:
/// the state byte, stored last (Release), publishes the rest, and
/// shutdown waits for it ([`Pages::wait_reserved`]).
pub(crate) fn publish(reserved: Reserved, polls: Option<usize>, location: u16, admitted: u32) {
    // Stored in fours: counts are 4-aligned.
    let code = polls
        .filter(|polls| polls % 4 == 0)
        .and_then(|polls| u8::try_from(polls / 4).ok())
        .filter(|&code| code != GONE && code < PINNED)
        .unwrap_or(POLLS_UNKNOWN);
    let mut bytes = [0; RECORD_BYTES - 1];
    bytes[..2].copy_from_slice(&location.to_le_bytes());
    bytes[2..].copy_from_slice(&admitted.to_le_bytes());
    // SAFETY: the record's bytes after the state are the reservation's to
    // write until it is published (readers look only at published ones).
    unsafe {
        reserved
            .record
            .add(1)
            .cast::<[u8; RECORD_BYTES - 1]>()
            .write(bytes);
    }
    // SAFETY: the record is in a live page.
    leaving::publish(unsafe { state(reserved.record) }, code);
}

/// The state byte of the record at `record`.
///
/// # Safety
///
/// `record` is a record of a live page.
unsafe fn state<'a>(record: NonNull<u8>) -> &'a AtomicU8 {
    // SAFETY: forwarded from the caller: a byte of the page, only ever
    // accessed atomically.
    unsafe { record.cast::<AtomicU8>().as_ref() }
}

/// The runtime's `TaskMemory`: hands a freed cell back to its page.
pub(crate) struct OnPages;

// SAFETY: every cell placed with `OnPages` came from `Pages::alloc`, on a
// page that stays until all its cells are freed (`Pages::give_back`).
unsafe impl TaskMemory for OnPages {
    unsafe fn free(cell: NonNull<u8>, _layout: Layout) {
        let header = page_of(cell);
        // SAFETY: the page lives while a cell in it does, and its geometry
        // is read-only.
        let info = unsafe { &header.as_ref().geometry.0 };
        if info.orphaned.load(Ordering::Relaxed) {
            // Its shard is gone: straight back to the page, which may go.
            // SAFETY: the cell is free (its task is gone) and its page lives.
            unsafe { push_remote(cell) };
            return;
        }
        let geometry = info.geometry;
        let key = u32::from(geometry.number) << SLOT_BITS | slot_of(header, cell);
        let kept = FREED.try_with(|freed| {
            let Ok(mut freed) = freed.try_borrow_mut() else {
                return false;
            };
            // Ways busy with other kinds of live cells: this one goes to its
            // page instead (sending theirs back would only repeat when
            // two kinds are freed in turn).
            let Some(way) = freed.keeping(geometry.owner, geometry.slot_size) else {
                return false;
            };
            way.keep(cell, key);
            true
        });
        if kept != Ok(true) {
            // SAFETY: the cell is free (its task is gone) and its page lives.
            unsafe { push_remote(cell) };
        }
    }
}

/// The page a cell is on: the cell's provenance is its page's whole
/// allocation (`Pages::alloc` derived it from there).
fn page_of(cell: NonNull<u8>) -> NonNull<Header> {
    cell.map_addr(|addr| {
        std::num::NonZeroUsize::new(addr.get() & !(PAGE_BYTES - 1)).expect("a page's address")
    })
    .cast::<Header>()
}

/// The index of `cell` on the page at `header`.
fn slot_of(header: NonNull<Header>, cell: NonNull<u8>) -> u32 {
    // SAFETY: the caller's page lives (it holds a cell of it).
    let geometry = unsafe { header.as_ref() }.geometry.0.geometry;
    u32::try_from(
        (cell.addr().get() - header.addr().get() - geometry.slots_at as usize)
            / geometry.slot_size as usize,
    )
    .expect("a slot index")
}

/// Puts a freed cell on its page's stack of remote frees.
///
/// # Safety
///
/// The cell is free (no task in it) and was taken from a page that lives.
unsafe fn push_remote(cell: NonNull<u8>) {
    // SAFETY: forwarded from the caller: a chain of one.
    unsafe { push_chain(page_of(cell), cell, cell, 1) };
}

/// Puts `count` freed cells of the page at `header`, linked from `first`
/// to `last` (whose link this sets), on the page's stack of remote frees.
///
/// # Safety
///
/// The cells are free (no task in them), of a page that lives, and linked
/// from `first` to `last` through their first four bytes.
unsafe fn push_chain(header: NonNull<Header>, first: NonNull<u8>, last: NonNull<u8>, count: usize) {
    // SAFETY: forwarded from the caller; `remote_free` is atomic.
    let page = unsafe { header.as_ref() };
    let slot = slot_of(header, first);
    let mut head = page.remote_free.0.load(Ordering::Relaxed);
    loop {
        if head == ORPHAN {
            let count = u32::try_from(count).expect("a page's cells");
            // AcqRel: every other cell's use happens before the page goes.
            let left = page.geometry.0.left.fetch_sub(count, Ordering::AcqRel);
            if left == count {
                // SAFETY: those were the orphan's last cells: nothing refers
                // to the page any more.
                unsafe { dealloc_page(header) };
            }
            return;
        }
        // SAFETY: the last cell is ours (its task is gone), at least 8
        // bytes, aligned to 8.
        unsafe { last.cast::<u32>().write(head) };
        // Release: the links happen before the shard takes the stack
        // (Acquire).
        match page.remote_free.0.compare_exchange_weak(
            head,
            slot,
            Ordering::Release,
            Ordering::Relaxed,
        ) {
            Ok(_) => return,
            Err(now) => head = now,
        }
    }
}

// === impl Geometry ===

impl Geometry {
    /// The layout of a page of `slot_size`-byte slots (a multiple of 8).
    fn new(slot_size: usize) -> Geometry {
        let fit = |slots: usize| -> Option<Geometry> {
            let slots_at = (HEADER_BYTES + RECORD_BYTES * slots).next_multiple_of(MAX_ALIGN);
            (slots_at + slots * slot_size <= PAGE_BYTES).then_some(Geometry {
                slot_size: slot_size as u32,
                slots: slots as u32,
                slots_at: slots_at as u32,
                number: 0,
                owner: 0,
            })
        };
        // An estimate, then down until it fits (at most a few steps).
        let mut slots =
            ((PAGE_BYTES - HEADER_BYTES) / (slot_size + RECORD_BYTES)).min(1 << SLOT_BITS);
        loop {
            if let Some(geometry) = fit(slots) {
                return geometry;
            }
            slots -= 1;
        }
    }
}

// === impl Pages ===

impl Pages {
    /// A slot for a cell of `layout`, its key (page, slot) and its record,
    /// or `None` if the cell is too large or too aligned for a page, or the
    /// shard has as many pages as a key can name: the caller boxes the task.
    ///
    /// The slot is `RESERVED`, and counted live, until [`publish`] makes
    /// it live for dumps and shutdown (see [`wait_reserved`]), so that
    /// making the task happens outside the shard's lock.
    ///
    /// [`wait_reserved`]: Pages::wait_reserved
    #[inline]
    pub(crate) fn alloc(&mut self, directory: &Directory, layout: Layout) -> Option<Reserved> {
        let (cell, key) = self.take(directory, layout)?;
        let (header, slot) = self.find(key);
        let record = record(header, slot);
        // SAFETY: the record is in the page (a state byte, atomic).
        leaving::reserve(unsafe { state(record) });
        self.allocated = self.allocated.wrapping_add(1);
        Some(Reserved {
            cell,
            layout,
            key,
            record,
        })
    }

    /// A slot for `layout`: one this thread kept (the common case, inlined
    /// into the spawn), or one from the pages.
    #[inline]
    fn take(&mut self, directory: &Directory, layout: Layout) -> Option<(NonNull<u8>, u32)> {
        if layout.size() > MAX_SLOT || layout.align() > MAX_ALIGN {
            return None;
        }
        // Alignments are powers of two: a mask, not a division.
        let align = layout.align().max(8);
        let slot_size = (layout.size().max(8) + align - 1) & !(align - 1);
        if let Some(taken) = self.take_freed_here(slot_size) {
            return Some(taken);
        }
        self.take_from_pages(directory, slot_size)
    }

    /// A free slot of `slot_size` bytes on the pages, or on a new page.
    fn take_from_pages(
        &mut self,
        directory: &Directory,
        slot_size: usize,
    ) -> Option<(NonNull<u8>, u32)> {
        let owner = self.id;
        let class = match self
            .classes
            .iter()
            .position(|c| c.slot_size as usize == slot_size)
        {
            Some(class) => class,
            None => {
                self.classes.push(Class {
                    slot_size: slot_size as u32,
                    pages: Vec::new(),
                    cursor: 0,
                });
                self.classes.len() - 1
            }
        };
        let class = &mut self.classes[class];
        // From the cursor round: the page that gave the last slot first.
        let count = class.pages.len();
        let mut at = class.cursor;
        for _ in 0..count {
            let number = class.pages[at];
            let header = self.pages[usize::from(number)].expect("a class's pages are kept");
            // SAFETY: a page of this shard, under its lock.
            if let Some((cell, slot)) = unsafe { take_slot(header) } {
                if class.cursor != at {
                    class.cursor = at;
                }
                return Some((cell, u32::from(number) << SLOT_BITS | slot));
            }
            at += 1;
            if at == count {
                at = 0;
            }
        }
        // Every page is full: a new one.
        let number = match self.pages.iter().position(Option::is_none) {
            Some(number) => number,
            None if self.pages.len() < MAX_PAGES => {
                self.pages.push(None);
                self.pages.len() - 1
            }
            None => return None,
        };
        let number16 = u16::try_from(number).expect("below MAX_PAGES");
        let header = new_page(Geometry {
            number: number16,
            owner,
            ..Geometry::new(slot_size)
        });
        self.pages[number] = Some(header);
        directory.insert(number, header);
        let number = number16;
        class.pages.push(number);
        class.cursor = class.pages.len() - 1;
        // SAFETY: as above; a new page has room.
        let (cell, slot) = unsafe { take_slot(header) }.expect("a new page has room");
        Some((cell, u32::from(number) << SLOT_BITS | slot))
    }

    /// A slot of `slot_size` bytes that this thread freed, from these
    /// pages, if it kept one (see [`kept::Freed`]). Touches nothing but the
    /// thread's own memory and the slot.
    #[inline]
    fn take_freed_here(&mut self, slot_size: usize) -> Option<(NonNull<u8>, u32)> {
        let owner = self.id;
        FREED
            .try_with(|freed| {
                let mut freed = freed.try_borrow_mut().ok()?;
                freed.holding(owner, slot_size as u32)?.take()
            })
            .ok()
            .flatten()
    }

    /// Waits until no slot is `RESERVED`: every task whose spawner took
    /// a slot before the caller locked the shard is published. Shutdown
    /// calls it, holding the lock of a shard it has closed (no slot is
    /// taken meanwhile), so that it aborts those tasks too (see
    /// `leaving::wait_published`).
    pub(crate) fn wait_reserved(&self) {
        self.for_each_state(|_, _, state| leaving::wait_published(state));
    }

    /// How many tasks on these pages have their futures.
    pub(crate) fn live(&self, directory: &Directory) -> usize {
        directory.leaving().live(self.allocated)
    }

    /// Closes the pages to new tasks (the shard is closed, once: no slot
    /// is taken after), so that the last task to leave knows it is.
    pub(crate) fn close(&self, directory: &Directory) {
        directory.leaving().close(self.allocated);
    }

    /// Calls `f` with every slot ever handed out, its key and its state.
    fn for_each_state(&self, mut f: impl FnMut(NonNull<Header>, u32, &AtomicU8)) {
        for (number, header) in self.pages.iter().enumerate() {
            let Some(header) = *header else { continue };
            // SAFETY: a page of this shard, under its lock.
            let bump = unsafe { local(header).bump };
            for slot in 0..bump {
                // SAFETY: the record is in the page.
                let state = unsafe { state(record(header, slot)) };
                f(header, (number as u32) << SLOT_BITS | slot, state);
            }
        }
    }

    /// Calls `f` with every task on these pages that has its future,
    /// pinned (see `leaving`): the task stays until `f` returns.
    pub(crate) fn for_each_live(&self, mut f: impl FnMut(LiveTask)) {
        /// Unpins the slot when dropped, also if `f` panics: its task's
        /// wrapper waits for that.
        struct Pinned<'a>(&'a AtomicU8, u8);

        impl Drop for Pinned<'_> {
            fn drop(&mut self) {
                leaving::unpin(self.0, self.1);
            }
        }

        self.for_each_state(|header, key, state| {
            let Some(polls) = leaving::pin(state) else {
                return;
            };
            let _pinned = Pinned(state, polls);
            let slot = key & ((1 << SLOT_BITS) - 1);
            let cell = slot_ptr(header, slot);
            // SAFETY: published (`pin` read the state with Acquire): these
            // bytes were written before, and are left alone until the slot
            // is taken again, under the lock the caller holds.
            let bytes = unsafe {
                record(header, slot)
                    .add(1)
                    .cast::<[u8; RECORD_BYTES - 1]>()
                    .read()
            };
            f(LiveTask {
                task: cell.cast(),
                // SAFETY: the count's offset was taken from the cell
                // (`publish`): it is inside it.
                polls: (polls != POLLS_UNKNOWN)
                    .then(|| unsafe { cell.add(usize::from(polls) * 4) }.cast()),
                location: u16::from_le_bytes([bytes[0], bytes[1]]),
                admitted: u32::from_le_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]),
                key,
            });
        });
    }

    /// Gives every page up, once the registry is closed and empty: those
    /// with no cell left are freed now; each of the others is freed by the
    /// free of its last cell (a task's handle may outlive the runtime, and
    /// a thread may keep freed cells until it exits).
    ///
    /// The shard's `Directory` keeps their addresses, unused: only a task
    /// that has not left looks a page up there, and there is none now.
    pub(crate) fn give_back(&mut self) {
        for header in std::mem::take(&mut self.pages).into_iter().flatten() {
            // SAFETY: a page of this shard, under its lock.
            let page = unsafe { header.as_ref() };
            // SAFETY: as above.
            let local = unsafe { local(header) };
            // From now on frees count down `left` instead of pushing
            // (Acquire: the links of those pushed so far).
            let remote = page.remote_free.0.swap(ORPHAN, Ordering::Acquire);
            let slots = page.geometry.0.geometry.slots;
            let mut free = slots - local.bump;
            for list in [local.free, remote] {
                let mut at = list;
                while at != NONE {
                    free += 1;
                    // SAFETY: a free slot's first four bytes link to the
                    // next one.
                    at = unsafe { slot_ptr(header, at).cast::<u32>().read() };
                }
            }
            let cells = slots - free;
            page.geometry.0.orphaned.store(true, Ordering::Relaxed);
            // AcqRel: against the frees that came first (they counted
            // below zero).
            let left = page.geometry.0.left.fetch_add(cells, Ordering::AcqRel);
            if left.wrapping_add(cells) == 0 {
                // SAFETY: every cell is free and the shard has let go:
                // nothing refers to the page any more.
                unsafe { dealloc_page(header) };
            }
        }
        self.classes.clear();
    }

    /// How many pages the shard holds.
    #[cfg(test)]
    pub(crate) fn pages_held(&self) -> usize {
        self.pages.iter().flatten().count()
    }

    /// Pages freed so far in the process (by `dealloc_page`).
    #[cfg(test)]
    pub(crate) fn pages_freed() -> usize {
        PAGES_FREED.load(Ordering::Relaxed)
    }

    /// The page and slot of `key` (page, slot).
    fn find(&self, key: u32) -> (NonNull<Header>, u32) {
        let number = (key >> SLOT_BITS) as usize & (MAX_PAGES - 1);
        let slot = key & ((1 << SLOT_BITS) - 1);
        let header = self.pages[number].expect("a live task's page is kept");
        (header, slot)
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // Only registries that are dropped (in tests; runtimes' are leaked)
        // get here, after their tasks are gone.
        self.give_back();
    }
}

/// The page layout.
fn page_layout() -> Layout {
    Layout::from_size_align(PAGE_BYTES, PAGE_BYTES).expect("a page's layout")
}

/// A new, empty page of `geometry`.
fn new_page(geometry: Geometry) -> NonNull<Header> {
    let layout = page_layout();
    // SAFETY: the layout is not zero-sized.
    let page = unsafe { std::alloc::alloc(layout) };
    let Some(page) = NonNull::new(page) else {
        std::alloc::handle_alloc_error(layout);
    };
    let header = page.cast::<Header>();
    // SAFETY: fresh memory, large and aligned enough for the header.
    unsafe {
        header.write(Header {
            geometry: Line(Info {
                geometry,
                orphaned: AtomicBool::new(false),
                left: AtomicU32::new(0),
            }),
            local: Line(UnsafeCell::new(Local {
                free: NONE,
                bump: 0,
            })),
            remote_free: Line(AtomicU32::new(NONE)),
        });
    }
    header
}

/// The page's `Local`.
///
/// # Safety
///
/// `header` is a live page, and the caller holds its shard's lock (and no
/// other reference to the `Local`).
unsafe fn local<'a>(header: NonNull<Header>) -> &'a mut Local {
    // SAFETY: forwarded from the caller.
    unsafe { &mut *header.as_ref().local.0.get() }
}

/// Slot `slot`'s record (its first byte: the state), on a live page.
/// Every page keeps them at the same place: no load of the geometry.
fn record(header: NonNull<Header>, slot: u32) -> NonNull<u8> {
    in_page(header, HEADER_BYTES + slot as usize * RECORD_BYTES)
}

/// Takes a free slot of the page, if it has one: first those freed before,
/// then an untouched one.
///
/// # Safety
///
/// `header` is a live page of the caller's shard, whose lock it holds.
unsafe fn take_slot(header: NonNull<Header>) -> Option<(NonNull<u8>, u32)> {
    // SAFETY: forwarded from the caller.
    let page = unsafe { header.as_ref() };
    // SAFETY: as above.
    let local = unsafe { local(header) };
    let geometry = page.geometry.0.geometry;
    let at = |slot: u32| slot_ptr(header, slot);
    if local.free == NONE && local.bump < geometry.slots {
        // Untouched slots before the remote stack: taking the stack is a
        // read-modify-write on a line the freeing threads write, and once
        // the page is used up it holds most of the page at once.
        let slot = local.bump;
        local.bump += 1;
        return Some((at(slot), slot));
    }
    if local.free == NONE {
        // A load first: a page found full often has nothing freed, and a
        // swap would take the line from the threads that push onto it.
        if page.remote_free.0.load(Ordering::Relaxed) == NONE {
            return None;
        }
        // Acquire: the links written by the freeing threads.
        local.free = page.remote_free.0.swap(NONE, Ordering::Acquire);
    }
    let slot = local.free;
    // SAFETY: a free slot's first four bytes link to the next one.
    local.free = unsafe { at(slot).cast::<u32>().read() };
    Some((at(slot), slot))
}

/// Frees a page.
///
/// # Safety
///
/// Nothing refers to the page any more: no cell is left on it, and no
/// shard holds it.
unsafe fn dealloc_page(header: NonNull<Header>) {
    #[cfg(test)]
    PAGES_FREED.fetch_add(1, Ordering::Relaxed);
    // SAFETY: forwarded from the caller; `new_page` allocated it with this
    // layout.
    unsafe { std::alloc::dealloc(header.as_ptr().cast(), page_layout()) };
}

#[cfg(test)]
static PAGES_FREED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Slot `slot` (below the slot count) of a live page.
fn slot_ptr(header: NonNull<Header>, slot: u32) -> NonNull<u8> {
    // SAFETY: the caller's page is live (every caller holds its lock, or
    // a cell on it).
    let geometry = unsafe { header.as_ref().geometry.0.geometry };
    in_page(
        header,
        geometry.slots_at as usize + slot as usize * geometry.slot_size as usize,
    )
}

/// The byte `bytes` (below `PAGE_BYTES`) into a live page, with the
/// page's provenance.
fn in_page(header: NonNull<Header>, bytes: usize) -> NonNull<u8> {
    debug_assert!(bytes < PAGE_BYTES);
    // SAFETY: the offset is inside the page's allocation.
    unsafe { header.cast::<u8>().add(bytes) }
}

#[cfg(test)]
mod tests;
