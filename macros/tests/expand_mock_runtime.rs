//! The attributes compiled and run against a stand-in for `pollen::runtime`: the generated
//! code type-checks (return types, `?`, `!`, `impl Trait`, `#[should_panic]`, inner
//! attributes) and calls the builder methods the arguments ask for, in order.
//!
//! The real runtime cannot be used here: `pollen` depends on this crate. This test crate names
//! itself `pollen`, so the default `::pollen::runtime::Builder` path resolves to the mock below.

extern crate self as pollen;

/// A stand-in for `pollen::runtime` that records the builder calls of the current thread.
pub mod runtime {
    use core::future::Future;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};
    use std::cell::RefCell;

    std::thread_local! {
        static CALLS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    fn record(call: String) {
        CALLS.with(|calls| calls.borrow_mut().push(call));
    }

    /// The builder calls made on this thread so far.
    pub fn calls() -> Vec<String> {
        CALLS.with(|calls| calls.borrow().clone())
    }

    /// Records its calls; builds a [`Runtime`].
    #[derive(Debug)]
    pub struct Builder(());

    /// Polls a future to completion on the calling thread.
    #[derive(Debug)]
    pub struct Runtime(());

    impl Builder {
        /// A current-thread builder.
        pub fn new_current_thread() -> Builder {
            record("new_current_thread".into());
            Builder(())
        }

        /// A multi-thread builder.
        pub fn new_multi_thread() -> Builder {
            record("new_multi_thread".into());
            Builder(())
        }

        /// Records the thread count.
        pub fn worker_threads(&mut self, threads: usize) -> &mut Self {
            record(format!("worker_threads({threads})"));
            self
        }

        /// Records the call.
        pub fn enable_all(&mut self) -> &mut Self {
            record("enable_all".into());
            self
        }

        /// Records the flag.
        pub fn start_paused(&mut self, paused: bool) -> &mut Self {
            record(format!("start_paused({paused})"));
            self
        }

        /// Always succeeds.
        pub fn build(&mut self) -> std::io::Result<Runtime> {
            record("build".into());
            Ok(Runtime(()))
        }
    }

    impl Runtime {
        /// Polls `future` until it is ready.
        pub fn block_on<F: Future>(&self, future: F) -> F::Output {
            let mut future = pin!(future);
            let mut cx = Context::from_waker(Waker::noop());
            loop {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
        }
    }
}

/// The same module under another path, for `crate = "..."`.
mod reexport {
    pub use crate::runtime;
}

/// A future that is pending once before it completes.
async fn yield_once() {
    let mut yielded = false;
    core::future::poll_fn(|cx| {
        if yielded {
            core::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            core::task::Poll::Pending
        }
    })
    .await;
}

#[pollen_macros::test]
async fn test_defaults_to_current_thread() {
    yield_once().await;
    assert_eq!(
        runtime::calls(),
        ["new_current_thread", "enable_all", "build"]
    );
}

#[pollen_macros::test(start_paused = true)]
async fn test_start_paused() {
    assert_eq!(
        runtime::calls(),
        [
            "new_current_thread",
            "enable_all",
            "start_paused(true)",
            "build"
        ]
    );
}

#[pollen_macros::test(start_paused = false)]
async fn test_start_paused_false_is_not_passed() {
    assert_eq!(
        runtime::calls(),
        ["new_current_thread", "enable_all", "build"]
    );
}

#[pollen_macros::test(flavor = "multi_thread", worker_threads = 3)]
async fn test_multi_thread_with_workers() {
    assert_eq!(
        runtime::calls(),
        [
            "new_multi_thread",
            "worker_threads(3)",
            "enable_all",
            "build"
        ]
    );
}

#[pollen_macros::test(crate = "crate::reexport")]
async fn test_crate_path() {
    assert_eq!(
        runtime::calls(),
        ["new_current_thread", "enable_all", "build"]
    );
}

#[pollen_macros::test]
async fn test_returning_result_with_question_mark() -> Result<(), std::num::ParseIntError> {
    let n: u32 = "42".parse()?;
    assert_eq!(n, 42);
    Ok(())
}

#[pollen_macros::test]
#[should_panic(expected = "boom")]
async fn test_should_panic_is_kept() {
    yield_once().await;
    panic!("boom");
}

#[pollen_macros::test]
async fn test_inner_attributes_apply() {
    #![allow(unused_variables)]
    let unused = 1;
}

mod app {
    /// Documented, public, returns a boxed error: all kept.
    #[pollen_macros::main]
    pub async fn run() -> Result<u32, Box<dyn std::error::Error>> {
        super::yield_once().await;
        let n: u32 = "7".parse()?;
        Ok(n * 6)
    }

    #[pollen_macros::main(flavor = "current_thread")]
    pub async fn debug_value() -> impl core::fmt::Debug {
        5
    }

    #[pollen_macros::main(worker_threads = 2)]
    pub async fn never() -> ! {
        panic!("never returns")
    }

    #[pollen_macros::main]
    pub async fn early_return() -> u8 {
        if core::hint::black_box(true) {
            return 1;
        }
        2
    }
}

#[test]
fn main_runs_the_body_and_returns_its_value() {
    assert_eq!(app::run().unwrap(), 42);
    assert_eq!(
        runtime::calls(),
        ["new_multi_thread", "enable_all", "build"]
    );
}

#[test]
fn main_with_impl_trait_return_type() {
    assert_eq!(format!("{:?}", app::debug_value()), "5");
    assert_eq!(
        runtime::calls(),
        ["new_current_thread", "enable_all", "build"]
    );
}

#[test]
fn main_with_early_return() {
    assert_eq!(app::early_return(), 1);
}

#[test]
#[should_panic(expected = "never returns")]
fn main_returning_never() {
    app::never();
}
