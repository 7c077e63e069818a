//! The echo server on smol: a `LocalExecutor` driven by `async_io::block_on`
//! (smol's `block_on`) on the main thread, `async-net` sockets (smol's
//! `smol::net`), one task per connection, reading into a 64-byte buffer and
//! writing back what was read.
//!
//! async-io also starts its `async-io` thread, which drives the reactor
//! only while no `block_on` does; it sleeps here, and any time it spends is
//! counted in the server's CPU time like the rest.
//!
//! `echo-smol [--addr 127.0.0.1:0]` prints `listening on <addr>` first.

#![forbid(unsafe_code)]

mod cli;

use std::io;

use async_executor::LocalExecutor;
use async_net::{TcpListener, TcpStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// The echo buffer: one 64-byte message.
const BUF: usize = 64;

fn main() -> io::Result<()> {
    let addr = cli::addr();
    let ex = LocalExecutor::new();
    async_io::block_on(ex.run(async {
        let listener = TcpListener::bind(addr).await?;
        cli::announce(listener.local_addr()?);
        loop {
            match listener.accept().await {
                Ok((stream, _)) => ex.spawn(echo(stream)).detach(),
                Err(e) => eprintln!("echo-smol: accept: {e}"),
            }
        }
    }))
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
