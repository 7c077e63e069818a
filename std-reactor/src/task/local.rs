//! Task-local storage: [`task_local!`](crate::task_local), [`LocalKey`] and
//! [`TaskLocalFuture`].
//!
//! # Design
//!
//! Every key that [`task_local!`](crate::task_local) declares owns one
//! `std::thread_local!` cell, a `RefCell<Option<T>>` that is `None` outside
//! every scope. A scope does not store its value in that cell for its whole
//! life: the [`TaskLocalFuture`] keeps the value in its own slot and, around
//! each poll of the inner future, swaps slot and cell with `mem::swap`, then
//! swaps them back when the poll returns. [`LocalKey::sync_scope`] does the
//! same around one call of its closure. So:
//!
//! - the value is set only while the scoped future is being polled (or
//!   dropped, see below), and only on the thread polling it. Between polls,
//!   other tasks on the same thread see their own value or none;
//! - scopes of the same key nest: the innermost one wins, and the outer
//!   value is back as soon as the inner poll returns;
//! - the swap back happens in a guard's `Drop`, so it also happens when the
//!   inner poll (or closure) panics;
//! - the value is never cloned: it moves between the slot and the cell and
//!   is dropped exactly once, with the `TaskLocalFuture` (or by whoever
//!   takes it with [`TaskLocalFuture::take_value`], or when `sync_scope`
//!   returns).
//!
//! A `TaskLocalFuture` dropped before its inner future completed drops that
//! future inside the scope, so the future's destructors can read the value.
//!
//! A task spawned from inside a scope does not see the value: spawning only
//! queues it, and its executor polls it later, outside the poll that swapped
//! the value in.
//!
//! # Borrowing
//!
//! [`LocalKey::with`] and [`LocalKey::try_with`] hold a shared borrow of the
//! cell while their closure runs, so reading the same key again inside them
//! is fine. Entering a scope of a key (with `sync_scope`, or by polling a
//! `TaskLocalFuture`) borrows its cell mutably for the swap only. Entering a
//! scope of a key from inside `with` of the *same* key therefore panics
//! with a message saying so; it is never undefined behaviour.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::error::AccessError;

/// Declares task-local keys: values a future sees while it runs inside a
/// [`LocalKey::scope`] of them.
///
/// Each `static NAME: Type;` becomes a `static NAME: LocalKey<Type>`
/// ([`LocalKey`]). One invocation may declare several keys; any visibility,
/// attributes and doc comments are kept. The macro is also reachable as
/// `pollen::task::task_local!`.
///
/// The type must be `'static`. Values are per task (per scope), not per
/// thread, and a task spawned from inside a scope does not inherit them (see
/// [`LocalKey`]).
///
/// # Examples
///
/// ```
/// use pollen::executor::{Executor, StdPark};
///
/// pollen::task_local! {
///     /// The id of the request being served.
///     pub static REQUEST_ID: u64;
///
///     static USER: String;
/// }
///
/// static EXECUTOR: Executor = Executor::new();
/// static PARK: StdPark = StdPark::new();
///
/// let greeting = EXECUTOR.block_on(
///     &PARK,
///     REQUEST_ID.scope(42, USER.scope("ada".to_string(), async {
///         USER.with(|user| format!("request {} from {user}", REQUEST_ID.get()))
///     })),
/// );
/// assert_eq!(greeting, "request 42 from ada");
/// assert!(REQUEST_ID.try_with(|_| ()).is_err());
/// ```
#[macro_export]
macro_rules! task_local {
    // Nothing (left) to declare.
    () => {};

    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };

    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
    };
}

/// One key of [`task_local!`]: the `static` and its thread-local cell.
#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_inner {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> = {
            ::std::thread_local! {
                static __POLLEN_TASK_LOCAL: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }

            $crate::task::LocalKey::__new(__POLLEN_TASK_LOCAL, ::std::stringify!($name))
        };
    };
}

