//! The load generator behind `pollen-load`, as a library: the HTTP and
//! echo load engines, their report, and the latency histogram, for the
//! binary, its tests and pollen's benchmarks.
//!
//! - [`http::run`]: HTTP/1.1 requests over keep-alive connections, at most
//!   `concurrency` in flight, each in its own task with its number in the
//!   task-local [`http::REQUEST_ID`] (sent as `X-Request-Id`); closed loop,
//!   or open loop at a fixed rate with latency measured from each
//!   request's due time (no coordinated omission).
//! - [`echo::run`]: connections that each send a message, read the echo
//!   back, check it and go again.
//! - [`Report`]: counts, status codes, error kinds ([`ErrorKind`]) and
//!   latency percentiles from an HDR histogram ([`Tally`]), as text or
//!   JSON.
//! - [`Control`]: stops a load (Ctrl-C, a deadline of the caller's), starts
//!   recording after a warm-up, and counts completed requests for a
//!   progress line.
//!
//! The engines run on whatever pollen runtime they are awaited on, and
//! connect through a [`Connect`] ([`TcpConnector`] for real sockets; tests
//! use in-memory pipes and virtual time).
//!
//! # Examples
//!
//! ```no_run
//! use pollen_load::{Control, HttpUrl, TcpConnector, http};
//!
//! let url: HttpUrl = "http://127.0.0.1:8080/status".parse()?;
//! let connector = TcpConnector::new(url.resolve()?);
//! let config = http::HttpConfig {
//!     requests: Some(10_000),
//!     concurrency: 50,
//!     ..http::HttpConfig::new(url)
//! };
//! let runtime = pollen::runtime::Builder::new_multi_thread().enable_all().build()?;
//! let report = runtime.block_on(http::run(config, connector, &Control::new()))?;
//! println!("{report}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod abort;
mod connect;
mod control;
pub mod echo;
mod error;
pub mod http;
mod lock;
mod report;
mod stats;
mod url;

pub use self::connect::{Connect, TcpConnector};
pub use self::control::Control;
pub use self::error::{ErrorKind, SetupError};
pub use self::report::{Latency, Mode, Report};
pub use self::stats::{Outcome, Tally};
pub use self::url::{HttpUrl, UrlError};
