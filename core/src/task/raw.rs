//! The task cell and its vtable: the code that knows a task's future type.
//!
//! A task is one [`Cell<F>`]: the [`Header`] first, then the stage (the
//! future, then its output) and the join waker. Everything outside this file
//! sees only `NonNull<Header>` and calls through [`VTable`].

use core::future::Future;
use core::mem;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll, Waker};

use super::catch::{self, catch};
use super::header::Header;
use super::state::{State, TransitionToIdle, TransitionToRunning};
use super::waker::JoinWaker;
use super::{JoinError, JoinHandle, Runnable, Schedule};
use crate::loom::UnsafeCell;

/// Functions of one task type `(F, S, A)`, shared by every task of that type.
pub(crate) struct VTable {
    /// Runs a `Runnable`: polls or cancels the future. Consumes its reference.
    pub(crate) poll: unsafe fn(NonNull<Header>),
    /// Drops a `Runnable` without polling: cancels the future. Consumes its
    /// reference.
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
    /// Hands a `Runnable` to the task's scheduler.
    pub(crate) schedule: unsafe fn(NonNull<Header>),
    /// Hands the `Runnable` of a task woken during its own poll back to its
    /// scheduler, when that poll returns ([`Schedule::reschedule`]).
    reschedule: unsafe fn(NonNull<Header>),
    /// Frees the cell.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// `JoinHandle::poll`: writes `Poll<Result<F::Output, JoinError>>` to the
    /// pointer if the output is ready, else registers the waker.
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// `JoinHandle::drop`.
    pub(crate) drop_join_handle: unsafe fn(NonNull<Header>),
}

/// Where a task cell lives and how it is freed.
///
/// # Safety
///
/// `dealloc` must free exactly the memory the cell was placed in, and drop
/// the cell in place first.
pub(crate) unsafe trait Storage<F: Future> {
    /// Drops the cell and releases its memory.
    ///
    /// # Safety
    ///
    /// `cell` was placed by this storage, is complete, and has no reference
    /// left.
    unsafe fn dealloc(cell: NonNull<Cell<F>>);
}

/// What the cell holds besides the header, in the order of its life: the
/// future, then its output or the error that ended it, until someone takes
/// or drops that (`Consumed` after).
///
/// The output and the error are variants of their own, not one
/// `Result<Output, JoinError>`: a `Result` of a small output needs a tag
/// word of its own, while here the enum's tag fits in a niche of the
/// future (the state byte of an `async` block, say), with the thin error
/// beside it. A task of a small future is then one word smaller.
pub(crate) enum Stage<F: Future> {
    Running(F),
    Finished(F::Output),
    Failed(JoinError),
    Consumed,
}

// === impl Stage ===

impl<F: Future> Stage<F> {
    /// Drops what the stage holds where it lies and leaves it `Consumed`,
    /// also when a destructor panics.
    ///
    /// In place, never moved out first: the future is pinned, and a future
    /// holding an intrusive node (an armed `Sleep`, a lock waiter) unlinks
    /// it at its own address when dropped. Moving it first would unlink a
    /// copy and leave the list pointing at freed memory.
    fn drop_in_place(&mut self) {
        /// Writes `Consumed` over the dropped value, on return or unwind.
        struct Emptied<F: Future>(*mut Stage<F>);

        impl<F: Future> Drop for Emptied<F> {
            fn drop(&mut self) {
                // SAFETY: the old value has been dropped (or its drop
                // unwound, having dropped what it could): overwriting it
                // without dropping it again is the only valid step, and the
                // pointer is the `&mut` below, still exclusive.
                unsafe { core::ptr::write(self.0, Stage::Consumed) };
            }
        }

        let this: *mut Stage<F> = self;
        let _emptied = Emptied(this);
        // SAFETY: `this` comes from `&mut self`, so it is valid and ours;
        // the guard overwrites the dropped value before anyone can see it.
        unsafe { core::ptr::drop_in_place(this) };
    }
}

/// One task: header, stage, join waker.
///
/// `#[repr(C)]` so the header stays first: `NonNull<Header>` and
/// `NonNull<Cell<F>>` are the same address.
#[repr(C)]
pub(crate) struct Cell<F: Future> {
    pub(crate) header: Header,
    /// # Safety
    ///
    /// Owned by whoever set `RUNNING` until `COMPLETE` is set; after that by
    /// the `JoinHandle` if `JOIN_INTEREST` was set at completion, else by the
    /// poller (which drops the output at once).
    stage: UnsafeCell<Stage<F>>,
    /// # Safety
    ///
    /// Owned by the `JoinHandle` while `JOIN_WAKER` is clear. While it is set,
    /// the handle and the poller may only read it; after `COMPLETE` the poller
    /// clears `JOIN_WAKER` and drops the waker if the handle is gone.
    join_waker: UnsafeCell<JoinWaker>,
}

