//! The terminal dashboard (`--dashboard`): every second, workers alive,
//! the queue's counts, throughput, and the last failure with how long ago.
//!
//! It is a subscriber of the event bus (for the last failure) that also
//! asks the state actor for the counts. On a terminal it redraws in place;
//! otherwise it writes a block per second.

use std::io::Write as _;
use std::time::Duration;

use pollen::channel::broadcast;
use pollen::sync::CancellationToken;
use pollen::time::Instant;

use crate::events::Event;
use crate::queue::{Queue, Status};

/// Lines in one frame.
const LINES: usize = 4;

/// A failure worth showing, and when it happened.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Failure {
    what: String,
    at: Instant,
}

impl Failure {
    /// The failure an event tells of, if it is one.
    fn from_event(event: &Event, at: Instant) -> Option<Failure> {
        let what = match event {
            Event::JobFailed { id, error, .. } => format!("job {id}: {error} (will retry)"),
            Event::JobDead { id, error } => format!("job {id}: {error} (dead)"),
            Event::WorkerCrashed { worker, error } => format!("worker {worker}: {error}"),
            _ => return None,
        };
        Some(Failure { what, at })
    }
}

/// One frame of the dashboard.
pub(crate) fn render(status: &Status, last_failure: Option<&Failure>, now: Instant) -> String {
    let failure = match last_failure {
        None => "none".to_owned(),
        Some(failure) => {
            let ago = now.saturating_duration_since(failure.at).as_secs();
            format!("{} ({ago}s ago)", failure.what)
        }
    };
    format!(
        "Workers:      {}/{} alive\n\
         Queue:        {} scheduled, {} pending, {} running, {} completed, {} failed, {} dead\n\
         Throughput:   {:.1} jobs/s\n\
         Last failure: {failure}\n",
        status.workers_alive,
        status.workers,
        status.scheduled,
        status.pending,
        status.running,
        status.completed,
        status.failed,
        status.dead,
        status.throughput_per_s,
    )
}

/// Draws the dashboard on stderr every second until `stop`, and once more
/// then.
pub(crate) async fn run(queue: Queue, stop: CancellationToken, in_place: bool) {
    let mut events = queue.events();
    let mut last_failure = None;
    let mut tick = pollen::time::interval(Duration::from_secs(1));
    let mut drawn = false;
    loop {
        let last = pollen::select! {
            () = stop.cancelled() => true,
            event = events.recv() => {
                match event {
                    Ok(event) => {
                        if let Some(failure) = Failure::from_event(&event, pollen::time::now()) {
                            last_failure = Some(failure);
                        }
                    }
                    Err(broadcast::RecvError::Lagged(_)) => {}
                    Err(broadcast::RecvError::Closed) => return,
                }
                continue;
            },
            _ = tick.tick() => false,
        };
        let Ok(status) = queue.status().await else {
            return;
        };
        let frame = render(&status, last_failure.as_ref(), pollen::time::now());
        let mut out = std::io::stderr().lock();
        if in_place && drawn {
            // Up to the frame's first line, and clear to the end.
            let _ = write!(out, "\x1b[{LINES}A\x1b[J");
        }
        let _ = out.write_all(frame.as_bytes());
        if !in_place {
            let _ = out.write_all(b"\n");
        }
        drawn = true;
        if last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_shows_the_counts_and_the_last_failure() {
        let status = Status {
            scheduled: 2,
            pending: 5,
            running: 3,
            completed: 42,
            failed: 1,
            dead: 0,
            workers: 4,
            workers_alive: 4,
            throughput_per_s: 14.0,
            queue_depth: 6,
            queue_capacity: 1000,
        };
        let start = Instant::from_millis(100_000);
        let failure = Failure::from_event(
            &Event::JobFailed {
                id: crate::JobId(7),
                error: "timeout".into(),
                retry_in: Duration::from_secs(1),
            },
            start,
        );
        let frame = render(&status, failure.as_ref(), start + Duration::from_secs(2));
        assert_eq!(
            frame,
            "Workers:      4/4 alive\n\
             Queue:        2 scheduled, 5 pending, 3 running, 42 completed, 1 failed, 0 dead\n\
             Throughput:   14.0 jobs/s\n\
             Last failure: job 7: timeout (will retry) (2s ago)\n"
        );
        assert_eq!(frame.lines().count(), LINES);
        assert!(render(&status, None, start).ends_with("Last failure: none\n"));
        assert_eq!(
            Failure::from_event(
                &Event::JobRetried {
                    id: crate::JobId(1)
                },
                start
            ),
            None
        );
    }
}