/// A key for task-local values of type `T`, declared with
/// [`task_local!`](crate::task_local).
///
/// A value is given to a future with [`scope`](Self::scope) (or to a
/// closure with [`sync_scope`](Self::sync_scope)) and read with
/// [`with`](Self::with), [`try_with`](Self::try_with) or [`get`](Self::get)
/// from anywhere the future (or closure) calls, without passing it down.
///
/// - The value is set only while the scoped future is being polled or
///   dropped, on the thread polling it; two tasks interleaving on one thread
///   each see their own value.
/// - Scopes of the same key nest: the innermost value wins, and the outer
///   one comes back after each poll of the inner scope, also when it panics.
/// - **Not inherited**: a task spawned from inside a scope does not see the
///   value (the executor polls it later, outside the scope). Give it a scope
///   of its own if it needs one.
/// - Entering a scope of a key from inside [`with`](Self::with) of the same
///   key panics (the value is borrowed).
///
/// # Examples
///
/// ```
/// use pollen::executor::{Executor, StdPark};
/// use pollen::future::yield_now;
///
/// pollen::task_local! {
///     static DEPTH: u32;
/// }
///
/// static EXECUTOR: Executor = Executor::new();
/// static PARK: StdPark = StdPark::new();
///
/// async fn depth() -> u32 {
///     yield_now().await;
///     DEPTH.get()
/// }
///
/// EXECUTOR.block_on(&PARK, DEPTH.scope(1, async {
///     assert_eq!(depth().await, 1);
///     let inner = DEPTH.scope(2, async { depth().await }).await;
///     assert_eq!(inner, 2);
///     assert_eq!(depth().await, 1, "the outer value is back");
/// }));
///
/// // Outside every scope the key is not set.
/// assert!(DEPTH.try_with(|d| *d).is_err());
/// assert_eq!(DEPTH.sync_scope(3, || DEPTH.get()), 3);
/// ```
pub struct LocalKey<T: 'static> {
    inner: std::thread::LocalKey<RefCell<Option<T>>>,
    name: &'static str,
}

// === impl LocalKey ===