/// The vtable of tasks of future type `F`, scheduler `S`, storage `A`.
fn vtable<F: Future, S: Schedule, A: Storage<F>>() -> &'static VTable {
    &VTable {
        poll: poll::<F>,
        shutdown: shutdown::<F>,
        schedule: schedule::<S>,
        reschedule: reschedule::<S>,
        dealloc: dealloc::<F, A>,
        try_read_output: try_read_output::<F>,
        drop_join_handle: drop_join_handle::<F>,
    }
}

// === impl Cell ===

impl<F: Future> Cell<F> {
    /// A new task cell, to be placed by storage `A`, that schedules on `S`.
    pub(crate) fn new<S: Schedule, A: Storage<F>>(future: F, scheduler: &'static S) -> Cell<F> {
        Cell {
            header: Header {
                state: State::new(S::KEEPS_TASKS_ALIVE),
                vtable: vtable::<F, S, A>(),
                queue_next: UnsafeCell::new(None),
                scheduler: NonNull::from(scheduler).cast(),
            },
            stage: UnsafeCell::new(Stage::Running(future)),
            join_waker: UnsafeCell::new(JoinWaker::EMPTY),
        }
    }

    /// The first `Runnable` and the `JoinHandle` of a cell just placed.
    ///
    /// # Safety
    ///
    /// `cell` points at a cell made by [`Cell::new`] that will not move until
    /// its storage frees it, and nothing else refers to it yet.
    pub(crate) unsafe fn into_handles(cell: NonNull<Cell<F>>) -> (Runnable, JoinHandle<F::Output>) {
        let header = cell.cast::<Header>();
        // SAFETY: the initial state holds two references, one for each handle,
        // and `NOTIFIED` for the `Runnable`.
        unsafe { (Runnable::from_header(header), JoinHandle::from_raw(header)) }
    }

    /// Shows `placed` the future of a cell just placed, pinned where it
    /// stays until it is dropped.
    ///
    /// # Safety
    ///
    /// As [`into_handles`](Self::into_handles), called before it: no one
    /// else can reach the cell, so reading its stage here races with
    /// nothing.
    pub(crate) unsafe fn with_placed_future<R>(
        cell: NonNull<Cell<F>>,
        placed: impl FnOnce(Pin<&F>) -> R,
    ) -> R {
        // SAFETY: the caller guarantees the cell is live and ours alone.
        let cell = unsafe { cell.as_ref() };
        cell.stage.with(|stage| {
            // SAFETY: as above: nothing writes the stage meanwhile.
            match unsafe { &*stage } {
                // SAFETY: the future stays at this address until the stage
                // drops it in place (`Stage::drop_in_place`): it is pinned.
                Stage::Running(future) => placed(unsafe { Pin::new_unchecked(future) }),
                _ => unreachable!("a cell just placed holds its future"),
            }
        })
    }

    /// # Safety
    ///
    /// `ptr` points at a live `Cell<F>`.
    unsafe fn from_header<'a>(ptr: NonNull<Header>) -> &'a Cell<F> {
        // SAFETY: the header is the first field of a `#[repr(C)]` cell.
        unsafe { ptr.cast::<Cell<F>>().as_ref() }
    }

