//! A real LAN in network namespaces: a bridge, three hosts with known addresses and MACs that
//! run responders, and a scanner host where the Broadcast tab's engine runs. Everything is
//! created here and deleted afterwards; no packet leaves the namespaces.
//!
//! This file has its own `main` (harness = false): the same binary is re-run inside a
//! namespace (`ip netns exec`) to play a role — responder, scanner, multicast sender or
//! receiver — chosen by the `SOCKPIT_NETNS_ROLE` variable.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::type_complexity,
    clippy::unused_self,
    clippy::doc_markdown
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use sockpit::engine::broadcast::{Preset, TargetKind};
use sockpit::engine::worker::no_wake;
use sockpit::gui::tabs::broadcast::{BroadcastSettings, BroadcastTab, RunStatus};

const SUBNET: &str = "198.18.0";
const SCANNER_IP: &str = "198.18.0.254";
const HOSTS: [u8; 3] = [1, 2, 3];
/// Each host also has `{SUBNET6}{n}/64` (the scanner `…fe`), added without duplicate address
/// detection so it is usable at once.
const SUBNET6: &str = "fd00:5eed::";

fn main() {
    if let Ok(role) = std::env::var("SOCKPIT_NETNS_ROLE") {
        run_role(&role);
        return;
    }
    if !is_root() {
        println!("SKIPPED broadcast_netns: network namespaces need root (CI runs as root).");
        return;
    }
    let lan = Lan::create();
    let scenarios: [(&str, fn(&Lan)); 5] = [
        (
            "directed broadcast, custom payload",
            directed_broadcast_custom,
        ),
        (
            "limited broadcast, USR-IOT preset",
            limited_broadcast_usr_iot,
        ),
        ("SSDP preset over multicast", ssdp_multicast),
        (
            "UDP tab joins a group and hears another namespace",
            udp_multicast_join,
        ),
        (
            "UDP tab joins an IPv6 group on an interface and hears another namespace",
            udp_multicast_join_v6,
        ),
    ];
    for (name, scenario) in scenarios {
        println!("scenario: {name}");
        scenario(&lan);
        println!("  ok");
    }
    println!("broadcast_netns: {} scenarios passed", scenarios.len());
}

