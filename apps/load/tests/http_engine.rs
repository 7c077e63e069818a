//! The HTTP engine against the test server over in-memory pipes, in
//! virtual time: counts, latencies and durations come out exact.

mod common;

use std::time::Duration;

use common::{Body, DuplexConnector, Refused, Reply, Unanswered, behavior};
use pollen_load::http::{self, HttpConfig};
use pollen_load::{Control, ErrorKind, Report};

fn config(requests: Option<u64>, concurrency: usize) -> HttpConfig {
    HttpConfig {
        requests,
        concurrency,
        timeout: Duration::from_secs(2),
        ..HttpConfig::new("http://test.invalid/status".parse().unwrap())
    }
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Equal to the histogram's 3 significant digits.
fn close(got: Duration, want: Duration) -> bool {
    let (got, want) = (got.as_secs_f64(), want.as_secs_f64());
    (got - want).abs() <= want / 1000.0
}

fn assert_counts_add_up(report: &Report) {
    let tally = &report.tally;
    let statuses: u64 = tally.status_codes.values().sum();
    let errors: u64 = tally.errors.values().sum();
    assert_eq!(statuses + errors, tally.total(), "{report}");
    assert_eq!(tally.succeeded + tally.failed, tally.total(), "{report}");
    assert_eq!(tally.latency_us.len(), statuses, "{report}");
}

#[pollen::test(start_paused = true)]
async fn counts_add_up_and_every_status_is_counted() {
    let (connector, seen) = DuplexConnector::new(behavior(|id| match id % 4 {
        0 => Reply::status(503),
        1 => Reply::status(404),
        _ => Reply::ok().after(ms(id % 7)),
    }));
    let report = http::run(config(Some(1000), 8), connector, &Control::new())
        .await
        .unwrap();
    assert_counts_add_up(&report);
    assert_eq!(report.tally.total(), 1000);
    assert_eq!(report.tally.status_codes[&200], 500);
    assert_eq!(report.tally.status_codes[&404], 250);
    assert_eq!(report.tally.status_codes[&503], 250);
    assert_eq!((report.tally.succeeded, report.tally.failed), (500, 500));
    assert!(report.tally.errors.is_empty());
    assert!(!report.interrupted);
    // Each request had its own id, from its task-local, and keep-alive
    // kept the connections to the concurrency.
    let mut ids = seen.ids();
    ids.sort_unstable();
    assert_eq!(ids, (1..=1000).collect::<Vec<u64>>());
    assert!(
        seen.connections() <= 8,
        "{} connections",
        seen.connections()
    );
}

#[pollen::test(start_paused = true)]
async fn percentiles_are_the_known_latencies() {
    // One at a time, request i takes i ms: 1 ms to 100 ms.
    let (connector, _) = DuplexConnector::new(behavior(|id| Reply::ok().after(ms(id))));
    let report = http::run(config(Some(100), 1), connector, &Control::new())
        .await
        .unwrap();
    let latency = report.latency().unwrap();
    for (got, want) in [
        (latency.min, ms(1)),
        (latency.p50, ms(50)),
        (latency.p90, ms(90)),
        (latency.p99, ms(99)),
        (latency.max, ms(100)),
    ] {
        assert!(close(got, want), "{got:?} is not {want:?}\n{report}");
    }
    // 1 + 2 + ... + 100 ms, one after the other.
    assert_eq!(report.elapsed, ms(5050));
    assert!((report.throughput() - 100.0 / 5.05).abs() < 1e-9);
}

#[pollen::test(start_paused = true)]
async fn duration_stops_the_load_on_time() {
    let (connector, _) = DuplexConnector::new(behavior(|_| Reply::ok().after(ms(10))));
    let config = HttpConfig {
        duration: Some(Duration::from_secs(1)),
        ..config(None, 4)
    };
    let report = http::run(config, connector, &Control::new()).await.unwrap();
    // 4 connections, 10 ms a request, 1 s: 100 rounds of 4, and a round
    // that starts at the deadline's instant is the only uncertainty.
    let total = report.tally.total();
    assert!((400..=404).contains(&total), "{total}");
    assert_eq!(report.tally.succeeded, total);
    assert!(
        report.elapsed >= Duration::from_secs(1) && report.elapsed <= ms(1010),
        "{:?}",
        report.elapsed
    );
}

#[pollen::test(start_paused = true)]
async fn with_a_rate_latency_counts_from_when_a_request_was_due() {
    // Request 1 stalls for a second; every other answer is immediate.
    let server = || {
        DuplexConnector::new(behavior(|id| {
            Reply::ok().after(ms(if id == 1 { 1000 } else { 0 }))
        }))
    };
    let open = HttpConfig {
        rate: Some(100.0),
        ..config(Some(200), 1)
    };
    let report = http::run(open, server().0, &Control::new()).await.unwrap();
    assert_eq!(report.tally.succeeded, 200);
    // Late, but every request was sent: the rate was kept.
    assert_eq!(report.not_sent, 0);
    let achieved = report.achieved_rate.unwrap();
    assert!((achieved - 100.0).abs() < 0.1, "{report}");
    let latency = report.latency().unwrap();
    // Requests 2 to 100 were due every 10 ms during the stall and waited
    // for it: 990 ms down to 10 ms. The 180th of 200 waited 800 ms.
    assert!(close(latency.max, ms(1000)), "{report}");
    assert!(close(latency.p90, ms(800)), "{report}");
    assert!(close(latency.p99, ms(980)), "{report}");
    // 200 requests at 100/s: the last is due at 1.99 s, and starts up to
    // a millisecond early.
    assert!(
        report.elapsed >= ms(1989) && report.elapsed <= ms(1990),
        "{:?}",
        report.elapsed
    );

    // The same server, closed loop: only the stalled request is slow, and
    // the tail hides it.
    let closed = config(Some(200), 1);
    let report = http::run(closed, server().0, &Control::new())
        .await
        .unwrap();
    let latency = report.latency().unwrap();
    assert!(close(latency.max, ms(1000)), "{report}");
    assert!(latency.p99 < ms(1), "{report}");
}

#[pollen::test(start_paused = true)]
async fn a_server_that_closes_mid_response_yields_counted_errors() {
    let (connector, seen) = DuplexConnector::new(behavior(|id| Reply {
        cut: id % 3 == 0,
        ..Reply::ok()
    }));
    let report = http::run(config(Some(300), 4), connector, &Control::new())
        .await
        .unwrap();
    assert_counts_add_up(&report);
    assert_eq!(report.tally.total(), 300);
    assert_eq!(report.tally.errors[&ErrorKind::Closed], 100);
    assert_eq!(report.tally.status_codes[&200], 200);
    // Each cut connection was replaced.
    assert!(seen.connections() >= 100);
}

#[pollen::test(start_paused = true)]
async fn chunked_bodies_and_connection_close_are_followed() {
    let (connector, seen) = DuplexConnector::new(behavior(|id| Reply {
        body: Body::Chunked(vec![b"hello ".to_vec(), vec![b'x'; 20_000], b"!".to_vec()]),
        close: id % 2 == 0,
        ..Reply::ok()
    }));
    let report = http::run(config(Some(100), 2), connector, &Control::new())
        .await
        .unwrap();
    assert_eq!(report.tally.succeeded, 100, "{report}");
    // 50 responses closed their connection; the other 50 reused one.
    assert!(
        seen.connections() >= 50 && seen.connections() <= 52,
        "{}",
        seen.connections()
    );
    assert!(report.tally.bytes_received > 100 * 20_000);
}

#[pollen::test(start_paused = true)]
async fn a_connection_the_server_dropped_while_idle_is_retried_not_counted() {
    let (connector, seen) = DuplexConnector::new(behavior(|_| Reply {
        hang_up: true,
        ..Reply::ok()
    }));
    let report = http::run(config(Some(50), 1), connector, &Control::new())
        .await
        .unwrap();
    assert_eq!(report.tally.succeeded, 50, "{report}");
    assert_eq!(seen.connections(), 50);
}

#[pollen::test(start_paused = true)]
async fn slow_answers_time_out_and_the_load_goes_on() {
    let (connector, _) = DuplexConnector::new(behavior(|id| {
        Reply::ok().after(if id % 10 == 0 {
            Duration::from_secs(60)
        } else {
            ms(1)
        })
    }));
    let report = http::run(config(Some(100), 5), connector, &Control::new())
        .await
        .unwrap();
    assert_counts_add_up(&report);
    assert_eq!(report.tally.errors[&ErrorKind::Timeout], 10);
    assert_eq!(report.tally.succeeded, 90);
    // Timeouts have no latency: the slowest answer took 1 ms.
    assert_eq!(report.latency().unwrap().max, ms(1));
}

#[pollen::test(start_paused = true)]
async fn a_stop_lets_requests_in_flight_finish_and_marks_the_report() {
    let (connector, _) = DuplexConnector::new(behavior(|_| Reply::ok().after(ms(100))));
    let control = Control::new();
    let stopper = pollen::spawn({
        let control = control.clone();
        async move {
            pollen::time::sleep(ms(250)).await;
            control.interrupt();
        }
    });
    let report = http::run(config(None, 3), connector, &control)
        .await
        .unwrap();
    stopper.await.unwrap();
    assert!(report.interrupted);
    // Rounds of 3 at 0, 100 and 200 ms; the third round was in flight at
    // the stop and finished at 300 ms.
    assert_eq!(report.tally.succeeded, 9, "{report}");
    assert_eq!(report.tally.failed, 0);
    assert_eq!(report.elapsed, ms(300));
    assert!(report.to_string().contains("Interrupted: partial results"));
}

#[pollen::test(start_paused = true)]
async fn an_unreachable_server_is_a_setup_error() {
    let error = http::run(config(Some(10), 2), Refused, &Control::new())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot connect to nowhere: connection refused"
    );
}

