//! Where task cells live: a `Box` (with `alloc`), or a slot in a `static`.
//!
//! A slot is a claim flag next to room for one cell. Spawning claims a free
//! slot (one compare-and-swap) and places the cell in it; when the task's
//! last reference goes, the cell is dropped in place and the flag released,
//! so the slot is reused by the next spawn. Nothing here allocates.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::{self, MaybeUninit};
use core::ptr::NonNull;

use super::raw::{Cell, Storage};
use super::{JoinHandle, Runnable, Schedule, SpawnError};
use crate::loom::RawUnsafeCell;
use crate::loom::atomic::{AtomicBool, Ordering};

/// Room for one task cell in a `static`, and its claim flag.
///
/// `#[repr(C)]` with `value` first: a cell placed in the slot has the slot's
/// address, which is how `InSlot::dealloc` finds the flag.
#[repr(C)]
struct Slot<T> {
    value: RawUnsafeCell<MaybeUninit<T>>,
    /// Set while a task lives in `value`.
    claimed: AtomicBool,
}

/// The storage strategy of tasks placed in a `Slot<T>`.
struct InSlot<T>(PhantomData<T>);

// SAFETY: `dealloc` drops the cell in place and releases the slot it was
// placed in by `Slot::spawn`; nothing is freed.
unsafe impl<F: Future, T> Storage<F> for InSlot<T> {
    unsafe fn dealloc(cell: NonNull<Cell<F>>) {
        // SAFETY: the caller guarantees nothing refers to the task any more.
        unsafe { cell.as_ptr().drop_in_place() };
        // SAFETY: the cell was placed at the address of its `Slot<T>`, which
        // is `'static`.
        let slot = unsafe { cell.cast::<Slot<T>>().as_ref() };
        // Release: the drop above happens before the next claim's Acquire.
        slot.claimed.store(false, Ordering::Release);
    }
}

// === impl Slot ===

impl<T> Slot<T> {
    #[cfg(not(loom))]
    const fn new() -> Slot<T> {
        Slot {
            value: RawUnsafeCell::new(MaybeUninit::uninit()),
            claimed: AtomicBool::new(false),
        }
    }

    #[cfg(loom)]
    fn new() -> Slot<T> {
        Slot {
            value: RawUnsafeCell::new(MaybeUninit::uninit()),
            claimed: AtomicBool::new(false),
        }
    }

    fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }

    /// Claims the slot if it is free and places a task for `make()` in it.
    ///
    /// # Safety
    ///
    /// A `Cell<F>` fits in a `T`: size and alignment.
    unsafe fn spawn<F, S>(
        &'static self,
        scheduler: &'static S,
        make: impl FnOnce() -> F,
    ) -> Option<Placed<F>>
    where
        F: Future,
        S: Schedule,
    {
        if self
            .claimed
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        // If `make` panics, the slot is released again.
        struct Unclaim<'a>(&'a AtomicBool);
        impl Drop for Unclaim<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let guard = Unclaim(&self.claimed);
        let cell = Cell::new::<S, InSlot<T>>(make(), scheduler);
        mem::forget(guard);
        // Derived from the whole slot, not from `value` alone, so that
        // `InSlot::dealloc` may turn the cell pointer back into a `&Slot<T>`
        // (a pointer from `value.get()` would only cover `value`'s bytes).
        // The cell lands at offset 0, inside `value`'s `UnsafeCell`.
        let ptr = core::ptr::from_ref(self).cast_mut().cast::<Cell<F>>();
        // SAFETY: the claim gives us the slot, the caller guarantees the cell
        // fits, `value` is first in this `repr(C)` struct and interior
        // mutable, and a `static` slot never moves.
        unsafe {
            ptr.write(cell);
            let cell = NonNull::new_unchecked(ptr);
            let (runnable, join) = Cell::into_handles(cell);
            Some((runnable, join, cell))
        }
    }
}

