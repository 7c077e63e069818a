//! Channel workloads: pollen-core's `channel::mpsc` and `channel::oneshot`
//! against tokio's `sync::mpsc` and `sync::oneshot` and smol's channels
//! (`async-channel`, which `smol` re-exports as `smol::channel`), every
//! task of a run on one thread.
//!
//! # What is measured
//!
//! 1. **mpsc 1->1**: one producer task sends `--messages N` (default
//!    1 000 000) `u64`s through a bounded channel of [`CAPACITY`] (1 024)
//!    slots to one consumer task; ns per message.
//! 2. **mpsc 10->1**: the same N messages from [`PRODUCERS`] (10) producer
//!    tasks together (N / 10 each), through one channel to one consumer.
//! 3. **oneshot**: `--oneshots M` (default 100 000) times, one task creates
//!    a one-shot channel, sends a value and awaits the receiver; ns per
//!    oneshot. The value is there when the receiver is first polled, so
//!    this is the channel's own cost (its allocation, the send, the
//!    receive, the drops), with no task switch.
//! 4. **ping-pong**: `--pairs P` (default 100) pairs of tasks; in each pair
//!    an initiator and a responder pass a counter back and forth
//!    `--round-trips R` (default 1 000) times, every message through a
//!    fresh oneshot: a message carries the value and the sender for the
//!    answer (created by whoever waits for the answer), the request-reply
//!    pattern. A round trip is two oneshots created, sent and received and
//!    two task wake-ups; ns per round trip over all `P * R` round trips of
//!    the run (the pairs run interleaved, so this is throughput with about
//!    `P` tasks runnable at a time, not one pair's latency).
//!
//! Each runtime with its ordinary API, its channels in their heap form
//! (an `Arc`; pollen's oneshot is a `Box` freed by its last half):
//!
//! - pollen: `mpsc::channel(1024)` and `oneshot::channel()` (pollen's static
//!   forms need no heap, but the others have no such form), tasks spawned
//!   with `Executor::spawn` from inside `Executor::block_on(&PARK, ..)` on
//!   a `StdPark`.
//! - tokio: `tokio::sync::mpsc::channel(1024)` and `tokio::sync::oneshot`,
//!   tasks spawned with `tokio::spawn` inside the current-thread runtime's
//!   `block_on` (no drivers). tokio's cooperative budget applies as in any
//!   program: its channels return `Pending` (and wake the task at once)
//!   after 128 operations in one poll.
//! - smol: `async_channel::bounded(1024)`, and for a oneshot
//!   `async_channel::bounded(1)`: smol has no one-shot type, and its own
//!   channel crate with one slot is what smol's users reach for (the
//!   `futures-channel` oneshot is the other common choice; it is not
//!   measured here). Sends through the one-slot channel use `try_send`, as
//!   a one-shot send never waits. Tasks are spawned on a `LocalExecutor`
//!   inside `futures_lite::future::block_on(ex.run(..))`.
//!
//! Each run is timed from before the runtime's `block_on` (which creates
//! the channel, spawns the tasks and awaits the consumer's or every pair's
//! result) to its return. Every task has finished by then.
//!
//! # Checks (a broken runtime cannot post a fast figure)
//!
//! - mpsc: every message carries its producer and its index; the consumer
//!   checks that each producer's messages arrive in order, each exactly
//!   once, and after the run that every producer's last message came.
//! - oneshot: every send succeeds, and every receive returns the value just
//!   sent.
//! - ping-pong: every answer is the request plus one, every initiator ends
//!   at `2 * R` and every responder answered exactly `R` requests (it stops
//!   when the initiator drops the last answer's sender, unused).
//!
//! # Caveats
//!
//! One thread, so no contention: the figures are the channels' and the
//! executors' single-thread costs. The oneshot workloads allocate one
//! channel per oneshot on every runtime, so they also measure the memory
//! allocator (glibc's malloc here, shared by the runtimes in one process).

