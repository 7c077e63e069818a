//! The journal: every accepted job and every change to it, appended to
//! `journal.log` in the data directory, one JSON object per line.
//!
//! # Durability
//!
//! The state actor hands each entry to a writer task, in the order of the
//! changes. The writer takes whatever entries are waiting, writes them in
//! one go on the blocking pool, and `fsync`s when the batch holds a new
//! job (group commit: one `fsync` for every submission waiting). Other
//! changes are written but not synced on their own: a crash of the
//! process loses none of them (they are in the kernel's page cache); a
//! power cut may lose the last ones, and then those jobs run again, which
//! is what an at-least-once queue promises anyway.
//!
//! A new job ([`Write::Submit`]) and a job's end ([`Write::Ending`]: done
//! or dead) are confirmed back to the actor with a [`Written`] once the
//! batch holding them is written (and, for a new job, synced). Until then
//! the actor keeps a new job out of the queue, with no `201` for its
//! submitter, and shows an ended job as still running: a job runs only
//! once its submission is on disk, and nobody sees it completed before a
//! crash of the process can no longer make it run again. Once a write
//! fails the writer writes nothing more and every confirmation after it
//! carries the error.
//!
//! # Replay
//!
//! On start the journal is read back: jobs that were pending or running
//! are queued again, completed and dead ones stay as they were. A job
//! waiting for a retry waits out the rest of its backoff: `Fail` entries
//! carry the retry's wall-clock time (older ones without it retry at
//! once). An attempt that was running (its `Start` is the job's last
//! entry) was interrupted by the restart: it counts as made and as a
//! failure, using one of the job's retries, and a job with none left is
//! dead, with an error saying so. So a job that takes the process down
//! with it does not run again and again at every start. A line that is not
//! a whole entry (a write torn by a crash, so usually the last one) is
//! skipped with a warning, never a refusal to start.
//!
//! # Compaction
//!
//! The journal is rewritten with just the current state of every job
//! remembered (a snapshot: each job's submission, its attempts, its
//! retries, where it ended; and the next id, so that ids never repeat)
//! at each start, and while running whenever it holds more than 4096
//! entries and eight per job. The snapshot goes to a temporary file,
//! synced, renamed over the journal, and the directory is synced: a crash
//! at any point leaves the old journal or the new one, whole. Completed
//! jobs past `keep_finished` are forgotten, so a long run's journal stays
//! in proportion to the jobs remembered.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use pollen::channel::{mpsc, oneshot};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::job::{JobId, Priority};

/// The journal's file name in the data directory.
pub const JOURNAL_FILE: &str = "journal.log";
/// Entries written in one batch, at most.
const BATCH: usize = 1024;

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Entry {
    /// A job was accepted; scheduled ones are due at `run_at`
    /// (wall-clock, milliseconds since the Unix epoch) if no later entry
    /// says otherwise.
    Submit {
        id: u64,
        #[serde(rename = "type")]
        kind: String,
        payload: Value,
        max_retries: u32,
        #[serde(default, skip_serializing_if = "Priority::is_normal")]
        priority: Priority,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_at: Option<u64>,
    },
    /// Attempt `attempt` started.
    Start { id: u64, attempt: u32 },
    /// It completed.
    Done {
        id: u64,
        result: Value,
        duration_ms: f64,
    },
    /// An attempt failed; a retry is due (`retries_used` so far), at
    /// `retry_at` (wall-clock, milliseconds since the Unix epoch; entries
    /// written before it was recorded have none, and retry at once).
    Fail {
        id: u64,
        error: String,
        retries_used: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<u64>,
    },
    /// Out of retries.
    Dead { id: u64, error: String },
    /// Queued again from the dead letters.
    Retry { id: u64 },
    /// Deleted (by a client, or the oldest dead letter past the limit):
    /// forgotten.
    Delete { id: u64 },
    /// Ids from here on are at least `id` (a compacted journal may no
    /// longer hold the last job given an id).
    NextId { id: u64 },
}

