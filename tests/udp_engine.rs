//! The UDP worker over real loopback sockets, without any GUI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

mod common;

use sockpit::engine::udp::{Command, Datagram, EventKind, UdpHandle, UdpStats};
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::net::NetError;
use sockpit::net::udp::{
    Membership, MulticastInterface, MulticastSend, UdpBindOptions, bind_udp, kernel_drops,
};

const WAIT: Duration = Duration::from_secs(20);
const S: SessionId = SessionId(1);

/// Collects events until `pred` matches one; returns everything seen up to and including it.
fn wait_for(udp: &UdpHandle, what: &str, pred: impl FnMut(&EventKind) -> bool) -> Vec<EventKind> {
    common::wait_for_event(udp.events(), what, WAIT, |e| e.kind, pred)
}

fn bind_with(options: UdpBindOptions) -> (UdpHandle, SocketAddr) {
    let udp = UdpHandle::spawn(no_wake()).unwrap();
    udp.send(Command::Bind {
        session: S,
        options,
        multicast: MulticastSend::default(),
    })
    .unwrap();
    let events = wait_for(&udp, "Bound", |e| {
        matches!(e, EventKind::Bound { .. } | EventKind::BindFailed(_))
    });
    match events.last() {
        Some(EventKind::Bound { local }) => (udp, *local),
        other => panic!("bind failed: {other:?}"),
    }
}

fn bind(addr: &str) -> (UdpHandle, SocketAddr) {
    bind_with(UdpBindOptions::new(addr.parse().unwrap()))
}

/// Collects received datagrams until `count` arrived.
fn receive(udp: &UdpHandle, count: usize) -> Vec<Datagram> {
    let mut got = Vec::new();
    wait_for(udp, &format!("{count} datagrams"), |e| {
        if let EventKind::Received(batch) = e {
            got.extend(batch.iter().cloned());
        }
        got.len() >= count
    });
    got
}

fn send(udp: &UdpHandle, to: SocketAddr, bytes: &[u8]) {
    udp.send(Command::Send {
        session: S,
        host: to.ip().to_string(),
        port: to.port(),
        bytes: bytes.to_vec(),
    })
    .unwrap();
}

#[test]
fn round_trip_keeps_exact_bytes_and_source_addresses() {
    let (udp, local) = bind("127.0.0.1:0");
    assert_ne!(local.port(), 0, "the chosen port is reported");
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let all_bytes: Vec<u8> = (0..=255).collect();
    peer.send_to(&all_bytes, local).unwrap();
    peer.send_to("你好, UDP".as_bytes(), local).unwrap();
    let got = receive(&udp, 2);
    assert_eq!(got[0].bytes, all_bytes);
    assert_eq!(got[0].from, peer.local_addr().unwrap());
    assert_eq!(got[1].bytes, "你好, UDP".as_bytes());

    // Reply to the sender: the worker sends to the address it saw.
    send(&udp, got[0].from, b"\x00reply\xff");
    wait_for(&udp, "Sent", |e| matches!(e, EventKind::Sent { .. }));
    let mut buf = [0u8; 64];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"\x00reply\xff");
    assert_eq!(from, local);
}

#[test]
fn the_largest_datagram_arrives_whole() {
    let (udp, local) = bind("127.0.0.1:0");
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let big: Vec<u8> = (0..65_507u32).map(|i| (i % 251) as u8).collect();
    peer.send_to(&big, local).unwrap();
    let got = receive(&udp, 1);
    assert_eq!(got[0].bytes.len(), 65_507);
    assert_eq!(got[0].bytes, big);
}

#[test]
fn ipv6_loopback_round_trip() {
    let Ok(peer) = UdpSocket::bind("[::1]:0") else {
        eprintln!("SKIPPED: this machine has no IPv6 loopback");
        return;
    };
    let (udp, local) = bind("[::1]:0");
    peer.send_to(b"v6", local).unwrap();
    let got = receive(&udp, 1);
    assert_eq!(got[0].from, peer.local_addr().unwrap());
    assert_eq!(got[0].bytes, b"v6");
}

#[test]
fn names_are_resolved_for_sending() {
    let (udp, _) = bind("127.0.0.1:0");
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    udp.send(Command::Send {
        session: S,
        host: "localhost".to_owned(),
        port: peer.local_addr().unwrap().port(),
        bytes: b"by name".to_vec(),
    })
    .unwrap();
    let mut buf = [0u8; 16];
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"by name");

    udp.send(Command::Send {
        session: S,
        host: "no-such-host.invalid".to_owned(),
        port: 9,
        bytes: b"x".to_vec(),
    })
    .unwrap();
    let events = wait_for(&udp, "SendFailed", |e| {
        matches!(e, EventKind::SendFailed { .. })
    });
    let Some(EventKind::SendFailed { target, error }) = events.last() else {
        unreachable!()
    };
    assert_eq!(target, "no-such-host.invalid:9");
    assert!(
        matches!(error, NetError::NameNotResolved { .. }),
        "{error:?}"
    );
}

