//! Sending-tool benchmarks, each a ratio against a peer measured in the same run (loopback):
//! 1. timed sends at 1 ms for 10 s: p50/p99 of the gap between arrivals of a UDP session's
//!    repeat ÷ a plain loop that sends and then sleeps 1 ms (`std::thread::sleep`);
//! 2. a file sent over loopback TCP by a TCP Client session (the worker streams it in 64 KiB
//!    chunks as the peer reads) ÷ iperf3 over the same loopback.
//!
//! Run with `cargo bench --bench sending` (also part of `scripts/bench.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sockpit::codec::macros::Template;
use sockpit::engine::session::{JobSpec, JobState};
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::engine::{tcp_client, udp};
use sockpit::net::udp::{MulticastSend, UdpBindOptions};

const S: SessionId = SessionId(1);
const TIMED: Duration = Duration::from_secs(10);
const EVERY: Duration = Duration::from_millis(1);
const FILE_BYTES: usize = 1024 * 1024 * 1024;
const RUNS: usize = 3;

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Arrival gaps (ms) of `count` datagrams at a fresh socket, while `send` sends them there.
fn gaps(count: usize, send: impl FnOnce(std::net::SocketAddr)) -> Vec<f64> {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let to = receiver.local_addr().unwrap();
    let reader = std::thread::Builder::new()
        .name("gap-reader".into())
        .spawn(move || {
            let mut buf = [0u8; 64];
            let mut times = Vec::with_capacity(count);
            while times.len() < count && receiver.recv(&mut buf).is_ok() {
                times.push(Instant::now());
            }
            times
        })
        .unwrap();
    send(to);
    let times = reader.join().unwrap();
    let mut gaps: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0)
        .collect();
    gaps.sort_by(f64::total_cmp);
    gaps
}

fn sockpit_repeat(count: usize) -> Vec<f64> {
    gaps(count, |to| {
        let worker = udp::UdpHandle::spawn(no_wake()).unwrap();
        worker
            .send(udp::Command::Bind {
                session: S,
                options: UdpBindOptions::new("127.0.0.1:0".parse().unwrap()),
                multicast: MulticastSend::default(),
            })
            .unwrap();
        let job = JobSpec::repeat(Template::fixed(b"tick".to_vec()), EVERY, Some(count as u64));
        worker
            .send(udp::Command::StartJob {
                session: S,
                host: "127.0.0.1".into(),
                port: to.port(),
                job,
            })
            .unwrap();
        loop {
            let e = worker.events().recv().unwrap();
            if let udp::EventKind::Job(status) = e.kind
                && !status.is_running()
            {
                assert_eq!(status.state, JobState::Done);
                break;
            }
        }
    })
}

fn sleep_loop(count: usize) -> Vec<f64> {
    gaps(count, |to| {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..count {
            s.send_to(b"tick", to).unwrap();
            std::thread::sleep(EVERY);
        }
    })
}

/// Bytes per second a TCP Client session sends `path` to a reading loopback peer.
fn sockpit_file(path: &std::path::Path) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = tcp_client::TcpClientHandle::spawn(no_wake()).unwrap();
    client
        .send(tcp_client::Command::Connect {
            session: S,
            options: tcp_client::ConnectOptions::new("127.0.0.1", port),
        })
        .unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    loop {
        if let tcp_client::EventKind::Connected { .. } = client.events().recv().unwrap().kind {
            break;
        }
    }
    let sink = std::thread::Builder::new()
        .name("file-sink".into())
        .spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0usize;
            while total < FILE_BYTES {
                match peer.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
            (total, Instant::now())
        })
        .unwrap();
    let start = Instant::now();
    client
        .send(tcp_client::Command::StartJob {
            session: S,
            job: JobSpec::file(path, 256 * 1024, Duration::ZERO),
        })
        .unwrap();
    // The events (a Sent per chunk) are taken as the window would, so the worker never waits.
    let drain = std::thread::Builder::new()
        .name("event-drain".into())
        .spawn(move || {
            while let Ok(e) = client.events().recv_timeout(Duration::from_secs(30)) {
                if let tcp_client::EventKind::Job(status) = e.kind
                    && !status.is_running()
                {
                    assert_eq!(status.state, JobState::Done);
                }
            }
        })
        .unwrap();
    let (total, end) = sink.join().unwrap();
    assert_eq!(total, FILE_BYTES);
    drop(drain);
    total as f64 / (end - start).as_secs_f64()
}