// SAFETY: the claim flag hands the slot to one spawner; the task placed in it
// is `Send` (every safe spawn requires it) and governs access to itself.
unsafe impl<T> Sync for Slot<T> {}

/// A task just placed in a slot: its first `Runnable`, its handle, its cell.
type Placed<F> = (
    Runnable,
    JoinHandle<<F as Future>::Output>,
    NonNull<Cell<F>>,
);

/// Spawns `make()` into the first free slot and schedules it; `placed`
/// sees the future in place, and the handle, before it is scheduled.
fn spawn_in<F, S, T>(
    slots: &'static [Slot<T>],
    scheduler: &'static S,
    make: impl FnOnce() -> F,
    placed: impl FnOnce(core::pin::Pin<&F>, &JoinHandle<F::Output>),
) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future,
    S: Schedule,
{
    let mut make = Some(make);
    for slot in slots {
        // SAFETY: the callers check that a `Cell<F>` fits in a `T`.
        let spawned = unsafe { slot.spawn(scheduler, || (make.take().expect("called once"))()) };
        if let Some((runnable, join, cell)) = spawned {
            // SAFETY: the cell was just placed and is not scheduled yet: we
            // hold its only `Runnable`, so nothing else reads its stage.
            unsafe { Cell::with_placed_future(cell, |future| placed(future, &join)) };
            scheduler.schedule(runnable);
            return Ok(join);
        }
    }
    Err(SpawnError::Busy)
}

/// Static storage for one task of future type `F`, with no heap.
///
/// Put it in a `static` and spawn into it; spawning again while its task is
/// alive returns [`SpawnError::Busy`]. The slot is free again once the task
/// has finished and every handle to it (the `JoinHandle`, wakers) is gone.
/// For several tasks of one type use [`TaskPool`]; for future types that
/// cannot be named (`async` blocks), [`TaskArena`].
///
/// # Examples
///
/// ```
/// use core::future::Ready;
/// use pollen_core::executor::Executor;
/// use pollen_core::task::TaskStorage;
///
/// static EXECUTOR: Executor = Executor::new();
/// static TASK: TaskStorage<Ready<u32>> = TaskStorage::new();
///
/// let handle = TASK.spawn(&EXECUTOR, core::future::ready(7)).unwrap();
/// assert!(TASK.spawn(&EXECUTOR, core::future::ready(8)).is_err()); // busy
/// EXECUTOR.run_until_stalled();
/// assert!(handle.is_finished());
/// drop(handle);
/// assert!(!TASK.is_busy()); // free again
/// ```
#[repr(transparent)]
pub struct TaskStorage<F: Future> {
    slot: Slot<Cell<F>>,
}

impl<F: Future> TaskStorage<F> {
    /// Empty storage, usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> TaskStorage<F> {
        TaskStorage { slot: Slot::new() }
    }

    /// Empty storage (not `const` under loom, whose atomics are not).
    #[cfg(loom)]
    pub fn new() -> TaskStorage<F> {
        TaskStorage { slot: Slot::new() }
    }

    /// Whether a task lives in the storage now.
    pub fn is_busy(&self) -> bool {
        self.slot.is_claimed()
    }

    /// Spawns `future` onto `scheduler` (an [`Executor`], say) in this
    /// storage.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Busy`] if a task lives here already; `future` is dropped.
    /// Use [`spawn_with`](Self::spawn_with) to build the future only when the
    /// storage is free.
    ///
    /// [`Executor`]: crate::executor::Executor
    pub fn spawn<S: Schedule>(
        &'static self,
        scheduler: &'static S,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(scheduler, || future)
    }

    /// Spawns `make()`, calling `make` only if the storage is free.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Busy`] if a task lives here already.
    pub fn spawn_with<S: Schedule>(
        &'static self,
        scheduler: &'static S,
        make: impl FnOnce() -> F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_in(
            core::slice::from_ref(&self.slot),
            scheduler,
            make,
            |_, _| (),
        )
    }
}

impl<F: Future> Default for TaskStorage<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Future> fmt::Debug for TaskStorage<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskStorage")
            .field("busy", &self.is_busy())
            .finish()
    }
}

