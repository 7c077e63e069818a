//! The HTTP API over real sockets: each test starts the service on a free
//! port (on a 2-worker runtime of its own) and talks to it with plain
//! blocking sockets, reading responses with `httparse`.
//!
//! Jobs here are short, and tests wait for states by polling with a
//! generous deadline, never by timing.

mod support;

use std::io::Read;
use std::net::Shutdown;
use std::thread;
use std::time::{Duration, Instant};

use pollen_jobs::{Config, MAX_BODY};
use serde_json::json;

use self::support::{PATIENCE, Server, config, padded_job, target_server};

#[test]
fn a_submitted_sleep_job_completes_and_status_counts_it() {
    let server = Server::start(config(2, 10));
    let response = server.request(
        "POST",
        "/jobs",
        Some(r#"{"type":"sleep","payload":{"ms":50},"max_retries":2}"#),
    );
    assert_eq!(response.status, 201);
    let id = response.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(response.header("location"), Some(&*format!("/jobs/{id}")));
    let done = server.wait_for(&id, "completed");
    assert_eq!(done["id"], id);
    assert_eq!(done["type"], "sleep");
    assert_eq!(done["payload"], json!({ "ms": 50 }));
    assert_eq!(done["max_retries"], 2);
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["result"], json!({ "slept_ms": 50 }));
    assert!(done["duration_ms"].as_f64().unwrap() >= 50.0, "{done}");

    let status = server.get("/status");
    for field in [
        "pending",
        "running",
        "completed",
        "failed",
        "dead",
        "workers",
        "workers_alive",
        "throughput_per_s",
        "queue_depth",
    ] {
        assert!(status.get(field).is_some(), "no {field} in {status}");
    }
    assert_eq!(status["completed"], 1);
    assert_eq!(status["workers"], 2);
    assert_eq!(status["workers_alive"], 2);
    assert_eq!(status["queue_depth"], 0);
}

#[test]
fn cpu_jobs_run_on_the_blocking_pool_and_report_a_checksum() {
    let server = Server::start(config(2, 10));
    let id = server.submit(json!({ "type": "cpu", "payload": { "iterations": 100_000 } }));
    let done = server.wait_for(&id, "completed");
    assert_eq!(done["result"]["iterations"], 100_000);
    assert!(done["result"]["checksum"].is_u64(), "{done}");
}

