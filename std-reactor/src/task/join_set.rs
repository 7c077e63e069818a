//! [`JoinSet`]: a set of tasks whose results come back in the order they
//! finish.
//!
//! Each member keeps its task's [`JoinHandle`] and a waker of its own, which
//! the task wakes when it finishes: the waker puts the member's key on the
//! set's ready list and wakes whoever awaits the set. So
//! [`join_next`](JoinSet::join_next) polls only the members that may have
//! finished, not every member each time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use atomic_waker::AtomicWaker;
use slab::Slab;

use super::{AbortHandle, JoinError, JoinHandle};
use crate::runtime::Handle;

/// A set of tasks spawned on the runtime, awaited in the order they finish.
///
/// Every task runs on its own as soon as it is spawned; the set only
/// collects the results. [`join_next`](Self::join_next) waits for the next
/// task to finish and returns its output (or the [`JoinError`] of a task
/// that panicked or was aborted), or `None` once the set is empty.
///
/// Dropping the set aborts every task still in it;
/// [`detach_all`](Self::detach_all) lets them run on instead.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pollen::task::JoinSet;
///
/// # let runtime = pollen::runtime::Builder::new_current_thread()
/// #     .enable_time()
/// #     .start_paused(true)
/// #     .build()
/// #     .unwrap();
/// # runtime.block_on(async {
/// let mut set = JoinSet::new();
/// for ms in [30, 10, 20] {
///     set.spawn(async move {
///         pollen::time::sleep(Duration::from_millis(ms)).await;
///         ms
///     });
/// }
/// let mut finished = Vec::new();
/// while let Some(result) = set.join_next().await {
///     finished.push(result.unwrap());
/// }
/// assert_eq!(finished, [10, 20, 30]); // in the order they finished
/// # });
/// ```
pub struct JoinSet<T> {
    members: Slab<Member<T>>,
    ready: Arc<Ready>,
}

/// One task of a set.
struct Member<T> {
    handle: JoinHandle<T>,
    /// Wakes the set for this member; `flag` is the same allocation.
    waker: Waker,
    flag: Arc<MemberWaker>,
}

/// What the members' wakers share with the set.
struct Ready {
    /// Keys of members that may have finished (woken since last polled).
    keys: Mutex<Vec<usize>>,
    /// The task awaiting the set.
    owner: AtomicWaker,
}

/// A member's waker: puts its key on the ready list, once until polled.
struct MemberWaker {
    key: usize,
    /// Whether `key` is on the ready list already.
    queued: AtomicBool,
    ready: Arc<Ready>,
}

impl Wake for MemberWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            lock(&self.ready.keys).push(self.key);
            self.ready.owner.wake();
        }
    }
}

/// The list's lock: nothing can panic while it is held, so a poisoned lock
/// holds a consistent list.
fn lock(keys: &Mutex<Vec<usize>>) -> MutexGuard<'_, Vec<usize>> {
    keys.lock().unwrap_or_else(PoisonError::into_inner)
}

// === impl JoinSet ===

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            members: Slab::new(),
            ready: Arc::new(Ready {
                keys: Mutex::new(Vec::new()),
                owner: AtomicWaker::new(),
            }),
        }
    }

    /// How many tasks are in the set (finished ones included until their
    /// result is taken).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Spawns `task` on the current runtime (as [`crate::spawn`]) into the
    /// set; the returned handle aborts it.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(crate::spawn(task))
    }

    /// Spawns `task` on the runtime of `handle` into the set.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, task: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(handle.spawn(task))
    }

    /// Spawns the `!Send` `task` on this thread (as
    /// [`spawn_local`](crate::task::spawn_local)) into the set.
    ///
    /// # Panics
    ///
    /// Where `spawn_local` panics: outside a runtime's thread.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.insert(crate::task::spawn_local(task))
    }

    /// Runs the blocking function `f` on the blocking pool (as
    /// [`crate::spawn_blocking`]), its result joining the set. Aborting it
    /// only stops it if it has not started.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.insert(crate::spawn_blocking(f))
    }

    /// Adds a task spawned elsewhere.
    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let entry = self.members.vacant_entry();
        let flag = Arc::new(MemberWaker {
            key: entry.key(),
            // Queued below: the first `join_next` polls it, and so gives
            // its task the member's waker.
            queued: AtomicBool::new(true),
            ready: self.ready.clone(),
        });
        lock(&self.ready.keys).push(entry.key());
        entry.insert(Member {
            handle,
            waker: Waker::from(flag.clone()),
            flag,
        });
        // No wake-up owed: `join_next` borrows the set, so nobody awaits it
        // while a task is added, and the next poll finds the key.
        abort
    }

    /// Waits for the next task to finish and returns its result; `None`
    /// once the set is empty.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a result is taken out of the set only by the poll that
    /// returns it.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        std::future::poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The poll form of [`join_next`](Self::join_next).
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.members.is_empty() {
            return Poll::Ready(None);
        }
        // Before looking: a member woken after the look wakes us.
        self.ready.owner.register(cx.waker());
        match self.next_finished() {
            Some(result) => Poll::Ready(Some(result)),
            None => Poll::Pending,
        }
    }

    /// The result of a task that has finished, if one has, without waiting.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.next_finished()
    }

    /// Polls the members on the ready list until one has finished, and
    /// takes it out of the set.
    fn next_finished(&mut self) -> Option<Result<T, JoinError>> {
        let mut keys = std::mem::take(&mut *lock(&self.ready.keys));
        let mut looked = 0;
        let mut finished = None;
        while let Some(&key) = keys.get(looked) {
            looked += 1;
            // A key can outlive its member (a detached task finishing
            // later); at worst it names a newer member, polled for nothing.
            let Some(member) = self.members.get_mut(key) else {
                continue;
            };
            // Cleared before the poll: a wake from now on queues it again.
            member.flag.queued.store(false, Ordering::Release);
            let mut member_cx = Context::from_waker(&member.waker);
            if let Poll::Ready(result) = Pin::new(&mut member.handle).poll(&mut member_cx) {
                self.members.remove(key);
                finished = Some(result);
                break;
            }
        }
        if looked < keys.len() {
            // Not looked at yet: back to the front, ahead of newer wakes.
            let mut ready = lock(&self.ready.keys);
            ready.splice(0..0, keys.drain(looked..));
        }
        finished
    }

    /// Aborts every task in the set. Their results (mostly cancelled
    /// [`JoinError`]s, or outputs of tasks that finished first) still come
    /// back through [`join_next`](Self::join_next).
    pub fn abort_all(&mut self) {
        for (_, member) in &self.members {
            member.handle.abort();
        }
    }

    /// Aborts every task and waits until each has finished or stopped.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Empties the set without aborting anything: the tasks run on, and
    /// their results are dropped.
    pub fn detach_all(&mut self) {
        self.members.clear();
        lock(&self.ready.keys).clear();
    }

    /// Waits for every task and returns their outputs, in the order they
    /// finished.
    ///
    /// # Panics
    ///
    /// If a task panicked, with its panic (after aborting the others), and
    /// if a task was aborted.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut outputs = Vec::with_capacity(self.len());
        while let Some(result) = self.join_next().await {
            match result {
                Ok(output) => outputs.push(output),
                Err(error) if error.is_panic() => {
                    self.abort_all();
                    std::panic::resume_unwind(error.into_panic());
                }
                Err(error) => panic!("pollen: a task of a JoinSet failed: {error}"),
            }
        }
        outputs
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}
