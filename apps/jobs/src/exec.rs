//! Running one attempt of a job.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::job::JobKind;

/// How often (in iterations) a `cpu` job looks whether it was abandoned.
const CPU_CHECK_EVERY: u64 = 1 << 20;

/// Runs attempt number `attempt` (1 for the first) of a job of `kind`.
///
/// # Errors
///
/// The attempt failed; the message says why.
///
/// # Cancel safety
///
/// Dropping the future abandons the attempt: a `sleep` stops at once, a
/// `cpu` job on the blocking pool stops within about a million
/// iterations.
pub(crate) async fn run(kind: JobKind, attempt: u32) -> Result<Value, String> {
    match kind {
        JobKind::Sleep { ms } => {
            pollen::time::sleep(Duration::from_millis(ms)).await;
            Ok(json!({ "slept_ms": ms }))
        }
        JobKind::Cpu { iterations } => {
            let abandoned = Arc::new(AtomicBool::new(false));
            let _guard = Abandon(abandoned.clone());
            let checksum = pollen::spawn_blocking(move || spin(iterations, &abandoned))
                .await
                .map_err(|e| format!("the cpu work did not finish: {e}"))?
                .ok_or_else(|| "abandoned".to_owned())?;
            Ok(json!({ "iterations": iterations, "checksum": checksum }))
        }
        JobKind::Http { url, timeout_ms } => {
            crate::fetch::get(&url, Duration::from_millis(timeout_ms)).await
        }
        JobKind::Fail { times, panic } => {
            if attempt <= times && panic {
                panic!("panicking on purpose: attempt {attempt} of the first {times}");
            } else if attempt <= times {
                Err(format!(
                    "failing on purpose: attempt {attempt} of the first {times}"
                ))
            } else {
                Ok(json!({ "succeeded_on_attempt": attempt }))
            }
        }
    }
}

/// `iterations` steps of a 64-bit linear congruential generator; `None`
/// if `abandoned` was set on the way.
fn spin(iterations: u64, abandoned: &AtomicBool) -> Option<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..iterations {
        if i % CPU_CHECK_EVERY == 0 && abandoned.load(Ordering::Relaxed) {
            return None;
        }
        x = std::hint::black_box(
            x.wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
    Some(x)
}

/// Tells the blocking closure to stop when the attempt is dropped.
struct Abandon(Arc<AtomicBool>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_is_deterministic_and_stops_when_abandoned() {
        let go = AtomicBool::new(false);
        assert_eq!(spin(1000, &go), spin(1000, &go));
        assert_ne!(spin(1000, &go), spin(1001, &go));
        let stop = AtomicBool::new(true);
        assert_eq!(spin(10, &stop), None);
        assert!(spin(0, &stop).is_some());
    }
}
