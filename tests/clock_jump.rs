//! The wall clock stepped while a session runs (by hand, by NTP, after a suspend): the records'
//! timestamps stay in order. The real binary runs under libfaketime (Debian's `faketime`,
//! installed by scripts/install-deps.sh), whose offset file the test rewrites mid-run to step
//! the process's wall clock back an hour and then forward two; the monotonic clock is left
//! alone, as a real step leaves it. Loopback peers only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sockpit::capture::{RecordKind, open_capture};

const HOUR_US: u64 = 3_600_000_000;

fn bin() -> String {
    std::env::var("SOCKPIT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sockpit").to_owned())
}

fn faketime_lib() -> PathBuf {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("libfaketime is missing: run scripts/install-deps.sh (Debian package faketime)")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sockpit-clock-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The offset file libfaketime reads at every clock read: seconds from the real time.
fn step(offset_file: &Path, seconds: i64) {
    std::fs::write(offset_file, format!("{seconds:+}\n")).unwrap();
    // A read of the clock after this sees it; give the peer's next send a later turn.
    std::thread::sleep(Duration::from_millis(300));
}

fn faked(args: &[&str], offset_file: &Path) -> Child {
    Command::new(bin())
        .args(args)
        .env("LD_PRELOAD", faketime_lib())
        .env("FAKETIME_TIMESTAMP_FILE", offset_file)
        .env("FAKETIME_NO_CACHE", "1")
        .env("DONT_FAKE_MONOTONIC", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The capture's record times, in file order, and the largest step between two of them.
fn times(cap: &Path, kind: Option<RecordKind>) -> Vec<u64> {
    let opened = open_capture(cap).unwrap();
    opened
        .records
        .iter()
        .filter(|r| kind.is_none_or(|k| r.kind == k))
        .map(|r| r.time_us)
        .collect()
}

fn assert_ordered(what: &str, t: &[u64]) {
    for (i, w) in t.windows(2).enumerate() {
        assert!(
            w[1] >= w[0],
            "{what}: record {} is stamped {} µs before record {i}",
            i + 1,
            w[0] - w[1]
        );
    }
}

#[test]
fn a_tcp_servers_records_stay_in_order_when_the_wall_clock_steps_back_and_forward() {
    let dir = scratch("tcp");
    let offsets = dir.join("offset");
    let cap = dir.join("server.pcapng");
    std::fs::write(&offsets, "+0\n").unwrap();
    let mut server = faked(
        &[
            "tcp-server",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--duration",
            "8",
            "--json",
            "--capture",
            cap.to_str().unwrap(),
        ],
        &offsets,
    );
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    let addr: SocketAddr = v["local"].as_str().unwrap().parse().unwrap();
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_nodelay(true).unwrap();
    let mut send_ten = |tag: &str| {
        for i in 0..10 {
            c.write_all(format!("{tag}{i}\n").as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(30));
        }
    };
    send_ten("before ");
    step(&offsets, -3600);
    send_ten("an hour back ");
    step(&offsets, 7200);
    send_ten("two hours on ");
    drop(c);
    let printed: Vec<u64> = out
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.starts_with(r#"{"event":"rx""#))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(&l).unwrap()["time_us"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(server.wait().unwrap().success());
    assert!(printed.len() >= 3, "{printed:?}");
    assert_ordered("printed rx lines", &printed);
    let all = times(&cap, None);
    let data = times(&cap, Some(RecordKind::Data));
    assert!(data.len() >= 3, "{data:?}");
    assert_ordered("capture", &all);
    // The step forward was followed (and proves the faked clock was in effect): somewhere the
    // records jump by more than an hour and a half; the step back shows as no gap at all.
    let biggest = data.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        biggest > HOUR_US * 3 / 2,
        "no jump seen: the clock was not stepped ({biggest} µs)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn udp_arrival_times_stay_in_order_when_the_wall_clock_steps() {
    let dir = scratch("udp");
    let offsets = dir.join("offset");
    let cap = dir.join("udp.pcapng");
    std::fs::write(&offsets, "+0\n").unwrap();
    let mut udp = faked(
        &[
            "udp",
            "--bind",
            "127.0.0.1:0",
            "--listen",
            "30",
            "--count",
            "30",
            "--capture",
            cap.to_str().unwrap(),
        ],
        &offsets,
    );
    let mut err = BufReader::new(udp.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let bound: SocketAddr = line
        .trim()
        .trim_start_matches("Bound to ")
        .trim_end_matches('.')
        .parse()
        .unwrap_or_else(|e| panic!("{line}: {e}"));
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let send_ten = |tag: &str| {
        for i in 0..10 {
            tx.send_to(format!("{tag}{i}").as_bytes(), bound).unwrap();
            std::thread::sleep(Duration::from_millis(30));
        }
    };
    send_ten("before ");
    step(&offsets, -3600);
    send_ten("an hour back ");
    step(&offsets, 7200);
    send_ten("two hours on ");
    assert!(udp.wait().unwrap().success());
    let data = times(&cap, Some(RecordKind::Data));
    assert_eq!(data.len(), 30, "every datagram captured");
    // The kernel stamps arrivals on the real clock, the process reads a faked one: the two
    // disagree by an hour and then by two, and the order still holds.
    assert_ordered("datagrams", &data);
    let _ = std::fs::remove_dir_all(&dir);
}
