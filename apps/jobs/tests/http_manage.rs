//! Listing, deleting and scheduling jobs over real sockets.

mod support;

use serde_json::json;

use self::support::{Server, config};

#[test]
fn get_jobs_lists_page_by_page_and_filters_by_status() {
    let server = Server::start(config(1, 100));
    let running = server.submit(json!({"type": "sleep", "payload": {"ms": 60_000}}));
    server.wait_for(&running, "running");
    let mut ids = vec![running];
    for priority in ["low", "high", "normal"] {
        ids.push(server.submit(json!({
            "type": "sleep", "payload": {"ms": 0}, "priority": priority
        })));
    }
    let page = server.get("/jobs?limit=3");
    let listed: Vec<&str> = page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, &ids[..3]);
    assert_eq!(page["jobs"][1]["priority"], "low");
    let after = page["next_after"].as_str().expect("a next page");
    let rest = server.get(&format!("/jobs?after={after}&limit=3"));
    assert_eq!(rest["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(rest["jobs"][0]["id"], ids[3].as_str());
    assert!(rest["next_after"].is_null());
    let pending = server.get("/jobs?status=pending");
    assert_eq!(pending["jobs"].as_array().unwrap().len(), 3);
    let running = server.get("/jobs?status=running");
    assert_eq!(running["jobs"][0]["id"], ids[0].as_str());
    for query in ["status=lost", "limit=0", "after=x", "order=desc"] {
        let response = server.request("GET", &format!("/jobs?{query}"), None);
        assert_eq!(response.status, 400, "{query}: {response:?}");
    }
}

#[test]
fn delete_removes_a_waiting_job_and_refuses_a_running_one() {
    let server = Server::start(config(1, 100));
    let running = server.submit(json!({"type": "sleep", "payload": {"ms": 60_000}}));
    server.wait_for(&running, "running");
    let pending = server.submit(json!({"type": "sleep", "payload": {"ms": 0}}));
    let response = server.request("DELETE", &format!("/jobs/{running}"), None);
    assert_eq!(response.status, 409, "{response:?}");
    assert!(response.error().contains("running"), "{response:?}");
    let response = server.request("DELETE", &format!("/jobs/{pending}"), None);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["status"], "pending");
    for gone in [pending.as_str(), "999"] {
        let response = server.request("DELETE", &format!("/jobs/{gone}"), None);
        assert_eq!(response.status, 404, "{response:?}");
        assert_eq!(
            server.request("GET", &format!("/jobs/{gone}"), None).status,
            404
        );
    }
    assert_eq!(server.get("/status")["pending"], 0);
}

#[test]
fn a_scheduled_job_shows_when_it_runs_then_runs() {
    let server = Server::start(config(1, 100));
    let id = server.submit(json!({
        "type": "sleep", "payload": {"ms": 0}, "delay_ms": 300
    }));
    let job = server.get(&format!("/jobs/{id}"));
    assert_eq!(job["status"], "scheduled", "{job}");
    assert!(job["run_in_ms"].as_u64().unwrap() <= 300, "{job}");
    assert!(job["run_at"].as_str().unwrap().ends_with('Z'), "{job}");
    assert_eq!(server.get("/status")["scheduled"], 1);
    server.wait_for(&id, "completed");
    let response = server.request(
        "POST",
        "/jobs",
        Some(r#"{"type":"sleep","payload":{"ms":0},"delay_ms":1,"run_at":"2030-01-01T00:00:00Z"}"#),
    );
    assert_eq!(response.status, 400);
    assert!(response.error().contains("not both"), "{response:?}");
}