/// A job's state as the journal tells it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Replayed {
    pub(crate) id: JobId,
    pub(crate) kind: String,
    pub(crate) payload: Value,
    pub(crate) max_retries: u32,
    pub(crate) priority: Priority,
    pub(crate) attempts: u32,
    pub(crate) retries_used: u32,
    /// An attempt started and had not ended when the journal did.
    pub(crate) running: bool,
    /// When the retry after the last failed attempt is due, if it is
    /// waiting for one (wall-clock, milliseconds since the Unix epoch).
    pub(crate) retry_at: Option<u64>,
    /// When a scheduled job is due, if it is still waiting for its time
    /// (wall-clock, milliseconds since the Unix epoch).
    pub(crate) run_at: Option<u64>,
    pub(crate) end: End,
}

/// Where a replayed job ended up.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum End {
    /// Still to run (it was pending, running, or waiting for a retry).
    Run {
        last_error: Option<String>,
    },
    Completed {
        result: Value,
        duration_ms: f64,
    },
    Dead {
        error: String,
    },
}

/// What reading the journal found.
#[derive(Debug, Default)]
pub(crate) struct Recovery {
    /// Every job, by id.
    pub(crate) jobs: BTreeMap<JobId, Replayed>,
    /// Why lines were skipped.
    pub(crate) warnings: Vec<String>,
    /// The lowest id the next job may get.
    pub(crate) next_id: u64,
}

/// Reads the entries in `text`, skipping (and reporting) lines that are
/// not whole entries or name unknown jobs.
pub(crate) fn replay(text: &[u8]) -> Recovery {
    let mut recovery = Recovery {
        next_id: 1,
        ..Recovery::default()
    };
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let last = lines.len() - 1;
    for (number, line) in lines.into_iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        let entry = match serde_json::from_slice::<Entry>(line) {
            Ok(entry) if number < last => entry,
            // The last line has no newline: its write was cut short.
            Ok(_) | Err(_) => {
                let place = if number == last {
                    "the last line (a write cut short by a crash)".to_owned()
                } else {
                    format!("line {}", number + 1)
                };
                recovery
                    .warnings
                    .push(format!("skipped {place}: not a whole journal entry"));
                continue;
            }
        };
        if let Err(why) = apply(&mut recovery, entry) {
            recovery
                .warnings
                .push(format!("skipped line {}: {why}", number + 1));
        }
    }
    for job in recovery.jobs.values_mut() {
        interrupted(job);
    }
    recovery
}

/// Counts the attempt `job` was running when the journal ended, if any,
/// as failed: interrupted by the restart.
fn interrupted(job: &mut Replayed) {
    if !std::mem::take(&mut job.running) || !matches!(job.end, End::Run { .. }) {
        return;
    }
    let attempt = job.attempts;
    if job.retries_used < job.max_retries {
        job.retries_used += 1;
        job.end = End::Run {
            last_error: Some(format!("attempt {attempt} was interrupted by a restart")),
        };
    } else {
        job.end = End::Dead {
            error: format!("attempt {attempt} was interrupted by a restart, with no retries left"),
        };
    }
}

