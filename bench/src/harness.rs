//! The measuring harness every workload shares: untimed warm-up, interleaved
//! rounds, cache eviction before each timed run, and `median (min)` rows
//! with pollen's ratios to the other runtimes.

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

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

/// Which kind of tokio and smol runtime a row compares pollen with: it
/// names their columns in the tables and their fields in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// tokio's current-thread runtime and smol's `LocalExecutor`, every
    /// task on one thread (every suite but mt).
    CurrentThread,
    /// tokio's multi-thread runtime and smol's `Executor` on a pool of
    /// threads (the mt suite).
    MultiThread,
}

impl Flavour {
    /// tokio's and smol's names in the tables, and their fields in JSON.
    pub fn peers(self) -> [Peer; 2] {
        match self {
            Flavour::CurrentThread => [
                Peer {
                    name: "tokio-ct",
                    field: "tokio_ct",
                },
                Peer {
                    name: "smol-local",
                    field: "smol_local",
                },
            ],
            Flavour::MultiThread => [
                Peer {
                    name: "tokio-mt",
                    field: "tokio_mt",
                },
                Peer {
                    name: "smol-mt",
                    field: "smol_mt",
                },
            ],
        }
    }
}

/// How a peer runtime of one [`Flavour`] is named.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    /// In the tables and messages.
    pub name: &'static str,
    /// Its field in JSON.
    pub field: &'static str,
}

/// One table row: a workload's figures on each runtime (`None` for a
/// runtime left out with `--only`), and pollen's ratios.
///
/// In JSON, tokio's and smol's figures are named for the row's
/// [`Flavour`] (`tokio_ct` and `smol_local`, or `tokio_mt` and `smol_mt`).
#[derive(Debug)]
pub struct WorkloadResult {
    pub workload: &'static str,
    pub unit: &'static str,
    pub flavour: Flavour,
    pub pollen: Option<Stats>,
    pub tokio: Option<Stats>,
    pub smol: Option<Stats>,
    /// pollen's median over tokio's.
    pub pollen_over_tokio: Option<f64>,
    /// pollen's median over smol's.
    pub pollen_over_smol: Option<f64>,
}

impl WorkloadResult {
    /// The row for `samples` against tokio's current-thread runtime and
    /// smol's `LocalExecutor`, indexed by `rt as usize`.
    pub fn new(workload: &'static str, unit: &'static str, samples: [Vec<f64>; 3]) -> Self {
        WorkloadResult::of_flavour(Flavour::CurrentThread, workload, unit, samples)
    }

    /// The row for `samples` against the peers of `flavour`, indexed by
    /// `rt as usize`.
    pub fn of_flavour(
        flavour: Flavour,
        workload: &'static str,
        unit: &'static str,
        samples: [Vec<f64>; 3],
    ) -> Self {
        let [pollen, tokio, smol] = samples.map(Stats::of);
        let ratio = |other: Option<Stats>| Some(pollen?.median / other?.median);
        WorkloadResult {
            workload,
            unit,
            flavour,
            pollen,
            tokio,
            smol,
            pollen_over_tokio: ratio(tokio),
            pollen_over_smol: ratio(smol),
        }
    }

    /// The faster of tokio and smol on this workload (the lower median),
    /// and its median; `None` if neither ran.
    pub fn fastest_peer(&self) -> Option<(&'static str, f64)> {
        let [tokio, smol] = self.flavour.peers();
        [(tokio.name, self.tokio), (smol.name, self.smol)]
            .into_iter()
            .filter_map(|(name, stats)| Some((name, stats?.median)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// pollen's median over the faster peer's, and that peer's name;
    /// `None` unless pollen and a peer ran.
    pub fn pollen_over_fastest_peer(&self) -> Option<(&'static str, f64)> {
        let (peer, median) = self.fastest_peer()?;
        Some((peer, self.pollen?.median / median))
    }
}

impl Serialize for WorkloadResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let [tokio, smol] = self.flavour.peers();
        let mut row = serializer.serialize_struct("WorkloadResult", 7)?;
        row.serialize_field("workload", self.workload)?;
        row.serialize_field("unit", self.unit)?;
        row.serialize_field("pollen", &self.pollen)?;
        row.serialize_field(tokio.field, &self.tokio)?;
        row.serialize_field(smol.field, &self.smol)?;
        row.serialize_field("pollen_over_tokio", &self.pollen_over_tokio)?;
        row.serialize_field("pollen_over_smol", &self.pollen_over_smol)?;
        row.end()
    }
}
