//! `Builder::rng_seed`: the runtime's own choices repeat with the seed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pollen::future::ready;
use pollen::runtime::Builder;

/// Tasks that each run `select!`s over always-ready futures, sleep and
/// yield; returns the order of (task, round, winning branch) as it
/// happened. Everything is spawned from one task on the runtime: spawns
/// from the `block_on` thread would arrive whenever the OS runs it.
fn run(builder: &mut Builder) -> Vec<(u32, u32, u32)> {
    let rt = builder.enable_all().start_paused(true).build().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let root = {
        let log = log.clone();
        async move {
            let tasks: Vec<_> = (0..8u32)
                .map(|task| {
                    let log = log.clone();
                    pollen::spawn(async move {
                        for round in 0..12u32 {
                            let branch = pollen::select! {
                                a = ready(0u32) => a,
                                b = ready(1u32) => b,
                                c = ready(2u32) => c,
                            };
                            log.lock().unwrap().push((task, round, branch));
                            if (task + round) % 3 == 0 {
                                pollen::time::sleep(Duration::from_millis(u64::from(task) + 1))
                                    .await;
                            } else {
                                pollen::task::yield_now().await;
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        }
    };
    rt.block_on(async { pollen::spawn(root).await.unwrap() });
    Arc::try_unwrap(log).unwrap().into_inner().unwrap()
}

#[test]
fn a_seeded_current_thread_runtime_repeats_its_schedule() {
    let first = run(Builder::new_current_thread().rng_seed(7));
    let second = run(Builder::new_current_thread().rng_seed(7));
    assert_eq!(first.len(), 8 * 12);
    assert_eq!(first, second, "same seed, same order and same branches");
    let other = run(Builder::new_current_thread().rng_seed(8));
    assert_ne!(first, other, "another seed picks other branches");
}

#[test]
fn a_seeded_one_worker_runtime_repeats_its_schedule() {
    let one_worker = || {
        let mut builder = Builder::new_multi_thread();
        builder.worker_threads(1).rng_seed(11);
        run(&mut builder)
    };
    let first = one_worker();
    let second = one_worker();
    assert_eq!(first.len(), 8 * 12);
    assert_eq!(first, second);
}
