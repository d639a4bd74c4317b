//! The real binary under Xvfb, opened with start-up options (`gui --tab tcp-server --listen`):
//! 6. UI-thread CPU while one connection floods it, and when idle (no traffic, no input);
//! 7. resident memory after a 60-second flood, against the history cap + 64 MiB.
//!
//! Loopback only. Run with `cargo bench --bench gui` (or `scripts/bench.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sockpit");
const CAP_MIB: u64 = 64;

struct App {
    xvfb: Child,
    pid: u32,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for App {
    fn drop(&mut self) {
        // End the app; xvfb-run then stops its Xvfb and exits.
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.xvfb.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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

fn start_app() -> App {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("sockpit-bench-gui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let listen = format!("127.0.0.1:{port}");
    let xvfb = Command::new("xvfb-run")
        .args([
            "-a",
            "-s",
            "-screen 0 1400x900x24",
            BIN,
            "gui",
            "--tab",
            "tcp-server",
        ])
        .args(["--listen", &listen])
        .env("SOCKPIT_STATE_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xvfb-run (scripts/install-deps.sh installs it)");
    let deadline = Instant::now() + Duration::from_mins(1);
    while TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "the app never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = Command::new("pgrep")
        .args([
            "-f",
            &format!("{BIN} gui --tab tcp-server --listen {listen}"),
        ])
        .output()
        .unwrap();
    // pgrep -f also matches the xvfb-run shell; the app is the process named sockpit.
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "sockpit")
        })
        .expect("the app's pid");
    App {
        xvfb,
        pid,
        port,
        dir,
    }
}

/// CPU seconds used so far by the process's main thread (where egui runs).
fn ui_thread_cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/stat")).unwrap();
    // Fields after the parenthesised name: state is field 3; utime 14, stime 15.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    let hz: f64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    ticks / hz
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

/// UI-thread CPU as a share of one core over `secs`, with or without a flood.
fn cpu_share(app: &App, secs: f64, flood: bool) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flooder = flood.then(|| {
        let stop = stop.clone();
        let sent = sent.clone();
        let port = app.port;
        std::thread::Builder::new()
            .name("flood".into())
            .spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let block: Vec<u8> = (0..=255u8).cycle().take(256 * 1024).collect();
                while !stop.load(Ordering::Relaxed) {
                    if s.write_all(&block).is_err() {
                        break;
                    }
                    sent.fetch_add(block.len() as u64, Ordering::Relaxed);
                }
            })
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(500));
    let cpu0 = ui_thread_cpu_secs(app.pid);
    let sent0 = sent.load(Ordering::Relaxed);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let cpu = ui_thread_cpu_secs(app.pid) - cpu0;
    let elapsed = t0.elapsed().as_secs_f64();
    let rate = (sent.load(Ordering::Relaxed) - sent0) as f64 / elapsed;
    stop.store(true, Ordering::Relaxed);
    if let Some(f) = flooder {
        f.join().unwrap();
    }
    (cpu / elapsed, rate)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let app = start_app();
    std::thread::sleep(Duration::from_secs(2));
    let (idle, _) = cpu_share(&app, 10.0, false);
    let rss_idle = rss_bytes(app.pid);
    let mut floods = Vec::new();
    let mut rates = Vec::new();
    for _ in 0..3 {
        let (share, rate) = cpu_share(&app, 15.0, true);
        floods.push(share);
        rates.push(rate);
        std::thread::sleep(Duration::from_secs(1));
    }
    let (long_share, long_rate) = cpu_share(&app, 60.0, true);
    let rss_after = rss_bytes(app.pid);
    floods.sort_by(f64::total_cmp);
    rates.sort_by(f64::total_cmp);
    println!(
        "| UI-thread CPU, idle (no traffic, no input) | {:.1} % | | | | ≤ 1 % |",
        idle * 100.0
    );
    println!(
        "| UI-thread CPU, one connection flooding (real binary, Xvfb) | {:.1} % | {:.1} % | {:.1} % | | ≤ 25 % |",
        floods[1] * 100.0,
        floods[0] * 100.0,
        floods[2] * 100.0
    );
    println!(
        "|   flood rate into the window meanwhile | {:.2} GB/s | {:.2} GB/s | {:.2} GB/s | | |",
        rates[1] / 1e9,
        rates[0] / 1e9,
        rates[2] / 1e9
    );
    println!(
        "| memory growth after a 60 s flood ({:.2} GB/s, UI thread {:.1} %) | {:.0} MiB | | | cap {CAP_MIB} MiB + 64 | ≤ {} MiB |",
        long_rate / 1e9,
        long_share * 100.0,
        rss_after.saturating_sub(rss_idle) as f64 / 1_048_576.0,
        CAP_MIB + 64
    );
    println!(
        "|   resident memory idle / after the flood | {:.0} MiB / {:.0} MiB | | | | |",
        rss_idle as f64 / 1_048_576.0,
        rss_after as f64 / 1_048_576.0
    );
}
