//! The registry of a runtime's live tasks: what shutdown drops, what
//! `Handle::dump` lists, where the watchdog finds a stuck task's name.
//!
//! A task's future is wrapped in [`Tracked`], which holds the task's place
//! in the registry and gives it up when the future is dropped (on
//! completion or cancellation). Most of the runtime's tasks live on pages
//! the registry's shards own (`pages.rs`): the task's slot there is its
//! place, with a 7-byte record beside it. The others (too large for a page,
//! in a `TaskPool`'s static slots, local tasks) are boxed or placed by their
//! pool, with a 16-byte entry in a table. Either way the registry knows the
//! task's address (shutdown aborts every task still registered, and the
//! runtime drops their futures), its id and its spawn location; the
//! `Tracked` (11 bytes in front of the future) keeps the registry's number
//! and its key, to give its place up, and the poll count. Names of named
//! tasks sit in a side table, so unnamed tasks pay nothing for them.
//!
//! The address holds no reference of its own: a counted handle would cost
//! every task two more atomic operations (one at spawn, one at the end).
//! The runtime's schedulers keep their tasks alive instead
//! (`Schedule::KEEPS_TASKS_ALIVE`): a task holds a reference to itself
//! until it completes, so one that nothing can wake any more stays until
//! shutdown aborts it, as in tokio. And the address is good while the
//! entry is in the table, or the page slot is live: the task's future (its
//! `Tracked`) takes the entry out under the shard's lock, or marks the slot
//! gone (without the lock, waiting while a walker under it has the slot
//! pinned: see `pages`), before it finishes dropping, and a task completes,
//! and can be freed, only after that. A handle is made from the address
//! only under that lock, from an entry or a pinned slot.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use slab::Slab;

use super::locations;
use super::pages::{self, Pages};
use crate::task::{AbortHandle, JoinHandle};
use pollen_core::task::{Runnable, Schedule};

/// The live tasks of one runtime, in shards.
///
/// Each shard is a slab and pages under its own lock. A thread spawns into
/// a shard of its own while no other thread holds its lock (see
/// `lock_home`), so threads that spawn rarely want the same lock, and a
/// shard's lines stay in its spawner's cache; a task on a page leaves it
/// without the lock (see `pages`), and one in the table under it.
#[derive(Debug)]
pub(crate) struct TaskRegistry {
    shards: Box<[Shard]>,
    /// `shards.len() - 1`; the count is a power of two.
    mask: usize,
    /// This registry's share of the id space (see [`TaskRegistry::new`]).
    space: u64,
    /// The number its tasks' `Tracked`s name it by (see [`numbers`]),
    /// taken at the first spawn.
    number: std::sync::OnceLock<u16>,
    /// Set when the number has been given back: the registry is closed
    /// and empty, so no `Tracked` names it any more.
    released: std::sync::atomic::AtomicBool,
}

/// Bits of a task id that name its registry: ids are unique across the
/// registries of a process (a runtime's, and each thread's local tasks').
const SPACE_BITS: u32 = 16;

/// One shard, on cache lines of its own: spawns and completions on
/// different workers write different shards, and must not invalidate each
/// other's lines (128 bytes: CPUs that fetch lines in pairs).
#[derive(Debug)]
#[repr(align(128))]
struct Shard {
    inner: Mutex<Inner>,
    /// Where its pages are, for the tasks that leave them without the lock
    /// (on lines of its own).
    directory: pages::Directory,
}

#[derive(Debug, Default)]
struct Inner {
    /// Tasks whose cells are not on pages: those too large for a page,
    /// and those whose memory is not the runtime's (a `TaskPool`'s slots,
    /// local tasks).
    tasks: Slab<Entry>,
    /// Tasks on pages: most of the runtime's (see `pages`).
    pages: Pages,
    /// Names of the named tasks here, by [`name_key`].
    names: HashMap<usize, Box<str>>,
    /// Tasks ever admitted to this shard (wrapping): the next id's high
    /// part.
    admitted: u32,
    /// Set by shutdown: no new task is admitted.
    closed: bool,
}