impl<T: 'static> LocalKey<T> {
    /// Used by [`task_local!`](crate::task_local); not public API.
    #[doc(hidden)]
    pub const fn __new(
        inner: std::thread::LocalKey<RefCell<Option<T>>>,
        name: &'static str,
    ) -> LocalKey<T> {
        LocalKey { inner, name }
    }

    /// Runs `future` with this key set to `value`.
    ///
    /// The returned [`TaskLocalFuture`] owns `value` and sets the key to it
    /// around every poll of `future` (and while dropping it), and only then.
    /// Its output is `future`'s output. The value is dropped with the
    /// `TaskLocalFuture`, unless taken out with
    /// [`take_value`](TaskLocalFuture::take_value).
    ///
    /// Tasks spawned by `future` do not inherit the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use pollen::executor::{Executor, StdPark};
    ///
    /// pollen::task_local! {
    ///     static NUMBER: u32;
    /// }
    ///
    /// static EXECUTOR: Executor = Executor::new();
    /// static PARK: StdPark = StdPark::new();
    ///
    /// let doubled = EXECUTOR.block_on(&PARK, NUMBER.scope(21, async { NUMBER.get() * 2 }));
    /// assert_eq!(doubled, 42);
    /// ```
    pub fn scope<F>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F>
    where
        F: Future,
    {
        TaskLocalFuture {
            local: self,
            slot: Some(value),
            future: Some(future),
        }
    }

    /// Calls `f` with this key set to `value`, and returns what it returns.
    ///
    /// The previous value of the key (from an enclosing scope, if any) is
    /// back when `f` returns or panics; `value` is dropped then.
    ///
    /// # Panics
    ///
    /// If called from inside [`with`](Self::with) or
    /// [`try_with`](Self::try_with) of this same key, or while this thread's
    /// thread-locals are being destroyed. Panics of `f` are passed on.
    ///
    /// # Examples
    ///
    /// ```
    /// pollen::task_local! {
    ///     static NUMBER: u32;
    /// }
    ///
    /// let sum = NUMBER.sync_scope(1, || NUMBER.get() + NUMBER.sync_scope(2, || NUMBER.get()));
    /// assert_eq!(sum, 3);
    /// ```
    #[track_caller]
    pub fn sync_scope<F, R>(&'static self, value: T, f: F) -> R
    where
        F: FnOnce() -> R,
    {
        let mut slot = Some(value);
        match self.scope_inner(&mut slot, f) {
            Ok(output) => output,
            Err(err) => err.panic(self.name),
        }
    }

    /// Calls `f` with a reference to the value of this key, and returns what
    /// it returns.
    ///
    /// # Panics
    ///
    /// If the key is not set: outside every scope of it, in a task spawned
    /// from inside a scope (values are not inherited), or after
    /// [`take_value`](TaskLocalFuture::take_value). The message names the
    /// key. Use [`try_with`](Self::try_with) to get an error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// pollen::task_local! {
    ///     static NAME: String;
    /// }
    ///
    /// let len = NAME.sync_scope("pollen".to_string(), || NAME.with(|name| name.len()));
    /// assert_eq!(len, 6);
    /// ```
    #[track_caller]
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match self.try_with(f) {
            Ok(output) => output,
            Err(_) => not_set(self.name),
        }
    }

    /// Calls `f` with a reference to the value of this key if it is set, and
    /// returns what it returns; [`AccessError`] if it is not set.
    ///
    /// While `f` runs the value is borrowed: reading this key again inside
    /// `f` is fine, entering a scope of it panics.
    ///
    /// # Examples
    ///
    /// ```
    /// pollen::task_local! {
    ///     static NAME: String;
    /// }
    ///
    /// assert!(NAME.try_with(|name| name.len()).is_err());
    /// let len = NAME.sync_scope("pollen".to_string(), || NAME.try_with(|name| name.len()));
    /// assert_eq!(len, Ok(6));
    /// ```
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        // After the thread-local was destroyed no scope can be active, so
        // `AccessError` is the right answer for that case too. `borrow`
        // cannot fail: the cell is only borrowed mutably for a swap, during
        // which no other code runs.
        let output = self
            .inner
            .try_with(|cell| cell.borrow().as_ref().map(f))
            .ok()
            .flatten();
        output.ok_or_else(AccessError::new)
    }

    /// A clone of the value of this key.
    ///
    /// # Panics
    ///
    /// As [`with`](Self::with): if the key is not set.
    ///
    /// # Examples
    ///
    /// ```
    /// pollen::task_local! {
    ///     static ID: u64;
    /// }
    ///
    /// assert_eq!(ID.sync_scope(9, || ID.get()), 9);
    /// ```
    #[track_caller]
    pub fn get(&'static self) -> T
    where
        T: Clone,
    {
        self.with(T::clone)
    }

    /// Swaps `slot` into the key, calls `f`, and swaps it back, also when
    /// `f` panics. Fails, without calling `f`, if the key cannot be entered.
    fn scope_inner<F, R>(&'static self, slot: &mut Option<T>, f: F) -> Result<R, ScopeError>
    where
        F: FnOnce() -> R,
    {
        /// Swaps the value back into its slot when the scope is left.
        struct Guard<'a, T: 'static> {
            local: &'static LocalKey<T>,
            slot: &'a mut Option<T>,
        }

        impl<T: 'static> Drop for Guard<'_, T> {
            fn drop(&mut self) {
                // Neither `with` nor `borrow_mut` can panic here: the
                // thread-local was alive when the scope was entered and is
                // not destroyed while code runs on this thread, and the cell
                // was not borrowed then. Code inside the scope cannot leave
                // a borrow behind: `with` and `try_with` hand out only `&T`
                // and end their borrow when their closure returns or unwinds.
                self.local
                    .inner
                    .with(|cell| mem::swap(self.slot, &mut *cell.borrow_mut()));
            }
        }

        self.inner
            .try_with(|cell| {
                cell.try_borrow_mut()
                    .map(|mut current| mem::swap(slot, &mut *current))
                    .map_err(|_| ScopeError::Borrowed)
            })
            .map_err(|_| ScopeError::Destroyed)??;

        let guard = Guard { local: self, slot };
        let output = f();
        drop(guard);
        Ok(output)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cold]
#[track_caller]
fn not_set(name: &str) -> ! {
    panic!(
        "pollen: the task-local `{name}` is not set: it was read outside of a `scope` or \
         `sync_scope` of it (a spawned task does not inherit its parent's task-locals)"
    );
}

/// Why a scope could not be entered.
enum ScopeError {
    /// The key's value is borrowed by a `with` of the same key.
    Borrowed,
    /// The thread's thread-locals are being (or have been) destroyed.
    Destroyed,
}

impl ScopeError {
    #[cold]
    #[track_caller]
    fn panic(self, name: &str) -> ! {
        match self {
            ScopeError::Borrowed => panic!(
                "pollen: cannot enter a scope of the task-local `{name}` while its value is \
                 borrowed (inside `with` or `try_with` of the same key)"
            ),
            ScopeError::Destroyed => panic!(
                "pollen: cannot enter a scope of the task-local `{name}` during or after the \
                 destruction of this thread's thread-locals"
            ),
        }
    }
}

pin_project! {
    /// A future that runs its inner future with a task-local key set: what
    /// [`LocalKey::scope`] returns.
    ///
    /// Around every poll of the inner future (and while dropping it) the key
    /// is set to the value this future owns; the previous value of the key
    /// is back when the poll returns, also when it panics. When the inner
    /// future completes it is dropped inside the scope too. The value itself
    /// is dropped with the `TaskLocalFuture`, unless taken out with
    /// [`take_value`](Self::take_value).
    ///
    /// Dropping a `TaskLocalFuture` whose inner future has not completed
    /// drops that future with the key set, so its destructors can read the
    /// value. (Only if the scope cannot be entered at that moment, because
    /// it is dropped inside `with` of the same key or while the thread's
    /// thread-locals are destroyed, is the inner future dropped without it.)
    ///
    /// # Panics
    ///
    /// Polling panics after the future has completed, when polled inside
    /// [`LocalKey::with`] of the same key, and while the thread's
    /// thread-locals are being destroyed.
    ///
    /// # Cancel safety
    ///
    /// As cancel safe as the inner future: dropping the `TaskLocalFuture`
    /// drops the inner future (with the key set) and the value.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct TaskLocalFuture<T, F>
    where
        T: 'static,
    {
        local: &'static LocalKey<T>,
        slot: Option<T>,
        #[pin]
        future: Option<F>,
    }

    impl<T, F> PinnedDrop for TaskLocalFuture<T, F>
    where
        T: 'static,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if mem::needs_drop::<F>() && this.future.is_some() {
                let mut future = this.future;
                // On error the scope was not entered, and the field's own
                // drop glue drops the future right after this.
                let _ = this.local.scope_inner(this.slot, || future.set(None));
            }
        }
    }
}