#[test]
fn bad_submissions_get_400_saying_what_is_wrong() {
    let server = Server::start(config(1, 10));
    let cases = [
        (r#"{"type": "sleep", "payload": "#, "malformed JSON"),
        ("not json at all", "malformed JSON"),
        (
            r#"{"type":"resize","payload":{}}"#,
            "unknown job type \"resize\"",
        ),
        (r#"{"payload":{"ms":1}}"#, "missing field `type`"),
        (r#"{"type":"sleep","payload":{}}"#, "missing field `ms`"),
        (r#"{"type":"sleep"}"#, "missing field `ms`"),
        (
            r#"{"type":"cpu","payload":{"iterations":-5}}"#,
            "iterations",
        ),
        (
            r#"{"type":"sleep","payload":{"ms":1},"colour":"red"}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"type":"sleep","payload":{"ms":1},"max_retries":1000}"#,
            "max_retries",
        ),
        ("[1, 2]", "invalid job"),
    ];
    let mut client = server.client();
    for (body, want) in cases {
        // On one keep-alive connection: a 400 does not close it.
        let response = client.request("POST", "/jobs", Some(body));
        assert_eq!(response.status, 400, "{body}: {response:?}");
        let error = response.error();
        assert!(error.contains(want), "{body}: {error:?} lacks {want:?}");
    }
    assert_eq!(server.get("/status")["pending"], 0);
}

#[test]
fn unknown_paths_and_ids_are_404_and_wrong_methods_405() {
    let server = Server::start(config(1, 10));
    let mut client = server.client();
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/nope"),
        ("GET", "/jobs/1/more"),
        ("POST", "/dead/1"),
    ] {
        let response = client.request(method, path, None);
        assert_eq!(response.status, 404, "{method} {path}: {response:?}");
        assert!(response.error().contains("no such path"));
    }
    for path in ["/jobs/1", "/jobs/abc", "/jobs/", "/jobs/+1"] {
        let response = client.request("GET", path, None);
        assert_eq!(response.status, 404, "{path}: {response:?}");
        assert!(response.error().contains("no job has id"), "{response:?}");
    }
    let response = client.request("POST", "/dead/7/retry", None);
    assert_eq!(response.status, 404);
    for (method, path, allow) in [
        ("PUT", "/jobs", "GET, POST"),
        ("POST", "/jobs/1", "GET, DELETE"),
        ("POST", "/status", "GET"),
        ("PUT", "/dead", "GET"),
        ("GET", "/dead/1/retry", "POST"),
    ] {
        let response = client.request(method, path, None);
        assert_eq!(response.status, 405, "{method} {path}: {response:?}");
        assert_eq!(response.header("allow"), Some(allow));
    }
    // A query string does not change the route.
    assert_eq!(client.request("GET", "/status?pretty=1", None).status, 200);
}

#[test]
fn a_body_over_the_limit_is_refused_by_its_length_before_it_is_read() {
    let server = Server::start(config(1, 10));
    let mut client = server.client();
    // Only the head: the server must answer without waiting for the body.
    client.send_raw(
        format!(
            "POST /jobs HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
            2 << 20
        )
        .as_bytes(),
    );
    let response = client.response();
    assert_eq!(response.status, 413);
    assert!(response.error().contains("the most accepted is 1048576"));
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.closed());
    // One byte over the limit is refused...
    let mut client = server.client();
    client.send_raw(
        format!(
            "POST /jobs HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        )
        .as_bytes(),
    );
    let response = client.response();
    assert_eq!(response.status, 413);
    assert!(client.closed());
    // ...and a body of exactly the limit is read whole and accepted.
    let mut client = server.client();
    let job = r#"{"type":"sleep","payload":{"ms":1}}"#;
    let body = format!("{job}{}", " ".repeat(MAX_BODY - job.len()));
    assert_eq!(body.len(), MAX_BODY);
    let response = client.request("POST", "/jobs", Some(&body));
    assert_eq!(response.status, 201, "{response:?}");
    server.wait_for(response.json()["id"].as_str().unwrap(), "completed");
}

/// The body size of the budget tests; their budget is twice it.
const BODY: usize = 64 * 1024;

#[test]
fn bodies_wait_for_the_body_budget_and_give_it_back() {
    let server = Server::start(Config {
        max_body_memory: 2 * BODY,
        ..config(1, 10)
    });
    let body = padded_job(BODY);
    let (first_half, second_half) = body.as_bytes().split_at(BODY / 2);
    // A body larger than the whole budget could never be read: 413.
    let mut client = server.client();
    client.post_head(2 * BODY + 1, false);
    let response = client.response();
    assert_eq!(response.status, 413);
    assert!(response.error().contains("the most accepted is 131072"));
    // Two bodies take the whole budget: each is told to go on, and sends
    // half of itself.
    let mut a = server.client();
    let mut b = server.client();
    for client in [&mut a, &mut b] {
        client.post_head(BODY, true);
        client.continued();
        client.send_raw(first_half);
    }
    // A third finds it spent: it is not told to go on.
    let mut c = server.client();
    c.post_head(BODY, true);
    c.send_raw(first_half);
    assert!(c.silent_for(Duration::from_millis(300)));
    // A request without a body needs none of it.
    assert_eq!(server.get("/status")["workers_alive"], 1);
    // Once one of the first two is answered, its bytes go to the third.
    a.send_raw(second_half);
    assert_eq!(a.response().status, 201);
    c.continued();
    c.send_raw(second_half);
    assert_eq!(c.response().status, 201);
    b.send_raw(second_half);
    assert_eq!(b.response().status, 201);
    // Nothing leaked: a body needing the whole budget gets it.
    let whole = padded_job(2 * BODY);
    let mut d = server.client();
    d.post_head(whole.len(), true);
    d.continued();
    d.send_raw(whole.as_bytes());
    assert_eq!(d.response().status, 201);
    // And the connections that read bodies serve more requests.
    assert_eq!(a.request("GET", "/status", None).status, 200);
}

#[test]
fn a_body_still_waiting_for_the_budget_at_its_request_timeout_gets_503() {
    let server = Server::start(Config {
        max_body_memory: 2 * BODY,
        request_timeout: Duration::from_millis(800),
        ..config(1, 10)
    });
    let body = padded_job(BODY);
    // The waiting request must start before the two that take the budget,
    // so that its timeout comes first. Its first line rides behind a
    // request that is answered: once the answer is back, the server is
    // reading it. If this machine is too loaded to set everything up
    // within the timeout, the waiting request gets a 408 instead: again.
    let mut attempts = 0;
    let (response, mut c) = loop {
        attempts += 1;
        let mut c = server.client();
        c.send_raw(b"GET /status HTTP/1.1\r\nHost: test\r\n\r\nPOST /jobs HTTP/1.1\r\n");
        assert_eq!(c.response().status, 200);
        // Clearly before: with the holders' deadlines in the same timer tick
        // as this one's, a holder's 408 could free the budget just as this
        // request's deadline came, and this one would take it and time out
        // reading its body (408, in every attempt of a run, one run in ten).
        thread::sleep(Duration::from_millis(50));
        let mut holders = Vec::new();
        for _ in 0..2 {
            let mut holder = server.client();
            holder.post_head(BODY, true);
            holder.continued();
            holders.push(holder);
        }
        c.send_raw(format!("Host: test\r\nContent-Length: {BODY}\r\n\r\n").as_bytes());
        c.send_raw(&body.as_bytes()[..BODY / 2]);
        let response = c.response();
        drop(holders);
        if response.status != 408 || attempts == 5 {
            break (response, c);
        }
    };
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.header("retry-after"), Some("1"));
    assert!(response.error().contains("try again later"), "{response:?}");
    assert_eq!(response.header("connection"), Some("close"));
    assert!(c.closed());
    // The holders are gone, so the whole budget is free again (once the
    // server has seen them close).
    let whole = padded_job(2 * BODY);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut d = server.client();
        d.post_head(whole.len(), false);
        d.send_raw(whole.as_bytes());
        let response = d.response();
        if response.status == 201 {
            break;
        }
        assert_eq!(response.status, 503, "{response:?}");
        assert!(Instant::now() < deadline, "the budget never came back");
    }
}

#[test]
fn a_body_waiting_for_the_budget_does_not_hold_up_shutdown() {
    let server = Server::start(Config {
        max_body_memory: BODY,
        // Long enough that only the stop can end the wait in time.
        request_timeout: Duration::from_secs(60),
        drain_timeout: Duration::from_secs(60),
        ..config(1, 10)
    });
    let mut holder = server.client();
    holder.post_head(BODY, true);
    holder.continued();
    // The waiting head rides behind a request that is answered: once the
    // answer is back, the server has read the head.
    let mut waiting = server.client();
    waiting.send_raw(
        format!(
            "GET /status HTTP/1.1\r\nHost: test\r\n\r\n\
             POST /jobs HTTP/1.1\r\nHost: test\r\nContent-Length: {BODY}\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(waiting.response().status, 200);
    let stopping = Instant::now();
    let stopped = thread::spawn(move || server.stop());
    // The waiting body is refused at once...
    let response = waiting.response();
    assert_eq!(response.status, 503, "{response:?}");
    assert!(response.error().contains("shutting down"), "{response:?}");
    assert_eq!(response.header("retry-after"), Some("1"));
    assert!(waiting.closed());
    // ...and once the one being read ends, the server stops, without
    // running out its drain timeout.
    drop(holder);
    stopped.join().unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(30));
}

#[test]
fn malformed_requests_are_400_and_close_the_connection() {
    let server = Server::start(config(1, 10));
    let cases: [(&[u8], u16); 6] = [
        (b"THIS IS NOT HTTP\r\n\r\n", 400),
        (b"GET /status HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"GET /status HTTP/9.9\r\n\r\n", 400),
        (b"POST /jobs HTTP/1.1\r\nContent-Length: lots\r\n\r\n", 400),
        (
            b"POST /jobs HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
            400,
        ),
        (
            b"POST /jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            411,
        ),
    ];
    for (request, status) in cases {
        let mut client = server.client();
        client.send_raw(request);
        let response = client.response();
        assert_eq!(
            response.status,
            status,
            "{:?}: {response:?}",
            String::from_utf8_lossy(request)
        );
        assert!(!response.error().is_empty());
        assert!(client.closed(), "closed after {response:?}");
    }
    // A head past the limit.
    let mut client = server.client();
    client.send_raw(format!("GET /{} HTTP/1.1\r\n", "a".repeat(20_000)).as_bytes());
    assert_eq!(client.response().status, 431);
    // The server is still fine.
    assert_eq!(server.get("/status")["workers_alive"], 1);
}

#[test]
fn a_body_shorter_than_its_length_then_close_does_not_hang_the_server() {
    let server = Server::start(Config {
        // Long enough that only the close can end the request in time, and
        // that a connection still waiting for it would hold up the stop.
        request_timeout: Duration::from_secs(60),
        drain_timeout: Duration::from_secs(60),
        ..config(1, 10)
    });
    let mut short = server.client();
    short.send_raw(b"POST /jobs HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"type\":");
    // Meanwhile another client is served.
    let id = server.submit(json!({ "type": "sleep", "payload": { "ms": 1 } }));
    short.stream.shutdown(Shutdown::Write).unwrap();
    // The server gives up on the request and closes its end (no answer:
    // there is nobody to read it).
    assert!(short.closed(), "the server closed the connection");
    assert!(short.buf.is_empty());
    server.wait_for(&id, "completed");
    // Nothing is left waiting for the rest of that body: the server stops
    // without running out its drain timeout.
    let stopping = Instant::now();
    server.stop();
    assert!(stopping.elapsed() < Duration::from_secs(30));
}

#[test]
fn keep_alive_serves_many_requests_and_pipelined_ones_in_order() {
    let server = Server::start(config(2, 100));
    let mut client = server.client();
    let mut ids = Vec::new();
    for ms in 0..5 {
        let body = json!({ "type": "sleep", "payload": { "ms": ms } }).to_string();
        let response = client.request("POST", "/jobs", Some(&body));
        assert_eq!(response.status, 201);
        assert_eq!(response.header("connection"), None);
        ids.push(response.json()["id"].as_str().unwrap().to_owned());
    }
    // Two requests in one write: two responses, in order.
    client.send_raw(
        format!(
            "GET /jobs/{} HTTP/1.1\r\n\r\nGET /jobs/{} HTTP/1.1\r\n\r\n",
            ids[0], ids[4]
        )
        .as_bytes(),
    );
    assert_eq!(client.response().json()["id"], ids[0]);
    assert_eq!(client.response().json()["id"], ids[4]);
    // `Connection: close` is honoured.
    client.send_raw(b"GET /status HTTP/1.1\r\nConnection: close\r\n\r\n");
    let response = client.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.closed());
    // HTTP/1.0 closes unless asked not to.
    let mut old = server.client();
    old.send_raw(b"GET /status HTTP/1.0\r\n\r\n");
    assert_eq!(old.response().status, 200);
    assert!(old.closed());
    // HTTP/1.0 asking for keep-alive is told it is kept, and is.
    let mut old = server.client();
    for _ in 0..2 {
        old.send_raw(b"GET /status HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let response = old.response();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("connection"), Some("keep-alive"));
    }
    old.send_raw(b"GET /status HTTP/1.0\r\n\r\n");
    let response = old.response();
    assert_eq!(response.header("connection"), Some("close"));
    assert!(old.closed());
    let summary = server.stop();
    assert_eq!(summary.requests, 5 + 2 + 1 + 1 + 3);
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let server = Server::start(config(1, 10));
    let mut client = server.client();
    let body = r#"{"type":"sleep","payload":{"ms":1}}"#;
    client.send_raw(
        format!(
            "POST /jobs HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let mut interim = [0; 25];
    client.stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    client.send_raw(body.as_bytes());
    assert_eq!(client.response().status, 201);
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    // One worker busy for a long while, room for two waiting jobs.
    let server = Server::start(config(1, 2));
    let long = json!({ "type": "sleep", "payload": { "ms": 60_000 } });
    let first = server.submit(long.clone());
    server.wait_for(&first, "running");
    server.submit(long.clone());
    server.submit(long.clone());
    let response = server.request("POST", "/jobs", Some(&long.to_string()));
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.header("retry-after"), Some("1"));
    assert!(response.error().contains("queue is full"));
    let status = server.get("/status");
    assert_eq!(status["queue_depth"], 2);
    assert_eq!(status["pending"], 2);
    assert_eq!(status["running"], 1);
    // The worker is abandoned at shutdown, after the grace period.
    let summary = server.stop();
    assert!(!summary.drained.in_time);
}

#[test]
fn with_every_worker_down_submissions_get_503() {
    let server = Server::start(config(1, 20));
    // Six panics: five restarts, then the only worker stays down for a
    // minute.
    let panicking = json!({
        "type": "fail", "payload": { "times": 1, "panic": true }, "max_retries": 1
    });
    for _ in 0..6 {
        server.submit(panicking.clone());
    }
    let deadline = Instant::now() + PATIENCE;
    while server.get("/status")["workers_alive"] != 0 {
        assert!(
            Instant::now() < deadline,
            "the worker was never given up on"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let body = json!({ "type": "sleep", "payload": { "ms": 1 } }).to_string();
    let response = server.request("POST", "/jobs", Some(&body));
    assert_eq!(response.status, 503, "{response:?}");
    assert!(response.error().contains("no worker"), "{response:?}");
    assert!(response.header("retry-after").is_some());
}

#[test]
fn a_job_failing_more_than_its_retries_is_dead_and_can_be_retried() {
    let server = Server::start(config(2, 10));
    // Fails three times, two retries allowed: dead after three attempts.
    // Retried by hand, its fourth attempt succeeds.
    let id = server.submit(json!({
        "type": "fail",
        "payload": { "times": 3 },
        "max_retries": 2,
    }));
    let dead = server.wait_for(&id, "dead");
    assert_eq!(dead["attempts"], 3);
    assert!(
        dead["error"].as_str().unwrap().contains("attempt 3"),
        "{dead}"
    );
    let letters = server.get("/dead");
    assert_eq!(letters["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(letters["jobs"][0]["id"], id);
    assert_eq!(server.get("/status")["dead"], 1);

    let response = server.request("POST", &format!("/dead/{id}/retry"), None);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["id"], id);
    let done = server.wait_for(&id, "completed");
    assert_eq!(done["attempts"], 4);
    assert_eq!(done["result"], json!({ "succeeded_on_attempt": 4 }));
    assert_eq!(server.get("/dead")["jobs"], json!([]));
    // Only dead jobs can be retried.
    let response = server.request("POST", &format!("/dead/{id}/retry"), None);
    assert_eq!(response.status, 409);
    assert!(response.error().contains("not dead"));
}

#[test]
fn at_most_w_jobs_run_at_once_over_http() {
    const W: u64 = 2;
    let server = Server::start(config(W as usize, 100));
    let ids: Vec<String> = (0..6)
        .map(|_| server.submit(json!({ "type": "sleep", "payload": { "ms": 100 } })))
        .collect();
    let mut client = server.client();
    let deadline = Instant::now() + PATIENCE;
    let mut most = 0;
    loop {
        let status = client.request("GET", "/status", None).json();
        let running = status["running"].as_u64().unwrap();
        assert!(running <= W, "{status}");
        most = most.max(running);
        if status["completed"] == 6 {
            break;
        }
        assert!(Instant::now() < deadline, "not all done: {status}");
        thread::sleep(Duration::from_millis(5));
    }
    assert!(most >= 1);
    for id in ids {
        let job = server.get(&format!("/jobs/{id}"));
        assert_eq!(job["status"], "completed");
    }
}

#[test]
fn running_jobs_show_their_worker() {
    let server = Server::start(config(3, 10));
    let id = server.submit(json!({ "type": "sleep", "payload": { "ms": 60_000 } }));
    let deadline = Instant::now() + PATIENCE;
    loop {
        let job = server.get(&format!("/jobs/{id}"));
        if let Some(worker) = job.get("worker") {
            assert_eq!(job["status"], "running");
            assert!(worker.as_u64().unwrap() < 3, "{job}");
            break;
        }
        assert!(Instant::now() < deadline, "no worker: {job}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn connections_past_the_limit_get_503_until_one_closes() {
    let server = Server::start(Config {
        max_connections: 2,
        ..config(1, 10)
    });
    let mut a = server.client();
    let b = server.client();
    assert_eq!(a.request("GET", "/status", None).status, 200);
    let mut over = server.client();
    let response = over.response();
    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after"), Some("1"));
    assert!(response.error().contains("too many connections"));
    assert!(over.closed());
    // Once one closes, its slot is free again (as soon as the server has
    // seen the close).
    drop(b);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut c = server.client();
        c.send_raw(b"GET /status HTTP/1.1\r\n\r\n");
        if c.response().status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(a.request("GET", "/status", None).status, 200);
}

#[test]
fn http_jobs_get_a_url_and_fail_on_errors() {
    let server = Server::start(config(2, 10));
    let target = target_server();
    let ok = server
        .submit(json!({ "type": "http", "payload": { "url": format!("http://{target}/ok") } }));
    let done = server.wait_for(&ok, "completed");
    assert_eq!(done["result"], json!({ "status": 200, "bytes": 5 }));

    let busy = server.submit(json!({
        "type": "http",
        "payload": { "url": format!("http://{target}/busy") },
        "max_retries": 0,
    }));
    let dead = server.wait_for(&busy, "dead");
    assert!(
        dead["error"]
            .as_str()
            .unwrap()
            .ends_with("the server answered 503"),
        "{dead}"
    );

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = server.submit(json!({
        "type": "http",
        "payload": { "url": format!("http://{closed}/") },
        "max_retries": 0,
    }));
    let dead = server.wait_for(&refused, "dead");
    assert!(
        dead["error"].as_str().unwrap().contains("cannot connect"),
        "{dead}"
    );

    for (url, why) in [
        ("https://example.com/", "https is not supported"),
        ("example.com", "not an http:// URL"),
    ] {
        let body = json!({ "type": "http", "payload": { "url": url } }).to_string();
        let response = server.request("POST", "/jobs", Some(&body));
        assert_eq!(response.status, 400);
        assert!(response.error().contains(why), "{response:?}");
    }
}

#[test]
fn http_jobs_take_a_timeout_in_range_and_show_it() {
    let server = Server::start(config(1, 10));
    for timeout_ms in [0, 300_001] {
        let body = json!({
            "type": "http",
            "payload": { "url": "http://127.0.0.1:9/", "timeout_ms": timeout_ms },
        })
        .to_string();
        let response = server.request("POST", "/jobs", Some(&body));
        assert_eq!(response.status, 400);
        assert!(
            response
                .error()
                .contains("`timeout_ms` must be a whole number from 1 to 300000"),
            "{response:?}"
        );
    }
    let target = target_server();
    let url = format!("http://{target}/ok");
    let id = server.submit(json!({
        "type": "http",
        "payload": { "url": url, "timeout_ms": 1500 },
    }));
    let done = server.wait_for(&id, "completed");
    assert_eq!(done["payload"], json!({ "url": url, "timeout_ms": 1500 }));
}

#[test]
fn metrics_are_in_the_prometheus_text_format() {
    let server = Server::start(config(2, 10));
    let ok = server.submit(json!({ "type": "sleep", "payload": { "ms": 1 } }));
    let flaky = server.submit(json!({ "type": "fail", "payload": { "times": 1 } }));
    server.wait_for(&ok, "completed");
    server.wait_for(&flaky, "completed");
    let response = server.request("GET", "/metrics", None);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4")
    );
    let text = response.text();
    let sample = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(sample("jobs_submitted_total"), 2.0);
    assert_eq!(sample("jobs_completed_total"), 2.0);
    assert_eq!(sample("jobs_failed_attempts_total"), 1.0);
    assert_eq!(sample("jobs_dead_total"), 0.0);
    assert_eq!(sample("jobs_queue_depth"), 0.0);
    assert_eq!(sample("jobs_workers_alive"), 2.0);
    assert_eq!(sample("jobs_attempt_duration_seconds_count"), 3.0);
    assert_eq!(
        sample("jobs_attempt_duration_seconds_bucket{le=\"+Inf\"}"),
        3.0
    );
    assert!(text.contains("# TYPE jobs_attempt_duration_seconds histogram\n"));
    assert_eq!(server.request("POST", "/metrics", None).status, 405);
}
