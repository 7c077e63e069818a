//! `Send`, `Sync` and `Unpin` of every public type of `pollen_core::future`.

use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};

use pollen_core::future::{Fuse, Pending, PollFn, Ready, YieldNow};

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn unpin<T: Unpin>() {}

/// A future that is neither `Send`, `Sync` nor `Unpin`.
struct Local(PhantomData<*const ()>, core::marker::PhantomPinned);

impl Future for Local {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

#[test]
fn auto_traits() {
    send::<YieldNow>();
    sync::<YieldNow>();
    unpin::<YieldNow>();

    send::<Ready<u8>>();
    sync::<Ready<u8>>();
    unpin::<Ready<u8>>();
    // `Ready` never pins its value.
    unpin::<Ready<core::marker::PhantomPinned>>();

    // `Pending` holds no `T`.
    send::<Pending<*const ()>>();
    sync::<Pending<*const ()>>();
    unpin::<Pending<Local>>();

    send::<PollFn<fn(&mut Context<'_>) -> Poll<()>>>();
    sync::<PollFn<fn(&mut Context<'_>) -> Poll<()>>>();
    unpin::<PollFn<fn(&mut Context<'_>) -> Poll<()>>>();

    send::<Fuse<Ready<u8>>>();
    sync::<Fuse<Ready<u8>>>();
    unpin::<Fuse<Ready<u8>>>();
}

#[cfg(feature = "alloc")]
#[test]
fn join_all_auto_traits() {
    use pollen_core::future::JoinAll;
    send::<JoinAll<Ready<u8>>>();
    sync::<JoinAll<Ready<u8>>>();
    // The futures are boxed, so `JoinAll` is `Unpin` even over `!Unpin` ones.
    unpin::<JoinAll<Local>>();
}

#[test]
fn join_and_select_futures_are_send_when_their_parts_are() {
    fn send_future<F: Future + Send>(_: F) {}
    send_future(async {
        pollen_core::join!(
            pollen_core::future::ready(1),
            pollen_core::future::yield_now()
        )
    });
    send_future(async {
        pollen_core::select! {
            a = pollen_core::future::ready(1) => a,
            b = pollen_core::future::pending() => b,
        }
    });
    send_future(pollen_core::future::join(
        pollen_core::future::ready(1),
        pollen_core::future::ready(2),
    ));
}
