//! The library's types can move between threads: the service runs on a
//! multi-thread runtime and its handle is shared by every connection task.

use pollen_jobs::{
    Closed, Config, Drained, Event, Histogram, InvalidJob, JobId, JobKind, JobSpec, JobView,
    Metrics, Queue, QueueConfig, RetryError, Service, StateView, Status, SubmitError, Summary,
};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>(_: &T) {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Closed>();
    send_sync::<Config>();
    send_sync::<Drained>();
    send_sync::<Event>();
    send_sync::<Histogram>();
    send_sync::<InvalidJob>();
    send_sync::<JobId>();
    send_sync::<JobKind>();
    send_sync::<JobSpec>();
    send_sync::<JobView>();
    send_sync::<Metrics>();
    send_sync::<Queue>();
    send_sync::<QueueConfig>();
    send_sync::<RetryError>();
    send_sync::<Service>();
    send_sync::<StateView>();
    send_sync::<Status>();
    send_sync::<SubmitError>();
    send_sync::<Summary>();
}

#[test]
fn the_service_and_its_futures_are_send() {
    let runtime = pollen::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let service = Service::start(&QueueConfig::default()).unwrap();
        let queue = service.queue();
        let spec = JobSpec::parse(br#"{"type":"sleep","payload":{"ms":0}}"#).unwrap();
        send(&queue.submit(spec));
        send(&queue.status());
        send(&queue.job(JobId(1)));
        send(&queue.dead());
        send(&queue.retry_dead(JobId(1)));
        send(&queue.metrics());
        send(&queue.flush());
        send(&queue.events());
        let listener = pollen::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        send(&pollen_jobs::serve(listener, Config::default(), async {}));
        send(&service.shutdown(std::time::Duration::ZERO));
    });
}
