//! Timed and file sends in the real workers, over loopback: a repeat of 1,000 at 1 ms arrives
//! whole with its counters 0…999 in order; Stop ends a repeat within one interval; a 50 MB
//! file over TCP arrives byte-exact (sha256), and over UDP in 1,024-byte datagrams; a TCP
//! Server repeat reaches every client; a file that cannot be read is a sentence, nothing sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::{Duration, Instant};

use sockpit::codec::TextEncoding;
use sockpit::codec::macros::Template;
use sockpit::codec::payload::{LineEnding, PayloadSpec, SendMode};
use sockpit::engine::session::{JobSpec, JobState, JobStatus};
use sockpit::engine::worker::{SessionId, no_wake};
use sockpit::engine::{tcp_client, tcp_server, udp};
use sockpit::net::udp::{MulticastSend, UdpBindOptions};

const WAIT: Duration = Duration::from_mins(1);
const S: SessionId = SessionId(1);

/// A named thread (every thread here has a name).
fn spawn<T: Send + 'static>(
    body: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .name("test-peer".to_owned())
        .spawn(body)
        .unwrap()
}

fn template(text: &str) -> Template {
    Template::compile(&PayloadSpec {
        text,
        mode: SendMode::Text,
        escapes: true,
        line_ending: LineEnding::Lf,
        encoding: TextEncoding::Utf8,
    })
    .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sockpit-jobs-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Bytes that repeat only every 251 (a prime), so a chunk lost, doubled or moved shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 251 % 256) as u8)
        .collect()
}

