//! The journal on a long run: it is compacted as it grows, completed jobs
//! past `keep_finished` are forgotten (in memory and in the journal), and
//! a restart keeps both, with ids that never repeat.

use std::path::Path;
use std::time::{Duration, Instant};

use pollen_jobs::{JOURNAL_FILE, JobId, JobSpec, QueueConfig, Service};

const PATIENCE: Duration = Duration::from_secs(30);

fn config(dir: &Path) -> QueueConfig {
    QueueConfig {
        workers: 4,
        queue_capacity: 10_000,
        keep_finished: 10,
        data_dir: Some(dir.to_path_buf()),
        ..QueueConfig::default()
    }
}

fn sleep_0() -> JobSpec {
    JobSpec::parse(br#"{"type":"sleep","payload":{"ms":0}}"#).unwrap()
}

#[test]
fn the_journal_is_compacted_as_it_grows_and_forgotten_jobs_stay_forgotten() {
    let dir = std::env::temp_dir().join(format!("pollen-jobs-compaction-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = pollen::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    runtime.block_on(async {
        let service = Service::start(&config(&dir)).unwrap();
        let queue = service.queue();
        // 1500 jobs from 50 submitters: three entries each (submitted,
        // started, done), 4500 in all, past the 4096 that start a
        // compaction.
        let submitters: Vec<_> = (0..50)
            .map(|_| {
                let queue = queue.clone();
                pollen::spawn(async move {
                    for _ in 0..30 {
                        queue.submit(sleep_0()).await.unwrap();
                    }
                })
            })
            .collect();
        for submitter in submitters {
            submitter.await.unwrap();
        }
        let deadline = Instant::now() + PATIENCE;
        while queue.metrics().await.unwrap().completed < 1500 {
            assert!(Instant::now() < deadline, "not all done");
            pollen::time::sleep(Duration::from_millis(10)).await;
        }
        queue.flush().await.unwrap();
        let status = queue.status().await.unwrap();
        assert_eq!(status.completed, 10, "only the last ten are remembered");
        assert!(queue.job(JobId(1)).await.unwrap().is_none());
        service.shutdown(Duration::from_secs(5)).await;
    });

    let journal = std::fs::read_to_string(dir.join(JOURNAL_FILE)).unwrap();
    // 4500 entries were written; a compaction (past 4096) leaves the
    // remembered jobs and what came after it. How many jobs the snapshot
    // still holds depends on how far the writer lagged behind the actor
    // (a job is forgotten only once its end is confirmed written), so the
    // bound is the one that tells compacted from not.
    let lines = journal.lines().count();
    assert!(lines < 4096, "{lines} entries: never compacted");
    assert!(
        journal.starts_with(r#"{"op":"next_id","id":"#),
        "{journal:.200}"
    );

    runtime.block_on(async {
        let service = Service::start(&config(&dir)).unwrap();
        let queue = service.queue();
        let status = queue.status().await.unwrap();
        assert_eq!(status.completed, 10);
        assert_eq!(status.pending, 0);
        assert!(queue.job(JobId(1)).await.unwrap().is_none());
        // Some of the last ten are still there.
        let mut remembered = 0;
        for id in 1491..=1500 {
            if let Some(job) = queue.job(JobId(id)).await.unwrap() {
                assert_eq!(job.state.name(), "completed");
                assert_eq!(job.attempts, 1);
                remembered += 1;
            }
        }
        assert!(remembered > 0);
        assert_eq!(queue.submit(sleep_0()).await.unwrap(), JobId(1501));
        service.shutdown(Duration::from_secs(5)).await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_data_dir_serves_one_service_at_a_time() {
    let dir = std::env::temp_dir().join(format!("pollen-jobs-lock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = pollen::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let first = Service::start(&config(&dir)).unwrap();
        let second = Service::start(&config(&dir));
        let error = second.expect_err("a second service on the same dir");
        assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock);
        assert!(error.to_string().contains("another pollen-jobs"), "{error}");
        assert!(dir.join(pollen_jobs::LOCK_FILE).is_file());
        // Once the first is gone, the dir is free again.
        first.shutdown(Duration::from_secs(5)).await;
        let again = Service::start(&config(&dir)).unwrap();
        again.shutdown(Duration::from_secs(5)).await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}
