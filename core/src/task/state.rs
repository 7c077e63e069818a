//! The task state word: flag bits and a reference count in one `usize`.
//!
//! Every transition is one compare-and-swap (or one `fetch_*`) on this word,
//! and returns a `#[must_use]` value that tells the caller what it now owns.
//! The bits, and who may change them:
//!
//! | bit             | set by                              | cleared by                          |
//! |-----------------|-------------------------------------|-------------------------------------|
//! | `RUNNING`       | the poller (`transition_to_running`)| the poller (idle or complete)       |
//! | `COMPLETE`      | the poller, once, for ever          | never                               |
//! | `NOTIFIED`      | a waker or `abort` that submits     | the poller (`transition_to_running`)|
//! | `CANCELLED`     | `abort`, or the last reference      | never                               |
//! | `JOIN_INTEREST` | spawn (a `JoinHandle` exists)       | the `JoinHandle` when dropped       |
//! | `JOIN_WAKER`    | the `JoinHandle` (waker stored)     | the `JoinHandle`; the poller after `COMPLETE` |
//! | `KEPT`          | spawn, on a scheduler that keeps its tasks alive | never                  |
//!
//! The reference count lives in the bits above `REF_SHIFT`. References are
//! held by the `JoinHandle`, by every `Waker`, by the run queue while
//! `NOTIFIED` is set (that reference *is* the [`Runnable`](super::Runnable)),
//! by the poller while `RUNNING` is set (it is the same reference the
//! `Runnable` carried in), and, while it is not complete, by the task itself
//! if it is `KEPT` (the poller that completes it drops that reference with
//! its own, in the same operation). The task is freed when the count
//! reaches zero, which can only happen once `COMPLETE` is set: dropping the
//! last reference to a task that is not complete cancels it instead (it is
//! scheduled once more, with `CANCELLED`, so its future is dropped by the
//! executor); a `KEPT` task never gets there.

use crate::loom::atomic::{AtomicUsize, Ordering};

/// The task is being polled (or cancelled) by the executor.
const RUNNING: usize = 1 << 0;
/// The future is gone: the output (or a `JoinError`) is stored or consumed.
const COMPLETE: usize = 1 << 1;
/// The task is in a run queue, or will be put there by whoever set the bit.
const NOTIFIED: usize = 1 << 2;
/// The task must be cancelled at its next poll instead of polled.
const CANCELLED: usize = 1 << 3;
/// A `JoinHandle` exists and owns the output once `COMPLETE` is set.
const JOIN_INTEREST: usize = 1 << 4;
/// The join waker slot holds a waker the poller may read (see `Trailer`).
const JOIN_WAKER: usize = 1 << 5;
/// The task holds a reference to itself until it completes: its scheduler
/// keeps its tasks alive (see [`Schedule::KEEPS_TASKS_ALIVE`]). Set at
/// spawn, never changed.
///
/// [`Schedule::KEEPS_TASKS_ALIVE`]: super::Schedule::KEEPS_TASKS_ALIVE
const KEPT: usize = 1 << 6;

const REF_SHIFT: usize = 7;
const REF_ONE: usize = 1 << REF_SHIFT;
const FLAGS_MASK: usize = REF_ONE - 1;

/// A new task: referenced by its `JoinHandle` and its first `Runnable`.
const INITIAL: usize = (2 * REF_ONE) | NOTIFIED | JOIN_INTEREST;

/// The atomic state word of one task.
pub(crate) struct State {
    val: AtomicUsize,
}

/// One observed value of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

/// What `transition_to_running` found.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransitionToRunning {
    /// We own the future: poll it.
    Success,
    /// We own the future, but the task was aborted: drop it instead.
    Cancelled,
}

