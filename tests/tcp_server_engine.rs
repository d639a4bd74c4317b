//! The TCP Server worker over real loopback sockets, without any GUI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

mod common;

use common::{assert_nothing_arrives, read_exactly};
use sockpit::engine::tcp_server::{
    ClientCloseReason, ClientId, Command, EventKind, ServerOptions, Target, TcpServerHandle,
};
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::net::NetError;

const WAIT: Duration = Duration::from_secs(20);
const S: SessionId = SessionId(1);

/// Collects events until `pred` matches one; returns everything seen up to and including it.
fn wait_for(
    server: &TcpServerHandle,
    what: &str,
    pred: impl FnMut(&EventKind) -> bool,
) -> Vec<EventKind> {
    common::wait_for_event(server.events(), what, WAIT, |e| e.kind, pred)
}

fn start(options: ServerOptions) -> (TcpServerHandle, SocketAddr) {
    let server = TcpServerHandle::spawn(no_wake()).unwrap();
    server
        .send(Command::Start {
            session: S,
            options,
        })
        .unwrap();
    let events = wait_for(&server, "Listening", |e| {
        matches!(e, EventKind::Listening { .. } | EventKind::StartFailed(_))
    });
    match events.last() {
        Some(EventKind::Listening { local }) => (server, *local),
        other => panic!("start failed: {other:?}"),
    }
}

fn loopback_any_port() -> ServerOptions {
    ServerOptions::new("127.0.0.1:0".parse().unwrap())
}

fn accepted(server: &TcpServerHandle, n: usize) -> HashMap<SocketAddr, ClientId> {
    let mut map = HashMap::new();
    wait_for(server, "accepts", |e| {
        if let EventKind::Accepted { client, peer } = e {
            map.insert(*peer, *client);
        }
        map.len() == n
    });
    map
}

#[test]
fn a_thousand_clients_each_payload_from_the_right_peer() {
    // 2,000 descriptors (both ends live in this process): lift the default 1,024 cap.
    let limit = sockpit::net::raise_open_file_limit();
    assert!(
        limit.is_none_or(|l| l >= 2100),
        "open-file limit {limit:?} is too low for this test"
    );
    let (server, addr) = start(loopback_any_port());
    let mut clients = Vec::new();
    for i in 0..1000u32 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(format!("client-{i:04}|").as_bytes()).unwrap();
        clients.push((s.local_addr().unwrap(), format!("client-{i:04}|")));
    }
    let mut got: HashMap<SocketAddr, Vec<u8>> = HashMap::new();
    let mut total = 0;
    wait_for(&server, "all payloads", |e| {
        if let EventKind::Received { peer, bytes, .. } = e {
            got.entry(*peer).or_default().extend_from_slice(bytes);
            total += bytes.len();
        }
        total == 1000 * 12
    });
    assert_eq!(got.len(), 1000);
    for (peer, payload) in &clients {
        assert_eq!(got[peer], payload.as_bytes(), "bytes from {peer}");
    }
}

#[test]
fn send_to_one_all_and_disconnect_one() {
    let (server, addr) = start(loopback_any_port());
    let mut streams: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let ids = accepted(&server, 3);
    let id_of = |s: &TcpStream| ids[&s.local_addr().unwrap()];

    let target = id_of(&streams[1]);
    server
        .send(Command::Send {
            session: S,
            target: Target::Clients(vec![target]),
            bytes: b"only you".to_vec(),
        })
        .unwrap();
    assert_eq!(read_exactly(&mut streams[1], 8), b"only you");
    assert_nothing_arrives(&mut streams[0]);
    assert_nothing_arrives(&mut streams[2]);

    server
        .send(Command::Send {
            session: S,
            target: Target::All,
            bytes: b"everyone".to_vec(),
        })
        .unwrap();
    for s in &mut streams {
        assert_eq!(read_exactly(s, 8), b"everyone");
    }

    let gone = id_of(&streams[0]);
    server
        .send(Command::Disconnect {
            session: S,
            target: Target::Clients(vec![gone]),
        })
        .unwrap();
    wait_for(
        &server,
        "closed by us",
        |e| matches!(e, EventKind::ClientClosed { client, reason: ClientCloseReason::ByUs, .. } if *client == gone),
    );
    let mut buf = [0u8; 1];
    streams[0].set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(
        streams[0].read(&mut buf).unwrap(),
        0,
        "disconnected client sees EOF"
    );
    // The others are still connected.
    server
        .send(Command::Send {
            session: S,
            target: Target::All,
            bytes: b"still".to_vec(),
        })
        .unwrap();
    assert_eq!(read_exactly(&mut streams[1], 5), b"still");
    assert_eq!(read_exactly(&mut streams[2], 5), b"still");
}

