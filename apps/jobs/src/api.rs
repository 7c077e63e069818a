//! The routes: which request asks the queue what, and the response.
//!
//! | method and path         | answer                                                              |
//! |-------------------------|---------------------------------------------------------------------|
//! | `POST /jobs`            | `201 {"id"}`; `400` bad job; `503` queue full; `500` journal broken |
//! | `GET /jobs/{id}`        | `200` the job; `404` unknown id                                     |
//! | `GET /status`           | `200` the counts                                                    |
//! | `GET /metrics`          | `200` the Prometheus text format                                    |
//! | `GET /dead`             | `200 {"jobs": [...]}`, oldest death first                           |
//! | `POST /dead/{id}/retry` | `200` the job, pending again; `404`; `409` not dead                 |
//!
//! Another method on one of these paths is `405` with `Allow`; any other
//! path is `404`.

use serde::Serialize;
use serde_json::json;

use crate::error::{RetryError, SubmitError};
use crate::http::{Request, Response};
use crate::job::{JobId, JobSpec, JobView};
use crate::queue::Queue;

/// The body of `GET /dead`.
#[derive(Serialize)]
struct DeadLetters {
    jobs: Vec<JobView>,
}

/// Seconds a client told "queue full" is asked to wait.
const RETRY_AFTER_SECS: u32 = 1;

/// Answers one request.
pub(crate) async fn handle(queue: &Queue, request: &Request) -> Response {
    let path = request
        .path
        .split_once('?')
        .map_or(&*request.path, |(path, _)| path);
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let method = request.method.as_str();
    match segments.as_slice() {
        ["jobs"] => match method {
            "POST" => submit(queue, &request.body).await,
            _ => not_allowed("POST"),
        },
        ["jobs", id] => match method {
            "GET" => job(queue, id).await,
            _ => not_allowed("GET"),
        },
        ["status"] => match method {
            "GET" => match queue.status().await {
                Ok(status) => Response::json(200, &status),
                Err(closed) => unavailable(closed),
            },
            _ => not_allowed("GET"),
        },
        ["metrics"] => match method {
            "GET" => match queue.metrics().await {
                Ok(metrics) => Response::text("text/plain; version=0.0.4", metrics.render()),
                Err(closed) => unavailable(closed),
            },
            _ => not_allowed("GET"),
        },
        ["dead"] => match method {
            "GET" => match queue.dead().await {
                Ok(jobs) => Response::json(200, &DeadLetters { jobs }),
                Err(closed) => unavailable(closed),
            },
            _ => not_allowed("GET"),
        },
        ["dead", id, "retry"] => match method {
            "POST" => retry(queue, id).await,
            _ => not_allowed("POST"),
        },
        _ => Response::error(404, format!("no such path: {path}")),
    }
}

async fn submit(queue: &Queue, body: &[u8]) -> Response {
    let spec = match JobSpec::parse(body) {
        Ok(spec) => spec,
        Err(invalid) => return Response::error(400, invalid),
    };
    match queue.submit(spec).await {
        Ok(id) => Response::json(201, &json!({ "id": id.to_string() }))
            .header("location", format!("/jobs/{id}")),
        Err(full @ SubmitError::Full { .. }) => {
            Response::error(503, full).header("retry-after", RETRY_AFTER_SECS.to_string())
        }
        Err(closed @ SubmitError::Closed) => unavailable(closed),
        Err(none @ SubmitError::NoWorkers) => {
            Response::error(503, none).header("retry-after", RETRY_AFTER_SECS.to_string())
        }
        Err(journal @ SubmitError::Journal { .. }) => Response::error(500, journal),
    }
}

async fn job(queue: &Queue, id: &str) -> Response {
    let Some(id) = JobId::parse(id) else {
        return no_job(id);
    };
    match queue.job(id).await {
        Ok(Some(view)) => Response::json(200, &view),
        Ok(None) => no_job(&id.to_string()),
        Err(closed) => unavailable(closed),
    }
}

async fn retry(queue: &Queue, id: &str) -> Response {
    let Some(id) = JobId::parse(id) else {
        return no_job(id);
    };
    match queue.retry_dead(id).await {
        Ok(view) => Response::json(200, &view),
        Err(RetryError::NotFound) => no_job(&id.to_string()),
        Err(not_dead @ RetryError::NotDead { .. }) => Response::error(409, not_dead),
        Err(full @ RetryError::Full { .. }) => {
            Response::error(503, full).header("retry-after", RETRY_AFTER_SECS.to_string())
        }
        Err(closed @ RetryError::Closed) => unavailable(closed),
    }
}

fn no_job(id: &str) -> Response {
    Response::error(404, format!("no job has id {id:?}"))
}

fn not_allowed(allow: &'static str) -> Response {
    Response::error(405, format!("this path takes {allow} only")).header("allow", allow)
}

fn unavailable(why: impl std::fmt::Display) -> Response {
    Response::error(503, why)
        .header("retry-after", RETRY_AFTER_SECS.to_string())
        .close()
}