    /// Polls the future; on `Ready` (or a panic) stores the result.
    ///
    /// # Safety
    ///
    /// The caller set `RUNNING`.
    unsafe fn poll_future(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.stage.with_mut(|stage| {
            // SAFETY: `RUNNING` gives the poller the stage.
            let stage = unsafe { &mut *stage };
            let polled = catch(|| {
                let Stage::Running(future) = stage else {
                    unreachable!("pollen: polled a task whose future is gone");
                };
                // SAFETY: the cell never moves while the task lives, and the
                // future is dropped in place.
                let future = unsafe { Pin::new_unchecked(future) };
                let out = future.poll(cx);
                if out.is_ready() {
                    // Drop the future now, inside the catch.
                    stage.drop_in_place();
                }
                out
            });
            match polled {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(output)) => {
                    *stage = Stage::Finished(output);
                    Poll::Ready(())
                }
                Err(payload) => {
                    // A panic in `poll` or in the future's `Drop`: the future
                    // (if still there) is dropped, and a panic there ignored.
                    let _ = catch(|| stage.drop_in_place());
                    *stage = Stage::Failed(JoinError::panic(payload));
                    Poll::Ready(())
                }
            }
        })
    }

    /// Drops the future and stores `JoinError::cancelled()`.
    ///
    /// # Safety
    ///
    /// The caller set `RUNNING`.
    unsafe fn cancel_future(&self) {
        self.stage.with_mut(|stage| {
            // SAFETY: `RUNNING` gives the poller the stage.
            let stage = unsafe { &mut *stage };
            let error = match catch(|| stage.drop_in_place()) {
                Ok(()) => JoinError::cancelled(),
                Err(payload) => JoinError::panic(payload),
            };
            *stage = Stage::Failed(error);
        });
    }

    /// Drops the output no one will read.
    ///
    /// # Safety
    ///
    /// The caller owns the stage: it set `RUNNING`, or owns the output after
    /// completion (see the field's docs).
    unsafe fn drop_output(&self) -> Result<(), catch::Payload> {
        self.stage.with_mut(|stage| {
            // SAFETY: forwarded from the caller.
            let stage = unsafe { &mut *stage };
            catch(|| stage.drop_in_place())
        })
    }

    /// Puts `waker` in the join waker slot and returns what was there, so
    /// that the caller drops it with the slot already consistent (a waker's
    /// `Drop` may panic).
    ///
    /// # Safety
    ///
    /// The caller owns the join waker slot (see the field's docs).
    unsafe fn replace_join_waker(&self, waker: JoinWaker) -> JoinWaker {
        // SAFETY: forwarded from the caller.
        self.join_waker
            .with_mut(|slot| mem::replace(unsafe { &mut *slot }, waker))
    }

    /// Empties the join waker slot; a panic in the waker's `Drop` is caught
    /// and returned, so the caller can finish its transition first.
    ///
    /// # Safety
    ///
    /// As [`replace_join_waker`](Self::replace_join_waker).
    unsafe fn empty_join_waker_slot(&self) -> Result<(), catch::Payload> {
        // SAFETY: forwarded from the caller.
        let old = unsafe { self.replace_join_waker(JoinWaker::EMPTY) };
        catch(|| drop(old))
    }

    /// Sets `COMPLETE`, hands the output over, and drops the poller's
    /// reference.
    ///
    /// Takes the header pointer rather than `&self`: the cell may be freed
    /// before this returns, and no reference may outlive that.
    ///
    /// # Safety
    ///
    /// `ptr` is a `Cell<F>` whose `RUNNING` the caller set, with the output
    /// stored; the caller gives up the poller's reference.
    unsafe fn complete(ptr: NonNull<Header>) {
        // SAFETY: the poller's reference keeps the cell alive until we drop it
        // below; `this` is not used after that.
        let this = unsafe { Self::from_header(ptr) };
        let state = &this.header.state;
        let snapshot = state.load();
        if state.try_complete_unwatched(snapshot) {
            // The handle, which holds a reference, now owns the output.
            return;
        }
        if !snapshot.is_join_interested() {
            // Detached: `JOIN_INTEREST` is never set again, so the output is
            // the poller's to drop, and nothing is left to do after
            // completion; complete and let go in one step.
            // SAFETY: `RUNNING` is ours, and no handle will read the output.
            let panicked = unsafe { this.drop_output() }.err();
            if state.transition_to_complete_and_release(snapshot) {
                // SAFETY: that was the last reference, and the task is
                // complete.
                unsafe { Header::dealloc(ptr) };
            }
            if let Some(payload) = panicked {
                catch::resume(payload);
            }
            return;
        }
        let prev = state.transition_to_complete();
        let mut panicked = None;
        if !prev.is_join_interested() {
            // SAFETY: no `JoinHandle` was interested at completion: the poller
            // owns the output.
            panicked = unsafe { this.drop_output() }.err();
        } else if prev.is_join_waker_set() {
            this.join_waker.with(|slot| {
                // SAFETY: `JOIN_WAKER` is set: the poller may read the slot,
                // and the handle no longer writes it after `COMPLETE`.
                let slot = unsafe { &*slot };
                if let Err(payload) = catch(|| slot.wake_by_ref()) {
                    panicked = Some(payload);
                }
            });
            if !state.unset_waker_after_complete().is_join_interested() {
                // SAFETY: the handle dropped itself while `JOIN_WAKER` was
                // ours: the slot is left to us to empty.
                if let Err(payload) = unsafe { this.empty_join_waker_slot() } {
                    panicked.get_or_insert(payload);
                }
            }
        }
        if state.ref_dec_complete(snapshot) {
            // SAFETY: that was the last reference, and the task is complete.
            unsafe { Header::dealloc(ptr) };
        }
        if let Some(payload) = panicked {
            catch::resume(payload);
        }
    }
}