/// Static storage for up to `N` tasks of future type `F`, with no heap.
///
/// As [`TaskStorage`], with `N` slots: spawning takes the first free one and
/// returns [`SpawnError::Busy`] when all `N` hold live tasks.
///
/// # Examples
///
/// ```
/// use core::future::Ready;
/// use pollen_core::executor::Executor;
/// use pollen_core::task::{SpawnError, TaskPool};
///
/// static EXECUTOR: Executor = Executor::new();
/// static POOL: TaskPool<Ready<u32>, 2> = TaskPool::new();
///
/// let a = POOL.spawn(&EXECUTOR, core::future::ready(1)).unwrap();
/// let b = POOL.spawn(&EXECUTOR, core::future::ready(2)).unwrap();
/// assert_eq!(POOL.spawn(&EXECUTOR, core::future::ready(3)).unwrap_err(), SpawnError::Busy);
/// EXECUTOR.run_until_stalled();
/// drop((a, b));
/// assert_eq!(POOL.busy(), 0);
/// ```
pub struct TaskPool<F: Future, const N: usize> {
    slots: [Slot<Cell<F>>; N],
}

impl<F: Future, const N: usize> TaskPool<F, N> {
    /// An empty pool, usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> TaskPool<F, N> {
        TaskPool {
            slots: [const { Slot::new() }; N],
        }
    }

    /// An empty pool (not `const` under loom, whose atomics are not).
    #[cfg(loom)]
    pub fn new() -> TaskPool<F, N> {
        TaskPool {
            slots: core::array::from_fn(|_| Slot::new()),
        }
    }

    /// How many slots hold live tasks now.
    pub fn busy(&self) -> usize {
        self.slots.iter().filter(|s| s.is_claimed()).count()
    }

    /// Spawns `future` onto `scheduler` in a free slot.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Busy`] if every slot is taken; `future` is dropped. Use
    /// [`spawn_with`](Self::spawn_with) to build it only when a slot is free.
    pub fn spawn<S: Schedule>(
        &'static self,
        scheduler: &'static S,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(scheduler, || future)
    }

    /// Spawns `make()` in a free slot, calling `make` only if there is one.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Busy`] if every slot is taken.
    pub fn spawn_with<S: Schedule>(
        &'static self,
        scheduler: &'static S,
        make: impl FnOnce() -> F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_in(&self.slots, scheduler, make, |_, _| ())
    }

    /// As [`spawn_with`](Self::spawn_with), and shows `placed` the future
    /// where it stays (pinned in its slot) and the task's handle before the
    /// task is scheduled: for a scheduler that keeps a table of its tasks
    /// (see [`new_boxed_placed`](super::new_boxed_placed)).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Busy`] if every slot is taken.
    pub fn spawn_with_placed<S: Schedule>(
        &'static self,
        scheduler: &'static S,
        make: impl FnOnce() -> F,
        placed: impl FnOnce(core::pin::Pin<&F>, &JoinHandle<F::Output>),
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_in(&self.slots, scheduler, make, placed)
    }
}

impl<F: Future, const N: usize> Default for TaskPool<F, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Future, const N: usize> fmt::Debug for TaskPool<F, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskPool")
            .field("capacity", &N)
            .field("busy", &self.busy())
            .finish()
    }
}

/// Room for one task of any future type, `SIZE` bytes aligned to 16.
#[repr(C, align(16))]
struct Bytes<const SIZE: usize>([MaybeUninit<u8>; SIZE]);

