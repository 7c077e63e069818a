//! The wheel against a simple model: a `BTreeMap` keyed by deadline.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::pin::Pin;
use core::ptr::NonNull;

use super::{LEVELS, Node, RANGE, SLOT_BITS, Wheel, level_for};

/// xorshift64*: a seeded sequence, the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Timers for the tests: pinned nodes and what the test knows of them.
struct Timers {
    nodes: Vec<Pin<Box<Node>>>,
}

impl Timers {
    fn new(n: usize) -> Timers {
        Timers {
            nodes: (0..n).map(|_| Box::pin(Node::new())).collect(),
        }
    }

    fn ptr(&self, id: usize) -> NonNull<Node> {
        NonNull::from(&*self.nodes[id])
    }

    fn id(&self, node: NonNull<Node>) -> usize {
        self.nodes
            .iter()
            .position(|n| core::ptr::eq(&**n, node.as_ptr()))
            .expect("a node of this test")
    }
}

/// Fires everything due at `now`, as `(deadline, id)` in firing order.
fn fire(wheel: &mut Wheel, timers: &Timers, when: &[u64], now: u64) -> Vec<(u64, usize)> {
    let mut fired = Vec::new();
    // SAFETY: every node in the wheel is one of `timers`, alive and pinned.
    while let Some(node) = unsafe { wheel.poll(now) } {
        let id = timers.id(node);
        fired.push((when[id], id));
    }
    assert_eq!(wheel.elapsed(), now.max(wheel.elapsed()));
    fired
}

#[test]
fn levels_cover_their_blocks() {
    assert_eq!(level_for(0, 1), 0);
    assert_eq!(level_for(0, 63), 0);
    assert_eq!(level_for(0, 64), 1);
    assert_eq!(level_for(60, 70), 1);
    assert_eq!(level_for(64, 127), 0);
    assert_eq!(level_for(0, 1 << 12), 2);
    assert_eq!(level_for(0, RANGE - 1), LEVELS - 1);
    // Beyond one rotation of the top level: still the top level.
    assert_eq!(level_for(0, RANGE), LEVELS - 1);
    assert_eq!(level_for(5, u64::MAX), LEVELS - 1);
    assert_eq!(SLOT_BITS as usize * LEVELS, 36);
}

