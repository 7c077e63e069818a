//! `#[pollen::test]` and `#[pollen::main]` against the real runtime.

use std::time::Duration;

#[pollen::test]
async fn a_test_runs_on_a_runtime_with_io_and_time() {
    let listener = pollen::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    assert!(listener.local_addr().unwrap().port() > 0);
    pollen::time::sleep(Duration::from_millis(1)).await;
}

#[pollen::test(start_paused = true)]
async fn start_paused_gives_virtual_time() {
    let real = std::time::Instant::now();
    let start = pollen::time::now();
    pollen::time::sleep(Duration::from_secs(24 * 3600)).await;
    assert!(pollen::time::now() - start >= Duration::from_secs(24 * 3600));
    assert!(real.elapsed() < Duration::from_secs(3600));
}

#[pollen::test]
async fn a_test_may_return_a_result() -> Result<(), Box<dyn std::error::Error>> {
    let answer: u32 = "42".parse()?;
    assert_eq!(pollen::spawn(async move { answer }).await?, 42);
    Ok(())
}

#[pollen::test]
#[should_panic(expected = "inside the test")]
async fn a_panic_in_the_body_fails_the_test() {
    panic!("inside the test");
}

mod main_attribute {
    #[pollen::main(flavor = "current_thread")]
    async fn main() -> u32 {
        pollen::spawn(async { 7 }).await.unwrap()
    }

    #[test]
    fn main_builds_a_runtime_and_returns_the_body_value() {
        assert_eq!(main(), 7);
    }
}

mod main_attribute_default {
    /// No arguments: the multi-thread runtime, one worker per core.
    #[pollen::main]
    async fn main() -> usize {
        let handle = pollen::runtime::Handle::current();
        pollen::spawn(async { 7 }).await.unwrap() + handle.metrics().num_workers()
    }

    #[test]
    fn main_defaults_to_the_multi_thread_runtime() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(main(), 7 + cores);
    }
}

#[pollen::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_thread_test_runs_tasks_on_two_workers() {
    assert_eq!(
        pollen::runtime::Handle::current().metrics().num_workers(),
        2
    );
    let tasks: Vec<_> = (0..8u32).map(|i| pollen::spawn(async move { i })).collect();
    let mut sum = 0;
    for task in tasks {
        sum += task.await.unwrap();
    }
    assert_eq!(sum, 28);
}

#[pollen::test(flavor = "multi_thread", worker_threads = 2, start_paused = true)]
async fn a_multi_thread_test_can_start_paused() {
    let start = pollen::time::now();
    pollen::spawn(async { pollen::time::sleep(Duration::from_secs(3600)).await })
        .await
        .unwrap();
    assert!(pollen::time::now() - start >= Duration::from_secs(3600));
}
