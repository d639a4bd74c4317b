//! TCP Server benchmarks, as ratios against peers measured in the same run (loopback only):
//! 1. one flooding client, every byte stored in the traffic log, ÷ iperf3 and ÷ a raw read loop;
//! 2. 100 clients flooding together ÷ one client;
//! 3. 10,000 idle clients: accept failures and user-space memory per connection.
//!
//! Run with `cargo bench --bench tcp_server` (or `scripts/bench.sh`). Sizes can be scaled with
//! `SOCKPIT_BENCH_MB` (default 2048 MB per throughput run); `SOCKPIT_BENCH_ONLY=clients:N` or
//! `raw:N` runs one measurement alone, for profiling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use sockpit::engine::tcp_server::{Command, EventKind, ServerOptions, TcpServerHandle};
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::traffic::{Direction, Record, TrafficLog};

const RUNS: usize = 5;

fn bench_bytes() -> u64 {
    std::env::var("SOCKPIT_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048u64)
        * 1_000_000
}

fn flood(addr: SocketAddr, bytes: u64) {
    let mut s = TcpStream::connect(addr).unwrap();
    let block = vec![0xA5u8; 256 * 1024];
    let mut sent = 0;
    while sent < bytes {
        let n = (bytes - sent).min(block.len() as u64) as usize;
        s.write_all(&block[..n]).unwrap();
        sent += n as u64;
    }
}

/// Many flooding clients driven by one thread running a mio loop over all the connections,
/// so the load generator uses as many threads as the one-client case: 100 blocking writer
/// threads on a 2-core machine would measure the scheduler, not the server.
fn spawn_floods(addr: SocketAddr, clients: usize, total: u64) -> Vec<std::thread::JoinHandle<()>> {
    if clients <= 2 {
        return spawn_blocking_floods(addr, clients, total);
    }
    let threads = 1;
    let per_client = total / clients as u64;
    (0..threads)
        .map(|t| {
            let mine = clients / threads + usize::from(t < clients % threads);
            std::thread::Builder::new()
                .name(format!("flood-{t}"))
                .spawn(move || mio_flood(addr, mine, per_client))
                .unwrap()
        })
        .collect()
}

fn mio_flood(addr: SocketAddr, clients: usize, per_client: u64) {
    use mio::{Events, Interest, Poll, Token};
    let mut poll = Poll::new().unwrap();
    let mut conns: Vec<(mio::net::TcpStream, u64)> = (0..clients)
        .map(|_| {
            let s = TcpStream::connect(addr).unwrap();
            s.set_nonblocking(true).unwrap();
            (mio::net::TcpStream::from_std(s), 0)
        })
        .collect();
    for (i, (s, _)) in conns.iter_mut().enumerate() {
        poll.registry()
            .register(s, Token(i), Interest::WRITABLE)
            .unwrap();
    }
    let block = vec![0xA5u8; 256 * 1024];
    let mut done = 0;
    let mut events = Events::with_capacity(1024);
    while done < clients {
        poll.poll(&mut events, Some(Duration::from_mins(1)))
            .unwrap();
        for e in &events {
            let (s, sent) = &mut conns[e.token().0];
            while *sent < per_client {
                let n = (per_client - *sent).min(block.len() as u64) as usize;
                match s.write(&block[..n]) {
                    Ok(w) => *sent += w as u64,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("flood write: {e}"),
                }
            }
            if *sent >= per_client {
                poll.registry().deregister(s).unwrap();
                done += 1;
            }
        }
    }
}

fn spawn_blocking_floods(
    addr: SocketAddr,
    clients: usize,
    total: u64,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..clients)
        .map(|i| {
            std::thread::Builder::new()
                .name(format!("flood-{i}"))
                .spawn(move || flood(addr, total / clients as u64))
                .unwrap()
        })
        .collect()
}

/// Peer: a plain blocking read loop that throws the bytes away.
fn raw_read_loop_bps(total: u64) -> f64 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let floods = spawn_floods(addr, 1, total);
    let (mut s, _) = l.accept().unwrap();
    let start = Instant::now();
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0u64;
    while got < total {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    for f in floods {
        f.join().unwrap();
    }
    got as f64 / secs
}

