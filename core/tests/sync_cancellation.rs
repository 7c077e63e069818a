//! `CancellationToken`: waiters wake, children follow parents, guards cancel.
#![cfg(feature = "alloc")]

mod future_support;

use core::future::Future;
use core::pin::pin;
use core::task::Context;

use future_support::CountWaker;
use pollen_core::sync::CancellationToken;

#[test]
fn cancel_wakes_every_waiter_and_later_ones_complete_at_once() {
    let token = CancellationToken::new();
    let (counter, waker) = CountWaker::new();
    let mut cx = Context::from_waker(&waker);
    let clone = token.clone();
    let mut a = pin!(token.cancelled());
    let mut b = pin!(clone.cancelled());
    assert!(a.as_mut().poll(&mut cx).is_pending());
    assert!(b.as_mut().poll(&mut cx).is_pending());
    clone.cancel();
    assert_eq!(counter.wakes(), 2);
    assert!(a.as_mut().poll(&mut cx).is_ready());
    assert!(b.as_mut().poll(&mut cx).is_ready());
    assert!(pin!(token.cancelled()).poll(&mut cx).is_ready());
    token.cancel(); // idempotent
}

#[test]
fn children_follow_their_parent_and_not_the_other_way() {
    let root = CancellationToken::new();
    let child = root.child_token();
    let grandchild = child.child_token();
    let sibling = root.child_token();
    child.cancel();
    assert!(grandchild.is_cancelled());
    assert!(!root.is_cancelled() && !sibling.is_cancelled());
    root.cancel();
    assert!(sibling.is_cancelled());
    assert!(root.child_token().is_cancelled(), "born cancelled");
}

#[test]
fn a_drop_guard_cancels_unless_disarmed() {
    let token = CancellationToken::new();
    drop(token.clone().drop_guard().disarm());
    assert!(!token.is_cancelled());
    drop(token.clone().drop_guard());
    assert!(token.is_cancelled());
}

#[test]
fn dead_children_do_not_pile_up() {
    let root = CancellationToken::new();
    let n = if cfg!(miri) { 200 } else { 10_000 };
    for _ in 0..n {
        drop(root.child_token());
    }
    // Still works, and cancelling walks only live children.
    let live = root.child_token();
    root.cancel();
    assert!(live.is_cancelled());
}
