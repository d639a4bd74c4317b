//! The TCP Client worker over real loopback sockets, without any GUI.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

mod common;

use sockpit::engine::tcp_client::{
    CloseReason, Command, ConnectOptions, ConnectionMode, EventKind, TcpClientHandle,
};
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::net::NetError;

const WAIT: Duration = Duration::from_secs(10);

/// Collects events until `pred` matches one; returns everything seen up to and including it.
fn wait_for(
    handle: &TcpClientHandle,
    what: &str,
    pred: impl FnMut(&EventKind) -> bool,
) -> Vec<EventKind> {
    common::wait_for_event(handle.events(), what, WAIT, |e| e.kind, pred)
}

fn received_bytes(events: &[EventKind]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::Received { bytes, .. } => Some(bytes.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

fn connect(handle: &TcpClientHandle, session: u64, options: ConnectOptions) {
    handle
        .send(Command::Connect {
            session: SessionId(session),
            options,
        })
        .unwrap();
}

#[test]
fn long_connection_sends_and_receives_exact_bytes() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 1, ConnectOptions::new("127.0.0.1", addr.port()));
    let (mut peer, peer_addr) = l.accept().unwrap();
    let events = wait_for(&client, "Connected", |e| {
        matches!(e, EventKind::Connected { .. })
    });
    let Some(EventKind::Connected { local, remote }) = events.last() else {
        unreachable!()
    };
    assert_eq!(*remote, addr);
    assert_eq!(
        *local, peer_addr,
        "the local address is the one the server sees"
    );

    let payload: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    client
        .send(Command::Send {
            session: SessionId(1),
            bytes: payload.clone(),
        })
        .unwrap();
    let mut got = vec![0u8; payload.len()];
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, payload);
    wait_for(
        &client,
        "Sent",
        |e| matches!(e, EventKind::Sent { bytes, peer } if bytes == &payload && *peer == addr),
    );

    peer.write_all(b"\xC4\xE3\xBA\xC3 hello").unwrap();
    let mut all = Vec::new();
    wait_for(&client, "Received", |e| {
        if let EventKind::Received { bytes, peer, .. } = e {
            assert_eq!(*peer, addr);
            all.extend_from_slice(bytes);
        }
        all.len() >= 10
    });
    assert_eq!(all, b"\xC4\xE3\xBA\xC3 hello");
}

#[test]
fn peer_close_is_a_half_close_and_sending_after_it_meets_the_reset() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 7, ConnectOptions::new("127.0.0.1", addr.port()));
    let (mut peer, _) = l.accept().unwrap();
    peer.write_all(b"bye").unwrap();
    drop(peer);
    let events = wait_for(&client, "PeerFinished", |e| {
        matches!(e, EventKind::PeerFinished { .. })
    });
    assert_eq!(
        received_bytes(&events),
        b"bye",
        "data before the close is kept"
    );
    assert!(matches!(events.last(), Some(EventKind::PeerFinished { remote }) if *remote == addr));
    // The peer is gone for good: what is sent now is answered with a reset, which shows.
    client
        .send(Command::Send {
            session: SessionId(7),
            bytes: b"anyone?".to_vec(),
        })
        .unwrap();
    wait_for(&client, "Closed by reset", |e| {
        matches!(
            e,
            EventKind::Closed {
                reason: CloseReason::Reset,
                ..
            }
        )
    });
}

/// Item 7 of the fix-first issue: a peer that sends, shuts down its write side and keeps
/// reading still gets everything sent afterwards (it got "closed" and nothing more before).
#[test]
fn a_peer_that_finished_sending_still_gets_what_is_sent() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 1, ConnectOptions::new("127.0.0.1", addr.port()));
    let (mut peer, _) = l.accept().unwrap();
    peer.write_all(b"hello").unwrap();
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    wait_for(&client, "PeerFinished", |e| {
        matches!(e, EventKind::PeerFinished { .. })
    });
    let mut expected = Vec::new();
    for i in 0..50 {
        let line = format!("line {i}\n");
        expected.extend_from_slice(line.as_bytes());
        client
            .send(Command::Send {
                session: SessionId(1),
                bytes: line.into_bytes(),
            })
            .unwrap();
    }
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = vec![0u8; expected.len()];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, expected);
    client
        .send(Command::Disconnect {
            session: SessionId(1),
        })
        .unwrap();
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "then a clean close");
}

