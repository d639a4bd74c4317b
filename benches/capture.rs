//! Capture benchmarks: intake with `--capture`-style capture on ÷ capture off, measured in the
//! same run, capturing pcapng to tmpfs (`/dev/shm`), loopback only:
//! 1. TCP Server, one flooding client, every byte stored in the traffic log as the tab does;
//! 2. UDP, 64-byte datagrams received and stored.
//!
//! Run with `cargo bench --bench capture` (or `scripts/bench.sh`). `SOCKPIT_BENCH_MB` scales
//! the TCP runs (default 1024 MB), `SOCKPIT_BENCH_DATAGRAMS` the UDP runs (default 1,000,000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sockpit::capture::{Capture, CaptureFormat, CaptureHandle, CaptureOptions, Transport};
use sockpit::engine::session::TapHandoff;
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::traffic::{Direction, Record, TrafficLog};

const RUNS: usize = 3;
const S: SessionId = SessionId(1);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn capture_dir() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

fn start_capture(transport: Transport, name: &str) -> (TapHandoff, CaptureHandle, PathBuf) {
    let path = capture_dir().join(format!(
        "sockpit-bench-{name}-{}.pcapng",
        std::process::id()
    ));
    let (tap, handle) = Capture::start(
        &path,
        CaptureFormat::Pcapng,
        transport,
        &CaptureOptions::default(),
    )
    .unwrap();
    (TapHandoff::new(Box::new(tap)), handle, path)
}

fn end_capture(handle: Option<(CaptureHandle, PathBuf)>) -> Option<String> {
    let (mut handle, path) = handle?;
    let status = handle.wait(Duration::from_mins(2));
    let _ = std::fs::remove_file(&path);
    Some(status.summary())
}

fn tcp_run(bytes: u64, capture: bool) -> (f64, Option<String>) {
    use sockpit::engine::tcp_server::{Command, EventKind, ServerOptions, TcpServerHandle};
    let server = TcpServerHandle::spawn(no_wake()).unwrap();
    let mut cap = None;
    if capture {
        let (tap, handle, path) = start_capture(Transport::Tcp, "tcp");
        server.send(Command::SetTap { tap: Some(tap) }).unwrap();
        cap = Some((handle, path));
    }
    server
        .send(Command::Start {
            session: S,
            options: ServerOptions::new("127.0.0.1:0".parse().unwrap()),
        })
        .unwrap();
    let addr = loop {
        if let EventKind::Listening { local } = server.events().recv().unwrap().kind {
            break local;
        }
    };
    let flood = std::thread::Builder::new()
        .name("tcp-flood".into())
        .spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let block = vec![0xA5u8; 256 * 1024];
            let mut sent = 0;
            while sent < bytes {
                let n = (bytes - sent).min(block.len() as u64) as usize;
                s.write_all(&block[..n]).unwrap();
                sent += n as u64;
            }
        })
        .unwrap();
    let mut log = TrafficLog::default();
    let mut start = None;
    while log.counters().rx_bytes < bytes {
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
    flood.join().unwrap();
    drop(server);
    (log.counters().rx_bytes as f64 / secs, end_capture(cap))
}