/// Peer for many connections: a plain mio loop that reads every connection and throws the
/// bytes away.
fn raw_many_bps(clients: usize, total: u64) -> f64 {
    use mio::{Events, Interest, Poll, Token};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let total = total / clients as u64 * clients as u64;
    let floods = spawn_floods(addr, clients, total);
    let mut poll = Poll::new().unwrap();
    let mut conns: Vec<mio::net::TcpStream> = (0..clients)
        .map(|i| {
            let (s, _) = l.accept().unwrap();
            s.set_nonblocking(true).unwrap();
            let mut s = mio::net::TcpStream::from_std(s);
            poll.registry()
                .register(&mut s, Token(i), Interest::READABLE)
                .unwrap();
            s
        })
        .collect();
    let start = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0u64;
    let mut events = Events::with_capacity(1024);
    while got < total {
        poll.poll(&mut events, Some(Duration::from_mins(1)))
            .unwrap();
        for e in &events {
            let s = &mut conns[e.token().0];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got += n as u64,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("raw read: {e}"),
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    for f in floods {
        f.join().unwrap();
    }
    got as f64 / secs
}

/// Sockpit: the server engine, with every received chunk stored in a traffic log exactly as the
/// tab does (64 MiB ring).
fn sockpit_bps(clients: usize, total: u64) -> f64 {
    let server = TcpServerHandle::spawn(no_wake()).unwrap();
    server
        .send(Command::Start {
            session: SessionId(1),
            options: ServerOptions::new("127.0.0.1:0".parse().unwrap()),
        })
        .unwrap();
    let addr = loop {
        if let EventKind::Listening { local } = server.events().recv().unwrap().kind {
            break local;
        }
    };
    let mut log = TrafficLog::default();
    let total = total / clients as u64 * clients as u64;
    let floods = spawn_floods(addr, clients, total);
    let mut start = None;
    while log.counters().rx_bytes < total {
        let event = server
            .events()
            .recv_timeout(Duration::from_mins(1))
            .unwrap();
        if let EventKind::Received { peer, bytes, .. } = event.kind {
            start.get_or_insert_with(Instant::now);
            log.push(Record::new(Direction::Received, Some(peer), bytes));
        }
    }
    let secs = start.map_or(1.0, |s| s.elapsed().as_secs_f64());
    for f in floods {
        f.join().unwrap();
    }
    log.counters().rx_bytes as f64 / secs
}

/// iperf3's loopback TCP receive rate, if iperf3 is installed.
fn iperf3_bps() -> Option<f64> {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").ok()?;
        l.local_addr().ok()?.port()
    };
    let mut server = Proc::new("iperf3")
        .args(["-s", "-1", "-B", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(300));
    let out = Proc::new("iperf3")
        .args(["-c", "127.0.0.1", "-p", &port.to_string(), "-t", "3", "-J"])
        .output()
        .ok()?;
    let _ = server.wait();
    let json = String::from_utf8_lossy(&out.stdout);
    let at = json.find("\"sum_received\"")?;
    let rest = &json[at..];
    let key = "\"bits_per_second\":";
    let v = &rest[rest.find(key)? + key.len()..];
    let end = v.find([',', '\n', '}'])?;
    v[..end].trim().parse::<f64>().ok().map(|bits| bits / 8.0)
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// Holds `n` idle clients from a Python child (its own descriptor budget), returns
/// (accepted, accept errors + failed connects, bytes of RSS per connection).
fn idle_clients(n: usize) -> (usize, usize, f64) {
    let limit = sockpit::net::raise_open_file_limit().unwrap_or(0);
    let server = TcpServerHandle::spawn(no_wake()).unwrap();
    let mut options = ServerOptions::new("127.0.0.1:0".parse().unwrap());
    options.backlog = 4096;
    server
        .send(Command::Start {
            session: SessionId(1),
            options,
        })
        .unwrap();
    let addr = loop {
        if let EventKind::Listening { local } = server.events().recv().unwrap().kind {
            break local;
        }
    };
    let before = rss_bytes();
    let script = format!(
        "import socket,sys,resource,time\n\
         s,h=resource.getrlimit(resource.RLIMIT_NOFILE)\n\
         resource.setrlimit(resource.RLIMIT_NOFILE,(h,h))\n\
         cs=[];bad=0\n\
         for i in range({n}):\n\
         \x20 try: cs.append(socket.create_connection(('127.0.0.1',{port}),timeout=5))\n\
         \x20 except Exception: bad+=1\n\
         print(bad,flush=True)\n\
         sys.stdin.read()\n",
        port = addr.port()
    );
    let mut child = Proc::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut accepted = 0;
    let mut errors = 0;
    let deadline = Instant::now() + Duration::from_mins(2);
    while accepted + errors < n && Instant::now() < deadline {
        if let Ok(e) = server.events().recv_timeout(Duration::from_millis(200)) {
            match e.kind {
                EventKind::Accepted { .. } => accepted += 1,
                EventKind::AcceptError { .. } => errors += 1,
                _ => {}
            }
        }
    }
    let after = rss_bytes();
    let line = child.stdout.as_mut().map_or_else(String::new, |out| {
        let mut b = [0u8; 32];
        let k = out.read(&mut b).unwrap_or(0);
        String::from_utf8_lossy(&b[..k]).trim().to_owned()
    });
    let failed_connects: usize = line.parse().unwrap_or(n);
    drop(child.stdin.take());
    let _ = child.wait();
    eprintln!("open-file limit {limit}");
    (
        accepted,
        errors + failed_connects,
        after.saturating_sub(before) as f64 / accepted.max(1) as f64,
    )
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn gbps(bps: f64) -> String {
    format!("{:.2} GB/s", bps / 1e9)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it, and
    // then it only proves the benchmark builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // `SOCKPIT_BENCH_ONLY=clients:N` (Sockpit) or `raw:N` (the raw mio loop peer) runs one
    // measurement alone, for profiling.
    let only = std::env::var("SOCKPIT_BENCH_ONLY").unwrap_or_default();
    if let Some((side, n)) = only
        .split_once(':')
        .and_then(|(side, n)| Some((side, n.parse::<usize>().ok()?)))
    {
        match side {
            "clients" => println!("{} with {n} clients", gbps(sockpit_bps(n, bench_bytes()))),
            "raw" => println!("{} raw, {n} clients", gbps(raw_many_bps(n, bench_bytes()))),
            other => println!("unknown SOCKPIT_BENCH_ONLY side {other:?}: use clients:N or raw:N"),
        }
        return;
    }
    // Idle clients first, in a fresh heap, so the memory figure is not hidden by freed buffers.
    let (accepted, failures, per_conn) = idle_clients(10_000);
    let total = bench_bytes();
    let iperf: Vec<f64> = (0..RUNS).filter_map(|_| iperf3_bps()).collect();
    let raw: Vec<f64> = (0..RUNS).map(|_| raw_read_loop_bps(total)).collect();
    let one: Vec<f64> = (0..RUNS).map(|_| sockpit_bps(1, total)).collect();
    let hundred: Vec<f64> = (0..RUNS).map(|_| sockpit_bps(100, total)).collect();
    let raw_hundred: Vec<f64> = (0..RUNS).map(|_| raw_many_bps(100, total)).collect();
    let (rh_m, rh_lo, rh_hi) = median(raw_hundred);
    let (one_m, one_lo, one_hi) = median(one.clone());
    let (raw_m, ..) = median(raw);
    let (h_m, h_lo, h_hi) = median(hundred);
    println!("| measure | median | min | max | ratio | target |");
    println!("|---|---|---|---|---|---|");
    if iperf.is_empty() {
        println!("| iperf3 loopback TCP | not installed | | | | |");
    } else {
        let (i_m, i_lo, i_hi) = median(iperf);
        println!(
            "| iperf3 loopback TCP | {} | {} | {} | | |",
            gbps(i_m),
            gbps(i_lo),
            gbps(i_hi)
        );
        println!(
            "| Sockpit server, 1 client, all stored ÷ iperf3 | {} | {} | {} | {:.2} | ≥ 0.5 |",
            gbps(one_m),
            gbps(one_lo),
            gbps(one_hi),
            one_m / i_m
        );
    }
    println!(
        "| Sockpit server, 1 client ÷ raw read loop | {} | | | {:.2} | |",
        gbps(one_m),
        one_m / raw_m
    );
    println!(
        "| Sockpit server, 100 clients ÷ 1 client | {} | {} | {} | {:.2} | ≥ 0.8 |",
        gbps(h_m),
        gbps(h_lo),
        gbps(h_hi),
        h_m / one_m
    );
    println!(
        "| raw mio read loop, 100 clients (peer) | {} | {} | {} | | |",
        gbps(rh_m),
        gbps(rh_lo),
        gbps(rh_hi)
    );
    println!(
        "| Sockpit server, 100 clients ÷ raw mio loop, 100 clients | {} | | | {:.2} | |",
        gbps(h_m),
        h_m / rh_m
    );
    println!(
        "| 10,000 idle clients: accepted / failures | {accepted} / {failures} | | | | 0 failures |"
    );
    println!(
        "| user-space memory per idle connection | {:.1} KiB | | | | ≤ 32 KiB |",
        per_conn / 1024.0
    );
}