fn apply(recovery: &mut Recovery, entry: Entry) -> Result<(), String> {
    let jobs = &mut recovery.jobs;
    if let Entry::NextId { id } = entry {
        recovery.next_id = recovery.next_id.max(id);
        return Ok(());
    }
    if let Entry::Submit {
        id,
        kind,
        payload,
        max_retries,
        priority,
        run_at,
    } = entry
    {
        recovery.next_id = recovery.next_id.max(id + 1);
        jobs.insert(
            JobId(id),
            Replayed {
                id: JobId(id),
                kind,
                payload,
                max_retries,
                priority,
                attempts: 0,
                retries_used: 0,
                running: false,
                retry_at: None,
                run_at,
                end: End::Run { last_error: None },
            },
        );
        return Ok(());
    }
    if let Entry::Delete { id } = entry {
        return jobs
            .remove(&JobId(id))
            .map(drop)
            .ok_or_else(|| format!("job {id} was never submitted"));
    }
    let id = match &entry {
        Entry::Start { id, .. }
        | Entry::Done { id, .. }
        | Entry::Fail { id, .. }
        | Entry::Dead { id, .. }
        | Entry::Retry { id } => JobId(*id),
        Entry::Submit { .. } | Entry::NextId { .. } | Entry::Delete { .. } => {
            unreachable!("handled above")
        }
    };
    let job = jobs
        .get_mut(&id)
        .ok_or_else(|| format!("job {id} was never submitted"))?;
    job.running = matches!(entry, Entry::Start { .. });
    job.retry_at = None;
    job.run_at = None;
    match entry {
        Entry::Start { attempt, .. } => job.attempts = job.attempts.max(attempt),
        Entry::Done {
            result,
            duration_ms,
            ..
        } => {
            job.end = End::Completed {
                result,
                duration_ms,
            };
        }
        Entry::Fail {
            error,
            retries_used,
            retry_at,
            ..
        } => {
            job.retries_used = retries_used;
            job.retry_at = retry_at;
            job.end = End::Run {
                last_error: Some(error),
            };
        }
        Entry::Dead { error, .. } => job.end = End::Dead { error },
        Entry::Retry { .. } => {
            job.retries_used = 0;
            job.end = End::Run { last_error: None };
        }
        Entry::Submit { .. } | Entry::NextId { .. } | Entry::Delete { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(())
}

/// The entries that say where every job is now: what compaction writes.
pub(crate) fn snapshot(jobs: &BTreeMap<JobId, Replayed>, next_id: u64) -> Vec<Entry> {
    let mut entries = vec![Entry::NextId { id: next_id }];
    for job in jobs.values() {
        let id = job.id.0;
        entries.push(Entry::Submit {
            id,
            kind: job.kind.clone(),
            payload: job.payload.clone(),
            max_retries: job.max_retries,
            priority: job.priority,
            run_at: job.run_at,
        });
        let start = Entry::Start {
            id,
            attempt: job.attempts,
        };
        let last_error = match &job.end {
            End::Run { last_error } => last_error.clone(),
            _ => None,
        };
        let fail = (job.retries_used > 0 || last_error.is_some()).then(|| Entry::Fail {
            id,
            error: last_error.unwrap_or_default(),
            retries_used: job.retries_used,
            retry_at: job.retry_at,
        });
        if job.running {
            // The `Start` last: the attempt is still running.
            entries.extend(fail);
            entries.push(start);
        } else if job.attempts > 0 {
            entries.push(start);
            // The attempt ended: with a failure, or (retried by hand, so
            // with a clean slate) queued again.
            match fail {
                Some(fail) => entries.push(fail),
                None if matches!(job.end, End::Run { .. }) => entries.push(Entry::Retry { id }),
                None => {}
            }
        } else {
            entries.extend(fail);
        }
        match &job.end {
            End::Run { .. } => {}
            End::Completed {
                result,
                duration_ms,
            } => entries.push(Entry::Done {
                id,
                result: result.clone(),
                duration_ms: *duration_ms,
            }),
            End::Dead { error } => entries.push(Entry::Dead {
                id,
                error: error.clone(),
            }),
        }
    }
    entries
}

fn encode(entries: &[Entry], out: &mut Vec<u8>) {
    for entry in entries {
        serde_json::to_writer(&mut *out, entry).expect("entries serialize");
        out.push(b'\n');
    }
}

/// The lock file in a data dir.
pub const LOCK_FILE: &str = "LOCK";

/// Takes the data dir's lock (an advisory `flock` on its `LOCK` file,
/// created if needed), so that two services never replay and append to one
/// journal. The lock is held while the returned file is open; the kernel
/// lets go of it when the process dies, however it dies.
///
/// # Errors
///
/// Another process holds the lock ([`io::ErrorKind::WouldBlock`]), or the
/// directory or the file cannot be created.
pub(crate) fn lock(dir: &Path) -> io::Result<File> {
    fs::create_dir_all(dir)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))?;
    // Named in full: newer std has lock methods of its own on `File`.
    if fs4::fs_std::FileExt::try_lock_exclusive(&file)? {
        Ok(file)
    } else {
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "another pollen-jobs is using it (its LOCK file is locked)",
        ))
    }
}

