//! [`select!`](crate::select): wait for the first of several futures.
//!
//! # How the macro works
//!
//! `select!` is a `macro_rules!` in four steps, all in `__pollen_select!`:
//!
//! 1. `@init` starts a state `(biased [else] [branches] [supply])`. The supply
//!    is a list of `(index name)` pairs, one per possible branch: the index
//!    is the branch's bit in the `disabled` mask and its field in the tuple of
//!    futures, the name is its variant and type parameter in the local output
//!    enum. The supply bounds a `select!` to 64 branches (the width of the
//!    mask); the entry left over at the end is the branch count.
//! 2. `@branch` reads one branch per expansion. A pattern must stay raw
//!    tokens (a `$p:pat` fragment would be opaque, and step 3 must look inside
//!    it), so it is taken as 1, 2 or 3 `tt`s followed by `=`, which covers
//!    `x`, `_`, `Some(x)`, `Ok(Some(x))`, `Foo { .. }` and the like in the
//!    same step; a longer pattern is read token by token (`@pat`) and the rest
//!    of its branch by `@future`.
//! 3. When a future completes, the poll closure must know whether its output
//!    matches the pattern without consuming the output, so it matches a
//!    reference to the output against a copy of the pattern made by
//!    `__pollen_select_pattern!`, which drops `mut`, `ref` and `&` (none of
//!    which may be written, in edition 2024, where the default binding mode is
//!    by reference; dropping them tests exactly the same values).
//! 4. `@emit` writes the expansion: evaluate preconditions, then the futures
//!    (pinned in a tuple), then `poll_fn(..).await` to get the enum of the
//!    winning output, and only then, after the futures are dropped, `match`
//!    it against the real patterns. The arm bodies are thus outside any
//!    closure and any loop of ours, so `return`, `break`, `continue`, `?` and
//!    `.await` in them mean what they mean around the `select!`.

