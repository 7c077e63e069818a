//! The small PRNG that picks where an unbiased `select!` starts polling.
//!
//! Fairness only, not security: a `select!` whose first branch is always
//! ready would otherwise starve the others. Each `select!` takes one seed
//! from a global counter (one relaxed load and one relaxed store, no
//! read-modify-write, so it also works on targets without atomic CAS), mixes
//! it, and then steps a local xorshift32 once per poll. Two `select!`s racing
//! on the counter may get the same seed; that costs a little fairness and
//! nothing else.
//!
//! Under `--cfg loom` the seed is a constant: loom's atomics cannot live in a
//! `static`, and which branch is polled first is not part of any model.

#[cfg(not(loom))]
use crate::loom::atomic::{AtomicU32, Ordering};

/// Added to the global seed for each `select!` (2^32 / φ, odd, so the
/// sequence runs through every `u32` before repeating).
const SEED_STEP: u32 = 0x9E37_79B9;

/// The next seed, taken by every unbiased `select!`.
#[cfg(not(loom))]
static NEXT_SEED: AtomicU32 = AtomicU32::new(SEED_STEP);

/// Takes a seed: from this thread's sequence if a runtime seeded one
/// ([`seed_select`]), else from the global counter.
#[cfg(not(loom))]
fn next_seed() -> u32 {
    #[cfg(feature = "std")]
    if let Some(seed) = THREAD_SEED.with(|s| {
        let seed = s.get()?;
        s.set(Some(seed.wrapping_add(SEED_STEP)));
        Some(seed)
    }) {
        return seed;
    }
    let seed = NEXT_SEED.load(Ordering::Relaxed);
    NEXT_SEED.store(seed.wrapping_add(SEED_STEP), Ordering::Relaxed);
    seed
}

#[cfg(all(feature = "std", not(loom)))]
std::thread_local! {
    /// This thread's own seed sequence, if a runtime set one.
    static THREAD_SEED: core::cell::Cell<Option<u32>> = const { core::cell::Cell::new(None) };
}

/// Gives the calling thread its own sequence of `select!` seeds, starting
/// from `seed` (or, with `None`, back to the process-wide one), and returns
/// the previous setting.
///
/// For runtimes that offer reproducible runs: with the same seed, the
/// `select!`s polled on this thread start at the same branches in the same
/// order, whatever ran before. Needs the `std` feature (a thread-local).
#[cfg(feature = "std")]
pub fn seed_select(seed: Option<u32>) -> Option<u32> {
    #[cfg(not(loom))]
    {
        THREAD_SEED.with(|s| s.replace(seed))
    }
    #[cfg(loom)]
    {
        let _ = seed;
        None
    }
}

/// Loom cannot put an atomic in a `static`; see the module docs.
#[cfg(loom)]
fn next_seed() -> u32 {
    SEED_STEP
}

/// The start-branch picker of one `select!`.
///
/// Not part of the public API: it is `pub` only so that `select!` can name it
/// from other crates.
#[doc(hidden)]
#[derive(Debug)]
pub struct SelectRng {
    /// xorshift32 state; `0` means biased (always start at branch 0), which
    /// is never a state of xorshift32 itself.
    state: u32,
}

// === impl SelectRng ===

impl SelectRng {
    /// A picker for a `select!`; `biased` pickers always return 0 and do not
    /// touch the global seed.
    #[inline]
    pub fn new(biased: bool) -> Self {
        if biased {
            return Self { state: 0 };
        }
        // The murmur3 finaliser spreads the counter's steps over all bits;
        // `| 1` keeps the xorshift state away from its fixed point 0.
        let mut x = next_seed();
        x ^= x >> 16;
        x = x.wrapping_mul(0x85EB_CA6B);
        x ^= x >> 13;
        x = x.wrapping_mul(0xC2B2_AE35);
        x ^= x >> 16;
        Self { state: x | 1 }
    }

    /// The branch to poll first, in `0..branches`.
    ///
    /// `branches` must be at least 1.
    #[inline]
    pub fn start(&mut self, branches: u32) -> u32 {
        if self.state == 0 {
            return 0;
        }
        // xorshift32 (Marsaglia, 13/17/5).
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        // Lemire's multiply-shift: maps `x` onto `0..branches` without `%`.
        ((u64::from(x) * u64::from(branches)) >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::SelectRng;

    #[test]
    fn biased_always_starts_at_zero() {
        let mut rng = SelectRng::new(true);
        for _ in 0..100 {
            assert_eq!(rng.start(7), 0);
        }
    }

    #[test]
    fn unbiased_stays_in_range_and_hits_every_branch() {
        let mut rng = SelectRng::new(false);
        let mut seen = [0u32; 5];
        for _ in 0..1000 {
            let start = rng.start(5);
            assert!(start < 5);
            seen[start as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 100), "skewed: {seen:?}");
    }

    #[test]
    fn one_branch_always_zero() {
        let mut rng = SelectRng::new(false);
        for _ in 0..100 {
            assert_eq!(rng.start(1), 0);
        }
    }

    // Under loom every seed is the same constant; see the module docs.
    #[cfg(not(loom))]
    #[test]
    fn seeds_differ_between_pickers() {
        let mut firsts = [0u32; 8];
        for _ in 0..100 {
            firsts[SelectRng::new(false).start(8) as usize] += 1;
        }
        assert!(firsts.iter().filter(|&&n| n > 0).count() > 1);
    }
}
