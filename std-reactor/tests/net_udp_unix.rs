//! UDP and Unix-domain sockets.

use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::net::{UdpSocket, UnixListener, UnixStream};

#[pollen::test]
async fn udp_ping_pong() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b_addr = b.local_addr().unwrap();
    let pong = pollen::spawn(async move {
        let mut buf = [0; 64];
        for _ in 0..100 {
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"ping");
            b.send_to(b"pong", from).await.unwrap();
        }
    });
    let mut buf = [0; 64];
    for _ in 0..100 {
        a.send_to(b"ping", b_addr).await.unwrap();
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"pong"[..], b_addr));
    }
    pong.await.unwrap();
}

#[pollen::test]
async fn connected_udp_sockets_send_and_recv() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.connect(b.local_addr().unwrap()).await.unwrap();
    b.connect(a.local_addr().unwrap()).await.unwrap();
    a.send(b"hello").await.unwrap();
    let mut buf = [0; 8];
    let (n, _) = b.peek_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(b.recv(&mut buf).await.unwrap(), 5);
    assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
}

#[pollen::test]
async fn unix_streams_connect_through_a_path_and_in_pairs() {
    let dir = std::env::temp_dir().join(format!("pollen-unix-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let server = pollen::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).await.unwrap();
        stream.write_all(&buf).await.unwrap();
    });
    let mut client = UnixStream::connect(&path).await.unwrap();
    client.write_all(b"unix!").await.unwrap();
    let mut buf = [0; 5];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"unix!");
    server.await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let (mut a, mut b) = UnixStream::pair().unwrap();
    a.write_all(b"pair").await.unwrap();
    a.close().await.unwrap();
    let mut all = Vec::new();
    b.read_to_end(&mut all).await.unwrap();
    assert_eq!(all, b"pair");
}

#[pollen::test]
async fn connecting_to_a_missing_unix_socket_fails_cleanly() {
    let error = UnixStream::connect("/nonexistent/pollen.sock")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
}
