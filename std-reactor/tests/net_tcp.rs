//! TCP over real loopback sockets.

use std::net::Shutdown;
use std::time::Duration;

use pollen::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use pollen::net::{TcpListener, TcpStream};
use pollen::runtime::Handle;

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

#[pollen::test]
async fn owned_halves_read_and_write_from_two_tasks_at_once() {
    let (client, mut server) = pair().await;
    let (mut reader, mut writer) = client.into_split();
    // The server echoes everything back.
    let echo = pollen::spawn(async move {
        let (mut r, mut w) = server.split();
        pollen::io::copy(&mut r, &mut w).await.unwrap()
    });
    let message: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let expected = message.clone();
    // Writer and reader in two tasks, each waiting on its own direction.
    let write = pollen::spawn(async move {
        writer.write_all(&message).await.unwrap();
        writer
    });
    let read = pollen::spawn(async move {
        let mut back = vec![0; expected.len()];
        reader.read_exact(&mut back).await.unwrap();
        assert_eq!(back, expected);
        reader
    });
    let writer = write.await.unwrap();
    let reader = read.await.unwrap();
    let mut stream = reader.reunite(writer).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(echo.await.unwrap(), 200_000);
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

#[pollen::test]
async fn halves_of_different_streams_do_not_reunite() {
    let (a, _a_peer) = pair().await;
    let (b, _b_peer) = pair().await;
    let (a_read, _a_write) = a.into_split();
    let (_b_read, b_write) = b.into_split();
    assert!(a_read.reunite(b_write).is_err());
}

#[pollen::test]
async fn dropping_the_owned_write_half_sends_eof() {
    let (client, mut server) = pair().await;
    let (_reader, writer) = client.into_split();
    drop(writer);
    let mut buf = [0; 1];
    assert_eq!(server.read(&mut buf).await.unwrap(), 0);
}

#[pollen::test]
async fn peek_leaves_the_data_for_the_next_read() {
    let (mut client, server) = pair().await;
    client.write_all(b"peekaboo").await.unwrap();
    let mut peeked = [0; 4];
    let n = server.peek(&mut peeked).await.unwrap();
    assert_eq!(&peeked[..n], &b"peekaboo"[..n]);
    let mut all = [0; 8];
    (&server).read_exact(&mut all).await.unwrap();
    assert_eq!(&all, b"peekaboo");
}

#[pollen::test]
async fn read_line_through_a_buf_reader() {
    let (mut client, server) = pair().await;
    client.write_all(b"first line\nsecond\n").await.unwrap();
    let mut lines = BufReader::new(server);
    let mut line = String::new();
    lines.read_line(&mut line).await.unwrap();
    assert_eq!(line, "first line\n");
    line.clear();
    lines.read_line(&mut line).await.unwrap();
    assert_eq!(line, "second\n");
}

#[pollen::test]
async fn try_read_and_try_write_never_wait() {
    let (client, server) = pair().await;
    let mut buf = [0; 16];
    assert_eq!(
        server.try_read(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    client.writable().await.unwrap();
    assert_eq!(client.try_write(b"now").unwrap(), 3);
    server.readable().await.unwrap();
    assert_eq!(server.try_read(&mut buf).unwrap(), 3);
}

#[pollen::test]
async fn options_and_addresses() {
    let (client, server) = pair().await;
    client.set_nodelay(true).unwrap();
    assert!(client.nodelay().unwrap());
    assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    client.set_ttl(42).unwrap();
    assert_eq!(client.ttl().unwrap(), 42);
}

#[pollen::test]
async fn connecting_to_a_closed_port_is_refused() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let error = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[pollen::test]
async fn ten_thousand_connect_close_cycles_leave_no_registration_behind() {
    let metrics = Handle::current().metrics();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let start = metrics.num_io_registrations();
    for _ in 0..10_000 {
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        drop(client);
        drop(server);
    }
    assert_eq!(metrics.num_io_registrations(), start);
}

#[pollen::test]
async fn a_std_stream_can_be_adopted_and_given_back() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let std_client = std::net::TcpStream::connect(addr).unwrap();
    let (std_server, _) = listener.accept().unwrap();
    let mut client = TcpStream::from_std(std_client).unwrap();
    let mut server = TcpStream::from_std(std_server).unwrap();
    client.write_all(b"adopted").await.unwrap();
    let mut buf = [0; 7];
    server.read_exact(&mut buf).await.unwrap();
    let before = Handle::current().metrics().num_io_registrations();
    let back = server.into_std().unwrap();
    assert_eq!(
        Handle::current().metrics().num_io_registrations(),
        before - 1
    );
    back.set_nonblocking(false).unwrap();
    drop(client);
}

#[test]
fn sockets_outside_a_runtime_say_so() {
    let error = std::thread::spawn(|| {
        let rt = pollen::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap_err()
    })
    .join()
    .unwrap();
    assert!(error.to_string().contains("I/O is disabled"), "{error}");
}

#[test]
fn sockets_of_a_runtime_that_shut_down_get_an_error_not_a_hang() {
    let rt = pollen::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut client, _server) = rt.block_on(pair());
    drop(rt);
    let other = pollen::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = other.block_on(async {
        pollen::time::timeout(Duration::from_secs(5), client.read(&mut [0; 8])).await
    });
    let error = result
        .expect("a read on an orphaned socket must not hang")
        .unwrap_err();
    assert!(error.to_string().contains("shut down"), "{error}");
}

#[pollen::test]
async fn ready_reports_what_the_stream_is_ready_for() {
    use pollen::io::{Interest, Ready};
    let (client, server) = pair().await;
    // A fresh connection can be written, not read.
    let ready = server
        .ready(Interest::READABLE | Interest::WRITABLE)
        .await
        .unwrap();
    assert!(ready.is_writable());
    assert!(!ready.contains(Ready::READABLE));
    client.try_write(b"x").unwrap();
    let ready = server.ready(Interest::READABLE).await.unwrap();
    assert!(ready.is_readable());
    // After the peer closes, reading reports the closed half.
    drop(client);
    let mut buf = [0; 4];
    assert_eq!(server.try_read(&mut buf).unwrap(), 1);
    let ready = server.ready(Interest::READABLE).await.unwrap();
    assert!(ready.is_read_closed() || ready.is_readable());
    assert_eq!(server.try_read(&mut buf).unwrap(), 0);
}

#[pollen::test(flavor = "current_thread")]
async fn host_names_are_looked_up_on_the_blocking_pool_and_literals_are_not() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Literals never leave the worker.
    let literal = TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    drop(literal);
    assert_eq!(Handle::current().metrics().num_blocking_threads(), 0);
    // A name goes to the resolver on the blocking pool.
    let named = TcpStream::connect(("localhost", port)).await.unwrap();
    assert_eq!(named.peer_addr().unwrap().port(), port);
    assert_eq!(Handle::current().metrics().num_blocking_threads(), 1);
    // Each address the name resolves to is tried in turn.
    pollen::net::UdpSocket::bind("localhost:0").await.unwrap();
}

