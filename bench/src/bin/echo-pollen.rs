//! The echo server on pollen's current-thread runtime (I/O driver only): one
//! task per connection, reading into a 64-byte buffer on the task's stack
//! and writing back what was read.
//!
//! The minimal twin of `pollen-echo` (from `apps/echo`), the same shape as
//! `echo-tokio`: no idle timeout, no connection limit, no shutdown drain,
//! so the comparison with the other servers is one of runtimes alone.
//!
//! `echo-pollen [--addr 127.0.0.1:0]` prints `listening on <addr>` first.

#![forbid(unsafe_code)]

mod cli;

use std::io;

use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::net::{TcpListener, TcpStream};

/// The echo buffer: one 64-byte message.
const BUF: usize = 64;

fn main() -> io::Result<()> {
    let addr = cli::addr();
    let rt = pollen::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(addr).await?;
        cli::announce(listener.local_addr()?);
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(pollen::spawn(echo(stream))),
                Err(e) => eprintln!("echo-pollen: accept: {e}"),
            }
        }
    })
}

/// Echoes until end of stream or an error.
async fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; BUF];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