#[pollen::test(start_paused = true)]
async fn dropping_the_load_stops_starting_requests() {
    let (connector, seen) = DuplexConnector::new(behavior(|_| Reply::ok().after(ms(10))));
    let control = Control::new();
    let load = http::run(config(None, 2), connector, &control);
    assert!(pollen::time::timeout(ms(100), load).await.is_err());
    let at_drop = seen.ids().len();
    assert!(at_drop >= 10, "{at_drop}");
    pollen::time::sleep(Duration::from_secs(1)).await;
    // The two requests in flight at the drop may have finished; none
    // started after it.
    assert!(
        seen.ids().len() <= at_drop + 2,
        "{} after {at_drop}",
        seen.ids().len()
    );
}

#[pollen::test(start_paused = true)]
async fn a_warm_up_is_neither_recorded_nor_cancelled() {
    let (connector, seen) = DuplexConnector::new(behavior(|_| Reply::ok().after(ms(10))));
    let control = Control::warming_up();
    let steer = pollen::spawn({
        let control = control.clone();
        async move {
            while !control.is_running() {
                pollen::time::sleep(ms(1)).await;
            }
            pollen::time::sleep(ms(100)).await;
            control.start_recording();
            pollen::time::sleep(ms(100)).await;
            control.stop();
        }
    });
    let report = http::run(config(None, 2), connector, &control)
        .await
        .unwrap();
    steer.await.unwrap();
    assert_counts_add_up(&report);
    // About 20 requests warmed up (2 at a time, 10 ms each), then about
    // 20 were recorded; none failed.
    assert!(seen.ids().len() >= 40, "{}", seen.ids().len());
    assert_eq!(report.tally.failed, 0, "{report}");
    assert!(report.tally.errors.is_empty(), "{report}");
    let total = report.tally.total();
    assert!((20..=22).contains(&total), "{report}");
}

