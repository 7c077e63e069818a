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
//! `Tracked`) takes the entry out, or marks the slot gone, under the
//! shard's lock, before it finishes dropping, and a task completes, and can
//! be freed, only after that. A handle is made from the address only under
//! that lock.

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
use crate::task::{AbortHandle, TaskStatus};

/// The live tasks of one runtime, in shards.
///
/// Each shard is a slab under its own lock. A spawn picks the next shard
/// of its thread's round (a thread-local counter, no shared write), so
/// threads that spawn and workers that finish tasks rarely want the same
/// lock at once; a task frees its slot in the shard it was given.
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
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(Mutex<Inner>);

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
/// or a page slot recorded live: then the task's `Tracked` has not
/// finished dropping (it takes the entry out, or marks the slot, under
/// this lock first, also when its future's destructor panics), so the
/// task is not complete, and its reference to itself keeps it alive (see
/// the module docs).
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
        // the caller still holds (every `Seen` is used inside the closure
        // or loop that holds the guard).
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
    /// This thread's round over the shards.
    static NEXT_SHARD: Cell<usize> = const { Cell::new(0) };
}

/// A task's future, holding its slot in the registry.
///
/// Small on purpose: the task's stage (this, then the output) is as large
/// as the larger of the two. The registry is named by its 2-byte number,
/// not by an 8-byte reference, and `named` is a `bool`, whose unused
/// values give the stage's tag a place: a parked `async` task's `Tracked`
/// takes 12 bytes, and its stage 16 (see `a_small_task_is_56_bytes`).
///
/// The registry reads nothing here but the poll count (what a dump shows
/// of a task is in its entry): a poll holds the future mutably borrowed.
///
/// `repr(C)`, the count first: it stays a few bytes from the task's
/// header whatever the future's size (`Entry::polls_offset`), and the
/// `bool` after the small fields leaves room before its spare values for
/// the error and a small output.
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

    fn paged(self) -> bool {
        matches!(self, Home::Page | Home::NamedPage)
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

/// What a dump says of one task; see [`Handle::dump`](super::Handle::dump).
#[derive(Clone, Debug)]
pub struct TaskInfo {
    id: u64,
    name: Option<Box<str>>,
    location: &'static Location<'static>,
    status: TaskStatus,
    polls: u32,
    local: bool,
}

impl TaskInfo {
    /// The task's id: unique among the runtime's tasks for its lifetime.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The name given with [`task::Builder::name`](crate::task::Builder::name).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the task was spawned.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// What it is doing.
    pub fn status(&self) -> TaskStatus {
        self.status
    }

    /// How many times it has been polled.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// Whether it was spawned with `spawn_local` (and runs on one thread).
    pub fn is_local(&self) -> bool {
        self.local
    }
}

impl std::fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "task {} {:?} at {}: {}, {} polls{}",
            self.id,
            self.name().unwrap_or(""),
            self.location,
            self.status,
            self.polls,
            if self.local { ", local" } else { "" }
        )
    }
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
            shards: (0..shards).map(|_| Shard::default()).collect(),
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
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a place for a new task spawned at `location`, with its
    /// name if it has one, or `None` if the runtime is shut down.
    ///
    /// With `page_for`, the layout of the task's cell, a slot on one of the
    /// shard's pages is taken if the cell fits one ([`Reservation::memory`]):
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
        let first = NEXT_SHARD.with(|next| {
            let shard = next.get();
            next.set(shard.wrapping_add(1));
            shard
        });
        // The next shard of this thread's round, or, if that one holds
        // the most live tasks a key can name, the first after it with room.
        for shard in (0..self.shards.len()).map(|i| first.wrapping_add(i) & self.mask) {
            let mut inner = self.lock(shard);
            if inner.closed {
                return None;
            }
            // Taken open, under a shard's lock: shutdown, which locks every
            // shard to close them, then sees it and gives it back once the
            // registry is empty. (Lock order: a shard, then the numbers;
            // `release` holds no shard.) Before a page slot is taken: if
            // this panics, nothing is left half-done.
            let registry = *self.number.get_or_init(|| numbers::assign(self));
            if let Some(reserved) = page_for.and_then(|layout| inner.pages.alloc(layout)) {
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

    /// Closes the registry and aborts every live task. Returns how many
    /// were aborted.
    pub(crate) fn close_and_abort_all(&self) -> usize {
        let mut tasks: Vec<AbortHandle> = Vec::new();
        // Every shard closed before any task is aborted: an aborted task
        // cannot spawn another that slips in.
        let mut guards: Vec<_> = (0..self.shards.len()).map(|s| self.lock(s)).collect();
        for inner in &mut guards {
            inner.closed = true;
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
        for shard in 0..self.shards.len() {
            let inner = self.lock(shard);
            if !inner.closed || !inner.tasks.is_empty() || inner.pages.live() > 0 {
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
                inner.tasks.len() + inner.pages.live()
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

    fn remove(&self, key: u32, home: Home) {
        let within = key >> SHARD_BITS;
        let (name, last_after_close) = {
            let mut inner = self.lock(key as usize & self.mask);
            if home.paged() {
                inner.pages.set_gone(within);
            } else {
                inner.tasks.try_remove(within as usize);
            }
            let name = if home.named() {
                inner.names.remove(&name_key(home.paged(), within))
            } else {
                None
            };
            let empty = inner.tasks.is_empty() && inner.pages.live() == 0;
            (name, inner.closed && empty)
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
    /// The page slot to place the task in (with [`OnPages`] as its
    /// memory) instead of a box, if `reserve` took one.
    ///
    /// [`OnPages`]: super::pages::OnPages
    pub(crate) fn memory(&self) -> Option<NonNull<u8>> {
        self.paged.as_ref().map(|(reserved, _)| reserved.cell)
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

/// Registries by number: a task's `Tracked` names its registry in two
/// bytes instead of a reference's eight, in every task.
///
/// Two levels of atomic pointers, so that finding a registry (once per
/// task, when its future is dropped) is two loads and takes no lock. A
/// number is taken at a registry's first reservation and given back once the
/// registry is closed and empty; registries are never freed (they live in
/// runtimes' leaked parts), so an entry never dangles.
mod numbers {
    use std::ptr;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicPtr, Ordering};

    use super::TaskRegistry;

    /// Numbers per leaf, and leaves.
    const FANOUT: usize = 256;

    struct Leaf([AtomicPtr<TaskRegistry>; FANOUT]);

    static LEAVES: [AtomicPtr<Leaf>; FANOUT] = [const { AtomicPtr::new(ptr::null_mut()) }; FANOUT];

    /// Numbers never taken yet start at `next`; `free` holds those given
    /// back.
    struct Numbers {
        next: usize,
        free: Vec<u16>,
    }

    static NUMBERS: Mutex<Numbers> = Mutex::new(Numbers {
        next: 0,
        free: Vec::new(),
    });

    /// A number for `registry`, from now until it is released.
    ///
    /// # Panics
    ///
    /// If 65 536 registries hold numbers at once. Each runtime that has
    /// spawned holds one, and one more per thread that has run its local
    /// tasks; a registry holds its number until it is closed and empty,
    /// and for good if it never is (a runtime leaked with `mem::forget`,
    /// the local tasks of a `block_on` thread when the runtime is dropped
    /// on another thread).
    pub(super) fn assign(registry: &'static TaskRegistry) -> u16 {
        let mut numbers = NUMBERS.lock().unwrap_or_else(|e| e.into_inner());
        let number = match numbers.free.pop() {
            Some(number) => usize::from(number),
            None => {
                let number = numbers.next;
                assert!(
                    number < FANOUT * FANOUT,
                    "pollen: more than {} task registries (runtimes and their threads) at once",
                    FANOUT * FANOUT
                );
                numbers.next += 1;
                number
            }
        };
        let leaf_slot = &LEAVES[number / FANOUT];
        let mut leaf = leaf_slot.load(Ordering::Acquire);
        if leaf.is_null() {
            // Made under `NUMBERS`'s lock: no other thread makes this one.
            leaf = Box::into_raw(Box::new(Leaf(
                [const { AtomicPtr::new(ptr::null_mut()) }; FANOUT],
            )));
            leaf_slot.store(leaf, Ordering::Release);
        }
        // SAFETY: leaves are leaked once made, never freed.
        let entry = unsafe { &(*leaf).0[number % FANOUT] };
        entry.store(ptr::from_ref(registry).cast_mut(), Ordering::Release);
        u16::try_from(number).expect("below 65 536")
    }

    /// The registry holding `number`.
    ///
    /// # Panics
    ///
    /// If no registry was ever given `number` (a bug).
    pub(super) fn get(number: u16) -> &'static TaskRegistry {
        let number = usize::from(number);
        let leaf = LEAVES[number / FANOUT].load(Ordering::Acquire);
        assert!(!leaf.is_null(), "pollen: task registry {number} unknown");
        // SAFETY: leaves are leaked once made, never freed.
        let registry = unsafe { &(*leaf).0[number % FANOUT] }.load(Ordering::Acquire);
        assert!(
            !registry.is_null(),
            "pollen: task registry {number} unknown"
        );
        // SAFETY: entries only ever hold `&'static TaskRegistry`s.
        unsafe { &*registry }
    }

    /// Gives `number` back. Its entry keeps the old registry until the
    /// number is taken again, by which time no task names it.
    pub(super) fn release(number: u16) {
        NUMBERS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .free
            .push(number);
    }
}

// Not under loom: core's executor is not `const` there, and nothing here
// is a model.
#[cfg(all(test, not(loom)))]
mod tests {
    //! The registry on core's executor, with no reactor: these also run
    //! under Miri (the `unsafe` pin projection and in-place drop above).

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
        assert_eq!(slot.memory().is_some(), paged);
        let (runnable, handle, polls) = match slot.memory() {
            // SAFETY: as in `Shared::spawn`.
            Some(memory) => unsafe {
                pollen_core::task::new_in::<_, _, super::pages::OnPages, _>(
                    memory,
                    slot.track(future),
                    executor,
                    |t| t.polls_ptr(),
                )
            },
            None => {
                pollen_core::task::new_boxed_placed(slot.track(future), executor, |t| t.polls_ptr())
            }
        };
        slot.fill(handle.as_ptr(), polls);
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
        struct PanicOnDrop;

        impl Drop for PanicOnDrop {
            fn drop(&mut self) {
                panic!("in a future's destructor");
            }
        }

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
        struct PanicOnDrop;

        impl Drop for PanicOnDrop {
            fn drop(&mut self) {
                panic!("in a future's destructor");
            }
        }

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
}
