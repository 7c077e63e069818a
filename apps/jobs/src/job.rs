//! What a job is: its kind and payload as submitted, checked before it is
//! accepted, and what a client sees of it.

use std::fmt;
use std::time::{Duration, SystemTime};

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
/// The furthest ahead a job may be scheduled (`delay_ms`, `run_at`): one
/// year.
pub const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// How urgent a job is. Workers take jobs in strict order of priority:
/// every pending `high` job before any `normal` one, every `normal` one
/// before any `low` one, and jobs of one priority in the order they became
/// pending. So a steady stream of `high` jobs can hold `low` ones back
/// indefinitely: that is what `low` means here.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Before the others.
    High,
    /// The default.
    #[default]
    Normal,
    /// After the others.
    Low,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];

    /// Its name, as a client writes it.
    pub fn name(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }

    /// Its place in [`Priority::ALL`] (0 is the most urgent).
    pub fn rank(self) -> usize {
        self as usize
    }

    /// Reads a priority's name.
    pub fn parse(name: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether it is the default, [`Priority::Normal`].
    pub fn is_normal(&self) -> bool {
        *self == Priority::Normal
    }
}

/// The longest `timeout_ms` an `http` job may ask for: five minutes (it
/// defaults to [`HTTP_TIMEOUT`](crate::HTTP_TIMEOUT)).
pub const MAX_HTTP_TIMEOUT_MS: u64 = 5 * 60 * 1000;

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
    /// `GET url` (`http://host[:port][/path][?query]`) over pollen's
    /// `TcpStream`, within `timeout_ms`; a `2xx` answer succeeds with its
    /// status and the size of its body (read up to 1 MiB, framed by
    /// `Content-Length` or chunks, or by the end of the stream).
    Http {
        /// Where to.
        url: String,
        /// How long the whole request may take, connecting included, in
        /// milliseconds: from 1 to [`MAX_HTTP_TIMEOUT_MS`], by default
        /// [`HTTP_TIMEOUT`](crate::HTTP_TIMEOUT).
        timeout_ms: u64,
    },
    /// Fails its first `times` attempts, then succeeds (for tests and
    /// demos of retries, dead letters and the supervisor).
    Fail {
        /// How many attempts fail.
        times: u32,
        /// Fail by panicking, which crashes the worker running it, instead
        /// of by returning an error.
        panic: bool,
    },
}

/// A job as submitted and accepted: what to run, how urgently, when, and
/// how often to retry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSpec {
    /// What it does.
    pub kind: JobKind,
    /// How many times a failed attempt is retried before the job goes to
    /// the dead letters.
    pub max_retries: u32,
    /// Before or after other pending jobs.
    pub priority: Priority,
    /// Not to run before this time (`delay_ms` or `run_at`); `None` runs as
    /// soon as a worker is free.
    pub run_at: Option<SystemTime>,
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

/// Every status a job shown to clients may have, in the order of a job's
/// life.
pub const STATUSES: [&str; 6] = [
    "scheduled",
    "pending",
    "running",
    "completed",
    "failed",
    "dead",
];

/// An `http` job's `timeout_ms` when its payload does not say.
const DEFAULT_HTTP_TIMEOUT_MS: u64 = crate::HTTP_TIMEOUT.as_millis() as u64;

/// The job types, as a client names them.
pub const JOB_TYPES: &str = "sleep, cpu, http, fail";

// === impl JobSpec ===

