//! Signals delivered to this test process.

use std::time::Duration;

use pollen::signal::unix::{SignalKind, signal};

fn raise(kind: SignalKind) {
    signal_hook::low_level::raise(kind.as_raw_value()).unwrap();
}

#[pollen::test]
async fn ctrl_c_completes_on_sigint() {
    // `ctrl_c` installs its handler when first polled: poll it, then raise.
    let waiting = pollen::spawn(pollen::signal::ctrl_c());
    pollen::time::sleep(Duration::from_millis(10)).await;
    raise(SignalKind::interrupt());
    pollen::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("SIGINT was not seen")
        .unwrap()
        .unwrap();
}

#[pollen::test]
async fn every_listener_sees_every_delivery() {
    let mut first = signal(SignalKind::user_defined1()).unwrap();
    let mut second = signal(SignalKind::user_defined1()).unwrap();
    for _ in 0..3 {
        raise(SignalKind::user_defined1());
        assert_eq!(first.recv().await, Some(()));
        assert_eq!(second.recv().await, Some(()));
    }
}

#[pollen::test]
async fn sigkill_cannot_be_handled() {
    assert!(signal(SignalKind::from_raw(9)).is_err());
}
