//! Models of the scheduler's hand-off protocols, on real core tasks and the
//! scheduler's real parts (queues through their traits, the LIFO slot, the
//! idle accounting, the parker):
//!
//! - a task woken while another worker steals it;
//! - the LIFO slot taken by a thief while its owner finishes a poll, and
//!   while its owner refills it;
//! - a worker going to sleep while work is pushed (no lost wake-up), with
//!   one worker and with two;
//! - work pushed while the last searcher takes a task (someone wakes for
//!   it);
//! - shutdown racing a wake.
//!
//! Under `--cfg loom` (with the queues' loom model) each explores every
//! interleaving; otherwise it runs once as an ordinary test. A lost
//! wake-up leaves a worker parked for ever, which loom reports as a
//! deadlock. Every task counts its polls and its drop: it completes, and
//! its future is dropped exactly once.
//!
//! The worker loop in the sleep models follows `Worker::run`/`Worker::park`
//! step for step (search, count itself parked, look again if it was the
//! last searcher, sleep, find out whether it was notified); the worker's
//! real loop needs the reactor, which loom cannot run.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crossbeam_deque::Steal;
use pollen_core::task::{JoinHandle, Runnable, Schedule};

use super::idle::Idle;
use super::lifo::Lifo;
use super::park::Parker;
use super::queue::{Global, GlobalQueue, Local, LocalQueue, StealQueue, retrying};
use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::loom::model;
use crate::loom::model_sync::{Arc, Condvar, Mutex, thread};

/// A scheduler for model tasks: wakes go to the global queue and wake a
/// worker, as a wake from outside the pool does.
struct ModelPool {
    global: Global<Runnable>,
    idle: Idle,
    parkers: Vec<Parker>,
    stopping: AtomicBool,
}

impl ModelPool {
    fn leak(workers: usize) -> &'static ModelPool {
        Box::leak(Box::new(ModelPool {
            global: GlobalQueue::new(),
            idle: Idle::new(workers),
            parkers: (0..workers).map(|_| Parker::new()).collect(),
            stopping: AtomicBool::new(false),
        }))
    }

    fn notify_parked(&self) {
        if let Some(worker) = self.idle.worker_to_notify() {
            self.parkers[worker].unpark(|| unreachable!("no driver in the model"));
        }
    }
}

impl Schedule for ModelPool {
    fn schedule(&self, runnable: Runnable) {
        GlobalQueue::push(&self.global, runnable);
        self.notify_parked();
    }
}

/// What happened to one task.
#[derive(Default)]
struct Counts {
    polls: AtomicUsize,
    drops: AtomicUsize,
}

/// Waits until `flag` is set, keeping its latest waker where a waking
/// thread finds it.
struct WaitFlag {
    flag: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
    counts: Arc<Counts>,
}