#[test]
fn peer_close_and_reset_are_told_apart() {
    let (server, addr) = start(loopback_any_port());
    let a = TcpStream::connect(addr).unwrap();
    let b = TcpStream::connect(addr).unwrap();
    let ids = accepted(&server, 2);
    let (ia, ib) = (ids[&a.local_addr().unwrap()], ids[&b.local_addr().unwrap()]);
    drop(a);
    socket2::SockRef::from(&b)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(b);
    let mut finished = None;
    let mut reset = None;
    wait_for(&server, "a half-close and a reset", |e| {
        match e {
            EventKind::ClientFinished { client, .. } => finished = Some(*client),
            EventKind::ClientClosed { client, reason, .. } => {
                reset = Some((*client, reason.clone()));
            }
            _ => {}
        }
        finished.is_some() && reset.is_some()
    });
    assert_eq!(finished, Some(ia), "a close is first a half-close");
    assert_eq!(reset, Some((ib, ClientCloseReason::Reset)));
}

/// Item 7 of the fix-first issue: a client that half-closes right after connecting still
/// gets what the server sends (it got nothing before: the server closed it at once).
#[test]
fn a_client_that_half_closes_at_once_still_gets_the_greeting() {
    let (server, addr) = start(loopback_any_port());
    let mut c = TcpStream::connect(addr).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let id = accepted(&server, 1)[&c.local_addr().unwrap()];
    wait_for(
        &server,
        "ClientFinished",
        |e| matches!(e, EventKind::ClientFinished { client, .. } if *client == id),
    );
    server
        .send(Command::Send {
            session: S,
            target: Target::Clients(vec![id]),
            bytes: b"greeting".to_vec(),
        })
        .unwrap();
    assert_eq!(read_exactly(&mut c, 8), b"greeting");
    server
        .send(Command::Disconnect {
            session: S,
            target: Target::All,
        })
        .unwrap();
    let mut rest = Vec::new();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

/// Item 5 on the server side: Disconnect writes what was queued for the client first.
#[test]
fn disconnect_writes_what_was_queued_for_the_client_first() {
    let (server, addr) = start(loopback_any_port());
    let mut c = TcpStream::connect(addr).unwrap();
    let id = accepted(&server, 1)[&c.local_addr().unwrap()];
    let payload: Vec<u8> = (0..=250u8).cycle().take(6 * 1024 * 1024).collect();
    server
        .send(Command::Send {
            session: S,
            target: Target::Clients(vec![id]),
            bytes: payload.clone(),
        })
        .unwrap();
    server
        .send(Command::Disconnect {
            session: S,
            target: Target::Clients(vec![id]),
        })
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let mut got = Vec::new();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.read_to_end(&mut got).unwrap();
    assert!(got == payload, "every byte in order, then the close");
    let events = wait_for(&server, "ClientClosed", |e| {
        matches!(e, EventKind::ClientClosed { .. })
    });
    assert!(matches!(
        events.last(),
        Some(EventKind::ClientClosed {
            reason: ClientCloseReason::ByUs,
            unsent_bytes: 0,
            ..
        })
    ));
}

#[test]
fn max_clients_refuses_the_extra_connection() {
    let mut options = loopback_any_port();
    options.max_clients = Some(2);
    let (server, addr) = start(options);
    let _a = TcpStream::connect(addr).unwrap();
    let _b = TcpStream::connect(addr).unwrap();
    accepted(&server, 2);
    let mut c = TcpStream::connect(addr).unwrap();
    let c_addr = c.local_addr().unwrap();
    let events = wait_for(&server, "limit", |e| {
        matches!(
            e,
            EventKind::ClientClosed {
                reason: ClientCloseReason::LimitReached(_),
                ..
            }
        )
    });
    match events.last() {
        Some(EventKind::ClientClosed {
            peer,
            reason: ClientCloseReason::LimitReached(why),
            ..
        }) => {
            assert_eq!(*peer, c_addr);
            assert!(why.contains("maximum of 2 clients"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    c.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 1];
    assert!(
        matches!(c.read(&mut buf), Ok(0) | Err(_)),
        "the extra client is closed"
    );
}

#[test]
fn per_ip_limit_refuses_the_extra_connection_from_that_ip() {
    let mut options = ServerOptions::new("127.0.0.1:0".parse().unwrap());
    options.max_per_ip = Some(1);
    let (server, addr) = start(options);
    let _a = TcpStream::connect(addr).unwrap();
    accepted(&server, 1);
    let _b = TcpStream::connect(addr).unwrap();
    let events = wait_for(&server, "per-ip limit", |e| {
        matches!(
            e,
            EventKind::ClientClosed {
                reason: ClientCloseReason::LimitReached(_),
                ..
            }
        )
    });
    assert!(format!("{:?}", events.last()).contains("connections from 127.0.0.1"));
}

#[test]
fn idle_timeout_closes_a_silent_client_only() {
    let mut options = loopback_any_port();
    options.idle_timeout = Some(Duration::from_millis(400));
    let (server, addr) = start(options);
    let silent = TcpStream::connect(addr).unwrap();
    let mut chatty = TcpStream::connect(addr).unwrap();
    let ids = accepted(&server, 2);
    let silent_id = ids[&silent.local_addr().unwrap()];
    let chatty_id = ids[&chatty.local_addr().unwrap()];
    let start = Instant::now();
    let mut closed = Vec::new();
    while start.elapsed() < Duration::from_millis(900) {
        chatty.write_all(b".").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        while let Ok(e) = server.events().try_recv() {
            if let EventKind::ClientClosed { client, reason, .. } = e.kind {
                closed.push((client, reason));
            }
        }
    }
    assert_eq!(closed, vec![(silent_id, ClientCloseReason::IdleTimeout)]);
    assert!(!closed.iter().any(|(c, _)| *c == chatty_id));
}

#[test]
fn port_in_use_is_reported() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap();
    let server = TcpServerHandle::spawn(no_wake()).unwrap();
    let mut options = ServerOptions::new(taken);
    options.reuse_addr = false;
    server
        .send(Command::Start {
            session: S,
            options,
        })
        .unwrap();
    let events = wait_for(&server, "StartFailed", |e| {
        matches!(e, EventKind::StartFailed(_))
    });
    match events.last() {
        Some(EventKind::StartFailed(err @ NetError::AddrInUse { addr })) => {
            assert_eq!(*addr, taken);
            assert!(err.explanation().contains("Another program"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn echo_mode_returns_exact_bytes() {
    let mut options = loopback_any_port();
    options.echo = true;
    let (server, addr) = start(options);
    let mut s = TcpStream::connect(addr).unwrap();
    let payload: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let mut writer = s.try_clone().unwrap();
    let expected = payload.clone();
    let w = std::thread::Builder::new()
        .name("echo-writer".into())
        .spawn(move || writer.write_all(&expected).unwrap())
        .unwrap();
    assert_eq!(read_exactly(&mut s, payload.len()), payload);
    w.join().unwrap();
    let mut sent = 0;
    wait_for(&server, "echo logged as sent", |e| {
        if let EventKind::Sent { bytes, .. } = e {
            sent += bytes.len();
        }
        sent == payload.len()
    });
}

/// In echo mode a peer that sends but does not read is not read further once 4 MiB wait to be
/// written back: its writes stall (bounded by the kernel's buffers), and when it reads, it gets
/// every byte back in order and the server goes on reading it.
#[test]
fn echo_to_a_peer_that_does_not_read_is_bounded_and_resumes() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut options = loopback_any_port();
    options.echo = true;
    let (server, addr) = start(options);
    // Take the server's events as the UI would, so that only the echo backlog can hold it back.
    let stop = Arc::new(AtomicBool::new(false));
    let events = server.events().clone();
    let drain = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("drain-events".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = events.recv_timeout(Duration::from_millis(20));
                }
            })
            .unwrap()
    };
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nonblocking(true).unwrap();
    let block: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    let limit: usize = 64 * 1024 * 1024;
    let mut written = 0usize;
    let mut last_progress = Instant::now();
    // Write without reading until no byte goes out for 500 ms (at most 64 MiB, 20 s).
    let deadline = Instant::now() + WAIT;
    while written < limit && last_progress.elapsed() < Duration::from_millis(500) {
        assert!(
            Instant::now() < deadline,
            "writes neither stalled nor finished"
        );
        let at = written % block.len();
        match s.write(&block[at..]) {
            Ok(n) => {
                written += n;
                last_progress = Instant::now();
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    assert!(
        written < 48 * 1024 * 1024,
        "the server stopped taking bytes from a peer that does not read: {written} written"
    );
    // Now read everything back, writing the rest as room comes: every byte returns in order.
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    while got < written {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed the connection");
        for (i, b) in buf[..n].iter().enumerate() {
            assert_eq!(
                *b,
                ((got + i) % 256) as u8,
                "byte {} came back wrong",
                got + i
            );
        }
        got += n;
    }
    // The server reads this peer again: one more message comes straight back.
    s.write_all(b"again").unwrap();
    let mut back = [0u8; 5];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"again");
    stop.store(true, Ordering::Relaxed);
    drain.join().unwrap();
}

#[test]
fn stop_closes_every_client_and_counts_them() {
    let (server, addr) = start(loopback_any_port());
    let mut streams: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
    accepted(&server, 5);
    server.send(Command::Stop { session: S }).unwrap();
    let events = wait_for(&server, "Stopped", |e| {
        matches!(e, EventKind::Stopped { .. })
    });
    assert!(matches!(
        events.last(),
        Some(EventKind::Stopped { clients_closed: 5 })
    ));
    for s in &mut streams {
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut b = [0u8; 1];
        assert_eq!(s.read(&mut b).unwrap(), 0);
    }
    // The port is free again at once (SO_REUSEADDR).
    let mut again = ServerOptions::new(addr);
    again.reuse_addr = true;
    server
        .send(Command::Start {
            session: SessionId(2),
            options: again,
        })
        .unwrap();
    wait_for(&server, "listening again", |e| {
        matches!(e, EventKind::Listening { .. })
    });
}

#[test]
fn a_flooding_client_does_not_starve_another() {
    let (server, addr) = start(loopback_any_port());
    let mut flooder = TcpStream::connect(addr).unwrap();
    let mut quiet = TcpStream::connect(addr).unwrap();
    let ids = accepted(&server, 2);
    let quiet_id = ids[&quiet.local_addr().unwrap()];
    let f = std::thread::Builder::new()
        .name("flooder".into())
        .spawn(move || {
            let block = vec![0x55u8; 64 * 1024];
            for _ in 0..800 {
                if flooder.write_all(&block).is_err() {
                    break;
                }
            }
            flooder
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    quiet.write_all(b"ping").unwrap();
    wait_for(
        &server,
        "quiet client's bytes during the flood",
        |e| matches!(e, EventKind::Received { client, bytes, .. } if *client == quiet_id && bytes == b"ping"),
    );
    drop(server);
    let _ = f.join();
}

#[test]
fn address_not_on_this_machine_is_reported() {
    // TEST-NET-1 (RFC 5737) is never assigned to a local interface; binding only, no traffic.
    let server = TcpServerHandle::spawn(no_wake()).unwrap();
    let bind: SocketAddr = "192.0.2.1:0".parse().unwrap();
    server
        .send(Command::Start {
            session: S,
            options: ServerOptions::new(bind),
        })
        .unwrap();
    let events = wait_for(&server, "StartFailed", |e| {
        matches!(e, EventKind::StartFailed(_))
    });
    match events.last() {
        Some(EventKind::StartFailed(err @ NetError::AddrNotAvailable { addr })) => {
            assert_eq!(*addr, bind);
            assert!(
                err.explanation()
                    .contains("does not belong to any interface")
            );
        }
        other => panic!("{other:?}"),
    }
}
