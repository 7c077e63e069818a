//! What a client manages besides submitting, in virtual time: priorities,
//! scheduled jobs, deleting jobs, listing them page by page, and the limit
//! on dead letters; and that a restart on the journal keeps all of it.

use std::path::PathBuf;
use std::time::Duration;

use pollen::time::{now, sleep, sleep_until};
use pollen_jobs::{
    DeleteError, Event, JobId, JobQuery, JobSpec, Priority, Queue, QueueConfig, Service, StateView,
};

fn config(workers: usize) -> QueueConfig {
    QueueConfig {
        workers,
        queue_capacity: 100,
        retry_base: Duration::from_secs(1),
        ..QueueConfig::default()
    }
}

fn spec(json: &str) -> JobSpec {
    JobSpec::parse(json.as_bytes()).unwrap()
}

async fn state(queue: &Queue, id: JobId) -> StateView {
    queue.job(id).await.unwrap().expect("a known job").state
}

/// Lets the actor, the dispatcher and the workers catch up without moving
/// the clock past anything that matters.
async fn settle() {
    sleep(Duration::from_micros(1)).await;
}

#[pollen::test(start_paused = true)]
async fn pending_jobs_run_high_first_then_normal_then_low() {
    let service = Service::start(&config(1)).unwrap();
    let queue = service.queue();
    let mut events = queue.events();
    // The one worker is busy while the others queue up.
    let busy = queue
        .submit(spec(r#"{"type":"sleep","payload":{"ms":100}}"#))
        .await
        .unwrap();
    settle().await;
    let mut ids = Vec::new();
    for priority in ["low", "normal", "high", "low", "high", "normal"] {
        let job = format!(r#"{{"type":"sleep","payload":{{"ms":1}},"priority":"{priority}"}}"#);
        ids.push(queue.submit(spec(&job)).await.unwrap());
    }
    let view = queue.job(ids[2]).await.unwrap().unwrap();
    assert_eq!(view.priority, Priority::High);
    sleep(Duration::from_secs(1)).await;
    let mut started = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Event::JobStarted { id, .. } = event {
            started.push(id);
        }
    }
    // Strict order of priority; within one, the order of submission.
    let order = [2, 4, 1, 5, 0, 3].map(|i| ids[i]);
    assert_eq!(started, [&[busy][..], &order[..]].concat());
    service.shutdown(Duration::from_secs(1)).await;
}

#[pollen::test(start_paused = true)]
async fn a_scheduled_job_waits_for_its_time_and_counts_against_the_capacity() {
    let service = Service::start(&QueueConfig {
        queue_capacity: 2,
        ..config(1)
    })
    .unwrap();
    let queue = service.queue();
    let start = now();
    let later = queue
        .submit(spec(
            r#"{"type":"sleep","payload":{"ms":0},"delay_ms":5000}"#,
        ))
        .await
        .unwrap();
    // A time in the past runs at once.
    let past = queue
        .submit(spec(
            r#"{"type":"sleep","payload":{"ms":0},"run_at":"2020-01-01T00:00:00Z"}"#,
        ))
        .await
        .unwrap();
    settle().await;
    assert_eq!(state(&queue, past).await.name(), "completed");
    match state(&queue, later).await {
        StateView::Scheduled { run_in_ms, run_at } => {
            assert!((4990..=5000).contains(&run_in_ms), "{run_in_ms}");
            assert!(run_at.ends_with('Z'), "{run_at}");
        }
        other => panic!("scheduled, got {other:?}"),
    }
    let status = queue.status().await.unwrap();
    assert_eq!((status.scheduled, status.queue_depth), (1, 1));
    // One more fits; a third is refused: scheduled jobs take room.
    queue
        .submit(spec(
            r#"{"type":"sleep","payload":{"ms":0},"delay_ms":60000}"#,
        ))
        .await
        .unwrap();
    assert!(
        queue
            .submit(spec(r#"{"type":"sleep","payload":{"ms":0}}"#))
            .await
            .is_err()
    );
    sleep_until(start + Duration::from_millis(4980)).await;
    assert_eq!(state(&queue, later).await.name(), "scheduled");
    sleep_until(start + Duration::from_millis(5020)).await;
    assert_eq!(state(&queue, later).await.name(), "completed");
    service.shutdown(Duration::from_secs(1)).await;
}

#[pollen::test(start_paused = true)]
async fn a_deleted_job_never_runs_and_a_running_one_cannot_be_deleted() {
    let service = Service::start(&config(1)).unwrap();
    let queue = service.queue();
    let mut events = queue.events();
    let sleeping = r#"{"type":"sleep","payload":{"ms":1000}}"#;
    let running = queue.submit(spec(sleeping)).await.unwrap();
    let pending = queue.submit(spec(sleeping)).await.unwrap();
    let scheduled = queue
        .submit(spec(
            r#"{"type":"sleep","payload":{"ms":0},"delay_ms":2000}"#,
        ))
        .await
        .unwrap();
    settle().await;
    assert_eq!(queue.delete(running).await, Err(DeleteError::Running));
    let deleted = queue.delete(pending).await.unwrap();
    assert_eq!(deleted.state, StateView::Pending);
    assert_eq!(queue.delete(pending).await, Err(DeleteError::NotFound));
    assert_eq!(
        queue.delete(scheduled).await.unwrap().state.name(),
        "scheduled"
    );
    assert_eq!(queue.delete(JobId(99)).await, Err(DeleteError::NotFound));
    let status = queue.status().await.unwrap();
    assert_eq!(
        (status.scheduled, status.pending, status.running),
        (0, 0, 1)
    );
    sleep(Duration::from_secs(5)).await;
    // Neither deleted job ever started; the running one completed, and
    // a completed job can be deleted.
    let mut started = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Event::JobStarted { id, .. } = event {
            started.push(id);
        }
    }
    assert_eq!(started, [running]);
    assert!(queue.job(pending).await.unwrap().is_none());
    assert_eq!(
        queue.delete(running).await.unwrap().state.name(),
        "completed"
    );
    let status = queue.status().await.unwrap();
    assert_eq!((status.completed, status.queue_depth), (0, 0));
    service.shutdown(Duration::from_secs(1)).await;
}

#[pollen::test(start_paused = true)]
async fn jobs_are_listed_by_id_page_by_page_and_by_status() {
    let service = Service::start(&config(1)).unwrap();
    let queue = service.queue();
    let mut ids = Vec::new();
    for ms in [0, 0, 0, 60_000, 60_000] {
        let job = format!(r#"{{"type":"sleep","payload":{{"ms":{ms}}}}}"#);
        ids.push(queue.submit(spec(&job)).await.unwrap());
    }
    // Jobs 1-3 completed, 4 running, 5 pending.
    settle().await;
    let page = |status, after, limit| JobQuery {
        status,
        after,
        limit,
    };
    let first = queue.list(page(None, None, 2)).await.unwrap();
    let listed: Vec<&str> = first.jobs.iter().map(|job| job.id.as_str()).collect();
    assert_eq!(listed, ["1", "2"]);
    assert_eq!(first.next_after.as_deref(), Some("2"));
    let rest = queue.list(page(None, Some(JobId(2)), 10)).await.unwrap();
    let listed: Vec<&str> = rest.jobs.iter().map(|job| job.id.as_str()).collect();
    assert_eq!(listed, ["3", "4", "5"]);
    assert_eq!(rest.next_after, None);
    let completed = queue
        .list(page(Some("completed"), Some(JobId(1)), 10))
        .await
        .unwrap();
    let listed: Vec<&str> = completed.jobs.iter().map(|job| job.id.as_str()).collect();
    assert_eq!(listed, ["2", "3"]);
    let running = queue.list(page(Some("running"), None, 10)).await.unwrap();
    assert_eq!(running.jobs.len(), 1);
    assert_eq!(running.jobs[0].id, ids[3].to_string());
    // A page that ends with the last match says there is no next one.
    let pending = queue.list(page(Some("pending"), None, 1)).await.unwrap();
    assert_eq!(pending.jobs.len(), 1);
    assert_eq!(pending.next_after, None);
    service.shutdown(Duration::from_secs(1)).await;
}

#[pollen::test(start_paused = true)]
async fn past_max_dead_the_oldest_dead_job_is_deleted() {
    let service = Service::start(&QueueConfig {
        max_dead: 2,
        ..config(1)
    })
    .unwrap();
    let queue = service.queue();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let doomed = r#"{"type":"fail","payload":{"times":9},"max_retries":0}"#;
        ids.push(queue.submit(spec(doomed)).await.unwrap());
        settle().await;
    }
    let dead: Vec<String> = queue
        .dead()
        .await
        .unwrap()
        .into_iter()
        .map(|job| job.id)
        .collect();
    assert_eq!(dead, [ids[1].to_string(), ids[2].to_string()]);
    assert!(queue.job(ids[0]).await.unwrap().is_none());
    let status = queue.status().await.unwrap();
    assert_eq!(status.dead, 2);
    service.shutdown(Duration::from_secs(1)).await;
}

fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pollen-jobs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[pollen::test(start_paused = true)]
async fn a_restart_keeps_schedules_priorities_and_deletions() {
    let dir = data_dir("manage-restart");
    let config = QueueConfig {
        data_dir: Some(dir.clone()),
        max_dead: 1,
        ..config(1)
    };
    let (scheduled, urgent, deleted) = {
        let service = Service::start(&config).unwrap();
        let queue = service.queue();
        // The worker is held by a long job, so the others stay pending.
        queue
            .submit(spec(r#"{"type":"sleep","payload":{"ms":600000}}"#))
            .await
            .unwrap();
        settle().await;
        let scheduled = queue
            .submit(spec(
                r#"{"type":"sleep","payload":{"ms":0},"delay_ms":3600000}"#,
            ))
            .await
            .unwrap();
        let urgent = queue
            .submit(spec(
                r#"{"type":"sleep","payload":{"ms":0},"priority":"high"}"#,
            ))
            .await
            .unwrap();
        let deleted = queue
            .submit(spec(r#"{"type":"sleep","payload":{"ms":0}}"#))
            .await
            .unwrap();
        queue.delete(deleted).await.unwrap();
        queue.flush().await.unwrap();
        // Stopped at once: the long job is abandoned, and runs again.
        service.shutdown(Duration::ZERO).await;
        (scheduled, urgent, deleted)
    };
    let service = Service::start(&config).unwrap();
    let queue = service.queue();
    assert!(queue.job(deleted).await.unwrap().is_none());
    match state(&queue, scheduled).await {
        StateView::Scheduled { run_in_ms, .. } => {
            // An hour, less what the restart took on the wall clock.
            assert!((3_500_000..=3_600_000).contains(&run_in_ms), "{run_in_ms}");
        }
        other => panic!("still scheduled, got {other:?}"),
    }
    let view = queue.job(urgent).await.unwrap().unwrap();
    assert_eq!(view.priority, Priority::High);
    // High priority: it runs before the abandoned normal job.
    settle().await;
    assert_eq!(state(&queue, urgent).await.name(), "completed");
    service.shutdown(Duration::ZERO).await;
    let _ = std::fs::remove_dir_all(&dir);
}