/// Opens the journal in `dir` (creating both if needed), reads it back,
/// and compacts it. Blocking: call it before the runtime serves.
///
/// # Errors
///
/// The directory or the file cannot be created, read or written.
pub(crate) fn open(dir: &Path) -> io::Result<(Recovery, File)> {
    fs::create_dir_all(dir)?;
    let path = dir.join(JOURNAL_FILE);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let recovery = replay(&text);
    let mut bytes = Vec::new();
    encode(&snapshot(&recovery.jobs, recovery.next_id), &mut bytes);
    let file = replace(&path, &bytes)?;
    Ok((recovery, file))
}

/// Replaces the journal at `path` with `bytes`, durably: a temporary file
/// written and synced, renamed over the journal, the directory synced.
/// A crash on the way leaves the old journal or the new one, whole.
/// Returns the new journal, open for appending.
fn replace(path: &Path, bytes: &[u8]) -> io::Result<File> {
    let compacted = temporary(path);
    {
        let mut file = File::create(&compacted)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&compacted, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    OpenOptions::new().append(true).open(path)
}

fn temporary(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".compacting");
    PathBuf::from(name)
}

/// What the actor gives the writer.
#[derive(Debug)]
pub(crate) enum Write {
    /// Write this entry.
    Entry(Entry),
    /// Write this submission and sync, then confirm with a [`Written`].
    Submit { entry: Entry, id: JobId },
    /// Write this end of a job (done or dead), then confirm with a
    /// [`Written`]. Not synced: written, it survives a crash of the
    /// process.
    Ending { entry: Entry, id: JobId },
    /// Sync everything written so far, then answer.
    Flush(oneshot::Sender<'static, ()>),
    /// Replace the journal with these entries (a snapshot of every job),
    /// then go on appending to it.
    Compact(Vec<Entry>),
}

/// What the writer tells the actor of a [`Write::Submit`] or a
/// [`Write::Ending`]: written, or why not.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) id: JobId,
    pub(crate) result: Result<(), String>,
}

