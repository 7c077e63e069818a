//! A small keep-alive HTTP/1.1 server on pollen to point `pollen-load` at:
//! every request gets `200 OK` and a short JSON body, except that every
//! N-th request (by its `X-Request-Id`) gets `503` when N is given.
//!
//! ```text
//! cargo run --release -p pollen-load --example status_server -- 127.0.0.1:8080 [N]
//! cargo run --release -p pollen-load -- http --url http://127.0.0.1:8080/status -n 10000 -c 50
//! ```
#![forbid(unsafe_code)]

use std::io;

use pollen::io::{AsyncReadExt, AsyncWriteExt};
use pollen::net::{TcpListener, TcpStream};

#[pollen::main]
async fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let error_every: u64 = match args.next().map(|n| n.parse()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("usage: status_server [ADDR] [N: answer 503 to every N-th request]");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&addr).await?;
    println!("status_server listening on {}", listener.local_addr()?);
    let shutdown = pollen::signal::shutdown()?;
    let accept = async {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    pollen::spawn(async move {
                        let _ = serve(stream, error_every).await;
                    });
                }
                Err(e) => eprintln!("status_server: accept failed: {e}"),
            }
        }
    };
    pollen::select! {
        () = shutdown => {}
        () = accept => {}
    }
    Ok(())
}

/// Answers requests on one connection until the client closes it.
async fn serve(mut stream: TcpStream, error_every: u64) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        let (len, id, close) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(&buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let value = |name: &str| {
                        request
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case(name))
                            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
                    };
                    let body: usize = value("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let id: u64 = value("x-request-id")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let close =
                        value("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
                    break (len + body, id, close);
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => {
                    stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await?;
                    return Ok(());
                }
            }
            let mut chunk = [0; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        while buf.len() < len {
            let mut chunk = [0; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        buf.drain(..len);
        let response: &[u8] = if error_every > 0 && id % error_every == 0 {
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{\"status\":\"overload\"}"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}"
        };
        stream.write_all(response).await?;
        if close {
            return Ok(());
        }
    }
}
