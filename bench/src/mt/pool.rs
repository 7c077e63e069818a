//! The mt suite's three runtimes, each with its pool of worker threads, and
//! [`Pool`]: what the workloads and the memory probe need from each, so
//! that every workload is written once, the same code on every runtime.
//!
//! Shared by the bench and the memory probe (`src/bin/mt-memory.rs`, which
//! includes this file as its own module), so both build the runtimes the
//! same way.

use std::future::Future;
use std::thread;

use async_executor::Executor;

/// pollen's multi-thread runtime with `workers` worker threads, I/O and
/// timers on (as tokio's benchmarks build tokio's).
pub fn pollen_runtime(workers: usize) -> pollen::runtime::Runtime {
    pollen::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("building pollen's multi-thread runtime")
}

/// tokio's multi-thread runtime with `workers` worker threads, I/O and
/// timers on.
pub fn tokio_runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("building tokio's multi-thread runtime")
}

/// smol's executor, run by the threads of a [`SmolPool`]. A `static`, so
/// that tasks spawn onto it without holding a reference, as tasks on tokio
/// and pollen spawn onto the current runtime.
static SMOL: Executor<'static> = Executor::new();

/// smol's multi-thread setup, as smol's docs show it: `workers` threads,
/// each running `futures_lite::future::block_on(ex.run(shutdown))` on one
/// shared `Executor` ([`SMOL`]) until the pool is dropped.
///
/// One pool at a time: they would share the executor.
#[derive(Debug)]
pub struct SmolPool {
    /// Closed on drop, which ends every thread's `run`.
    shutdown: async_channel::Sender<()>,
    threads: Vec<thread::JoinHandle<()>>,
}

// === impl SmolPool ===

impl SmolPool {
    /// Starts `workers` threads running the executor.
    pub fn start(workers: usize) -> SmolPool {
        let (shutdown, signal) = async_channel::bounded::<()>(1);
        let threads = (0..workers)
            .map(|i| {
                let signal = signal.clone();
                thread::Builder::new()
                    .name(format!("smol-worker-{i}"))
                    .spawn(move || {
                        futures_lite::future::block_on(SMOL.run(async {
                            // Err once the pool closes the channel.
                            let _ = signal.recv().await;
                        }));
                    })
                    .expect("starting a smol worker thread")
            })
            .collect();
        SmolPool { shutdown, threads }
    }
}