// === impl TaskLocalFuture ===

impl<T: 'static, F> TaskLocalFuture<T, F> {
    /// Takes the value out of this future: `Some` the first time, `None`
    /// after that.
    ///
    /// Works whether or not the inner future has completed. If it has not,
    /// it runs on without the value: in later polls the key is not set (or
    /// has the value of an enclosing scope, if any).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::pin;
    /// use pollen::executor::{Executor, StdPark};
    ///
    /// pollen::task_local! {
    ///     static NAME: String;
    /// }
    ///
    /// static EXECUTOR: Executor = Executor::new();
    /// static PARK: StdPark = StdPark::new();
    ///
    /// let mut scoped = pin!(NAME.scope("pollen".to_string(), async { NAME.get().len() }));
    /// assert_eq!(EXECUTOR.block_on(&PARK, scoped.as_mut()), 6);
    /// assert_eq!(scoped.as_mut().take_value().as_deref(), Some("pollen"));
    /// assert_eq!(scoped.as_mut().take_value(), None);
    /// ```
    pub fn take_value(self: Pin<&mut Self>) -> Option<T> {
        self.project().slot.take()
    }
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let local = *this.local;
        let mut future = this.future;
        let polled = local.scope_inner(this.slot, || {
            let inner = future.as_mut().as_pin_mut()?;
            let poll = inner.poll(cx);
            if poll.is_ready() {
                // Drop the finished future while the key is still set.
                future.set(None);
            }
            Some(poll)
        });
        match polled {
            Ok(Some(poll)) => poll,
            Ok(None) => panic!("pollen: `TaskLocalFuture` polled after completion"),
            Err(err) => err.panic(local.name),
        }
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture")
            .field("local", self.local)
            .field("has_value", &self.slot.is_some())
            .field("completed", &self.future.is_none())
            .finish()
    }
}
