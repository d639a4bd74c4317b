//! Receiving-tool benchmarks, each a ratio against a peer measured in the same run (loopback):
//! 1. framing throughput of a TCP Client session (LF delimiter, and a 2-byte length prefix)
//!    ÷ the same session in raw mode (one record per read);
//! 2. auto-reply latency, request to reply, p50/p99 of a rule in a TCP Server session ÷ a
//!    plain Python echo server answering the same client loop;
//! 3. log search over a full 64 MiB ring ÷ one `memmem` pass over the same bytes laid end to
//!    end.
//!
//! Run with `cargo bench --bench receiving` (also part of `scripts/bench.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sockpit::codec::TextEncoding;
use sockpit::engine::session::rules::{RuleSet, RuleText, RulesFile};
use sockpit::engine::session::{FramerSpec, Framing, PipelineSpec};
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::engine::{tcp_client, tcp_server};
use sockpit::traffic::search::{Search, SearchMode};
use sockpit::traffic::{Direction, Record, TrafficLog};

const S: SessionId = SessionId(1);
const RUNS: usize = 3;
const STREAM_BYTES: usize = 256 * 1024 * 1024;
const ROUND_TRIPS: usize = 5000;

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// `STREAM_BYTES` of messages: 100-byte lines, or 1 KiB frames behind a 2-byte length.
fn stream(length_prefixed: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(STREAM_BYTES + 2048);
    while out.len() < STREAM_BYTES {
        if length_prefixed {
            out.extend_from_slice(&1022u16.to_be_bytes());
            out.extend(std::iter::repeat_n(b'x', 1022));
        } else {
            out.extend(std::iter::repeat_n(b'x', 99));
            out.push(b'\n');
        }
    }
    out
}

/// MB/s a TCP Client session takes `data` with `framer`, every record handed to the owner.
fn intake(framer: FramerSpec, data: &Arc<Vec<u8>>) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = tcp_client::TcpClientHandle::spawn(no_wake()).unwrap();
    let mut options = tcp_client::ConnectOptions::new("127.0.0.1", port);
    options.pipeline = PipelineSpec {
        framer,
        ..PipelineSpec::default()
    };
    client
        .send(tcp_client::Command::Connect {
            session: S,
            options,
        })
        .unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let data = Arc::clone(data);
    let total = data.len();
    let start = Instant::now();
    let writer = std::thread::Builder::new()
        .name("bench-writer".into())
        .spawn(move || peer.write_all(&data).unwrap())
        .unwrap();
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_mins(2);
    while got < total && Instant::now() < deadline {
        if let Ok(e) = client.events().recv_timeout(Duration::from_millis(100))
            && let tcp_client::EventKind::Received { bytes, .. } = e.kind
        {
            got += bytes.len();
        }
    }
    assert_eq!(got, total, "every byte arrived in a record");
    let secs = start.elapsed().as_secs_f64();
    writer.join().unwrap();
    total as f64 / secs / 1e6
}

fn framing_rows(table: &mut Vec<String>) {
    for (name, length_prefixed, rule) in [
        // Delimiters kept, so the records add up to the bytes sent.
        ("LF delimiter, 100-byte lines", false, "lf:keep"),
        ("2-byte length prefix, 1 KiB frames", true, "len:0:2:be"),
    ] {
        let data = Arc::new(stream(length_prefixed));
        let framing = Framing::new(rule.parse().unwrap(), 1024 * 1024).unwrap();
        let mut raw = Vec::new();
        let mut framed = Vec::new();
        for _ in 0..RUNS {
            raw.push(intake(FramerSpec::Raw, &data));
            framed.push(intake(FramerSpec::Framed(framing.clone()), &data));
        }
        let (r, _, _) = median(raw);
        let (f, lo, hi) = median(framed);
        table.push(format!(
            "| TCP Client intake, raw (peer; {name}) | {r:.0} MB/s | | | | |"
        ));
        table.push(format!(
            "| TCP Client intake, framed ÷ raw ({name}) | {f:.0} MB/s | {lo:.0} MB/s | {hi:.0} MB/s | {:.2} | ≥ 0.5 |",
            f / r
        ));
    }
}

/// Round-trip times of `ROUND_TRIPS` "PING\n" → "PONG\n" exchanges with `addr`.
fn round_trips(addr: std::net::SocketAddr) -> Vec<f64> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 5];
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        s.write_all(b"PING\n").unwrap();
        s.read_exact(&mut buf).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p) as usize]
}

