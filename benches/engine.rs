//! Engine benchmarks, each a ratio against a peer measured in the same run (loopback only):
//! 4. UDP 64-byte datagrams received and stored per second ÷ a plain `recv_from` loop, with the
//!    kernel's drop counts;
//! 5. frame cost of the traffic view (egui layout + tessellation, no GPU) with 10 million
//!    records ÷ with 1,000 records;
//! 8. hex formatting of a 64 KiB payload ÷ a naive `format!("{:02X} ")` loop;
//! 9. display decoding (escapes for controls and invalid bytes) of 64 KiB of random bytes ÷
//!    of 64 KiB of text, in UTF-8 and in the slowest encoding.
//!
//! Run with `cargo bench --bench engine` (or `scripts/bench.sh`); `SOCKPIT_BENCH_ONLY=udp` runs
//! only the UDP measurement and prints each run's counts, `decode` only row 9 with every
//! encoding's figures (`SOCKPIT_BENCH_ENCODING=gbk` for one encoding alone), `udp-sockpit` or `udp-raw` one side
//! alone (for profiling).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use sockpit::codec::TextEncoding;
use sockpit::codec::hex::format_hex_into;
use sockpit::engine::udp::{Command, EventKind, UdpHandle};
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::gui::widgets::TrafficView;
use sockpit::gui::widgets::traffic_view::ViewSettings;
use sockpit::net::udp::{MulticastSend, UdpBindOptions};
use sockpit::traffic::{DEFAULT_CAP_BYTES, Direction, Record, TrafficLog};

const RUNS: usize = 3;
const DATAGRAMS: u64 = 1_000_000;
const RECV_BUFFER: usize = 8 * 1024 * 1024;

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Sends `count` 64-byte datagrams as fast as one thread can.
fn blast(to: SocketAddr, count: u64) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("udp-blast".into())
        .spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut d = [0x42u8; 64];
            for i in 0..count {
                d[..8].copy_from_slice(&i.to_be_bytes());
                let _ = s.send_to(&d, to);
            }
        })
        .unwrap()
}

/// Result of one UDP run: datagrams received per second while the sender ran, and the
/// kernel's drops.
struct UdpRun {
    per_sec: f64,
    received: u64,
    kernel_drops: u64,
}

/// Peer: a plain blocking `recv_from` loop that counts datagrams and throws them away.
fn raw_udp() -> UdpRun {
    let raw = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    raw.set_recv_buffer_size(RECV_BUFFER).unwrap();
    raw.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let socket: UdpSocket = raw.into();
    socket.set_nonblocking(false).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let to = socket.local_addr().unwrap();
    let sender = blast(to, DATAGRAMS);
    let mut buf = [0u8; 2048];
    let mut received = 0u64;
    let mut start = None;
    let mut last = Instant::now();
    while let Ok((_, _)) = socket.recv_from(&mut buf) {
        start.get_or_insert_with(Instant::now);
        received += 1;
        last = Instant::now();
    }
    sender.join().unwrap();
    let secs = start.map_or(1.0, |s| (last - s).as_secs_f64());
    let drops = std::fs::read_to_string("/proc/self/net/udp")
        .ok()
        .and_then(|t| {
            use std::os::fd::AsRawFd as _;
            use std::os::unix::fs::MetadataExt as _;
            let ino = std::fs::metadata(format!("/proc/self/fd/{}", socket.as_raw_fd()))
                .ok()?
                .ino();
            sockpit::net::udp::drops_for_inode(&t, ino)
        })
        .unwrap_or(0);
    UdpRun {
        per_sec: received as f64 / secs,
        received,
        kernel_drops: drops,
    }
}

