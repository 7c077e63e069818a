//! Memory per parked task: runs the memory probe (`mt-memory`, see
//! [`probe`](super::probe)) once per runtime, wait and round, each in a
//! fresh process, and turns its answers into rows of bytes per task.

use std::process::{Command, Stdio};

use clap::ValueEnum;

use super::probe::{self, Park, ProbeSample};
use crate::harness::{self, Evict, Flavour, WorkloadResult};
use crate::{Rt, bins};

/// The probe's binary.
const PROBE: &str = "mt-memory";
/// The names of the rows of tasks parked on `pending()`, which have
/// targets.
pub const PENDING_HEAP: &str = "pending(): heap bytes";
pub const PENDING_RSS: &str = "pending(): RSS bytes";

/// Builds the probe (unless `no_build`), then measures `tasks` tasks parked
/// each way on every runtime of `runtimes`, in `runs` interleaved rounds
/// (after one untimed warm-up probe per runtime, as every workload has).
/// Three rows per wait: heap bytes, resident bytes and allocations per
/// task. `Err` says why there are none.
pub fn run(
    runtimes: &[Rt],
    tasks: usize,
    runs: u64,
    no_build: bool,
) -> Result<Vec<WorkloadResult>, String> {
    if !no_build {
        build()?;
    }
    // The probes run in processes of their own: nothing to evict here.
    let mut evict = Evict::new(false);
    let mut rows = Vec::new();
    for park in [Park::Pending, Park::Oneshot] {
        let samples = harness::rounds(runtimes, runs, &mut evict, |rt, _timed| {
            measure(rt, park, tasks)
        });
        let mut per_task: [[Vec<f64>; 3]; 3] = Default::default();
        for (rt, samples) in samples.into_iter().enumerate() {
            for sample in samples {
                let sample = sample?;
                let n = sample.tasks.max(1) as f64;
                per_task[0][rt].push(sample.heap_bytes as f64 / n);
                per_task[1][rt].push(sample.rss_bytes as f64 / n);
                per_task[2][rt].push(sample.allocations as f64 / n);
            }
        }
        let [heap, rss, allocations] = per_task;
        let (heap_name, rss_name, allocations_name) = match park {
            Park::Pending => (PENDING_HEAP, PENDING_RSS, "pending(): allocations"),
            Park::Oneshot => (
                "oneshot: heap bytes",
                "oneshot: RSS bytes",
                "oneshot: allocations",
            ),
        };
        let row = |name, unit, samples| {
            WorkloadResult::of_flavour(Flavour::MultiThread, name, unit, samples)
        };
        rows.push(row(heap_name, "B/task", heap));
        rows.push(row(rss_name, "B/task", rss));
        rows.push(row(allocations_name, "allocations/task", allocations));
    }
    Ok(rows)
}

/// Builds the probe with cargo; `Err` says why it could not be.
fn build() -> Result<(), String> {
    match bins::cargo_build(&["-p", "pollen-bench", "--bin", PROBE]) {
        // No workspace to build in: use the binary as it is.
        None => Ok(()),
        Some(Ok(out)) if out.status.success() => Ok(()),
        Some(Ok(out)) => Err(format!(
            "`cargo build --bin {PROBE}`: {}",
            bins::first_error(&out)
        )),
        Some(Err(e)) => Err(format!("could not run cargo to build {PROBE}: {e}")),
    }
}

/// Runs the probe once: `tasks` tasks parked on `park` on `rt`.
fn measure(rt: Rt, park: Park, tasks: usize) -> Result<ProbeSample, String> {
    let runtime = match rt {
        Rt::Pollen => probe::Runtime::Pollen,
        Rt::Tokio => probe::Runtime::Tokio,
        Rt::Smol => probe::Runtime::Smol,
    };
    let runtime = arg(runtime);
    let park = arg(park);
    let path = bins::path(PROBE);
    let out = Command::new(&path)
        .args(["--runtime", &runtime, "--park", &park, "--tasks"])
        .arg(tasks.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", path.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{PROBE} --runtime {runtime} --park {park}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_str(stdout.trim()).map_err(|e| format!("{PROBE}: {e} in {stdout:?}"))
}

/// `value` as the probe's command line spells it.
fn arg(value: impl ValueEnum) -> String {
    value
        .to_possible_value()
        .expect("no value is hidden")
        .get_name()
        .to_owned()
}
