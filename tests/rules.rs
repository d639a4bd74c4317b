//! Auto-reply rules in the real workers over loopback: a TCP Server with three clients answers
//! only the client whose record matched, with its captured bytes; UDP answers the sender's
//! address; a delay is honoured; the CLI's --rule and --rules do the same headless.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sockpit::codec::TextEncoding;
use sockpit::engine::session::rules::{RuleSet, RuleText, RulesFile};
use sockpit::engine::session::{FramerSpec, Framing, PipelineSpec};
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::engine::{tcp_server, udp};
use sockpit::net::udp::{MulticastSend, UdpBindOptions};

const WAIT: Duration = Duration::from_secs(20);
const S: SessionId = SessionId(1);

fn rules(texts: &[&str]) -> (PipelineSpec, Arc<RuleSet>) {
    let file = RulesFile {
        rules: texts
            .iter()
            .map(|t| RuleText::from_arrow(t).unwrap())
            .collect(),
        ..RulesFile::default()
    };
    let set = Arc::new(RuleSet::build(&file, TextEncoding::Utf8).unwrap());
    let mut spec = PipelineSpec {
        framer: FramerSpec::Framed(Framing::new("lf".parse().unwrap(), 4096).unwrap()),
        ..PipelineSpec::default()
    };
    set.install(&mut spec);
    (spec, set)
}

fn listening(server: &tcp_server::TcpServerHandle) -> SocketAddr {
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "not listening");
        if let Ok(e) = server.events().recv_timeout(Duration::from_millis(50))
            && let tcp_server::EventKind::Listening { local } = e.kind
        {
            return local;
        }
    }
}

#[test]
fn a_server_answers_only_the_client_that_matched_with_its_captures() {
    let (spec, set) = rules(&[r"regex:^GET (\w+)$=>VALUE $1\n"]);
    let server = tcp_server::TcpServerHandle::spawn(no_wake()).unwrap();
    let mut options = tcp_server::ServerOptions::new("127.0.0.1:0".parse().unwrap());
    options.pipeline = spec;
    server
        .send(tcp_server::Command::Start {
            session: S,
            options,
        })
        .unwrap();
    let local = listening(&server);
    let mut clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(local).unwrap()).collect();
    for c in &clients {
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
    }
    clients[0].write_all(b"hello\n").unwrap();
    clients[1].write_all(b"GET temp\n").unwrap();
    clients[2].write_all(b"GET\n").unwrap();
    let mut got = vec![0u8; 11];
    clients[1].set_read_timeout(Some(WAIT)).unwrap();
    clients[1].read_exact(&mut got).unwrap();
    assert_eq!(got, b"VALUE temp\n");
    for i in [0, 2] {
        let mut buf = [0u8; 16];
        let quiet = clients[i].read(&mut buf);
        assert!(
            matches!(&quiet, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
            "client {i} got {quiet:?}"
        );
    }
    assert_eq!(set.hits()[0].load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[test]
fn udp_answers_the_sender_after_the_rule_s_delay() {
    let file = RulesFile {
        rules: vec![RuleText {
            delay_ms: 200,
            ..RuleText::from_arrow("hex:01 03 ?? ??=>hex:01 83 $2 $1").unwrap()
        }],
        ..RulesFile::default()
    };
    let set = Arc::new(RuleSet::build(&file, TextEncoding::Utf8).unwrap());
    let mut spec = PipelineSpec::default();
    set.install(&mut spec);
    let worker = udp::UdpHandle::spawn(no_wake()).unwrap();
    worker
        .send(udp::Command::BindWith {
            session: S,
            options: UdpBindOptions::new("127.0.0.1:0".parse().unwrap()),
            multicast: MulticastSend::default(),
            pipeline: spec,
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
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let asked_at = Instant::now();
    peer.send_to(&[0x01, 0x03, 0xAA, 0xBB], local).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    let waited = asked_at.elapsed();
    assert_eq!(&buf[..n], [0x01, 0x83, 0xBB, 0xAA]);
    assert_eq!(from, local, "the reply comes from the session's socket");
    assert!(
        waited >= Duration::from_millis(200),
        "answered after {waited:?}"
    );
}

#[test]
fn the_cli_answers_with_rule_and_rules_file() {
    let dir = std::env::temp_dir().join(format!("sockpit-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.json");
    std::fs::write(
        &file,
        r#"{"rules":[{"match":"prefix:HELLO","reply":"WORLD"}]}"#,
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockpit"))
        .args([
            "udp",
            "--bind",
            "127.0.0.1:0",
            "--listen",
            "10",
            "--json",
            "--rules",
        ])
        .arg(&file)
        .args(["--rule", "exact:PING=>PONG $0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let bound: serde_json::Value = serde_json::from_str(&line).unwrap();
    let local: SocketAddr = bound["local"].as_str().unwrap().parse().unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 64];
    for (ask, answer) in [
        (&b"HELLO there"[..], &b"WORLD"[..]),
        (b"PING", b"PONG PING"),
    ] {
        peer.send_to(ask, local).unwrap();
        let (n, _) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], answer);
    }
    let _ = child.kill();
    let _ = child.wait();
    // A bad rule is a usage error naming it, before any socket is bound.
    let bad = Command::new(env!("CARGO_BIN_EXE_sockpit"))
        .args(["udp", "--bind", "127.0.0.1:0", "--rule", "prefix:A=>$3"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("rule 1: $3 is not captured"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
