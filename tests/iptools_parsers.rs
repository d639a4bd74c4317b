//! The neighbour and socket table parsers on fixture text, and the live readers on this
//! machine's own loopback sockets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

use std::net::{IpAddr, SocketAddr};

use sockpit::iptools::neighbours::{parse_ip_neigh, parse_proc_arp};
use sockpit::iptools::ports::{PortRange, check_bind, services};
use sockpit::iptools::sockets::{Proto, parse_proc_net};
use sockpit::iptools::vendor::{Mac, vendor, vendor_text};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn proc_net_arp_skips_incomplete_entries() {
    let n = parse_proc_arp(&fixture("proc_net_arp.txt"));
    let ips: Vec<IpAddr> = n.iter().map(|n| n.ip).collect();
    assert_eq!(
        ips,
        vec![ip("192.0.2.1"), ip("192.0.2.50"), ip("198.51.100.7")],
        "the flags-0x0 entry and the zero-MAC entry are skipped"
    );
    assert_eq!(n[0].mac.to_string(), "52:54:00:12:35:02");
    assert_eq!(n[0].interface, "eth0");
    assert_eq!(n[0].state, "complete");
    assert_eq!(n[2].interface, "br0");
    assert_eq!(n[2].state, "permanent");
    assert_eq!(n[2].mac, "02:00:00:00:00:07".parse::<Mac>().unwrap());
}

#[test]
fn ip_neigh_skips_incomplete_failed_and_zero_macs() {
    let n = parse_ip_neigh(&fixture("ip_neigh.txt"));
    let got: Vec<(IpAddr, String, String)> = n
        .iter()
        .map(|n| (n.ip, n.mac.to_string(), n.state.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                ip("fe80::1"),
                "52:54:00:12:35:02".to_owned(),
                "REACHABLE".to_owned()
            ),
            (
                ip("2001:db8::5"),
                "00:1b:63:84:45:e6".to_owned(),
                "STALE".to_owned()
            ),
            (
                ip("192.0.2.1"),
                "52:54:00:12:35:02".to_owned(),
                "DELAY".to_owned()
            ),
        ]
    );
    assert_eq!(n[0].interface, "eth0");
}

#[test]
fn proc_net_tcp_and_tcp6() {
    let t = parse_proc_net(&fixture("proc_net_tcp.txt"), Proto::Tcp);
    assert_eq!(t.len(), 3);
    assert_eq!(t[0].local, sa("127.0.0.1:8080"));
    assert_eq!(t[0].remote, sa("0.0.0.0:0"));
    assert_eq!(t[0].state, "LISTEN");
    assert_eq!(t[0].inode, 41234);
    assert_eq!(t[1].local, sa("10.0.2.15:22"));
    assert_eq!(t[1].remote, sa("10.0.2.2:50000"));
    assert_eq!(t[1].state, "ESTABLISHED");
    assert_eq!(t[2].state, "TIME_WAIT");
    assert_eq!(t[0].proto_text(), "TCP");

    let t6 = parse_proc_net(&fixture("proc_net_tcp6.txt"), Proto::Tcp);
    assert_eq!(t6.len(), 3);
    assert_eq!(t6[0].local, sa("[::]:443"));
    assert_eq!(t6[1].local, sa("[::1]:8081"));
    assert_eq!(t6[1].remote, sa("[::1]:54321"));
    assert_eq!(t6[2].local, sa("[2001:db8::1]:80"));
    assert_eq!(t6[2].remote, sa("[2001:db8::2]:57344"));
    assert_eq!(t6[2].state, "CLOSE_WAIT");
    assert_eq!(t6[2].proto_text(), "TCP6");
}

#[test]
fn proc_net_udp_and_udp6() {
    let u = parse_proc_net(&fixture("proc_net_udp.txt"), Proto::Udp);
    assert_eq!(u.len(), 3);
    assert_eq!(u[0].local, sa("127.0.0.53:53"));
    assert_eq!(u[0].state, "UNCONN");
    assert_eq!(u[1].local, sa("0.0.0.0:5353"));
    assert_eq!(u[2].remote, sa("127.0.0.1:53"));
    assert_eq!(u[2].state, "ESTABLISHED");
    let u6 = parse_proc_net(&fixture("proc_net_udp6.txt"), Proto::Udp);
    assert_eq!(u6.len(), 1);
    assert_eq!(u6[0].local, sa("[::]:5353"));
    assert_eq!(u6[0].proto_text(), "UDP6");
    assert!(u6[0].matches("udp6"));
    assert!(u6[0].matches("5353"));
    assert!(!u6[0].matches("listen"));
}

