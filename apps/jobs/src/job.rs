//! What a job is: its kind and payload as submitted, checked before it is
//! accepted, and what a client sees of it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The retries a job gets when its submission does not say.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// The most retries a job may ask for.
pub const MAX_RETRIES_LIMIT: u32 = 25;
/// The longest `sleep` job accepted: one day.
pub const MAX_SLEEP_MS: u64 = 24 * 60 * 60 * 1000;
/// The most iterations a `cpu` job may ask for.
pub const MAX_CPU_ITERATIONS: u64 = 100_000_000_000;

/// A job's id: a number, shown to clients as a decimal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub u64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl JobId {
    /// Reads an id as a client writes it: decimal digits only.
    pub fn parse(s: &str) -> Option<JobId> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().map(JobId)
    }
}

/// What a job does when it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Waits `ms` milliseconds on the runtime's clock, then succeeds.
    Sleep {
        /// How long.
        ms: u64,
    },
    /// Spins through `iterations` steps of arithmetic on the blocking pool
    /// (`spawn_blocking`), then succeeds with a checksum.
    Cpu {
        /// How many steps.
        iterations: u64,
    },
    /// Fails its first `times` attempts, then succeeds (for tests and
    /// demos of retries and dead letters).
    Fail {
        /// How many attempts fail.
        times: u32,
    },
}

/// A job as submitted and accepted: what to run and how often to retry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSpec {
    /// What it does.
    pub kind: JobKind,
    /// How many times a failed attempt is retried before the job goes to
    /// the dead letters.
    pub max_retries: u32,
}

/// Why a submission was refused; its `Display` is the message a client
/// sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvalidJob {
    /// The body is not JSON.
    Malformed(String),
    /// The JSON does not describe a job (a missing or mistyped field, an
    /// unknown type, a value out of range).
    Invalid(String),
}

impl fmt::Display for InvalidJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidJob::Malformed(why) => write!(f, "malformed JSON: {why}"),
            InvalidJob::Invalid(why) => write!(f, "invalid job: {why}"),
        }
    }
}

impl std::error::Error for InvalidJob {}

/// The body of `POST /jobs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Submission {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    max_retries: Option<u32>,
}

/// The job types, as a client names them.
pub const JOB_TYPES: &str = "sleep, cpu, fail";

// === impl JobSpec ===

impl JobSpec {
    /// Reads and checks a submission: `{"type": "...", "payload": {...},
    /// "max_retries": N}` (`max_retries` defaults to
    /// [`DEFAULT_MAX_RETRIES`]).
    ///
    /// # Errors
    ///
    /// [`InvalidJob`] says what is wrong: not JSON, a missing or unknown
    /// field, an unknown type, a payload that does not fit the type, a
    /// value over its limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use pollen_jobs::{JobKind, JobSpec};
    ///
    /// let spec = JobSpec::parse(br#"{"type":"sleep","payload":{"ms":50}}"#).unwrap();
    /// assert_eq!(spec.kind, JobKind::Sleep { ms: 50 });
    /// assert_eq!(spec.max_retries, 3);
    ///
    /// let err = JobSpec::parse(br#"{"type":"resize","payload":{}}"#).unwrap_err();
    /// assert!(err.to_string().contains("unknown job type \"resize\""));
    /// ```
    pub fn parse(body: &[u8]) -> Result<JobSpec, InvalidJob> {
        let submission: Submission = serde_json::from_slice(body).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                InvalidJob::Malformed(e.to_string())
            } else {
                InvalidJob::Invalid(e.to_string())
            }
        })?;
        let max_retries = submission.max_retries.unwrap_or(DEFAULT_MAX_RETRIES);
        if max_retries > MAX_RETRIES_LIMIT {
            return Err(InvalidJob::Invalid(format!(
                "max_retries is {max_retries}, the most is {MAX_RETRIES_LIMIT}"
            )));
        }
        let payload = submission
            .payload
            .unwrap_or_else(|| Value::Object(Default::default()));
        let kind = match submission.kind.as_str() {
            "sleep" => {
                let mut payload = Payload::new("sleep", payload, &["ms"])?;
                JobKind::Sleep {
                    ms: payload.number("ms", MAX_SLEEP_MS)?,
                }
            }
            "cpu" => {
                let mut payload = Payload::new("cpu", payload, &["iterations"])?;
                JobKind::Cpu {
                    iterations: payload.number("iterations", MAX_CPU_ITERATIONS)?,
                }
            }
            "fail" => {
                let mut payload = Payload::new("fail", payload, &["times"])?;
                let times = payload.number("times", u64::from(u32::MAX))?;
                JobKind::Fail {
                    times: u32::try_from(times).expect("checked against the limit"),
                }
            }
            other => {
                return Err(InvalidJob::Invalid(format!(
                    "unknown job type {other:?} (known: {JOB_TYPES})"
                )));
            }
        };
        Ok(JobSpec { kind, max_retries })
    }
}

