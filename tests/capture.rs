//! `--capture FILE` keeps every byte: 100 MB over TCP and 100,000 datagrams over UDP read
//! back from the pcapng equal what the peers sent, in order; tshark (the Debian package) reads
//! our files with the right addresses, ports, lengths and checksums and follows the TCP
//! stream back to its bytes; a full disk stops the capture with its sentence while the
//! session goes on. Real loopback peers, the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sockpit::capture::{Direction, RecordKind, Transport, open_capture};

const WAIT: Duration = Duration::from_mins(2);

fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .name("test-peer".to_owned())
        .spawn(f)
        .unwrap()
}

fn bin() -> String {
    std::env::var("SOCKPIT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sockpit").to_owned())
}

/// Floods run one at a time, so one does not starve another's reader on 2 cores.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sockpit-cap-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Bytes that repeat nowhere nearby (a shifted or lost chunk cannot compare equal).
fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn wait_output(mut child: Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                e.read_to_string(&mut err).unwrap();
            }
            return (status.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sockpit did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `sockpit tcp-client 127.0.0.1:PORT --file FILE --capture CAP [extra]`: its exit code and
/// standard error.
fn send_file_capturing(
    port: u16,
    file: &Path,
    cap: &Path,
    extra: &[&str],
) -> (Option<i32>, String) {
    let child = Command::new(bin())
        .args(["tcp-client", &format!("127.0.0.1:{port}")])
        .args(extra)
        .arg("--file")
        .arg(file)
        .arg("--capture")
        .arg(cap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child)
}

/// The payload of every data record of `dir` in the capture, concatenated, for `transport`.
fn payload(path: &Path, dir: Direction) -> Vec<u8> {
    let opened = open_capture(path).unwrap();
    assert!(opened.cut_off.is_none(), "{}", opened.summary());
    opened
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::Data && r.direction == dir)
        .flat_map(|r| r.bytes.iter().copied())
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = bytes.to_vec();
    let writer = spawn(move || stdin.write_all(&data).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// A TCP peer on loopback that greets, reads everything until the client closes, and hands
/// back what it read.
fn greeting_sink(greeting: &'static [u8]) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(greeting).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    (port, t)
}

#[test]
fn a_100_mb_tcp_capture_holds_every_byte_in_order() {
    let _serial = one_at_a_time();
    let dir = scratch("tcp100");
    let data = pseudo_random(100 * 1000 * 1000, 7);
    let file = dir.join("big.bin");
    std::fs::write(&file, &data).unwrap();
    let cap = dir.join("big.pcapng");
    let (port, peer) = greeting_sink(b"hello from the device\r\n");
    let (code, err) = send_file_capturing(port, &file, &cap, &["--timeout", "60"]);
    let got = peer.join().unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        got == data,
        "the peer got {} of {} bytes",
        got.len(),
        data.len()
    );
    assert!(err.contains("Captured"), "{err}");
    let sent = payload(&cap, Direction::Sent);
    assert_eq!(sent.len(), data.len());
    assert_eq!(
        sha256(&sent),
        sha256(&data),
        "captured bytes differ from sent"
    );
    assert_eq!(
        payload(&cap, Direction::Received),
        b"hello from the device\r\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_100000_datagram_udp_capture_holds_every_datagram_in_order() {
    const N: u32 = 100_000;
    let _serial = one_at_a_time();
    let dir = scratch("udp100k");
    let cap = dir.join("u.pcapng");
    let mut child = Command::new(bin())
        .args(["udp", "--bind", "127.0.0.1:0", "--listen", "100"])
        .args(["--count", &N.to_string()])
        .arg("--capture")
        .arg(&cap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let bound: SocketAddr = line
        .trim()
        .trim_start_matches("Bound to ")
        .trim_end_matches('.')
        .parse()
        .unwrap_or_else(|e| panic!("{line}: {e}"));
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = Vec::with_capacity(N as usize);
    for i in 0..N {
        let mut d = i.to_be_bytes().to_vec();
        d.extend_from_slice(&pseudo_random((i % 200) as usize + 10, u64::from(i)));
        tx.send_to(&d, bound).unwrap();
        sent.push(d);
        // Paced, so the kernel's buffer never overflows: the test is about the capture.
        if i % 200 == 199 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    child.stderr = Some(err.into_inner());
    let (code, err) = wait_output(child);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("dropped"), "{err}");
    let opened = open_capture(&cap).unwrap();
    let got: Vec<&Vec<u8>> = opened
        .records
        .iter()
        .filter(|r| r.transport == Transport::Udp && r.direction == Direction::Received)
        .map(|r| &r.bytes)
        .collect();
    assert_eq!(got.len(), sent.len(), "{}", opened.summary());
    for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
        assert!(*g == s, "datagram {i} differs");
    }
    assert!(
        opened
            .records
            .iter()
            .all(|r| r.peer == tx.local_addr().unwrap()),
        "every datagram names its sender"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tshark() -> Option<&'static str> {
    let ok = Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some("tshark")
    } else {
        eprintln!("SKIPPED: tshark is not installed (scripts/install-deps.sh installs it)");
        None
    }
}

fn tshark_out(args: &[&str]) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new("tshark").args(args).output().unwrap();
    assert!(
        status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&stderr)
    );
    String::from_utf8(stdout).unwrap()
}

