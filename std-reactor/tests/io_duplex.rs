//! The in-memory duplex pipe.

use pollen::io::{AsyncReadExt, AsyncWriteExt, duplex};

#[pollen::test]
async fn a_full_buffer_makes_the_writer_wait_for_the_reader() {
    let (mut a, mut b) = duplex(8);
    let writer = pollen::spawn(async move {
        a.write_all(&[7; 100]).await.unwrap();
        a
    });
    let mut got = vec![0; 100];
    b.read_exact(&mut got).await.unwrap();
    assert_eq!(got, vec![7; 100]);
    drop(writer.await.unwrap());
    let mut rest = Vec::new();
    b.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "EOF after the peer is dropped");
}

#[pollen::test]
async fn both_directions_are_independent() {
    let (mut a, mut b) = duplex(64);
    a.write_all(b"to b").await.unwrap();
    b.write_all(b"to a").await.unwrap();
    let mut buf = [0; 4];
    b.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"to b");
    a.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"to a");
}

#[pollen::test]
async fn close_gives_eof_after_the_buffered_bytes_and_writes_to_a_dropped_peer_fail() {
    let (mut a, mut b) = duplex(64);
    a.write_all(b"bye").await.unwrap();
    a.close().await.unwrap();
    let mut all = Vec::new();
    b.read_to_end(&mut all).await.unwrap();
    assert_eq!(all, b"bye");
    drop(b);
    let error = a.write_all(b"anyone?").await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
}