#[pollen::test(start_paused = true)]
async fn a_stale_connection_is_retried_on_a_fresh_one_not_another_pooled_one() {
    // Every connection is closed after its first response, unannounced:
    // the pool fills with dead connections.
    let (connector, seen) = DuplexConnector::new(behavior(|id| Reply {
        hang_up: true,
        ..Reply::ok().after(ms(id % 3))
    }));
    let report = http::run(config(Some(40), 4), connector, &Control::new())
        .await
        .unwrap();
    assert_counts_add_up(&report);
    assert_eq!(report.tally.succeeded, 40, "{report}");
    assert_eq!(seen.connections(), 40);
}

/// The second request on each connection finds it closed without a byte
/// of answer; sent again (the same id), it is answered.
fn drops_each_connection_s_second_request() -> DuplexConnector {
    let dropped = std::sync::Mutex::new(std::collections::HashSet::new());
    let (connector, _) = DuplexConnector::new(behavior(move |id| Reply {
        drop_request: id % 2 == 0 && dropped.lock().unwrap().insert(id),
        ..Reply::ok()
    }));
    connector
}

#[pollen::test(start_paused = true)]
async fn only_idempotent_requests_are_retried_and_retries_are_counted() {
    // One at a time: odd requests open a connection, even ones reuse it.
    let get = config(Some(10), 1);
    let report = http::run(
        get,
        drops_each_connection_s_second_request(),
        &Control::new(),
    )
    .await
    .unwrap();
    assert_eq!(report.tally.succeeded, 10, "{report}");
    assert_eq!(report.tally.retried, 5, "{report}");
    assert!(report.to_string().contains("\n  Retried: 5\n"), "{report}");
    assert_eq!(report.to_json()["retried"], 5);

    // A POST may have been acted on: not sent twice, counted as failed.
    let post = HttpConfig {
        method: "POST".to_owned(),
        body: Some(b"{}".to_vec()),
        ..config(Some(10), 1)
    };
    let connector = drops_each_connection_s_second_request();
    let seen = connector.seen.clone();
    let report = http::run(post, connector, &Control::new()).await.unwrap();
    assert_counts_add_up(&report);
    assert_eq!(report.tally.errors[&ErrorKind::Closed], 5, "{report}");
    assert_eq!(report.tally.retried, 0, "{report}");
    assert_eq!(seen.ids().len(), 10);
}

