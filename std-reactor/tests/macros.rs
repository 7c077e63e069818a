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