/// Item 5: bytes accepted before Disconnect are written before the connection closes, even
/// when the peer only starts reading later.
#[test]
fn disconnect_writes_everything_queued_before_closing() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 1, ConnectOptions::new("127.0.0.1", addr.port()));
    let (mut peer, _) = l.accept().unwrap();
    wait_for(&client, "Connected", |e| {
        matches!(e, EventKind::Connected { .. })
    });
    let payload: Vec<u8> = (0..=250u8).cycle().take(12 * 1024 * 1024).collect();
    client
        .send(Command::Send {
            session: SessionId(1),
            bytes: payload.clone(),
        })
        .unwrap();
    client
        .send(Command::Disconnect {
            session: SessionId(1),
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), payload.len());
    assert!(got == payload, "every byte, in order");
    let events = wait_for(&client, "Stopped", |e| matches!(e, EventKind::Stopped));
    assert!(events.iter().any(|e| matches!(
        e,
        EventKind::Closed {
            reason: CloseReason::ByUser,
            unsent_bytes: 0,
            ..
        }
    )));
}

/// Item 5, the other way out: a peer that takes nothing for the linger time gets the rest
/// dropped, and the count of what was not sent is reported.
#[test]
fn disconnect_reports_what_a_silent_peer_never_took() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    let mut options = ConnectOptions::new("127.0.0.1", addr.port());
    options.linger = Duration::from_millis(300);
    connect(&client, 1, options);
    let (_peer, _) = l.accept().unwrap();
    wait_for(&client, "Connected", |e| {
        matches!(e, EventKind::Connected { .. })
    });
    client
        .send(Command::Send {
            session: SessionId(1),
            bytes: vec![b'x'; 12 * 1024 * 1024],
        })
        .unwrap();
    client
        .send(Command::Disconnect {
            session: SessionId(1),
        })
        .unwrap();
    let events = wait_for(&client, "Closed", |e| matches!(e, EventKind::Closed { .. }));
    let Some(EventKind::Closed { unsent_bytes, .. }) = events.last() else {
        unreachable!()
    };
    assert!(*unsent_bytes > 0, "the unsent bytes are counted");
    assert!(*unsent_bytes <= 12 * 1024 * 1024);
}

/// Item 6: a peer that never reads cannot make the worker buffer without end; sends past the
/// limit are refused with a sentence, not queued.
#[test]
fn sends_to_a_peer_that_never_reads_are_refused_past_the_limit() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 1, ConnectOptions::new("127.0.0.1", addr.port()));
    let (_peer, _) = l.accept().unwrap();
    wait_for(&client, "Connected", |e| {
        matches!(e, EventKind::Connected { .. })
    });
    for _ in 0..4 {
        client
            .send(Command::Send {
                session: SessionId(1),
                bytes: vec![b'x'; 16 * 1024 * 1024],
            })
            .unwrap();
    }
    let events = wait_for(&client, "SendRejected", |e| {
        matches!(e, EventKind::SendRejected { .. })
    });
    let Some(EventKind::SendRejected { reason }) = events.last() else {
        unreachable!()
    };
    assert!(reason.contains("not reading"), "{reason}");
}

#[test]
fn peer_reset_is_reported_as_reset() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 1, ConnectOptions::new("127.0.0.1", addr.port()));
    let (peer, _) = l.accept().unwrap();
    wait_for(&client, "Connected", |e| {
        matches!(e, EventKind::Connected { .. })
    });
    socket2::SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(peer);
    wait_for(&client, "Closed by reset", |e| {
        matches!(
            e,
            EventKind::Closed {
                reason: CloseReason::Reset,
                ..
            }
        )
    });
}