impl JobSpec {
    /// Reads and checks a submission: `{"type": "...", "payload": {...},
    /// "max_retries": N, "priority": "...", "delay_ms": N}`. Only `type`
    /// is required: `payload` defaults to `{}`, `max_retries` to
    /// [`DEFAULT_MAX_RETRIES`], `priority` (`high`, `normal` or `low`) to
    /// `normal`. A job runs at once unless it gives `delay_ms` (from now)
    /// or `run_at` (a UTC time in RFC 3339, such as
    /// `"2026-12-01T09:30:00Z"`; one in the past runs at once), not both,
    /// at most [`MAX_DELAY`] ahead.
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
    /// use pollen_jobs::{JobKind, JobSpec, Priority};
    ///
    /// let spec = JobSpec::parse(br#"{"type":"sleep","payload":{"ms":50}}"#).unwrap();
    /// assert_eq!(spec.kind, JobKind::Sleep { ms: 50 });
    /// assert_eq!(spec.max_retries, 3);
    /// assert_eq!(spec.run_at, None);
    ///
    /// let later = br#"{"type":"sleep","payload":{"ms":0},"priority":"high","delay_ms":500}"#;
    /// let spec = JobSpec::parse(later).unwrap();
    /// assert_eq!(spec.priority, Priority::High);
    /// assert!(spec.run_at.is_some());
    ///
    /// let err = JobSpec::parse(br#"{"type":"resize","payload":{}}"#).unwrap_err();
    /// assert!(err.to_string().contains("unknown job type \"resize\""));
    /// ```
    pub fn parse(body: &[u8]) -> Result<JobSpec, InvalidJob> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                InvalidJob::Malformed(e.to_string())
            } else {
                InvalidJob::Invalid(e.to_string())
            }
        })?;
        let Value::Object(mut fields) = value else {
            return Err(InvalidJob::Invalid(format!(
                "a job is an object with `type`, `payload` and `max_retries`, got {value}"
            )));
        };
        // The type first: it says what the rest should be.
        let kind = match fields.remove("type") {
            Some(Value::String(kind)) => kind,
            Some(other) => {
                return Err(InvalidJob::Invalid(format!(
                    "`type` must be a string (one of {JOB_TYPES}), got {other}"
                )));
            }
            None => {
                return Err(InvalidJob::Invalid(format!(
                    "missing field `type` (one of {JOB_TYPES})"
                )));
            }
        };
        if !["sleep", "cpu", "http", "fail"].contains(&kind.as_str()) {
            return Err(InvalidJob::Invalid(format!(
                "unknown job type {kind:?} (known: {JOB_TYPES})"
            )));
        }
        let payload = fields
            .remove("payload")
            .unwrap_or_else(|| Value::Object(Default::default()));
        let max_retries = match fields.remove("max_retries") {
            None => DEFAULT_MAX_RETRIES,
            Some(value) => value
                .as_u64()
                .filter(|&n| n <= u64::from(MAX_RETRIES_LIMIT))
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    InvalidJob::Invalid(format!(
                        "`max_retries` must be a whole number from 0 to {MAX_RETRIES_LIMIT}, \
                         got {value}"
                    ))
                })?,
        };
        let priority = match fields.remove("priority") {
            None => Priority::Normal,
            Some(value) => value.as_str().and_then(Priority::parse).ok_or_else(|| {
                InvalidJob::Invalid(format!(
                    "`priority` must be \"high\", \"normal\" or \"low\", got {value}"
                ))
            })?,
        };
        let run_at = schedule(fields.remove("delay_ms"), fields.remove("run_at"))?;
        if let Some(unknown) = fields.keys().next() {
            return Err(InvalidJob::Invalid(format!(
                "unknown field `{unknown}` (a job has `type`, `payload`, `max_retries`, \
                 `priority`, and `delay_ms` or `run_at`)"
            )));
        }
        let kind = match kind.as_str() {
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
            "http" => {
                let mut payload = Payload::new("http", payload, &["url", "timeout_ms"])?;
                let url = payload.string("url")?;
                crate::fetch::Target::parse(&url).map_err(|why| {
                    InvalidJob::Invalid(format!("the payload of an http job: `url` {why}"))
                })?;
                let timeout_ms = payload
                    .optional_number("timeout_ms", 1, MAX_HTTP_TIMEOUT_MS)?
                    .unwrap_or(DEFAULT_HTTP_TIMEOUT_MS);
                JobKind::Http { url, timeout_ms }
            }
            "fail" => {
                let mut payload = Payload::new("fail", payload, &["times", "panic"])?;
                let times = payload.number("times", u64::from(u32::MAX))?;
                JobKind::Fail {
                    times: u32::try_from(times).expect("checked against the limit"),
                    panic: payload.flag("panic")?,
                }
            }
            other => unreachable!("the type {other:?} was checked above"),
        };
        Ok(JobSpec {
            kind,
            max_retries,
            priority,
            run_at,
        })
    }
}

