//! The journal's promises, with the writer failing or held back: a job
//! runs only once its submission is synced, is refused once the journal
//! is broken, and is seen completed only once its `Done` entry is written.

use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use pollen::channel::mpsc;
use pollen::sync::CancellationToken;

use crate::error::SubmitError;
use crate::events::Event;
use crate::job::{JobId, JobSpec};
use crate::journal::{self, Entry, JOURNAL_FILE, Recovery, Write, Written};
use crate::queue::Queue;
use crate::service::{QueueConfig, Service};
use crate::state::{self, JournalLink};
use crate::workers;

const PATIENCE: Duration = Duration::from_secs(30);

fn sleep_ms(ms: u64) -> JobSpec {
    let body = format!(r#"{{"type":"sleep","payload":{{"ms":{ms}}}}}"#);
    JobSpec::parse(body.as_bytes()).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pollen-jobs-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn runtime() -> pollen::runtime::Runtime {
    pollen::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The actor and one worker, with `link` as the journal.
fn start(link: JournalLink) -> (Queue, CancellationToken) {
    let alive = Arc::new(AtomicUsize::new(0));
    let recovery = Recovery {
        next_id: 1,
        ..Recovery::default()
    };
    let config = QueueConfig {
        workers: 1,
        queue_capacity: 10,
        keep_finished: 100,
        ..QueueConfig::default()
    };
    let (queue, _actor) = state::spawn(&config, alive.clone(), Some((recovery, link)));
    let stop = CancellationToken::new();
    let _ = workers::spawn(&queue, 1, &alive, &stop);
    (queue, stop)
}

#[test]
fn a_submission_the_journal_refused_never_runs_and_later_ones_are_refused_up_front() {
    let dir = temp_dir("broken");
    let path = dir.join(JOURNAL_FILE);
    fs::write(&path, b"").unwrap();
    runtime().block_on(async {
        // Opened read-only: every write fails (even as root, which file
        // permissions would not stop).
        let file = File::open(&path).unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let (written_tx, written) = mpsc::unbounded_channel();
        pollen::spawn(journal::writer(rx, written_tx, file, path.clone()));
        let (queue, stop) = start(JournalLink { tx, written });

        let refused = queue.submit(sleep_ms(0)).await;
        assert!(
            matches!(refused, Err(SubmitError::Journal { .. })),
            "{refused:?}"
        );
        // Long enough for a queued job to run.
        pollen::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(queue.job(JobId(1)).await.unwrap(), None);
        let metrics = queue.metrics().await.unwrap();
        assert_eq!(metrics.submitted, 0);
        assert_eq!(metrics.completed, 0, "a refused job ran");
        let status = queue.status().await.unwrap();
        assert_eq!((status.pending, status.running), (0, 0));

        // The journal is broken: refused, and never run either.
        let later = queue.submit(sleep_ms(0)).await;
        assert!(
            matches!(later, Err(SubmitError::Journal { .. })),
            "{later:?}"
        );
        pollen::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(queue.metrics().await.unwrap().completed, 0);
        stop.cancel();
    });
    assert!(fs::read(&path).unwrap().is_empty());
    let _ = fs::remove_dir_all(&dir);
}

/// The next write the actor sends, skipping plain entries.
async fn next_confirmed(rx: &mut mpsc::UnboundedReceiver<Write>) -> (JobId, Entry) {
    loop {
        match rx.recv().await.expect("the actor is running") {
            Write::Submit { entry, id } | Write::Ending { entry, id } => return (id, entry),
            Write::Entry(_) | Write::Compact(_) => {}
            Write::Flush(reply) => {
                let _ = reply.send(());
            }
        }
    }
}

#[test]
fn a_job_waits_for_the_writer_to_run_and_to_show_completed() {
    runtime().block_on(async {
        // The test is the writer, confirming when it chooses.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (written_tx, written) = mpsc::unbounded_channel();
        let (queue, stop) = start(JournalLink { tx, written });

        let submitter = pollen::spawn({
            let queue = queue.clone();
            async move { queue.submit(sleep_ms(0)).await }
        });
        let (id, entry) = next_confirmed(&mut rx).await;
        assert!(matches!(entry, Entry::Submit { .. }), "{entry:?}");
        pollen::time::sleep(Duration::from_millis(200)).await;
        assert!(!submitter.is_finished(), "answered before it was synced");
        assert_eq!(queue.job(id).await.unwrap(), None);
        let status = queue.status().await.unwrap();
        assert_eq!((status.pending, status.running), (0, 0));

        written_tx.send(Written { id, result: Ok(()) }).unwrap();
        assert_eq!(submitter.await.unwrap(), Ok(id));

        let (ended, entry) = next_confirmed(&mut rx).await;
        assert_eq!(ended, id);
        assert!(matches!(entry, Entry::Done { .. }), "{entry:?}");
        pollen::time::sleep(Duration::from_millis(200)).await;
        let job = queue.job(id).await.unwrap().unwrap();
        assert_eq!(
            job.state.name(),
            "running",
            "completed before it was written"
        );
        assert_eq!(queue.status().await.unwrap().completed, 0);
        assert_eq!(queue.metrics().await.unwrap().completed, 0);

        written_tx.send(Written { id, result: Ok(()) }).unwrap();
        let job = queue.job(id).await.unwrap().unwrap();
        assert_eq!(job.state.name(), "completed");
        assert_eq!(queue.status().await.unwrap().completed, 1);
        stop.cancel();
    });
}

#[test]
fn every_job_seen_completed_is_done_in_the_journal_file() {
    let dir = temp_dir("done-written");
    let path = dir.join(JOURNAL_FILE);
    runtime().block_on(async {
        let config = QueueConfig {
            workers: 4,
            data_dir: Some(dir.clone()),
            ..QueueConfig::default()
        };
        let service = Service::start(&config).unwrap();
        let queue = service.queue();
        let mut events = queue.events();
        // Submitters keep the writer busy syncing while jobs complete.
        let submitters: Vec<_> = (0..20)
            .map(|_| {
                let queue = queue.clone();
                pollen::spawn(async move {
                    for _ in 0..10 {
                        queue.submit(sleep_ms(0)).await.unwrap();
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + PATIENCE;
        let mut completed = 0;
        while completed < 200 {
            assert!(Instant::now() < deadline, "not all completed");
            let Ok(event) = events.recv().await else {
                continue;
            };
            if let Event::JobCompleted { id, .. } = event {
                let journal = fs::read_to_string(&path).unwrap();
                let done = format!(r#"{{"op":"done","id":{},"#, id.0);
                assert!(
                    journal.contains(&done),
                    "{id} completed, not in the journal"
                );
                completed += 1;
            }
        }
        for submitter in submitters {
            submitter.await.unwrap();
        }
        service.shutdown(Duration::from_secs(5)).await;
    });
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn once_a_write_failed_submissions_are_refused_without_reaching_the_writer() {
    runtime().block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (written_tx, written) = mpsc::unbounded_channel();
        let (queue, stop) = start(JournalLink { tx, written });

        let submitter = pollen::spawn({
            let queue = queue.clone();
            async move { queue.submit(sleep_ms(0)).await }
        });
        let (id, _) = next_confirmed(&mut rx).await;
        let result = Err("no space left on device".to_owned());
        written_tx.send(Written { id, result }).unwrap();
        let refused = submitter.await.unwrap();
        assert_eq!(
            refused,
            Err(SubmitError::Journal {
                error: "no space left on device".into()
            })
        );
        assert_eq!(queue.job(id).await.unwrap(), None);

        // Not handed to the writer, which would never answer.
        let later = pollen::time::timeout(Duration::from_secs(5), queue.submit(sleep_ms(0)))
            .await
            .expect("refused up front");
        assert_eq!(later, refused);
        while let Ok(write) = rx.try_recv() {
            assert!(
                !matches!(write, Write::Submit { .. }),
                "a submission reached a broken journal"
            );
        }
        stop.cancel();
    });
}