#[test]
fn closed_port_is_refused() {
    let (l, addr) = listener();
    drop(l);
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 1, ConnectOptions::new("127.0.0.1", addr.port()));
    let events = wait_for(&client, "ConnectFailed", |e| {
        matches!(e, EventKind::ConnectFailed(_))
    });
    match events.last() {
        Some(EventKind::ConnectFailed(err @ NetError::Refused { addr: a })) => {
            assert_eq!(*a, addr);
            assert!(err.explanation().contains("Nothing is listening"));
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[test]
fn unknown_name_is_not_resolved() {
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 1, ConnectOptions::new("no-such-host.invalid", 80));
    let events = wait_for(&client, "ConnectFailed", |e| {
        matches!(e, EventKind::ConnectFailed(_))
    });
    assert!(
        matches!(events.last(), Some(EventKind::ConnectFailed(NetError::NameNotResolved { host, .. })) if host == "no-such-host.invalid"),
        "{events:?}"
    );
}

#[test]
fn ipv6_loopback_works() {
    let Ok(l) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback on this machine; skipping");
        return;
    };
    let addr = l.local_addr().unwrap();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 1, ConnectOptions::new("[::1]", addr.port()));
    let (_peer, _) = l.accept().unwrap();
    let events = wait_for(&client, "Connected", |e| {
        matches!(e, EventKind::Connected { .. })
    });
    assert!(matches!(events.last(), Some(EventKind::Connected { remote, .. }) if *remote == addr));
}

#[test]
fn disconnect_closes_and_peer_sees_eof() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 3, ConnectOptions::new("127.0.0.1", addr.port()));
    let (mut peer, _) = l.accept().unwrap();
    wait_for(&client, "Connected", |e| {
        matches!(e, EventKind::Connected { .. })
    });
    client
        .send(Command::Disconnect {
            session: SessionId(3),
        })
        .unwrap();
    let events = wait_for(&client, "Stopped", |e| matches!(e, EventKind::Stopped));
    assert!(events.iter().any(|e| matches!(
        e,
        EventKind::Closed {
            reason: CloseReason::ByUser,
            ..
        }
    )));
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(peer.read(&mut buf).unwrap(), 0, "the peer sees our close");
    // Sending after disconnect is refused, not silently dropped.
    client
        .send(Command::Send {
            session: SessionId(3),
            bytes: b"late".to_vec(),
        })
        .unwrap();
    wait_for(&client, "SendRejected", |e| {
        matches!(e, EventKind::SendRejected { .. })
    });
}

#[test]
fn short_connection_round_trip_per_send() {
    let (l, addr) = listener();
    let server = std::thread::Builder::new()
        .name("short-server".into())
        .spawn(move || {
            for reply in [&b"one"[..], b"two"] {
                let (mut s, _) = l.accept().unwrap();
                let mut req = [0u8; 4];
                s.read_exact(&mut req).unwrap();
                assert_eq!(&req, b"ping");
                s.write_all(reply).unwrap();
                // Dropping closes: the reply is complete.
            }
        })
        .unwrap();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    let mut options = ConnectOptions::new("127.0.0.1", addr.port());
    options.mode = ConnectionMode::Short;
    connect(&client, 1, options);
    wait_for(&client, "Ready", |e| matches!(e, EventKind::Ready));
    for expected in [&b"one"[..], b"two"] {
        client
            .send(Command::Send {
                session: SessionId(1),
                bytes: b"ping".to_vec(),
            })
            .unwrap();
        let events = wait_for(&client, "Closed", |e| matches!(e, EventKind::Closed { .. }));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, EventKind::Connected { .. })),
            "{events:?}"
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, EventKind::Sent { bytes, .. } if bytes == b"ping"))
        );
        assert_eq!(received_bytes(&events), expected);
        assert!(matches!(
            events.last(),
            Some(EventKind::Closed {
                reason: CloseReason::ClosedByPeer,
                ..
            })
        ));
    }
    server.join().unwrap();
}

#[test]
fn short_connection_closes_after_idle_timeout() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    let mut options = ConnectOptions::new("127.0.0.1", addr.port());
    options.mode = ConnectionMode::Short;
    options.idle_timeout = Duration::from_millis(300);
    connect(&client, 1, options);
    wait_for(&client, "Ready", |e| matches!(e, EventKind::Ready));
    client
        .send(Command::Send {
            session: SessionId(1),
            bytes: b"?".to_vec(),
        })
        .unwrap();
    let (mut peer, _) = l.accept().unwrap();
    let mut b = [0u8; 1];
    peer.read_exact(&mut b).unwrap();
    peer.write_all(b"partial reply, no close").unwrap();
    let events = wait_for(&client, "Closed", |e| matches!(e, EventKind::Closed { .. }));
    assert_eq!(received_bytes(&events), b"partial reply, no close");
    assert!(matches!(
        events.last(),
        Some(EventKind::Closed {
            reason: CloseReason::IdleTimeout,
            ..
        })
    ));
}