// === vtable functions ===

/// # Safety
///
/// `ptr` is a `Cell<F>` and the caller gives up the `Runnable`'s reference.
unsafe fn poll<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the `Runnable`'s reference keeps the cell alive.
    let cell = unsafe { Cell::<F>::from_header(ptr) };
    if cell.header.state.transition_to_running() == TransitionToRunning::Success {
        // `poll_future` catches panics (with `std`, the only case where
        // this is compiled), so nothing unwinds past `leave`.
        #[cfg(all(feature = "std", not(loom)))]
        let outer = super::waker::self_wake::enter(ptr);
        let ready = super::waker::with_borrowed(ptr, |waker| {
            let mut cx = Context::from_waker(waker);
            // SAFETY: we just set `RUNNING`.
            unsafe { cell.poll_future(&mut cx) }
        });
        #[cfg(all(feature = "std", not(loom)))]
        let self_woken = super::waker::self_wake::leave(outer);
        #[cfg(not(all(feature = "std", not(loom))))]
        let self_woken = false;
        if ready.is_ready() {
            // SAFETY: `RUNNING` is ours and the output is stored.
            return unsafe { Cell::<F>::complete(ptr) };
        }
        match cell.header.state.transition_to_idle(self_woken) {
            TransitionToIdle::Ok => return,
            // SAFETY: our reference and `NOTIFIED` pass to the scheduler.
            TransitionToIdle::OkNotified => return unsafe { (cell.header.vtable.reschedule)(ptr) },
            TransitionToIdle::Cancelled | TransitionToIdle::Unreachable => {}
        }
    }
    // Aborted before or during this poll, or unreachable: still `RUNNING`.
    // SAFETY: `RUNNING` is ours.
    unsafe {
        cell.cancel_future();
        Cell::<F>::complete(ptr);
    }
}

/// # Safety
///
/// As [`poll`].
unsafe fn shutdown<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the `Runnable`'s reference keeps the cell alive.
    let cell = unsafe { Cell::<F>::from_header(ptr) };
    // Cancelled or not, we own the future now.
    let _ = cell.header.state.transition_to_running();
    // SAFETY: `RUNNING` is ours.
    unsafe {
        cell.cancel_future();
        Cell::<F>::complete(ptr);
    }
}

/// # Safety
///
/// `ptr`'s scheduler is an `S`, and the caller gives up one reference and the
/// `NOTIFIED` bit it stands for.
unsafe fn schedule<S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the header alive; `scheduler` was
    // made from a `&'static S` by `Cell::new::<S, _>`.
    let scheduler = unsafe { ptr.as_ref().scheduler.cast::<S>().as_ref() };
    // SAFETY: forwarded from the caller.
    scheduler.schedule(unsafe { Runnable::from_header(ptr) });
}

/// # Safety
///
/// As [`schedule`].
unsafe fn reschedule<S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: as in `schedule`.
    let scheduler = unsafe { ptr.as_ref().scheduler.cast::<S>().as_ref() };
    // SAFETY: forwarded from the caller.
    scheduler.reschedule(unsafe { Runnable::from_header(ptr) });
}

/// # Safety
///
/// `ptr` is a complete `Cell<F>` placed by `A`, with no reference left.
unsafe fn dealloc<F: Future, A: Storage<F>>(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    unsafe { A::dealloc(ptr.cast::<Cell<F>>()) }
}