/// Static storage for up to `N` tasks of *any* future type whose task cell
/// fits in `SIZE` bytes (alignment up to 16), with no heap.
///
/// `TaskPool` needs the future's type in the `static`'s type, which an
/// `async` block or `async fn` does not have on stable Rust. A `TaskArena`
/// only needs a size: a future too large for it is a compile-time error
/// naming the sizes, so the arena can be sized by trying;
/// [`cell_size`](crate::task::cell_size) tells the exact size of a task.
///
/// # Examples
///
/// ```
/// use pollen_core::executor::Executor;
/// use pollen_core::task::TaskArena;
///
/// static EXECUTOR: Executor = Executor::new();
/// static TASKS: TaskArena<256, 4> = TaskArena::new();
///
/// let handle = TASKS.spawn(&EXECUTOR, async { 6 * 7 }).unwrap();
/// EXECUTOR.run_until_stalled();
/// assert!(handle.is_finished());
/// ```
pub struct TaskArena<const SIZE: usize, const N: usize> {
    slots: [Slot<Bytes<SIZE>>; N],
}

impl<const SIZE: usize, const N: usize> TaskArena<SIZE, N> {
    /// An empty arena, usable in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> TaskArena<SIZE, N> {
        TaskArena {
            slots: [const { Slot::new() }; N],
        }
    }

    /// An empty arena (not `const` under loom, whose atomics are not).
    #[cfg(loom)]
    pub fn new() -> TaskArena<SIZE, N> {
        TaskArena {
            slots: core::array::from_fn(|_| Slot::new()),
        }
    }

    /// How many slots hold live tasks now.
    pub fn busy(&self) -> usize {
        self.slots.iter().filter(|s| s.is_claimed()).count()
    }

    /// Spawns `future` onto `scheduler` in a free slot.
    ///
    /// Fails to compile if the task does not fit in `SIZE` bytes.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Busy`] if every slot is taken; `future` is dropped.
    pub fn spawn<F, S>(
        &'static self,
        scheduler: &'static S,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        S: Schedule,
    {
        self.spawn_with(scheduler, || future)
    }

    /// Spawns `make()` in a free slot, calling `make` only if there is one.
    ///
    /// Fails to compile if the task does not fit in `SIZE` bytes.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Busy`] if every slot is taken.
    pub fn spawn_with<F, S>(
        &'static self,
        scheduler: &'static S,
        make: impl FnOnce() -> F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        S: Schedule,
    {
        const {
            assert!(
                mem::size_of::<Cell<F>>() <= SIZE,
                "pollen: this task does not fit in the TaskArena's SIZE; raise SIZE"
            );
            assert!(
                mem::align_of::<Cell<F>>() <= 16,
                "pollen: TaskArena slots are aligned to 16 bytes; this future needs more"
            );
        }
        spawn_in(&self.slots, scheduler, make, |_, _| ())
    }
}

impl<const SIZE: usize, const N: usize> Default for TaskArena<SIZE, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SIZE: usize, const N: usize> fmt::Debug for TaskArena<SIZE, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskArena")
            .field("slot_size", &SIZE)
            .field("capacity", &N)
            .field("busy", &self.busy())
            .finish()
    }
}

/// Memory for task cells that a scheduler manages itself: a runtime that
/// allocates its tasks from pages of its own, say. Tasks are placed in it
/// with [`new_in`](super::new_in).
///
/// # Safety
///
/// `free` accepts every cell placed with this type, once.
pub unsafe trait TaskMemory: 'static {
    /// Takes back the memory of a task cell of `layout` at `cell`: the
    /// task's last reference is gone and the cell has been dropped in
    /// place. Called on whichever thread let go last.
    ///
    /// # Safety
    ///
    /// `cell` was given to [`new_in`](super::new_in) for a cell of
    /// `layout` with this type, and is given back once.
    unsafe fn free(cell: NonNull<u8>, layout: core::alloc::Layout);
}

/// Tasks in memory that `M` manages.
struct InMemory<M>(PhantomData<M>);

