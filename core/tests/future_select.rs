//! `select!`: which branch wins, what is polled and in what order, what is
//! dropped, disabled branches, `else`, and control flow in arms.

mod future_support;

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::collections::BTreeSet;
use std::vec::Vec;

use future_support::{CountFuture, CountWaker, Stats, block_on, block_on_counted, poll_once};
use pollen_core::future::{fuse, pending, ready, yield_now};
use pollen_core::select;

#[test]
fn first_ready_wins_and_losers_are_dropped_once_before_the_arm() {
    let stats = Stats::new(3);
    let out = block_on(async {
        select! {
            a = CountFuture::new(&stats, 0, 5, 10) => (0, a.value, stats.future_drops()),
            b = CountFuture::new(&stats, 1, 2, 20) => (1, b.value, stats.future_drops()),
            c = CountFuture::new(&stats, 2, 0, 30) => (2, c.value, stats.future_drops()),
        }
    });
    let (branch, value, drops_in_arm) = out;
    assert_eq!((branch, value), (1, 20));
    // Every future was dropped before the arm ran.
    assert_eq!(drops_in_arm, [1, 1, 1]);
    // The first poll polled all three; the second stopped at #1, which was
    // ready, so the others were polled once more only if they came first in
    // that poll's rotation.
    let polls = stats.polls();
    assert_eq!(polls[1], 2);
    assert!(polls[0] == 1 || polls[0] == 2, "{polls:?}");
    assert!(polls[2] == 1 || polls[2] == 2, "{polls:?}");
    let order = stats.take_order();
    assert_eq!(order.len(), polls.iter().sum::<usize>());
    assert_eq!(order.last(), Some(&1));
    assert_eq!(stats.future_drops(), [1, 1, 1]);
    assert_eq!(stats.output_drops(), [0, 1, 0]);
}

#[test]
fn biased_polls_in_written_order() {
    let stats = Stats::new(4);
    let (won, polls) = block_on_counted(async {
        select! {
            biased;
            _ = CountFuture::new(&stats, 0, 0, 0) => 0,
            _ = CountFuture::new(&stats, 1, 0, 0) => 1,
            _ = CountFuture::new(&stats, 2, 3, 0) => 2,
            _ = CountFuture::new(&stats, 3, 0, 0) => 3,
        }
    });
    assert_eq!(won, 2);
    assert_eq!(polls, 3);
    // Two full rounds, then the third stops at the winner: #3 is polled
    // only twice.
    assert_eq!(stats.take_order(), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2]);
    assert_eq!(stats.future_drops(), [1, 1, 1, 1]);
    assert_eq!(stats.output_drops(), [0, 0, 1, 0]);
}

#[test]
fn biased_prefers_the_first_ready_branch() {
    let stats = Stats::new(2);
    let won = block_on(async {
        select! {
            biased;
            a = CountFuture::new(&stats, 0, 1, 1) => a.id,
            b = CountFuture::new(&stats, 1, 1, 2) => b.id,
        }
    });
    assert_eq!(won, 0);
    assert_eq!(stats.polls(), [1, 0]);
    assert_eq!(stats.future_drops(), [1, 1]);
    assert_eq!(stats.output_drops(), [1, 0]);
}

#[test]
fn unbiased_start_varies_and_stays_a_rotation() {
    const RUNS: usize = 100;
    let mut first_polled = BTreeSet::new();
    let mut winners = BTreeSet::new();
    for _ in 0..RUNS {
        let stats = Stats::new(4);
        let won = block_on(async {
            select! {
                a = CountFuture::new(&stats, 0, 1, 0) => a.id,
                b = CountFuture::new(&stats, 1, 1, 0) => b.id,
                c = CountFuture::new(&stats, 2, 1, 0) => c.id,
                d = CountFuture::new(&stats, 3, 1, 0) => d.id,
            }
        });
        // All are ready on the first poll: the first polled wins, alone.
        let order = stats.take_order();
        assert_eq!(order, [won]);
        first_polled.insert(order[0]);
        winners.insert(won);
        assert_eq!(stats.future_drops(), [1, 1, 1, 1]);
    }
    assert!(first_polled.len() > 1, "always started at {first_polled:?}");
    assert_eq!(first_polled, winners);
}

