//! The echo server over real loopback sockets: many clients, bad clients,
//! idle timeout, and Ctrl-C on the real binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::net::{TcpListener, TcpStream};
use pollen::sync::CancellationToken;
use pollen_echo::{Config, Summary, serve};

fn quiet(config: Config) -> Config {
    Config {
        verbose: false,
        ..config
    }
}

/// Starts a server task; returns its address, its stop switch and its
/// summary handle.
async fn start(
    config: Config,
) -> (
    SocketAddr,
    CancellationToken,
    pollen::task::JoinHandle<std::io::Result<Summary>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = pollen::spawn({
        let stop = stop.clone();
        async move {
            serve(
                listener,
                quiet(config),
                async move { stop.cancelled().await },
            )
            .await
        }
    });
    (addr, stop, server)
}

#[pollen::test]
async fn a_thousand_connections_held_at_once_each_get_their_own_echo() {
    rlimit::increase_nofile_limit(4096).unwrap();
    let (addr, stop, server) = start(Config::default()).await;
    let mut clients = Vec::new();
    for _ in 0..1000 {
        clients.push(TcpStream::connect(addr).await.unwrap());
    }
    // All open now; each sends and reads back its own message.
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            pollen::spawn(async move {
                let message = format!("message from client {i:04}\n");
                client.write_all(message.as_bytes()).await.unwrap();
                let mut back = vec![0; message.len()];
                client.read_exact(&mut back).await.unwrap();
                assert_eq!(back, message.as_bytes());
                client
            })
        })
        .collect();
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await.unwrap());
    }
    assert_eq!(clients.len(), 1000);
    drop(clients);
    stop.cancel();
    let summary = server.await.unwrap().unwrap();
    assert_eq!(summary.accepted, 1000);
    assert_eq!(summary.errors, 0);
}

#[pollen::test]
async fn ten_kilobytes_in_small_chunks_come_back_whole() {
    let (addr, stop, server) = start(Config::default()).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    let message: Vec<u8> = (0..10_240u32).map(|i| (i * 7 % 256) as u8).collect();
    let (mut reader, mut writer) = client.split();
    let write = async {
        for chunk in message.chunks(37) {
            writer.write_all(chunk).await.unwrap();
        }
    };
    let mut back = vec![0; message.len()];
    let ((), read) = pollen::join!(write, reader.read_exact(&mut back));
    read.unwrap();
    assert_eq!(back, message);
    drop(client);
    stop.cancel();
    server.await.unwrap().unwrap();
}

#[pollen::test(start_paused = true)]
async fn a_client_that_sends_nothing_is_closed_after_the_idle_timeout() {
    let config = Config {
        idle_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let (addr, stop, server) = start(config).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let start = pollen::time::now();
    let mut buf = [0; 1];
    // The server closes it: EOF. (Virtual time jumps while all wait.)
    assert_eq!(silent.read(&mut buf).await.unwrap(), 0);
    assert!(pollen::time::now() - start >= Duration::from_secs(10));
    stop.cancel();
    let summary = server.await.unwrap().unwrap();
    assert_eq!(summary.idle_closed, 1);
}

#[pollen::test]
async fn a_half_closed_client_gets_its_echo_then_eof() {
    let (addr, stop, server) = start(Config::default()).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"last words").await.unwrap();
    client.close().await.unwrap(); // FIN: nothing more from us
    let mut back = Vec::new();
    client.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"last words");
    stop.cancel();
    assert_eq!(server.await.unwrap().unwrap().errors, 0);
}

#[pollen::test]
async fn a_client_that_resets_mid_write_is_cleaned_up_and_others_are_served() {
    let (addr, stop, server) = start(Config::default()).await;
    let bystander_addr = addr;
    // This client sends a lot and never reads: the server's echo fills our
    // receive buffer, then we close with unread data, which resets the
    // connection while the server is writing.
    let mut rude = TcpStream::connect(addr).await.unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..64 {
        match pollen::time::timeout(Duration::from_millis(200), rude.write_all(&chunk)).await {
            Ok(Ok(())) => {}
            // Both directions are full: the server is stuck writing to us.
            _ => break,
        }
    }
    drop(rude);

    // Meanwhile and afterwards, others are served.
    let mut bystander = TcpStream::connect(bystander_addr).await.unwrap();
    bystander.write_all(b"still there?").await.unwrap();
    let mut back = [0; 12];
    bystander.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"still there?");
    drop(bystander);

    // The reset shows up as one counted error (wait for the server to see it).
    stop.cancel();
    let summary = server.await.unwrap().unwrap();
    assert_eq!(summary.accepted, 2);
    assert_eq!(
        summary.errors, 1,
        "the reset connection is counted as an error"
    );
}