fn sha256(path: &Path) -> String {
    let out = Process::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// A connected TCP Client session to a fresh listener; returns the worker and the accepted
/// peer socket.
fn client_session() -> (tcp_client::TcpClientHandle, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = tcp_client::TcpClientHandle::spawn(no_wake()).unwrap();
    client
        .send(tcp_client::Command::Connect {
            session: S,
            options: tcp_client::ConnectOptions::new("127.0.0.1", port),
        })
        .unwrap();
    let (peer, _) = listener.accept().unwrap();
    loop {
        let e = client.events().recv_timeout(WAIT).unwrap();
        if matches!(e.kind, tcp_client::EventKind::Connected { .. }) {
            break;
        }
    }
    (client, peer)
}

/// Waits for the client's job to end; returns its last status.
fn client_job_end(client: &tcp_client::TcpClientHandle) -> JobStatus {
    let by = Instant::now() + WAIT;
    while Instant::now() < by {
        if let Ok(e) = client.events().recv_timeout(Duration::from_millis(100))
            && let tcp_client::EventKind::Job(status) = e.kind
            && !status.is_running()
        {
            return status;
        }
    }
    panic!("the job did not end");
}

#[test]
fn a_repeat_of_1000_at_1_ms_arrives_whole_with_counters_in_order() {
    let (client, peer) = client_session();
    let reader = spawn(move || {
        let mut lines = Vec::new();
        let mut r = BufReader::new(peer);
        let mut line = String::new();
        while lines.len() < 1000 && r.read_line(&mut line).unwrap() > 0 {
            lines.push(std::mem::take(&mut line));
        }
        lines
    });
    let job = JobSpec::repeat(
        template("n={{COUNTER}}"),
        Duration::from_millis(1),
        Some(1000),
    );
    client
        .send(tcp_client::Command::StartJob { session: S, job })
        .unwrap();
    let status = client_job_end(&client);
    assert_eq!(status.state, JobState::Done);
    assert_eq!((status.sent, status.count), (1000, Some(1000)));
    // At 1 ms a turn, 1,000 sends take about a second; far longer means the pace is lost.
    assert!(
        status.elapsed >= Duration::from_millis(900),
        "1,000 sends 1 ms apart took only {:?}",
        status.elapsed
    );
    let lines = reader.join().unwrap();
    let expected: Vec<String> = (0..1000).map(|n| format!("n={n}\n")).collect();
    assert_eq!(lines, expected);
}

#[test]
fn stop_ends_a_repeat_within_one_interval() {
    let (client, peer) = client_session();
    peer.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let every = Duration::from_millis(100);
    let job = JobSpec::repeat(template("tick {{COUNTER}}"), every, None);
    client
        .send(tcp_client::Command::StartJob { session: S, job })
        .unwrap();
    let mut r = BufReader::new(peer);
    let mut got = 0;
    let mut line = String::new();
    while got < 3 {
        match r.read_line(&mut line) {
            Ok(n) if n > 0 => {
                assert_eq!(line, format!("tick {got}\n"));
                line.clear();
                got += 1;
            }
            _ => {}
        }
    }
    client
        .send(tcp_client::Command::StopJob { session: S })
        .unwrap();
    let stopped_at = Instant::now();
    let status = client_job_end(&client);
    assert_eq!(status.state, JobState::Stopped);
    assert!(
        stopped_at.elapsed() < every,
        "the stop was said {:?} after it was asked",
        stopped_at.elapsed()
    );
    // At most the one send already due at the Stop may follow, then nothing for 5 intervals.
    let sent = status.sent;
    assert!((3..=4).contains(&sent), "{sent} sent");
    let quiet_until = Instant::now() + every * 5;
    while Instant::now() < quiet_until {
        if let Ok(n) = r.read_line(&mut line)
            && n > 0
        {
            got += 1;
            line.clear();
        }
    }
    assert_eq!(
        got, sent,
        "the peer got what the job says it sent, and no more"
    );
}

#[test]
fn a_50_mb_file_over_tcp_arrives_byte_exact() {
    let dir = temp_dir("tcp");
    let source = dir.join("source.bin");
    std::fs::write(&source, pattern(50 * 1024 * 1024 + 123)).unwrap();
    let (client, peer) = client_session();
    let sink = dir.join("received.bin");
    let sink_path = sink.clone();
    let reader = spawn(move || {
        let mut peer = peer;
        let mut out = std::fs::File::create(&sink_path).unwrap();
        std::io::copy(&mut peer, &mut out).unwrap()
    });
    client
        .send(tcp_client::Command::StartJob {
            session: S,
            job: JobSpec::file(&source, 256 * 1024, Duration::ZERO),
        })
        .unwrap();
    let status = client_job_end(&client);
    assert_eq!(status.state, JobState::Done, "{}", status.describe());
    assert_eq!(status.bytes, 50 * 1024 * 1024 + 123);
    assert_eq!(status.total_bytes, Some(status.bytes));
    // Disconnect writes what is queued, then closes; the reader sees the end.
    client
        .send(tcp_client::Command::Disconnect { session: S })
        .unwrap();
    let copied = reader.join().unwrap();
    assert_eq!(copied, 50 * 1024 * 1024 + 123);
    assert_eq!(sha256(&sink), sha256(&source));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_that_cannot_be_read_is_a_sentence_and_nothing_is_sent() {
    let (client, mut peer) = client_session();
    let missing = temp_dir("missing").join("nope.bin");
    client
        .send(tcp_client::Command::StartJob {
            session: S,
            job: JobSpec::file(&missing, 1024, Duration::ZERO),
        })
        .unwrap();
    let by = Instant::now() + WAIT;
    let reason = loop {
        assert!(Instant::now() < by, "no refusal");
        if let Ok(e) = client.events().recv_timeout(Duration::from_millis(100))
            && let tcp_client::EventKind::SendRejected { reason } = e.kind
        {
            break reason;
        }
    };
    assert!(
        reason.contains("nope.bin") && reason.contains("no such file"),
        "{reason}"
    );
    peer.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(peer.read(&mut buf).is_err(), "nothing may reach the peer");
}

#[test]
fn a_file_over_udp_goes_in_1024_byte_datagrams() {
    let dir = temp_dir("udp");
    let source = dir.join("source.bin");
    let data = pattern(8 * 1024 * 1024 + 100);
    std::fs::write(&source, &data).unwrap();
    let receiver = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    // Room for the whole file at once, so a slow test thread loses nothing.
    let _ = receiver.set_recv_buffer_size(64 * 1024 * 1024);
    receiver
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let receiver: UdpSocket = receiver.into();
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let to = receiver.local_addr().unwrap();
    let worker = udp::UdpHandle::spawn(no_wake()).unwrap();
    worker
        .send(udp::Command::Bind {
            session: S,
            options: UdpBindOptions::new("127.0.0.1:0".parse().unwrap()),
            multicast: MulticastSend::default(),
        })
        .unwrap();
    let expected_datagrams = data.len().div_ceil(1024);
    let reader = spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 2048];
        while got.len() < expected_datagrams {
            match receiver.recv(&mut buf) {
                Ok(n) => got.push(buf[..n].to_vec()),
                Err(_) => break,
            }
        }
        got
    });
    loop {
        let e = worker.events().recv_timeout(WAIT).unwrap();
        if matches!(e.kind, udp::EventKind::Bound { .. }) {
            break;
        }
    }
    // Paced at 0 ms: as fast as the socket takes them. The loopback peer reads on its own
    // thread with a buffer that holds the whole file.
    worker
        .send(udp::Command::StartJob {
            session: S,
            host: "127.0.0.1".to_owned(),
            port: to.port(),
            job: JobSpec::file(&source, 1024, Duration::ZERO),
        })
        .unwrap();
    let by = Instant::now() + WAIT;
    let status = loop {
        assert!(Instant::now() < by, "the job did not end");
        if let Ok(e) = worker.events().recv_timeout(Duration::from_millis(100))
            && let udp::EventKind::Job(status) = e.kind
            && !status.is_running()
        {
            break status;
        }
    };
    assert_eq!(status.state, JobState::Done, "{}", status.describe());
    assert_eq!(status.sent as usize, expected_datagrams);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), expected_datagrams, "every datagram arrived");
    assert!(got[..got.len() - 1].iter().all(|d| d.len() == 1024));
    assert_eq!(got.last().unwrap().len(), 100);
    assert!(got.concat() == data, "the datagrams are the file, in order");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_udp_repeat_counts_per_datagram() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let to = receiver.local_addr().unwrap();
    let worker = udp::UdpHandle::spawn(no_wake()).unwrap();
    worker
        .send(udp::Command::Bind {
            session: S,
            options: UdpBindOptions::new("127.0.0.1:0".parse().unwrap()),
            multicast: MulticastSend::default(),
        })
        .unwrap();
    worker
        .send(udp::Command::StartJob {
            session: S,
            host: "127.0.0.1".to_owned(),
            port: to.port(),
            job: JobSpec::repeat(
                template("{{COUNTER:98:1:2}}"),
                Duration::from_millis(2),
                Some(4),
            ),
        })
        .unwrap();
    let mut buf = [0u8; 64];
    let got: Vec<Vec<u8>> = (0..4)
        .map(|_| {
            let n = receiver.recv(&mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect();
    assert_eq!(
        got,
        [
            b"98\n".to_vec(),
            b"99\n".to_vec(),
            b"00\n".to_vec(),
            b"01\n".to_vec()
        ]
    );
}

fn server_session() -> (tcp_server::TcpServerHandle, SocketAddr) {
    let server = tcp_server::TcpServerHandle::spawn(no_wake()).unwrap();
    server
        .send(tcp_server::Command::Start {
            session: S,
            options: tcp_server::ServerOptions::new("127.0.0.1:0".parse().unwrap()),
        })
        .unwrap();
    loop {
        let e = server.events().recv_timeout(WAIT).unwrap();
        if let tcp_server::EventKind::Listening { local } = e.kind {
            return (server, local);
        }
    }
}

fn read_lines(s: TcpStream, n: usize) -> std::thread::JoinHandle<Vec<String>> {
    spawn(move || {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s);
        let mut lines = Vec::new();
        let mut line = String::new();
        while lines.len() < n && r.read_line(&mut line).unwrap_or(0) > 0 {
            lines.push(std::mem::take(&mut line));
        }
        lines
    })
}

#[test]
fn a_server_repeat_reaches_every_client() {
    let (server, local) = server_session();
    let a = TcpStream::connect(local).unwrap();
    let b = TcpStream::connect(local).unwrap();
    let mut accepted = 0;
    while accepted < 2 {
        let e = server.events().recv_timeout(WAIT).unwrap();
        if matches!(e.kind, tcp_server::EventKind::Accepted { .. }) {
            accepted += 1;
        }
    }
    server
        .send(tcp_server::Command::StartJob {
            session: S,
            target: tcp_server::Target::All,
            job: JobSpec::repeat(
                template("all {{COUNTER}}"),
                Duration::from_millis(20),
                Some(3),
            ),
        })
        .unwrap();
    let (ra, rb) = (read_lines(a, 3), read_lines(b, 3));
    let expected = ["all 0\n", "all 1\n", "all 2\n"].map(str::to_owned);
    assert_eq!(ra.join().unwrap(), expected);
    assert_eq!(rb.join().unwrap(), expected);
}

#[test]
fn a_server_repeat_started_before_any_client_waits_for_one() {
    let (server, local) = server_session();
    server
        .send(tcp_server::Command::StartJob {
            session: S,
            target: tcp_server::Target::All,
            job: JobSpec::repeat(
                template("first {{COUNTER}}"),
                Duration::from_millis(10),
                Some(2),
            ),
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let a = TcpStream::connect(local).unwrap();
    assert_eq!(read_lines(a, 2).join().unwrap(), ["first 0\n", "first 1\n"]);
    let by = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < by, "the job did not end");
        if let Ok(e) = server.events().recv_timeout(Duration::from_millis(100))
            && let tcp_server::EventKind::Job(status) = e.kind
            && !status.is_running()
        {
            assert_eq!((status.state, status.sent), (JobState::Done, 2));
            break;
        }
    }
}

/// A Python TCP server on loopback that answers each "PING" line with "PONG" and records every
/// line; returns its port and the child (its stdout gives the lines it got).
fn python_pinger() -> (u16, std::process::Child) {
    let script = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
s.settimeout(20)
c, _ = s.accept()
c.settimeout(20)
f = c.makefile("rb")
for line in f:
    print(line.decode().strip(), flush=True)
    if line.strip() == b"PING":
        c.sendall(b"PONG\r\n")
    if line.strip() == b"BYE":
        break
"#;
    let mut child = Process::new("python3")
        .args(["-c", script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = line.trim().parse().unwrap();
    child.stdout = Some(out.into_inner());
    (port, child)
}

fn connect_to(port: u16) -> tcp_client::TcpClientHandle {
    let client = tcp_client::TcpClientHandle::spawn(no_wake()).unwrap();
    client
        .send(tcp_client::Command::Connect {
            session: S,
            options: tcp_client::ConnectOptions::new("127.0.0.1", port),
        })
        .unwrap();
    loop {
        let e = client.events().recv_timeout(WAIT).unwrap();
        if matches!(e.kind, tcp_client::EventKind::Connected { .. }) {
            return client;
        }
    }
}

fn sequence(text: &str) -> JobSpec {
    JobSpec::sequence(
        sockpit::engine::session::sequence::Sequence::parse(text, TextEncoding::Utf8).unwrap(),
    )
}

#[test]
fn a_sequence_waits_for_the_reply_of_a_python_peer() {
    let (port, mut child) = python_pinger();
    let client = connect_to(port);
    client
        .send(tcp_client::Command::StartJob {
            session: S,
            job: sequence("send PING\\n\nexpect 5000 text PONG\nwait 20\nsend BYE\\n"),
        })
        .unwrap();
    let status = client_job_end(&client);
    assert_eq!(status.state, JobState::Done, "{}", status.describe());
    assert_eq!(status.sent, 2);
    let mut lines = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut lines)
        .unwrap();
    assert_eq!(lines, "PING\nBYE\n", "BYE went only after PONG came back");
    child.wait().unwrap();
}

#[test]
fn a_sequence_against_a_silent_peer_fails_naming_the_step() {
    let (client, mut peer) = client_session();
    client
        .send(tcp_client::Command::StartJob {
            session: S,
            job: sequence("send PING\\n\nexpect 300 text PONG\nsend never\\n"),
        })
        .unwrap();
    let status = client_job_end(&client);
    let JobState::Failed(why) = &status.state else {
        panic!("{status:?}");
    };
    assert!(
        why.starts_with("step 2 (expect 300 text PONG): no reply matched text \"PONG\" within 300 ms; nothing arrived."),
        "{why}"
    );
    assert_eq!(status.step.as_ref().map(|(i, _)| *i), Some(1));
    // The step after the failed wait was never sent.
    peer.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut got = Vec::new();
    let _ = peer.read_to_end(&mut got);
    assert_eq!(got, b"PING\n");
}

#[test]
fn a_failed_wait_shows_what_arrived_instead() {
    let (client, mut peer) = client_session();
    client
        .send(tcp_client::Command::StartJob {
            session: S,
            job: sequence("send AT\\r\\n\nexpect 2000 regex ^OK\nrepeat 2"),
        })
        .unwrap();
    let mut buf = [0u8; 4];
    peer.read_exact(&mut buf).unwrap();
    std::io::Write::write_all(&mut peer, b"ERROR\r\n").unwrap();
    let status = client_job_end(&client);
    let JobState::Failed(why) = &status.state else {
        panic!("{status:?}");
    };
    assert!(why.contains("step 2 (expect 2000 regex ^OK)"), "{why}");
    assert!(
        why.contains("arrived instead (7 B): \"ERROR\\r\\n\""),
        "{why}"
    );
}
