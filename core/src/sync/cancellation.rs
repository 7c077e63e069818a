//! `CancellationToken`: tell a tree of tasks to stop.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::fmt;

use super::blocking_mutex::Mutex;
use super::{DefaultRawMutex, Notify};
use crate::loom::atomic::{AtomicBool, Ordering};

/// A token that tasks watch to learn they should stop: [`cancel`] it once,
/// and every [`cancelled`](CancellationToken::cancelled) future completes,
/// now and later. Clones share one token; [`child_token`] makes a token
/// that is cancelled with its parent (but not the other way round), for
/// shutting down one part of a program on its own.
///
/// Under `alloc` (tokens are shared through an `Arc`).
///
/// [`cancel`]: CancellationToken::cancel
/// [`child_token`]: CancellationToken::child_token
///
/// # Examples
///
/// ```
/// use pollen_core::sync::CancellationToken;
///
/// let shutdown = CancellationToken::new();
/// let worker = shutdown.child_token();
/// let also_worker = worker.clone();
/// worker.cancel(); // stops this part only
/// assert!(also_worker.is_cancelled());
/// assert!(!shutdown.is_cancelled());
///
/// let other = shutdown.child_token();
/// shutdown.cancel(); // stops everything under it
/// assert!(other.is_cancelled());
/// ```
#[derive(Clone)]
pub struct CancellationToken {
    node: Arc<Node>,
}

struct Node {
    cancelled: AtomicBool,
    notify: Notify<DefaultRawMutex>,
    /// Children to cancel with this node; dead ones are pruned as it grows.
    children: Mutex<DefaultRawMutex, Vec<Weak<Node>>>,
}

/// Cancels its token when dropped, unless [`disarm`](DropGuard::disarm)ed.
#[must_use = "dropping the guard cancels the token at once"]
pub struct DropGuard {
    token: Option<CancellationToken>,
}

// === impl CancellationToken ===

impl CancellationToken {
    /// A new token, not cancelled.
    pub fn new() -> CancellationToken {
        CancellationToken {
            node: Arc::new(Node::new()),
        }
    }

    /// A token cancelled when this one is (or already, if this one is).
    pub fn child_token(&self) -> CancellationToken {
        let child = Arc::new(Node::new());
        let parent_cancelled = self.node.children.lock(|children| {
            // Checked under the lock `cancel` takes after setting the flag:
            // either it sees the child here, or the child sees the flag.
            if self.node.cancelled.load(Ordering::Acquire) {
                return true;
            }
            if children.len() == children.capacity() {
                children.retain(|c| c.strong_count() > 0);
            }
            children.push(Arc::downgrade(&child));
            false
        });
        if parent_cancelled {
            child.cancel();
        }
        CancellationToken { node: child }
    }

    /// Cancels this token and every token under it. Idempotent.
    pub fn cancel(&self) {
        self.node.cancel();
    }

    /// Whether the token was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.node.cancelled.load(Ordering::Acquire)
    }

    /// Completes once the token is cancelled (at once if it is).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.node.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// A guard that cancels this token when dropped: tie a token to a scope.
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }
}

impl Default for CancellationToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl Node {
    fn new() -> Node {
        Node {
            cancelled: AtomicBool::new(false),
            notify: Notify::new(),
            children: Mutex::new(Vec::new()),
        }
    }

    fn cancel(&self) {
        if self.cancelled.swap(true, Ordering::AcqRel) {
            return;
        }
        self.notify.notify_waiters();
        let children = self.children.lock(core::mem::take);
        for child in children.iter().filter_map(Weak::upgrade) {
            child.cancel();
        }
    }
}

// === impl DropGuard ===

impl DropGuard {
    /// Keeps the token from being cancelled by this guard, and returns it.
    pub fn disarm(mut self) -> CancellationToken {
        self.token
            .take()
            .expect("a guard holds its token until dropped")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = &self.token {
            token.cancel();
        }
    }
}

impl fmt::Debug for DropGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropGuard")
            .field("armed", &self.token.is_some())
            .finish()
    }
}