/// A payload being read: an object with only the fields its type takes.
struct Payload {
    kind: &'static str,
    fields: serde_json::Map<String, Value>,
}

impl Payload {
    fn new(kind: &'static str, payload: Value, takes: &[&str]) -> Result<Payload, InvalidJob> {
        let listed = takes
            .iter()
            .map(|field| format!("`{field}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let Value::Object(fields) = payload else {
            return Err(InvalidJob::Invalid(format!(
                "the payload of a {kind} job must be an object with {listed}, got {payload}"
            )));
        };
        if let Some(unknown) = fields.keys().find(|name| !takes.contains(&name.as_str())) {
            return Err(InvalidJob::Invalid(format!(
                "the payload of a {kind} job has an unknown field `{unknown}` (it takes {listed})"
            )));
        }
        Ok(Payload { kind, fields })
    }

    /// The whole number in field `name`, at most `max`.
    fn number(&mut self, name: &str, max: u64) -> Result<u64, InvalidJob> {
        let kind = self.kind;
        let value = self.fields.remove(name).ok_or_else(|| {
            InvalidJob::Invalid(format!(
                "the payload of a {kind} job: missing field `{name}`"
            ))
        })?;
        value.as_u64().filter(|&n| n <= max).ok_or_else(|| {
            InvalidJob::Invalid(format!(
                "the payload of a {kind} job: `{name}` must be a whole number from 0 to {max}, \
                 got {value}"
            ))
        })
    }
}

// === impl JobKind ===

impl JobKind {
    /// The type's name, as in a submission.
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::Sleep { .. } => "sleep",
            JobKind::Cpu { .. } => "cpu",
            JobKind::Fail { .. } => "fail",
        }
    }

    /// The payload, as in a submission.
    pub fn payload(&self) -> Value {
        match self {
            JobKind::Sleep { ms } => serde_json::json!({ "ms": ms }),
            JobKind::Cpu { iterations } => serde_json::json!({ "iterations": iterations }),
            JobKind::Fail { times } => serde_json::json!({ "times": times }),
        }
    }
}

/// A job as a client sees it (`GET /jobs/{id}`, `GET /dead`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobView {
    /// Its id, as a string.
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its payload.
    pub payload: Value,
    /// The retries it was submitted with.
    pub max_retries: u32,
    /// The attempts started so far (over its whole life, manual retries
    /// from the dead letters included).
    pub attempts: u32,
    /// Where it is.
    #[serde(flatten)]
    pub state: StateView,
}

/// Where a job is, with what goes with that state.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StateView {
    /// Queued, waiting for a worker.
    Pending,
    /// Taken by the dispatcher; `worker` once a worker started it.
    Running {
        /// The worker running it.
        #[serde(skip_serializing_if = "Option::is_none")]
        worker: Option<usize>,
    },
    /// Done.
    Completed {
        /// What it produced.
        result: Value,
        /// How long its successful attempt ran, in milliseconds.
        duration_ms: f64,
    },
    /// Its last attempt failed; it runs again after a backoff.
    Failed {
        /// Why the last attempt failed.
        error: String,
        /// Retries left after the one that is scheduled.
        retries_left: u32,
        /// Milliseconds until the retry.
        retry_in_ms: u64,
    },
    /// Out of retries: in the dead letters until retried by hand.
    Dead {
        /// Why the last attempt failed.
        error: String,
    },
}

// === impl StateView ===

impl StateView {
    /// The status's name, as in the JSON (`pending`, `running`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            StateView::Pending => "pending",
            StateView::Running { .. } => "running",
            StateView::Completed { .. } => "completed",
            StateView::Failed { .. } => "failed",
            StateView::Dead { .. } => "dead",
        }
    }
}