#[pollen::test(start_paused = true)]
async fn a_request_that_times_out_counts_the_bytes_it_wrote() {
    let (connector, _) =
        DuplexConnector::new(behavior(|_| Reply::ok().after(Duration::from_secs(60))));
    let report = http::run(config(Some(3), 1), connector, &Control::new())
        .await
        .unwrap();
    assert_eq!(report.tally.errors[&ErrorKind::Timeout], 3, "{report}");
    // Each request (about 100 bytes) was written whole.
    assert!(report.tally.bytes_sent >= 3 * 80, "{report:?}");
    assert_eq!(report.tally.bytes_received, 0);
}

#[pollen::test(start_paused = true)]
async fn an_open_loop_that_misses_its_rate_says_so() {
    // One connection, 20 ms a request: 50 req/s at most, asked for 100.
    let (connector, _) = DuplexConnector::new(behavior(|_| Reply::ok().after(ms(20))));
    let config = HttpConfig {
        rate: Some(100.0),
        duration: Some(Duration::from_secs(1)),
        ..config(None, 1)
    };
    let report = http::run(config, connector, &Control::new()).await.unwrap();
    let total = report.tally.total();
    assert!((50..=51).contains(&total), "{report}");
    // 100 were due within the second; those not started are reported.
    assert_eq!(report.not_sent, 100 - total, "{report}");
    let achieved = report.achieved_rate.unwrap();
    assert!((49.0..=51.0).contains(&achieved), "{report}");
    let text = report.to_string();
    assert!(
        text.contains(&format!("\n  Not sent (rate missed): {}\n", 100 - total)),
        "{text}"
    );
    assert!(text.contains("(target 100 req/s)"), "{text}");
    let json = report.to_json();
    assert_eq!(json["not_sent"], 100 - total);
    assert_eq!(json["achieved_rate"], achieved);
}

#[pollen::test(start_paused = true)]
async fn a_stop_while_connecting_ends_the_setup_at_once() {
    let control = Control::new();
    pollen::spawn({
        let control = control.clone();
        async move {
            pollen::time::sleep(ms(100)).await;
            control.interrupt();
        }
    });
    let config = HttpConfig {
        timeout: Duration::from_secs(60),
        ..config(Some(10), 2)
    };
    let start = pollen::time::now();
    let error = http::run(config, Unanswered, &control).await.unwrap_err();
    assert!(error.is_interrupted(), "{error}");
    assert_eq!(pollen::time::now() - start, ms(100));
    assert_eq!(
        error.to_string(),
        "cannot connect to the silent host: interrupted"
    );
}

#[pollen::test(start_paused = true)]
async fn what_a_server_says_on_an_idle_connection_is_not_the_next_response() {
    // 10 requests a second on one connection; 5 ms after each response
    // the server times the idle connection out with an unasked 408.
    let (connector, seen) = DuplexConnector::new(behavior(|_| Reply {
        idle_408_after: Some(ms(5)),
        ..Reply::ok()
    }));
    let config = HttpConfig {
        rate: Some(10.0),
        ..config(Some(5), 1)
    };
    let report = http::run(config, connector, &Control::new()).await.unwrap();
    assert_eq!(report.tally.status_codes.get(&408), None, "{report}");
    assert_eq!(report.tally.succeeded, 5, "{report}");
    // Not a retry: the request was never sent on the stale connection.
    assert_eq!(report.tally.retried, 0, "{report}");
    assert_eq!(seen.connections(), 5);
}