fn auto_reply_rows(table: &mut Vec<String>) {
    // Sockpit: a TCP Server session whose rule answers PING with PONG.
    let file = RulesFile {
        rules: vec![RuleText::from_arrow("exact:PING=>PONG\\n").unwrap()],
        ..RulesFile::default()
    };
    let set = Arc::new(RuleSet::build(&file, TextEncoding::Utf8).unwrap());
    let mut pipeline = PipelineSpec {
        framer: FramerSpec::Framed(Framing::new("lf".parse().unwrap(), 4096).unwrap()),
        ..PipelineSpec::default()
    };
    set.install(&mut pipeline);
    let server = tcp_server::TcpServerHandle::spawn(no_wake()).unwrap();
    let mut options = tcp_server::ServerOptions::new("127.0.0.1:0".parse().unwrap());
    options.pipeline = pipeline;
    server
        .send(tcp_server::Command::Start {
            session: S,
            options,
        })
        .unwrap();
    let local = loop {
        if let Ok(e) = server.events().recv_timeout(Duration::from_secs(5))
            && let tcp_server::EventKind::Listening { local } = e.kind
        {
            break local;
        }
    };
    // The owner drains its events meanwhile, as the window would.
    let events = server.events().clone();
    let drain = std::thread::Builder::new()
        .name("bench-drain".into())
        .spawn(move || while events.recv_timeout(Duration::from_secs(3)).is_ok() {})
        .unwrap();
    let sockpit = round_trips(local);
    drop(server);
    let _ = drain.join();
    // The peer: a plain Python echo server that answers each line with PONG.
    let mut python = Command::new("python3")
        .args([
            "-c",
            "import socket\n\
             l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen(1)\n\
             print(l.getsockname()[1], flush=True)\n\
             c,_=l.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n\
             f=c.makefile('rb')\n\
             for line in f:\n\
             \x20   c.sendall(b'PONG\\n')\n",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(python.stdout.take().unwrap()),
        &mut port,
    )
    .unwrap();
    let peer: std::net::SocketAddr = format!("127.0.0.1:{}", port.trim()).parse().unwrap();
    let echo = round_trips(peer);
    let _ = python.kill();
    let _ = python.wait();
    for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
        let ours = percentile(sockpit.clone(), p);
        let theirs = percentile(echo.clone(), p);
        table.push(format!(
            "| auto-reply round trip {name}: Python echo server (peer) | {theirs:.0} µs | | | | |"
        ));
        table.push(format!(
            "| auto-reply round trip {name}: Sockpit rule ÷ Python echo | {ours:.0} µs | | | {:.2} | ≤ 1.0 |",
            ours / theirs
        ));
    }
}

fn search_rows(table: &mut Vec<String>) {
    let cap = 64 * 1024 * 1024;
    let mut log = TrafficLog::with_cap(cap);
    let mut flat = Vec::with_capacity(cap);
    let mut i = 0u64;
    while log.stored_bytes() + 400 < cap {
        let record =
            format!("{i:016} temperature=21.5 humidity=40 {}", "x".repeat(200)).into_bytes();
        flat.extend_from_slice(&record);
        log.push(Record::new(Direction::Received, None, record));
        i += 1;
    }
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..RUNS {
        let mut search = Search::default();
        search
            .set("not there", SearchMode::Text, TextEncoding::Utf8)
            .unwrap();
        let t = Instant::now();
        search.advance(&log, usize::MAX);
        ours.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(search.ids().is_empty());
        let t = Instant::now();
        let found = memchr::memmem::find(std::hint::black_box(&flat), b"not there");
        theirs.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(found.is_none());
    }
    let (o, lo, hi) = median(ours);
    let (t, _, _) = median(theirs);
    table.push(format!(
        "| one memmem pass over the ring's bytes end to end (peer; {} records, {:.0} MiB) | {t:.1} ms | | | | |",
        log.len(),
        flat.len() as f64 / 1_048_576.0
    ));
    table.push(format!(
        "| log search, full 64 MiB ring ÷ memmem pass | {o:.1} ms | {lo:.1} ms | {hi:.1} ms | {:.1}× | ≤ 10× |",
        o / t
    ));
}

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut table = Vec::new();
    let only = std::env::var("SOCKPIT_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "framing" {
        framing_rows(&mut table);
    }
    if only.is_empty() || only == "reply" {
        auto_reply_rows(&mut table);
    }
    if only.is_empty() || only == "search" {
        search_rows(&mut table);
    }
    for row in table {
        println!("{row}");
    }
}
