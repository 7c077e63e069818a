//! A restart on a journal written before it: failed jobs wait out the
//! rest of their backoff, by the wall clock, instead of running at once.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pollen::time::sleep;
use pollen_jobs::{JOURNAL_FILE, JobId, QueueConfig, Service, StateView};

fn data_dir(name: &str, journal: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pollen-jobs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(JOURNAL_FILE), journal).unwrap();
    dir
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .try_into()
        .unwrap()
}

#[pollen::test(start_paused = true)]
async fn a_failed_job_waits_out_the_rest_of_its_backoff_after_a_restart() {
    let retry_at = unix_ms() + 60_000;
    // A retry ten hours off (the clock went back, say) waits at most the
    // longest backoff, an hour.
    let far = retry_at + 10 * 3_600_000;
    let journal = format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
        r#"{"op":"submit","id":1,"type":"sleep","payload":{"ms":1},"max_retries":3}"#,
        r#"{"op":"start","id":1,"attempt":1}"#,
        format_args!(
            r#"{{"op":"fail","id":1,"error":"boom","retries_used":1,"retry_at":{retry_at}}}"#
        ),
        // Failed before retry times were written: due at once.
        r#"{"op":"submit","id":2,"type":"sleep","payload":{"ms":1},"max_retries":3}"#,
        r#"{"op":"fail","id":2,"error":"boom","retries_used":1}"#,
        r#"{"op":"submit","id":3,"type":"sleep","payload":{"ms":1},"max_retries":3}"#,
        format_args!(r#"{{"op":"fail","id":3,"error":"boom","retries_used":1,"retry_at":{far}}}"#),
    );
    let dir = data_dir("replay-retry-at", &journal);
    let config = QueueConfig {
        workers: 1,
        data_dir: Some(dir.clone()),
        ..QueueConfig::default()
    };
    let service = Service::start(&config).unwrap();
    let queue = service.queue();
    let job = queue.job(JobId(1)).await.unwrap().unwrap();
    match job.state {
        StateView::Failed {
            retries_left,
            retry_in_ms,
            ..
        } => {
            assert_eq!(retries_left, 2);
            assert!((50_000..=60_000).contains(&retry_in_ms), "{retry_in_ms}");
        }
        other => panic!("not waiting for its retry: {other:?}"),
    }
    match queue.job(JobId(3)).await.unwrap().unwrap().state {
        StateView::Failed { retry_in_ms, .. } => assert_eq!(retry_in_ms, 3_600_000),
        other => panic!("not waiting for its retry: {other:?}"),
    }
    sleep(Duration::from_secs(1)).await;
    let name = |id| {
        let queue = queue.clone();
        async move { queue.job(JobId(id)).await.unwrap().unwrap().state.name() }
    };
    assert_eq!(name(2).await, "completed");
    assert_eq!(name(1).await, "failed");
    sleep(Duration::from_secs(45)).await;
    assert_eq!(name(1).await, "failed");
    sleep(Duration::from_secs(15)).await;
    assert_eq!(name(1).await, "completed");
    service.shutdown(Duration::from_secs(1)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