use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use pollen_core::channel::{mpsc, oneshot};
use pollen_core::executor::{Executor, StdPark};
use serde::Serialize;

use crate::Rt;
use crate::harness::{self, Evict, WorkloadResult};

/// pollen's executor for the channel workloads.
static POLLEN: Executor = Executor::new();
/// Where `POLLEN.block_on` sleeps while no task is runnable.
static PARK: StdPark = StdPark::new();

/// The bounded channels' capacity, on every runtime.
pub const CAPACITY: usize = 1024;
/// The producers of the many-to-one mpsc workload.
pub const PRODUCERS: usize = 10;
/// What smol's oneshot is, for the report.
const SMOL_ONESHOT: &str = "async-channel bounded(1)";

/// How much each workload does per run.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Messages per mpsc run (in total, over all producers). At most
    /// `u32::MAX`: a message holds its index in 32 bits.
    pub messages: usize,
    /// Oneshots per oneshot run.
    pub oneshots: usize,
    /// Task pairs per ping-pong run.
    pub pairs: usize,
    /// Round trips per pair per ping-pong run.
    pub round_trips: usize,
}

/// The channel workloads' results.
#[derive(Debug, Serialize)]
pub struct ChannelReport {
    /// Messages per mpsc run.
    pub messages: u64,
    /// Slots of the bounded channels.
    pub capacity: usize,
    /// Producers of the many-to-one mpsc workload.
    pub producers: usize,
    /// Oneshots per oneshot run.
    pub oneshots: u64,
    /// Task pairs per ping-pong run.
    pub pairs: u64,
    /// Round trips per pair per ping-pong run.
    pub round_trips: u64,
    /// The channel that stands for a oneshot on smol.
    pub smol_oneshot: &'static str,
    /// Timed runs per workload and runtime.
    pub runs: u64,
    /// One row per workload, each in its own unit.
    pub workloads: Vec<WorkloadResult>,
    /// The workload where pollen's median is furthest above (or least below)
    /// the faster peer's, if pollen and a peer ran.
    pub slowest: Option<SlowestRatio>,
}

/// pollen's worst standing against the faster of its peers.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SlowestRatio {
    pub workload: &'static str,
    /// The faster of tokio and smol on that workload.
    pub fastest_peer: &'static str,
    /// pollen's median over that peer's (target: <= 1).
    pub pollen_over_fastest_peer: f64,
}

/// Runs every channel workload on `runtimes` (warm-up, then `runs`
/// interleaved rounds).
pub fn run(sizes: Sizes, runtimes: &[Rt], runs: u64, evict: &mut Evict) -> ChannelReport {
    assert!(
        u32::try_from(sizes.messages).is_ok(),
        "--messages must fit in 32 bits"
    );
    let bench = ChannelBench::new(sizes);
    let workloads: Vec<WorkloadResult> = Workload::ALL
        .into_iter()
        .map(|workload| {
            let ops = workload.ops(sizes) as f64;
            let samples = harness::rounds(runtimes, runs, evict, |rt, _timed| {
                bench.run(rt, workload).as_nanos() as f64 / ops
            });
            WorkloadResult::new(workload.name(), workload.unit(), samples)
        })
        .collect();
    let slowest = workloads
        .iter()
        .filter_map(|w| {
            let (peer, median) = w.fastest_peer()?;
            Some(SlowestRatio {
                workload: w.workload,
                fastest_peer: peer,
                pollen_over_fastest_peer: w.pollen?.median / median,
            })
        })
        .max_by(|a, b| {
            a.pollen_over_fastest_peer
                .total_cmp(&b.pollen_over_fastest_peer)
        });
    ChannelReport {
        messages: sizes.messages as u64,
        capacity: CAPACITY,
        producers: PRODUCERS,
        oneshots: sizes.oneshots as u64,
        pairs: sizes.pairs as u64,
        round_trips: sizes.round_trips as u64,
        smol_oneshot: SMOL_ONESHOT,
        runs,
        workloads,
        slowest,
    }
}

