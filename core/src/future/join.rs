//! [`join!`](crate::join): wait for several futures at once, and its
//! function forms [`join`] and [`join3`].

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Waits for every future and returns their outputs as a tuple, in the order
/// the futures were written.
///
/// Must be used inside an `async` context. Each argument is an expression
/// whose value is a [`Future`](core::future::Future); the futures are taken
/// by value and pinned inside the macro (so `&mut fut` of an [`Unpin`] future
/// works too). Any number of futures is accepted (the recursion limit is the
/// bound); `join!()` is `()`.
///
/// # Behaviour
///
/// - Every time the `join!` is polled it polls, in the order written, each
///   future that has not completed yet. A future that has completed is never
///   polled again: it is dropped right away and its output is kept until all
///   are done.
/// - All futures run concurrently on the current task, not in parallel: use
///   spawning for parallelism.
/// - There is no short-circuit: if a future fails (say, returns `Err`), the
///   others still run to completion.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the `join!` (that is, the future of the `async`
/// block it is in) drops the unfinished futures and the outputs of the
/// finished ones, which are then lost.
///
/// # Examples
///
/// ```
/// use pollen_core::future::{ready, yield_now};
/// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
///
/// let (a, b, c) = block_on(async {
///     pollen_core::join!(
///         async {
///             yield_now().await;
///             1
///         },
///         ready("two"),
///         async { 3.0 },
///     )
/// });
/// assert_eq!((a, b, c), (1, "two", 3.0));
/// ```
#[macro_export]
macro_rules! join {
    () => {
        ()
    };
    ($($future:expr),+ $(,)?) => {
        $crate::__pollen_join!(@munch [] [] $($future,)+)
    };
}

/// Implementation of [`join!`](crate::join). Not public API.
///
/// Each future is paired with as many `_` as there are futures before it, so
/// that `let (_, _, slot, ..) = &mut slots;` reaches its slot in the tuple
/// without naming an index.
#[doc(hidden)]
#[macro_export]
macro_rules! __pollen_join {
    (@munch [$($done:tt)*] [$($skip:tt)*] $future:expr, $($rest:tt)*) => {
        $crate::__pollen_join!(@munch [$($done)* ([$($skip)*] $future)] [$($skip)* _] $($rest)*)
    };
    (@munch [$(([$($skip:tt)*] $future:expr))+] [$($all:tt)*]) => {{
        // One `(Pin<&mut Option<F>>, Option<F::Output>)` per future.
        let mut __slots = ($((
            $crate::future::__private::pin!(::core::option::Option::Some($future)),
            ::core::option::Option::None,
        ),)+);
        $crate::future::poll_fn(|__cx| {
            let mut __done = true;
            $(
                let ($($skip,)* __slot, ..) = &mut __slots;
                __done &= $crate::future::__private::poll_join_slot(
                    __slot.0.as_mut(),
                    &mut __slot.1,
                    __cx,
                );
            )+
            if !__done {
                return $crate::future::__private::Poll::Pending;
            }
            $crate::future::__private::Poll::Ready(($({
                let ($($skip,)* __slot, ..) = &mut __slots;
                $crate::future::__private::take_join_output(&mut __slot.1)
            },)+))
        })
        .await
    }};
}

/// Polls the future in `future` unless it has completed; on completion moves
/// its output to `output` and drops the future in place.
///
/// Returns whether the future has completed (now or before).
#[doc(hidden)]
pub fn poll_join_slot<F: Future>(
    mut future: Pin<&mut Option<F>>,
    output: &mut Option<F::Output>,
    cx: &mut Context<'_>,
) -> bool {
    let Some(running) = future.as_mut().as_pin_mut() else {
        return true;
    };
    match running.poll(cx) {
        Poll::Ready(value) => {
            *output = Some(value);
            future.set(None);
            true
        }
        Poll::Pending => false,
    }
}

/// Takes the output of a completed `join!` branch.
#[doc(hidden)]
#[track_caller]
pub fn take_join_output<T>(output: &mut Option<T>) -> T {
    output.take().expect("`join!` polled after completion")
}

/// Waits for both futures; the function form of [`join!`](crate::join)`(a, b)`.
///
/// Polls `a` then `b` on every wake until both have completed, never polling
/// one again after it completed.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future drops the output of whichever future
/// had already completed.
///
/// # Examples
///
/// ```
/// use pollen_core::future::{join, ready};
/// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
///
/// assert_eq!(block_on(join(ready(1), async { 'b' })), (1, 'b'));
/// ```
pub async fn join<A, B>(a: A, b: B) -> (A::Output, B::Output)
where
    A: Future,
    B: Future,
{
    crate::join!(a, b)
}

/// Waits for three futures; the function form of
/// [`join!`](crate::join)`(a, b, c)`.
///
/// # Cancel safety
///
/// Not cancel safe, like [`join()`].
///
/// # Examples
///
/// ```
/// use pollen_core::future::{join3, ready};
/// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
///
/// assert_eq!(block_on(join3(ready(1), ready(2), ready(3))), (1, 2, 3));
/// ```
pub async fn join3<A, B, C>(a: A, b: B, c: C) -> (A::Output, B::Output, C::Output)
where
    A: Future,
    B: Future,
    C: Future,
{
    crate::join!(a, b, c)
}

#[cfg(test)]
mod tests {
    //! The macro used from inside the crate, where every lint applies to its
    //! expansion. Behaviour is tested in `tests/future_join.rs`.

    use core::task::{Context, Poll, Waker};

    use super::{join, join3};
    use crate::future::{ready, yield_now};

    #[test]
    fn expands_inside_the_crate() {
        let mut future = core::pin::pin!(async {
            let one = crate::join!(ready(1));
            let pair = crate::join!(async { yield_now().await }, ready('x'),);
            let fns = (
                join(ready(1), ready(2)).await,
                join3(ready(1), ready(2), ready(3)).await,
            );
            (one, pair, fns)
        });
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            future.as_mut().poll(&mut cx),
            Poll::Ready(((1,), ((), 'x'), ((1, 2), (1, 2, 3))))
        );
    }
}
