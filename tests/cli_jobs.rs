//! The CLI's timed and file sends on the same engine: `--repeat N --every-ms M` with macros
//! on tcp-client, udp and tcp-server (to every client), `--file` over TCP and UDP, and bad
//! numbers, macros or files refused with exit 2 before any traffic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// A named thread (every thread here has a name).
fn spawn<T: Send + 'static>(
    body: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .name("test-peer".to_owned())
        .spawn(body)
        .unwrap()
}

fn bin() -> String {
    std::env::var("SOCKPIT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sockpit").to_owned())
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

/// Waits for the child with a bound; kills it and fails if it hangs.
fn wait_exit(child: &mut Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                e.read_to_string(&mut err).unwrap();
            }
            return (status.code(), err);
        }
        assert!(Instant::now() < deadline, "the CLI hung");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tcp_client_repeats_with_the_next_counter_each_time() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut child = Command::new(bin())
        .args([
            "tcp-client",
            &format!("127.0.0.1:{port}"),
            "--send",
            "n={{COUNTER:1:2:3}}\\n",
            "--repeat",
            "50",
            "--every-ms",
            "2",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let out = spawn(move || {
        let mut s = String::new();
        BufReader::new(stdout).read_to_string(&mut s).unwrap();
        s
    });
    let (peer, _) = listener.accept().unwrap();
    let mut lines = Vec::new();
    let mut r = BufReader::new(peer);
    let mut line = String::new();
    while r.read_line(&mut line).unwrap() > 0 {
        lines.push(std::mem::take(&mut line));
    }
    let (code, err) = wait_exit(&mut child);
    assert_eq!(code, Some(0), "{err}");
    let expected: Vec<String> = (0..50).map(|n| format!("n={:03}\n", 1 + 2 * n)).collect();
    assert_eq!(lines, expected);
    let json = out.join().unwrap();
    let done = json
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "job" && v["state"] == "done")
        .unwrap_or_else(|| panic!("no job end in {json}"));
    assert_eq!(done["sent"], 50);
}

