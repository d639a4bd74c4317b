//! The session pipeline in the real workers, over loopback sockets: every received byte passes
//! the stages exactly once and in order (TCP Client, TCP Server with 100 clients, UDP with
//! several senders), every sent payload passes the outbound chain exactly once, framers keep
//! one state per stream, and responders answer the right peer.
//!
//! Each check compares what the sender wrote with what a test stage saw and with what the owner
//! got, by length and by an order-sensitive hash, so a stage skipped (nothing seen), called twice
//! (twice the bytes) or fed another stream's bytes (a different hash) fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockpit::engine::session::{
    Direction, Factory, Framer, FramerSpec, OutboundStage, PipelineSpec, Record, Replies, Stage,
};
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::engine::{tcp_client, tcp_server, udp};
use sockpit::net::udp::{MulticastSend, UdpBindOptions};

const WAIT: Duration = Duration::from_secs(30);
const S: SessionId = SessionId(1);

// ---------------------------------------------------------------------------------------------
// Test stages

/// Length, record count and an order-sensitive hash (FNV-1a, 64 bits) of a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tally {
    bytes: usize,
    records: usize,
    hash: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            bytes: 0,
            records: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl Tally {
    fn add(&mut self, bytes: &[u8]) {
        self.bytes += bytes.len();
        self.records += 1;
        for b in bytes {
            self.hash ^= u64::from(*b);
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn of<B: AsRef<[u8]>>(chunks: &[B]) -> Self {
        let mut t = Self::default();
        for c in chunks {
            t.add(c.as_ref());
        }
        t
    }

    /// The stream's bytes and hash, whatever the record boundaries.
    fn stream(self) -> (usize, u64) {
        (self.bytes, self.hash)
    }
}

/// What the counting stage saw, per peer and direction, shared with the test.
type Seen = Arc<Mutex<HashMap<(SocketAddr, Direction), Tally>>>;

/// Counts and hashes every record it is shown.
struct CountingStage(Seen);

impl Stage for CountingStage {
    fn on_received(&mut self, record: &Record<'_>, _replies: &mut Replies) {
        assert_eq!(record.direction, Direction::Received);
        assert!(record.time_us > 0, "records carry a time");
        self.count(record);
    }

    fn on_sent(&mut self, record: &Record<'_>) {
        assert_eq!(record.direction, Direction::Sent);
        self.count(record);
    }
}

impl CountingStage {
    fn count(&self, record: &Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .entry((record.peer, record.direction))
            .or_default()
            .add(record.bytes);
    }
}

fn counting() -> (Seen, Factory<dyn Stage>) {
    let seen = Seen::default();
    let shared = Arc::clone(&seen);
    let factory = Factory::new("counting", move || {
        Box::new(CountingStage(Arc::clone(&shared))) as Box<dyn Stage>
    });
    (seen, factory)
}

fn seen_of(seen: &Seen, peer: SocketAddr, direction: Direction) -> Tally {
    seen.lock()
        .unwrap()
        .get(&(peer, direction))
        .copied()
        .unwrap_or_default()
}

/// Appends `!` to every payload: a payload that passed twice ends in `!!`.
struct Bang;

impl OutboundStage for Bang {
    fn apply(&mut self, mut payload: Vec<u8>) -> Vec<u8> {
        payload.push(b'!');
        payload
    }
}

fn bang() -> Factory<dyn OutboundStage> {
    Factory::new("bang", || Box::new(Bang) as Box<dyn OutboundStage>)
}

/// Cuts a stream at each `\n` (kept); what is left at the end is a last, partial record.
#[derive(Default)]
struct Lines(Vec<u8>);

impl Framer for Lines {
    fn push(&mut self, bytes: Vec<u8>, emit: &mut dyn FnMut(Vec<u8>)) {
        for b in bytes {
            self.0.push(b);
            if b == b'\n' {
                emit(std::mem::take(&mut self.0));
            }
        }
    }

    fn pending_bytes(&self) -> usize {
        self.0.len()
    }

    fn finish(&mut self, emit: &mut dyn FnMut(Vec<u8>)) {
        if !self.0.is_empty() {
            emit(std::mem::take(&mut self.0));
        }
    }
}

fn lines() -> FramerSpec {
    FramerSpec::Custom(Factory::new("lines", || {
        Box::new(Lines::default()) as Box<dyn Framer>
    }))
}

/// A responder: answers each record with `len=<n>\n`.
struct LenReply;

impl Stage for LenReply {
    fn on_received(&mut self, record: &Record<'_>, replies: &mut Replies) {
        replies.push(format!("len={}\n", record.bytes.len()).into_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Patterned data

/// A deterministic byte pattern per seed (xorshift), so streams differ and order matters.
struct Pattern(u64);

impl Pattern {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// A size in `1..=max`.
    fn size(&mut self, max: usize) -> usize {
        (self.next() as usize % max) + 1
    }
}

fn named(name: &str, body: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// TCP Client

fn tcp_client_with(
    pipeline: PipelineSpec,
    port: u16,
    session: SessionId,
) -> tcp_client::TcpClientHandle {
    let client = tcp_client::TcpClientHandle::spawn(no_wake()).unwrap();
    let mut options = tcp_client::ConnectOptions::new("127.0.0.1", port);
    options.pipeline = pipeline;
    client
        .send(tcp_client::Command::Connect { session, options })
        .unwrap();
    client
}

/// Takes the client's events until `done` says so, handing each to it.
fn client_until(
    client: &tcp_client::TcpClientHandle,
    what: &str,
    mut done: impl FnMut(&tcp_client::EventKind) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Ok(e) = client.events().recv_timeout(Duration::from_millis(50)) {
            assert!(
                !matches!(e.kind, tcp_client::EventKind::WorkerFailed { .. }),
                "{e:?}"
            );
            if done(&e.kind) {
                return;
            }
        }
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn tcp_client_every_received_byte_passes_the_stage_once_and_in_order() {
    const TOTAL: usize = 8 * 1024 * 1024;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (wrote_tx, wrote_rx) = crossbeam_channel::bounded(1);
    let peer = named("pipeline-peer", move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut pattern = Pattern::new(7);
        let mut wrote = Tally::default();
        let mut left = TOTAL;
        while left > 0 {
            // Random sizes, so reads and writes never line up.
            let n = pattern.size(64 * 1024).min(left);
            let chunk = pattern.bytes(n);
            s.write_all(&chunk).unwrap();
            wrote.add(&chunk);
            left -= n;
        }
        s.shutdown(Shutdown::Write).unwrap();
        wrote_tx.send((s.local_addr().unwrap(), wrote)).unwrap();
        // Keep the socket open until the worker has read everything.
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    });
    let (seen, stage) = counting();
    let client = tcp_client_with(
        PipelineSpec {
            stages: vec![stage],
            ..PipelineSpec::default()
        },
        port,
        S,
    );
    let mut owner = Tally::default();
    let mut remote = None;
    client_until(&client, "PeerFinished", |e| match e {
        tcp_client::EventKind::Received { peer, bytes, .. } => {
            remote = Some(*peer);
            owner.add(bytes);
            false
        }
        tcp_client::EventKind::PeerFinished { .. } => true,
        _ => false,
    });
    let (peer_addr, wrote) = wrote_rx.recv_timeout(WAIT).unwrap();
    assert_eq!(remote, Some(peer_addr));
    let tap = seen_of(&seen, peer_addr, Direction::Received);
    assert_eq!(wrote.stream(), (TOTAL, wrote.hash));
    assert_eq!(
        tap.stream(),
        wrote.stream(),
        "the stage saw the stream once, in order"
    );
    assert_eq!(owner.stream(), wrote.stream(), "the owner got it all");
    assert_eq!(
        tap.records, owner.records,
        "raw: each record the owner got went past the stage once"
    );
    drop(client);
    peer.join().unwrap();
}

#[test]
fn tcp_client_sends_pass_the_outbound_chain_once_and_a_responder_answers_each_record() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, stage) = counting();
    let client = tcp_client_with(
        PipelineSpec {
            framer: lines(),
            stages: vec![
                stage,
                Factory::new("len", || Box::new(LenReply) as Box<dyn Stage>),
            ],
            outbound: vec![bang()],
            ..PipelineSpec::default()
        },
        port,
        S,
    );
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    client_until(&client, "Connected", |e| {
        matches!(e, tcp_client::EventKind::Connected { .. })
    });
    for payload in ["a", "bb", "ccc"] {
        client
            .send(tcp_client::Command::Send {
                session: S,
                bytes: payload.as_bytes().to_vec(),
            })
            .unwrap();
    }
    let mut got = vec![0; "a!bb!ccc!".len()];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, b"a!bb!ccc!", "each payload once through the chain");
    // Two lines and a partial one: two answers at once, the third when the stream ends.
    peer.write_all(b"one\ntwo\nthr").unwrap();
    let answers = b"len=4\n!len=4\n!";
    let mut got = vec![0; answers.len()];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, answers, "replies pass the outbound chain too");
    peer.shutdown(Shutdown::Write).unwrap();
    let mut got = vec![0; b"len=3\n!".len()];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(
        got, b"len=3\n!",
        "the partial record is framed at the end of the stream"
    );
    let mut records = Vec::new();
    let mut sent = Vec::new();
    client_until(&client, "three records and six sends", |e| {
        match e {
            tcp_client::EventKind::Received { bytes, .. } => records.push(bytes.clone()),
            tcp_client::EventKind::Sent { bytes, .. } => sent.push(bytes.clone()),
            _ => {}
        }
        records.len() == 3 && sent.len() == 6
    });
    assert_eq!(records, [&b"one\n"[..], b"two\n", b"thr"]);
    let remote = peer.local_addr().unwrap();
    assert_eq!(
        sent,
        [
            &b"a!"[..],
            b"bb!",
            b"ccc!",
            b"len=4\n!",
            b"len=4\n!",
            b"len=3\n!"
        ]
    );
    assert_eq!(
        seen_of(&seen, remote, Direction::Sent),
        Tally::of(&sent),
        "the stage saw each sent payload once, as the peer got it"
    );
    assert_eq!(
        seen_of(&seen, remote, Direction::Received),
        Tally::of(&["one\n", "two\n", "thr"])
    );
}

// ---------------------------------------------------------------------------------------------
// TCP Server

fn tcp_server_with(
    pipeline: PipelineSpec,
    echo: bool,
) -> (tcp_server::TcpServerHandle, SocketAddr) {
    let server = tcp_server::TcpServerHandle::spawn(no_wake()).unwrap();
    let mut options = tcp_server::ServerOptions::new("127.0.0.1:0".parse().unwrap());
    options.pipeline = pipeline;
    options.echo = echo;
    server
        .send(tcp_server::Command::Start {
            session: S,
            options,
        })
        .unwrap();
    let mut local = None;
    server_until(&server, "Listening", |e| {
        if let tcp_server::EventKind::Listening { local: l } = e {
            local = Some(*l);
        }
        local.is_some()
    });
    (server, local.unwrap())
}

fn server_until(
    server: &tcp_server::TcpServerHandle,
    what: &str,
    mut done: impl FnMut(&tcp_server::EventKind) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Ok(e) = server.events().recv_timeout(Duration::from_millis(50)) {
            assert!(
                !matches!(
                    e.kind,
                    tcp_server::EventKind::WorkerFailed { .. }
                        | tcp_server::EventKind::StartFailed(_)
                ),
                "{e:?}"
            );
            if done(&e.kind) {
                return;
            }
        }
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn tcp_server_each_of_100_clients_passes_the_stage_once_in_order_and_alone() {
    const CLIENTS: usize = 100;
    const ROUNDS: usize = 16;
    let (seen, stage) = counting();
    let (server, addr) = tcp_server_with(
        PipelineSpec {
            stages: vec![stage],
            ..PipelineSpec::default()
        },
        false,
    );
    let mut clients: Vec<(TcpStream, Pattern, Tally)> = (0..CLIENTS)
        .map(|i| {
            let s = TcpStream::connect(addr).unwrap();
            (s, Pattern::new(1000 + i as u64), Tally::default())
        })
        .collect();
    // Interleaved: every client writes a random-sized piece per round, so the worker reads
    // all of them turn by turn.
    for _ in 0..ROUNDS {
        for (s, pattern, wrote) in &mut clients {
            let n = pattern.size(16 * 1024);
            let chunk = pattern.bytes(n);
            s.write_all(&chunk).unwrap();
            wrote.add(&chunk);
        }
    }
    for (s, _, _) in &clients {
        s.shutdown(Shutdown::Write).unwrap();
    }
    let mut owner: HashMap<SocketAddr, Tally> = HashMap::new();
    let mut finished = 0;
    server_until(&server, "every client finished", |e| {
        match e {
            tcp_server::EventKind::Received { peer, bytes, .. } => {
                owner.entry(*peer).or_default().add(bytes);
            }
            tcp_server::EventKind::ClientFinished { .. } => finished += 1,
            _ => {}
        }
        finished == CLIENTS
    });
    for (s, _, wrote) in &clients {
        let peer = s.local_addr().unwrap();
        let tap = seen_of(&seen, peer, Direction::Received);
        assert_eq!(
            tap.stream(),
            wrote.stream(),
            "{peer}: the stage saw exactly its bytes, once, in order"
        );
        assert_eq!(owner[&peer].stream(), wrote.stream(), "{peer}: owner");
        assert_eq!(tap.records, owner[&peer].records, "{peer}: raw records");
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        CLIENTS,
        "no other peer appeared"
    );
}

#[test]
fn tcp_server_frames_each_client_apart_and_every_send_passes_the_chain_once() {
    let (seen, stage) = counting();
    let (server, addr) = tcp_server_with(
        PipelineSpec {
            framer: lines(),
            stages: vec![stage],
            outbound: vec![bang()],
            ..PipelineSpec::default()
        },
        false,
    );
    let mut a = TcpStream::connect(addr).unwrap();
    let mut b = TcpStream::connect(addr).unwrap();
    a.set_read_timeout(Some(WAIT)).unwrap();
    b.set_read_timeout(Some(WAIT)).unwrap();
    let mut ids = HashMap::new();
    server_until(&server, "two accepts", |e| {
        if let tcp_server::EventKind::Accepted { client, peer } = e {
            ids.insert(*peer, *client);
        }
        ids.len() == 2
    });
    // Halves of lines from both, interleaved: a shared framer would mix them.
    a.write_all(b"al").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    b.write_all(b"be").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    a.write_all(b"pha\nta").unwrap();
    b.write_all(b"ta\n").unwrap();
    a.shutdown(Shutdown::Write).unwrap();
    let mut records: HashMap<SocketAddr, Vec<Vec<u8>>> = HashMap::new();
    server_until(&server, "three records", |e| {
        if let tcp_server::EventKind::Received { peer, bytes, .. } = e {
            records.entry(*peer).or_default().push(bytes.clone());
        }
        records.values().map(Vec::len).sum::<usize>() == 3
    });
    let (pa, pb) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    assert_eq!(records[&pa], [&b"alpha\n"[..], b"ta"]);
    assert_eq!(records[&pb], [b"beta\n"]);
    assert_eq!(
        seen_of(&seen, pa, Direction::Received),
        Tally::of(&["alpha\n", "ta"])
    );
    assert_eq!(
        seen_of(&seen, pb, Direction::Received),
        Tally::of(&["beta\n"])
    );
    server
        .send(tcp_server::Command::Send {
            session: S,
            target: tcp_server::Target::All,
            bytes: b"hi".to_vec(),
        })
        .unwrap();
    server
        .send(tcp_server::Command::Send {
            session: S,
            target: tcp_server::Target::Clients(vec![ids[&pb]]),
            bytes: b"b".to_vec(),
        })
        .unwrap();
    let mut got = [0; 3];
    a.read_exact(&mut got).unwrap();
    assert_eq!(
        &got, b"hi!",
        "a send to all passes the chain once per client"
    );
    let mut got = [0; 5];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hi!b!");
    let mut sent = 0;
    server_until(&server, "three Sent", |e| {
        sent += usize::from(matches!(e, tcp_server::EventKind::Sent { .. }));
        sent == 3
    });
    assert_eq!(seen_of(&seen, pa, Direction::Sent), Tally::of(&["hi!"]));
    assert_eq!(
        seen_of(&seen, pb, Direction::Sent),
        Tally::of(&["hi!", "b!"])
    );
}

#[test]
fn tcp_server_echo_passes_the_outbound_chain_once() {
    let (server, addr) = tcp_server_with(
        PipelineSpec {
            outbound: vec![bang()],
            ..PipelineSpec::default()
        },
        true,
    );
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.write_all(b"echo me").unwrap();
    let mut got = [0; 8];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"echo me!");
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// UDP

fn udp_with(pipeline: PipelineSpec) -> (udp::UdpHandle, SocketAddr) {
    let worker = udp::UdpHandle::spawn(no_wake()).unwrap();
    let mut options = UdpBindOptions::new("127.0.0.1:0".parse().unwrap());
    // Room for the whole burst even if the worker is scheduled late (2 shared cores).
    options.recv_buffer_bytes = Some(4 * 1024 * 1024);
    worker
        .send(udp::Command::BindWith {
            session: S,
            options,
            multicast: MulticastSend::default(),
            pipeline,
        })
        .unwrap();
    let mut local = None;
    udp_until(&worker, "Bound", |e| {
        if let udp::EventKind::Bound { local: l } = e {
            local = Some(*l);
        }
        local.is_some()
    });
    (worker, local.unwrap())
}

fn udp_until(worker: &udp::UdpHandle, what: &str, mut done: impl FnMut(&udp::EventKind) -> bool) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Ok(e) = worker.events().recv_timeout(Duration::from_millis(50)) {
            assert!(
                !matches!(
                    e.kind,
                    udp::EventKind::WorkerFailed { .. } | udp::EventKind::BindFailed(_)
                ),
                "{e:?}"
            );
            if done(&e.kind) {
                return;
            }
        }
    }
    panic!("timed out waiting for {what}");
}

fn sender() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

#[test]
fn udp_every_datagram_of_several_senders_passes_the_stage_once_and_in_order() {
    const SENDERS: usize = 8;
    const PER_SENDER: usize = 500;
    let (seen, stage) = counting();
    let (worker, addr) = udp_with(PipelineSpec {
        stages: vec![stage],
        ..PipelineSpec::default()
    });
    let mut senders: Vec<(UdpSocket, Pattern, Tally)> = (0..SENDERS)
        .map(|i| (sender(), Pattern::new(50 + i as u64), Tally::default()))
        .collect();
    for round in 0..PER_SENDER {
        for (s, pattern, wrote) in &mut senders {
            let n = pattern.size(1200);
            let datagram = pattern.bytes(n);
            s.send_to(&datagram, addr).unwrap();
            wrote.add(&datagram);
        }
        // Paced: a modest burst the worker keeps up with, so nothing may be dropped.
        if round % 50 == 49 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let mut owner: HashMap<SocketAddr, Tally> = HashMap::new();
    let mut got = 0;
    // Stats are sent when they change, so the last one seen is the count at that time.
    let mut stats = None;
    udp_until(&worker, "every datagram", |e| {
        if let udp::EventKind::Stats(s) = e {
            stats = Some(*s);
        }
        if let udp::EventKind::Received(batch) = e {
            for d in batch {
                owner.entry(d.from).or_default().add(&d.bytes);
                got += 1;
            }
        }
        got == SENDERS * PER_SENDER
    });
    // The stats at the close say what was dropped: nothing.
    worker.send(udp::Command::Close { session: S }).unwrap();
    udp_until(&worker, "Closed", |e| {
        if let udp::EventKind::Stats(s) = e {
            stats = Some(*s);
        }
        matches!(e, udp::EventKind::Closed)
    });
    let stats = stats.unwrap();
    assert_eq!(stats.dropped_by_app, 0);
    assert!(
        matches!(stats.dropped_by_kernel, None | Some(0)),
        "{stats:?}"
    );
    assert_eq!(stats.received, (SENDERS * PER_SENDER) as u64);
    for (s, _, wrote) in &senders {
        let peer = s.local_addr().unwrap();
        let tap = seen_of(&seen, peer, Direction::Received);
        assert_eq!(tap, *wrote, "{peer}: every datagram once, in order");
        assert_eq!(owner[&peer], *wrote, "{peer}: owner");
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        SENDERS,
        "no other peer appeared"
    );
}

#[test]
fn udp_sends_and_auto_replies_pass_the_outbound_chain_once() {
    let (seen, stage) = counting();
    let (worker, addr) = udp_with(PipelineSpec {
        stages: vec![stage],
        outbound: vec![bang()],
        ..PipelineSpec::default()
    });
    let peer = sender();
    let peer_addr = peer.local_addr().unwrap();
    worker
        .send(udp::Command::Send {
            session: S,
            host: "127.0.0.1".to_owned(),
            port: peer_addr.port(),
            bytes: b"to you".to_vec(),
        })
        .unwrap();
    let mut buf = [0; 64];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"to you!"[..], addr));
    worker
        .send(udp::Command::SetAutoReply {
            session: S,
            reply: Some(b"pong".to_vec()),
        })
        .unwrap();
    // The command queue is in order, so a Send behind SetAutoReply proves it was taken.
    worker
        .send(udp::Command::Send {
            session: S,
            host: "127.0.0.1".to_owned(),
            port: peer_addr.port(),
            bytes: b"armed".to_vec(),
        })
        .unwrap();
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"armed!");
    for ping in [&b"p1"[..], b"p2", b"p3"] {
        peer.send_to(ping, addr).unwrap();
        let (n, _) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            b"pong!",
            "one reply per datagram, through the chain once"
        );
    }
    let mut sent = 0;
    udp_until(&worker, "five Sent", |e| {
        sent += usize::from(matches!(e, udp::EventKind::Sent { .. }));
        sent == 5
    });
    assert_eq!(
        seen_of(&seen, peer_addr, Direction::Sent),
        Tally::of(&["to you!", "armed!", "pong!", "pong!", "pong!"])
    );
    assert_eq!(
        seen_of(&seen, peer_addr, Direction::Received),
        Tally::of(&["p1", "p2", "p3"])
    );
    peer.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(peer.recv_from(&mut buf).is_err(), "no reply sent twice");
}