/// Sockpit: the UDP tab's worker, every datagram stored in a traffic log as the tab does.
fn sockpit_udp() -> UdpRun {
    let udp = UdpHandle::spawn(no_wake()).unwrap();
    let s = SessionId(1);
    udp.send(Command::Bind {
        session: s,
        options: UdpBindOptions {
            recv_buffer_bytes: Some(RECV_BUFFER),
            ..UdpBindOptions::new("127.0.0.1:0".parse().unwrap())
        },
        multicast: MulticastSend::default(),
    })
    .unwrap();
    let to = loop {
        if let EventKind::Bound { local } = udp.events().recv().unwrap().kind {
            break local;
        }
    };
    let mut log = TrafficLog::default();
    let sender = blast(to, DATAGRAMS);
    let mut start = None;
    let mut last = Instant::now();
    let mut stats = sockpit::engine::udp::UdpStats::default();
    let mut received = 0u64;
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
            EventKind::Stats(st) => stats = st,
            _ => {}
        }
    }
    sender.join().unwrap();
    let secs = start.map_or(1.0, |s| (last - s).as_secs_f64());
    UdpRun {
        per_sec: received as f64 / secs,
        received,
        kernel_drops: stats.dropped_by_kernel.unwrap_or(0) + stats.dropped_by_app,
    }
}

/// Builds a log of `n` small records (the cap is raised so none is evicted).
fn log_with(n: usize) -> TrafficLog {
    let mut log = TrafficLog::with_cap(usize::MAX / 2);
    let peer: SocketAddr = "192.0.2.7:502".parse().unwrap();
    for i in 0..n {
        let dir = if i % 2 == 0 {
            Direction::Received
        } else {
            Direction::Sent
        };
        log.push(Record::new(
            dir,
            Some(peer),
            (i as u32).to_be_bytes().to_vec(),
        ));
    }
    log
}

/// Median time of one frame (layout + tessellation) of the traffic view over `log`.
fn frame_time(log: &TrafficLog) -> Duration {
    let ctx = egui::Context::default();
    let mut view = TrafficView::new(ViewSettings::default());
    let mut times = Vec::new();
    for _ in 0..40 {
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1200.0, 780.0),
            )),
            ..Default::default()
        };
        let start = Instant::now();
        let output = ctx.run_ui(input, |ui| {
            egui::CentralPanel::default().show(ui, |ui| {
                view.table_ui(ui, log, TextEncoding::Utf8);
            });
        });
        let prims = ctx.tessellate(output.shapes, output.pixels_per_point);
        std::hint::black_box(prims);
        times.push(start.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// The peer: what a hand-written formatter usually looks like.
#[allow(clippy::format_push_string)]
fn naive_hex(bytes: &[u8]) -> String {
    let mut s = String::new();
    for b in bytes {
        s.push_str(&format!("{b:02X} "));
    }
    s
}

fn hex_ratio() -> (Duration, Duration) {
    let payload: Vec<u8> = (0..65_536u32).map(|i| (i * 7) as u8).collect();
    let iterations = 200;
    let time = |f: &dyn Fn() -> usize| {
        let start = Instant::now();
        let mut total = 0;
        for _ in 0..iterations {
            total += f();
        }
        std::hint::black_box(total);
        start.elapsed() / iterations
    };
    let naive = time(&|| naive_hex(std::hint::black_box(&payload)).len());
    let ours = time(&|| {
        let mut s = String::new();
        format_hex_into(std::hint::black_box(&payload), &mut s);
        s.len()
    });
    (ours, naive)
}

/// 64 KiB of what a device sends as text: protocol lines, Chinese, line endings.
fn text_payload() -> Vec<u8> {
    let line = "GET /status HTTP/1.1\r\nHost: plc-7\r\n温度 23.5 ℃, 状态 正常\r\n\r\n";
    line.bytes().cycle().take(65_536).collect()
}

/// 64 KiB of random bytes (xorshift64*, fixed seed).
fn random_payload() -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..65_536)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// MiB per second of `decode_for_display` over `payload`, one round of 4 calls (a few ms,
/// shorter than the scheduler's time slice).
fn decode_round(encoding: TextEncoding, payload: &[u8]) -> f64 {
    let iterations = 4;
    let start = Instant::now();
    let mut total = 0;
    for _ in 0..iterations {
        total += encoding
            .decode_for_display(std::hint::black_box(payload))
            .len();
    }
    std::hint::black_box(total);
    let secs = start.elapsed().as_secs_f64();
    (payload.len() * iterations) as f64 / secs / (1024.0 * 1024.0)
}