#[test]
fn unbiased_rotation_wraps_around() {
    // None is ready: every poll polls all four, starting anywhere but always
    // in rotation order.
    for _ in 0..20 {
        let stats = Stats::new(4);
        let (_, waker) = CountWaker::new();
        {
            let mut fut = core::pin::pin!(async {
                select! {
                    _ = CountFuture::new(&stats, 0, 0, 0) => {}
                    _ = CountFuture::new(&stats, 1, 0, 0) => {}
                    _ = CountFuture::new(&stats, 2, 0, 0) => {}
                    _ = CountFuture::new(&stats, 3, 0, 0) => {}
                }
            });
            for _ in 0..3 {
                assert!(poll_once(fut.as_mut(), &waker).is_pending());
                let order = stats.take_order();
                assert_eq!(order.len(), 4);
                for pair in order.windows(2) {
                    assert_eq!(pair[1], (pair[0] + 1) % 4, "{order:?}");
                }
            }
            assert_eq!(stats.future_drops(), [0, 0, 0, 0]);
        }
        assert_eq!(stats.polls(), [3, 3, 3, 3]);
        assert_eq!(stats.future_drops(), [1, 1, 1, 1]);
    }
}

#[test]
fn dropping_a_pending_select_drops_every_future_once() {
    let stats = Stats::new(2);
    let (_, waker) = CountWaker::new();
    {
        let mut fut = core::pin::pin!(async {
            select! {
                _ = CountFuture::new(&stats, 0, 0, 0) => {}
                _ = CountFuture::new(&stats, 1, 0, 0) => {}
            }
        });
        assert!(poll_once(fut.as_mut(), &waker).is_pending());
        assert_eq!(stats.future_drops(), [0, 0]);
    }
    assert_eq!(stats.polls(), [1, 1]);
    assert_eq!(stats.future_drops(), [1, 1]);
    assert_eq!(stats.output_drops(), [0, 0]);
}

#[test]
fn mismatched_pattern_disables_the_branch_and_select_goes_on() {
    let stats = Stats::new(2);
    let won = block_on(async {
        select! {
            biased;
            Tracked1 { value: 1, .. } = track(CountFuture::new(&stats, 0, 1, 0)) => 0,
            t = CountFuture::new(&stats, 1, 3, 7) => t.value,
        }
    });
    assert_eq!(won, 7);
    // #0 completed on the first poll with a value that did not match: it was
    // never polled again, and its output was dropped right away.
    assert_eq!(stats.polls(), [1, 3]);
    assert_eq!(stats.future_drops(), [1, 1]);
    assert_eq!(stats.output_drops(), [1, 1]);
}

/// A `Tracked` seen through a struct pattern.
struct Tracked1 {
    value: u32,
    _inner: future_support::Tracked,
}

async fn track(fut: CountFuture) -> Tracked1 {
    let inner = fut.await;
    Tracked1 {
        value: inner.value,
        _inner: inner,
    }
}

#[test]
fn else_runs_when_every_pattern_misses() {
    let stats = Stats::new(2);
    let out = block_on(async {
        select! {
            Some(v) = async { CountFuture::new(&stats, 0, 2, 1).await; None::<u32> } => v,
            Ok(v) = async { Err::<u32, _>(CountFuture::new(&stats, 1, 1, 2).await) } => v,
            else => 99,
        }
    });
    assert_eq!(out, 99);
    assert_eq!(stats.polls(), [2, 1]);
    assert_eq!(stats.future_drops(), [1, 1]);
    assert_eq!(stats.output_drops(), [1, 1]);
}

#[test]
fn preconditions_disable_without_polling_but_still_drop() {
    let stats = Stats::new(3);
    let out = block_on(async {
        select! {
            a = CountFuture::new(&stats, 0, 1, 0), if false => a.id,
            b = CountFuture::new(&stats, 1, 1, 0), if 1 + 1 == 3 => b.id,
            c = CountFuture::new(&stats, 2, 2, 0), if true => c.id,
        }
    });
    assert_eq!(out, 2);
    assert_eq!(stats.polls(), [0, 0, 2]);
    assert_eq!(stats.future_drops(), [1, 1, 1]);

    let stats = Stats::new(1);
    let (out, polls) = block_on_counted(async {
        select! {
            _ = CountFuture::new(&stats, 0, 1, 0), if false => 1,
            else => 2,
        }
    });
    assert_eq!((out, polls), (2, 1));
    assert_eq!(stats.polls(), [0]);
    assert_eq!(stats.future_drops(), [1]);
}

#[test]
#[should_panic(expected = "all branches are disabled and there is no else branch")]
fn no_else_panics_when_all_disabled() {
    block_on(async {
        select! {
            Some(v) = ready(None::<u8>) => v,
            Some(v) = async { None::<u8> } => v,
        }
    });
}

