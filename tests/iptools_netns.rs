//! The sweep against real hosts: a LAN built from network namespaces (three hosts and a scanner
//! on a bridge that lives in its own namespace), created and removed by the test. Nothing is
//! added to this machine's own namespace, so no probe can leave. Also a loopback sweep that
//! needs no root.
//!
//! The sweep must run inside the scanner's namespace, so the test re-runs this test binary
//! under `ip netns exec` with `SOCKPIT_NETNS_ROLE` set, selecting the ignored `netns_helper`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use sockpit::iptools::sweep::{FoundBy, SweepOptions, run_sweep};

const ROLE: &str = "SOCKPIT_NETNS_ROLE";
const LISTEN_PORT: u16 = 5020;
const CLOSED_PORT: u16 = 5021;

/// Runs `ip` with `args`; the error carries its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The namespaces of one test run; dropping it kills the helpers and deletes the namespaces
/// (with them the bridge and every veth), also when the test fails.
struct Lan {
    namespaces: Vec<String>,
    children: Vec<Child>,
    /// `/etc/netns/<ns>` folders, whose files `ip netns exec` mounts over `/etc`.
    etc_dirs: Vec<std::path::PathBuf>,
}

impl Lan {
    fn add_namespace(&mut self, name: &str) -> Result<(), String> {
        ip(&["netns", "add", name])?;
        self.namespaces.push(name.to_owned());
        Ok(())
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in &self.namespaces {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
        for dir in &self.etc_dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs the helper of this test binary inside namespace `ns` in `role`.
fn helper(ns: &str, role: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(exe)
        .args(["netns_helper", "--exact", "--ignored", "--nocapture"])
        .env(ROLE, role)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// Builds the LAN: bridge `br0` in `<tag>sw`; hosts 198.51.100.11–13 with MACs
/// 02:00:00:00:00:01–03; the scanner 198.51.100.20 with 02:00:00:00:00:10.
fn build_lan(lan: &mut Lan, tag: &str) -> Result<(), String> {
    let sw = format!("{tag}sw");
    lan.add_namespace(&sw)?;
    ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", &sw, "link", "set", "br0", "up"])?;
    let members = [
        (
            format!("{tag}h1"),
            "02:00:00:00:00:01",
            "198.51.100.11/24",
            1,
        ),
        (
            format!("{tag}h2"),
            "02:00:00:00:00:02",
            "198.51.100.12/24",
            2,
        ),
        (
            format!("{tag}h3"),
            "02:00:00:00:00:03",
            "198.51.100.13/24",
            3,
        ),
        (
            format!("{tag}sc"),
            "02:00:00:00:00:10",
            "198.51.100.20/24",
            9,
        ),
    ];
    for (ns, mac, addr, n) in &members {
        lan.add_namespace(ns)?;
        let port = format!("p{n}");
        ip(&[
            "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ])?;
        ip(&["-n", &sw, "link", "set", &port, "master", "br0"])?;
        ip(&["-n", &sw, "link", "set", &port, "up"])?;
        ip(&["-n", ns, "link", "set", "eth0", "address", mac])?;
        ip(&["-n", ns, "addr", "add", addr, "dev", "eth0"])?;
        ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    Ok(())
}

/// Waits for a line starting with `prefix` on the child's stdout, for at most `timeout`.
fn wait_for_line(child: &mut Child, prefix: &str, timeout: Duration) -> Result<String, String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = crossbeam_channel::bounded(1);
    let prefix = prefix.to_owned();
    std::thread::Builder::new()
        .name("netns-helper-stdout".into())
        .spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with(&prefix) {
                    let _ = tx.send(line);
                    return;
                }
            }
        })
        .map_err(|e| e.to_string())?;
    rx.recv_timeout(timeout)
        .map_err(|_| format!("no line from the helper within {timeout:?}"))
}

#[test]
fn sweep_in_a_namespace_lan_finds_exactly_the_three_hosts() {
    if ip(&["netns", "list"]).is_err() {
        eprintln!(
            "SKIPPED sweep_in_a_namespace_lan_finds_exactly_the_three_hosts: `ip netns` is not available (install iproute2)"
        );
        return;
    }
    let tag = format!("spk{}", std::process::id() % 1_000_000);
    let mut lan = Lan {
        namespaces: Vec::new(),
        children: Vec::new(),
        etc_dirs: Vec::new(),
    };
    if let Err(e) = build_lan(&mut lan, &tag) {
        if e.contains("Operation not permitted") || e.contains("Permission denied") {
            eprintln!(
                "SKIPPED sweep_in_a_namespace_lan_finds_exactly_the_three_hosts: creating namespaces needs root ({e})"
            );
            return;
        }
        panic!("building the namespace LAN failed: {e}");
    }

    // A listener on host 2, inside its namespace.
    let mut listener = helper(&format!("{tag}h2"), "listen").spawn().unwrap();
    let ready = wait_for_line(&mut listener, "LISTENING", Duration::from_secs(20));
    lan.children.push(listener);
    ready.unwrap();

    // Inside the scanner namespace, names come from its own hosts file, and the resolver is
    // pointed at its own loopback: reverse DNS is exercised and no query leaves.
    let etc = std::path::PathBuf::from(format!("/etc/netns/{tag}sc"));
    std::fs::create_dir_all(&etc).unwrap();
    lan.etc_dirs.push(etc.clone());
    std::fs::write(
        etc.join("hosts"),
        "127.0.0.1 localhost\n198.51.100.11 host-one.test\n",
    )
    .unwrap();
    std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();

    // The sweep runs inside the scanner namespace.
    let started = Instant::now();
    let out = helper(&format!("{tag}sc"), "sweep").output().unwrap();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "helper failed:\n{stdout}");
    let mut hosts: BTreeMap<Ipv4Addr, (String, String)> = BTreeMap::new();
    let mut names: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    for line in stdout.lines().filter(|l| l.starts_with("HOST ")) {
        let f: Vec<&str> = line.splitn(5, ' ').collect();
        let ip: Ipv4Addr = f[1].parse().unwrap();
        hosts.insert(ip, (f[2].to_owned(), f[4].to_owned()));
        names.insert(ip, f[3].to_owned());
    }
    let ips: Vec<Ipv4Addr> = hosts.keys().copied().collect();
    assert_eq!(
        ips,
        vec![
            Ipv4Addr::new(198, 51, 100, 11),
            Ipv4Addr::new(198, 51, 100, 12),
            Ipv4Addr::new(198, 51, 100, 13)
        ],
        "exactly the three hosts, nothing else:\n{stdout}"
    );
    for (i, (mac, _)) in hosts.values().enumerate() {
        assert_eq!(mac, &format!("02:00:00:00:00:0{}", i + 1), "{stdout}");
    }
    let found = |ip: u8| &hosts[&Ipv4Addr::new(198, 51, 100, ip)].1;
    assert!(
        found(12).contains(&format!("TCP {LISTEN_PORT} open")),
        "{stdout}"
    );
    assert!(
        found(12).contains(&format!("TCP {CLOSED_PORT} closed")),
        "{stdout}"
    );
    assert!(
        found(11).contains(&format!("TCP {LISTEN_PORT} closed")),
        "{stdout}"
    );
    for host in [11, 12, 13] {
        assert!(found(host).starts_with("neighbour, "), "{stdout}");
        assert!(
            found(host).contains("UDP unreachable"),
            "fresh neighbours answer the UDP probe: {stdout}"
        );
    }
    assert!(stdout.contains("OWN 198.51.100.20"), "{stdout}");
    assert_eq!(names[&Ipv4Addr::new(198, 51, 100, 11)], "host-one.test");
    assert_eq!(
        names[&Ipv4Addr::new(198, 51, 100, 12)],
        "-",
        "no name, no guess"
    );
    assert!(
        elapsed < Duration::from_secs(15),
        "a /24 sweep should take seconds, took {elapsed:?}"
    );
    eprintln!("namespace sweep of 198.51.100.0/24 took {elapsed:?}");

    // A cached entry for a host that is not there is labelled as such, not as an answer.
    ip(&[
        "-n",
        &format!("{tag}sc"),
        "neigh",
        "replace",
        "198.51.100.99",
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        "eth0",
        "nud",
        "stale",
    ])
    .unwrap();
    let out = helper(&format!("{tag}sc"), "sweep").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "helper failed:\n{stdout}");
    let ghost = stdout
        .lines()
        .find(|l| l.starts_with("HOST 198.51.100.99 "))
        .unwrap_or_else(|| panic!("the cached entry is listed:\n{stdout}"));
    assert_eq!(
        ghost, "HOST 198.51.100.99 02:00:00:00:00:99 - neighbour (cached, unconfirmed)",
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("HOST ")).count(),
        4,
        "{stdout}"
    );
}

