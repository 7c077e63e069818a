//! The echo engine against `pollen-echo` (the echo app's library) over
//! loopback, and against broken echo servers in virtual time.

mod common;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pollen::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use pollen::net::TcpListener;
use pollen::sync::CancellationToken;
use pollen_load::echo::{self, EchoConfig};
use pollen_load::{Connect, Control, ErrorKind, TcpConnector};

/// `pollen-echo`'s server on a free port, as a task of the test's runtime.
async fn start_pollen_echo() -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let config = pollen_echo::Config {
        verbose: false,
        ..pollen_echo::Config::default()
    };
    pollen::spawn({
        let stop = stop.clone();
        async move { pollen_echo::serve(listener, config, async move { stop.cancelled().await }).await }
    });
    (addr, stop)
}

#[pollen::test]
async fn round_trips_against_pollen_echo_add_up() {
    let (addr, stop) = start_pollen_echo().await;
    let config = EchoConfig {
        connections: 5,
        size: 100,
        requests: Some(500),
        duration: None,
        timeout: Duration::from_secs(10),
    };
    let report = echo::run(config, TcpConnector::new(vec![addr]), &Control::new())
        .await
        .unwrap();
    stop.cancel();
    assert_eq!(report.tally.total(), 500, "{report}");
    assert_eq!(report.tally.succeeded, 500, "{report}");
    assert!(report.tally.errors.is_empty(), "{report}");
    assert_eq!(report.tally.bytes_sent, 500 * 100);
    assert_eq!(report.tally.bytes_received, 500 * 100);
    assert_eq!(report.tally.latency_us.len(), 500);
    assert_eq!(report.message_size, Some(100));
    let text = report.to_string();
    assert!(text.contains("Total: 500 round trips"), "{text}");
}

#[pollen::test]
async fn a_warm_up_is_not_recorded_and_a_stop_ends_the_load() {
    let (addr, stop) = start_pollen_echo().await;
    let control = Control::warming_up();
    let config = EchoConfig {
        connections: 3,
        duration: None,
        ..EchoConfig::default()
    };
    let load = pollen::spawn({
        let control = control.clone();
        async move { echo::run(config, TcpConnector::new(vec![addr]), &control).await }
    });
    let running = async {
        while !control.is_running() {
            pollen::time::sleep(Duration::from_millis(1)).await;
        }
    };
    pollen::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("set up within 30 s");
    pollen::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        control.completed(),
        0,
        "nothing is recorded while warming up"
    );
    control.start_recording();
    let recorded = async {
        while control.completed() < 100 {
            pollen::time::sleep(Duration::from_millis(1)).await;
        }
    };
    pollen::time::timeout(Duration::from_secs(30), recorded)
        .await
        .expect("100 round trips recorded within 30 s");
    control.stop();
    let report = load.await.unwrap().unwrap();
    stop.cancel();
    assert!(report.tally.total() >= 100);
    assert_eq!(report.tally.failed, 0, "{report}");
    assert!(!report.interrupted);
}

/// An echo server over in-memory pipes that damages every `every`-th
/// message it echoes (0: none), after `delay`.
struct FlakyEcho {
    every: u64,
    delay: Duration,
    /// Messages echoed, over every connection.
    echoed: Arc<AtomicU64>,
}

impl Connect for FlakyEcho {
    type Stream = DuplexStream;

    async fn connect(&self) -> io::Result<DuplexStream> {
        let (client, mut server) = duplex(1 << 16);
        let (every, delay, total) = (self.every, self.delay, self.echoed.clone());
        pollen::spawn(async move {
            let mut buf = [0; 64];
            let mut echoed = 0u64;
            loop {
                if server.read_exact(&mut buf).await.is_err() {
                    return;
                }
                echoed += 1;
                total.fetch_add(1, Ordering::Relaxed);
                pollen::time::sleep(delay).await;
                if every != 0 && echoed % every == 0 {
                    buf[10] ^= 0xff;
                }
                if server.write_all(&buf).await.is_err() {
                    return;
                }
            }
        });
        Ok(client)
    }

    fn describe(&self) -> String {
        "the flaky server".to_owned()
    }
}

#[pollen::test(start_paused = true)]
async fn damaged_echoes_are_counted_and_the_connection_replaced() {
    let connector = FlakyEcho {
        every: 5,
        delay: Duration::from_millis(1),
        echoed: Arc::default(),
    };
    let config = EchoConfig {
        connections: 1,
        size: 64,
        requests: Some(100),
        duration: None,
        timeout: Duration::from_secs(1),
    };
    let report = echo::run(config, connector, &Control::new()).await.unwrap();
    // The setup round trip is the first echo of the first connection:
    // that connection's 4th message in the load is its 5th echo. Each new
    // connection then fails on its 5th message.
    assert_eq!(report.tally.total(), 100, "{report}");
    assert_eq!(report.tally.errors[&ErrorKind::Mismatch], 20, "{report}");
    assert_eq!(report.tally.succeeded, 80);
    // In virtual time every round trip takes exactly the server's delay.
    assert_eq!(report.latency().unwrap().max, Duration::from_millis(1));
}