/// A workload.
#[derive(Clone, Copy, Debug)]
enum Workload {
    MpscOne,
    MpscMany,
    Oneshot,
    PingPong,
}

impl Workload {
    const ALL: [Workload; 4] = [
        Workload::MpscOne,
        Workload::MpscMany,
        Workload::Oneshot,
        Workload::PingPong,
    ];

    fn name(self) -> &'static str {
        match self {
            Workload::MpscOne => "mpsc 1->1",
            Workload::MpscMany => "mpsc 10->1",
            Workload::Oneshot => "oneshot",
            Workload::PingPong => "ping-pong",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Workload::MpscOne | Workload::MpscMany => "ns/msg",
            Workload::Oneshot => "ns/oneshot",
            Workload::PingPong => "ns/round trip",
        }
    }

    /// What one run does, in the row's unit.
    fn ops(self, sizes: Sizes) -> usize {
        match self {
            Workload::MpscOne | Workload::MpscMany => sizes.messages,
            Workload::Oneshot => sizes.oneshots,
            Workload::PingPong => sizes.pairs * sizes.round_trips,
        }
    }
}

/// The runtimes, built once, outside any timed region.
struct ChannelBench {
    sizes: Sizes,
    /// Current-thread, no drivers.
    tokio: tokio::runtime::Runtime,
    smol: LocalExecutor<'static>,
}

impl ChannelBench {
    fn new(sizes: Sizes) -> ChannelBench {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("building tokio's current-thread runtime");
        ChannelBench {
            sizes,
            tokio,
            smol: LocalExecutor::new(),
        }
    }

    /// Runs `workload` once on `rt`; returns the time of the timed region.
    /// Panics if the workload's result is wrong.
    fn run(&self, rt: Rt, workload: Workload) -> Duration {
        match workload {
            Workload::MpscOne => self.mpsc(rt, 1),
            Workload::MpscMany => self.mpsc(rt, PRODUCERS),
            Workload::Oneshot => self.oneshot(rt),
            Workload::PingPong => self.ping_pong(rt),
        }
    }