/// Waits on several futures at once and runs the arm of the first one that
/// completes with an output matching its pattern.
///
/// ```text
/// select! {
///     biased;                                  // optional, first
///     <pattern> = <future> => <handler>,
///     <pattern> = <future>, if <condition> => <handler>,
///     ...
///     else => <handler>,                       // optional, last
/// }
/// ```
///
/// Must be used inside an `async` context. Between 1 and 64 branches; a
/// handler is an expression followed by `,`, or a block (the `,` is then
/// optional).
///
/// # Behaviour
///
/// 1. Every `<condition>` is evaluated, in order. A branch whose condition is
///    `false` is *disabled* for this `select!`.
/// 2. Every `<future>` is evaluated, in order, disabled branches included,
///    and pinned inside the macro: it is taken by value, so an owned future
///    is consumed and `&mut fut` of an [`Unpin`] future lends it.
/// 3. Each time the `select!` is polled it polls every enabled branch once,
///    starting at a random branch and wrapping around (or at the first
///    branch, with `biased;`).
///    - When a future completes, its branch is disabled (it is never polled
///      again) and its output is matched against `<pattern>`. If it matches,
///      polling stops; if not, the output is dropped and polling goes on with
///      the next branch.
///    - When every branch is disabled, the `select!` completes with the
///      `else` handler, or panics if there is no `else`.
/// 4. All futures are dropped (each exactly once, in reverse order), then the
///    handler of the winning branch runs with the pattern's bindings. The
///    handler is not inside a closure: `return`, `break`, `continue`, `?` and
///    `.await` act on the code around the `select!`.
///
/// The value of the `select!` is the value of the handler that ran, so all
/// handlers must have the same type.
///
/// # Fairness
///
/// Without `biased;`, the branch polled first is drawn anew on every poll
/// from a small xorshift32 PRNG. Each `select!` seeds its PRNG from a global
/// atomic counter (no operating system, no CAS needed), so repeated
/// `select!`s, for example in a loop, start from different branches. The
/// PRNG is for fairness only and not cryptographic. With `biased;` branches
/// are polled in the order written, which is cheaper and deterministic, but a
/// branch that is always ready starves those written after it.
///
/// # Cancel safety
///
/// Whether a `select!` in a loop loses data depends on the futures in its
/// branches: each time one branch wins, the futures of the other branches are
/// dropped. Only futures that are cancel safe (their docs say so), or futures
/// lent with `&mut` so that they survive into the next iteration, can be used
/// without losing data. A `select!` dropped before it completes drops all its
/// futures.
///
/// # Panics
///
/// When every branch is disabled and there is no `else` branch.
///
/// # Limits
///
/// The copy of each pattern made for step 3 drops every `mut`, `ref`, `&` and
/// `&&` token in it, so a pattern that contains one of those tokens in a
/// place that is not a binding or a reference pattern (such as a generic
/// argument `Foo::<&T>::Bar` or a macro call) may not compile. For the same
/// reason, a string literal cannot be the whole pattern of a branch whose
/// output is a `&str` (write `s if s == "..."` in the handler instead);
/// inside a larger pattern, such as `Some("text")`, it works.
///
/// # Examples
///
/// The first future to complete wins; the other is dropped:
///
/// ```
/// use pollen_core::future::{pending, ready};
/// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
///
/// let winner = block_on(async {
///     pollen_core::select! {
///         never = pending::<u32>() => never,
///         now = ready(7) => now * 6,
///     }
/// });
/// assert_eq!(winner, 42);
/// ```
///
/// A loop over futures lent with `&mut`, a pattern that disables a branch,
/// and `else`:
///
/// ```
/// use pollen_core::future::{fuse, ready};
/// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
///
/// let total = block_on(async {
///     let mut a = fuse(ready(Some(1)));
///     let mut b = fuse(ready(None::<i32>));
///     let mut total = 0;
///     let mut a_done = false;
///     loop {
///         pollen_core::select! {
///             biased;
///             Some(n) = &mut a, if !a_done => {
///                 a_done = true;
///                 total += n;
///             }
///             // `None` does not match: this branch is just disabled.
///             Some(n) = &mut b => total += n,
///             else => break,
///         }
///     }
///     total
/// });
/// assert_eq!(total, 1);
/// ```
#[macro_export]
macro_rules! select {
    (biased; $($branches:tt)*) => {
        $crate::__pollen_select!(@init true; $($branches)*)
    };
    ($($branches:tt)*) => {
        $crate::__pollen_select!(@init false; $($branches)*)
    };
}