#[test]
fn arms_can_return_break_continue_and_try() {
    async fn returns() -> u32 {
        select! {
            v = ready(5) => return v * 2,
            _ = pending::<()>() => {}
        }
        unreachable!("the arm returned");
    }
    assert_eq!(block_on(returns()), 10);

    let stats = Stats::new(1);
    let count = block_on(async {
        let mut count = 0;
        let mut tick = 0;
        loop {
            tick += 1;
            select! {
                biased;
                _ = async {} , if tick < 3 => {
                    count += 1;
                    continue;
                }
                t = CountFuture::new(&stats, 0, 1, 0), if tick == 3 => {
                    count += 10 + t.value;
                }
                else => break,
            }
            count += 100;
        }
        count
    });
    // Two `continue`s, one arm that falls through, then `else => break`.
    assert_eq!(count, 1 + 1 + 10 + 100);
    // A future is made on each of the four rounds, disabled or not; only the
    // enabled one was polled.
    assert_eq!(stats.polls(), [1]);
    assert_eq!(stats.future_drops(), [4]);
    assert_eq!(stats.output_drops(), [1]);

    async fn tries(fail: bool) -> Result<u32, &'static str> {
        let v = select! {
            r = async move { if fail { Err("boom") } else { Ok(3) } } => r?,
            _ = pending::<()>() => 0,
        };
        Ok(v + 1)
    }
    assert_eq!(block_on(tries(false)), Ok(4));
    assert_eq!(block_on(tries(true)), Err("boom"));
}

#[test]
fn arms_can_await_and_nest() {
    let (out, polls) = block_on_counted(async {
        select! {
            a = async { yield_now().await; 1 } => {
                yield_now().await;
                let inner = select! {
                    biased;
                    b = ready(a + 1) => b,
                    _ = pending::<()>() => 0,
                };
                inner * 10
            }
            _ = pending::<()>() => 0,
        }
    });
    assert_eq!(out, 20);
    assert_eq!(polls, 3);
}

#[test]
fn borrowed_unpin_futures_survive_the_select() {
    let stats = Stats::new(2);
    let mut slow = fuse(CountFuture::new(&stats, 0, 4, 1));
    let mut fast = CountFuture::new(&stats, 1, 1, 2);
    let (first, second) = block_on(async {
        let first = select! {
            biased;
            a = &mut slow => a.value,
            b = &mut fast => b.value,
        };
        // `slow` was lent, not dropped: it goes on where it was.
        let second = select! {
            a = &mut slow => a.value,
        };
        (first, second)
    });
    assert_eq!((first, second), (2, 1));
    assert_eq!(stats.polls(), [4, 1]);
    assert_eq!(stats.future_drops(), [1, 0]);
    drop(fast);
    assert_eq!(stats.future_drops(), [1, 1]);
    assert_eq!(stats.output_drops(), [1, 1]);
}

#[test]
fn loop_over_fused_futures_until_else() {
    let stats = Stats::new(3);
    let mut a = fuse(CountFuture::new(&stats, 0, 3, 1));
    let mut b = fuse(CountFuture::new(&stats, 1, 1, 2));
    let mut c = fuse(CountFuture::new(&stats, 2, 2, 3));
    let seen = block_on(async {
        use futures_core::future::FusedFuture;
        let mut seen = Vec::new();
        loop {
            let (a_done, b_done, c_done) =
                (a.is_terminated(), b.is_terminated(), c.is_terminated());
            select! {
                x = &mut a, if !a_done => seen.push(x.value),
                x = &mut b, if !b_done => seen.push(x.value),
                x = &mut c, if !c_done => seen.push(x.value),
                else => break,
            }
        }
        seen.sort_unstable();
        seen
    });
    assert_eq!(seen, [1, 2, 3]);
    // Never polled after completion (CountFuture would panic), dropped once.
    assert_eq!(stats.future_drops(), [1, 1, 1]);
    assert_eq!(stats.output_drops(), [1, 1, 1]);
}