/// When a submission says to run: `delay_ms` from now, or at `run_at`.
fn schedule(
    delay_ms: Option<Value>,
    run_at: Option<Value>,
) -> Result<Option<SystemTime>, InvalidJob> {
    let max_ms = u64::try_from(MAX_DELAY.as_millis()).expect("a year fits");
    match (delay_ms, run_at) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(InvalidJob::Invalid(
            "give `delay_ms` or `run_at`, not both".to_owned(),
        )),
        (Some(delay), None) => {
            let ms = delay.as_u64().filter(|&ms| ms <= max_ms).ok_or_else(|| {
                InvalidJob::Invalid(format!(
                    "`delay_ms` must be a whole number from 0 to {max_ms} (a year), got {delay}"
                ))
            })?;
            Ok(Some(SystemTime::now() + Duration::from_millis(ms)))
        }
        (None, Some(at)) => {
            let bad = || {
                InvalidJob::Invalid(format!(
                    "`run_at` must be a UTC time in RFC 3339 such as \"2026-12-01T09:30:00Z\", \
                     got {at}"
                ))
            };
            let when = at
                .as_str()
                .ok_or_else(bad)
                .and_then(|text| humantime::parse_rfc3339(text).map_err(|_| bad()))?;
            if when
                .duration_since(SystemTime::now())
                .is_ok_and(|ahead| ahead > MAX_DELAY)
            {
                return Err(InvalidJob::Invalid(format!(
                    "`run_at` is more than a year ahead: {at}"
                )));
            }
            Ok(Some(when))
        }
    }
}

/// A payload being read: an object with only the fields its type takes.
struct Payload {
    /// The job, as error messages name it ("a sleep job").
    job: &'static str,
    fields: serde_json::Map<String, Value>,
}

impl Payload {
    fn new(kind: &'static str, payload: Value, takes: &[&str]) -> Result<Payload, InvalidJob> {
        let job = match kind {
            "http" => "an http job",
            "sleep" => "a sleep job",
            "cpu" => "a cpu job",
            "fail" => "a fail job",
            other => unreachable!("no job type {other:?}"),
        };
        let listed = takes
            .iter()
            .map(|field| format!("`{field}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let Value::Object(fields) = payload else {
            return Err(InvalidJob::Invalid(format!(
                "the payload of {job} must be an object with {listed}, got {payload}"
            )));
        };
        if let Some(unknown) = fields.keys().find(|name| !takes.contains(&name.as_str())) {
            return Err(InvalidJob::Invalid(format!(
                "the payload of {job} has an unknown field `{unknown}` (it takes {listed})"
            )));
        }
        Ok(Payload { job, fields })
    }

    /// The whole number in field `name`, at most `max`.
    fn number(&mut self, name: &str, max: u64) -> Result<u64, InvalidJob> {
        let job = self.job;
        let value = self.fields.remove(name).ok_or_else(|| {
            InvalidJob::Invalid(format!("the payload of {job}: missing field `{name}`"))
        })?;
        value.as_u64().filter(|&n| n <= max).ok_or_else(|| {
            InvalidJob::Invalid(format!(
                "the payload of {job}: `{name}` must be a whole number from 0 to {max}, \
                 got {value}"
            ))
        })
    }

    /// The whole number in field `name`, from `min` to `max`, if the field
    /// is there.
    fn optional_number(
        &mut self,
        name: &str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, InvalidJob> {
        let job = self.job;
        let Some(value) = self.fields.remove(name) else {
            return Ok(None);
        };
        match value.as_u64().filter(|n| (min..=max).contains(n)) {
            Some(n) => Ok(Some(n)),
            None => Err(InvalidJob::Invalid(format!(
                "the payload of {job}: `{name}` must be a whole number from {min} to \
                 {max}, got {value}"
            ))),
        }
    }

    /// The string in field `name`.
    fn string(&mut self, name: &str) -> Result<String, InvalidJob> {
        let job = self.job;
        match self.fields.remove(name) {
            Some(Value::String(value)) => Ok(value),
            None => Err(InvalidJob::Invalid(format!(
                "the payload of {job}: missing field `{name}`"
            ))),
            Some(other) => Err(InvalidJob::Invalid(format!(
                "the payload of {job}: `{name}` must be a string, got {other}"
            ))),
        }
    }

    /// The boolean in field `name`, `false` when it is absent.
    fn flag(&mut self, name: &str) -> Result<bool, InvalidJob> {
        let job = self.job;
        match self.fields.remove(name) {
            None => Ok(false),
            Some(Value::Bool(flag)) => Ok(flag),
            Some(other) => Err(InvalidJob::Invalid(format!(
                "the payload of {job}: `{name}` must be true or false, got {other}"
            ))),
        }
    }
}

// === impl JobKind ===

impl JobKind {
    /// The type's name, as in a submission.
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::Sleep { .. } => "sleep",
            JobKind::Cpu { .. } => "cpu",
            JobKind::Http { .. } => "http",
            JobKind::Fail { .. } => "fail",
        }
    }