#[pollen::test]
async fn a_tcp_socket_sets_its_options_then_listens_or_connects() {
    use pollen::net::TcpSocket;

    let server = TcpSocket::new_v4().unwrap();
    server.set_reuseaddr(true).unwrap();
    server.set_recv_buffer_size(64 * 1024).unwrap();
    assert!(server.reuseaddr().unwrap());
    assert!(server.recv_buffer_size().unwrap() >= 64 * 1024);
    server.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    assert_ne!(addr.port(), 0);
    let listener = server.listen(2048).unwrap();
    assert_eq!(listener.local_addr().unwrap(), addr);

    let client = TcpSocket::new_v4().unwrap();
    client.set_nodelay(true).unwrap();
    client.set_keepalive(true).unwrap();
    client.set_linger(Some(Duration::ZERO)).unwrap();
    assert_eq!(client.linger().unwrap(), Some(Duration::ZERO));
    // An outgoing connection from a chosen local address.
    client.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let from = client.local_addr().unwrap();
    let (stream, accepted) = pollen::join!(client.connect(addr), listener.accept());
    let mut stream = stream.unwrap();
    let (mut peer, peer_addr) = accepted.unwrap();
    assert_eq!(peer_addr, from);
    assert!(stream.nodelay().unwrap());
    stream.write_all(b"ping").await.unwrap();
    let mut buf = [0; 4];
    peer.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
}

#[pollen::test]
async fn tcp_sockets_share_a_port_only_with_reuseport() {
    use pollen::net::TcpSocket;

    let first = TcpSocket::new_v4().unwrap();
    first.set_reuseport(true).unwrap();
    first.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = first.local_addr().unwrap();
    let _first = first.listen(16).unwrap();
    let second = TcpSocket::new_v4().unwrap();
    second.set_reuseport(true).unwrap();
    assert!(second.reuseport().unwrap());
    second.bind(addr).unwrap();
    let _second = second.listen(16).unwrap();
    let third = TcpSocket::new_v4().unwrap();
    let error = third.bind(addr).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
}

#[pollen::test]
async fn a_tcp_socket_connecting_to_a_closed_port_is_refused() {
    use pollen::net::TcpSocket;

    // A port that was free a moment ago: nothing listens there.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let error = TcpSocket::new_v4()
        .unwrap()
        .connect(addr)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}
