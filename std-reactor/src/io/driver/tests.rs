//! The reactor's slab and tokens, on real sockets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use mio::Token;

use super::{Driver, INDEX_BITS};
use crate::io::Interest;

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn listener() -> mio::net::TcpListener {
    mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap()
}

#[test]
fn an_event_for_a_freed_slot_is_ignored_even_after_reuse() {
    let (_driver, handle, _waker) = Driver::new().unwrap();
    let mut first = listener();
    let (first_io, key) = handle.add(&mut first, Interest::READABLE).unwrap();
    let stale = Token(key | (first_io.generation() << INDEX_BITS));
    handle.remove(&mut first, key, &first_io).unwrap();
    assert_eq!(handle.registrations(), 0);

    // The slot is reused with a new generation.
    let mut second = listener();
    let (second_io, second_key) = handle.add(&mut second, Interest::READABLE).unwrap();
    assert_eq!(second_key, key);
    assert_ne!(second_io.generation(), first_io.generation());

    let registrations = handle.lock();
    assert!(
        registrations.get(stale).is_none(),
        "a stale token must find nothing"
    );
    let fresh = Token(key | (second_io.generation() << INDEX_BITS));
    assert!(Arc::ptr_eq(registrations.get(fresh).unwrap(), &second_io));
}

#[test]
fn a_readable_event_wakes_the_reader_and_not_the_writer() {
    let (mut driver, handle, _waker) = Driver::new().unwrap();
    let mut server = listener();
    let addr = server.local_addr().unwrap();
    let (io, _key) = handle.add(&mut server, Interest::READABLE).unwrap();

    let reader = Arc::new(CountingWaker::default());
    let writer = Arc::new(CountingWaker::default());
    let reader_waker = Waker::from(reader.clone());
    let writer_waker = Waker::from(writer.clone());
    assert!(
        io.poll_ready(&mut Context::from_waker(&reader_waker), Interest::READABLE)
            .is_pending()
    );
    assert!(
        io.poll_ready(&mut Context::from_waker(&writer_waker), Interest::WRITABLE)
            .is_pending()
    );

    let _client = std::net::TcpStream::connect(addr).unwrap();
    // The connection is queued on the listener: poll until the event comes
    // (loopback delivers it at once, but never assert timing).
    while reader.0.load(Ordering::SeqCst) == 0 {
        driver.turn(Some(Duration::from_secs(5)), || {}).unwrap();
    }
    assert_eq!(writer.0.load(Ordering::SeqCst), 0);
    assert!(io.ready_event(Interest::READABLE).ready.is_readable());
}

#[test]
fn clearing_readiness_keeps_an_event_that_came_after_the_look() {
    let (mut driver, handle, _waker) = Driver::new().unwrap();
    let mut server = listener();
    let addr = server.local_addr().unwrap();
    let (io, _key) = handle.add(&mut server, Interest::READABLE).unwrap();

    let _first = std::net::TcpStream::connect(addr).unwrap();
    while io.ready_event(Interest::READABLE).ready.is_empty() {
        driver.turn(Some(Duration::from_secs(5)), || {}).unwrap();
    }
    let seen = io.ready_event(Interest::READABLE);
    // A new event lands (another connection) before the owner clears.
    let _second = std::net::TcpStream::connect(addr).unwrap();
    let before = io.ready_event(Interest::READABLE);
    while io.ready_event(Interest::READABLE).tick_for_tests() == before.tick_for_tests() {
        driver.turn(Some(Duration::from_secs(5)), || {}).unwrap();
    }
    io.clear_readiness(seen);
    assert!(
        io.ready_event(Interest::READABLE).ready.is_readable(),
        "a clear based on an older look must not erase a newer event"
    );
}

#[test]
fn shutdown_wakes_every_waiter_and_refuses_new_sources() {
    let (_driver, handle, _waker) = Driver::new().unwrap();
    let mut server = listener();
    let (io, _key) = handle.add(&mut server, Interest::READABLE).unwrap();
    let reader = Arc::new(CountingWaker::default());
    let waker = Waker::from(reader.clone());
    assert!(
        io.poll_ready(&mut Context::from_waker(&waker), Interest::READABLE)
            .is_pending()
    );

    handle.shutdown();
    assert_eq!(reader.0.load(Ordering::SeqCst), 1);
    assert!(io.ready_event(Interest::READABLE).is_shutdown);
    assert!(handle.add(&mut listener(), Interest::READABLE).is_err());
}