#[test]
fn a_send_to_a_closed_port_reports_port_unreachable() {
    let (udp, _) = bind("127.0.0.1:0");
    let closed = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    send(&udp, closed, b"anyone there?");
    let events = wait_for(&udp, "Icmp", |e| matches!(e, EventKind::Icmp(_)));
    let Some(EventKind::Icmp(e)) = events.last() else {
        unreachable!()
    };
    assert_eq!(e.error, std::io::ErrorKind::ConnectionRefused);
    assert_eq!(e.destination, Some(closed));
    let text = e.to_string();
    assert!(
        text.contains(&format!("nothing listens on UDP port {}", closed.port())),
        "{text}"
    );

    // The socket still works afterwards.
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    send(&udp, peer.local_addr().unwrap(), b"still here");
    let mut buf = [0u8; 16];
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"still here");
}

#[test]
fn port_in_use_is_reported() {
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let udp = UdpHandle::spawn(no_wake()).unwrap();
    let mut options = UdpBindOptions::new(addr);
    options.reuse_addr = false;
    udp.send(Command::Bind {
        session: S,
        options,
        multicast: MulticastSend::default(),
    })
    .unwrap();
    let events = wait_for(&udp, "BindFailed", |e| {
        matches!(e, EventKind::BindFailed(_))
    });
    let Some(EventKind::BindFailed(e)) = events.last() else {
        unreachable!()
    };
    assert_eq!(*e, NetError::AddrInUse { addr });
    assert!(e.explanation().contains("Another program"));
}

#[test]
fn full_duplex_send_while_receiving_a_flood() {
    let (udp, local) = bind("127.0.0.1:0");
    let flooder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let flood = std::thread::Builder::new()
        .name("flooder".into())
        .spawn(move || {
            for i in 0..20_000u32 {
                let _ = flooder.send_to(&i.to_be_bytes(), local);
            }
        })
        .unwrap();
    for i in 0..50u8 {
        send(&udp, peer.local_addr().unwrap(), &[i]);
    }
    for i in 0..50u8 {
        let mut buf = [0u8; 4];
        let (n, _) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[i], "sends go out in order during the flood");
    }
    flood.join().unwrap();
}

#[test]
fn every_datagram_is_received_or_counted_as_dropped() {
    const SENT: u64 = 3000;
    let (udp, local) = bind("127.0.0.1:0");
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Nobody drains the events while the datagrams arrive, so what the worker may hold for
    // its owner (32 MiB) fills: 3,000 of 16 KiB are 48 MiB.
    let mut payload = vec![0u8; 16 * 1024];
    for i in 0..SENT {
        payload[..8].copy_from_slice(&i.to_be_bytes());
        sender.send_to(&payload, local).unwrap();
        if i % 4 == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let mut delivered = 0u64;
    let mut stats = UdpStats::default();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Ok(e) = udp.events().recv_timeout(Duration::from_millis(600)) {
            match e.kind {
                EventKind::Received(batch) => delivered += batch.len() as u64,
                EventKind::Stats(s) => stats = s,
                _ => {}
            }
        } else {
            let kernel = stats.dropped_by_kernel.unwrap_or(0);
            if delivered + stats.dropped_by_app + kernel == SENT {
                break;
            }
        }
    }
    let kernel = stats.dropped_by_kernel.unwrap_or(0);
    assert_eq!(stats.received, delivered, "{stats:?}");
    assert_eq!(
        delivered + stats.dropped_by_app + kernel,
        SENT,
        "delivered {delivered}, {stats:?}"
    );
    assert!(
        stats.dropped_by_app > 0,
        "the UI did not drain, so some must have been dropped and counted: {stats:?}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn kernel_drops_are_read_for_the_socket() {
    let mut options = UdpBindOptions::new("127.0.0.1:0".parse().unwrap());
    options.recv_buffer_bytes = Some(1024);
    let socket = bind_udp(&options).unwrap();
    let local = socket.local_addr().unwrap();
    assert_eq!(kernel_drops(&socket), Some(0));
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..50 {
        sender.send_to(&[7u8; 1000], local).unwrap();
    }
    let drops = kernel_drops(&socket).unwrap();
    assert!(
        drops > 0 && drops < 50,
        "a tiny buffer holds a few and drops the rest: {drops}"
    );
}

#[test]
fn multicast_join_receives_and_leave_stops() {
    let (udp, local) = bind("0.0.0.0:0");
    let group: std::net::IpAddr = "239.255.77.12".parse().unwrap();
    let membership = Membership {
        group,
        interface: MulticastInterface::V4(Ipv4Addr::LOCALHOST),
    };
    udp.send(Command::Join {
        session: S,
        membership: membership.clone(),
    })
    .unwrap();
    let events = wait_for(&udp, "Joined", |e| {
        matches!(e, EventKind::Joined(_) | EventKind::MembershipFailed { .. })
    });
    assert!(
        matches!(events.last(), Some(EventKind::Joined(m)) if *m == membership),
        "{events:?}"
    );
    // A sender on this machine, sending out of the loopback interface only.
    let sender = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    sender.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
    sender.set_multicast_ttl_v4(0).unwrap();
    sender.set_multicast_loop_v4(true).unwrap();
    let to: SocketAddr = SocketAddr::new(group, local.port());
    sender.send_to(b"group hello", &to.into()).unwrap();
    let got = receive(&udp, 1);
    assert_eq!(got[0].bytes, b"group hello");

    udp.send(Command::Leave {
        session: S,
        membership: membership.clone(),
    })
    .unwrap();
    wait_for(&udp, "Left", |e| matches!(e, EventKind::Left(_)));
    sender.send_to(b"after leave", &to.into()).unwrap();
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        if let Ok(e) = udp.events().recv_timeout(Duration::from_millis(50)) {
            assert!(
                !matches!(e.kind, EventKind::Received(_)),
                "nothing arrives after leaving the group: {:?}",
                e.kind
            );
        }
    }
}