    /// `producers` tasks send `messages` messages in all through one
    /// bounded channel to one consumer task.
    fn mpsc(&self, rt: Rt, producers: usize) -> Duration {
        let n = self.sizes.messages;
        let start = Instant::now();
        let tally = match rt {
            Rt::Pollen => POLLEN.block_on(&PARK, async {
                let (tx, mut rx) = mpsc::channel(CAPACITY);
                for p in 0..producers {
                    let tx = tx.clone();
                    drop(POLLEN.spawn(async move {
                        for message in messages(p, producers, n) {
                            let sent = tx.send(message).await;
                            assert!(sent.is_ok(), "pollen: the receiver went early");
                        }
                    }));
                }
                drop(tx);
                let consumer = POLLEN.spawn(async move {
                    let mut tally = Tally::default();
                    while let Some(message) = rx.recv().await {
                        tally.add(message);
                    }
                    tally
                });
                consumer.await.expect("pollen: the consumer failed")
            }),
            Rt::Tokio => self.tokio.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(CAPACITY);
                for p in 0..producers {
                    let tx = tx.clone();
                    drop(tokio::spawn(async move {
                        for message in messages(p, producers, n) {
                            let sent = tx.send(message).await;
                            assert!(sent.is_ok(), "tokio: the receiver went early");
                        }
                    }));
                }
                drop(tx);
                let consumer = tokio::spawn(async move {
                    let mut tally = Tally::default();
                    while let Some(message) = rx.recv().await {
                        tally.add(message);
                    }
                    tally
                });
                consumer.await.expect("tokio: the consumer failed")
            }),
            Rt::Smol => {
                let ex = &self.smol;
                futures_lite::future::block_on(ex.run(async {
                    let (tx, rx) = async_channel::bounded(CAPACITY);
                    for p in 0..producers {
                        let tx = tx.clone();
                        ex.spawn(async move {
                            for message in messages(p, producers, n) {
                                let sent = tx.send(message).await;
                                assert!(sent.is_ok(), "smol: the receiver went early");
                            }
                        })
                        .detach();
                    }
                    drop(tx);
                    let consumer = ex.spawn(async move {
                        let mut tally = Tally::default();
                        while let Ok(message) = rx.recv().await {
                            tally.add(message);
                        }
                        tally
                    });
                    consumer.await
                }))
            }
        };
        let elapsed = start.elapsed();
        tally.check(rt, producers, n);
        elapsed
    }

    /// Creates, sends on and receives from `oneshots` one-shot channels,
    /// one after the other, in one task.
    fn oneshot(&self, rt: Rt) -> Duration {
        let n = self.sizes.oneshots as u64;
        let start = Instant::now();
        let echo = match rt {
            Rt::Pollen => POLLEN.block_on(&PARK, async {
                let mut echo = Echo::default();
                for value in 0..n {
                    let (tx, rx) = oneshot::channel();
                    let sent = tx.send(value);
                    echo.add(sent.is_ok(), value, rx.await.ok());
                }
                echo
            }),
            Rt::Tokio => self.tokio.block_on(async {
                let mut echo = Echo::default();
                for value in 0..n {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let sent = tx.send(value);
                    echo.add(sent.is_ok(), value, rx.await.ok());
                }
                echo
            }),
            Rt::Smol => futures_lite::future::block_on(self.smol.run(async {
                let mut echo = Echo::default();
                for value in 0..n {
                    let (tx, rx) = async_channel::bounded(1);
                    let sent = tx.try_send(value);
                    drop(tx);
                    echo.add(sent.is_ok(), value, rx.recv().await.ok());
                }
                echo
            })),
        };
        let elapsed = start.elapsed();
        echo.check(rt, n);
        elapsed
    }

    /// `pairs` pairs of tasks each make `round_trips` round trips, every
    /// message through a fresh oneshot.
    fn ping_pong(&self, rt: Rt) -> Duration {
        let Sizes {
            pairs, round_trips, ..
        } = self.sizes;
        let start = Instant::now();
        let ends = match rt {
            Rt::Pollen => POLLEN.block_on(&PARK, async {
                let mut handles = Vec::with_capacity(pairs);
                for _ in 0..pairs {
                    let (tx, rx) = oneshot::channel();
                    let responder = POLLEN.spawn(pollen_responder(rx));
                    let initiator = POLLEN.spawn(pollen_initiator(tx, round_trips));
                    handles.push((initiator, responder));
                }
                let mut ends = Vec::with_capacity(pairs);
                for (initiator, responder) in handles {
                    let initiator = initiator.await.expect("pollen: an initiator failed");
                    let responder = responder.await.expect("pollen: a responder failed");
                    ends.push(PairEnd {
                        initiator,
                        responder,
                    });
                }
                ends
            }),
            Rt::Tokio => self.tokio.block_on(async {
                let mut handles = Vec::with_capacity(pairs);
                for _ in 0..pairs {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let responder = tokio::spawn(tokio_responder(rx));
                    let initiator = tokio::spawn(tokio_initiator(tx, round_trips));
                    handles.push((initiator, responder));
                }
                let mut ends = Vec::with_capacity(pairs);
                for (initiator, responder) in handles {
                    let initiator = initiator.await.expect("tokio: an initiator failed");
                    let responder = responder.await.expect("tokio: a responder failed");
                    ends.push(PairEnd {
                        initiator,
                        responder,
                    });
                }
                ends
            }),
            Rt::Smol => {
                let ex = &self.smol;
                futures_lite::future::block_on(ex.run(async {
                    let mut handles = Vec::with_capacity(pairs);
                    for _ in 0..pairs {
                        let (tx, rx) = async_channel::bounded(1);
                        let responder = ex.spawn(smol_responder(rx));
                        let initiator = ex.spawn(smol_initiator(tx, round_trips));
                        handles.push((initiator, responder));
                    }
                    let mut ends = Vec::with_capacity(pairs);
                    for (initiator, responder) in handles {
                        ends.push(PairEnd {
                            initiator: initiator.await,
                            responder: responder.await,
                        });
                    }
                    ends
                }))
            }
        };
        let elapsed = start.elapsed();
        PairEnd::check(&ends, rt, pairs, round_trips);
        elapsed
    }
}