#[test]
fn udp_repeats_and_sends_a_file_in_datagrams() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let to = receiver.local_addr().unwrap().to_string();
    let out = run(&[
        "udp",
        "--to",
        &to,
        "--send",
        "u{{COUNTER}}",
        "--repeat",
        "5",
        "--every-ms",
        "1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut buf = [0u8; 2048];
    let got: Vec<Vec<u8>> = (0..5)
        .map(|_| {
            let n = receiver.recv(&mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect();
    assert_eq!(
        got,
        (0..5)
            .map(|n| format!("u{n}").into_bytes())
            .collect::<Vec<_>>()
    );

    let dir = std::env::temp_dir().join(format!("sockpit-cli-jobs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("f.bin");
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let out = run(&[
        "udp",
        "--to",
        &to,
        "--file",
        file.to_str().unwrap(),
        "--chunk",
        "1000",
        "--every-ms",
        "1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut all = Vec::new();
    for _ in 0..10 {
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(n, 1000);
        all.extend_from_slice(&buf[..n]);
    }
    assert_eq!(all, data);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tcp_server_repeats_to_every_client() {
    let mut child = Command::new(bin())
        .args([
            "tcp-server",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--send",
            "s{{COUNTER}}\\n",
            "--repeat",
            "3",
            "--every-ms",
            "300",
            "--duration",
            "3",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let port = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "no listening line"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["event"] == "listening" {
            let local: std::net::SocketAddr = v["local"].as_str().unwrap().parse().unwrap();
            break local.port();
        }
    };
    let drain = spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
    });
    let a = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let b = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let lines = |s: TcpStream| {
        spawn(move || {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut r = BufReader::new(s);
            let mut got = Vec::new();
            let mut line = String::new();
            while got.len() < 3 && r.read_line(&mut line).unwrap_or(0) > 0 {
                got.push(std::mem::take(&mut line));
            }
            got
        })
    };
    let (la, lb) = (lines(a), lines(b));
    let (la, lb) = (la.join().unwrap(), lb.join().unwrap());
    // The first send goes to whoever is connected then; the last two reach both.
    assert_eq!(la.last().map(String::as_str), Some("s2\n"), "{la:?}");
    assert_eq!(lb.last().map(String::as_str), Some("s2\n"), "{lb:?}");
    assert!(la.contains(&"s1\n".to_owned()) && lb.contains(&"s1\n".to_owned()));
    let (code, err) = wait_exit(&mut child);
    assert_eq!(code, Some(0), "{err}");
    drain.join().unwrap();
}

#[test]
fn bad_numbers_macros_and_files_exit_2_before_any_traffic() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let cases: [(&[&str], &str); 7] = [
        (&["--send", "{{NOPE}}"], "unknown macro"),
        (&["--send", "x{{COUNTER"], "position 2"),
        (&["--send", "x", "--repeat", "0"], "at least 1"),
        (&["--repeat", "3"], "needs something to send"),
        (&["--send", "x", "--every-ms", "5"], "--every-ms goes with"),
        (
            &["--file", "/nonexistent/sockpit.bin"],
            "cannot read /nonexistent/sockpit.bin",
        ),
        (
            &["--send", "x", "--repeat", "2", "--every-ms", "100000000"],
            "86400000",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["tcp-client", target.as_str()];
        args.extend_from_slice(extra);
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(expected), "{extra:?}: {err}");
    }
    assert!(listener.accept().is_err(), "no case may have connected");
}

fn fixture(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn packets_from_a_packet_sender_export_are_sent_by_name() {
    // UDP, from its JSON export. The fixture's packets name loopback hosts (127.0.0.x) so
    // nothing here can reach a LAN; --to still chooses the test's own port.
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let to = receiver.local_addr().unwrap().to_string();
    let json = fixture("packetsender_export.json");
    let out = run(&[
        "udp",
        "--to",
        &to,
        "--packets",
        &json,
        "--packet",
        "udp modbus READ",
        "--repeat",
        "2",
        "--every-ms",
        "1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut buf = [0u8; 64];
    for _ in 0..2 {
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]);
    }
    // TCP, from its packets.ini database export.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ini = fixture("packetsender_export.ini");
    let mut child = Command::new(bin())
        .args([
            "tcp-client",
            &format!("127.0.0.1:{port}"),
            "--packets",
            &ini,
            "--packet",
            "TCP hello",
            "--timeout",
            "0.5",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let mut got = [0u8; 7];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello\r\n");
    drop(peer);
    let _ = wait_exit(&mut child);
    // A name the file lacks: exit 2, and what it has.
    let out = run(&[
        "tcp-client",
        "127.0.0.1:9",
        "--packets",
        &json,
        "--packet",
        "nope",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no packet \"nope\"") && err.contains("TCP hello"),
        "{err}"
    );
}

#[test]
fn a_sequence_file_runs_and_a_silent_peer_exits_4_naming_the_step() {
    let dir = std::env::temp_dir().join(format!("sockpit-cli-seq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let steps = dir.join("steps.txt");
    std::fs::write(
        &steps,
        "send HELLO\\n\nexpect 3000 text WORLD\nsend DONE\\n\n",
    )
    .unwrap();
    // A peer that answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut lines = Vec::new();
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if line == "HELLO\n" {
                std::io::Write::write_all(&mut w, b"WORLD\n").unwrap();
            }
            lines.push(std::mem::take(&mut line));
        }
        lines
    });
    let out = run(&[
        "tcp-client",
        &format!("127.0.0.1:{port}"),
        "--sequence",
        steps.to_str().unwrap(),
        "--timeout",
        "0.5",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(peer.join().unwrap(), ["HELLO\n", "DONE\n"]);
    // A silent peer: exit 4 and the step named.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::fs::write(&steps, "send HELLO\\n\nexpect 300 text WORLD\n").unwrap();
    let out = run(&[
        "tcp-client",
        &format!("127.0.0.1:{port}"),
        "--sequence",
        steps.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("step 2 (expect 300 text WORLD)"), "{err}");
    drop(silent);
    // A bad step: exit 2 with its line.
    std::fs::write(&steps, "send a\nexpekt 3 text b\n").unwrap();
    let out = run(&[
        "tcp-client",
        "127.0.0.1:9",
        "--sequence",
        steps.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Line 2: unknown step \"expekt\""), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sequence_sends_library_packets_by_name() {
    let dir = std::env::temp_dir().join(format!("sockpit-cli-seqlib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let steps = dir.join("steps.txt");
    std::fs::write(
        &steps,
        "packet TCP hello\nwait 10\npacket udp modbus read\n",
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let ini = fixture("packetsender_export.ini");
    let out = run(&[
        "tcp-client",
        &format!("127.0.0.1:{port}"),
        "--sequence",
        steps.to_str().unwrap(),
        "--packets",
        &ini,
        "--timeout",
        "0.5",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut expected = b"hello\r\n".to_vec();
    expected.extend_from_slice(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]);
    assert_eq!(peer.join().unwrap(), expected);
    // Without the library the packet step is a usage error naming the line.
    let out = run(&[
        "tcp-client",
        "127.0.0.1:9",
        "--sequence",
        steps.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Line 1: packet \"TCP hello\": give the library with --packets FILE"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