#[test]
fn auto_reconnect_after_peer_close() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    let mut options = ConnectOptions::new("127.0.0.1", addr.port());
    options.auto_reconnect = true;
    connect(&client, 1, options);
    let (first, _) = l.accept().unwrap();
    wait_for(&client, "Connected", |e| {
        matches!(e, EventKind::Connected { .. })
    });
    drop(first);
    let events = wait_for(&client, "ReconnectScheduled", |e| {
        matches!(e, EventKind::ReconnectScheduled { .. })
    });
    assert!(matches!(
        events.last(),
        Some(EventKind::ReconnectScheduled { attempt: 1, .. })
    ));
    let (_second, _) = l.accept().unwrap();
    wait_for(&client, "Connected again", |e| {
        matches!(e, EventKind::Connected { .. })
    });
}

#[test]
fn auto_reconnect_backs_off_while_refused() {
    let (l, addr) = listener();
    drop(l);
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    let mut options = ConnectOptions::new("127.0.0.1", addr.port());
    options.auto_reconnect = true;
    connect(&client, 1, options);
    let mut delays = Vec::new();
    wait_for(&client, "three retries", |e| {
        if let EventKind::ReconnectScheduled { delay, .. } = e {
            delays.push(*delay);
        }
        delays.len() == 2
    });
    assert!(delays[1] > delays[0], "back-off grows: {delays:?}");
    client
        .send(Command::Disconnect {
            session: SessionId(1),
        })
        .unwrap();
    wait_for(&client, "Stopped", |e| matches!(e, EventKind::Stopped));
}

#[test]
fn connect_timeout_is_reported() {
    // A listener with a full accept queue on loopback drops further SYNs, so a connect there
    // neither succeeds nor is refused: it times out.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    let mut options = ConnectOptions::new("127.0.0.1", addr.port());
    options.connect_timeout = Duration::from_millis(300);
    connect(&client, 1, options);
    let events = wait_for(&client, "ConnectFailed", |e| {
        matches!(e, EventKind::ConnectFailed(_))
    });
    assert!(
        matches!(
            events.last(),
            Some(EventKind::ConnectFailed(NetError::TimedOut {
                timeout_ms: 300,
                ..
            }))
        ),
        "{events:?}"
    );
}

#[test]
fn stale_session_commands_are_ignored() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 1, ConnectOptions::new("127.0.0.1", addr.port()));
    let (_old_peer, _) = l.accept().unwrap();
    connect(&client, 2, ConnectOptions::new("127.0.0.1", addr.port()));
    let (mut new_peer, _) = l.accept().unwrap();
    wait_for(&client, "session 2 connected", |e| {
        matches!(e, EventKind::Connected { .. })
    });
    // A disconnect for the replaced session must not close the new one.
    client
        .send(Command::Disconnect {
            session: SessionId(1),
        })
        .unwrap();
    client
        .send(Command::Send {
            session: SessionId(2),
            bytes: b"still here".to_vec(),
        })
        .unwrap();
    let mut buf = [0u8; 10];
    new_peer.set_read_timeout(Some(WAIT)).unwrap();
    new_peer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still here");
}

#[test]
fn dropping_the_handle_joins_the_worker() {
    let (l, addr) = listener();
    let client = TcpClientHandle::spawn(no_wake()).unwrap();
    connect(&client, 1, ConnectOptions::new("127.0.0.1", addr.port()));
    let (mut peer, _) = l.accept().unwrap();
    wait_for(&client, "Connected", |e| {
        matches!(e, EventKind::Connected { .. })
    });
    let start = Instant::now();
    drop(client);
    assert!(start.elapsed() < WAIT);
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(
        peer.read(&mut buf).unwrap(),
        0,
        "shutdown closed the connection"
    );
}