#[pollen::test(start_paused = true)]
async fn the_echo_load_stops_on_time() {
    let connector = FlakyEcho {
        every: 0,
        delay: Duration::from_millis(10),
        echoed: Arc::default(),
    };
    let config = EchoConfig {
        connections: 4,
        size: 64,
        requests: None,
        duration: Some(Duration::from_secs(1)),
        timeout: Duration::from_secs(1),
    };
    let report = echo::run(config, connector, &Control::new()).await.unwrap();
    // 4 connections, 10 ms a round trip, 1 s.
    assert_eq!(report.tally.total(), 400, "{report}");
    assert_eq!(report.elapsed, Duration::from_secs(1));
}

/// Echoes `echoes` messages on its first connection, closes it, and
/// refuses every connection after.
struct DiesAfter {
    echoes: usize,
    connected: std::sync::atomic::AtomicBool,
}

impl Connect for DiesAfter {
    type Stream = DuplexStream;

    async fn connect(&self) -> io::Result<DuplexStream> {
        if self
            .connected
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return Err(io::ErrorKind::ConnectionRefused.into());
        }
        let (client, mut server) = duplex(1 << 16);
        let echoes = self.echoes;
        pollen::spawn(async move {
            let mut buf = [0; 64];
            for _ in 0..echoes {
                server.read_exact(&mut buf).await.unwrap();
                server.write_all(&buf).await.unwrap();
            }
            // Wait for the next message, then hang up mid-round-trip.
            let _ = server.read_exact(&mut buf).await;
        });
        Ok(client)
    }

    fn describe(&self) -> String {
        "the dying server".to_owned()
    }
}

#[pollen::test(start_paused = true)]
async fn a_server_that_goes_away_fails_each_remaining_round_trip_once() {
    let connector = DiesAfter {
        echoes: 3,
        connected: Default::default(),
    };
    let config = EchoConfig {
        connections: 1,
        size: 64,
        requests: Some(10),
        duration: None,
        timeout: Duration::from_secs(1),
    };
    let report = echo::run(config, connector, &Control::new()).await.unwrap();
    // One echo went to the setup: 2 round trips succeed, the 3rd finds
    // the connection closed, and the other 7 find no server.
    assert_eq!(report.tally.total(), 10, "{report}");
    assert_eq!(report.tally.succeeded, 2, "{report}");
    assert_eq!(report.tally.errors[&ErrorKind::Closed], 1, "{report}");
    assert_eq!(
        report.tally.errors[&ErrorKind::ConnectRefused],
        7,
        "{report}"
    );
}

#[pollen::test(start_paused = true)]
async fn dropping_the_load_stops_its_connections() {
    let echoed = Arc::new(AtomicU64::new(0));
    let connector = FlakyEcho {
        every: 0,
        delay: Duration::from_millis(10),
        echoed: echoed.clone(),
    };
    let config = EchoConfig {
        connections: 2,
        duration: None,
        ..EchoConfig::default()
    };
    let control = Control::new();
    let load = echo::run(config, connector, &control);
    assert!(
        pollen::time::timeout(Duration::from_millis(100), load)
            .await
            .is_err()
    );
    let at_drop = echoed.load(Ordering::Relaxed);
    assert!(at_drop >= 10, "{at_drop}");
    pollen::time::sleep(Duration::from_secs(1)).await;
    // At most the round trips in flight at the drop finished.
    assert!(echoed.load(Ordering::Relaxed) <= at_drop + 2);
}

#[pollen::test(start_paused = true)]
async fn a_stop_during_setup_ends_it_at_once() {
    let control = Control::new();
    pollen::spawn({
        let control = control.clone();
        async move {
            pollen::time::sleep(Duration::from_millis(100)).await;
            control.interrupt();
        }
    });
    let config = EchoConfig {
        connections: 50,
        timeout: Duration::from_secs(60),
        ..EchoConfig::default()
    };
    let start = pollen::time::now();
    let error = echo::run(config, common::Unanswered, &control)
        .await
        .unwrap_err();
    assert!(error.is_interrupted(), "{error}");
    assert_eq!(pollen::time::now() - start, Duration::from_millis(100));
}

#[pollen::test(start_paused = true)]
async fn setup_connects_in_batches_not_one_by_one() {
    // 10 ms a round trip: 40 connections one by one would take 400 ms.
    let connector = FlakyEcho {
        every: 0,
        delay: Duration::from_millis(10),
        echoed: Arc::default(),
    };
    let control = Control::new();
    let config = EchoConfig {
        connections: 40,
        requests: Some(40),
        duration: None,
        ..EchoConfig::default()
    };
    let start = pollen::time::now();
    let report = echo::run(config, connector, &control).await.unwrap();
    assert_eq!(report.tally.succeeded, 40, "{report}");
    // 3 batches of setup, then one round trip each.
    assert_eq!(pollen::time::now() - start, Duration::from_millis(40));
}