/// Implementation of [`select!`](crate::select). Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __pollen_select {
    // Step 1: the empty state.
    (@init $biased:tt; $($branches:tt)*) => {
        $crate::__pollen_select!(@branch ($biased [] [] [
                (0 _0) (1 _1) (2 _2) (3 _3) (4 _4) (5 _5) (6 _6) (7 _7) (8 _8) (9 _9) (10 _10)
                (11 _11) (12 _12) (13 _13) (14 _14) (15 _15) (16 _16) (17 _17) (18 _18)
                (19 _19) (20 _20) (21 _21) (22 _22) (23 _23) (24 _24) (25 _25) (26 _26)
                (27 _27) (28 _28) (29 _29) (30 _30) (31 _31) (32 _32) (33 _33) (34 _34)
                (35 _35) (36 _36) (37 _37) (38 _38) (39 _39) (40 _40) (41 _41) (42 _42)
                (43 _43) (44 _44) (45 _45) (46 _46) (47 _47) (48 _48) (49 _49) (50 _50)
                (51 _51) (52 _52) (53 _53) (54 _54) (55 _55) (56 _56) (57 _57) (58 _58)
                (59 _59) (60 _60) (61 _61) (62 _62) (63 _63) (64 _64)
        ]) $($branches)*)
    };

    // Step 2: one branch at a time.
    (@branch $state:tt) => {
        $crate::__pollen_select!(@emit $state)
    };
    (@branch ($biased:tt [] $branches:tt $supply:tt) else => $handler:block $(,)?) => {
        $crate::__pollen_select!(@emit ($biased [$handler] $branches $supply))
    };
    (@branch ($biased:tt [] $branches:tt $supply:tt) else => $handler:expr $(,)?) => {
        $crate::__pollen_select!(@emit ($biased [$handler] $branches $supply))
    };
    (@branch $state:tt else $($rest:tt)*) => {
        ::core::compile_error!("`else => <handler>` must be the last branch of `select!`")
    };
    // Only the count is left in the supply: too many branches.
    (@branch ($biased:tt $else:tt $branches:tt [$count:tt]) $($rest:tt)+) => {
        ::core::compile_error!("`select!` supports at most 64 branches")
    };
    // A whole branch in one step when its pattern is 1 to 3 tokens long, so
    // that 64 branches stay within the default recursion limit: the pattern,
    // the future, the optional condition and the handler (a block, with or
    // without a comma, or an expression and a comma, or a last expression).
    // The branch takes the next `(index name)` of the supply.
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt = $future:expr $(, if $cond:expr)? => $handler:block, $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt = $future:expr $(, if $cond:expr)? => $handler:block $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt = $future:expr $(, if $cond:expr)? => $handler:expr, $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt = $future:expr $(, if $cond:expr)? => $handler:expr
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]))
    };
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt $p2:tt = $future:expr $(, if $cond:expr)? => $handler:block, $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1 $p2] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt $p2:tt = $future:expr $(, if $cond:expr)? => $handler:block $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1 $p2] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt $p2:tt = $future:expr $(, if $cond:expr)? => $handler:expr, $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1 $p2] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt $p2:tt = $future:expr $(, if $cond:expr)? => $handler:expr
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1 $p2] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]))
    };
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt $p2:tt $p3:tt = $future:expr $(, if $cond:expr)? => $handler:block, $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1 $p2 $p3] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt $p2:tt $p3:tt = $future:expr $(, if $cond:expr)? => $handler:block $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1 $p2 $p3] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt $p2:tt $p3:tt = $future:expr $(, if $cond:expr)? => $handler:expr, $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1 $p2 $p3] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@branch ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        $p1:tt $p2:tt $p3:tt = $future:expr $(, if $cond:expr)? => $handler:expr
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$p1 $p2 $p3] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]))
    };
    // A longer pattern: every token up to the first `=`, one at a time.
    (@branch $state:tt $($rest:tt)+) => {
        $crate::__pollen_select!(@pat $state [] $($rest)+)
    };
    (@pat $state:tt [] = $($rest:tt)*) => {
        ::core::compile_error!("expected a pattern before `=` in `select!`")
    };
    (@pat $state:tt [$($pat:tt)+] = $($rest:tt)*) => {
        $crate::__pollen_select!(@future $state [$($pat)+] $($rest)*)
    };
    (@pat $state:tt [$($pat:tt)*] $token:tt $($rest:tt)*) => {
        $crate::__pollen_select!(@pat $state [$($pat)* $token] $($rest)*)
    };
    (@pat $state:tt [$($pat:tt)*]) => {
        ::core::compile_error!(
            "expected `<pattern> = <future> => <handler>` in `select!`"
        )
    };
    // Then the rest of the branch, as above.
    (@future ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        [$($pat:tt)+] $future:expr $(, if $cond:expr)? => $handler:block, $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$($pat)+] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@future ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        [$($pat:tt)+] $future:expr $(, if $cond:expr)? => $handler:block $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$($pat)+] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@future ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        [$($pat:tt)+] $future:expr $(, if $cond:expr)? => $handler:expr, $($rest:tt)*
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$($pat)+] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]) $($rest)*)
    };
    (@future ($biased:tt $else:tt [$($branch:tt)*] [($n:tt $v:ident) $($supply:tt)*])
        [$($pat:tt)+] $future:expr $(, if $cond:expr)? => $handler:expr
    ) => {
        $crate::__pollen_select!(@branch ($biased $else [$($branch)*
            ($n $v [$($pat)+] [$future] [$($cond)?] [$handler])
        ] [$($supply)*]))
    };
    (@future $state:tt [$($pat:tt)*] $($rest:tt)*) => {
        ::core::compile_error!(
            "expected `<future> => <handler>` or `<future>, if <condition> => <handler>` \
             after `=` in `select!`"
        )
    };

    // Step 4: the expansion.
    (@emit ($biased:tt $else:tt [] $supply:tt)) => {
        ::core::compile_error!("`select!` needs at least one `<pattern> = <future> => <handler>` branch")
    };
    (@emit ($biased:tt [$($else:tt)*]
        [$(($n:tt $v:ident [$($pat:tt)+] [$future:expr] [$($cond:expr)?] [$($handler:tt)+]))+]
        [($count:tt $unused:ident) $($supply:tt)*]
    )) => {{
        // The output of the winning branch.
        #[allow(non_camel_case_types, clippy::large_enum_variant)]
        enum __SelectOut<$($v,)+> {
            $($v($v),)+
            Disabled,
        }
        const __BRANCHES: u32 = $count;
        const __ALL: u64 = u64::MAX >> (64 - __BRANCHES);

        let mut __disabled: u64 = 0;
        $($(
            if !$cond {
                __disabled |= 1 << $n;
            }
        )?)+
        #[allow(unused_mut)] // for `ref mut` bindings in the patterns
        let mut __output = {
            let mut __futures = ($($crate::future::__private::pin!($future),)+);
            let mut __rng = $crate::future::__private::SelectRng::new($biased);
            $crate::future::poll_fn(|__cx| {
                use $crate::future::__private::{Future as _, Poll};
                if __disabled == __ALL {
                    return Poll::Ready(__SelectOut::Disabled);
                }
                let __start = __rng.start(__BRANCHES);
                for __i in __start..__start + __BRANCHES {
                    // `__i % __BRANCHES`, without clippy's `modulo_one`.
                    let __branch = if __i < __BRANCHES { __i } else { __i - __BRANCHES };
                    match __branch {
                        $(
                            $n => {
                                if (__disabled & (1 << $n)) != 0 {
                                    continue;
                                }
                                let __output = match __futures.$n.as_mut().poll(__cx) {
                                    Poll::Ready(__output) => __output,
                                    Poll::Pending => continue,
                                };
                                __disabled |= 1 << $n;
                                #[allow(unused_variables, unreachable_patterns)]
                                match &__output {
                                    $crate::__pollen_select_pattern!($($pat)+) => {}
                                    _ => continue,
                                }
                                return Poll::Ready(__SelectOut::$v(__output));
                            }
                        )+
                        _ => ::core::unreachable!(),
                    }
                }
                if __disabled == __ALL {
                    Poll::Ready(__SelectOut::Disabled)
                } else {
                    Poll::Pending
                }
            })
            .await
        };
        match __output {
            $(
                __SelectOut::$v($($pat)+) => $($handler)+,
            )+
            __SelectOut::Disabled => $crate::__pollen_select!(@else $($else)*),
            #[allow(unreachable_patterns)]
            _ => ::core::unreachable!("`select!` output no longer matches its pattern"),
        }
    }};

    (@else) => {
        ::core::panic!("all branches are disabled and there is no else branch")
    };
    (@else $($handler:tt)+) => {
        $($handler)+
    };
}