#[pollen::test]
async fn the_connection_limit_makes_extra_clients_wait_their_turn() {
    let config = Config {
        max_conns: 2,
        ..Config::default()
    };
    let (addr, stop, server) = start(config).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    let second = TcpStream::connect(addr).await.unwrap();
    // The third connects (the kernel's backlog takes it) but is not served
    // until a slot frees.
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(b"me too").await.unwrap();
    let mut back = [0; 6];
    let early =
        pollen::time::timeout(Duration::from_millis(100), third.read_exact(&mut back)).await;
    assert!(early.is_err(), "served beyond the limit");
    first.write_all(b"hi").await.unwrap();
    let mut hi = [0; 2];
    first.read_exact(&mut hi).await.unwrap();
    drop(first);
    third.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"me too");
    drop((second, third));
    stop.cancel();
    server.await.unwrap().unwrap();
}

/// Ctrl-C on the real binary: it stops accepting, lets the open connection
/// finish, and exits 0.
#[test]
fn ctrl_c_stops_accepting_and_drains_open_connections() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pollen-echo"))
        .args(["run", "--addr", "127.0.0.1:0", "--drain-timeout", "10s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let addr: SocketAddr = banner.split_whitespace().last().unwrap().parse().unwrap();

    let mut open = std::net::TcpStream::connect(addr).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    open.write_all(b"before").unwrap();
    let mut buf = [0; 6];
    open.read_exact(&mut buf).unwrap();

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Draining: new connections are refused, the open one still echoes.
    let refused = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        std::net::TcpStream::connect(addr).is_err()
    });
    assert!(refused, "the server kept accepting after Ctrl-C");
    open.write_all(b"during").unwrap();
    open.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"during");
    drop(open);

    let status = child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(
        log.contains("shutting down: 1 connection(s) open"),
        "log:\n{log}"
    );
    assert!(log.contains("0 cut at shutdown"), "log:\n{log}");
}

#[test]
fn the_self_test_subcommand_passes() {
    let output = Command::new(env!("CARGO_BIN_EXE_pollen-echo"))
        .arg("test")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("self-test passed"));
}

#[pollen::test(start_paused = true)]
async fn activity_moves_the_idle_deadline() {
    let config = Config {
        idle_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let (addr, stop, server) = start(config).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    let start = pollen::time::now();
    pollen::time::sleep(Duration::from_secs(6)).await;
    client.write_all(b"ping").await.unwrap();
    let mut back = [0; 4];
    client.read_exact(&mut back).await.unwrap();
    let mut buf = [0; 1];
    assert_eq!(client.read(&mut buf).await.unwrap(), 0);
    let closed_after = pollen::time::now() - start;
    assert!(
        closed_after >= Duration::from_secs(16),
        "closed after {closed_after:?}"
    );
    assert!(
        closed_after < Duration::from_secs(20),
        "closed after {closed_after:?}"
    );
    stop.cancel();
    assert_eq!(server.await.unwrap().unwrap().idle_closed, 1);
}

#[pollen::test(start_paused = true)]
async fn connections_still_open_at_the_drain_deadline_are_closed() {
    let config = Config {
        drain_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(3600),
        ..Config::default()
    };
    let (addr, stop, server) = start(config).await;
    let mut lingering = TcpStream::connect(addr).await.unwrap();
    lingering.write_all(b"hi").await.unwrap();
    let mut back = [0; 2];
    lingering.read_exact(&mut back).await.unwrap();
    stop.cancel();
    let summary = server.await.unwrap().unwrap();
    assert_eq!(summary.cut_at_shutdown, 1);
    let mut buf = [0; 1];
    assert_eq!(
        lingering.read(&mut buf).await.unwrap(),
        0,
        "closed by the server"
    );
}