fn udp_run(count: u64, capture: bool) -> (f64, u64, Option<String>) {
    use sockpit::engine::udp::{Command, EventKind, UdpHandle};
    use sockpit::net::udp::{MulticastSend, UdpBindOptions};
    let udp = UdpHandle::spawn(no_wake()).unwrap();
    let mut cap = None;
    if capture {
        let (tap, handle, path) = start_capture(Transport::Udp, "udp");
        udp.send(Command::SetTap { tap: Some(tap) }).unwrap();
        cap = Some((handle, path));
    }
    udp.send(Command::Bind {
        session: S,
        options: UdpBindOptions {
            recv_buffer_bytes: Some(8 * 1024 * 1024),
            ..UdpBindOptions::new("127.0.0.1:0".parse().unwrap())
        },
        multicast: MulticastSend::default(),
    })
    .unwrap();
    let to: SocketAddr = loop {
        if let EventKind::Bound { local } = udp.events().recv().unwrap().kind {
            break local;
        }
    };
    let sender = std::thread::Builder::new()
        .name("udp-blast".into())
        .spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut d = [0x42u8; 64];
            for i in 0..count {
                d[..8].copy_from_slice(&i.to_be_bytes());
                let _ = s.send_to(&d, to);
            }
        })
        .unwrap();
    let mut log = TrafficLog::default();
    let mut start = None;
    let mut last = Instant::now();
    let mut received = 0u64;
    let mut dropped = 0u64;
    while let Ok(e) = udp.events().recv_timeout(Duration::from_millis(600)) {
        match e.kind {
            EventKind::Received(batch) => {
                start.get_or_insert_with(Instant::now);
                received += batch.len() as u64;
                for d in batch {
                    log.push(Record::at(
                        d.time_us,
                        Direction::Received,
                        Some(d.from),
                        d.bytes,
                    ));
                }
                last = Instant::now();
            }
            EventKind::Stats(st) => {
                dropped = st.dropped_by_kernel.unwrap_or(0) + st.dropped_by_app;
            }
            _ => {}
        }
    }
    sender.join().unwrap();
    drop(udp);
    let secs = start.map_or(1.0, |s| (last - s).as_secs_f64());
    (received as f64 / secs, dropped, end_capture(cap))
}

/// The disk's own speed: `bytes` written in 256 KiB blocks to a new file where captures go,
/// by one thread with nothing else running (what any capture of every byte is bounded by).
fn disk_write_rate(bytes: u64) -> f64 {
    let path = capture_dir().join(format!("sockpit-bench-disk-{}.bin", std::process::id()));
    let block = vec![0xA5u8; 256 * 1024];
    let start = Instant::now();
    let mut f = std::fs::File::create(&path).unwrap();
    let mut written = 0;
    while written < bytes {
        let n = (bytes - written).min(block.len() as u64) as usize;
        f.write_all(&block[..n]).unwrap();
        written += n as u64;
    }
    f.sync_data().unwrap();
    let rate = written as f64 / start.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    rate
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let bytes = env_u64("SOCKPIT_BENCH_MB", 1024) * 1_000_000;
    let datagrams = env_u64("SOCKPIT_BENCH_DATAGRAMS", 1_000_000);
    let (mut off, mut on, mut disk) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        disk.push(disk_write_rate(bytes));
        off.push(tcp_run(bytes, false).0);
        let (bps, summary) = tcp_run(bytes, true);
        on.push(bps);
        println!("  (tcp capture: {})", summary.unwrap_or_default());
    }
    let (tcp_off, tcp_on, disk) = (median(off), median(on), median(disk));
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (r, d, _) = udp_run(datagrams, false);
        println!("  (udp off: {r:.0}/s, {d} dropped)");
        off.push(r);
        let (r, d, summary) = udp_run(datagrams, true);
        println!(
            "  (udp on: {r:.0}/s, {d} dropped; capture: {})",
            summary.unwrap_or_default()
        );
        on.push(r);
    }
    let (udp_off, udp_on) = (median(off), median(on));
    println!(
        "| TCP Server intake, one client, capture off (peer) | {:.2} GB/s | | | | |",
        tcp_off / 1e9
    );
    println!(
        "| TCP Server intake with pcapng capture to tmpfs ÷ off | {:.2} GB/s | | | {:.2} | ≥ 0.8 |",
        tcp_on / 1e9,
        tcp_on / tcp_off
    );
    println!(
        "| writing a new file on that tmpfs, 256 KiB blocks, one thread (peer: the disk) | {:.2} GB/s | | | | |",
        disk / 1e9
    );
    println!(
        "| TCP Server intake with capture ÷ the disk's own write rate | {:.2} GB/s | | | {:.2} | |",
        tcp_on / 1e9,
        tcp_on / disk
    );
    println!("| UDP intake, 64-byte datagrams, capture off (peer) | {udp_off:.0}/s | | | | |");
    println!(
        "| UDP intake with pcapng capture to tmpfs ÷ off | {udp_on:.0}/s | | | {:.2} | ≥ 0.8 |",
        udp_on / udp_off
    );
}