/// The pattern of a `select!` branch with every `mut`, `ref`, `&` and `&&`
/// token removed, for matching against a reference to the output.
/// Not public API.
///
/// A token muncher with an explicit stack: `@ [out] [stack] input`, where
/// each stack frame `(delimiter [out] [rest])` is the enclosing group's
/// output so far and its input after the group being read.
#[doc(hidden)]
#[macro_export]
macro_rules! __pollen_select_pattern {
    // Done.
    (@ [$($out:tt)*] []) => {
        $($out)*
    };
    // The end of a group: close it and go on with the enclosing input.
    (@ [$($inner:tt)*] [(paren [$($out:tt)*] [$($rest:tt)*]) $($stack:tt)*]) => {
        $crate::__pollen_select_pattern!(@ [$($out)* ($($inner)*)] [$($stack)*] $($rest)*)
    };
    (@ [$($inner:tt)*] [(bracket [$($out:tt)*] [$($rest:tt)*]) $($stack:tt)*]) => {
        $crate::__pollen_select_pattern!(@ [$($out)* [$($inner)*]] [$($stack)*] $($rest)*)
    };
    (@ [$($inner:tt)*] [(brace [$($out:tt)*] [$($rest:tt)*]) $($stack:tt)*]) => {
        $crate::__pollen_select_pattern!(@ [$($out)* {$($inner)*}] [$($stack)*] $($rest)*)
    };
    // Binding modes and reference patterns: dropped.
    (@ $out:tt $stack:tt mut $($rest:tt)*) => {
        $crate::__pollen_select_pattern!(@ $out $stack $($rest)*)
    };
    (@ $out:tt $stack:tt ref $($rest:tt)*) => {
        $crate::__pollen_select_pattern!(@ $out $stack $($rest)*)
    };
    (@ $out:tt $stack:tt & $($rest:tt)*) => {
        $crate::__pollen_select_pattern!(@ $out $stack $($rest)*)
    };
    (@ $out:tt $stack:tt && $($rest:tt)*) => {
        $crate::__pollen_select_pattern!(@ $out $stack $($rest)*)
    };
    // The start of a group: push a frame.
    (@ [$($out:tt)*] [$($stack:tt)*] ($($inner:tt)*) $($rest:tt)*) => {
        $crate::__pollen_select_pattern!(@ [] [(paren [$($out)*] [$($rest)*]) $($stack)*] $($inner)*)
    };
    (@ [$($out:tt)*] [$($stack:tt)*] [$($inner:tt)*] $($rest:tt)*) => {
        $crate::__pollen_select_pattern!(@ [] [(bracket [$($out)*] [$($rest)*]) $($stack)*] $($inner)*)
    };
    (@ [$($out:tt)*] [$($stack:tt)*] {$($inner:tt)*} $($rest:tt)*) => {
        $crate::__pollen_select_pattern!(@ [] [(brace [$($out)*] [$($rest)*]) $($stack)*] $($inner)*)
    };
    // Any other token: copied.
    (@ [$($out:tt)*] $stack:tt $token:tt $($rest:tt)*) => {
        $crate::__pollen_select_pattern!(@ [$($out)* $token] $stack $($rest)*)
    };
    ($($pattern:tt)+) => {
        $crate::__pollen_select_pattern!(@ [] [] $($pattern)+)
    };
}

#[cfg(test)]
mod tests {
    //! The macro used from inside the crate, where every lint applies to its
    //! expansion. Behaviour is tested in `tests/future_select.rs`.

    use core::future::Future;
    use core::task::{Context, Poll, Waker};

    use crate::future::{pending, ready};

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = core::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        }
    }

    #[test]
    fn expands_inside_the_crate() {
        let out = block_on(async {
            crate::select! {
                biased;
                Some(mut v) = ready(Some(1)), if true => {
                    v += 1;
                    v
                }
                Ok(v) | Err(v) = ready(Ok::<i32, i32>(5)) => v,
                () = pending() => 0,
                else => -1,
            }
        });
        assert_eq!(out, 2);
        let out = block_on(async {
            crate::select! { v = ready(3) => v }
        });
        assert_eq!(out, 3);
    }
}