impl Future for WaitFlag {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.counts.polls.fetch_add(1, SeqCst);
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        // After publishing the waker: a `set` before this is seen here, a
        // `set` after it finds the waker.
        if self.flag.load(SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for WaitFlag {
    fn drop(&mut self) {
        self.counts.drops.fetch_add(1, SeqCst);
    }
}

/// A task waiting for a flag, and the means to set it.
struct Probe {
    flag: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
    counts: Arc<Counts>,
}

impl Probe {
    fn spawn(pool: &'static ModelPool) -> (Probe, Runnable, JoinHandle<()>) {
        let probe = Probe {
            flag: Arc::new(AtomicBool::new(false)),
            waker: Arc::new(Mutex::new(None)),
            counts: Arc::new(Counts::default()),
        };
        let future = WaitFlag {
            flag: probe.flag.clone(),
            waker: probe.waker.clone(),
            counts: probe.counts.clone(),
        };
        let (runnable, handle) = pollen_core::task::new_boxed(future, pool);
        (probe, runnable, handle)
    }

    /// Sets the flag and wakes the task if it has polled.
    fn set(&self) {
        self.flag.store(true, SeqCst);
        let waker = self.waker.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn polls(&self) -> usize {
        self.counts.polls.load(SeqCst)
    }

    fn drops(&self) -> usize {
        self.counts.drops.load(SeqCst)
    }
}

/// Runs every task left in `global` and `locals` until none is queued.
fn drain(global: &Global<Runnable>, locals: &[&Local<Runnable>]) {
    loop {
        let next = retrying(|| GlobalQueue::steal(global))
            .or_else(|| locals.iter().find_map(|local| LocalQueue::pop(*local)));
        match next {
            Some(task) => task.run(),
            None => return,
        }
    }
}

/// Wakes the task (it has polled once) and moves its `Runnable` from the
/// global queue to `local`, as if it had been woken on that worker. Only
/// while no other model thread runs.
fn requeue_on(probe: &Probe, pool: &ModelPool, local: &Local<Runnable>) {
    let waker = probe.waker.lock().unwrap().take().expect("polled once");
    waker.wake();
    let task = retrying(|| GlobalQueue::steal(&pool.global)).expect("just woken");
    LocalQueue::push(local, task);
}

#[test]
fn a_task_woken_while_being_stolen_runs_until_it_completes() {
    model(|| {
        let pool = ModelPool::leak(2);
        let (probe, runnable, handle) = Probe::spawn(pool);
        // The first poll, on worker 0; the task then waits, and is woken
        // onto worker 0's deque.
        runnable.run();
        let (local0, thief0) = <Local<Runnable> as LocalQueue<_>>::new();
        requeue_on(&probe, pool, &local0);
        let probe = Arc::new(probe);

        // Worker 1 steals it while another thread wakes it for good and
        // worker 0 pops its own deque.
        let thief = thread::spawn(move || {
            let (local1, _) = <Local<Runnable> as LocalQueue<_>>::new();
            if let Steal::Success(task) = StealQueue::steal_batch_and_pop(&thief0, &local1) {
                task.run();
            }
            drain(&Global::new(), &[&local1]);
        });
        let waker = thread::spawn({
            let probe = probe.clone();
            move || probe.set()
        });
        if let Some(task) = LocalQueue::pop(&local0) {
            task.run();
        }
        thief.join().unwrap();
        waker.join().unwrap();
        drain(&pool.global, &[&local0]);

        assert!(handle.is_finished(), "the wake was not lost");
        assert_eq!(probe.drops(), 1);
        assert!(probe.polls() <= 3, "{} polls", probe.polls());
    });
}

#[test]
fn the_lifo_slot_taken_by_a_thief_while_its_owner_finishes_a_poll() {
    model(|| {
        let pool = ModelPool::leak(2);
        let lifo: &'static Lifo<Runnable> = Box::leak(Box::new(Lifo::new()));
        let (probe, runnable, handle) = Probe::spawn(pool);
        runnable.run();
        let probe = Arc::new(probe);

        // The owner, finishing the poll of a task that woke this one: the
        // wake lands in its LIFO slot; it then runs the slot.
        let owner = thread::spawn({
            let probe = probe.clone();
            move || {
                let waker = probe.waker.lock().unwrap().take();
                if let Some(waker) = waker {
                    // What `Worker::schedule_local` does with a wake: the
                    // model's wake goes to the global queue, so take it
                    // from there into the slot.
                    waker.wake();
                    if let Some(task) = retrying(|| GlobalQueue::steal(&pool.global)) {
                        assert!(lifo.put(task).is_none(), "the slot was empty");
                    }
                }
                if let Some(task) = lifo.take() {
                    task.run();
                }
            }
        });
        // A thief with nothing else to do takes the slot.
        let thief = thread::spawn(move || {
            if let Some(task) = lifo.take() {
                task.run();
            }
        });
        probe.set();
        owner.join().unwrap();
        thief.join().unwrap();
        if let Some(task) = lifo.take() {
            task.run();
        }
        drain(&pool.global, &[]);

        assert!(handle.is_finished(), "the wake was not lost");
        assert_eq!(probe.drops(), 1);
    });
}

#[test]
fn a_full_lifo_slot_refilled_while_a_thief_takes_it_loses_no_task() {
    model(|| {
        let pool = ModelPool::leak(2);
        let lifo: &'static Lifo<Runnable> = Box::leak(Box::new(Lifo::new()));
        let (first, first_task, first_handle) = Probe::spawn(pool);
        let (second, second_task, second_handle) = Probe::spawn(pool);
        first.flag.store(true, SeqCst);
        second.flag.store(true, SeqCst);
        // The owner fills the empty slot, then displaces what is there
        // while a thief may be taking it.
        assert!(lifo.put(first_task).is_none());
        let thief = thread::spawn(move || {
            if let Some(task) = lifo.take() {
                task.run();
            }
        });
        if let Some(displaced) = lifo.put(second_task) {
            displaced.run();
        }
        if let Some(task) = lifo.take() {
            task.run();
        }
        thief.join().unwrap();
        if let Some(task) = lifo.take() {
            task.run();
        }

        assert!(first_handle.is_finished() && second_handle.is_finished());
        assert_eq!((first.polls(), second.polls()), (1, 1), "each ran once");
        assert_eq!((first.drops(), second.drops()), (1, 1));
    });
}

/// One worker of the sleep models: runs items from the global queue until
/// `want` ran in all, searching and parking as `Worker::run` does. The
/// worker that sees the work done wakes the others, so the model ends
/// (real workers sleep on until shutdown); a lost wake-up leaves the work
/// undone and every worker parked, a deadlock.
fn worker_loop(pool: &'static ModelPool, index: usize, ran: &AtomicUsize, want: usize) {
    let done = || {
        let done = ran.load(SeqCst) >= want || pool.stopping.load(SeqCst);
        if done {
            release(pool);
        }
        done
    };
    let mut searching = false;
    loop {
        if done() {
            return;
        }
        // `next_task` / `steal_work`: the global queue.
        let found = retrying(|| GlobalQueue::steal(&pool.global));
        if let Some(task) = found {
            if searching {
                searching = false;
                if pool.idle.transition_worker_from_searching()
                    && GlobalQueue::len(&pool.global) > 0
                {
                    pool.notify_parked();
                }
            }
            task.run();
            ran.fetch_add(1, SeqCst);
            continue;
        }
        if !searching && pool.idle.transition_worker_to_searching() {
            searching = true;
            // Searching: look once more before parking.
            continue;
        }
        // `park`.
        if pool.idle.transition_worker_to_parked(index, searching)
            && GlobalQueue::len(&pool.global) > 0
        {
            pool.notify_parked();
        }
        loop {
            if done() {
                pool.idle.unpark_worker_by_id(index);
                return;
            }
            pool.parkers[index].park_condvar();
            if !pool.idle.is_parked(index) {
                searching = true;
                break;
            }
        }
    }
}

/// Starts one `worker_loop` thread per worker of `pool`, which run until
/// `want` tasks ran in all.
fn start_workers(pool: &'static ModelPool, want: usize) -> Vec<thread::JoinHandle<()>> {
    let ran = Arc::new(AtomicUsize::new(0));
    (0..pool.parkers.len())
        .map(|index| {
            let ran = ran.clone();
            thread::spawn(move || worker_loop(pool, index, &ran, want))
        })
        .collect()
}

fn join(workers: Vec<thread::JoinHandle<()>>) {
    for worker in workers {
        worker.join().unwrap();
    }
}

/// Tasks that complete when first run.
fn ready_task(pool: &'static ModelPool) -> (Runnable, JoinHandle<()>) {
    pollen_core::task::new_boxed(async {}, pool)
}

/// Hands one task to the pool from outside.
fn push(pool: &'static ModelPool) -> JoinHandle<()> {
    let (runnable, handle) = ready_task(pool);
    pool.schedule(runnable);
    handle
}

/// Wakes every worker still parked once all the work is done, so the model
/// ends (the real runtime's workers sleep on until shutdown).
fn release(pool: &'static ModelPool) {
    for parker in &pool.parkers {
        parker.unpark(|| unreachable!("no driver in the model"));
    }
}

#[test]
fn a_worker_going_to_sleep_while_work_is_pushed_wakes_for_it() {
    model(|| {
        let pool = ModelPool::leak(1);
        let ran = Arc::new(AtomicUsize::new(0));
        let worker = thread::spawn({
            let ran = ran.clone();
            move || worker_loop(pool, 0, &ran, 2)
        });
        let first = push(pool);
        let second = push(pool);
        worker.join().unwrap();
        assert!(first.is_finished() && second.is_finished());
    });
}

#[test]
fn two_workers_going_to_sleep_while_work_is_pushed_lose_no_wake_up() {
    model(|| {
        let pool = ModelPool::leak(2);
        let workers = start_workers(pool, 1);
        let task = push(pool);
        join(workers);
        assert!(task.is_finished());
    });
}

#[test]
fn work_pushed_while_the_last_searcher_takes_a_task_wakes_another_worker() {
    model(|| {
        let pool = ModelPool::leak(2);
        let workers = start_workers(pool, 2);
        // The first task blocks its worker until the second has run, so the
        // second needs the other worker awake: if the searcher that takes
        // the first left the second to no one, both workers wait for ever.
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (blocked, blocked_handle) = pollen_core::task::new_boxed(
            {
                let gate = gate.clone();
                async move {
                    let (open, opened) = &*gate;
                    let mut open = open.lock().unwrap();
                    while !*open {
                        open = opened.wait(open).unwrap();
                    }
                }
            },
            pool,
        );
        let (opener, opener_handle) = pollen_core::task::new_boxed(
            async move {
                let (open, opened) = &*gate;
                *open.lock().unwrap() = true;
                opened.notify_all();
            },
            pool,
        );
        pool.schedule(blocked);
        pool.schedule(opener);
        join(workers);
        assert!(blocked_handle.is_finished() && opener_handle.is_finished());
    });
}

#[test]
fn shutdown_racing_a_wake_drops_the_task_once() {
    model(|| {
        let pool = ModelPool::leak(1);
        let (probe, runnable, handle) = Probe::spawn(pool);
        runnable.run();
        let probe = Arc::new(probe);
        let ran = Arc::new(AtomicUsize::new(0));
        let worker = thread::spawn({
            let ran = ran.clone();
            move || {
                worker_loop(pool, 0, &ran, usize::MAX);
                // `Worker::shutdown`: drop whatever is queued.
                while retrying(|| GlobalQueue::steal(&pool.global)).is_some() {}
            }
        });
        let waker = thread::spawn({
            let probe = probe.clone();
            move || probe.set()
        });
        // Shutdown: abort every task, stop the workers.
        handle.abort();
        pool.stopping.store(true, SeqCst);
        release(pool);
        worker.join().unwrap();
        waker.join().unwrap();
        // `Pool::stop`: what came after the workers left.
        while retrying(|| GlobalQueue::steal(&pool.global)).is_some() {}

        assert!(handle.is_finished(), "run, or dropped by the drain");
        assert_eq!(probe.drops(), 1, "the future is dropped exactly once");
    });
}