/// Runs inside a namespace for the test above; does nothing when run on its own.
#[test]
#[ignore = "helper: run by sweep_in_a_namespace_lan_finds_exactly_the_three_hosts"]
#[allow(clippy::print_stdout)]
fn netns_helper() {
    use std::io::Write as _;
    match std::env::var(ROLE).as_deref() {
        Ok("listen") => {
            let listener = TcpListener::bind(("0.0.0.0", LISTEN_PORT)).unwrap();
            listener.set_nonblocking(true).unwrap();
            println!("LISTENING");
            std::io::stdout().flush().unwrap();
            // Bounded: the parent kills us, or we give up after a minute.
            let deadline = Instant::now() + Duration::from_mins(1);
            while Instant::now() < deadline {
                let _ = listener.accept();
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok("sweep") => {
            let mut options = SweepOptions::new("198.51.100.0/24".parse().unwrap());
            options.tcp_ports = vec![LISTEN_PORT, CLOSED_PORT];
            let report = run_sweep(&options, &AtomicBool::new(false), |_, _, _| {}).unwrap();
            for own in &report.own {
                println!("OWN {own}");
            }
            for h in &report.hosts {
                let mac = h.mac.map_or_else(|| "-".to_owned(), |m| m.to_string());
                let name = h.name.as_deref().unwrap_or("-");
                println!("HOST {} {mac} {name} {}", h.ip, h.found_by_text());
            }
            println!("PROBED {}", report.probed);
        }
        _ => {}
    }
}

#[test]
fn loopback_sweep_reports_open_and_closed_ports() {
    let open = TcpListener::bind("127.0.0.3:0").unwrap();
    let open_port = open.local_addr().unwrap().port();
    let closed_port = {
        let l = TcpListener::bind("127.0.0.3:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut options = SweepOptions::new("127.0.0.0/29".parse().unwrap());
    options.tcp_ports = vec![open_port, closed_port];
    options.reverse_dns = false;
    let mut progress_calls = 0;
    let report = run_sweep(&options, &AtomicBool::new(false), |_, _, _| {
        progress_calls += 1;
    })
    .unwrap();
    assert!(progress_calls >= 2);
    assert!(report.own.contains(&Ipv4Addr::LOCALHOST), "{report:?}");
    assert!(
        report.hosts.iter().all(|h| h.ip != Ipv4Addr::LOCALHOST),
        "own address not listed as a host"
    );
    let h3 = report
        .hosts
        .iter()
        .find(|h| h.ip == Ipv4Addr::new(127, 0, 0, 3))
        .expect("127.0.0.3 answered");
    assert!(h3.found_by.contains(&FoundBy::TcpOpen(open_port)), "{h3:?}");
    assert!(
        h3.found_by.contains(&FoundBy::TcpClosed(closed_port)),
        "{h3:?}"
    );
    assert!(h3.rtt_ms.is_some());
    let h5 = report
        .hosts
        .iter()
        .find(|h| h.ip == Ipv4Addr::new(127, 0, 0, 5))
        .expect("127.0.0.5 answered");
    assert!(h5.found_by.contains(&FoundBy::UdpUnreachable), "{h5:?}");
    assert!(
        h5.found_by.contains(&FoundBy::TcpClosed(open_port)),
        "{h5:?}"
    );
    assert!(
        report.hosts.iter().all(|h| h.mac.is_none()),
        "loopback has no MACs"
    );
}

#[test]
fn cancelled_and_refused_sweeps() {
    let options = SweepOptions::new("127.0.0.0/24".parse().unwrap());
    let started = Instant::now();
    let report = run_sweep(&options, &AtomicBool::new(true), |_, _, _| {}).unwrap();
    assert!(report.cancelled);
    assert_eq!(report.probed, 0);
    assert!(started.elapsed() < Duration::from_secs(2));
    let too_big = SweepOptions::new("127.0.0.0/15".parse().unwrap());
    let err = run_sweep(&too_big, &AtomicBool::new(false), |_, _, _| {}).unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
}