fn is_root() -> bool {
    Process::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn ip(args: &[&str]) {
    let out = Process::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespaces, deleted (with their links) on drop, also when a scenario panics.
struct Lan {
    prefix: String,
}

impl Lan {
    fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    fn host_ns(&self, n: u8) -> String {
        self.ns(&format!("h{n}"))
    }

    fn all(&self) -> Vec<String> {
        let mut v = vec![self.ns("sw"), self.ns("scan")];
        v.extend(HOSTS.iter().map(|n| self.host_ns(*n)));
        v
    }

    fn create() -> Self {
        let lan = Self {
            prefix: format!("spk{}", std::process::id()),
        };
        for ns in lan.all() {
            ip(&["netns", "add", &ns]);
        }
        let sw = lan.ns("sw");
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"]);
        ip(&[
            "-n",
            &sw,
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip(&["-n", &sw, "link", "set", "br0", "up"]);
        let mut members: Vec<(String, String, String)> = HOSTS
            .iter()
            .map(|n| {
                (
                    lan.host_ns(*n),
                    format!("{SUBNET}.{n}"),
                    format!("02:00:00:00:00:{n:02x}"),
                )
            })
            .collect();
        members.push((
            lan.ns("scan"),
            SCANNER_IP.to_owned(),
            "02:00:00:00:00:fe".to_owned(),
        ));
        for (i, (ns, addr, mac)) in members.iter().enumerate() {
            let host = addr.rsplit('.').next().unwrap_or_default();
            let host6 = format!("{SUBNET6}{:x}/64", host.parse::<u8>().unwrap());
            let port = format!("p{i}");
            ip(&[
                "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                ns,
            ]);
            ip(&["-n", &sw, "link", "set", &port, "master", "br0"]);
            ip(&["-n", &sw, "link", "set", &port, "up"]);
            ip(&["-n", ns, "link", "set", "eth0", "address", mac]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "brd",
                "+",
                "dev",
                "eth0",
            ]);
            ip(&["-n", ns, "addr", "add", &host6, "dev", "eth0", "nodad"]);
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        lan
    }

    /// Runs this binary in `ns` with a role; waits until it prints `ready`.
    fn spawn(&self, ns: &str, role: &str, env: &[(&str, String)]) -> Role {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Process::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(exe)
            .env("SOCKPIT_NETNS_ROLE", role)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert_eq!(first, "ready", "{role} in {ns} did not start");
        Role { child, lines }
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in self.all() {
            let _ = Process::new("ip").args(["netns", "del", &ns]).status();
        }
    }
}

/// A role process; killed on drop.
struct Role {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Role {
    /// The role's remaining output, after it exits by itself.
    fn output(mut self) -> Vec<String> {
        let lines: Vec<String> = self.lines.by_ref().map_while(Result::ok).collect();
        let _ = self.child.wait();
        lines
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn responders(
    lan: &Lan,
    port: u16,
    group: Option<&str>,
    expect: &str,
    reply: impl Fn(u8) -> String,
) -> Vec<Role> {
    HOSTS
        .iter()
        .map(|n| {
            let mut env = vec![
                ("PORT", port.to_string()),
                ("EXPECT_PREFIX", expect.to_owned()),
                ("REPLY", reply(*n)),
                ("LOCAL_IP", format!("{SUBNET}.{n}")),
            ];
            if let Some(g) = group {
                env.push(("GROUP", g.to_owned()));
            }
            lan.spawn(&lan.host_ns(*n), "responder", &env)
        })
        .collect()
}

/// Runs a discovery in the scanner namespace and returns `address → fields` of responders.
fn scan(lan: &Lan, env: &[(&str, String)]) -> BTreeMap<SocketAddr, Vec<String>> {
    let role = lan.spawn(&lan.ns("scan"), "scanner", env);
    let mut found = BTreeMap::new();
    let mut done = false;
    for line in role.output() {
        if let Some(rest) = line.strip_prefix("R ") {
            let mut parts = rest.split('\t');
            let addr: SocketAddr = parts.next().unwrap().parse().unwrap();
            found.insert(addr, parts.map(str::to_owned).collect());
        } else if line == "done" {
            done = true;
        }
    }
    assert!(done, "the scanner finished its run");
    found
}

fn directed_broadcast_custom(lan: &Lan) {
    let _r = responders(lan, 48899, None, "hello?", |n| format!("I am host {n}"));
    let found = scan(
        lan,
        &[
            ("PRESET", "Custom".into()),
            ("TARGET", "Directed".into()),
            ("PORT", "48899".into()),
            ("PAYLOAD", "hello?".into()),
        ],
    );
    let expected: Vec<SocketAddr> = HOSTS
        .iter()
        .map(|n| format!("{SUBNET}.{n}:48899").parse().unwrap())
        .collect();
    assert_eq!(
        found.keys().copied().collect::<Vec<_>>(),
        expected,
        "{found:?}"
    );
    for (addr, fields) in &found {
        let n = addr.ip().to_string().rsplit('.').next().unwrap().to_owned();
        assert_eq!(fields[0], format!("preview=I am host {n}"));
    }
}

fn limited_broadcast_usr_iot(lan: &Lan) {
    let _r = responders(lan, 48899, None, "HF-A11ASSISTHREAD", |n| {
        format!("{SUBNET}.{n},02000000000{n},HF-LPB100")
    });
    let found = scan(
        lan,
        &[
            ("PRESET", "UsrIot".into()),
            ("TARGET", "Limited".into()),
            ("PORT", "48899".into()),
        ],
    );
    assert_eq!(found.len(), 3, "{found:?}");
    for n in HOSTS {
        let addr: SocketAddr = format!("{SUBNET}.{n}:48899").parse().unwrap();
        let fields = &found[&addr];
        assert!(fields.contains(&format!("IP={SUBNET}.{n}")), "{fields:?}");
        assert!(
            fields.contains(&format!("MAC=02:00:00:00:00:0{n}")),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"Module=HF-LPB100".to_owned()),
            "{fields:?}"
        );
    }
}

fn ssdp_multicast(lan: &Lan) {
    let _r = responders(
        lan,
        1900,
        Some("239.255.255.250"),
        "M-SEARCH * HTTP/1.1",
        |n| {
            format!(
                "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=100\r\nLOCATION: http://{SUBNET}.{n}:80/desc.xml\r\nSERVER: Test/1.0 UPnP/1.1 Host{n}/1.0\r\nST: upnp:rootdevice\r\nUSN: uuid:host-{n}::upnp:rootdevice\r\n\r\n"
            )
        },
    );
    let found = scan(lan, &[("PRESET", "Ssdp".into())]);
    assert_eq!(found.len(), 3, "{found:?}");
    for n in HOSTS {
        let addr: SocketAddr = format!("{SUBNET}.{n}:1900").parse().unwrap();
        let fields = &found[&addr];
        assert!(
            fields.contains(&format!("LOCATION=http://{SUBNET}.{n}:80/desc.xml")),
            "{fields:?}"
        );
        assert!(
            fields.contains(&format!("USN=uuid:host-{n}::upnp:rootdevice")),
            "{fields:?}"
        );
    }
}

fn udp_multicast_join(lan: &Lan) {
    let receiver = lan.spawn(
        &lan.ns("scan"),
        "udp-join",
        &[("GROUP", "239.1.2.3".into()), ("PORT", "50000".into())],
    );
    let _sender = lan.spawn(
        &lan.host_ns(2),
        "mcast-send",
        &[
            ("GROUP", "239.1.2.3".into()),
            ("PORT", "50000".into()),
            ("LOCAL_IP", format!("{SUBNET}.2")),
        ],
    );
    let out = receiver.output();
    assert!(
        out.contains(&format!("got {SUBNET}.2 group news")),
        "the UDP tab's worker received the group's datagram: {out:?}"
    );
}

fn udp_multicast_join_v6(lan: &Lan) {
    // A second multicast-capable interface in the scanner namespace, so that a join that
    // ignored the chosen interface index could not land on the right one by luck.
    let scan = lan.ns("scan");
    // (A veth pair kept inside the namespace: not every kernel has the dummy driver.)
    ip(&[
        "-n", &scan, "link", "add", "other0", "type", "veth", "peer", "name", "other1",
    ]);
    ip(&["-n", &scan, "link", "set", "other1", "up"]);
    ip(&["-n", &scan, "link", "set", "other0", "up"]);
    let on_other = lan
        .spawn(
            &scan,
            "udp-join",
            &[
                ("GROUP", "ff15::5eed".into()),
                ("PORT", "50003".into()),
                ("IFACE", "other0".into()),
                ("ONLY_JOIN", "1".into()),
            ],
        )
        .output();
    assert_eq!(
        on_other,
        ["igmp6 other0"],
        "a join by other0's index is on other0 only"
    );
    let receiver = lan.spawn(
        &scan,
        "udp-join",
        &[
            ("GROUP", "ff15::5eed".into()),
            ("PORT", "50002".into()),
            ("IFACE", "eth0".into()),
        ],
    );
    let _sender = lan.spawn(
        &lan.host_ns(3),
        "mcast-send",
        &[("GROUP", "ff15::5eed".into()), ("PORT", "50002".into())],
    );
    let out = receiver.output();
    assert!(
        out.contains(&"igmp6 eth0".to_owned()) && !out.contains(&"igmp6 other0".to_owned()),
        "a join by eth0's index is on eth0 only: {out:?}"
    );
    assert!(
        out.contains(&format!("got {SUBNET6}3 group news")),
        "the UDP tab's worker received the IPv6 group's datagram from host 3: {out:?}"
    );
}

/// The index of this namespace's `eth0`.
fn eth0_index() -> u32 {
    if_index("eth0")
}

fn if_index(name: &str) -> u32 {
    nix::net::if_::if_nametoindex(name).unwrap()
}

/// The interfaces on which this namespace has joined the IPv6 `group` (from /proc/net/igmp6,
/// whose third column is the group as 32 hex digits).
fn igmp6_interfaces(group: Ipv6Addr) -> Vec<String> {
    let hex = group.octets().iter().fold(String::new(), |mut h, b| {
        let _ = write!(h, "{b:02x}");
        h
    });
    std::fs::read_to_string("/proc/net/igmp6")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() > 2 && f[2] == hex).then(|| f[1].to_owned())
        })
        .collect()
}

// ---- roles, run inside a namespace ----

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

fn run_role(role: &str) {
    match role {
        "responder" => responder(),
        "scanner" => scanner(),
        "udp-join" => udp_join(),
        "mcast-send" => mcast_send(),
        other => panic!("unknown role {other}"),
    }
}

/// Answers every request that starts with EXPECT_PREFIX with REPLY, for at most 20 s.
fn responder() {
    let port: u16 = env("PORT").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket
        .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())
        .unwrap();
    let socket: UdpSocket = socket.into();
    if let Ok(group) = env("GROUP").parse::<Ipv4Addr>() {
        let local: Ipv4Addr = env("LOCAL_IP").parse().unwrap();
        socket.join_multicast_v4(&group, &local).unwrap();
    }
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    println!("ready");
    let expect = env("EXPECT_PREFIX");
    let reply = env("REPLY");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        if let Ok((n, from)) = socket.recv_from(&mut buf)
            && buf[..n].starts_with(expect.as_bytes())
        {
            let _ = socket.send_to(reply.as_bytes(), from);
        }
    }
}

/// Runs the Broadcast tab (without its window) on the scanner's interface and prints every
/// responder: `R <addr>\tpreview=…\t<field>=<value>…`, then `done`.
fn scanner() {
    println!("ready");
    let settings = BroadcastSettings {
        interface_addr: SCANNER_IP.to_owned(),
        listen_ms: 1500,
        sends: 2,
        repeat_ms: 200,
        ..BroadcastSettings::default()
    };
    let mut tab = BroadcastTab::new(settings, no_wake());
    let preset = match env("PRESET").as_str() {
        "UsrIot" => Preset::UsrIot,
        "Ssdp" => Preset::Ssdp,
        _ => Preset::Custom,
    };
    tab.set_preset(preset);
    match env("TARGET").as_str() {
        "Directed" => tab.settings.target = TargetKind::Directed,
        "Limited" => tab.settings.target = TargetKind::Limited,
        _ => {}
    }
    if !env("PORT").is_empty() {
        tab.settings.port = env("PORT");
    }
    let custom = (preset == Preset::Custom).then(|| env("PAYLOAD").into_bytes());
    assert!(
        tab.run(custom),
        "run refused: {:?} {:?}",
        tab.interface_error,
        tab.target_error
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        tab.drain_events();
        if matches!(tab.status, RunStatus::Done { .. } | RunStatus::Failed(_)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        matches!(
            tab.status,
            RunStatus::Done {
                cancelled: false,
                ..
            }
        ),
        "{:?}",
        tab.status
    );
    for r in tab.responders.iter() {
        let mut line = format!("R {}\tpreview={}", r.addr, r.preview);
        for (k, v) in &r.fields {
            let _ = write!(line, "\t{k}={v}");
        }
        assert!(r.rtt_us.is_some());
        println!("{line}");
    }
    println!("done");
}

/// The UDP tab's worker binds, joins GROUP (IPv4: on the scanner's address; IPv6: on the
/// interface IFACE, by index) and waits (at most 10 s) for one datagram: prints `got <source
/// ip> <text>`. For an IPv6 group it first prints `igmp6 <interface>` for each interface the
/// namespace joined it on, and with ONLY_JOIN=1 it stops there.
fn udp_join() {
    use sockpit::engine::udp::{Command, EventKind, UdpHandle};
    use sockpit::engine::worker::SessionId;
    use sockpit::net::udp::{Membership, MulticastInterface, MulticastSend, UdpBindOptions};
    let port: u16 = env("PORT").parse().unwrap();
    let group: IpAddr = env("GROUP").parse().unwrap();
    let (any, interface) = match group {
        IpAddr::V4(_) => (
            IpAddr::from(Ipv4Addr::UNSPECIFIED),
            MulticastInterface::V4(SCANNER_IP.parse().unwrap()),
        ),
        IpAddr::V6(_) => (
            IpAddr::from(Ipv6Addr::UNSPECIFIED),
            MulticastInterface::V6Index(if_index(&env("IFACE"))),
        ),
    };
    let udp = UdpHandle::spawn(no_wake()).unwrap();
    let s = SessionId(1);
    udp.send(Command::Bind {
        session: s,
        options: UdpBindOptions::new(SocketAddr::from((any, port))),
        multicast: MulticastSend::default(),
    })
    .unwrap();
    udp.send(Command::Join {
        session: s,
        membership: Membership { group, interface },
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut announced = false;
    while Instant::now() < deadline {
        let Ok(e) = udp.events().recv_timeout(Duration::from_millis(50)) else {
            continue;
        };
        match e.kind {
            EventKind::Joined(_) if !announced => {
                announced = true;
                println!("ready");
                // For an IPv6 group: on which interfaces the namespace is now a member.
                if let IpAddr::V6(g) = group {
                    for name in igmp6_interfaces(g) {
                        println!("igmp6 {name}");
                    }
                }
                if env("ONLY_JOIN") == "1" {
                    return;
                }
            }
            EventKind::Received(batch) => {
                let d = &batch[0];
                println!("got {} {}", d.from.ip(), String::from_utf8_lossy(&d.bytes));
                return;
            }
            EventKind::BindFailed(e) => panic!("bind failed: {e}"),
            EventKind::MembershipFailed { error, .. } => panic!("join failed: {error}"),
            _ => {}
        }
    }
    if !announced {
        println!("ready");
    }
}

/// Sends "group news" to GROUP:PORT every 100 ms, at most 100 times: out of LOCAL_IP for an
/// IPv4 group, out of `eth0` for an IPv6 one.
fn mcast_send() {
    let port: u16 = env("PORT").parse().unwrap();
    let group: IpAddr = env("GROUP").parse().unwrap();
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(SocketAddr::from((group, port))),
        socket2::Type::DGRAM,
        None,
    )
    .unwrap();
    if group.is_ipv4() {
        let local: Ipv4Addr = env("LOCAL_IP").parse().unwrap();
        socket.set_multicast_if_v4(&local).unwrap();
        socket.set_multicast_ttl_v4(1).unwrap();
    } else {
        socket.set_multicast_if_v6(eth0_index()).unwrap();
        socket.set_multicast_hops_v6(1).unwrap();
    }
    println!("ready");
    let to: SocketAddr = SocketAddr::from((group, port));
    for _ in 0..100 {
        let _ = socket.send_to(b"group news", &to.into());
        std::thread::sleep(Duration::from_millis(100));
    }
}
