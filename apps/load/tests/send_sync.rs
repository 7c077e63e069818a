//! The library's types and engines can move between threads: a load can
//! be spawned on a multi-thread runtime and steered from another thread.

use pollen_load::echo::{self, EchoConfig};
use pollen_load::http::{self, HttpConfig};
use pollen_load::{
    Control, ErrorKind, HttpUrl, Latency, Mode, Outcome, Report, SetupError, Tally, TcpConnector,
    UrlError,
};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>(_: &T) {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Control>();
    send_sync::<ErrorKind>();
    send_sync::<HttpUrl>();
    send_sync::<Latency>();
    send_sync::<Mode>();
    send_sync::<Outcome>();
    send_sync::<Report>();
    send_sync::<SetupError>();
    send_sync::<Tally>();
    send_sync::<TcpConnector>();
    send_sync::<UrlError>();
    send_sync::<HttpConfig>();
    send_sync::<EchoConfig>();
}

#[test]
fn the_engines_futures_are_send() {
    let url: HttpUrl = "http://127.0.0.1:1/".parse().unwrap();
    let connector = TcpConnector::new(vec!["127.0.0.1:1".parse().unwrap()]);
    let control = Control::new();
    // Built, not run.
    send(&http::run(
        HttpConfig::new(url),
        connector.clone(),
        &control,
    ));
    send(&echo::run(EchoConfig::default(), connector, &control));
}
