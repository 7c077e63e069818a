//! The routes: which request asks the queue what, and the response.
//!
//! | method and path         | answer                                                              |
//! |-------------------------|---------------------------------------------------------------------|
//! | `POST /jobs`            | `201 {"id"}`; `400` bad job; `503` queue full; `500` journal broken |
//! | `GET /jobs`             | `200 {"jobs": [...], "next_after"}`, by id; `400` bad query         |
//! | `GET /jobs/{id}`        | `200` the job; `404` unknown id                                     |
//! | `DELETE /jobs/{id}`     | `200` the job as it was; `404`; `409` running                       |
//! | `GET /status`           | `200` the counts                                                    |
//! | `GET /metrics`          | `200` the Prometheus text format                                    |
//! | `GET /dead`             | `200 {"jobs": [...]}`, oldest death first                           |
//! | `POST /dead/{id}/retry` | `200` the job, pending again; `404`; `409` not dead                 |
//!
//! `GET /jobs` takes `status` (one of [`STATUSES`]), `after` (a job id:
//! where the previous page ended, its `next_after`) and `limit` (1 to
//! [`MAX_PAGE`], [`DEFAULT_PAGE`] by default) in its query.
//!
//! Another method on one of these paths is `405` with `Allow`; any other
//! path is `404`.

use serde::Serialize;
use serde_json::json;

use crate::error::{DeleteError, RetryError, SubmitError};
use crate::http::{Request, Response};
use crate::job::{JobId, JobSpec, JobView, STATUSES};
use crate::queue::{JobQuery, Queue};

/// The jobs `GET /jobs` lists when the query does not say.
pub const DEFAULT_PAGE: usize = 100;
/// The most jobs `GET /jobs` lists at once.
pub const MAX_PAGE: usize = 1000;

/// The body of `GET /dead`.
#[derive(Serialize)]
struct DeadLetters {
    jobs: Vec<JobView>,
}

/// Seconds a client told "queue full" is asked to wait.
const RETRY_AFTER_SECS: u32 = 1;

/// Answers one request.
pub(crate) async fn handle(queue: &Queue, request: &Request) -> Response {
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let method = request.method.as_str();
    match segments.as_slice() {
        ["jobs"] => match method {
            "POST" => submit(queue, &request.body).await,
            "GET" => list(queue, query).await,
            _ => not_allowed("GET, POST"),
        },
        ["jobs", id] => match method {
            "GET" => job(queue, id).await,
            "DELETE" => delete(queue, id).await,
            _ => not_allowed("GET, DELETE"),
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

async fn list(queue: &Queue, query: &str) -> Response {
    let query = match job_query(query) {
        Ok(query) => query,
        Err(why) => return Response::error(400, why),
    };
    match queue.list(query).await {
        Ok(page) => Response::json(200, &page),
        Err(closed) => unavailable(closed),
    }
}

/// Reads the query of `GET /jobs`.
fn job_query(query: &str) -> Result<JobQuery, String> {
    let mut parsed = JobQuery {
        limit: DEFAULT_PAGE,
        ..JobQuery::default()
    };
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "status" => {
                let status = STATUSES.iter().find(|status| **status == value);
                parsed.status = Some(*status.ok_or_else(|| {
                    format!(
                        "`status` must be one of {}, got {value:?}",
                        STATUSES.join(", ")
                    )
                })?);
            }
            "after" => {
                parsed.after = Some(
                    JobId::parse(&value)
                        .ok_or_else(|| format!("`after` must be a job id, got {value:?}"))?,
                );
            }
            "limit" => {
                parsed.limit = value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE).contains(limit))
                    .ok_or_else(|| {
                        format!(
                            "`limit` must be a whole number from 1 to {MAX_PAGE}, got {value:?}"
                        )
                    })?;
            }
            other => {
                return Err(format!(
                    "unknown query parameter {other:?} (`GET /jobs` takes status, after and limit)"
                ));
            }
        }
    }
    Ok(parsed)
}

async fn delete(queue: &Queue, id: &str) -> Response {
    let Some(id) = JobId::parse(id) else {
        return no_job(id);
    };
    match queue.delete(id).await {
        Ok(view) => Response::json(200, &view),
        Err(DeleteError::NotFound) => no_job(&id.to_string()),
        Err(running @ DeleteError::Running) => Response::error(409, running),
        Err(closed @ DeleteError::Closed) => unavailable(closed),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_query_is_read_and_checked() {
        assert_eq!(
            job_query(""),
            Ok(JobQuery {
                status: None,
                after: None,
                limit: DEFAULT_PAGE,
            })
        );
        assert_eq!(
            job_query("status=dead&after=41&limit=5"),
            Ok(JobQuery {
                status: Some("dead"),
                after: Some(JobId(41)),
                limit: 5,
            })
        );
        // Percent-encoding is decoded.
        assert_eq!(
            job_query("status=%70ending").unwrap().status,
            Some("pending")
        );
        for (query, why) in [
            (
                "status=lost",
                "`status` must be one of scheduled, pending, running",
            ),
            ("after=x", "`after` must be a job id"),
            ("limit=0", "`limit` must be a whole number from 1 to 1000"),
            ("limit=1001", "from 1 to 1000"),
            ("sort=id", "unknown query parameter \"sort\""),
        ] {
            let error = job_query(query).unwrap_err();
            assert!(error.contains(why), "{query}: {error}");
        }
    }
}