    /// The payload, as in a submission.
    pub fn payload(&self) -> Value {
        match self {
            JobKind::Sleep { ms } => serde_json::json!({ "ms": ms }),
            JobKind::Cpu { iterations } => serde_json::json!({ "iterations": iterations }),
            JobKind::Http { url, timeout_ms } => {
                serde_json::json!({ "url": url, "timeout_ms": timeout_ms })
            }
            JobKind::Fail {
                times,
                panic: false,
            } => serde_json::json!({ "times": times }),
            JobKind::Fail { times, panic: true } => {
                serde_json::json!({ "times": times, "panic": true })
            }
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
    /// Its priority.
    pub priority: Priority,
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
    /// Accepted, waiting for its time (`delay_ms`, `run_at`); then pending.
    Scheduled {
        /// When it becomes pending, in RFC 3339 (UTC).
        run_at: String,
        /// Milliseconds until then.
        run_in_ms: u64,
    },
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
            StateView::Scheduled { .. } => "scheduled",
            StateView::Pending => "pending",
            StateView::Running { .. } => "running",
            StateView::Completed { .. } => "completed",
            StateView::Failed { .. } => "failed",
            StateView::Dead { .. } => "dead",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(body: &str) -> String {
        JobSpec::parse(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn submissions_of_each_type_are_read() {
        let parse = |body: &str| JobSpec::parse(body.as_bytes()).unwrap();
        assert_eq!(
            parse(r#"{"type":"cpu","payload":{"iterations":7},"max_retries":0}"#),
            JobSpec {
                kind: JobKind::Cpu { iterations: 7 },
                max_retries: 0,
                priority: Priority::Normal,
                run_at: None,
            }
        );
        assert_eq!(
            parse(r#"{"max_retries":25,"payload":{"times":2},"type":"fail","priority":"low"}"#),
            JobSpec {
                kind: JobKind::Fail {
                    times: 2,
                    panic: false
                },
                max_retries: 25,
                priority: Priority::Low,
                run_at: None,
            }
        );
        let sleep = parse(r#"{"type":"sleep","payload":{"ms":0}}"#);
        assert_eq!(sleep.kind.name(), "sleep");
        assert_eq!(sleep.kind.payload(), serde_json::json!({ "ms": 0 }));
    }

    #[test]
    fn what_is_wrong_is_said_the_type_first() {
        assert!(error("{").starts_with("malformed JSON"));
        assert_eq!(
            error(r#"{"type":"resize","file":"img.png"}"#),
            "invalid job: unknown job type \"resize\" (known: sleep, cpu, http, fail)"
        );
        assert_eq!(
            error(r#"{"type":7}"#),
            "invalid job: `type` must be a string (one of sleep, cpu, http, fail), got 7"
        );
        assert_eq!(
            error(r#"{"type":"sleep","payload":{"ms":1},"queue":"mail"}"#),
            "invalid job: unknown field `queue` (a job has `type`, `payload`, `max_retries`, \
             `priority`, and `delay_ms` or `run_at`)"
        );
        assert_eq!(
            error(r#"{"type":"sleep","payload":{"ms":1},"priority":1}"#),
            "invalid job: `priority` must be \"high\", \"normal\" or \"low\", got 1"
        );
        assert_eq!(
            error(r#"{"type":"sleep","payload":{"ms":1},"max_retries":-1}"#),
            "invalid job: `max_retries` must be a whole number from 0 to 25, got -1"
        );
        assert_eq!(
            error(r#"{"type":"sleep","payload":[1]}"#),
            "invalid job: the payload of a sleep job must be an object with `ms`, got [1]"
        );
        assert_eq!(
            error(r#"{"type":"sleep","payload":{"ms":1,"s":2}}"#),
            "invalid job: the payload of a sleep job has an unknown field `s` (it takes `ms`)"
        );
        assert_eq!(
            error(r#"{"type":"sleep","payload":{"ms":86400001}}"#),
            "invalid job: the payload of a sleep job: `ms` must be a whole number from 0 to \
             86400000, got 86400001"
        );
        assert_eq!(
            error(r#"{"type":"fail","payload":{"times":1.5}}"#),
            "invalid job: the payload of a fail job: `times` must be a whole number from 0 to \
             4294967295, got 1.5"
        );
    }

    #[test]
    fn a_job_is_scheduled_by_delay_or_by_time_not_both() {
        let parse = |body: &str| JobSpec::parse(body.as_bytes()).unwrap();
        let before = SystemTime::now();
        let delayed = parse(r#"{"type":"sleep","payload":{"ms":0},"delay_ms":60000}"#);
        let at = delayed.run_at.expect("scheduled");
        assert!(at >= before + Duration::from_secs(60));
        assert!(at <= SystemTime::now() + Duration::from_secs(60));
        let timed = parse(r#"{"type":"sleep","payload":{"ms":0},"run_at":"2020-01-02T03:04:05Z"}"#);
        assert_eq!(
            timed.run_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_934_245))
        );
        assert_eq!(
            error(
                r#"{"type":"sleep","payload":{"ms":0},"delay_ms":1,"run_at":"2020-01-02T03:04:05Z"}"#
            ),
            "invalid job: give `delay_ms` or `run_at`, not both"
        );
        assert!(
            error(r#"{"type":"sleep","payload":{"ms":0},"delay_ms":-5}"#)
                .contains("`delay_ms` must be a whole number from 0 to 31536000000")
        );
        assert!(
            error(r#"{"type":"sleep","payload":{"ms":0},"run_at":"tomorrow"}"#)
                .contains("`run_at` must be a UTC time in RFC 3339")
        );
        assert!(
            error(r#"{"type":"sleep","payload":{"ms":0},"run_at":"2999-01-01T00:00:00Z"}"#)
                .contains("more than a year ahead")
        );
    }

    #[test]
    fn http_jobs_take_a_timeout_that_their_payload_keeps() {
        let parse = |body: &str| JobSpec::parse(body.as_bytes()).unwrap();
        let plain = parse(r#"{"type":"http","payload":{"url":"http://h/"}}"#);
        assert_eq!(
            plain.kind,
            JobKind::Http {
                url: "http://h/".into(),
                timeout_ms: 10_000
            }
        );
        let quick = parse(r#"{"type":"http","payload":{"url":"http://h/","timeout_ms":250}}"#);
        assert_eq!(
            quick.kind.payload(),
            serde_json::json!({ "url": "http://h/", "timeout_ms": 250 })
        );
        // What the journal stores and reads back.
        for spec in [plain, quick] {
            let stored =
                serde_json::json!({ "type": spec.kind.name(), "payload": spec.kind.payload() });
            assert_eq!(parse(&stored.to_string()), spec);
        }
        for (timeout, got) in [
            ("0", "0"),
            ("300001", "300001"),
            ("1.5", "1.5"),
            ("\"1s\"", "\"1s\""),
        ] {
            assert_eq!(
                error(&format!(
                    r#"{{"type":"http","payload":{{"url":"http://h/","timeout_ms":{timeout}}}}}"#
                )),
                format!(
                    "invalid job: the payload of an http job: `timeout_ms` must be a whole number \
                     from 1 to 300000, got {got}"
                )
            );
        }
    }

    #[test]
    fn ids_are_digits_only() {
        assert_eq!(JobId::parse("42"), Some(JobId(42)));
        for bad in ["", "+1", "-1", "1a", " 1", "99999999999999999999999"] {
            assert_eq!(JobId::parse(bad), None, "{bad:?}");
        }
    }
}