// SAFETY: `dealloc` drops the cell in place and hands its memory back to
// `M`, which took it in `spawn_in_memory`.
unsafe impl<F: Future, M: TaskMemory> Storage<F> for InMemory<M> {
    unsafe fn dealloc(cell: NonNull<Cell<F>>) {
        /// Gives the memory back after the drop, also if a destructor in
        /// the cell panics (a foreign join waker's, say), as a `Box` would.
        struct Free<F: Future, M: TaskMemory>(NonNull<Cell<F>>, PhantomData<M>);

        impl<F: Future, M: TaskMemory> Drop for Free<F, M> {
            fn drop(&mut self) {
                // SAFETY: the cell was placed at this address by
                // `spawn_in_memory` for `M`, and is freed once, here, after
                // it was dropped (or its drop unwound).
                unsafe { M::free(self.0.cast(), core::alloc::Layout::new::<Cell<F>>()) };
            }
        }

        let _free = Free::<F, M>(cell, PhantomData);
        // SAFETY: the caller guarantees nothing refers to the task any more.
        unsafe { cell.as_ptr().drop_in_place() };
    }
}

/// Places a task for `future` at `memory`; see [`new_in`](super::new_in).
///
/// # Safety
///
/// As `new_in`.
pub(crate) unsafe fn spawn_in_memory<F, S, M, R>(
    memory: NonNull<u8>,
    future: F,
    scheduler: &'static S,
    placed: impl FnOnce(core::pin::Pin<&F>) -> R,
) -> (Runnable, JoinHandle<F::Output>, R)
where
    F: Future,
    S: Schedule,
    M: TaskMemory,
{
    let cell = memory.cast::<Cell<F>>();
    // SAFETY: the caller hands over memory fit for a `Cell<F>`, ours until
    // `M::free` takes it back.
    unsafe {
        cell.as_ptr()
            .write(Cell::new::<S, InMemory<M>>(future, scheduler))
    };
    // SAFETY: the cell does not move until `InMemory::dealloc`, and no
    // handle to it exists yet.
    unsafe { hand_out(cell, placed) }
}

/// Shows `placed` the future of a cell just placed, then makes the cell's
/// first `Runnable` and its `JoinHandle`.
///
/// # Safety
///
/// As [`Cell::into_handles`]: the cell does not move until its storage
/// frees it, and nothing else refers to it yet.
unsafe fn hand_out<F: Future, R>(
    cell: NonNull<Cell<F>>,
    placed: impl FnOnce(core::pin::Pin<&F>) -> R,
) -> (Runnable, JoinHandle<F::Output>, R) {
    // SAFETY: forwarded from the caller; before the handles exist.
    let seen = unsafe { Cell::with_placed_future(cell, placed) };
    // SAFETY: forwarded from the caller.
    let (runnable, handle) = unsafe { Cell::into_handles(cell) };
    (runnable, handle, seen)
}

/// Boxed tasks: one allocation holds the header, the future and the output.
#[cfg(feature = "alloc")]
pub(crate) struct Boxed;

// SAFETY: `dealloc` frees the `Box` that `spawn_boxed` leaked.
#[cfg(feature = "alloc")]
unsafe impl<F: Future> Storage<F> for Boxed {
    unsafe fn dealloc(cell: NonNull<Cell<F>>) {
        // SAFETY: the cell came from `Box::into_raw` in `spawn_boxed`.
        drop(unsafe { alloc::boxed::Box::from_raw(cell.as_ptr()) });
    }
}

/// Allocates a task for `future` that schedules on `scheduler`; `placed`
/// sees the future where it stays, before anyone can run it.
#[cfg(feature = "alloc")]
pub(crate) fn spawn_boxed<F, S, R>(
    future: F,
    scheduler: &'static S,
    placed: impl FnOnce(core::pin::Pin<&F>) -> R,
) -> (Runnable, JoinHandle<F::Output>, R)
where
    F: Future,
    S: Schedule,
{
    let cell = alloc::boxed::Box::new(Cell::new::<S, Boxed>(future, scheduler));
    // SAFETY: `Box::into_raw` is never null.
    let ptr = unsafe { NonNull::new_unchecked(alloc::boxed::Box::into_raw(cell)) };
    // SAFETY: a heap cell does not move until `Boxed::dealloc` frees it, and
    // no handle to it exists yet.
    unsafe { hand_out(ptr, placed) }
}