/// What `transition_to_idle` found after a poll returned `Pending`.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransitionToIdle {
    /// The task is idle; the poller's reference was released.
    Ok,
    /// The task was woken while it ran: the poller's reference becomes a new
    /// `Runnable` that must be scheduled.
    OkNotified,
    /// The task was aborted while it ran: it is still `RUNNING`, drop the
    /// future and complete.
    Cancelled,
    /// The poller holds the only reference: nothing can ever wake the task
    /// again, so it is cancelled now (still `RUNNING`).
    Unreachable,
}

/// What a wake-up must do next.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransitionToNotified {
    /// Nothing: the task is already queued, running, or complete.
    DoNothing,
    /// Hand the task (one reference, `NOTIFIED` set) to its scheduler.
    Submit,
    /// The last reference is gone: free the task.
    Dealloc,
}

/// What dropping a reference must do next.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropRef {
    /// Other references remain.
    Done,
    /// That was the last reference: free the task.
    Dealloc,
    /// That was the last reference to a task that is not complete: it is now
    /// `NOTIFIED | CANCELLED` and the reference went to a `Runnable` that must
    /// be scheduled, so the executor drops the future.
    Schedule,
}

// === impl State ===

impl State {
    /// The state of a freshly spawned task; a `kept` one holds a
    /// reference to itself until it completes (see `KEPT`).
    #[inline]
    pub(crate) fn new(kept: bool) -> State {
        let val = if kept {
            INITIAL + REF_ONE + KEPT
        } else {
            INITIAL
        };
        State {
            val: AtomicUsize::new(val),
        }
    }