/// The bytes of each direction of `tshark -z follow,tcp,raw,0`: lines of hex, the second
/// side's indented by a tab.
fn follow(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let out = tshark_out(&["-r", path.to_str().unwrap(), "-q", "-z", "follow,tcp,raw,0"]);
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut in_body = false;
    for line in out.lines() {
        if line.starts_with("Node 1:") {
            in_body = true;
            continue;
        }
        if !in_body || line.starts_with('=') || line.trim().is_empty() {
            continue;
        }
        let (side, hex) = match line.strip_prefix('\t') {
            Some(h) => (&mut second, h),
            None => (&mut first, line),
        };
        let hex = hex.trim();
        for i in (0..hex.len()).step_by(2) {
            side.push(u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
        }
    }
    (first, second)
}

#[test]
fn tshark_reads_a_tcp_capture_and_follows_the_stream_back_to_its_bytes() {
    let Some(_) = tshark() else { return };
    let _serial = one_at_a_time();
    let dir = scratch("tshark-tcp");
    let cap = dir.join("t.pcapng");
    let data = pseudo_random(300_000, 3);
    let file = dir.join("d.bin");
    std::fs::write(&file, &data).unwrap();
    let (port, peer) = greeting_sink(b"READY\n");
    let (code, err) = send_file_capturing(port, &file, &cap, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(peer.join().unwrap(), data);
    let path = cap.to_str().unwrap();
    // Every packet: the right ends, ports and lengths; checksums good; nothing malformed.
    let fields = tshark_out(&[
        "-r",
        path,
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-T",
        "fields",
        "-e",
        "ip.src",
        "-e",
        "tcp.srcport",
        "-e",
        "ip.dst",
        "-e",
        "tcp.dstport",
        "-e",
        "tcp.len",
        "-e",
        "tcp.checksum.status",
        "-e",
        "ip.checksum.status",
        "-e",
        "_ws.malformed",
    ]);
    let mut to_peer = 0usize;
    let mut from_peer = 0usize;
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('\t').collect()).collect();
    assert!(rows.len() > 6, "{fields}");
    for row in &rows {
        assert_eq!(row[0], "127.0.0.1");
        assert_eq!(row[2], "127.0.0.1");
        assert_eq!(row[5], "1", "TCP checksum good: {row:?}");
        assert_eq!(row[6], "1", "IP checksum good: {row:?}");
        assert!(
            row.get(7).is_none_or(|m| m.is_empty()),
            "malformed: {row:?}"
        );
        let len: usize = row[4].parse().unwrap();
        if row[3] == port.to_string() {
            to_peer += len;
        } else {
            assert_eq!(row[1], port.to_string());
            from_peer += len;
        }
    }
    assert_eq!((to_peer, from_peer), (data.len(), 6));
    // The handshake, then the close.
    let flags = tshark_out(&["-r", path, "-T", "fields", "-e", "tcp.flags.str"]);
    let flags: Vec<&str> = flags.lines().collect();
    assert!(
        flags[0].contains('S') && !flags[0].contains('A'),
        "{flags:?}"
    );
    assert!(
        flags.iter().filter(|f| f.contains('F')).count() == 2,
        "{flags:?}"
    );
    // Follow TCP stream gives each side's bytes back.
    let (client, server) = follow(&cap);
    assert_eq!(server, b"READY\n");
    assert!(
        client == data,
        "followed {} of {} bytes",
        client.len(),
        data.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tshark_reads_a_udp_capture_with_its_ports_and_lengths() {
    let Some(_) = tshark() else { return };
    let _serial = one_at_a_time();
    let dir = scratch("tshark-udp");
    let cap = dir.join("u.pcapng");
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let port = peer.local_addr().unwrap().port();
    let echo = spawn(move || {
        let mut buf = [0u8; 2048];
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        peer.send_to(b"pong!", from).unwrap();
        n
    });
    let out = Command::new(bin())
        .args(["udp", "--bind", "127.0.0.1:0", "--to"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--send", "ping", "--capture"])
        .arg(&cap)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(echo.join().unwrap(), 4);
    let fields = tshark_out(&[
        "-r",
        cap.to_str().unwrap(),
        "-o",
        "udp.check_checksum:TRUE",
        "-T",
        "fields",
        "-e",
        "udp.srcport",
        "-e",
        "udp.dstport",
        "-e",
        "udp.length",
        "-e",
        "udp.checksum.status",
        "-e",
        "data.data",
    ]);
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{fields}");
    assert_eq!(rows[0][1], port.to_string());
    assert_eq!(rows[0][2], "12");
    assert_eq!(rows[0][4], "70696e67");
    assert_eq!(rows[1][0], port.to_string());
    assert_eq!(rows[1][2], "13");
    assert_eq!(rows[1][4], "706f6e6721");
    assert!(
        rows.iter().all(|r| r[3] == "1"),
        "UDP checksums good: {rows:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn text_and_csv_captures_follow_the_extension() {
    let _serial = one_at_a_time();
    let dir = scratch("text");
    for (name, expect) in [("c.txt", "TX TCP"), ("c.csv", "time_utc,time_us,direction")] {
        let cap = dir.join(name);
        let (port, peer) = greeting_sink(b"hi\n");
        let out = Command::new(bin())
            .args([
                "tcp-client",
                &format!("127.0.0.1:{port}"),
                "--send",
                "abc,\"d\"",
            ])
            .arg("--capture")
            .arg(&cap)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        peer.join().unwrap();
        let text = std::fs::read_to_string(&cap).unwrap();
        assert!(text.contains(expect), "{text}");
        if name == "c.csv" {
            assert!(
                text.contains(",TX,TCP,") && text.contains("\"abc,\"\"d\"\"\""),
                "{text}"
            );
            assert!(
                text.contains(",RX,TCP,") && text.contains("\"hi\\n\""),
                "{text}"
            );
        } else {
            assert!(
                text.contains("7 B abc,\"d\"\n    61 62 63 2C 22 64 22"),
                "{text}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_capture_file_that_cannot_be_made_is_a_usage_error_before_any_traffic() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    for (file, says) in [
        ("/nonexistent-folder/x.pcapng", "folder does not exist"),
        ("/tmp/x.bin", "end the name in .pcapng, .csv or .txt"),
    ] {
        let out = Command::new(bin())
            .args(["tcp-client", &format!("127.0.0.1:{port}"), "--send", "x"])
            .args(["--capture", file])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
    }
    assert!(l.accept().is_err(), "nothing connected");
}

/// Disk full: a 1 MiB tmpfs made by the test (root only). The capture stops with its sentence,
/// the session sends all 5 MB anyway, and the exit code (6) says the capture is incomplete.
#[test]
fn a_full_disk_stops_the_capture_with_a_sentence_and_the_session_goes_on() {
    let _serial = one_at_a_time();
    let dir = scratch("full");
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: could not mount a tmpfs (needs root, as in CI)");
        return;
    }
    let data = pseudo_random(5_000_000, 11);
    let file = dir.join("d.bin");
    std::fs::write(&file, &data).unwrap();
    let (port, peer) = greeting_sink(b"ok\n");
    let (code, err) = send_file_capturing(port, &file, &mnt.join("c.pcapng"), &[]);
    let got = peer.join().unwrap();
    let _ = Command::new("umount").arg(&mnt).status();
    assert!(
        got == data,
        "the session went on: the peer got {} of {}",
        got.len(),
        data.len()
    );
    assert_eq!(code, Some(6), "{err}");
    assert!(
        err.contains("Capture stopped") && err.contains("disk is full"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The other way round: a client pushes a known pattern as fast as loopback takes it into
/// `tcp-server --capture --json`. What the server printed adds up to every byte, the
/// capture's own count says the same with nothing dropped, and the bytes read back from the
/// pcapng are the pattern (sha256), in order.
#[test]
fn a_tcp_server_counts_and_captures_every_byte_a_flooding_client_sends() {
    let _serial = one_at_a_time();
    let dir = scratch("srv30");
    let cap = dir.join("server.pcapng");
    // ASCII, so the JSON lines stay about as long as the payload; each line numbers itself.
    let data: Vec<u8> = (0..1_000_000u32)
        .flat_map(|i| format!("line {i:010} of the pattern\n").into_bytes())
        .collect();
    let mut server = Command::new(bin())
        .args([
            "tcp-server",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--duration",
            "10",
            "--json",
            "--capture",
        ])
        .arg(&cap)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    let addr = v["local"].as_str().unwrap().to_owned();
    let to_send = data.clone();
    let client = spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(&to_send).unwrap();
    });
    let (mut printed, mut captured) = (0u64, serde_json::Value::Null);
    for line in out.lines().map_while(Result::ok) {
        if line.starts_with(r#"{"event":"rx""#) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            printed += v["len"].as_u64().unwrap();
        } else if line.contains(r#""event":"capture""#) {
            captured = serde_json::from_str(&line).unwrap();
        }
    }
    client.join().unwrap();
    assert!(server.wait().unwrap().success());
    assert_eq!(printed, data.len() as u64, "the server's records add up");
    assert_eq!(captured["payload_bytes"], data.len() as u64, "{captured}");
    assert_eq!(captured["dropped_records"], 0, "{captured}");
    let got = payload(&cap, Direction::Received);
    assert_eq!(got.len(), data.len());
    assert_eq!(sha256(&got), sha256(&data), "captured bytes differ");
    let _ = std::fs::remove_dir_all(&dir);
}