/// The messages producer `p` of `producers` sends, `messages` in all
/// between them: its index in the high 32 bits, the message's index among
/// its own in the low 32.
fn messages(p: usize, producers: usize, messages: usize) -> impl Iterator<Item = u64> {
    let tag = (p as u64) << 32;
    (0..share(p, producers, messages) as u64).map(move |i| tag | i)
}

/// How many of `messages` producer `p` of `producers` sends.
fn share(p: usize, producers: usize, messages: usize) -> usize {
    messages / producers + usize::from(p < messages % producers)
}

/// What the mpsc consumer saw: for each producer, the index of the next
/// message it expects from it.
#[derive(Debug, Default)]
struct Tally {
    next: [u64; PRODUCERS],
    /// Messages out of order, repeated, or from no producer.
    stray: u64,
}

impl Tally {
    fn add(&mut self, message: u64) {
        let (p, i) = ((message >> 32) as usize, message & u64::from(u32::MAX));
        match self.next.get_mut(p) {
            Some(next) if *next == i => *next += 1,
            _ => self.stray += 1,
        }
    }

    /// Panics unless every producer's messages all came, in order, once.
    fn check(&self, rt: Rt, producers: usize, messages: usize) {
        assert_eq!(
            self.stray, 0,
            "{rt:?}: {} messages out of order or repeated",
            self.stray
        );
        for (p, &next) in self.next.iter().enumerate() {
            let sent = if p < producers {
                share(p, producers, messages)
            } else {
                0
            };
            assert_eq!(
                next, sent as u64,
                "{rt:?}: {next} of producer {p}'s {sent} messages came"
            );
        }
    }
}

/// What the oneshot loop saw.
#[derive(Debug, Default)]
struct Echo {
    /// Values sent and received back.
    echoed: u64,
    /// Sends that failed, receives that failed or returned another value.
    wrong: u64,
}

impl Echo {
    fn add(&mut self, sent: bool, value: u64, received: Option<u64>) {
        if sent && received == Some(value) {
            self.echoed += 1;
        } else {
            self.wrong += 1;
        }
    }

    /// Panics unless all `oneshots` values came back.
    fn check(&self, rt: Rt, oneshots: u64) {
        assert_eq!(self.wrong, 0, "{rt:?}: {} oneshots failed", self.wrong);
        assert_eq!(
            self.echoed, oneshots,
            "{rt:?}: {} of {oneshots} oneshots came back",
            self.echoed
        );
    }
}

/// How one ping-pong pair ended: the initiator's last value, and how many
/// requests the responder answered.
#[derive(Clone, Copy, Debug)]
struct PairEnd {
    initiator: u64,
    responder: u64,
}

impl PairEnd {
    /// Panics unless all `pairs` pairs made all `round_trips` round trips.
    fn check(ends: &[PairEnd], rt: Rt, pairs: usize, round_trips: usize) {
        assert_eq!(ends.len(), pairs, "{rt:?}: {} of {pairs} pairs", ends.len());
        let round_trips = round_trips as u64;
        for (i, end) in ends.iter().enumerate() {
            assert_eq!(
                end.initiator,
                2 * round_trips,
                "{rt:?}: pair {i}'s initiator ended at {} (of {round_trips} round trips)",
                end.initiator
            );
            assert_eq!(
                end.responder, round_trips,
                "{rt:?}: pair {i}'s responder answered {} of {round_trips} requests",
                end.responder
            );
        }
    }
}

