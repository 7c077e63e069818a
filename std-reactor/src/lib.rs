//! pollen: the async runtime for desktop and server programs.
//!
//! This crate re-exports the portable API of [`pollen_core`] (tasks, the
//! embeddable executor, future utilities, channels, sync primitives,
//! timers) and adds what needs an operating system:
//!
//! - [`runtime`]: [`Runtime`](runtime::Runtime) (current-thread, or a
//!   work-stealing pool of worker threads), its [`Builder`](runtime::Builder)
//!   and [`Handle`](runtime::Handle) (metrics, a dump of the live tasks);
//!   [`spawn`], [`task::spawn_local`] (for futures that are not `Send`) and
//!   [`spawn_blocking`] find the current runtime;
//! - [`io`]: the mio reactor behind every socket, the `futures-io` traits
//!   and their extension methods;
//! - [`net`]: TCP, UDP and Unix-domain sockets;
//! - [`time`]: [`sleep`](time::sleep), [`timeout`](time::timeout),
//!   [`interval`](time::interval) on the runtime's clock, which tests can
//!   pause;
//! - [`signal`]: Ctrl-C and Unix signals, and [`signal::shutdown`] for a
//!   server's stop;
//! - [`task`]: task-locals ([`task_local!`]), named spawns
//!   ([`task::Builder`]), [`task::JoinSet`] (results in the order tasks
//!   finish), [`task::TaskPool`] and the cooperative budget
//!   ([`task::coop`]) besides core's task types;
//! - [`main`] and [`test`]: `#[pollen::main]` and `#[pollen::test]`.
//!
//! # Examples
//!
//! ```
//! use pollen::io::{AsyncReadExt, AsyncWriteExt};
//! use pollen::net::{TcpListener, TcpStream};
//!
//! #[pollen::main(flavor = "current_thread")]
//! async fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     pollen::spawn(async move {
//!         while let Ok((mut socket, _)) = listener.accept().await {
//!             pollen::spawn(async move {
//!                 let mut buf = [0; 1024];
//!                 while let Ok(n @ 1..) = socket.read(&mut buf).await {
//!                     if socket.write_all(&buf[..n]).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!         }
//!     });
//!
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut echoed = [0; 5];
//!     client.read_exact(&mut echoed).await?;
//!     assert_eq!(&echoed, b"hello");
//!     Ok(())
//! }
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub use pollen_core::{channel, executor, future, join, select, sync};

pub mod io;
pub mod net;
pub mod runtime;
pub mod signal;
pub mod task;
pub mod time;

mod blocking;
mod loom;

pub use self::runtime::spawn;
pub use self::runtime::spawn_blocking;

/// Runs `async fn main` on a pollen runtime.
///
/// Arguments (all optional): `flavor = "current_thread"` or
/// `"multi_thread"` (the default: the work-stealing runtime, one worker
/// thread per core), `worker_threads = N` (multi-thread only),
/// `start_paused = true` (virtual time), and `crate = "path"` when pollen
/// is re-exported under another name.
///
/// # Examples
///
/// ```
/// #[pollen::main]
/// async fn main() {
///     let answer = pollen::spawn(async { 42 }).await.unwrap();
///     println!("the answer is {answer}");
/// }
/// ```
pub use pollen_macros::main;

/// Runs an `async fn` test on a fresh current-thread runtime.
///
/// Takes the same arguments as [`main`]; the default flavor is
/// `current_thread`. With `start_paused = true` the clock starts paused:
/// timers fire as soon as every task waits, so a test of a one-hour timeout
/// takes no time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// #[pollen::test(start_paused = true)]
/// async fn an_hour_passes_at_once() {
///     let start = pollen::time::now();
///     pollen::time::sleep(Duration::from_secs(3600)).await;
///     assert!(pollen::time::now() - start >= Duration::from_secs(3600));
/// }
/// ```
pub use pollen_macros::test;
