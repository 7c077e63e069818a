//! The `#[pollen::main]` and `#[pollen::test]` attributes. Use them through the `pollen`
//! crate, which re-exports them.
//!
//! Both turn an `async fn` into a plain `fn` that builds a `pollen` runtime and blocks on the
//! function's body, the way `#[tokio::main]` and `#[tokio::test]` do:
//!
//! ```ignore
//! #[pollen::main]
//! async fn main() {
//!     println!("hello from the runtime");
//! }
//! ```
//!
//! becomes (leaving out an `#[allow]` for the clippy lints such generated code trips)
//!
//! ```ignore
//! fn main() {
//!     let runtime = ::pollen::runtime::Builder::new_multi_thread()
//!         .enable_all()
//!         .build()
//!         .expect("pollen: failed to build the runtime");
//!     return runtime.block_on(async move {
//!         println!("hello from the runtime");
//!     });
//! }
//! ```
//!
//! (`runtime` is hygienic: the body cannot see it, and a `runtime` of the body's own is not
//! shadowed.)
//!
//! The examples in this crate are not compiled: it cannot depend on `pollen`, which depends on
//! it. The runnable versions are in the documentation of `pollen::main` and `pollen::test`.
//!
//! # Arguments
//!
//! Both attributes take the same arguments, each at most once, as `name = value`:
//!
//! | argument         | value                                      | default                                     |
//! |------------------|--------------------------------------------|---------------------------------------------|
//! | `flavor`         | `"current_thread"` or `"multi_thread"`     | `"multi_thread"` for `main`, `"current_thread"` for `test` |
//! | `worker_threads` | an integer literal, at least 1; only with `"multi_thread"` | chosen by the runtime       |
//! | `start_paused`   | `true` or `false`: start with the clock paused | `false`                                 |
//! | `crate`          | the path of the `pollen` crate, in a string | `"::pollen"`                               |
//!
//! `crate` is for crates that re-export `pollen` under another path, for example
//! `#[my_framework::main(crate = "my_framework::pollen")]`.
//!
//! # Errors
//!
//! Mistakes are compile errors that point at the offending tokens, never panics: a function
//! that is not `async`, a function with parameters, an unknown or repeated argument, an unknown
//! flavor, `worker_threads = 0`, `worker_threads` on a current-thread runtime, and (for
//! `#[pollen::test]`) a second test attribute such as `#[test]`. The function is still emitted,
//! synchronous and with only the errors for a body, so that no further errors pile up.

#![forbid(unsafe_code)]

mod config;
mod expand;

use proc_macro::TokenStream;

use crate::config::Entry;

/// Runs an `async fn` on a `pollen` runtime: the usual way to write an async `main`.
///
/// The function becomes synchronous: when called, it builds a runtime (multi-thread unless
/// `flavor = "current_thread"` is given), runs the body on it with `block_on`, and returns the
/// body's value. It keeps its name, visibility, attributes, doc comments and return type, so
/// `main` can return a `Result`, and the function does not have to be called `main`. It cannot
/// take parameters. The arguments are listed in the [crate documentation](crate#arguments).
///
/// These examples are not compiled here (this crate cannot depend on `pollen`); the runnable
/// versions are in the documentation of `pollen::main`.
///
/// # Examples
///
/// A multi-thread runtime, with as many worker threads as the runtime chooses:
///
/// ```ignore
/// #[pollen::main]
/// async fn main() {
///     let answer = async { 6 * 7 }.await;
///     println!("{answer}");
/// }
/// ```
///
/// Returning a `Result`, so that `?` works in the body:
///
/// ```ignore
/// use std::error::Error;
///
/// #[pollen::main(worker_threads = 2)]
/// async fn main() -> Result<(), Box<dyn Error>> {
///     let config = load_config().await?;
///     serve(config).await?;
///     Ok(())
/// }
/// ```
///
/// A current-thread runtime, and `pollen` reached through a re-export:
///
/// ```ignore
/// #[my_framework::main(flavor = "current_thread", crate = "my_framework::pollen")]
/// async fn main() {
///     my_framework::run().await;
/// }
/// ```
///
/// # Expansion
///
/// `#[pollen::main(worker_threads = 2)] async fn main() -> R { body }` expands to
///
/// ```ignore
/// fn main() -> R {
///     let runtime = ::pollen::runtime::Builder::new_multi_thread()
///         .worker_threads(2)
///         .enable_all()
///         .build()
///         .expect("pollen: failed to build the runtime");
///     return runtime.block_on(async move { body });
/// }
/// ```
///
/// (with an `#[allow]` for the clippy lints such generated code trips). Building the runtime
/// panics if the runtime cannot be built, for example when the operating system refuses a
/// thread or an I/O driver.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Entry::Main, args.into(), item.into()).into()
}

/// Runs an `async` test on a `pollen` runtime.
///
/// Like [`macro@main`], and the function also gets `#[test]`, so it must not have one already.
/// Each test builds its own runtime, current-thread unless `flavor = "multi_thread"` is given:
/// tests are then deterministic, cheap to set up, and need nothing to be `Send`. With
/// `start_paused = true` the runtime's clock starts paused, so timers fire as soon as every
/// task is idle instead of after real time has passed. Other attributes such as
/// `#[should_panic]` or `#[ignore]` are kept. The arguments are listed in the
/// [crate documentation](crate#arguments).
///
/// These examples are not compiled here (this crate cannot depend on `pollen`); the runnable
/// versions are in the documentation of `pollen::test`.
///
/// # Examples
///
/// ```ignore
/// #[pollen::test]
/// async fn adds() {
///     assert_eq!(async { 1 + 1 }.await, 2);
/// }
/// ```
///
/// With a paused clock, an hour-long sleep takes no time:
///
/// ```ignore
/// use std::time::Duration;
///
/// #[pollen::test(start_paused = true)]
/// async fn an_hour_passes_at_once() {
///     pollen::time::sleep(Duration::from_secs(3600)).await;
/// }
/// ```
///
/// Several worker threads, and a test that returns a `Result`:
///
/// ```ignore
/// #[pollen::test(flavor = "multi_thread", worker_threads = 4)]
/// async fn under_contention() -> std::io::Result<()> {
///     run_clients(100).await?;
///     Ok(())
/// }
/// ```
///
/// # Expansion
///
/// `#[pollen::test(start_paused = true)] async fn t() { body }` expands to
///
/// ```ignore
/// #[::core::prelude::v1::test]
/// fn t() {
///     let runtime = ::pollen::runtime::Builder::new_current_thread()
///         .enable_all()
///         .start_paused(true)
///         .build()
///         .expect("pollen: failed to build the runtime");
///     return runtime.block_on(async move { body });
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Entry::Test, args.into(), item.into()).into()
}