#[test]
fn binding_modes_and_reference_patterns() {
    let out = block_on(async {
        select! {
            biased;
            Some(mut v) = ready(Some(1)) => {
                v += 1;
                v
            }
            _ = pending::<()>() => 0,
        }
    });
    assert_eq!(out, 2);

    let out = block_on(async {
        select! {
            (ref a, ref mut b) = ready((1, 2)) => {
                *b += *a;
                *b
            }
        }
    });
    assert_eq!(out, 3);

    let x = 7;
    let (mut one, mut two) = (1, 2);
    let out = block_on(async {
        select! {
            biased;
            Some(&8) = ready(Some(&x)) => 0,
            (&v, [.., &mut w]) = ready((&x, [&mut one, &mut two])) => v + w,
        }
    });
    assert_eq!(out, 9);

    let out = block_on(async {
        select! {
            biased;
            Some("no") = ready(Some("yes")) => 0,
            1 | 2 = ready(3) => 1,
            Ok(3..=5) | Err(_) = ready(Ok::<u8, ()>(4)) => 2,
        }
    });
    assert_eq!(out, 2);

    let out = block_on(async {
        select! {
            Point { x: mut px, y: 0 } = ready(Point { x: 5, y: 0 }) => {
                px *= 2;
                px
            }
        }
    });
    assert_eq!(out, 10);
}

struct Point {
    x: i32,
    y: i32,
}

#[test]
fn one_branch_and_expression_handlers_without_trailing_comma() {
    assert_eq!(
        block_on(async {
            select! { v = ready(1) => v }
        }),
        1
    );
    assert_eq!(
        block_on(async {
            select! { v = ready(1) => { v + 1 } }
        }),
        2
    );
    assert_eq!(
        block_on(async {
            select! { biased; v = ready(1), if true => v + 2, }
        }),
        3
    );
}