/// # Safety
///
/// `ptr` is a `Cell<F>`, the caller is its `JoinHandle`, and `dst` points at
/// a `Poll<Result<F::Output, JoinError>>`.
unsafe fn try_read_output<F: Future>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
    // SAFETY: the handle's reference keeps the cell alive.
    let cell = unsafe { Cell::<F>::from_header(ptr) };
    // SAFETY: the caller is the `JoinHandle`.
    if unsafe { can_read_output(cell, waker) } {
        let stage = cell.stage.with_mut(|stage| {
            // SAFETY: `COMPLETE` with `JOIN_INTEREST` held: the stage is ours.
            mem::replace(unsafe { &mut *stage }, Stage::Consumed)
        });
        let output = match stage {
            Stage::Finished(output) => Ok(output),
            Stage::Failed(error) => Err(error),
            Stage::Running(_) | Stage::Consumed => {
                panic!("`JoinHandle` polled after it returned `Poll::Ready`")
            }
        };
        let dst = dst.cast::<Poll<Result<F::Output, JoinError>>>();
        // SAFETY: the caller passes a valid, initialised `Poll` of this type.
        unsafe { *dst = Poll::Ready(output) };
    }
}

/// `true` if the task is complete; otherwise makes sure `waker` is the one
/// woken at completion.
///
/// # Safety
///
/// The caller is the task's `JoinHandle`.
unsafe fn can_read_output<F: Future>(cell: &Cell<F>, waker: &Waker) -> bool {
    let state = &cell.header.state;
    let snapshot = state.load();
    if snapshot.is_complete() {
        return true;
    }
    let res = if !snapshot.is_join_waker_set() {
        // SAFETY: `JOIN_WAKER` is clear: the slot is the handle's.
        unsafe { set_join_waker(cell, waker) }
    } else {
        let same = cell.join_waker.with(|slot| {
            // SAFETY: `JOIN_WAKER` is set: the handle may read the slot.
            unsafe { &*slot }.will_wake(waker)
        });
        if same {
            return false;
        }
        state.unset_join_waker().and_then(|_| {
            // SAFETY: `unset_join_waker` succeeded: the slot is the handle's.
            unsafe { set_join_waker(cell, waker) }
        })
    };
    match res {
        Ok(_) => false,
        Err(snapshot) => {
            debug_assert!(snapshot.is_complete());
            true
        }
    }
}

/// Stores `waker` and publishes it with `JOIN_WAKER`.
///
/// # Safety
///
/// `JOIN_WAKER` is clear and the caller is the `JoinHandle`.
unsafe fn set_join_waker<F: Future>(
    cell: &Cell<F>,
    waker: &Waker,
) -> Result<super::state::Snapshot, super::state::Snapshot> {
    // SAFETY: forwarded from the caller.
    drop(unsafe { cell.replace_join_waker(JoinWaker::new(waker)) });
    let res = cell.header.state.set_join_waker();
    if res.is_err() {
        // Completed first: `JOIN_WAKER` stays clear, the slot is still ours.
        // SAFETY: as above.
        drop(unsafe { cell.replace_join_waker(JoinWaker::EMPTY) });
    }
    res
}

/// # Safety
///
/// `ptr` is a `Cell<F>` and the caller is its `JoinHandle`, giving up its
/// reference.
unsafe fn drop_join_handle<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the handle's reference keeps the cell alive.
    let cell = unsafe { Cell::<F>::from_header(ptr) };
    let state = &cell.header.state;
    let snapshot = state.load();
    if snapshot.is_complete() {
        // With our interest still set, output and (while `JOIN_WAKER` is
        // clear) waker slot are ours: empty them, then let go in one step.
        // SAFETY: as just said.
        let mut panicked = unsafe { cell.drop_output() }.err();
        let last = state.drop_join_handle_complete(snapshot, || {
            // SAFETY: `empty_slot` is only called while `JOIN_WAKER` is
            // clear after `COMPLETE`: the slot is ours for good.
            if let Err(payload) = unsafe { cell.empty_join_waker_slot() } {
                panicked.get_or_insert(payload);
            }
        });
        if last {
            // SAFETY: that was the last reference, and the task is complete.
            unsafe { Header::dealloc(ptr) };
        }
        if let Some(payload) = panicked {
            catch::resume(payload);
        }
        return;
    }
    let (drop_output, drop_waker) = state.transition_to_join_handle_dropped();
    let mut panicked = None;
    if drop_output {
        // SAFETY: complete with our interest: the output is ours.
        panicked = unsafe { cell.drop_output() }.err();
    }
    if drop_waker {
        // SAFETY: `JOIN_WAKER` is clear after our transition: the slot is ours.
        if let Err(payload) = unsafe { cell.empty_join_waker_slot() } {
            panicked.get_or_insert(payload);
        }
    }
    // SAFETY: the handle's reference is given up here, once.
    unsafe { Header::drop_reference(ptr) };
    if let Some(payload) = panicked {
        catch::resume(payload);
    }
}
