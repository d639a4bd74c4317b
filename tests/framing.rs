//! The framers users choose, in the real workers over loopback: a message split over reads
//! becomes one record, a partial frame is reported as pending and goes up when the stream
//! ends, a frame over the limit is cut and said, the idle gap ends a frame by time, and every
//! TCP Server client and UDP sender keeps its own framer state.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use sockpit::codec::TextEncoding;
use sockpit::engine::session::{FrameNotice, FramerSpec, Framing, PipelineSpec};
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::engine::{tcp_client, tcp_server, udp};
use sockpit::net::udp::{MulticastSend, UdpBindOptions};

const WAIT: Duration = Duration::from_secs(20);
const S: SessionId = SessionId(1);

fn pipeline(rule: &str, max: usize) -> PipelineSpec {
    PipelineSpec {
        framer: FramerSpec::Framed(Framing::new(rule.parse().unwrap(), max).unwrap()),
        ..PipelineSpec::default()
    }
}

/// What a TCP Client session delivered: records and framing notices, in order.
#[derive(Debug, Default)]
struct Got {
    records: Vec<Vec<u8>>,
    notices: Vec<FrameNotice>,
    closed: bool,
}

fn client_events(
    client: &tcp_client::TcpClientHandle,
    got: &mut Got,
    until: impl Fn(&Got) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    while !until(got) {
        assert!(Instant::now() < deadline, "timed out; got {got:?}");
        let Ok(e) = client.events().recv_timeout(Duration::from_millis(50)) else {
            continue;
        };
        match e.kind {
            tcp_client::EventKind::Received { bytes, .. } => got.records.push(bytes),
            tcp_client::EventKind::Framing { notice, .. } => got.notices.push(notice),
            // The peer's end of stream (it may still read: a half-close).
            tcp_client::EventKind::PeerFinished { .. } | tcp_client::EventKind::Closed { .. } => {
                got.closed = true;
            }
            _ => {}
        }
    }
}

/// A TCP Client connected with `spec` to a std listener; returns the worker and the peer.
fn connected_client(spec: PipelineSpec) -> (tcp_client::TcpClientHandle, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = tcp_client::TcpClientHandle::spawn(no_wake()).unwrap();
    let mut options = tcp_client::ConnectOptions::new("127.0.0.1", port);
    options.pipeline = spec;
    client
        .send(tcp_client::Command::Connect {
            session: S,
            options,
        })
        .unwrap();
    let (peer, _) = listener.accept().unwrap();
    peer.set_nodelay(true).unwrap();
    (client, peer)
}

/// Writes `parts` with a pause between them, so each is its own read at the worker.
fn write_apart(peer: &mut TcpStream, parts: &[&[u8]]) {
    for part in parts {
        peer.write_all(part).unwrap();
        peer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(60));
    }
}

#[test]
fn lines_split_over_reads_become_one_record_each_and_the_rest_goes_up_at_the_close() {
    let (client, mut peer) = connected_client(pipeline("lf", 1024));
    let mut got = Got::default();
    write_apart(&mut peer, &[b"one\ntw", b"o\nthr"]);
    client_events(&client, &mut got, |g| {
        g.records.len() == 2 && g.notices.contains(&FrameNotice::Pending { bytes: 3 })
    });
    assert_eq!(got.records, vec![b"one".to_vec(), b"two".to_vec()]);
    // "thr" waits, said as pending; the close hands it up as a last, partial record.
    peer.write_all(b"ee").unwrap();
    drop(peer);
    client_events(&client, &mut got, |g| {
        g.closed && g.notices.last() == Some(&FrameNotice::Pending { bytes: 0 })
    });
    assert_eq!(got.records.last().unwrap(), b"three");
    assert!(
        got.notices.contains(&FrameNotice::EndedInside { bytes: 5 }),
        "{:?}",
        got.notices
    );
}

#[test]
fn a_gbk_character_split_across_two_reads_decodes_whole() {
    let (client, mut peer) = connected_client(pipeline("crlf", 1024));
    let (gbk, _, _) = encoding_rs::GBK.encode("温度:25℃");
    let (head, tail) = gbk.split_at(1);
    let mut tail = tail.to_vec();
    tail.extend_from_slice(b"\r\n");
    write_apart(&mut peer, &[head, &tail]);
    let mut got = Got::default();
    client_events(&client, &mut got, |g| !g.records.is_empty());
    assert_eq!(got.records[0], gbk.as_ref());
    assert_eq!(
        TextEncoding::Gbk.decode_for_display(&got.records[0]),
        "温度:25℃"
    );
}