/// (random, text) MiB/s of one encoding: the best of 40 rounds each, the two alternating.
/// Other agents share this machine's two cores and only ever slow a round down, so the
/// fastest round is the decoder's own speed; alternating puts both payloads through the
/// same spells of load.
fn decode_rate_pair(encoding: TextEncoding, random: &[u8], text: &[u8]) -> (f64, f64) {
    let (mut r, mut t) = (Vec::new(), Vec::new());
    for _ in 0..40 {
        r.push(decode_round(encoding, random));
        t.push(decode_round(encoding, text));
    }
    (median(r).2, median(t).2)
}

/// Row 9: (encoding, random MiB/s, text MiB/s) for every encoding.
fn decode_rates() -> Vec<(TextEncoding, f64, f64)> {
    let text = text_payload();
    let random = random_payload();
    // `SOCKPIT_BENCH_ENCODING=latin1` measures one encoding alone (for profiling).
    let only = std::env::var("SOCKPIT_BENCH_ENCODING")
        .ok()
        .and_then(|name| TextEncoding::from_name(&name));
    TextEncoding::ALL
        .iter()
        .filter(|&&enc| only.is_none_or(|o| o == enc))
        .map(|&enc| {
            // The text as the device would send it in this encoding, where it can be written.
            let native = std::str::from_utf8(&text)
                .ok()
                .and_then(|t| enc.encode(t).ok())
                .unwrap_or_else(|| text.iter().map(|b| b & 0x7F).collect());
            let (random, text) = decode_rate_pair(enc, &random, &native);
            (enc, random, text)
        })
        .collect()
}

fn decode_rows(table: &mut String, rates: &[(TextEncoding, f64, f64)]) {
    let ratio = |(_, random, text): &(TextEncoding, f64, f64)| random / text;
    let Some(&utf8) = rates.iter().find(|r| r.0 == TextEncoding::Utf8) else {
        return;
    };
    let _ = writeln!(
        table,
        "| display text of 64 KiB, UTF-8: text (peer) | {:.0} MiB/s | | | | |",
        utf8.2
    );
    let _ = writeln!(
        table,
        "| display text of 64 KiB, UTF-8: random bytes ÷ text | {:.0} MiB/s | | | {:.2} | ≥ 0.5 |",
        utf8.1,
        ratio(&utf8)
    );
    if let Some(worst) = rates.iter().min_by(|a, b| ratio(a).total_cmp(&ratio(b))) {
        let _ = writeln!(
            table,
            "| display text of 64 KiB, slowest encoding ({}): random ÷ text | {:.0} MiB/s | | | {:.2} | ≥ 0.5 |",
            worst.0.name(),
            worst.1,
            ratio(worst)
        );
    }
}