// Each runtime's ping-pong tasks. A message carries the value and the
// sender for its answer; the initiator returns its last value, the
// responder how many requests it answered. Both panic on a wrong value or
// a lost message.

/// A ping-pong message on pollen.
struct PollenMsg {
    value: u64,
    reply: oneshot::Sender<'static, PollenMsg>,
}

async fn pollen_initiator(mut to_peer: oneshot::Sender<'static, PollenMsg>, trips: usize) -> u64 {
    let mut value = 0;
    for _ in 0..trips {
        let (reply, answer) = oneshot::channel();
        let sent = to_peer.send(PollenMsg { value, reply });
        assert!(sent.is_ok(), "pollen: a responder went early");
        let msg = answer.await.expect("pollen: a responder did not answer");
        assert_eq!(msg.value, value + 1, "pollen: a wrong answer");
        value = msg.value + 1;
        to_peer = msg.reply;
    }
    value
}

async fn pollen_responder(mut from_peer: oneshot::Receiver<'static, PollenMsg>) -> u64 {
    let mut answered = 0;
    while let Ok(PollenMsg { value, reply }) = from_peer.await {
        let (to_me, next) = oneshot::channel();
        let sent = reply.send(PollenMsg {
            value: value + 1,
            reply: to_me,
        });
        assert!(sent.is_ok(), "pollen: an initiator went early");
        from_peer = next;
        answered += 1;
    }
    answered
}

/// A ping-pong message on tokio.
struct TokioMsg {
    value: u64,
    reply: tokio::sync::oneshot::Sender<TokioMsg>,
}

async fn tokio_initiator(mut to_peer: tokio::sync::oneshot::Sender<TokioMsg>, trips: usize) -> u64 {
    let mut value = 0;
    for _ in 0..trips {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let sent = to_peer.send(TokioMsg { value, reply });
        assert!(sent.is_ok(), "tokio: a responder went early");
        let msg = answer.await.expect("tokio: a responder did not answer");
        assert_eq!(msg.value, value + 1, "tokio: a wrong answer");
        value = msg.value + 1;
        to_peer = msg.reply;
    }
    value
}

async fn tokio_responder(mut from_peer: tokio::sync::oneshot::Receiver<TokioMsg>) -> u64 {
    let mut answered = 0;
    while let Ok(TokioMsg { value, reply }) = from_peer.await {
        let (to_me, next) = tokio::sync::oneshot::channel();
        let sent = reply.send(TokioMsg {
            value: value + 1,
            reply: to_me,
        });
        assert!(sent.is_ok(), "tokio: an initiator went early");
        from_peer = next;
        answered += 1;
    }
    answered
}

/// A ping-pong message on smol (a oneshot is a one-slot `async-channel`).
struct SmolMsg {
    value: u64,
    reply: async_channel::Sender<SmolMsg>,
}

async fn smol_initiator(to_peer: async_channel::Sender<SmolMsg>, trips: usize) -> u64 {
    let mut to_peer = to_peer;
    let mut value = 0;
    for _ in 0..trips {
        let (reply, answer) = async_channel::bounded(1);
        let sent = to_peer.try_send(SmolMsg { value, reply });
        assert!(sent.is_ok(), "smol: a responder went early");
        let msg = answer
            .recv()
            .await
            .expect("smol: a responder did not answer");
        assert_eq!(msg.value, value + 1, "smol: a wrong answer");
        value = msg.value + 1;
        to_peer = msg.reply;
    }
    value
}

async fn smol_responder(from_peer: async_channel::Receiver<SmolMsg>) -> u64 {
    let mut from_peer = from_peer;
    let mut answered = 0;
    while let Ok(SmolMsg { value, reply }) = from_peer.recv().await {
        let (to_me, next) = async_channel::bounded(1);
        let sent = reply.try_send(SmolMsg {
            value: value + 1,
            reply: to_me,
        });
        assert!(sent.is_ok(), "smol: an initiator went early");
        from_peer = next;
        answered += 1;
    }
    answered
}