#[test]
fn fires_in_deadline_order_then_reports_nothing() {
    let timers = Timers::new(5);
    let when = [30, 7, 5000, 64, 7];
    let mut wheel = Wheel::new();
    for (id, &w) in when.iter().enumerate() {
        // SAFETY: the nodes outlive the wheel's use of them.
        assert!(unsafe { wheel.insert(timers.ptr(id), w) });
    }
    assert_eq!(wheel.next_deadline(), Some(7));
    let mut fired = fire(&mut wheel, &timers, &when, 100);
    fired[..2].sort();
    assert_eq!(fired, [(7, 1), (7, 4), (30, 0), (64, 3)]);
    assert_eq!(wheel.elapsed(), 100);
    // The 5000-tick timer is at level 2: its slot starts at 4096.
    assert_eq!(wheel.next_deadline(), Some(4096));
    assert!(fire(&mut wheel, &timers, &when, 4999).is_empty());
    assert_eq!(wheel.next_deadline(), Some(5000));
    assert_eq!(fire(&mut wheel, &timers, &when, 5000), [(5000, 2)]);
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn a_due_deadline_is_refused() {
    let timers = Timers::new(1);
    let mut wheel = Wheel::new();
    assert!(fire(&mut wheel, &timers, &[0], 10).is_empty());
    // SAFETY: as above.
    assert!(!unsafe { wheel.insert(timers.ptr(0), 10) });
    // SAFETY: as above.
    assert!(!unsafe { wheel.remove(timers.ptr(0)) }, "it was never in");
    // SAFETY: as above.
    assert!(unsafe { wheel.insert(timers.ptr(0), 11) });
}

#[test]
fn removed_timers_never_fire_even_when_due() {
    let timers = Timers::new(3);
    let when = [10, 10, 20];
    let mut wheel = Wheel::new();
    for (id, &w) in when.iter().enumerate() {
        // SAFETY: as above.
        assert!(unsafe { wheel.insert(timers.ptr(id), w) });
    }
    // SAFETY: as above.
    assert!(unsafe { wheel.remove(timers.ptr(2)) });
    // Both tick-10 timers become due; hand out one, then cancel the other
    // while it waits in the pending list.
    // SAFETY: as above.
    let first = unsafe { wheel.poll(50) }.expect("one is due");
    let other = 1 - timers.id(first);
    // SAFETY: as above.
    assert!(unsafe { wheel.remove(timers.ptr(other)) });
    // SAFETY: as above.
    assert!(!unsafe { wheel.remove(timers.ptr(other)) }, "removed once");
    // SAFETY: as above.
    assert_eq!(unsafe { wheel.poll(50) }, None);
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn deadlines_beyond_one_rotation_fire_on_time() {
    let timers = Timers::new(3);
    let when = [3 * RANGE + 17, RANGE + 1, RANGE - 1];
    let mut wheel = Wheel::new();
    for (id, &w) in when.iter().enumerate() {
        // SAFETY: as above.
        assert!(unsafe { wheel.insert(timers.ptr(id), w) });
    }
    let mut now = 0;
    let mut fired = Vec::new();
    // Step from one reported deadline to the next, as an embedder parking
    // until `next_deadline` would: never past a deadline.
    while let Some(next) = wheel.next_deadline() {
        assert!(next > now || next == wheel.elapsed());
        now = next;
        for (w, id) in fire(&mut wheel, &timers, &when, now) {
            assert_eq!(w, now, "timer {id} fired late or early");
            fired.push(id);
        }
    }
    assert_eq!(fired, [2, 1, 0]);
}

/// Random inserts, removes and advances against a `BTreeMap` model: the
/// same timers fire, at the same advance, in the same deadline order.
#[test]
fn matches_a_btreemap_model() {
    let (seeds, ops) = if cfg!(miri) { (2, 300) } else { (40, 4000) };
    for seed in 1..=seeds {
        differential(seed, ops);
    }
}

fn differential(seed: u64, ops: usize) {
    const N: usize = 64;
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let timers = Timers::new(N);
    let mut when = [0u64; N];
    let mut armed = [false; N];
    let mut model: BTreeMap<(u64, usize), ()> = BTreeMap::new();
    let mut wheel = Wheel::new();
    let mut now = 0u64;
    for _ in 0..ops {
        match rng.below(10) {
            // Arm a timer that is not armed, at a spread of distances.
            0..=4 => {
                let id = rng.below(N as u64) as usize;
                if armed[id] {
                    continue;
                }
                let delta = match rng.below(8) {
                    0 => 0,
                    1 | 2 => rng.below(64),
                    3 | 4 => rng.below(1 << 12),
                    5 => rng.below(1 << 24),
                    6 => rng.below(RANGE),
                    _ => RANGE + rng.below(4 * RANGE),
                };
                let w = now + delta;
                // SAFETY: the nodes outlive the wheel's use of them.
                if unsafe { wheel.insert(timers.ptr(id), w) } {
                    when[id] = w;
                    armed[id] = true;
                    model.insert((w, id), ());
                } else {
                    assert!(w <= now, "refused a future deadline");
                }
            }
            // Cancel a timer.
            5 | 6 => {
                let id = rng.below(N as u64) as usize;
                // SAFETY: as above.
                let was = unsafe { wheel.remove(timers.ptr(id)) };
                assert_eq!(was, armed[id], "remove of timer {id}");
                if was {
                    model.remove(&(when[id], id));
                    armed[id] = false;
                }
            }
            // Advance, by a little or by a lot, or to the next deadline.
            _ => {
                now = match rng.below(4) {
                    0 => now + rng.below(64),
                    1 => now + rng.below(1 << 14),
                    2 => now + rng.below(2 * RANGE),
                    _ => wheel.next_deadline().unwrap_or(now),
                };
                if let Some(next) = wheel.next_deadline() {
                    let first = model.keys().next().expect("armed timers").0;
                    assert!(
                        next <= first,
                        "next_deadline {next} after a deadline {first}"
                    );
                } else {
                    assert!(model.is_empty());
                }
                let mut fired = fire(&mut wheel, &timers, &when, now);
                let mut expected: Vec<(u64, usize)> = Vec::new();
                while let Some((&(w, id), _)) = model.iter().next() {
                    if w > now {
                        break;
                    }
                    model.remove(&(w, id));
                    expected.push((w, id));
                }
                // Deadline order; ties in any order.
                assert!(
                    fired.windows(2).all(|p| p[0].0 <= p[1].0),
                    "out of order: {fired:?}"
                );
                fired.sort();
                assert_eq!(fired, expected, "seed {seed}, now {now}");
                for (_, id) in fired {
                    armed[id] = false;
                }
            }
        }
    }
}