/// Bytes per second iperf3 moves `FILE_BYTES` over loopback.
fn iperf3() -> Option<f64> {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("iperf3")
        .args(["-s", "-1", "-B", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new("iperf3")
        .args([
            "-c",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-n",
            &FILE_BYTES.to_string(),
            "-J",
        ])
        .output()
        .ok()?;
    let _ = server.wait();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .map(|b| b / 8.0)
}

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let count = (TIMED.as_millis() / EVERY.as_millis()) as usize;
    let peer = sleep_loop(count);
    let ours = sockpit_repeat(count);
    let (p50, p99) = (percentile(&peer, 0.5), percentile(&peer, 0.99));
    let (o50, o99) = (percentile(&ours, 0.5), percentile(&ours, 0.99));
    let peer_total: f64 = peer.iter().sum();
    let ours_total: f64 = ours.iter().sum();
    println!(
        "| timed sends 1 ms × {count}: gap p50, send + sleep(1 ms) loop (peer) | {p50:.3} ms | | | | |"
    );
    println!(
        "| timed sends 1 ms: gap p50, Sockpit UDP repeat ÷ sleep loop | {o50:.3} ms | | | {:.2} | ≤ 1.0 |",
        o50 / p50
    );
    println!("| timed sends 1 ms: gap p99, send + sleep(1 ms) loop (peer) | {p99:.3} ms | | | | |");
    println!(
        "| timed sends 1 ms: gap p99, Sockpit UDP repeat ÷ sleep loop | {o99:.3} ms | | | {:.2} | ≤ 1.0 |",
        o99 / p99
    );
    println!(
        "| timed sends 1 ms: {count} sends took, sleep loop / Sockpit | {:.2} s / {:.2} s | | | | {:.1} s |",
        peer_total / 1000.0,
        ours_total / 1000.0,
        TIMED.as_secs_f64()
    );

    let dir = std::env::temp_dir().join(format!("sockpit-bench-send-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("file.bin");
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&path).unwrap();
        for _ in 0..FILE_BYTES / chunk.len() {
            f.write_all(&chunk).unwrap();
        }
    }
    let mut peer_rates = Vec::new();
    let mut our_rates = Vec::new();
    for _ in 0..RUNS {
        if let Some(r) = iperf3() {
            peer_rates.push(r);
        }
        our_rates.push(sockpit_file(&path));
    }
    let gb = |b: f64| b / 1e9;
    let (o, omin, omax) = median(our_rates);
    if peer_rates.is_empty() {
        println!(
            "| file send over loopback TCP, 1 GiB (iperf3 not found) | {:.2} GB/s | {:.2} GB/s | {:.2} GB/s | | |",
            gb(o),
            gb(omin),
            gb(omax)
        );
    } else {
        let (p, pmin, pmax) = median(peer_rates);
        println!(
            "| iperf3 loopback TCP, 1 GiB (peer) | {:.2} GB/s | {:.2} GB/s | {:.2} GB/s | | |",
            gb(p),
            gb(pmin),
            gb(pmax)
        );
        println!(
            "| file send over loopback TCP, 1 GiB, TCP Client session ÷ iperf3 | {:.2} GB/s | {:.2} GB/s | {:.2} GB/s | {:.2} | ≥ 0.5 |",
            gb(o),
            gb(omin),
            gb(omax),
            o / p
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
