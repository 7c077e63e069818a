//! The chat server with real TCP clients: each test starts a server on a
//! free port (on a 2-worker runtime of its own) and talks to it with plain
//! blocking sockets.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use pollen::channel::oneshot;
use pollen::net::TcpListener;
use pollen_chat::{Config, Summary, serve};

/// How long any one expected line may take.
const PATIENCE: Duration = Duration::from_secs(10);

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<'static, ()>>,
    thread: Option<thread::JoinHandle<Summary>>,
}

impl Server {
    fn start(config: Config) -> Server {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = pollen::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                serve(listener, config, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        Server {
            addr: addr_rx.recv_timeout(PATIENCE).expect("server started"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Shuts the server down and returns what it did.
    fn stop(mut self) -> Summary {
        self.stop.take().unwrap().send(()).unwrap();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Client {
    nick: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    /// Connects and reads the greeting.
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut client = Client {
            nick: String::new(),
            reader: BufReader::new(stream),
            writer,
        };
        let welcome = client.line();
        let nick = welcome
            .strip_prefix("* welcome to pollen-chat, you are ")
            .unwrap_or_else(|| panic!("a greeting, got {welcome:?}"));
        client.nick = nick.to_owned();
        assert_eq!(client.line(), pollen_chat::COMMANDS);
        client
    }

    fn send(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).unwrap();
        self.writer.write_all(b"\n").unwrap();
    }

    /// The next line, without its newline.
    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("a line in time");
        assert!(n > 0, "the server closed the connection");
        line.truncate(line.trim_end_matches(['\r', '\n']).len());
        line
    }

    /// Reads lines until one equals `want`; returns the lines skipped.
    fn expect(&mut self, want: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            assert!(Instant::now() < deadline, "no {want:?}; saw {skipped:?}");
            let line = self.line();
            if line == want {
                return skipped;
            }
            skipped.push(line);
        }
    }

    /// Whether the server closed the connection (after any lines left).
    fn closed(&mut self) -> bool {
        let mut rest = String::new();
        loop {
            rest.clear();
            match self.reader.read_line(&mut rest) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    }
}

fn config() -> Config {
    Config {
        verbose: false,
        ..Config::default()
    }
}

#[test]
fn two_clients_exchange_messages_both_ways() {
    let server = Server::start(config());
    let mut a = server.connect();
    let mut b = server.connect();
    a.expect(&format!("* {} joined", b.nick));
    a.send("hello from a");
    b.expect(&format!("<{}> hello from a", a.nick));
    b.send("hi a, b here");
    a.expect(&format!("<{}> hi a, b here", b.nick));
    // Nobody gets their own message back: the next line `a` sees is b's.
    b.send("second");
    assert_eq!(a.line(), format!("<{}> second", b.nick));
}

#[test]
fn nick_renames_for_everyone_and_refuses_taken_or_bad_names() {
    let server = Server::start(config());
    let mut a = server.connect();
    let mut b = server.connect();
    a.expect(&format!("* {} joined", b.nick));
    let old = a.nick.clone();
    a.send("/nick alice");
    a.expect(&format!("* {old} is now known as alice"));
    b.expect(&format!("* {old} is now known as alice"));
    a.send("hi");
    b.expect("<alice> hi");

    b.send("/nick alice");
    b.expect("! nick alice is taken");
    b.send(&format!("/nick {}", "x".repeat(33)));
    b.expect("! a nick is 1 to 32 printable characters, without spaces");
    b.send("still me");
    a.expect(&format!("<{}> still me", b.nick));
}

#[test]
fn who_lists_everyone_and_me_and_unknown_commands_behave() {
    let server = Server::start(config());
    let mut a = server.connect();
    let mut b = server.connect();
    a.expect(&format!("* {} joined", b.nick));
    a.send("/nick zed");
    a.expect(&format!("* {} is now known as zed", a.nick));
    b.send("/who");
    b.expect(&format!("* online (2): {}, zed", b.nick));
    b.send("/me waves");
    a.expect(&format!("* {} waves", b.nick));
    a.send("/dance");
    a.expect("! unknown command /dance (try /nick NAME, /who, /me ACTION, /quit)");
}

#[test]
fn quit_says_goodbye_and_everyone_sees_the_departure() {
    let server = Server::start(config());
    let mut a = server.connect();
    let mut b = server.connect();
    a.expect(&format!("* {} joined", b.nick));
    b.send("/quit");
    b.expect("* bye");
    assert!(b.closed(), "the server hangs up after /quit");
    a.expect(&format!("* {} left", b.nick));
    // A client that just vanishes is announced too.
    let c = server.connect();
    a.expect(&format!("* {} joined", c.nick));
    let gone = c.nick.clone();
    drop(c);
    a.expect(&format!("* {gone} left"));
}

#[test]
fn an_over_long_line_is_refused_and_the_client_can_still_chat() {
    let server = Server::start(Config {
        max_line: 64,
        ..config()
    });
    let mut a = server.connect();
    let mut b = server.connect();
    a.expect(&format!("* {} joined", b.nick));
    a.send(&"x".repeat(1000));
    a.expect("! line too long (max 64 bytes), discarded");
    // Carriage returns (telnet) and invalid UTF-8 are fine.
    a.writer.write_all(b"caf\xc3\r\n").unwrap();
    b.expect(&format!("<{}> caf\u{fffd}", a.nick));
    a.send("short");
    b.expect(&format!("<{}> short", a.nick));
}

#[test]
fn a_client_that_does_not_read_is_disconnected_and_the_others_keep_chatting() {
    let server = Server::start(Config {
        inbox: 4,
        backlog: 64,
        ..config()
    });
    let mut talker = server.connect();
    let mut listener = server.connect();
    let silent = server.connect();
    talker.expect(&format!("* {} joined", listener.nick));
    talker.expect(&format!("* {} joined", silent.nick));
    listener.expect(&format!("* {} joined", silent.nick));

    // The others chat at the pace the listener reads, in rounds of 50
    // two-kilobyte lines, until the silent client's socket buffers, inbox
    // and backlog are full (a few megabytes) and it is disconnected.
    let line = "y".repeat(2000);
    let left = format!("* {} left", silent.nick);
    let mut kicked = false;
    for _round in 0..1000 {
        for _ in 0..50 {
            talker.send(&line);
        }
        let mut got = 0;
        while got < 50 {
            let seen = listener.line();
            if seen == left {
                kicked = true;
            } else {
                assert!(seen.ends_with(&line), "{seen:.40}");
                got += 1;
            }
        }
        if kicked {
            break;
        }
    }
    assert!(kicked, "the silent client was never disconnected");
    talker.send("after the kick");
    listener.expect(&format!("<{}> after the kick", talker.nick));
    drop(silent);
    let summary = server.stop();
    assert_eq!(summary.kicked, 1);
}

#[test]
fn clients_past_the_limit_are_refused_with_a_reason() {
    let server = Server::start(Config {
        max_clients: 2,
        ..config()
    });
    let mut a = server.connect();
    let _b = server.connect();
    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut refused = BufReader::new(stream);
    let mut line = String::new();
    refused.read_line(&mut line).unwrap();
    assert_eq!(line, "! server full, try again later\n");
    // The served ones are unaffected.
    a.send("/who");
    a.expect(&format!("* online (2): {}, {}", a.nick, _b.nick));
    assert_eq!(server.stop().refused, 1);
}

#[test]
fn an_idle_client_is_disconnected_with_a_reason() {
    let server = Server::start(Config {
        idle_timeout: Duration::from_millis(300),
        ..config()
    });
    let mut a = server.connect();
    a.expect("! disconnected: idle for 300ms");
    assert!(a.closed());
}

#[test]
fn shutdown_tells_every_client_and_closes() {
    let server = Server::start(config());
    let mut a = server.connect();
    let mut b = server.connect();
    a.expect(&format!("* {} joined", b.nick));
    let summary = server.stop();
    a.expect("* server shutting down");
    b.expect("* server shutting down");
    assert!(a.closed() && b.closed());
    assert_eq!(summary.served, 2);
}

#[test]
fn load_100_clients_times_10_messages_everyone_gets_all_900_in_order() {
    const CLIENTS: usize = 100;
    const MESSAGES: usize = 10;
    let _ = rlimit::increase_nofile_limit(4096);
    let server = Server::start(config());
    let all_greeted = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let addr = server.addr;
            let all_greeted = all_greeted.clone();
            thread::spawn(move || {
                let mut client = Client::connect(addr);
                // Everyone is in before anyone talks.
                all_greeted.wait();
                for m in 0..MESSAGES {
                    client.send(&format!("m {i} {m}"));
                }
                let mut next = vec![0usize; CLIENTS];
                let mut received = 0;
                while received < (CLIENTS - 1) * MESSAGES {
                    let line = client.line();
                    if !line.starts_with('<') {
                        continue;
                    }
                    let mut words = line.rsplit(' ');
                    let m: usize = words.next().unwrap().parse().unwrap();
                    let from: usize = words.next().unwrap().parse().unwrap();
                    assert_ne!(from, i, "no echo of one's own lines");
                    assert_eq!(m, next[from], "sender {from}'s lines in order");
                    next[from] += 1;
                    received += 1;
                }
                received
            })
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), (CLIENTS - 1) * MESSAGES);
    }
    let summary = server.stop();
    assert_eq!(summary.messages, (CLIENTS * MESSAGES) as u64);
    assert_eq!(summary.kicked, 0);
}

#[test]
fn the_binary_prints_its_address_and_ctrl_c_says_goodbye_and_exits_0() {
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_pollen-chat"))
        .args(["--addr", "127.0.0.1:0", "--threads", "2", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let addr: SocketAddr = banner
        .trim()
        .strip_prefix("pollen-chat listening on ")
        .unwrap_or_else(|| panic!("a banner, got {banner:?}"))
        .parse()
        .unwrap();
    let mut a = Client::connect(addr);
    let mut b = Client::connect(addr);
    a.expect(&format!("* {} joined", b.nick));
    a.send("before the end");
    b.expect(&format!("<{}> before the end", a.nick));

    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    a.expect("* server shutting down");
    b.expect("* server shutting down");
    assert!(a.closed() && b.closed());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit 0 after Ctrl-C, got {status}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(TcpStream::connect(addr).is_err(), "no longer accepting");
}
