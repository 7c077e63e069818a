//! The multi-thread runtime's settings take effect: thread names and hooks,
//! the global queue and I/O intervals, busy time, stall reports of
//! worker-local tasks, and the shutdown deadline.

use std::net::UdpSocket as StdUdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pollen::runtime::{Builder, Runtime};
use pollen::task::JoinHandle;

/// A one-worker runtime with `configure` applied.
fn one_worker(configure: impl FnOnce(&mut Builder) -> &mut Builder) -> Runtime {
    let mut builder = Builder::new_multi_thread();
    builder.worker_threads(1).enable_all();
    configure(&mut builder).build().expect("runtime")
}

/// A task that yields until stopped, counting its polls: it keeps its
/// worker's deque non-empty, and its count is a clock in ticks.
struct Spinner {
    polls: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Spinner {
    /// Spawns the task on `rt` and waits until it runs.
    fn start(rt: &Runtime) -> Spinner {
        let polls = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = rt.spawn({
            let (polls, stop) = (polls.clone(), stop.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    polls.fetch_add(1, Ordering::Relaxed);
                    pollen::task::yield_now().await;
                }
            }
        });
        while polls.load(Ordering::Relaxed) == 0 {
            thread::yield_now();
        }
        Spinner { polls, stop, task }
    }

    fn stop(self, rt: &Runtime) {
        self.stop.store(true, Ordering::Relaxed);
        rt.block_on(self.task).unwrap();
    }
}