    #[inline]
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.val.load(Ordering::Acquire))
    }

    /// Applies `f` until its compare-and-swap succeeds; `f` returns the
    /// result and the next value, or `None` to leave the word unchanged.
    #[inline]
    fn fetch_update_action<T>(&self, mut f: impl FnMut(Snapshot) -> (T, Option<Snapshot>)) -> T {
        let mut curr = self.load();
        loop {
            let (output, next) = f(curr);
            let Some(next) = next else { return output };
            match self
                .val
                .compare_exchange(curr.0, next.0, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return output,
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    /// `NOTIFIED` → `RUNNING`. The caller holds the `Runnable`.
    #[inline]
    pub(crate) fn transition_to_running(&self) -> TransitionToRunning {
        // The `Runnable` stands for `NOTIFIED`, and `RUNNING` is clear while
        // one exists: one subtraction clears the one and sets the other, with
        // no borrow (a `fetch_xor` whose result is used is a CAS loop on
        // most targets; this is one instruction).
        let prev = Snapshot(self.val.fetch_sub(NOTIFIED - RUNNING, Ordering::AcqRel));
        debug_assert!(prev.is_notified() && !prev.is_running() && !prev.is_complete());
        if prev.is_cancelled() {
            TransitionToRunning::Cancelled
        } else {
            TransitionToRunning::Success
        }
    }

    /// `RUNNING` → idle after a poll returned `Pending`. `self_woken`: the
    /// task woke itself during the poll, on the polling thread, without
    /// touching the word (see `waker::self_wake`); it counts as `NOTIFIED`.
    #[inline]
    pub(crate) fn transition_to_idle(&self, self_woken: bool) -> TransitionToIdle {
        self.fetch_update_action(|mut s| {
            debug_assert!(s.is_running());
            if s.is_cancelled() {
                return (TransitionToIdle::Cancelled, None);
            }
            if s.is_notified() || self_woken {
                // Our reference moves to the new `Runnable`.
                s.0 = (s.0 | NOTIFIED) & !RUNNING;
                return (TransitionToIdle::OkNotified, Some(s));
            }
            if s.ref_count() == 1 {
                // Only we refer to the task and we are about to let go:
                // no waker and no `JoinHandle` is left to ever observe it.
                return (TransitionToIdle::Unreachable, None);
            }
            s.0 &= !RUNNING;
            s.0 -= REF_ONE;
            (TransitionToIdle::Ok, Some(s))
        })
    }

    /// `RUNNING` → `COMPLETE`, and drops the poller's reference (and the
    /// task's own, if kept), in one step. `curr` is any snapshot of this
    /// task (for `KEPT`, which never changes). Returns whether that was
    /// the last reference.
    ///
    /// Only for a poller that saw `JOIN_INTEREST` clear (it is never set
    /// again) and has dropped the output already: nothing is left for it to
    /// do after completion but let go.
    #[inline]
    pub(crate) fn transition_to_complete_and_release(&self, curr: Snapshot) -> bool {
        // `RUNNING` is set, `COMPLETE` clear and the count at least `refs`,
        // so this one subtraction clears the one, sets the other and
        // decrements the count, with no borrow between them.
        let refs = 1 + curr.kept_refs();
        let prev = Snapshot(
            self.val
                .fetch_sub(REF_ONE * refs + RUNNING - COMPLETE, Ordering::AcqRel),
        );
        debug_assert!(
            prev.is_running()
                && !prev.is_complete()
                && !prev.is_join_interested()
                && !prev.is_join_waker_set()
                && prev.ref_count() >= refs
        );
        prev.ref_count() == refs
    }

    /// `RUNNING` → `COMPLETE`. Returns the state just before.
    #[inline]
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        // `RUNNING` is set and `COMPLETE` clear: adding the difference clears
        // the one and sets the other (one instruction, as above).
        let prev = Snapshot(self.val.fetch_add(COMPLETE - RUNNING, Ordering::AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// A waker consumed by `wake`: its reference goes to the queue or away.
    #[inline]
    pub(crate) fn transition_to_notified_by_val(&self) -> TransitionToNotified {
        self.fetch_update_action(|mut s| {
            if s.is_running() {
                // The poller holds a reference, so ours is never the last.
                s.0 = (s.0 | NOTIFIED) - REF_ONE;
                (TransitionToNotified::DoNothing, Some(s))
            } else if s.is_complete() || s.is_notified() {
                let last = s.ref_count() == 1;
                s.0 -= REF_ONE;
                let action = if last {
                    TransitionToNotified::Dealloc
                } else {
                    TransitionToNotified::DoNothing
                };
                (action, Some(s))
            } else {
                // Idle: our reference becomes the `Runnable`'s.
                s.0 |= NOTIFIED;
                (TransitionToNotified::Submit, Some(s))
            }
        })
    }

    /// `wake_by_ref`: a new reference for the queue if the task is idle.
    #[inline]
    pub(crate) fn transition_to_notified_by_ref(&self) -> TransitionToNotified {
        self.fetch_update_action(|mut s| {
            if s.is_complete() || s.is_notified() {
                (TransitionToNotified::DoNothing, None)
            } else if s.is_running() {
                s.0 |= NOTIFIED;
                (TransitionToNotified::DoNothing, Some(s))
            } else {
                s.0 = ref_inc(s.0) | NOTIFIED;
                (TransitionToNotified::Submit, Some(s))
            }
        })
    }

    /// `abort`: sets `CANCELLED`; returns `true` if the caller must submit a
    /// new `Runnable` (it holds a fresh reference for it).
    #[inline]
    pub(crate) fn transition_to_notified_and_cancel(&self) -> bool {
        self.fetch_update_action(|mut s| {
            if s.is_cancelled() || s.is_complete() {
                (false, None)
            } else if s.is_running() || s.is_notified() {
                // The poller, or the pending `Runnable`, will see the flag.
                s.0 |= CANCELLED;
                (false, Some(s))
            } else {
                s.0 = ref_inc(s.0) | NOTIFIED | CANCELLED;
                (true, Some(s))
            }
        })
    }

    /// The common case of dropping a `JoinHandle`, in one compare-and-swap:
    /// the task is not complete, no join waker is stored and other references
    /// remain. Clears `JOIN_INTEREST` and drops the handle's reference.
    /// `Err` means the case does not apply: take the full path.
    #[inline]
    pub(crate) fn drop_join_handle_fast(&self) -> Result<(), ()> {
        // A plain load: the word was just written by this thread, for a
        // handle dropped right after spawn (the common case), so it is in
        // the cache. (Guessing the initial value instead saves that load
        // but costs a failed compare-and-swap when the guess is wrong, as
        // it is for a kept task's.)
        let mut curr = self.val.load(Ordering::Relaxed);
        loop {
            let s = Snapshot(curr);
            debug_assert!(s.is_join_interested());
            if s.is_complete() || s.is_join_waker_set() || s.ref_count() == 1 {
                return Err(());
            }
            let next = (curr & !JOIN_INTEREST) - REF_ONE;
            match self
                .val
                .compare_exchange_weak(curr, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => curr = actual,
            }
        }
    }

    /// Drops the `JoinHandle` of a complete task, in one compare-and-swap:
    /// clears `JOIN_INTEREST` and drops the handle's reference. Returns
    /// `true` if that was the last reference.
    ///
    /// The caller observed `curr` (complete, with our interest) and has
    /// dropped the output, which was its own. While `JOIN_WAKER` is clear the
    /// waker slot is the handle's too (after `COMPLETE` the bit is never set
    /// again), so `empty_slot` is called, at most once, before letting go;
    /// while it is set, the poller empties the slot once it sees our
    /// interest gone.
    #[inline]
    pub(crate) fn drop_join_handle_complete(
        &self,
        mut curr: Snapshot,
        mut empty_slot: impl FnMut(),
    ) -> bool {
        let mut emptied = false;
        loop {
            debug_assert!(curr.is_complete() && curr.is_join_interested());
            if !curr.is_join_waker_set() && !emptied {
                empty_slot();
                emptied = true;
            }
            let next = (curr.0 & !JOIN_INTEREST) - REF_ONE;
            match self
                .val
                .compare_exchange_weak(curr.0, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return curr.ref_count() == 1,
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    /// `RUNNING` → `COMPLETE` and the poller's reference dropped, in one
    /// compare-and-swap from `curr`, when a `JoinHandle` is interested but
    /// has stored no waker: the handle owns the output from here on, and
    /// there is no one to wake. `false` if the state is not `curr` any more
    /// or the case does not apply: take the full path.
    #[inline]
    pub(crate) fn try_complete_unwatched(&self, curr: Snapshot) -> bool {
        debug_assert!(curr.is_running() && !curr.is_complete());
        if !curr.is_join_interested() || curr.is_join_waker_set() {
            return false;
        }
        // The handle's reference and ours (and the task's own, if kept,
        // which goes with ours): this never frees the task.
        debug_assert!(curr.ref_count() >= 2 + curr.kept_refs());
        let next = curr.0 - (REF_ONE * (1 + curr.kept_refs()) + RUNNING - COMPLETE);
        self.val
            .compare_exchange(curr.0, next, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// The `JoinHandle` is dropped. Returns `(drop_output, drop_waker)`: what
    /// the handle now owns and must drop itself.
    #[inline]
    pub(crate) fn transition_to_join_handle_dropped(&self) -> (bool, bool) {
        self.fetch_update_action(|mut s| {
            debug_assert!(s.is_join_interested());
            s.0 &= !JOIN_INTEREST;
            if !s.is_complete() {
                // Before completion the handle may take the waker slot back.
                s.0 &= !JOIN_WAKER;
            }
            // After completion the poller dropped nothing it saw us interested
            // in: the output is ours. The waker slot is ours unless the poller
            // still holds `JOIN_WAKER` (then it drops the waker itself).
            ((s.is_complete(), !s.is_join_waker_set()), Some(s))
        })
    }

    /// The `JoinHandle` publishes its waker: `Err` if the task completed first
    /// (the slot stays the handle's and the output can be read).
    #[inline]
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update_action(|mut s| {
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set());
            if s.is_complete() {
                return (Err(s), None);
            }
            s.0 |= JOIN_WAKER;
            (Ok(s), Some(s))
        })
    }

    /// The `JoinHandle` takes the waker slot back to replace its waker: `Err`
    /// if the task completed first.
    #[inline]
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update_action(|mut s| {
            debug_assert!(s.is_join_interested());
            if s.is_complete() {
                // The poller may have cleared `JOIN_WAKER` already.
                return (Err(s), None);
            }
            debug_assert!(s.is_join_waker_set());
            s.0 &= !JOIN_WAKER;
            (Ok(s), Some(s))
        })
    }

    /// The poller is done with the join waker after completion. Returns the
    /// state before: if `JOIN_INTEREST` is gone, the poller drops the waker.
    #[inline]
    pub(crate) fn unset_waker_after_complete(&self) -> Snapshot {
        let prev = Snapshot(self.val.fetch_and(!JOIN_WAKER, Ordering::AcqRel));
        debug_assert!(prev.is_complete() && prev.is_join_waker_set());
        prev
    }

    /// A new reference (a waker clone).
    #[inline]
    pub(crate) fn ref_inc(&self) {
        let prev = self.val.fetch_add(REF_ONE, Ordering::Relaxed);
        // Like `Arc`: a count this high means references are being leaked.
        if prev > isize::MAX as usize {
            ref_overflow();
        }
    }

    /// Drops one reference, cancelling the task if it was the last one and
    /// the task is not complete.
    #[inline]
    pub(crate) fn drop_ref(&self) -> DropRef {
        // One subtraction, not a CAS loop: the last reference is rare, and
        // dealt with after the fact.
        let prev = Snapshot(self.val.fetch_sub(REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= 1);
        if prev.ref_count() != 1 {
            return DropRef::Done;
        }
        if prev.is_complete() {
            return DropRef::Dealloc;
        }
        // The last reference to a task that is not complete: neither running
        // (the poller holds a reference) nor queued (the queue holds one),
        // so idle, and with no reference left no one else may touch the
        // word. Take our reference back for the cancelling `Runnable` with a
        // plain store (AcqRel above saw every earlier change of the word).
        debug_assert!(!prev.is_running() && !prev.is_notified());
        self.val
            .store(prev.0 | NOTIFIED | CANCELLED, Ordering::Relaxed);
        DropRef::Schedule
    }

    /// Drops the poller's reference after completion, and the task's own
    /// if it is kept (`curr` is any snapshot of this task: `KEPT` never
    /// changes); `true` if that was the last.
    #[inline]
    pub(crate) fn ref_dec_complete(&self, curr: Snapshot) -> bool {
        let refs = 1 + curr.kept_refs();
        let prev = Snapshot(self.val.fetch_sub(REF_ONE * refs, Ordering::AcqRel));
        debug_assert!(prev.is_complete() && prev.ref_count() >= refs);
        prev.ref_count() == refs
    }
}

#[inline]
fn ref_inc(word: usize) -> usize {
    if word > isize::MAX as usize {
        ref_overflow();
    }
    word + REF_ONE
}

#[cold]
fn ref_overflow() -> ! {
    panic!("pollen: task reference count overflow (are wakers being leaked?)");
}

impl core::fmt::Debug for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.load().fmt(f)
    }
}

// === impl Snapshot ===

impl Snapshot {
    #[inline]
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    #[inline]
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    #[inline]
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    #[inline]
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    #[inline]
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    #[inline]
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    /// References the task holds to itself until it completes: 1 if
    /// `KEPT`, else 0.
    #[inline]
    pub(crate) fn kept_refs(self) -> usize {
        (self.0 & KEPT) >> KEPT.trailing_zeros()
    }
    #[inline]
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

impl core::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("kept", &(self.kept_refs() == 1))
            .field("refs", &self.ref_count())
            .field("flags", &(self.0 & FLAGS_MASK))
            .finish()
    }
}
