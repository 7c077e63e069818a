//! Which of the std runtime's public types may cross and be shared between
//! threads.

fn send<T: Send>() {}
fn sync<T: Sync>() {}

#[test]
fn runtime_types() {
    send::<pollen::runtime::Runtime>();
    sync::<pollen::runtime::Runtime>();
    send::<pollen::runtime::Handle>();
    sync::<pollen::runtime::Handle>();
    send::<pollen::runtime::Builder>();
    send::<pollen::runtime::RuntimeMetrics>();
    sync::<pollen::runtime::RuntimeMetrics>();
    send::<pollen::runtime::TryCurrentError>();
    send::<pollen::runtime::Dump>();
    sync::<pollen::runtime::Dump>();
    send::<pollen::runtime::TaskInfo>();
    sync::<pollen::runtime::TaskInfo>();
    send::<pollen::runtime::StallReport>();
    sync::<pollen::runtime::StallReport>();
}

#[test]
fn socket_types() {
    send::<pollen::net::TcpListener>();
    sync::<pollen::net::TcpListener>();
    send::<pollen::net::TcpSocket>();
    sync::<pollen::net::TcpSocket>();
    send::<pollen::net::TcpStream>();
    sync::<pollen::net::TcpStream>();
    send::<pollen::net::OwnedReadHalf>();
    send::<pollen::net::OwnedWriteHalf>();
    send::<pollen::net::ReadHalf<'static>>();
    send::<pollen::net::WriteHalf<'static>>();
    send::<pollen::net::UdpSocket>();
    sync::<pollen::net::UdpSocket>();
    send::<pollen::net::UnixListener>();
    send::<pollen::net::UnixStream>();
    sync::<pollen::net::UnixStream>();
    send::<pollen::io::DuplexStream>();
    sync::<pollen::io::DuplexStream>();
    send::<pollen::signal::unix::Signal>();
}

#[test]
fn time_and_task_types() {
    send::<pollen::task::JoinSet<u32>>();
    sync::<pollen::task::JoinSet<u32>>();
    send::<pollen::time::Sleep>();
    send::<pollen::task::JoinHandle<u32>>();
    send::<pollen::task::AccessError>();
}