#[test]
fn workers_are_named_and_run_the_start_and_stop_hooks() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let start_names = Arc::new(Mutex::new(Vec::new()));
    let rt = Builder::new_multi_thread()
        .worker_threads(3)
        .thread_name("custom-worker")
        .on_thread_start({
            let (started, start_names) = (started.clone(), start_names.clone());
            move || {
                started.fetch_add(1, Ordering::SeqCst);
                let name = thread::current().name().map(String::from);
                start_names.lock().unwrap().push(name);
            }
        })
        .on_thread_stop({
            let stopped = stopped.clone();
            move || {
                stopped.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    let names = rt.block_on(async {
        let tasks: Vec<_> = (0..20)
            .map(|_| pollen::spawn(async { thread::current().name().map(String::from) }))
            .collect();
        let mut names = Vec::new();
        for task in tasks {
            names.push(task.await.unwrap());
        }
        names
    });
    assert!(
        names.iter().all(|n| n.as_deref() == Some("custom-worker")),
        "{names:?}"
    );
    // Dropping joins the workers: each has run both hooks by then.
    drop(rt);
    assert_eq!(started.load(Ordering::SeqCst), 3, "one start per worker");
    assert_eq!(
        stopped.load(Ordering::SeqCst),
        3,
        "one stop per worker, before drop returns"
    );
    let start_names = start_names.lock().unwrap();
    assert!(
        start_names
            .iter()
            .all(|n| n.as_deref() == Some("custom-worker")),
        "{start_names:?}"
    );
}

/// Spawns tasks from another thread while one task keeps the only worker
/// busy; returns, for each, how many times the busy task was polled
/// between the spawn's return and the spawned task's run.
fn polls_before_injected_tasks_run(rt: &Runtime, injections: usize) -> Vec<u64> {
    let spinner = Spinner::start(rt);
    let polls = &spinner.polls;
    let mut waits = Vec::with_capacity(injections);
    for _ in 0..injections {
        let task = rt.spawn({
            let polls = polls.clone();
            async move { polls.load(Ordering::Relaxed) }
        });
        // The task is in the global queue once `spawn` returns.
        let queued = polls.load(Ordering::Relaxed);
        let ran_at = rt.block_on(task).unwrap();
        waits.push(ran_at.saturating_sub(queued));
    }
    spinner.stop(rt);
    waits
}

#[test]
fn global_queue_interval_bounds_how_long_injected_work_waits() {
    // The worker looks at the global queue first every 5 ticks: the busy
    // task polls at most 5 times (and once more around the push) before
    // a task from outside runs.
    let rt = one_worker(|b| b.global_queue_interval(5));
    let waits = polls_before_injected_tasks_run(&rt, 20);
    assert!(waits.iter().all(|&w| w <= 6), "{waits:?}");
    drop(rt);
    // Every 10,000 ticks: the injected tasks wait far longer, on average.
    let rt = one_worker(|b| b.global_queue_interval(10_000));
    let waits = polls_before_injected_tasks_run(&rt, 20);
    assert!(waits.iter().any(|&w| w > 6), "{waits:?}");
}

/// Sends datagrams from another thread to a socket a task waits on, while
/// one task keeps the only worker busy; returns, for each, how many times
/// the busy task was polled between the datagram's arrival (the send
/// returned: loopback delivers it within the call) and the receiving
/// task's run.
fn polls_before_datagrams_are_seen(rt: &Runtime, datagrams: usize) -> Vec<u64> {
    let spinner = Spinner::start(rt);
    let polls = &spinner.polls;
    let socket = rt
        .block_on(pollen::net::UdpSocket::bind("127.0.0.1:0"))
        .unwrap();
    let addr = socket.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    // The first datagram is a warm-up: the receiver is surely waiting on
    // the socket from then on.
    let receiver = rt.spawn({
        let (polls, received) = (polls.clone(), received.clone());
        async move {
            let mut seen = Vec::with_capacity(datagrams);
            let mut buf = [0; 8];
            for _ in 0..=datagrams {
                socket.recv(&mut buf).await.unwrap();
                seen.push(polls.load(Ordering::Relaxed));
                received.fetch_add(1, Ordering::Release);
            }
            seen.remove(0);
            seen
        }
    });
    let sender = StdUdpSocket::bind("127.0.0.1:0").unwrap();
    let mut arrived = Vec::with_capacity(datagrams);
    for i in 0..=datagrams {
        sender.send_to(&[i as u8], addr).unwrap();
        arrived.push(polls.load(Ordering::Relaxed));
        // One datagram at a time.
        while received.load(Ordering::Acquire) <= i {
            thread::yield_now();
        }
    }
    arrived.remove(0);
    let seen = rt.block_on(receiver).unwrap();
    spinner.stop(rt);
    seen.iter()
        .zip(&arrived)
        .map(|(seen, arrived)| seen.saturating_sub(*arrived))
        .collect()
}

#[test]
fn event_interval_bounds_how_long_io_waits_behind_a_busy_worker() {
    // A busy worker looks at the poller every 4 ticks: the busy task
    // polls at most 4 times before the reactor sees a datagram, and once
    // more while the sender reads the count.
    let rt = one_worker(|b| b.event_interval(4));
    let waits = polls_before_datagrams_are_seen(&rt, 10);
    assert!(waits.iter().all(|&w| w <= 6), "{waits:?}");
    drop(rt);
    let rt = one_worker(|b| b.event_interval(10_000));
    let waits = polls_before_datagrams_are_seen(&rt, 10);
    assert!(waits.iter().any(|&w| w > 6), "{waits:?}");
}

#[test]
fn busy_time_grows_while_a_worker_never_parks() {
    let rt = one_worker(|b| b);
    let metrics = rt.metrics();
    let (before, after) = rt.block_on(async {
        pollen::spawn(async move {
            let before = metrics.worker_total_busy_duration(0);
            let start = Instant::now();
            // Busy for 50 ms without parking: yields keep the worker's
            // deque non-empty.
            while start.elapsed() < Duration::from_millis(50) {
                pollen::task::yield_now().await;
            }
            (before, metrics.worker_total_busy_duration(0))
        })
        .await
        .unwrap()
    });
    let grown = after - before;
    assert!(
        grown >= Duration::from_millis(40),
        "grew by {grown:?} in 50 ms awake"
    );
}

#[test]
fn a_stalled_local_task_is_the_one_reported() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .stall_threshold(Some(Duration::from_millis(30)))
        .on_stall({
            let reports = reports.clone();
            move |report| reports.lock().unwrap().push(report.clone())
        })
        .build()
        .unwrap();
    rt.block_on(async {
        pollen::spawn(async {
            // Ordinary tasks polled on this worker first: the report must
            // not name one of them.
            for _ in 0..10 {
                pollen::spawn(async {}).await.unwrap();
            }
            let local = pollen::task::Builder::new()
                .name("local blocker")
                .spawn_local(async {
                    thread::sleep(Duration::from_millis(300));
                });
            local.await.unwrap();
        })
        .await
        .unwrap();
    });
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 1, "one report per stall: {reports:?}");
    let task = reports[0].task().expect("the task is known");
    assert_eq!(task.name(), Some("local blocker"));
    assert!(
        task.location()
            .file()
            .ends_with("runtime_multi_thread_builder.rs")
    );
}

#[test]
fn shutdown_timeout_bounds_the_whole_shutdown() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .stall_threshold(None)
        .build()
        .unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    // A task stuck in its poll, and a blocking closure that runs on: both
    // outlast the timeout, and each wait must not get a timeout of its own.
    let blocked_tx = started_tx.clone();
    rt.spawn(async move {
        blocked_tx.send(()).unwrap();
        thread::sleep(Duration::from_secs(3));
    });
    rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        thread::sleep(Duration::from_secs(3));
    });
    started_rx.recv().unwrap();
    started_rx.recv().unwrap();
    let timeout = Duration::from_millis(500);
    let start = Instant::now();
    rt.shutdown_timeout(timeout);
    let took = start.elapsed();
    assert!(took >= timeout, "returned after {took:?}");
    // One deadline: 500 ms and some slack, not two waits of 500 ms.
    assert!(took < Duration::from_millis(900), "returned after {took:?}");
}