#[test]
fn a_frame_over_the_limit_is_cut_said_once_and_the_next_frame_is_whole() {
    let (client, mut peer) = connected_client(pipeline("lf", 1024));
    let big = vec![b'x'; 10 * 1024];
    peer.write_all(&big).unwrap();
    peer.write_all(b"\nnext\n").unwrap();
    let mut got = Got::default();
    // Notices follow the records they concern.
    client_events(&client, &mut got, |g| {
        g.records.last().is_some_and(|r| r == b"next")
            && g.notices
                .iter()
                .any(|n| matches!(n, FrameNotice::OverLimit { .. }))
    });
    let (pieces, rest) = got.records.split_at(got.records.len() - 1);
    assert!(
        pieces.iter().all(|p| p.len() <= 1024),
        "no record over the limit"
    );
    assert_eq!(
        pieces.iter().map(Vec::len).sum::<usize>(),
        big.len(),
        "nothing lost"
    );
    assert_eq!(rest, [b"next".to_vec()]);
    let said = got
        .notices
        .iter()
        .filter(|n| matches!(n, FrameNotice::OverLimit { limit: 1024, .. }))
        .count();
    assert_eq!(said, 1, "said once for the frame: {:?}", got.notices);
}

#[test]
fn server_clients_keep_their_own_length_prefixed_frames() {
    let server = tcp_server::TcpServerHandle::spawn(no_wake()).unwrap();
    let mut options = tcp_server::ServerOptions::new("127.0.0.1:0".parse().unwrap());
    options.pipeline = pipeline("len:0:2:be", 1024);
    server
        .send(tcp_server::Command::Start {
            session: S,
            options,
        })
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let local = loop {
        assert!(Instant::now() < deadline, "not listening");
        if let Ok(e) = server.events().recv_timeout(Duration::from_millis(50))
            && let tcp_server::EventKind::Listening { local } = e.kind
        {
            break local;
        }
    };
    let mut clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(local).unwrap()).collect();
    for c in &clients {
        c.set_nodelay(true).unwrap();
    }
    // Each client's frame is written in two halves, interleaved with the others' halves.
    let frames: Vec<Vec<u8>> = (0..3u8)
        .map(|i| {
            let body = vec![b'a' + i; 5 + usize::from(i)];
            let mut f = (body.len() as u16).to_be_bytes().to_vec();
            f.extend(body);
            f
        })
        .collect();
    for half in 0..2 {
        for (c, f) in clients.iter_mut().zip(&frames) {
            let mid = f.len() / 2;
            let part = if half == 0 { &f[..mid] } else { &f[mid..] };
            c.write_all(part).unwrap();
            c.flush().unwrap();
        }
        std::thread::sleep(Duration::from_millis(60));
    }
    let mut by_peer: std::collections::HashMap<SocketAddr, Vec<Vec<u8>>> =
        std::collections::HashMap::new();
    while by_peer.values().map(Vec::len).sum::<usize>() < 3 {
        assert!(Instant::now() < deadline, "records: {by_peer:?}");
        if let Ok(e) = server.events().recv_timeout(Duration::from_millis(50))
            && let tcp_server::EventKind::Received { peer, bytes, .. } = e.kind
        {
            by_peer.entry(peer).or_default().push(bytes);
        }
    }
    for (c, f) in clients.iter().zip(&frames) {
        assert_eq!(by_peer[&c.local_addr().unwrap()], vec![f.clone()]);
    }
}

#[test]
fn udp_idle_gap_joins_a_sender_s_datagrams_until_it_falls_silent() {
    let worker = udp::UdpHandle::spawn(no_wake()).unwrap();
    worker
        .send(udp::Command::BindWith {
            session: S,
            options: UdpBindOptions::new("127.0.0.1:0".parse().unwrap()),
            multicast: MulticastSend::default(),
            pipeline: pipeline("idle:150", 1024),
        })
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let local = loop {
        assert!(Instant::now() < deadline, "not bound");
        if let Ok(e) = worker.events().recv_timeout(Duration::from_millis(50))
            && let udp::EventKind::Bound { local } = e.kind
        {
            break local;
        }
    };
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sent_at = Instant::now();
    for part in [&b"he"[..], b"ll", b"o"] {
        a.send_to(part, local).unwrap();
        b.send_to(&part.to_ascii_uppercase(), local).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut records: Vec<(SocketAddr, Vec<u8>, Instant)> = Vec::new();
    while records.len() < 2 {
        assert!(Instant::now() < deadline, "records: {records:?}");
        if let Ok(e) = worker.events().recv_timeout(Duration::from_millis(20))
            && let udp::EventKind::Received(batch) = e.kind
        {
            records.extend(batch.into_iter().map(|d| (d.from, d.bytes, Instant::now())));
        }
    }
    records.sort_by_key(|r| r.0);
    let mut expected = vec![
        (a.local_addr().unwrap(), b"hello".to_vec()),
        (b.local_addr().unwrap(), b"HELLO".to_vec()),
    ];
    expected.sort();
    let got: Vec<_> = records.iter().map(|r| (r.0, r.1.clone())).collect();
    assert_eq!(got, expected);
    for (_, _, at) in &records {
        assert!(
            at.duration_since(sent_at) >= Duration::from_millis(150),
            "a frame ends only after the gap"
        );
    }
}