/// One live task: 16 bytes.
#[derive(Debug)]
struct Entry {
    /// The task's address, no reference counted (see the module docs):
    /// used only under the shard's lock.
    task: NonNull<()>,
    /// Where the task's [`Tracked`] counts its polls, from the task's
    /// address (`NO_POLLS` if too far for 16 bits). Read only under the
    /// entry's shard lock while the entry is in the table: `Tracked::drop`
    /// takes the entry out under that lock before the `Tracked` (pinned in
    /// its task) can go away, so the count is there whenever it is read.
    polls_offset: u16,
    /// The spawn location's number (see `locations`).
    location: locations::Number,
    /// How many tasks this shard had admitted before this one: the high
    /// part of the task's id.
    admitted: u32,
}

/// `Entry::polls_offset` of a task whose count is too far from its header
/// to say (a future aligned to 64 KiB or more, which puts its `Tracked`
/// that far in): its polls read as 0.
const NO_POLLS: u16 = u16::MAX;

// SAFETY: the address is only a way back to the task (as an `AbortHandle`,
// which is `Send`) and to its poll count (atomic), used under the shard's
// lock.
unsafe impl Send for Entry {}

/// What the registry knows of one live task, in the table or on a page.
/// Make one only under the task's shard lock, from an entry in the table
/// or a live page slot pinned for the walk: then the task's `Tracked` has
/// not finished dropping (it takes the entry out under this lock, or marks
/// the slot gone once the walker unpins it, first, also when its future's
/// destructor panics), so the task is not complete, and its reference to
/// itself keeps it alive (see the module docs).
struct Seen {
    task: NonNull<()>,
    /// Where the `Tracked` counts polls, if known.
    polls: Option<NonNull<AtomicU32>>,
    location: locations::Number,
    admitted: u32,
    /// The key of its name, if it has one.
    name: usize,
}

impl Seen {
    fn of_entry(key: usize, entry: &Entry) -> Seen {
        Seen {
            task: entry.task,
            polls: (entry.polls_offset != NO_POLLS).then(|| {
                // SAFETY: the offset was taken from the task to its
                // `Tracked`, inside the task's cell.
                unsafe { entry.task.cast::<u8>().add(usize::from(entry.polls_offset)) }.cast()
            }),
            location: entry.location,
            admitted: entry.admitted,
            name: name_key(false, key as u32),
        }
    }

    fn of_page(task: pages::LiveTask) -> Seen {
        Seen {
            task: task.task,
            polls: task.polls,
            location: task.location,
            admitted: task.admitted,
            name: name_key(true, task.key),
        }
    }

    /// A counted handle to the task.
    fn handle(&self) -> AbortHandle {
        // SAFETY: see the type's docs: made under the shard's lock, which
        // the caller still holds, and a page slot's pin (every `Seen` is
        // used inside the closure or loop that holds the guard and pin).
        unsafe { AbortHandle::clone_from_ptr(self.task) }
    }

    /// Polls so far. Call as [`handle`](Self::handle).
    fn polls(&self) -> u32 {
        self.polls.map_or(0, |polls| {
            // SAFETY: as in `handle`, the task's `Tracked` is alive, and its
            // count is here.
            unsafe { polls.as_ref() }.load(Relaxed)
        })
    }
}

/// The key of a task's name: its key within its shard (slab key, or page
/// and slot), and which of the two.
fn name_key(paged: bool, key: u32) -> usize {
    (key as usize) << 1 | usize::from(paged)
}

/// Every live task of a shard, in the table and on pages.
fn for_each_seen(inner: &Inner, mut f: impl FnMut(Seen)) {
    for (key, entry) in &inner.tasks {
        f(Seen::of_entry(key, entry));
    }
    inner.pages.for_each_live(|task| f(Seen::of_page(task)));
}