#[test]
fn joining_a_unicast_address_is_refused_by_the_check() {
    let err = sockpit::net::udp::check_group("127.0.0.1".parse().unwrap()).unwrap_err();
    assert!(err.contains("not a multicast address"));
}

#[test]
fn broadcast_to_127_255_255_255_reaches_a_bound_receiver() {
    // The receiver binds the wildcard address, as a device listening for broadcasts would.
    let receiver = UdpSocket::bind("0.0.0.0:0").unwrap();
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    let port = receiver.local_addr().unwrap().port();
    let (udp, _) = bind_with(UdpBindOptions {
        broadcast: true,
        ..UdpBindOptions::new("127.0.0.1:0".parse().unwrap())
    });
    udp.send(Command::Send {
        session: S,
        host: "127.255.255.255".to_owned(),
        port,
        bytes: b"who is there".to_vec(),
    })
    .unwrap();
    let mut buf = [0u8; 32];
    let (n, _) = receiver.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"who is there");
}

/// Datagrams read together in one batch keep their own arrival times (the kernel's stamps),
/// not the time of the read.
#[test]
fn batched_datagrams_keep_their_own_arrival_times() {
    let socket = bind_udp(&UdpBindOptions::new("127.0.0.1:0".parse().unwrap())).unwrap();
    let to = socket.local_addr().unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut receiver = sockpit::net::udp::BatchReceiver::new(8, 2048);
    // Linux switches arrival stamping on a moment after the first socket in the system asks
    // for it (until then a datagram is stamped when read): wait until a probe that sat 30 ms
    // in the queue carries a stamp from when it arrived.
    let mut stamping = false;
    for _ in 0..50 {
        sender.send_to(b"probe", to).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let read_at = sockpit::traffic::now_us();
        let mut stamps = Vec::new();
        let _ = receiver.recv(&socket, |_, _, arrived| stamps.push(arrived));
        if stamps
            .iter()
            .any(|s| s.is_some_and(|s| s + 20_000 <= read_at))
        {
            stamping = true;
            break;
        }
    }
    assert!(stamping, "the kernel never stamped a datagram on arrival");
    sender.send_to(b"first", to).unwrap();
    std::thread::sleep(Duration::from_millis(120));
    sender.send_to(b"second", to).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let mut got = Vec::new();
    let read_at = sockpit::traffic::now_us();
    let n = receiver
        .recv(&socket, |_, bytes, arrived| {
            got.push((bytes.to_vec(), arrived));
        })
        .unwrap();
    assert_eq!(n, 2, "both datagrams in one batch");
    assert_eq!(got[0].0, b"first");
    assert_eq!(got[1].0, b"second");
    let first = got[0].1.expect("the kernel stamped the first datagram");
    let second = got[1].1.expect("the kernel stamped the second datagram");
    assert!(
        second > first,
        "arrival order kept: first {first}, second {second}, read {read_at}"
    );
    let gap_ms = (second - first) / 1000;
    assert!(
        (100..1000).contains(&gap_ms),
        "arrival times 120 ms apart, not the read time: {gap_ms} ms"
    );
    assert!(
        second + 10_000 <= read_at,
        "stamped when it arrived, 20 ms before the read"
    );
}