/// The writer task: batches, writes and syncs on the blocking pool, and
/// confirms submissions and ends to the actor through `written`.
pub(crate) async fn writer(
    mut rx: mpsc::UnboundedReceiver<Write>,
    written: mpsc::UnboundedSender<Written>,
    file: File,
    path: PathBuf,
) {
    let mut file = Some(file);
    let mut batch = Vec::with_capacity(BATCH);
    let mut broken: Option<String> = None;
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // What a compaction in the batch replaces the journal with: the
        // writes before it are in its snapshot.
        let mut bytes = Vec::new();
        let mut compact = false;
        let mut sync = false;
        for write in &batch {
            match write {
                Write::Entry(entry) | Write::Ending { entry, .. } => {
                    encode(std::slice::from_ref(entry), &mut bytes);
                }
                Write::Submit { entry, .. } => {
                    encode(std::slice::from_ref(entry), &mut bytes);
                    sync = true;
                }
                Write::Flush(_) => sync = true,
                Write::Compact(entries) => {
                    bytes.clear();
                    encode(entries, &mut bytes);
                    compact = true;
                }
            }
        }
        if broken.is_none() {
            let mut taken = file.take().expect("the file is back after each batch");
            let path = path.clone();
            let (back, result) = pollen::spawn_blocking(move || {
                if compact {
                    match replace(&path, &bytes) {
                        Ok(new) => (new, Ok(())),
                        Err(e) => (taken, Err(e)),
                    }
                } else {
                    let result = taken
                        .write_all(&bytes)
                        .and_then(|()| if sync { taken.sync_data() } else { Ok(()) });
                    (taken, result)
                }
            })
            .await
            .expect("the journal write does not panic");
            file = Some(back);
            if let Err(e) = result {
                eprintln!("pollen-jobs: cannot write the journal: {e}; no more jobs are accepted");
                broken = Some(e.to_string());
            }
        }
        for write in batch.drain(..) {
            match write {
                Write::Entry(_) | Write::Compact(_) => {}
                Write::Submit { id, .. } | Write::Ending { id, .. } => {
                    let result = match &broken {
                        None => Ok(()),
                        Some(error) => Err(error.clone()),
                    };
                    // The actor is gone (shutdown): nobody to tell.
                    let _ = written.send(Written { id, result });
                }
                Write::Flush(reply) => {
                    let _ = reply.send(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(entries: &[Entry]) -> Vec<u8> {
        let mut bytes = Vec::new();
        encode(entries, &mut bytes);
        bytes
    }

    fn submit(id: u64) -> Entry {
        Entry::Submit {
            id,
            kind: "sleep".into(),
            payload: json!({ "ms": 1 }),
            max_retries: 3,
            priority: Priority::Normal,
            run_at: None,
        }
    }

    #[test]
    fn replay_ends_each_job_where_its_last_entry_left_it() {
        let text = lines(&[
            submit(1),
            submit(2),
            submit(3),
            submit(4),
            Entry::Start { id: 1, attempt: 1 },
            Entry::Done {
                id: 1,
                result: json!({ "slept_ms": 1 }),
                duration_ms: 1.5,
            },
            Entry::Start { id: 2, attempt: 1 },
            Entry::Fail {
                id: 2,
                error: "boom".into(),
                retries_used: 1,
                retry_at: None,
            },
            Entry::Start { id: 2, attempt: 2 },
            Entry::Dead {
                id: 2,
                error: "boom again".into(),
            },
            Entry::Start { id: 3, attempt: 1 },
        ]);
        let recovery = replay(&text);
        assert!(recovery.warnings.is_empty(), "{:?}", recovery.warnings);
        let job = |id| &recovery.jobs[&JobId(id)];
        assert!(matches!(job(1).end, End::Completed { .. }));
        assert_eq!(job(1).attempts, 1);
        assert_eq!(
            job(2).end,
            End::Dead {
                error: "boom again".into()
            }
        );
        assert_eq!((job(2).attempts, job(2).retries_used), (2, 1));
        // Running when the journal ended: it runs again, the interrupted
        // attempt counted against its retries.
        assert_eq!(
            job(3).end,
            End::Run {
                last_error: Some("attempt 1 was interrupted by a restart".into())
            }
        );
        assert_eq!((job(3).attempts, job(3).retries_used), (1, 1));
        assert_eq!(job(4).end, End::Run { last_error: None });
        // The snapshot replays to the same jobs, and keeps the next id.
        let again = replay(&lines(&snapshot(&recovery.jobs, 9)));
        assert_eq!(again.jobs, recovery.jobs);
        assert_eq!(again.next_id, 9);
        assert_eq!(recovery.next_id, 5);
    }

    #[test]
    fn a_job_interrupted_at_every_start_uses_up_its_retries_then_is_dead() {
        // The job takes the process down in each attempt: each restart
        // replays the journal (compacted to a snapshot), and the job's
        // next attempt is appended.
        let mut text = lines(&[submit(1)]);
        for attempt in 1..=3 {
            text.extend_from_slice(&lines(&[Entry::Start { id: 1, attempt }]));
            let recovery = replay(&text);
            let job = &recovery.jobs[&JobId(1)];
            assert_eq!(job.retries_used, attempt, "after attempt {attempt}");
            assert!(
                matches!(&job.end, End::Run { last_error: Some(e) } if e.contains("interrupted")),
                "{:?}",
                job.end
            );
            text = lines(&snapshot(&recovery.jobs, recovery.next_id));
            // Replaying the snapshot counts nothing twice.
            assert_eq!(replay(&text).jobs, recovery.jobs);
        }
        // Out of retries (3): the fourth interruption is the last.
        text.extend_from_slice(&lines(&[Entry::Start { id: 1, attempt: 4 }]));
        let recovery = replay(&text);
        let job = &recovery.jobs[&JobId(1)];
        assert_eq!((job.attempts, job.retries_used), (4, 3));
        assert_eq!(
            job.end,
            End::Dead {
                error: "attempt 4 was interrupted by a restart, with no retries left".into()
            }
        );
        let again = replay(&lines(&snapshot(&recovery.jobs, recovery.next_id)));
        assert_eq!(again.jobs, recovery.jobs);
    }

    #[test]
    fn a_snapshot_keeps_a_running_attempt_running_and_an_ended_one_ended() {
        let mut jobs = BTreeMap::new();
        let job = |id, attempts, retries_used, running, last_error: Option<&str>| Replayed {
            id: JobId(id),
            kind: "sleep".into(),
            payload: json!({ "ms": 1 }),
            max_retries: 3,
            priority: Priority::Normal,
            attempts,
            retries_used,
            running,
            retry_at: None,
            run_at: None,
            end: End::Run {
                last_error: last_error.map(str::to_owned),
            },
        };
        // Running after a failed attempt; retried by hand after attempts.
        jobs.insert(JobId(1), job(1, 2, 1, true, Some("boom")));
        jobs.insert(JobId(2), job(2, 4, 0, false, None));
        let recovery = replay(&lines(&snapshot(&jobs, 3)));
        let one = &recovery.jobs[&JobId(1)];
        assert_eq!((one.attempts, one.retries_used), (2, 2));
        assert_eq!(recovery.jobs[&JobId(2)], jobs[&JobId(2)]);
    }

    #[test]
    fn a_fail_entry_keeps_its_retry_time_and_old_ones_without_it_are_read() {
        let fail = Entry::Fail {
            id: 1,
            error: "boom".into(),
            retries_used: 1,
            retry_at: Some(1_700_000_000_000),
        };
        let recovery = replay(&lines(&[
            submit(1),
            Entry::Start { id: 1, attempt: 1 },
            fail,
        ]));
        assert_eq!(recovery.jobs[&JobId(1)].retry_at, Some(1_700_000_000_000));
        let again = replay(&lines(&snapshot(&recovery.jobs, recovery.next_id)));
        assert_eq!(again.jobs, recovery.jobs);

        // Written before the retry time was: due at once.
        let mut text = lines(&[submit(1)]);
        text.extend_from_slice(
            b"{\"op\":\"fail\",\"id\":1,\"error\":\"boom\",\"retries_used\":1}\n",
        );
        let recovery = replay(&text);
        assert!(recovery.warnings.is_empty(), "{:?}", recovery.warnings);
        let job = &recovery.jobs[&JobId(1)];
        assert_eq!((job.retries_used, job.retry_at), (1, None));

        // A later attempt ends the wait.
        text.extend_from_slice(&lines(&[Entry::Start { id: 1, attempt: 2 }]));
        assert_eq!(replay(&text).jobs[&JobId(1)].retry_at, None);
    }

    #[test]
    fn torn_and_corrupt_lines_are_skipped_with_a_warning() {
        let mut text = lines(&[submit(1), submit(2)]);
        text.extend_from_slice(b"{\"op\":\"submit\",\"id\":3,\"ty");
        let recovery = replay(&text);
        assert_eq!(recovery.jobs.len(), 2);
        assert_eq!(recovery.warnings.len(), 1);
        assert!(recovery.warnings[0].contains("the last line"));

        // A whole entry without its newline was not finished either.
        let mut text = lines(&[submit(1)]);
        text.extend_from_slice(&lines(&[submit(2)])[..]);
        text.pop();
        let recovery = replay(&text);
        assert_eq!(recovery.jobs.len(), 1);

        let mut text = lines(&[submit(1)]);
        text.extend_from_slice(b"\0\0\0\0\n");
        text.extend_from_slice(&lines(&[Entry::Retry { id: 9 }, submit(2)]));
        let recovery = replay(&text);
        assert_eq!(recovery.jobs.len(), 2);
        assert_eq!(recovery.warnings.len(), 2, "{:?}", recovery.warnings);
        assert!(recovery.warnings[1].contains("job 9 was never submitted"));
    }
}