impl Drop for SmolPool {
    fn drop(&mut self) {
        self.shutdown.close();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A runtime as the mt workloads use it, with its own API for each step.
///
/// The methods without `self` are called from inside the runtime (in its
/// `block_on` or a task), where tokio and pollen find the current runtime
/// themselves.
pub trait Pool: Sized + 'static {
    /// The runtime's name in messages.
    const NAME: &'static str;
    /// What spawning from outside returns.
    type JoinHandle: Send + 'static;
    /// The sending half of the runtime's oneshot.
    type Sender: Send + 'static;
    /// The receiving half of the runtime's oneshot.
    type Receiver: Send + 'static;

    /// Runs `future` to completion on this thread: the runtime's
    /// `block_on`.
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T;

    /// Spawns `future` from any thread, through the runtime itself (tokio's
    /// `Runtime::spawn`, pollen's `Handle::spawn`).
    fn spawn_outside(&self, future: impl Future<Output = ()> + Send + 'static) -> Self::JoinHandle;

    /// Lets the task of `handle` run on without it.
    fn detach(handle: Self::JoinHandle);

    /// Waits for the task of `handle`; panics if it failed.
    fn join(handle: Self::JoinHandle) -> impl Future<Output = ()>;

    /// Spawns `future` from inside the runtime, detached (`tokio::spawn`,
    /// `pollen::spawn`).
    fn spawn_inside(future: impl Future<Output = ()> + Send + 'static);

    /// Yields once to the scheduler.
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// A new oneshot channel.
    fn oneshot() -> (Self::Sender, Self::Receiver);

    /// Sends on a oneshot; panics if the receiver is gone.
    fn send(sender: Self::Sender);

    /// Receives from a oneshot; panics if the sender went without sending.
    fn recv(receiver: Self::Receiver) -> impl Future<Output = ()> + Send;
}

// === impl Pool for pollen ===

impl Pool for pollen::runtime::Runtime {
    const NAME: &'static str = "pollen";
    type JoinHandle = pollen::task::JoinHandle<()>;
    type Sender = pollen::channel::oneshot::Sender<'static, ()>;
    type Receiver = pollen::channel::oneshot::Receiver<'static, ()>;

    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        pollen::runtime::Runtime::block_on(self, future)
    }

    fn spawn_outside(&self, future: impl Future<Output = ()> + Send + 'static) -> Self::JoinHandle {
        self.handle().spawn(future)
    }

    fn detach(handle: Self::JoinHandle) {
        drop(handle);
    }

    async fn join(handle: Self::JoinHandle) {
        handle.await.expect("pollen: a task failed");
    }

    fn spawn_inside(future: impl Future<Output = ()> + Send + 'static) {
        drop(pollen::spawn(future));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        pollen::task::yield_now()
    }

    fn oneshot() -> (Self::Sender, Self::Receiver) {
        pollen::channel::oneshot::channel()
    }

    fn send(sender: Self::Sender) {
        let sent = sender.send(());
        assert!(sent.is_ok(), "pollen: a oneshot receiver went early");
    }

    async fn recv(receiver: Self::Receiver) {
        let received = receiver.await;
        assert!(received.is_ok(), "pollen: a oneshot sender went early");
    }
}

// === impl Pool for tokio ===

impl Pool for tokio::runtime::Runtime {
    const NAME: &'static str = "tokio";
    type JoinHandle = tokio::task::JoinHandle<()>;
    type Sender = tokio::sync::oneshot::Sender<()>;
    type Receiver = tokio::sync::oneshot::Receiver<()>;

    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        tokio::runtime::Runtime::block_on(self, future)
    }

    fn spawn_outside(&self, future: impl Future<Output = ()> + Send + 'static) -> Self::JoinHandle {
        tokio::runtime::Runtime::spawn(self, future)
    }

    fn detach(handle: Self::JoinHandle) {
        drop(handle);
    }

    async fn join(handle: Self::JoinHandle) {
        handle.await.expect("tokio: a task failed");
    }

    fn spawn_inside(future: impl Future<Output = ()> + Send + 'static) {
        drop(tokio::spawn(future));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn oneshot() -> (Self::Sender, Self::Receiver) {
        tokio::sync::oneshot::channel()
    }

    fn send(sender: Self::Sender) {
        let sent = sender.send(());
        assert!(sent.is_ok(), "tokio: a oneshot receiver went early");
    }

    async fn recv(receiver: Self::Receiver) {
        let received = receiver.await;
        assert!(received.is_ok(), "tokio: a oneshot sender went early");
    }
}

// === impl Pool for smol ===

/// smol has no oneshot type: a one-slot `async-channel`, sent on with
/// `try_send`, stands in for one, as in the channel suite.
impl Pool for SmolPool {
    const NAME: &'static str = "smol";
    type JoinHandle = async_executor::Task<()>;
    type Sender = async_channel::Sender<()>;
    type Receiver = async_channel::Receiver<()>;

    /// smol's `block_on` runs only `future` on this thread; the pool's
    /// threads run the tasks.
    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        futures_lite::future::block_on(future)
    }

    fn spawn_outside(&self, future: impl Future<Output = ()> + Send + 'static) -> Self::JoinHandle {
        SMOL.spawn(future)
    }

    fn detach(handle: Self::JoinHandle) {
        // Dropping a smol `Task` would cancel it.
        handle.detach();
    }

    async fn join(handle: Self::JoinHandle) {
        handle.await;
    }

    fn spawn_inside(future: impl Future<Output = ()> + Send + 'static) {
        SMOL.spawn(future).detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    fn oneshot() -> (Self::Sender, Self::Receiver) {
        async_channel::bounded(1)
    }

    fn send(sender: Self::Sender) {
        let sent = sender.try_send(());
        assert!(sent.is_ok(), "smol: a oneshot receiver went early");
    }

    async fn recv(receiver: Self::Receiver) {
        let received = receiver.recv().await;
        assert!(received.is_ok(), "smol: a oneshot sender went early");
    }
}
