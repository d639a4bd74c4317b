//! The real binary in its own Xvfb (Mesa's llvmpipe renders on threads of our process, as on
//! machines without a GPU), opened with start-up options (`gui --tab … --listen/--bind`):
//! 6. CPU of the whole process (all threads) and of the UI thread: idle, while 1,000 and
//!    100,000 datagrams/s of 64 bytes arrive, and while one TCP connection floods;
//! 7. input-to-repaint latency: an XTEST pointer move onto a tab button until its pixels change
//!    (`benches/x11_probe.py`), idle and under the UDP flood;
//! 8. resident memory after a 60-second TCP flood, against the history cap + 64 MiB.
//!
//! Loopback only. Run with `cargo bench --bench gui` (or `scripts/bench.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Write as _;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sockpit");
const CAP_MIB: u64 = 64;
/// The X screen; the window opens at its default size (1200×780) in the top-left corner.
const SCREEN: &str = "1400x900x24";
/// The centre of the "Broadcast" tab button, and a point in the log away from it.
const BUTTON: (u32, u32) = (345, 14);
const AWAY: (u32, u32) = (600, 500);
const LATENCY_SAMPLES: usize = 15;

/// An Xvfb server of our own (so the probe knows its display) and the app on it.
struct Running {
    xvfb: Child,
    app: Child,
    display: String,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.app.kill();
        let _ = self.app.wait();
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Xvfb on the first free display number from 90 on.
fn start_xvfb() -> (Child, String) {
    for n in 90..200 {
        if std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists() {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([&display, "-screen", "0", SCREEN, "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (scripts/install-deps.sh installs it)");
        let socket = format!("/tmp/.X11-unix/X{n}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::path::Path::new(&socket).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        return (child, display);
    }
    panic!("no free X display number");
}

/// Opens the app on `tab`, serving TCP (`tcp-server`) or UDP (`udp`) on a free loopback port.
fn start_app(tab: &str) -> Running {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("sockpit-bench-gui-{}-{tab}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (xvfb, display) = start_xvfb();
    let addr = format!("127.0.0.1:{port}");
    let option = if tab == "udp" { "--bind" } else { "--listen" };
    let app = Command::new(BIN)
        .args(["gui", "--tab", tab, option, &addr])
        .env("DISPLAY", &display)
        .env("SOCKPIT_STATE_DIR", &dir)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        assert!(Instant::now() < deadline, "the app never opened its port");
        let open = if tab == "udp" {
            // A bound port refuses a second bind without SO_REUSEADDR.
            UdpSocket::bind(&addr).is_err()
        } else {
            TcpStream::connect(&addr).is_ok()
        };
        if open {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let the first frames and fonts settle.
    std::thread::sleep(Duration::from_secs(3));
    Running {
        xvfb,
        app,
        display,
        port,
        dir,
    }
}

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime in seconds from a `/proc/…/stat` file.
fn cpu_secs(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap();
    // Fields after the parenthesised name: state is field 3; utime 14, stime 15.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / clock_ticks_per_sec()
}

/// (whole process, UI thread) CPU seconds so far; the UI thread is the main thread.
fn cpu_now(pid: u32) -> (f64, f64) {
    (
        cpu_secs(&format!("/proc/{pid}/stat")),
        cpu_secs(&format!("/proc/{pid}/task/{pid}/stat")),
    )
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[derive(Clone, Copy)]
enum Load {
    Idle,
    /// 64-byte datagrams per second.
    Udp(u64),
    Tcp,
}

/// Runs `load` against the app until `stop`; counts bytes sent into `sent`.
fn load_thread(
    load: Load,
    port: u16,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> Option<std::thread::JoinHandle<()>> {
    let body: Box<dyn FnOnce() + Send> = match load {
        Load::Idle => return None,
        Load::Tcp => Box::new(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let block: Vec<u8> = (0..=255u8).cycle().take(256 * 1024).collect();
            while !stop.load(Ordering::Relaxed) {
                if s.write_all(&block).is_err() {
                    break;
                }
                sent.fetch_add(block.len() as u64, Ordering::Relaxed);
            }
        }),
        Load::Udp(rate) => Box::new(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let payload = [0x5Au8; 64];
            let t0 = Instant::now();
            let mut count = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Paced: send what is due, at most 256 back to back, then yield.
                let due = (t0.elapsed().as_secs_f64() * rate as f64) as u64;
                let burst = due.saturating_sub(count).min(256);
                for _ in 0..burst {
                    if s.send_to(&payload, ("127.0.0.1", port)).is_ok() {
                        sent.fetch_add(64, Ordering::Relaxed);
                    }
                    count += 1;
                }
                if burst == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }),
    };
    Some(
        std::thread::Builder::new()
            .name("load".into())
            .spawn(body)
            .unwrap(),
    )
}

struct Sample {
    process: f64,
    ui: f64,
    bytes_per_sec: f64,
}

/// CPU shares of one core over `secs` under `load` (after 1 s of warm-up).
fn measure(app: &Running, secs: f64, load: Load) -> Sample {
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let loader = load_thread(load, app.port, stop.clone(), sent.clone());
    std::thread::sleep(Duration::from_secs(1));
    let (p0, u0) = cpu_now(app.app.id());
    let sent0 = sent.load(Ordering::Relaxed);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (p1, u1) = cpu_now(app.app.id());
    let elapsed = t0.elapsed().as_secs_f64();
    let bytes = sent.load(Ordering::Relaxed) - sent0;
    stop.store(true, Ordering::Relaxed);
    if let Some(l) = loader {
        l.join().unwrap();
    }
    Sample {
        process: (p1 - p0) / elapsed,
        ui: (u1 - u0) / elapsed,
        bytes_per_sec: bytes as f64 / elapsed,
    }
}

/// Input-to-repaint latencies in ms under `load`, from the X probe.
fn latencies(app: &Running, load: Load) -> Vec<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let loader = load_thread(load, app.port, stop.clone(), sent);
    std::thread::sleep(Duration::from_secs(1));
    let probe = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/x11_probe.py");
    let out = Command::new("python3")
        .arg(probe)
        .arg("latency")
        .args([BUTTON.0, BUTTON.1, AWAY.0, AWAY.1].map(|v| v.to_string()))
        .arg(LATENCY_SAMPLES.to_string())
        .env("DISPLAY", &app.display)
        .output()
        .expect("python3");
    stop.store(true, Ordering::Relaxed);
    if let Some(l) = loader {
        l.join().unwrap();
    }
    let mut ms: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

/// (median, min, max) of three or more samples.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn pct(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

fn cpu_rows(label: &str, samples: &[Sample], target: &str) {
    let (pm, pn, px) = spread(samples.iter().map(|s| s.process).collect());
    let (um, un, ux) = spread(samples.iter().map(|s| s.ui).collect());
    println!(
        "| whole-process CPU, {label} | {} | {} | {} | | {target} |",
        pct(pm),
        pct(pn),
        pct(px)
    );
    println!(
        "|   UI thread's share of it | {} | {} | {} | | |",
        pct(um),
        pct(un),
        pct(ux)
    );
}

fn latency_row(label: &str, ms: &[f64], idle_median: Option<f64>) {
    if ms.is_empty() {
        println!(
            "| input-to-repaint latency, {label} | not measured (the probe saw no change) | | | | |"
        );
        return;
    }
    let (m, n, x) = (ms[ms.len() / 2], ms[0], ms[ms.len() - 1]);
    match idle_median {
        None => println!(
            "| input-to-repaint latency, {label} (peer) | {m:.1} ms | {n:.1} ms | {x:.1} ms | | |"
        ),
        Some(idle) => println!(
            "| input-to-repaint latency, {label} − idle | {m:.1} ms | {n:.1} ms | {x:.1} ms | {:+.1} ms | ≤ +5 ms |",
            m - idle
        ),
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let udp = start_app("udp");
    let idle = measure(&udp, 10.0, Load::Idle);
    let idle_latency = latencies(&udp, Load::Idle);
    let udp_1k: Vec<Sample> = (0..3)
        .map(|_| measure(&udp, 10.0, Load::Udp(1_000)))
        .collect();
    let udp_100k: Vec<Sample> = (0..3)
        .map(|_| measure(&udp, 10.0, Load::Udp(100_000)))
        .collect();
    let flood_latency = latencies(&udp, Load::Udp(100_000));
    drop(udp);

    let tcp = start_app("tcp-server");
    let rss_idle = rss_bytes(tcp.app.id());
    let tcp_flood: Vec<Sample> = (0..3).map(|_| measure(&tcp, 15.0, Load::Tcp)).collect();
    let long = measure(&tcp, 60.0, Load::Tcp);
    let rss_after = rss_bytes(tcp.app.id());
    drop(tcp);

    println!(
        "| whole-process CPU, idle (no traffic, no input) | {} | | | | 0 % |",
        pct(idle.process)
    );
    println!("|   UI thread's share of it | {} | | | | |", pct(idle.ui));
    cpu_rows("1,000 datagrams/s of 64 B (UDP tab)", &udp_1k, "≤ 40 %");
    cpu_rows("100,000 datagrams/s of 64 B (UDP tab)", &udp_100k, "≤ 40 %");
    cpu_rows(
        "one TCP connection flooding (TCP Server tab)",
        &tcp_flood,
        "≤ 40 %",
    );
    let (rm, rn, rx) = spread(tcp_flood.iter().map(|s| s.bytes_per_sec).collect());
    println!(
        "|   flood rate into the window meanwhile | {:.2} GB/s | {:.2} GB/s | {:.2} GB/s | | |",
        rm / 1e9,
        rn / 1e9,
        rx / 1e9
    );
    latency_row("idle", &idle_latency, None);
    let idle_median = (!idle_latency.is_empty()).then(|| idle_latency[idle_latency.len() / 2]);
    latency_row("100,000 datagrams/s", &flood_latency, idle_median);
    println!(
        "| memory growth after a 60 s TCP flood ({:.2} GB/s, whole process {}) | {:.0} MiB | | | cap {CAP_MIB} MiB + 64 | ≤ {} MiB |",
        long.bytes_per_sec / 1e9,
        pct(long.process),
        rss_after.saturating_sub(rss_idle) as f64 / 1_048_576.0,
        CAP_MIB + 64
    );
    println!(
        "|   resident memory idle / after the flood | {:.0} MiB / {:.0} MiB | | | | |",
        rss_idle as f64 / 1_048_576.0,
        rss_after as f64 / 1_048_576.0
    );
}
