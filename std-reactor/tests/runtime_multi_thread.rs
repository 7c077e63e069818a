//! The multi-thread runtime: work spreads over the workers, stuck workers
//! do not stop the others, every task completes or is dropped.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use pollen::runtime::{Builder, Runtime};

fn runtime(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Counts drops of what a task holds.
struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn tasks_spawned_from_outside_run_on_both_workers() {
    let rt = runtime(2);
    let threads = Arc::new(Mutex::new(HashSet::<ThreadId>::new()));
    rt.block_on(async {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let threads = threads.clone();
                pollen::spawn(async move {
                    // Long enough that one worker cannot take them all
                    // before the other wakes.
                    thread::sleep(Duration::from_millis(1));
                    threads.lock().unwrap().insert(thread::current().id());
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let threads = threads.lock().unwrap();
    assert_eq!(threads.len(), 2, "both workers ran tasks");
    assert!(
        !threads.contains(&thread::current().id()),
        "tasks run on workers only"
    );
}

#[test]
fn work_pushed_to_one_worker_is_stolen_by_the_other() {
    let rt = runtime(2);
    let spawner = Arc::new(Mutex::new(None));
    let ran_on = Arc::new(Mutex::new(Vec::<ThreadId>::new()));
    rt.block_on({
        let (spawner, ran_on) = (spawner.clone(), ran_on.clone());
        async move {
            // Spawned from inside a task: all 50 go to its worker's queue.
            pollen::spawn(async move {
                *spawner.lock().unwrap() = Some(thread::current().id());
                let tasks: Vec<_> = (0..50)
                    .map(|_| {
                        let ran_on = ran_on.clone();
                        pollen::spawn(async move {
                            thread::sleep(Duration::from_millis(2));
                            ran_on.lock().unwrap().push(thread::current().id());
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            })
            .await
            .unwrap();
        }
    });
    let spawner = spawner.lock().unwrap().expect("spawner ran");
    let ran_on = ran_on.lock().unwrap();
    assert_eq!(ran_on.len(), 50);
    let stolen = ran_on.iter().filter(|&&t| t != spawner).count();
    assert!(stolen > 0, "the other worker took some of the 50 tasks");
    let metrics = rt.metrics();
    let steals: u64 = (0..2).map(|w| metrics.worker_steal_count(w)).sum();
    assert!(steals > 0, "steals are counted");
}

#[test]
fn a_task_that_never_yields_does_not_stop_timers_on_the_other_worker() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .stall_threshold(None)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    rt.block_on(async {
        let spinner = pollen::spawn({
            let stop = stop.clone();
            async move {
                // Never yields until told to.
                while !stop.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
            }
        });
        let ticker = pollen::spawn(async {
            for _ in 0..10 {
                pollen::time::sleep(Duration::from_millis(10)).await;
            }
        });
        ticker.await.unwrap();
        stop.store(true, Ordering::Release);
        spinner.await.unwrap();
    });
    let elapsed = started.elapsed();
    // Ten 10 ms sleeps; far less than the spinner would hold them up
    // (for ever) if the timers waited for its worker.
    assert!(elapsed >= Duration::from_millis(100));
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

#[test]
fn ten_thousand_tasks_spawned_from_another_thread_all_complete() {
    let rt = runtime(2);
    let handle = rt.handle();
    let done = Arc::new(AtomicUsize::new(0));
    let tasks = thread::spawn({
        let done = done.clone();
        move || {
            (0..10_000)
                .map(|i| {
                    let done = done.clone();
                    handle.spawn(async move {
                        if i % 7 == 0 {
                            pollen::task::yield_now().await;
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                        i
                    })
                })
                .collect::<Vec<_>>()
        }
    })
    .join()
    .unwrap();
    let sum = rt.block_on(async {
        let mut sum = 0u64;
        for task in tasks {
            sum += task.await.unwrap();
        }
        sum
    });
    assert_eq!(done.load(Ordering::Relaxed), 10_000);
    assert_eq!(sum, (0..10_000u64).sum());
}

#[test]
fn a_panicking_task_does_not_take_a_worker_down() {
    let rt = runtime(2);
    let ran_on = Arc::new(Mutex::new(HashSet::new()));
    rt.block_on(async {
        let panics: Vec<_> = (0..20)
            .map(|i| pollen::spawn(async move { panic!("task {i} fails on purpose") }))
            .collect();
        for task in panics {
            assert!(task.await.unwrap_err().is_panic());
        }
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let ran_on = ran_on.clone();
                pollen::spawn(async move {
                    thread::sleep(Duration::from_millis(1));
                    ran_on.lock().unwrap().insert(thread::current().id());
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(
        ran_on.lock().unwrap().len(),
        2,
        "both workers still run tasks"
    );
}

#[test]
fn dropping_the_runtime_drops_every_task_and_joins_the_workers() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let rt = Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .on_thread_stop({
            let stopped = stopped.clone();
            move || {
                stopped.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        for _ in 0..50 {
            let guard = CountDrop(drops.clone());
            pollen::spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
        }
        for _ in 0..50 {
            let guard = CountDrop(drops.clone());
            pollen::spawn(async move {
                let _guard = guard;
                pollen::time::sleep(Duration::from_secs(3600)).await;
            });
        }
        pollen::task::yield_now().await;
    });
    assert_eq!(rt.metrics().num_alive_tasks(), 100);
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), 100, "every future dropped");
    assert_eq!(stopped.load(Ordering::SeqCst), 3, "every worker stopped");
}

#[test]
fn spawn_local_runs_on_the_spawning_worker() {
    let rt = runtime(2);
    let (same, value) = rt.block_on(async {
        pollen::spawn(async {
            let me = thread::current().id();
            let local = pollen::task::spawn_local(async move {
                let shared = std::rc::Rc::new(21); // not `Send`
                pollen::task::yield_now().await;
                (thread::current().id(), *shared * 2)
            });
            let (ran_on, value) = local.await.unwrap();
            (ran_on == me, value)
        })
        .await
        .unwrap()
    });
    assert!(same, "the local task stayed on its worker");
    assert_eq!(value, 42);
}

#[test]
fn spawn_local_in_block_on_runs_on_the_calling_thread() {
    let rt = runtime(2);
    let me = thread::current().id();
    let ran_on = rt.block_on(async {
        let not_send = std::rc::Rc::new(());
        pollen::task::spawn_local(async move {
            let _keep = not_send;
            pollen::time::sleep(Duration::from_millis(1)).await;
            thread::current().id()
        })
        .await
        .unwrap()
    });
    assert_eq!(ran_on, me);
}

#[test]
fn virtual_time_jumps_when_every_worker_waits() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let started = Instant::now();
    let virtual_elapsed = rt.block_on(async {
        let start = pollen::time::now();
        let tasks: Vec<_> = (1..=4u64)
            .map(|i| {
                pollen::spawn(async move { pollen::time::sleep(Duration::from_secs(60 * i)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        pollen::time::now() - start
    });
    assert!(virtual_elapsed >= Duration::from_secs(240));
    assert!(
        virtual_elapsed < Duration::from_secs(241),
        "{virtual_elapsed:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "no real wait");
}

#[test]
fn tcp_echo_across_workers() {
    use pollen::io::{AsyncReadExt, AsyncWriteExt};
    use pollen::net::{TcpListener, TcpStream};

    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = pollen::spawn(async move {
            for _ in 0..20 {
                let (mut stream, _) = listener.accept().await.unwrap();
                pollen::spawn(async move {
                    let mut buf = [0; 1024];
                    loop {
                        let n = stream.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        stream.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..20u8)
            .map(|i| {
                pollen::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    for round in 0..50u8 {
                        let msg = [i, round, 7, 9];
                        stream.write_all(&msg).await.unwrap();
                        let mut got = [0; 4];
                        stream.read_exact(&mut got).await.unwrap();
                        assert_eq!(got, msg);
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        server.await.unwrap();
    });
}

/// I/O reaches its tasks while every worker stays busy with tasks that
/// are always ready, so that no worker parks on the poller: the workers'
/// periodic look at the poller (every `event_interval` polls) delivers it.
#[test]
fn io_arrives_while_every_worker_is_busy() {
    use pollen::net::UdpSocket;

    let rt = runtime(2);
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            rt.spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    pollen::task::yield_now().await;
                }
            })
        })
        .collect();
    let (done, finished) = std::sync::mpsc::channel();
    rt.spawn(async move {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b_addr = b.local_addr().unwrap();
        let pong = pollen::spawn(async move {
            let mut buf = [0; 16];
            for _ in 0..100 {
                let (n, from) = b.recv_from(&mut buf).await.unwrap();
                b.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let mut buf = [0; 16];
        for round in 0..100u8 {
            a.send_to(&[round], b_addr).await.unwrap();
            let (n, _) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &[round]);
        }
        pong.await.unwrap();
        done.send(()).unwrap();
    });
    // The main thread waits outside the runtime: only the workers poll.
    let delivered = finished.recv_timeout(Duration::from_secs(20));
    stop.store(true, Ordering::SeqCst);
    delivered.expect("100 round trips while both workers were busy");
    for spinner in spinners {
        rt.block_on(spinner).unwrap();
    }
}

#[test]
fn metrics_count_workers_polls_and_parks() {
    let rt = runtime(2);
    rt.block_on(async {
        for _ in 0..100 {
            pollen::spawn(async {}).await.unwrap();
        }
    });
    let metrics = rt.metrics();
    assert_eq!(metrics.num_workers(), 2);
    let polls: u64 = (0..2).map(|w| metrics.worker_poll_count(w)).sum();
    assert!(polls >= 100, "{polls} polls");
    let parks: u64 = (0..2).map(|w| metrics.worker_park_count(w)).sum();
    assert!(parks > 0);
    assert_eq!(metrics.global_queue_depth(), 0);
}

#[test]
fn dump_lists_live_tasks_with_name_location_status_and_polls() {
    let rt = runtime(2);
    rt.block_on(async {
        let (tx, rx) = pollen::channel::oneshot::channel::<()>();
        let waiter = pollen::task::Builder::new()
            .name("waiter")
            .spawn(async move {
                let _ = rx.await;
            });
        let local_line = line!() + 5;
        let local_owner = pollen::spawn(async {
            // A local task on a worker, waiting for ever.
            let local = pollen::task::Builder::new()
                .name("local-waiter")
                .spawn_local(std::future::pending::<()>());
            pollen::task::yield_now().await;
            local.abort_handle()
        })
        .await
        .unwrap();
        // Let both be polled once.
        pollen::time::sleep(Duration::from_millis(20)).await;

        let dump = pollen::runtime::Handle::current().dump();
        let text = dump.to_string();
        let waiter_info = dump
            .tasks()
            .iter()
            .find(|t| t.name() == Some("waiter"))
            .unwrap_or_else(|| panic!("waiter in the dump:\n{text}"));
        assert_eq!(waiter_info.status(), pollen::task::TaskStatus::Idle);
        assert_eq!(waiter_info.polls(), 1);
        assert!(!waiter_info.is_local());
        assert!(
            waiter_info
                .location()
                .file()
                .ends_with("runtime_multi_thread.rs")
        );
        let local_info = dump
            .tasks()
            .iter()
            .find(|t| t.name() == Some("local-waiter"))
            .unwrap_or_else(|| panic!("local task in the dump:\n{text}"));
        assert!(local_info.is_local());
        assert_eq!(local_info.location().line(), local_line);
        assert_ne!(waiter_info.id(), local_info.id());
        assert!(text.contains("\"waiter\""), "{text}");

        tx.send(()).unwrap();
        waiter.await.unwrap();
        local_owner.abort();
        let after = pollen::runtime::Handle::current().dump();
        assert!(after.tasks().iter().all(|t| t.name() != Some("waiter")));
    });
}

/// The child side of the stall test: one task blocks its worker.
fn stall_child() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .stall_threshold(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    rt.block_on(async {
        pollen::task::Builder::new()
            .name("blocker")
            .spawn(async {
                // The mistake the report is for.
                thread::sleep(Duration::from_millis(400));
            })
            .await
            .unwrap();
    });
}

#[test]
fn a_stalled_task_is_reported_once_with_its_name_and_spawn_location() {
    if std::env::var_os("POLLEN_STALL_CHILD").is_some() {
        stall_child();
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_stalled_task_is_reported_once_with_its_name_and_spawn_location",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("POLLEN_STALL_CHILD", "1")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reports: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("has been inside one poll"))
        .collect();
    assert_eq!(reports.len(), 1, "one report:\n{stderr}");
    assert!(reports[0].contains("(\"blocker\")"), "{}", reports[0]);
    assert!(
        reports[0].contains("runtime_multi_thread.rs:"),
        "{}",
        reports[0]
    );
}

#[test]
fn on_stall_gets_one_report_with_the_task_and_the_runtime_goes_on() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .stall_threshold(Some(Duration::from_millis(30)))
        .on_stall(move |report| seen.lock().unwrap().push(report.clone()))
        .build()
        .unwrap();
    let ticks = rt.block_on(async {
        let blocker = pollen::task::Builder::new().name("blocker").spawn(async {
            thread::sleep(Duration::from_millis(300));
        });
        // The other worker keeps the timers going meanwhile.
        let mut ticks = 0;
        while !blocker.is_finished() {
            pollen::time::sleep(Duration::from_millis(5)).await;
            ticks += 1;
        }
        blocker.await.unwrap();
        ticks
    });
    assert!(ticks > 0);
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 1, "one report per stall: {reports:?}");
    let report = &reports[0];
    assert!(report.worker() < 2);
    assert!(report.duration() >= report.threshold());
    assert_eq!(report.threshold(), Duration::from_millis(30));
    let task = report.task().expect("the task is known");
    assert_eq!(task.name(), Some("blocker"));
    assert!(task.location().file().ends_with("runtime_multi_thread.rs"));
    let line = report.to_string();
    assert!(
        line.contains("(\"blocker\")") && line.contains("spawn_blocking"),
        "{line}"
    );
}

type BoxedTask = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

#[test]
fn a_task_pool_admits_n_tasks_and_its_tasks_are_dropped_at_shutdown() {
    use pollen::task::{SpawnError, TaskPool};

    static POOL: TaskPool<BoxedTask, 2> = TaskPool::new();
    let rt = runtime(2);
    let handle = rt.handle();
    let drops = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let (tx, rx) = pollen::channel::oneshot::channel::<()>();
        let first = POOL
            .try_spawn(Box::pin(async move {
                let _ = rx.await;
            }))
            .unwrap();
        let guard = CountDrop(drops.clone());
        let _second = POOL
            .try_spawn(Box::pin(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }))
            .unwrap();
        assert_eq!(POOL.busy(), 2);
        let refused = POOL.try_spawn(Box::pin(async {}));
        assert_eq!(refused.unwrap_err(), SpawnError::Busy);
        assert_eq!(pollen::runtime::Handle::current().dump().tasks().len(), 2);

        // A finished task whose handle is gone frees its slot: once its
        // worker lets go of its last reference, just after the output is
        // handed over.
        tx.send(()).unwrap();
        first.await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while POOL.busy() > 1 {
            assert!(Instant::now() < deadline, "the slot was never freed");
            pollen::task::yield_now().await;
        }
        let third = POOL.try_spawn(Box::pin(async {})).unwrap();
        third.await.unwrap();
    });
    drop(rt);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the pooled task was dropped"
    );
    assert_eq!(POOL.busy(), 0, "its slot is free again");
    assert_eq!(
        POOL.try_spawn_on(&handle, Box::pin(async {})).unwrap_err(),
        SpawnError::ShutDown
    );
}

#[test]
fn a_task_handed_to_a_worker_that_then_blocks_runs_on_another() {
    // tokio issue 4941: the woken task sits in the LIFO slot of a worker
    // that blocks; here the watchdog lets the idle worker take it.
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .stall_threshold(None)
        .build()
        .unwrap();
    let (b_done, blocker_done) = rt.block_on(async {
        let (tx, rx) = pollen::channel::oneshot::channel::<()>();
        let b = pollen::spawn(async move {
            rx.await.unwrap();
            Instant::now()
        });
        // Let `b` wait on its receiver first.
        pollen::time::sleep(Duration::from_millis(20)).await;
        let blocker = pollen::spawn(async move {
            // The send wakes `b` into this worker's LIFO slot...
            tx.send(()).unwrap();
            // ...and then this worker is stuck for a while.
            thread::sleep(Duration::from_millis(500));
            Instant::now()
        });
        (b.await.unwrap(), blocker.await.unwrap())
    });
    assert!(
        b_done + Duration::from_millis(300) < blocker_done,
        "the woken task ran while its waker's worker was blocked"
    );
}

#[test]
fn handle_block_on_from_several_threads_at_once() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let handle = rt.handle();
    let threads: Vec<_> = (0..4u64)
        .map(|i| {
            std::thread::spawn(move || {
                handle.block_on(async move {
                    pollen::time::sleep(Duration::from_millis(2)).await;
                    pollen::spawn(async move { i * 10 }).await.unwrap()
                })
            })
        })
        .collect();
    let mut got: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 10, 20, 30]);
    drop(rt);
    let task = handle.block_on(async { pollen::spawn(async { 1 }).await });
    assert!(task.unwrap_err().is_cancelled(), "after shutdown");
}

/// A worker with nothing to do parks and stays parked while another's
/// LIFO slot holds a task through a long poll: that task is its owner's to
/// run, so it is no reason to search again. (Counting it once sent the idle
/// worker back and forth between parking and a search that could not
/// succeed, about a million times a second.)
#[test]
fn an_idle_worker_stays_parked_while_another_holds_a_lifo_task() {
    use pollen::channel::mpsc;

    /// Values sent; after each the producer computes for a while.
    const SENDS: u64 = 1_500;
    let rt = runtime(2);
    let metrics = rt.handle().metrics();
    let parks = || {
        (0..metrics.num_workers())
            .map(|w| metrics.worker_park_count(w))
            .sum::<u64>()
    };
    let before = parks();
    let started = Instant::now();
    let received = rt.block_on(async {
        // A timer now and then wakes whichever worker holds the poller: it
        // runs the ticker, searches, finds nothing it may take, and parks.
        let ticking = Arc::new(AtomicBool::new(true));
        let ticker = pollen::spawn({
            let ticking = ticking.clone();
            async move {
                while ticking.load(Ordering::Relaxed) {
                    pollen::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
        // Spawned from a task, so both land on one worker: the consumer,
        // woken by the first send of each poll, waits in the producer's
        // LIFO slot until the poll ends (the budget ends it, every few
        // milliseconds: under the watchdog's tick, so it is never marked
        // stuck).
        let received = pollen::spawn(async {
            let (tx, mut rx) = mpsc::channel::<u64>(SENDS as usize);
            let consumer = pollen::spawn(async move {
                let mut n = 0;
                while rx.recv().await.is_some() {
                    n += 1;
                }
                n
            });
            for i in 0..SENDS {
                tx.send(i).await.unwrap();
                let until = Instant::now() + Duration::from_micros(30);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
            drop(tx);
            consumer.await.unwrap()
        })
        .await
        .unwrap();
        ticking.store(false, Ordering::Relaxed);
        ticker.await.unwrap();
        received
    });
    assert_eq!(received, SENDS);
    let parked = parks() - before;
    let millis = started.elapsed().as_millis() as u64;
    // A few parks per millisecond at most (the ticker's); spinning parks
    // run to hundreds per millisecond.
    assert!(parked < 20 * millis.max(1), "{parked} parks in {millis} ms");
}