/// Bits of a task's key that name its shard; the rest is its slab key.
const SHARD_BITS: u32 = 8;
const MAX_SHARDS: usize = 1 << SHARD_BITS;
/// Slab keys fit in the key's other 24 bits: at most this many live tasks
/// per shard (16 million; a runtime has 4 shards per worker).
const MAX_SLAB_KEYS: usize = 1 << (u32::BITS - SHARD_BITS);

thread_local! {
    /// The shard this thread spawns into while no other thread holds its
    /// lock (`usize::MAX` until its first spawn): see
    /// `TaskRegistry::lock_home`.
    static HOME_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// A task's future, holding its slot in the registry.
///
/// Small on purpose: the task's stage (this, then the output) is as large
/// as the larger of the two. The registry is named by its 2-byte number,
/// not by an 8-byte reference, and `home` is a one-byte enum of four
/// values, whose unused values give the stage's tag a place: a parked
/// `async` task's `Tracked` takes 12 bytes, and its stage 16 (see
/// `a_small_task_is_56_bytes`).
///
/// The registry reads nothing here but the poll count (what a dump shows
/// of a task is in its entry or record), and it may read it while another
/// thread polls the task, holding the `Tracked` mutably borrowed: so
/// `Tracked` is never `Unpin`, and a `&mut` to it claims no exclusive
/// access (the rule for `!Unpin` types that self-referential futures rely
/// on; `a_dump_reads_the_poll_count_of_a_task_being_polled` has Miri check
/// it).
///
/// `repr(C)`, the count first: it stays a few bytes from the task's
/// header whatever the future's size (`Entry::polls_offset`), and `home`
/// after the small fields leaves room before its spare values for the
/// error and a small output.
#[repr(C)]
pub(crate) struct Tracked<F> {
    /// Polls so far; written only by the task's poller (one at a time).
    polls: AtomicU32,
    /// Its key within the shard (the slab key, or page and slot), above
    /// the shard's index (`SHARD_BITS`).
    key: u32,
    /// The registry's number (see [`numbers`]).
    registry: u16,
    home: Home,
    future: ManuallyDrop<F>,
    /// Makes it `!Unpin`, whatever `F` is (see above).
    _pinned: std::marker::PhantomPinned,
}

/// Where a task is registered, and whether it has a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Home {
    Table,
    NamedTable,
    Page,
    NamedPage,
}

impl Home {
    fn new(paged: bool, named: bool) -> Home {
        match (paged, named) {
            (false, false) => Home::Table,
            (false, true) => Home::NamedTable,
            (true, false) => Home::Page,
            (true, true) => Home::NamedPage,
        }
    }

    fn named(self) -> bool {
        matches!(self, Home::NamedTable | Home::NamedPage)
    }
}

/// A slot reserved for a task about to be created.
///
/// A task on a page holds no lock: its slot is `RESERVED` until `fill`
/// publishes it (and shutdown waits for that). A task in the table holds
/// its shard's lock from `reserve` to `fill`. Nothing between the two may
/// panic: a reservation dropped unfilled would leave a page slot reserved
/// (and shutdown waiting for it), or let the task's `Tracked` take out
/// another task's entry.
pub(crate) struct Reservation<'a> {
    /// The shard's lock, for a task in the table.
    inner: Option<MutexGuard<'a, Inner>>,
    shard: usize,
    registry: u16,
    location: locations::Number,
    /// The name of a task in the table, inserted by `fill` (that of a task
    /// on a page is inserted by `reserve`).
    name: Option<Box<str>>,
    named: bool,
    /// The page slot of a task on a page, and the high part of its id.
    paged: Option<(pages::Reserved, u32)>,
}

// === impl TaskRegistry ===