#[test]
fn many_branches() {
    let stats = Stats::new(10);
    let won = block_on(async {
        select! {
            x = CountFuture::new(&stats, 0, 0, 0) => x.id,
            x = CountFuture::new(&stats, 1, 0, 0) => x.id,
            x = CountFuture::new(&stats, 2, 0, 0) => x.id,
            x = CountFuture::new(&stats, 3, 0, 0) => x.id,
            x = CountFuture::new(&stats, 4, 0, 0) => x.id,
            x = CountFuture::new(&stats, 5, 0, 0) => x.id,
            x = CountFuture::new(&stats, 6, 0, 0) => x.id,
            x = CountFuture::new(&stats, 7, 3, 0) => x.id,
            x = CountFuture::new(&stats, 8, 0, 0) => x.id,
            x = CountFuture::new(&stats, 9, 0, 0) => x.id,
        }
    });
    assert_eq!(won, 7);
    assert_eq!(stats.future_drops(), [1; 10]);
    assert_eq!(stats.output_drops(), [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
    // Every branch polled two or three times (three if after #7's turn in
    // the rotation came before #7 on the last poll).
    assert!(
        stats.polls().iter().all(|&n| n == 2 || n == 3),
        "{:?}",
        stats.polls()
    );
}

#[test]
fn waker_of_each_branch_is_the_tasks() {
    // A future that only wakes: `select!` must pass the task's context down.
    struct WakeOnce(bool);
    impl Future for WakeOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    let (counter, waker) = CountWaker::new();
    let mut fut = core::pin::pin!(async {
        select! {
            () = WakeOnce(false) => 1,
            () = pending() => 2,
        }
    });
    assert!(poll_once(fut.as_mut(), &waker).is_pending());
    assert_eq!(counter.wakes(), 1);
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready(1));
}

#[test]
fn sixty_four_branches_within_the_default_recursion_limit() {
    let stats = Stats::new(64);
    let won = block_on(async {
        select! {
            x = CountFuture::new(&stats, 0, 0, 0) => x.id,
            x = CountFuture::new(&stats, 1, 0, 0) => x.id,
            x = CountFuture::new(&stats, 2, 0, 0) => x.id,
            x = CountFuture::new(&stats, 3, 0, 0) => x.id,
            x = CountFuture::new(&stats, 4, 0, 0) => x.id,
            x = CountFuture::new(&stats, 5, 0, 0) => x.id,
            x = CountFuture::new(&stats, 6, 0, 0) => x.id,
            x = CountFuture::new(&stats, 7, 0, 0) => x.id,
            x = CountFuture::new(&stats, 8, 0, 0) => x.id,
            x = CountFuture::new(&stats, 9, 0, 0) => x.id,
            x = CountFuture::new(&stats, 10, 0, 0) => x.id,
            x = CountFuture::new(&stats, 11, 0, 0) => x.id,
            x = CountFuture::new(&stats, 12, 0, 0) => x.id,
            x = CountFuture::new(&stats, 13, 0, 0) => x.id,
            x = CountFuture::new(&stats, 14, 0, 0) => x.id,
            x = CountFuture::new(&stats, 15, 0, 0) => x.id,
            x = CountFuture::new(&stats, 16, 0, 0) => x.id,
            x = CountFuture::new(&stats, 17, 0, 0) => x.id,
            x = CountFuture::new(&stats, 18, 0, 0) => x.id,
            x = CountFuture::new(&stats, 19, 0, 0) => x.id,
            x = CountFuture::new(&stats, 20, 0, 0) => x.id,
            x = CountFuture::new(&stats, 21, 0, 0) => x.id,
            x = CountFuture::new(&stats, 22, 0, 0) => x.id,
            x = CountFuture::new(&stats, 23, 0, 0) => x.id,
            x = CountFuture::new(&stats, 24, 0, 0) => x.id,
            x = CountFuture::new(&stats, 25, 0, 0) => x.id,
            x = CountFuture::new(&stats, 26, 0, 0) => x.id,
            x = CountFuture::new(&stats, 27, 0, 0) => x.id,
            x = CountFuture::new(&stats, 28, 0, 0) => x.id,
            x = CountFuture::new(&stats, 29, 0, 0) => x.id,
            x = CountFuture::new(&stats, 30, 0, 0) => x.id,
            x = CountFuture::new(&stats, 31, 0, 0) => x.id,
            x = CountFuture::new(&stats, 32, 0, 0) => x.id,
            x = CountFuture::new(&stats, 33, 0, 0) => x.id,
            x = CountFuture::new(&stats, 34, 0, 0) => x.id,
            x = CountFuture::new(&stats, 35, 0, 0) => x.id,
            x = CountFuture::new(&stats, 36, 0, 0) => x.id,
            x = CountFuture::new(&stats, 37, 0, 0) => x.id,
            x = CountFuture::new(&stats, 38, 0, 0) => x.id,
            x = CountFuture::new(&stats, 39, 0, 0) => x.id,
            x = CountFuture::new(&stats, 40, 0, 0) => x.id,
            x = CountFuture::new(&stats, 41, 3, 0) => x.id,
            x = CountFuture::new(&stats, 42, 0, 0) => x.id,
            x = CountFuture::new(&stats, 43, 0, 0) => x.id,
            x = CountFuture::new(&stats, 44, 0, 0) => x.id,
            x = CountFuture::new(&stats, 45, 0, 0) => x.id,
            x = CountFuture::new(&stats, 46, 0, 0) => x.id,
            x = CountFuture::new(&stats, 47, 0, 0) => x.id,
            x = CountFuture::new(&stats, 48, 0, 0) => x.id,
            x = CountFuture::new(&stats, 49, 0, 0) => x.id,
            x = CountFuture::new(&stats, 50, 0, 0) => x.id,
            x = CountFuture::new(&stats, 51, 0, 0) => x.id,
            x = CountFuture::new(&stats, 52, 0, 0) => x.id,
            x = CountFuture::new(&stats, 53, 0, 0) => x.id,
            x = CountFuture::new(&stats, 54, 0, 0) => x.id,
            x = CountFuture::new(&stats, 55, 0, 0) => x.id,
            x = CountFuture::new(&stats, 56, 0, 0) => x.id,
            x = CountFuture::new(&stats, 57, 0, 0) => x.id,
            x = CountFuture::new(&stats, 58, 0, 0) => x.id,
            x = CountFuture::new(&stats, 59, 0, 0) => x.id,
            x = CountFuture::new(&stats, 60, 0, 0) => x.id,
            x = CountFuture::new(&stats, 61, 0, 0) => x.id,
            x = CountFuture::new(&stats, 62, 0, 0) => x.id,
            x = CountFuture::new(&stats, 63, 0, 0) => x.id,
        }
    });
    assert_eq!(won, 41);
    assert_eq!(stats.future_drops(), [1; 64]);
    assert_eq!(stats.polls()[41], 3);
}

#[test]
fn long_patterns_with_conditions() {
    let out = block_on(async {
        select! {
            biased;
            Ok(v) | Err(v) = ready(Err::<u8, u8>(4)), if false => v,
            Ok(v) | Err(v) = ready(Ok::<u8, u8>(5)), if true => v,
        }
    });
    assert_eq!(out, 5);
    let out = block_on(async {
        select! {
            Ok(v) | Err(v) = ready(Err::<u8, u8>(6)), if true => { v }
            else => 0
        }
    });
    assert_eq!(out, 6);
}