#[test]
fn malformed_lines_are_skipped() {
    let text = "header\n   0: nonsense\n   1: 0100007F:ZZZZ 00000000:0000 0A 0 0 0 0 0 1 \n";
    assert!(parse_proc_net(text, Proto::Tcp).is_empty());
    assert!(parse_proc_arp("header\n1.2.3.4 0x1 0x2 not-a-mac * eth0\n").is_empty());
    assert!(parse_ip_neigh("nonsense line\n\n").is_empty());
}

#[cfg(target_os = "linux")]
#[test]
fn live_socket_table_shows_our_listener_with_its_owner() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let udp = std::net::UdpSocket::bind("[::1]:0").unwrap();
    let udp_addr = udp.local_addr().unwrap();
    let all = sockpit::iptools::sockets::read_sockets().unwrap();
    let row = all
        .iter()
        .find(|s| s.local == addr && s.proto == Proto::Tcp)
        .unwrap_or_else(|| panic!("{addr} not in {} sockets", all.len()));
    assert_eq!(row.state, "LISTEN");
    let pid = std::process::id().to_string();
    assert!(
        row.process
            .as_deref()
            .is_some_and(|p| p.starts_with(&format!("{pid}/"))),
        "owner {:?} should be this process {pid}",
        row.process
    );
    let urow = all
        .iter()
        .find(|s| s.local == udp_addr && s.proto == Proto::Udp)
        .expect("the UDP6 socket is listed");
    assert_eq!(urow.proto_text(), "UDP6");
    assert_eq!(urow.state, "UNCONN");
}

#[cfg(target_os = "linux")]
#[test]
fn live_neighbour_table_is_readable() {
    // The content depends on the machine; reading it must work and give well-formed rows.
    let table = sockpit::iptools::neighbours::read_v4().unwrap();
    assert!(table.iter().all(|n| !n.mac.is_zero()));
}

#[test]
fn vendors_from_the_ieee_registry() {
    let xerox: Mac = "00:00:00:12:34:56".parse().unwrap();
    assert_eq!(vendor(&xerox), Some("XEROX CORPORATION"));
    let local: Mac = "02:00:00:00:00:01".parse().unwrap();
    assert!(local.is_locally_administered());
    assert_eq!(vendor_text(&local), "(locally administered)");
    assert!("00:11:22:33:44".parse::<Mac>().is_err());
    assert!("00:11:22:33:44:zz".parse::<Mac>().is_err());
    assert_eq!(
        "00-1B-63-84-45-E6".parse::<Mac>().unwrap().to_string(),
        "00:1b:63:84:45:e6"
    );
}

#[test]
fn port_facts() {
    assert_eq!(PortRange::of(0), PortRange::WellKnown);
    assert_eq!(PortRange::of(1023), PortRange::WellKnown);
    assert_eq!(PortRange::of(1024), PortRange::Registered);
    assert_eq!(PortRange::of(49151), PortRange::Registered);
    assert_eq!(PortRange::of(49152), PortRange::Dynamic);
    assert_eq!(PortRange::of(65535), PortRange::Dynamic);
    let names = |p| services(p).iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(names(80), ["HTTP"]);
    assert_eq!(names(502), ["Modbus/TCP"]);
    assert_eq!(names(1883), ["MQTT"]);
    assert_eq!(names(5353), ["mDNS"]);
    assert_eq!(names(22), ["SSH"]);
    assert!(names(40000).is_empty());
}

#[test]
fn bind_check_sees_a_port_in_use() {
    // Hold a port on all IPv4 addresses (bound, nothing is sent), then ask.
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let check = check_bind(port);
    let err = check.tcp_v4.unwrap_err();
    assert!(err.explanation().contains("Another program"), "{err:?}");
    drop(holder);
    assert!(check_bind(port).tcp_v4.is_ok(), "free again after release");
}