impl TaskRegistry {
    /// An open registry with no task, in `shards` shards (rounded up to a
    /// power of two, at most 256).
    pub(crate) fn new(shards: usize) -> TaskRegistry {
        /// Registries made so far in this process.
        static SPACES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let shards = shards.clamp(1, MAX_SHARDS).next_power_of_two();
        TaskRegistry {
            shards: (0..shards)
                .map(|_| Shard {
                    inner: Mutex::default(),
                    directory: pages::Directory::new(),
                })
                .collect(),
            mask: shards - 1,
            // Wraps after 65 536 registries: ids then stay unique within a
            // runtime, which is what dumps need.
            space: SPACES.fetch_add(1, Relaxed) & ((1 << SPACE_BITS) - 1),
            number: std::sync::OnceLock::new(),
            released: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Inner> {
        // No critical section calls out, so none leaves the slab
        // inconsistent.
        self.shards[shard]
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a place for a new task spawned at `location`, with its
    /// name if it has one, or `None` if the runtime is shut down.
    ///
    /// With `page_for`, the layout of the task's cell, a slot on one of the
    /// shard's pages is taken if the cell fits one ([`Reservation::spawn`]):
    /// the shard's lock is let go at once, and `fill` needs none. Otherwise
    /// the task gets an entry in the table, and the lock is held until the
    /// reservation is filled.
    ///
    /// # Panics
    ///
    /// If this is the registry's first task and every registry number is
    /// taken (see [`numbers::assign`]).
    pub(crate) fn reserve(
        &'static self,
        location: &'static Location<'static>,
        name: Option<&str>,
        page_for: Option<std::alloc::Layout>,
    ) -> Option<Reservation<'static>> {
        // Before any shard's lock (see `snapshot`).
        let location = locations::number(location);
        // Copied before the lock too.
        let name = name.map(Box::from);
        let (first, guard) = self.lock_home();
        let mut guard = Some(guard);
        // This thread's shard, or, if that one holds the most live tasks a
        // key can name, the first after it with room.
        for shard in (0..self.shards.len()).map(|i| first.wrapping_add(i) & self.mask) {
            let mut inner = guard.take().unwrap_or_else(|| self.lock(shard));
            if inner.closed {
                return None;
            }
            // Taken open, under a shard's lock: shutdown, which locks every
            // shard to close them, then sees it and gives it back once the
            // registry is empty. (Lock order: a shard, then the numbers;
            // `release` holds no shard.) Before a page slot is taken: if
            // this panics, nothing is left half-done.
            let registry = *self.number.get_or_init(|| numbers::assign(self));
            let directory = &self.shards[shard].directory;
            if let Some(reserved) = page_for.and_then(|layout| inner.pages.alloc(directory, layout))
            {
                let admitted = inner.admitted;
                inner.admitted = admitted.wrapping_add(1);
                let named = name.is_some();
                if let Some(name) = name {
                    inner.names.insert(name_key(true, reserved.key), name);
                }
                return Some(Reservation {
                    inner: None,
                    shard,
                    registry,
                    location,
                    name: None,
                    named,
                    paged: Some((reserved, admitted)),
                });
            }
            if inner.tasks.vacant_key() < MAX_SLAB_KEYS {
                return Some(Reservation {
                    registry,
                    inner: Some(inner),
                    shard,
                    location,
                    named: name.is_some(),
                    name,
                    paged: None,
                });
            }
        }
        panic!(
            "pollen: more than {} live tasks",
            MAX_SLAB_KEYS * self.shards.len()
        );
    }

    /// Locks the shard this thread spawns into, and returns it with its
    /// index. Each thread keeps to one shard, whose lines (its lock, its
    /// pages' headers and records) then stay in the thread's cache; threads
    /// start on different shards, and one that finds its shard locked by
    /// another moves to the next free one, and stays there.
    fn lock_home(&self) -> (usize, MutexGuard<'_, Inner>) {
        /// Threads that have spawned so far: each starts on the next shard.
        static THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let home = HOME_SHARD.with(|home| {
            if home.get() == usize::MAX {
                home.set(THREADS.fetch_add(1, Relaxed));
            }
            home.get()
        });
        for shard in (0..self.shards.len()).map(|i| home.wrapping_add(i) & self.mask) {
            let guard = match self.shards[shard].inner.try_lock() {
                Ok(guard) => guard,
                Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => continue,
            };
            if shard != home & self.mask {
                HOME_SHARD.with(|home| home.set(shard));
            }
            return (shard, guard);
        }
        // Every shard busy: wait for this thread's own.
        let shard = home & self.mask;
        (shard, self.lock(shard))
    }

    /// Closes the registry and aborts every live task. Returns how many
    /// were aborted.
    pub(crate) fn close_and_abort_all(&self) -> usize {
        let mut tasks: Vec<AbortHandle> = Vec::new();
        // Every shard closed before any task is aborted: an aborted task
        // cannot spawn another that slips in.
        let mut guards: Vec<_> = (0..self.shards.len()).map(|s| self.lock(s)).collect();
        for (inner, shard) in guards.iter_mut().zip(&self.shards) {
            if !inner.closed {
                inner.closed = true;
                // The tasks that leave the pages from now on see it (the
                // last one releases the registry if nothing else is left).
                inner.pages.close(&shard.directory);
            }
            // Spawns that took a page slot before this and have not
            // filled it yet: theirs are aborted too.
            inner.pages.wait_reserved();
            for_each_seen(inner, |seen| tasks.push(seen.handle()));
        }
        drop(guards);
        // Outside the locks: aborting an idle task schedules it, and the
        // scheduler looks at the registry.
        for task in &tasks {
            task.abort();
        }
        if tasks.is_empty() {
            self.release_if_done();
        }
        tasks.len()
    }

    /// Gives the registry's number back once it is closed and empty: no
    /// `Tracked` can name it then (none is left, and none can be made).
    fn release_if_done(&self) {
        let Some(&number) = self.number.get() else {
            return;
        };
        // Every caller locks shard 0 first: the last of them to do so sees
        // what each one counted before it called.
        for shard in 0..self.shards.len() {
            let inner = self.lock(shard);
            if !inner.closed || !inner.tasks.is_empty() || self.pages_live(&inner, shard) > 0 {
                return;
            }
        }
        if !self.released.swap(true, Ordering::AcqRel) {
            for shard in 0..self.shards.len() {
                self.lock(shard).pages.give_back();
            }
            numbers::release(number);
        }
    }

    /// How many tasks are alive (spawned and not yet dropped).
    pub(crate) fn len(&self) -> usize {
        (0..self.shards.len())
            .map(|s| {
                let inner = self.lock(s);
                inner.tasks.len() + self.pages_live(&inner, s)
            })
            .sum()
    }

    /// Appends what is known of every live task to `out`.
    pub(crate) fn snapshot(&self, local: bool, out: &mut Vec<TaskInfo>) {
        let mut handles = Vec::new();
        // The locations' lock, then each shard's: spawns take the one and
        // let go before they take the other, so the order is safe.
        locations::with_lookup(|lookup| {
            for shard in 0..self.shards.len() {
                let inner = self.lock(shard);
                for_each_seen(&inner, |seen| {
                    out.push(self.info(&inner, shard, &seen, local, lookup, &mut handles));
                });
            }
        });
        // Outside the locks: dropping a handle may schedule its task.
        drop(handles);
    }

    /// What is known of the live task at `task` (its address), if it is
    /// here. A linear search: for the rare stall report.
    pub(crate) fn describe(&self, task: NonNull<()>, local: bool) -> Option<TaskInfo> {
        let mut handles = Vec::new();
        let info = locations::with_lookup(|lookup| {
            (0..self.shards.len()).find_map(|shard| {
                let inner = self.lock(shard);
                let mut found = None;
                for_each_seen(&inner, |seen| {
                    if found.is_none() && seen.task == task {
                        found = Some(self.info(&inner, shard, &seen, local, lookup, &mut handles));
                    }
                });
                found
            })
        });
        drop(handles);
        info
    }

    /// Tasks on shard `shard`'s pages that have their futures; `inner` is
    /// its locked contents.
    fn pages_live(&self, inner: &Inner, shard: usize) -> usize {
        inner.pages.live(&self.shards[shard].directory)
    }

    fn remove(&self, key: u32, home: Home) {
        let shard = key as usize & self.mask;
        let within = key >> SHARD_BITS;
        let mut name = None;
        let directory = &self.shards[shard].directory;
        let last_after_close = match home {
            // Without the lock: see `pages::Directory`.
            Home::Page => directory.set_gone(within),
            Home::NamedPage => {
                // Under the lock, so that no dump sees the task without its
                // name, and no other task takes the slot (and the name's
                // key) before the name is out.
                let mut inner = self.lock(shard);
                name = inner.names.remove(&name_key(true, within));
                directory.set_gone(within)
            }
            Home::Table | Home::NamedTable => {
                let mut inner = self.lock(shard);
                inner.tasks.try_remove(within as usize);
                if home.named() {
                    name = inner.names.remove(&name_key(false, within));
                }
                inner.closed && inner.tasks.is_empty() && self.pages_live(&inner, shard) == 0
            }
        };
        // Freed outside the lock.
        drop(name);
        if last_after_close {
            self.release_if_done();
        }
    }
}

impl TaskRegistry {
    /// What the registry knows of a task, with its status read through a
    /// handle left in `handles` (to be dropped once the shard is
    /// unlocked).
    fn info(
        &self,
        inner: &Inner,
        shard: usize,
        seen: &Seen,
        local: bool,
        lookup: &dyn Fn(locations::Number) -> &'static Location<'static>,
        handles: &mut Vec<AbortHandle>,
    ) -> TaskInfo {
        let handle = seen.handle();
        let status = handle.status();
        handles.push(handle);
        // The caller holds the shard's guard (`inner` is its contents).
        let polls = seen.polls();
        TaskInfo {
            id: (u64::from(seen.admitted) << SPACE_BITS | self.space) << SHARD_BITS | shard as u64,
            name: inner.names.get(&seen.name).cloned(),
            location: lookup(seen.location),
            status,
            polls,
            local,
        }
    }
}

// === impl Reservation ===

impl Reservation<'_> {
    /// Whether `reserve` took a page slot for the task.
    #[cfg(test)]
    pub(crate) fn is_paged(&self) -> bool {
        self.paged.is_some()
    }

    /// Makes the task for `future` on `scheduler`: in the page slot taken
    /// for it (see [`reserve`](TaskRegistry::reserve)), or boxed, and
    /// fills the reservation. Returns its first `Runnable` (to schedule)
    /// and its handle.
    ///
    /// # Panics
    ///
    /// If the slot was taken for a cell of another layout than `F`'s.
    pub(crate) fn spawn<F, S>(
        self,
        future: F,
        scheduler: &'static S,
    ) -> (Runnable, JoinHandle<F::Output>)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        S: Schedule,
    {
        let (runnable, handle, polls) = match &self.paged {
            Some((reserved, _)) => {
                assert_eq!(
                    reserved.layout,
                    pollen_core::task::cell_layout::<Tracked<F>>(),
                    "pollen: a page slot taken for another task's cell"
                );
                // SAFETY: a page slot fit for the cell's layout (checked
                // above), used by nothing else until `OnPages::free` takes it
                // back, with the provenance of its page's allocation (which
                // `free` reaches).
                unsafe {
                    pollen_core::task::new_in::<_, _, pages::OnPages, _>(
                        reserved.cell,
                        self.track(future),
                        scheduler,
                        |t| t.polls_ptr(),
                    )
                }
            }
            None => pollen_core::task::new_boxed_placed(self.track(future), scheduler, |t| {
                t.polls_ptr()
            }),
        };
        self.fill(handle.as_ptr(), polls);
        (runnable, handle)
    }

    /// Wraps `future` so it frees this slot when dropped.
    pub(crate) fn track<F>(&self, future: F) -> Tracked<F> {
        let within = match (&self.paged, &self.inner) {
            (Some((reserved, _)), _) => reserved.key as usize,
            (None, Some(inner)) => {
                let slab_key = inner.tasks.vacant_key();
                debug_assert!(
                    slab_key < MAX_SLAB_KEYS,
                    "`reserve` picks a shard with room"
                );
                slab_key
            }
            (None, None) => unreachable!("a reservation in the table holds the lock"),
        };
        Tracked {
            home: Home::new(self.paged.is_some(), self.named),
            registry: self.registry,
            key: (within << SHARD_BITS | self.shard) as u32,
            polls: AtomicU32::new(0),
            future: ManuallyDrop::new(future),
            _pinned: std::marker::PhantomPinned,
        }
    }

    /// Fills the slot: the task's address (`JoinHandle::as_ptr`; its
    /// scheduler must keep its tasks alive, see the module docs), where its
    /// `Tracked` (now in place) counts polls, and its name.
    ///
    /// Panics in nothing: the task exists already, and a slot left empty
    /// would let its `Tracked` take out another task's entry.
    pub(crate) fn fill(self, task: NonNull<()>, polls: NonNull<AtomicU32>) {
        let offset = polls.as_ptr().addr().checked_sub(task.as_ptr().addr());
        let location = self.location;
        let Some(mut inner) = self.inner else {
            let (reserved, admitted) = self.paged.expect("a reservation without the lock is paged");
            pages::publish(reserved, offset, location, admitted);
            return;
        };
        let admitted = inner.admitted;
        inner.admitted = admitted.wrapping_add(1);
        let polls_offset = offset
            .and_then(|offset| u16::try_from(offset).ok())
            .filter(|&offset| offset != NO_POLLS)
            .unwrap_or(NO_POLLS);
        let tasks = &mut inner.tasks;
        if tasks.len() == tasks.capacity() {
            // Full: grow by an eighth, not double, so a table of many tasks
            // wastes about 6 % on average, not a quarter (copying stays
            // amortised constant per task).
            tasks.reserve_exact((tasks.capacity() / 8).max(64));
        }
        let key = inner.tasks.insert(Entry {
            task,
            polls_offset,
            location,
            admitted,
        });
        if let Some(name) = self.name {
            inner.names.insert(name_key(false, key as u32), name);
        }
    }
}

// === impl Tracked ===

impl<F> Tracked<F> {
    /// Where this `Tracked`, in place in its task, counts its polls.
    pub(crate) fn polls_ptr(self: Pin<&Self>) -> NonNull<AtomicU32> {
        NonNull::from(&self.get_ref().polls)
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // Only this task's poller writes the count: no read-modify-write.
        self.polls
            .store(self.polls.load(Relaxed).wrapping_add(1), Relaxed);
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // `Tracked` (only dropped in place, in `drop`), and `Tracked` has no
        // `Unpin` impl that would let it move while pinned.
        let future = unsafe { self.map_unchecked_mut(|t| &mut *t.future) };
        future.poll(cx)
    }
}

impl<F> Drop for Tracked<F> {
    fn drop(&mut self) {
        /// Takes the entry out when dropped: after the future, also if
        /// the future's destructor panics (the task then completes with
        /// the panic, and is freed, so its entry must go).
        struct Remove(u16, u32, Home);

        impl Drop for Remove {
            fn drop(&mut self) {
                numbers::get(self.0).remove(self.1, self.2);
            }
        }

        // After the future: shutdown waits for the registry to empty, and
        // then every future's destructor has run. Before `Tracked` is gone,
        // and so before the task can be freed: the task's address and where
        // it counts polls are good while its entry is in the table, or its
        // slot is live.
        let _remove = Remove(self.registry, self.key, self.home);
        // SAFETY: dropped exactly once, here, in place (it is pinned), and
        // never used again.
        unsafe { ManuallyDrop::drop(&mut self.future) };
    }
}

mod info;
mod numbers;

pub use self::info::TaskInfo;

// Not under loom: core's executor is not `const` there, and nothing here
// is a model.
#[cfg(all(test, not(loom)))]
mod tests;