/// Resident memory of this process in bytes (`/proc/self/statm`, pages × 4096).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// A default (64 MiB) history filled with 64-byte datagrams from one IPv4 peer, twice over:
/// the records it holds, and resident memory per record measured (not computed).
fn history_rows(table: &mut String) {
    let before = rss_bytes();
    let mut log = TrafficLog::default();
    let peer: SocketAddr = "192.0.2.7:502".parse().unwrap();
    let pushes = 2 * DEFAULT_CAP_BYTES / 64;
    for i in 0..pushes {
        log.push(Record::at(
            i as u64,
            Direction::Received,
            Some(peer),
            vec![(i % 251) as u8; 64],
        ));
    }
    let held = rss_bytes().saturating_sub(before);
    let per_record = held as f64 / log.len() as f64;
    let _ = writeln!(
        table,
        "| 64 MiB history of 64-byte datagrams: records held | {} | | | | |",
        log.len()
    );
    let _ = writeln!(
        table,
        "| … resident memory per record ÷ its 64-byte payload | {per_record:.1} B | | | {:.2} | ≤ 1.375 (24 B overhead) |",
        per_record / 64.0
    );
    std::hint::black_box(&log);
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let only = std::env::var("SOCKPIT_BENCH_ONLY").unwrap_or_default();
    match only.as_str() {
        "udp-sockpit" => {
            let o = sockpit_udp();
            println!("Sockpit {:.0}/s, {} stored", o.per_sec, o.received);
            return;
        }
        "decode" => {
            let rates = decode_rates();
            for &(enc, random, text) in &rates {
                println!(
                    "{:<24} random {random:7.1} MiB/s  text {text:7.1} MiB/s  ratio {:.2}",
                    enc.name(),
                    random / text
                );
            }
            let mut table = String::new();
            decode_rows(&mut table, &rates);
            print!("{table}");
            return;
        }
        "history" => {
            let mut table = String::new();
            history_rows(&mut table);
            print!("{table}");
            return;
        }
        "udp-raw" => {
            let r = raw_udp();
            println!("raw {:.0}/s, {} received", r.per_sec, r.received);
            return;
        }
        _ => {}
    }
    let mut table = String::new();
    // 4. UDP.
    let mut raw = Vec::new();
    let mut ours = Vec::new();
    let mut notes = Vec::new();
    for _ in 0..RUNS {
        let r = raw_udp();
        let o = sockpit_udp();
        notes.push(format!(
            "raw {} recv / {} kernel drops; Sockpit {} stored / {} dropped",
            r.received, r.kernel_drops, o.received, o.kernel_drops
        ));
        raw.push(r.per_sec);
        ours.push(o.per_sec);
    }
    if only == "udp" {
        for n in &notes {
            println!("{n}");
        }
    }
    let (r_m, r_lo, r_hi) = median(raw);
    let (o_m, o_lo, o_hi) = median(ours);
    let _ = writeln!(
        table,
        "| plain recv_from loop, 64-byte datagrams (peer) | {r_m:.0}/s | {r_lo:.0}/s | {r_hi:.0}/s | | |"
    );
    let _ = writeln!(
        table,
        "| Sockpit UDP, received and stored ÷ recv_from loop | {:.0}/s | {:.0}/s | {:.0}/s | {:.2} | ≥ 1.0 |",
        o_m,
        o_lo,
        o_hi,
        o_m / r_m
    );
    if only == "udp" {
        print!("{table}");
        return;
    }
    // 5. Frame cost.
    let small = log_with(1_000);
    let t_small = frame_time(&small);
    drop(small);
    let big = log_with(10_000_000);
    let t_big = frame_time(&big);
    let _ = writeln!(
        table,
        "| traffic view frame, 1,000 records (peer) | {:.2} ms | | | | |",
        t_small.as_secs_f64() * 1000.0
    );
    let _ = writeln!(
        table,
        "| traffic view frame, 10,000,000 records ÷ 1,000 | {:.2} ms | | | {:.2} | ≤ 1.5 |",
        t_big.as_secs_f64() * 1000.0,
        t_big.as_secs_f64() / t_small.as_secs_f64()
    );
    drop(big);
    // 6. History memory.
    history_rows(&mut table);
    // 8. Hex.
    let (ours, naive) = hex_ratio();
    let _ = writeln!(
        table,
        "| hex of 64 KiB: naive format! loop ÷ Sockpit | {:.0} µs | | | {:.1}× | ≥ 5× |",
        ours.as_secs_f64() * 1e6,
        naive.as_secs_f64() / ours.as_secs_f64()
    );
    // 9. Display decoding.
    decode_rows(&mut table, &decode_rates());
    print!("{table}");
    for n in notes {
        println!("  (udp run: {n})");
    }
}
