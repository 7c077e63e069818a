//! The queue without HTTP, in virtual time: every wait here is a timer, so
//! the paused clock jumps from one to the next and the tests check exact
//! times without depending on the machine's speed.

use std::time::Duration;

use pollen::time::{Instant, now, sleep, sleep_until};
use pollen_jobs::{
    Event, JobId, JobSpec, JobView, Queue, QueueConfig, RetryError, Service, Status, SubmitError,
};

fn config(workers: usize, queue_capacity: usize) -> QueueConfig {
    QueueConfig {
        workers,
        queue_capacity,
        retry_base: Duration::from_secs(1),
        data_dir: None,
        keep_finished: 100_000,
        max_dead: 10_000,
    }
}

fn spec(json: &str) -> JobSpec {
    JobSpec::parse(json.as_bytes()).unwrap()
}

fn sleep_job(ms: u64) -> JobSpec {
    spec(&format!(r#"{{"type":"sleep","payload":{{"ms":{ms}}}}}"#))
}

async fn job(queue: &Queue, id: JobId) -> JobView {
    queue.job(id).await.unwrap().expect("a known job")
}

async fn status(queue: &Queue) -> Status {
    queue.status().await.unwrap()
}

/// Lets the actor, the dispatcher and the workers catch up without moving
/// the clock past anything that matters.
async fn settle() {
    sleep(Duration::from_micros(1)).await;
}

fn at(start: Instant, ms: u64) -> Instant {
    start + Duration::from_millis(ms)
}

#[pollen::test(start_paused = true)]
async fn a_sleep_job_runs_for_its_time_then_completes() {
    let service = Service::start(&config(2, 10)).unwrap();
    let queue = service.queue();
    let start = now();
    let id = queue.submit(sleep_job(5000)).await.unwrap();
    assert_eq!(id, JobId(1));
    settle().await;
    let running = job(&queue, id).await;
    assert_eq!(running.state.name(), "running");
    assert_eq!(running.attempts, 1);

    sleep_until(at(start, 4990)).await;
    assert_eq!(job(&queue, id).await.state.name(), "running");
    sleep_until(at(start, 5010)).await;
    let done = job(&queue, id).await;
    match done.state {
        pollen_jobs::StateView::Completed {
            result,
            duration_ms,
        } => {
            assert_eq!(result, serde_json::json!({ "slept_ms": 5000 }));
            assert!((5000.0..5010.0).contains(&duration_ms), "{duration_ms}");
        }
        other => panic!("completed, got {other:?}"),
    }
    let s = status(&queue).await;
    assert_eq!((s.pending, s.running, s.completed), (0, 0, 1));
    assert!(queue.job(JobId(2)).await.unwrap().is_none());
    service.shutdown(Duration::from_secs(1)).await;
}

#[pollen::test(start_paused = true)]
async fn at_most_w_jobs_run_at_once_and_the_rest_wait_their_turn() {
    const W: usize = 3;
    let service = Service::start(&config(W, 100)).unwrap();
    let queue = service.queue();
    let start = now();
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(queue.submit(sleep_job(1000)).await.unwrap());
    }
    // Ten one-second jobs on three workers: four rounds, never more than
    // three at once, and nothing finishes early.
    let mut most = 0;
    let mut completed_at = Vec::new();
    for tick in 1..=45 {
        sleep_until(at(start, tick * 100 + 50)).await;
        let s = status(&queue).await;
        assert!(s.running <= W, "{} running at {tick}00 ms", s.running);
        most = most.max(s.running);
        assert_eq!(s.pending + s.running + s.completed, 10);
        completed_at.push(s.completed);
    }
    assert_eq!(most, W);
    // Completions step up by three each second: 3 at 1 s, 6 at 2 s, 9 at
    // 3 s, 10 at 4 s.
    let after = |ms: usize| completed_at[ms / 100 - 1];
    assert_eq!(after(900), 0);
    assert_eq!(after(1100), 3);
    assert_eq!(after(2100), 6);
    assert_eq!(after(3100), 9);
    assert_eq!(after(3900), 9);
    assert_eq!(after(4100), 10);
    for id in ids {
        let view = job(&queue, id).await;
        assert_eq!(view.state.name(), "completed");
        assert_eq!(view.attempts, 1);
    }
    service.shutdown(Duration::from_secs(1)).await;
}

#[pollen::test(start_paused = true)]
async fn failed_attempts_are_retried_after_1_2_and_4_seconds() {
    let service = Service::start(&config(1, 10)).unwrap();
    let queue = service.queue();
    let start = now();
    let id = queue
        .submit(spec(
            r#"{"type":"fail","payload":{"times":3},"max_retries":3}"#,
        ))
        .await
        .unwrap();
    // Attempts at 0 s, 1 s, 3 s (1 + 2) and 7 s (3 + 4); the fourth
    // succeeds.
    let expect = |view: &JobView, attempts: u32, status: &str| {
        assert_eq!(view.attempts, attempts, "{view:?}");
        assert_eq!(view.state.name(), status, "{view:?}");
    };
    settle().await;
    let first = job(&queue, id).await;
    expect(&first, 1, "failed");
    match &first.state {
        pollen_jobs::StateView::Failed {
            error,
            retries_left,
            retry_in_ms,
        } => {
            assert!(error.contains("attempt 1"), "{error}");
            assert_eq!(*retries_left, 2);
            assert!((990..=1000).contains(retry_in_ms), "{retry_in_ms}");
        }
        other => panic!("failed, got {other:?}"),
    }
    sleep_until(at(start, 990)).await;
    expect(&job(&queue, id).await, 1, "failed");
    sleep_until(at(start, 1010)).await;
    expect(&job(&queue, id).await, 2, "failed");
    sleep_until(at(start, 2990)).await;
    expect(&job(&queue, id).await, 2, "failed");
    sleep_until(at(start, 3010)).await;
    expect(&job(&queue, id).await, 3, "failed");
    sleep_until(at(start, 6990)).await;
    expect(&job(&queue, id).await, 3, "failed");
    sleep_until(at(start, 7010)).await;
    let done = job(&queue, id).await;
    expect(&done, 4, "completed");
    let s = status(&queue).await;
    assert_eq!((s.failed, s.dead, s.completed), (0, 0, 1));
    service.shutdown(Duration::from_secs(1)).await;
}

#[pollen::test(start_paused = true)]
async fn out_of_retries_a_job_is_dead_until_retried_by_hand() {
    let service = Service::start(&config(2, 10)).unwrap();
    let queue = service.queue();
    // Fails twice, one retry allowed: dead after its second attempt (at
    // 1 s). Retried by hand, its third attempt succeeds.
    let id = queue
        .submit(spec(
            r#"{"type":"fail","payload":{"times":2},"max_retries":1}"#,
        ))
        .await
        .unwrap();
    let healthy = queue.submit(sleep_job(10)).await.unwrap();
    sleep(Duration::from_millis(1500)).await;
    let dead = job(&queue, id).await;
    assert_eq!(dead.state.name(), "dead");
    assert_eq!(dead.attempts, 2);
    assert_eq!(queue.dead().await.unwrap(), vec![dead]);
    let s = status(&queue).await;
    assert_eq!((s.dead, s.completed, s.queue_depth), (1, 1, 0));

    assert_eq!(
        queue.retry_dead(healthy).await,
        Err(RetryError::NotDead {
            status: "completed"
        })
    );
    assert_eq!(queue.retry_dead(JobId(99)).await, Err(RetryError::NotFound));
    let requeued = queue.retry_dead(id).await.unwrap();
    assert_eq!(requeued.state.name(), "pending");
    assert!(queue.dead().await.unwrap().is_empty());
    settle().await;
    let done = job(&queue, id).await;
    assert_eq!(done.state.name(), "completed");
    assert_eq!(done.attempts, 3);
    // Only dead jobs are retried.
    assert!(matches!(
        queue.retry_dead(id).await,
        Err(RetryError::NotDead { .. })
    ));
    service.shutdown(Duration::from_secs(1)).await;
}

#[pollen::test(start_paused = true)]
async fn a_full_queue_refuses_submissions_until_a_worker_takes_one() {
    // One worker, room for two waiting jobs.
    let service = Service::start(&config(1, 2)).unwrap();
    let queue = service.queue();
    let first = queue.submit(sleep_job(1000)).await.unwrap();
    settle().await;
    assert_eq!(job(&queue, first).await.state.name(), "running");
    queue.submit(sleep_job(1000)).await.unwrap();
    queue.submit(sleep_job(1000)).await.unwrap();
    assert_eq!(
        queue.submit(sleep_job(1000)).await,
        Err(SubmitError::Full { capacity: 2 })
    );
    let s = status(&queue).await;
    assert_eq!((s.running, s.pending, s.queue_depth), (1, 2, 2));
    // Once the first is done the worker takes the next: room for one.
    sleep(Duration::from_millis(1010)).await;
    queue.submit(sleep_job(1000)).await.unwrap();
    assert!(matches!(
        queue.submit(sleep_job(1000)).await,
        Err(SubmitError::Full { .. })
    ));
    service.shutdown(Duration::from_secs(5)).await;
}

#[pollen::test(start_paused = true)]
async fn shutdown_lets_running_jobs_finish_and_leaves_pending_ones() {
    let service = Service::start(&config(2, 10)).unwrap();
    let queue = service.queue();
    let start = now();
    for _ in 0..3 {
        queue.submit(sleep_job(2000)).await.unwrap();
    }
    settle().await;
    let drained = service.shutdown(Duration::from_secs(5)).await;
    assert!(drained.in_time);
    // The two running jobs finished (two seconds after they started); the
    // third was never started.
    assert_eq!(now() - start, Duration::from_secs(2));
    let s = drained.status.unwrap();
    assert_eq!((s.completed, s.running, s.pending), (2, 0, 1));
}

#[pollen::test(start_paused = true)]
async fn shutdown_abandons_jobs_still_running_after_the_grace_period() {
    let service = Service::start(&config(1, 10)).unwrap();
    let queue = service.queue();
    let id = queue.submit(sleep_job(60_000)).await.unwrap();
    settle().await;
    let start = now();
    let drained = service.shutdown(Duration::from_secs(1)).await;
    assert!(!drained.in_time);
    assert_eq!(now() - start, Duration::from_secs(1));
    assert_eq!(drained.status.unwrap().completed, 0);
    assert_eq!(job(&queue, id).await.state.name(), "running");
}

#[pollen::test(start_paused = true)]
async fn status_counts_workers_and_throughput() {
    let service = Service::start(&config(4, 100)).unwrap();
    let queue = service.queue();
    settle().await;
    let s = status(&queue).await;
    assert_eq!((s.workers, s.workers_alive, s.queue_capacity), (4, 4, 100));
    assert_eq!(s.throughput_per_s, 0.0);
    for _ in 0..20 {
        queue.submit(sleep_job(100)).await.unwrap();
    }
    sleep(Duration::from_secs(1)).await;
    let s = status(&queue).await;
    assert_eq!(s.completed, 20);
    // Twenty completions in the last ten seconds.
    assert_eq!(s.throughput_per_s, 2.0);
    sleep(Duration::from_secs(11)).await;
    assert_eq!(status(&queue).await.throughput_per_s, 0.0);
    service.shutdown(Duration::from_secs(1)).await;
}

#[pollen::test(start_paused = true)]
async fn the_event_bus_tells_every_step_in_order() {
    let service = Service::start(&config(1, 10)).unwrap();
    let queue = service.queue();
    let mut events = queue.events();
    let flaky = queue
        .submit(spec(
            r#"{"type":"fail","payload":{"times":2},"max_retries":1}"#,
        ))
        .await
        .unwrap();
    sleep(Duration::from_secs(2)).await;
    queue.retry_dead(flaky).await.unwrap();
    sleep(Duration::from_secs(1)).await;
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    let error = |attempt| format!("failing on purpose: attempt {attempt} of the first 2");
    assert_eq!(
        seen,
        vec![
            Event::JobEnqueued {
                id: flaky,
                kind: "fail"
            },
            Event::JobStarted {
                id: flaky,
                worker: 0,
                attempt: 1
            },
            Event::JobFailed {
                id: flaky,
                error: error(1),
                retry_in: Duration::from_secs(1)
            },
            Event::JobStarted {
                id: flaky,
                worker: 0,
                attempt: 2
            },
            Event::JobDead {
                id: flaky,
                error: error(2)
            },
            Event::JobRetried { id: flaky },
            Event::JobStarted {
                id: flaky,
                worker: 0,
                attempt: 3
            },
            Event::JobCompleted {
                id: flaky,
                duration: Duration::ZERO
            },
        ]
    );
    assert_eq!(
        seen[2].to_string(),
        "job 1 failed: failing on purpose: attempt 1 of the first 2; retry in 1.0s"
    );
    service.shutdown(Duration::from_secs(1)).await;
}

/// Every event so far.
fn drain(events: &mut pollen::channel::broadcast::Receiver<'static, Event>) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    seen
}

#[pollen::test(start_paused = true)]
async fn a_panicking_job_crashes_its_worker_which_is_restarted_and_every_job_completes() {
    // 100 jobs on 4 workers; one attempt in a hundred panics.
    let service = Service::start(&config(4, 200)).unwrap();
    let queue = service.queue();
    let mut events = queue.events();
    let mut ids = Vec::new();
    for i in 0..100 {
        let job = if i == 37 {
            r#"{"type":"fail","payload":{"times":1,"panic":true}}"#.to_owned()
        } else {
            format!(r#"{{"type":"sleep","payload":{{"ms":{}}}}}"#, 10 + i % 7)
        };
        ids.push(queue.submit(spec(&job)).await.unwrap());
    }
    sleep(Duration::from_secs(5)).await;
    let s = status(&queue).await;
    assert_eq!((s.completed, s.dead, s.workers_alive), (100, 0, 4), "{s:?}");
    let flaky = job(&queue, ids[37]).await;
    assert_eq!(flaky.attempts, 2);
    assert_eq!(flaky.state.name(), "completed");

    let seen = drain(&mut events);
    let crashes: Vec<&Event> = seen
        .iter()
        .filter(|e| matches!(e, Event::WorkerCrashed { .. }))
        .collect();
    assert_eq!(crashes.len(), 1);
    let Event::WorkerCrashed { worker, error } = crashes[0] else {
        unreachable!()
    };
    assert_eq!(
        error,
        "the job panicked: panicking on purpose: attempt 1 of the first 1"
    );
    assert!(seen.contains(&Event::WorkerRestarted { worker: *worker }));
    assert!(seen.contains(&Event::JobFailed {
        id: ids[37],
        error: error.clone(),
        retry_in: Duration::from_secs(1),
    }));
    service.shutdown(Duration::from_secs(1)).await;
}

#[pollen::test(start_paused = true)]
async fn past_five_restarts_a_minute_a_worker_stays_down_until_the_minute_has_passed() {
    let service = Service::start(&config(1, 20)).unwrap();
    let queue = service.queue();
    let mut events = queue.events();
    let start = now();
    // Six panics at once: five restarts, then the worker is given up on.
    let panicking = r#"{"type":"fail","payload":{"times":1,"panic":true},"max_retries":1}"#;
    for _ in 0..6 {
        queue.submit(spec(panicking)).await.unwrap();
    }
    sleep(Duration::from_secs(5)).await;
    let s = status(&queue).await;
    assert_eq!(
        (s.workers, s.workers_alive, s.completed),
        (1, 0, 0),
        "{s:?}"
    );
    // With no worker alive, nothing is accepted.
    assert_eq!(
        queue.submit(sleep_job(1)).await,
        Err(SubmitError::NoWorkers)
    );
    // A minute after its first restart, it is back, and every job runs.
    sleep_until(at(start, 59_000)).await;
    assert_eq!(status(&queue).await.workers_alive, 0);
    sleep_until(at(start, 61_000)).await;
    let s = status(&queue).await;
    assert_eq!((s.workers_alive, s.completed), (1, 6), "{s:?}");
    queue.submit(sleep_job(1)).await.unwrap();
    let seen = drain(&mut events);
    let count = |f: fn(&Event) -> bool| seen.iter().filter(|e| f(e)).count();
    assert_eq!(count(|e| matches!(e, Event::WorkerCrashed { .. })), 6);
    assert_eq!(count(|e| matches!(e, Event::WorkerGaveUp { .. })), 1);
    assert_eq!(count(|e| matches!(e, Event::WorkerRestarted { .. })), 6);
    service.shutdown(Duration::from_secs(1)).await;
}

#[pollen::test(start_paused = true)]
async fn a_worker_given_up_on_does_not_hold_up_the_shutdown() {
    let service = Service::start(&config(1, 20)).unwrap();
    let queue = service.queue();
    let panicking = r#"{"type":"fail","payload":{"times":1,"panic":true},"max_retries":1}"#;
    for _ in 0..6 {
        queue.submit(spec(panicking)).await.unwrap();
    }
    sleep(Duration::from_secs(5)).await;
    assert_eq!(status(&queue).await.workers_alive, 0);
    let drained = service.shutdown(Duration::from_secs(1)).await;
    assert!(drained.in_time, "{drained:?}");
}

#[pollen::test(start_paused = true)]
async fn the_restart_budget_is_per_minute() {
    let service = Service::start(&config(1, 20)).unwrap();
    let queue = service.queue();
    let panicking = r#"{"type":"fail","payload":{"times":1,"panic":true},"max_retries":1}"#;
    // Five crashes, a minute apart from the next five: all restarted.
    for _ in 0..2 {
        for _ in 0..5 {
            queue.submit(spec(panicking)).await.unwrap();
        }
        sleep(Duration::from_secs(61)).await;
        let s = status(&queue).await;
        assert_eq!(s.workers_alive, 1, "{s:?}");
    }
    assert_eq!(status(&queue).await.completed, 10);
    service.shutdown(Duration::from_secs(1)).await;
}
