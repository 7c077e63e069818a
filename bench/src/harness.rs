//! The measuring harness every workload shares: untimed warm-up, interleaved
//! rounds, cache eviction before each timed run, and `median (min)` rows
//! with pollen's ratios to the other runtimes.

use serde::Serialize;

use crate::Rt;

/// Runs `run` once per runtime untimed (warm-up: allocator pools, caches,
/// lazily started threads), then `runs` rounds, each running every runtime
/// in turn after a cache eviction, so that machine noise falls on all of
/// them alike. `run(rt, timed)` is told whether the run counts.
///
/// Returns each runtime's timed samples, indexed by `rt as usize` (empty for
/// a runtime not in `runtimes`).
pub fn rounds<T>(
    runtimes: &[Rt],
    runs: u64,
    evict: &mut Evict,
    mut run: impl FnMut(Rt, bool) -> T,
) -> [Vec<T>; 3] {
    for &rt in runtimes {
        run(rt, false);
    }
    let mut samples: [Vec<T>; 3] = Default::default();
    for _round in 0..runs {
        for &rt in runtimes {
            evict.run();
            samples[rt as usize].push(run(rt, true));
        }
    }
    samples
}

/// A buffer larger than the last-level cache, written before every timed
/// run so that each run starts from the same cold caches, whichever runtime
/// ran before it.
pub struct Evict {
    /// Empty when eviction is off (`--no-evict`).
    buf: Vec<u64>,
    pass: u64,
}

impl Evict {
    /// 64 MiB: twice the 32 MiB last-level cache of the machines this was
    /// written on.
    const BYTES: usize = 64 << 20;

    /// An evicter; with `enabled` false, [`run`](Self::run) does nothing.
    pub fn new(enabled: bool) -> Evict {
        let words = if enabled { Evict::BYTES / 8 } else { 0 };
        Evict {
            buf: vec![0; words],
            pass: 0,
        }
    }

    /// Writes one word of every cache line of the buffer.
    pub fn run(&mut self) {
        self.pass += 1;
        for line in self.buf.chunks_mut(8) {
            line[0] = self.pass;
        }
        std::hint::black_box(&mut self.buf);
    }
}

/// Median and minimum of one runtime's runs, in the row's unit.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
}

impl Stats {
    /// `None` for no samples (a runtime left out with `--only`).
    pub fn of(mut samples: Vec<f64>) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_by(f64::total_cmp);
        let len = samples.len();
        let median = if len % 2 == 1 {
            samples[len / 2]
        } else {
            (samples[len / 2 - 1] + samples[len / 2]) / 2.0
        };
        Some(Stats {
            median,
            min: samples[0],
        })
    }
}

/// One table row: a workload's figures on each runtime (`None` for a
/// runtime left out with `--only`), and pollen's ratios.
#[derive(Debug, Serialize)]
pub struct WorkloadResult {
    pub workload: &'static str,
    pub unit: &'static str,
    pub pollen: Option<Stats>,
    pub tokio_ct: Option<Stats>,
    pub smol_local: Option<Stats>,
    /// pollen's median over tokio's.
    pub pollen_over_tokio: Option<f64>,
    /// pollen's median over smol's.
    pub pollen_over_smol: Option<f64>,
}

impl WorkloadResult {
    /// The row for `samples`, indexed by `rt as usize`.
    pub fn new(workload: &'static str, unit: &'static str, samples: [Vec<f64>; 3]) -> Self {
        let [pollen, tokio, smol] = samples.map(Stats::of);
        let ratio = |other: Option<Stats>| Some(pollen?.median / other?.median);
        WorkloadResult {
            workload,
            unit,
            pollen,
            tokio_ct: tokio,
            smol_local: smol,
            pollen_over_tokio: ratio(tokio),
            pollen_over_smol: ratio(smol),
        }
    }

    /// The faster of tokio and smol on this workload (the lower median),
    /// and its median; `None` if neither ran.
    pub fn fastest_peer(&self) -> Option<(&'static str, f64)> {
        [("tokio-ct", self.tokio_ct), ("smol-local", self.smol_local)]
            .into_iter()
            .filter_map(|(name, stats)| Some((name, stats?.median)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }
}