#[test]
fn udp_frames_each_sender_apart_and_finishes_partial_records_at_close() {
    let (worker, addr) = udp_with(PipelineSpec {
        framer: lines(),
        ..PipelineSpec::default()
    });
    let (a, b) = (sender(), sender());
    let mut records: HashMap<SocketAddr, Vec<Vec<u8>>> = HashMap::new();
    let mut take = |worker: &udp::UdpHandle, n: usize| {
        udp_until(worker, "records", |e| {
            if let udp::EventKind::Received(batch) = e {
                for d in batch {
                    records.entry(d.from).or_default().push(d.bytes.clone());
                }
            }
            records.values().map(Vec::len).sum::<usize>() == n
        });
    };
    // One receive queue, first in first out: once b's line is up, everything before it was
    // read, so the Close below finds a's partial "gamma" whole.
    for (s, part) in [
        (&a, &b"al"[..]),
        (&b, b"be"),
        (&a, b"pha\nga"),
        (&a, b"mma"),
        (&b, b"ta\n"),
    ] {
        s.send_to(part, addr).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    take(&worker, 2);
    worker.send(udp::Command::Close { session: S }).unwrap();
    take(&worker, 3);
    let (pa, pb) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    assert_eq!(records[&pa], [&b"alpha\n"[..], b"gamma"]);
    assert_eq!(records[&pb], [b"beta\n"]);
}
