//! `--expect MATCH --within MS` on `tcp-client` and `udp` against fake devices on 127.0.0.1:
//! met in order (exit 0), not met / out of order / silent (exit 5, naming the expectation and
//! what came instead), bad arguments (exit 2, and the device saw nothing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_sockpit");
/// The longest a fake device waits for anything.
const WAIT: Duration = Duration::from_secs(10);

fn sockpit(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A TCP device that reads one request, then writes each answer after its delay and holds
/// the connection a while; returns what it read.
fn tcp_device(answers: Vec<(u64, &'static [u8])>) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let t = std::thread::Builder::new()
        .name("tcp-device".into())
        .spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).unwrap_or(0);
            for (delay_ms, bytes) in answers {
                std::thread::sleep(Duration::from_millis(delay_ms));
                s.write_all(bytes).unwrap();
            }
            // Hold the connection so only the budgets end the command.
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let _ = s.read(&mut [0u8; 16]);
            buf[..n].to_vec()
        })
        .unwrap();
    (addr, t)
}

/// A TCP listener that counts the connections made to it for `for_ms`.
fn tcp_watcher(for_ms: u64) -> (String, std::thread::JoinHandle<usize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    l.set_nonblocking(true).unwrap();
    let t = std::thread::Builder::new()
        .name("tcp-watcher".into())
        .spawn(move || {
            let until = Instant::now() + Duration::from_millis(for_ms);
            let mut seen = 0;
            while Instant::now() < until {
                if l.accept().is_ok() {
                    seen += 1;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        })
        .unwrap();
    (addr, t)
}

/// A UDP device that answers the first datagram with `answers`, one datagram each; returns
/// what it read.
fn udp_device(answers: Vec<&'static [u8]>) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap().to_string();
    let t = std::thread::Builder::new()
        .name("udp-device".into())
        .spawn(move || {
            s.set_read_timeout(Some(WAIT)).unwrap();
            let mut buf = [0u8; 512];
            let Ok((n, from)) = s.recv_from(&mut buf) else {
                return Vec::new();
            };
            for a in answers {
                s.send_to(a, from).unwrap();
            }
            buf[..n].to_vec()
        })
        .unwrap();
    (addr, t)
}

#[test]
fn tcp_expectations_met_in_order_exit_0() {
    let (addr, device) = tcp_device(vec![(0, b"OK 1\n"), (100, b"READY\n")]);
    let out = sockpit(&[
        "tcp-client",
        &addr,
        "--send",
        "HELLO\\n",
        "--frame",
        "lf",
        "--expect",
        "exact:OK 1",
        "--within",
        "2000",
        "--expect",
        "regex:^READ.$",
        "--within",
        "2000",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("expect 1/2 met: exact:OK 1"), "{err}");
    assert!(err.contains("expect 2/2 met: regex:^READ.$"), "{err}");
    assert_eq!(device.join().unwrap(), b"HELLO\n");
}

#[test]
fn tcp_unmet_expectation_exits_5_naming_it_and_what_came_instead() {
    let (addr, device) = tcp_device(vec![(0, b"ERR 7\r\n")]);
    let started = Instant::now();
    let out = sockpit(&[
        "tcp-client",
        &addr,
        "--send",
        "GET\\n",
        "--frame",
        "lf",
        "--expect",
        "prefix:OK",
        "--within",
        "500",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("expect 1/1 not met")
            && err.contains("prefix:OK")
            && err.contains("500 ms")
            && err.contains(r#"what arrived instead: "ERR 7\r""#),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(device.join().unwrap(), b"GET\n");
}

#[test]
fn tcp_out_of_order_is_not_met() {
    let (addr, device) = tcp_device(vec![(0, b"B\nA\n")]);
    let out = sockpit(&[
        "tcp-client",
        &addr,
        "--send",
        "go\\n",
        "--frame",
        "lf",
        "--expect",
        "exact:A",
        "--expect",
        "exact:B",
        "--within",
        "1000",
        "--within",
        "400",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("expect 1/2 met: exact:A"), "{err}");
    assert!(
        err.contains("expect 2/2 not met") && err.contains(r#"instead: "B""#),
        "{err}"
    );
    device.join().unwrap();
}

#[test]
fn tcp_silence_says_nothing_arrived_after_about_the_budget() {
    let (addr, device) = tcp_device(vec![]);
    let started = Instant::now();
    let out = sockpit(&[
        "tcp-client",
        &addr,
        "--send",
        "ping",
        "--expect",
        "contains:pong",
        "--within",
        "700",
        "--json",
    ]);
    let took = started.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("nothing arrived"), "{err}");
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // JSON: the failure is an event too.
    let failed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "expect")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["met"], false);
    assert_eq!(failed[0]["index"], 1);
    assert_eq!(failed[0]["within_ms"], 700);
    device.join().unwrap();
}

#[test]
fn tcp_json_prints_one_object_per_met_expectation() {
    let (addr, device) = tcp_device(vec![(0, b"\x02\x10\x03")]);
    let out = sockpit(&[
        "tcp-client",
        &addr,
        "--hex",
        "01",
        "--expect",
        "hex:02 ?? 03",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let met: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "expect")
        .collect();
    assert_eq!(met.len(), 1);
    assert_eq!(met[0]["met"], true);
    assert_eq!(met[0]["of"], 1);
    assert_eq!(met[0]["match"], "hex:02 ?? 03");
    assert_eq!(met[0]["within_ms"], 2000);
    assert_eq!(device.join().unwrap(), [1]);
}

#[test]
fn bad_match_or_within_is_a_usage_error_before_any_traffic() {
    for (extra, says) in [
        (vec!["--expect", "regex:(unclosed"], "--expect 1"),
        (
            vec!["--expect", "exact:A", "--expect", "nokind"],
            "--expect 2",
        ),
        (vec!["--expect", "hex:4G"], "--expect 1"),
        (
            vec![
                "--expect", "exact:A", "--expect", "exact:B", "--within", "5",
            ],
            "--within",
        ),
        (vec!["--expect", "exact:A", "--within", "0"], "--within"),
        (vec!["--expect", "exact:A", "--within", "soon"], "--within"),
        (vec!["--expect", "exact:A", "--repeat", "3"], "--repeat"),
    ] {
        let (addr, watcher) = tcp_watcher(600);
        let mut args = vec!["tcp-client", addr.as_str(), "--send", "X"];
        args.extend(&extra);
        let out = sockpit(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
        assert_eq!(watcher.join().unwrap(), 0, "{extra:?} connected");
    }
}

#[test]
fn udp_expectations_met_and_unmet() {
    let (addr, device) = udp_device(vec![b"PONG 1", b"PONG 2"]);
    let out = sockpit(&[
        "udp",
        "--bind",
        "127.0.0.1:0",
        "--to",
        &addr,
        "--send",
        "PING",
        "--expect",
        "exact:PONG 1",
        "--expect",
        "regex:PONG [0-9]",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("expect 2/2 met"), "{err}");
    assert_eq!(device.join().unwrap(), b"PING");

    let (addr, device) = udp_device(vec![b"NAK\x01"]);
    let out = sockpit(&[
        "udp",
        "--bind",
        "127.0.0.1:0",
        "--to",
        &addr,
        "--send",
        "PING",
        "--expect",
        "exact:PONG",
        "--within",
        "500",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("expect 1/1 not met") && err.contains(r#""NAK\u{1}""#),
        "{err}"
    );
    device.join().unwrap();
}

#[test]
fn udp_with_frame_lf_checks_each_line_and_bad_within_sends_nothing() {
    let (addr, device) = udp_device(vec![b"T=21\nH=40\n"]);
    let out = sockpit(&[
        "udp",
        "--bind",
        "127.0.0.1:0",
        "--to",
        &addr,
        "--send",
        "READ",
        "--frame",
        "lf",
        "--expect",
        "prefix:T=",
        "--expect",
        "exact:H=40",
        "--within",
        "1500",
        "--within",
        "1500",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("expect 2/2 met: exact:H=40"), "{err}");
    device.join().unwrap();

    let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
    quiet
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let to = quiet.local_addr().unwrap().to_string();
    let out = sockpit(&[
        "udp",
        "--bind",
        "127.0.0.1:0",
        "--to",
        &to,
        "--send",
        "X",
        "--expect",
        "exact:A",
        "--within",
        "1",
        "--within",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        quiet.recv_from(&mut [0u8; 16]).is_err(),
        "a datagram was sent"
    );
}

/// A line device on TCP for `conns` connections, one after the other: each line `Qn` is
/// answered with `answer(n)`. Each connection ends when the client closes or is quiet 5 s.
fn line_device(
    conns: usize,
    answer: fn(&str) -> String,
) -> (String, std::thread::JoinHandle<usize>) {
    use std::io::BufRead;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let t = std::thread::Builder::new()
        .name("line-device".into())
        .spawn(move || {
            let mut served = 0;
            for _ in 0..conns {
                let Ok((s, _)) = l.accept() else { break };
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut w = s.try_clone().unwrap();
                let r = std::io::BufReader::new(s);
                for line in r.lines().take(100) {
                    let Ok(line) = line else { break };
                    w.write_all(answer(line.trim()).as_bytes()).unwrap();
                }
                served += 1;
            }
            served
        })
        .unwrap();
    (addr, t)
}

fn faithful(q: &str) -> String {
    format!("A{}\n", q.trim_start_matches('Q'))
}

fn changed_second(q: &str) -> String {
    if q == "Q2" {
        "AX\n".to_owned()
    } else {
        faithful(q)
    }
}

/// Records three questions and answers with `--capture` against a faithful device.
fn record(dir: &std::path::Path) -> std::path::PathBuf {
    let capture = dir.join("session.pcapng");
    let sequence = dir.join("steps.txt");
    std::fs::write(
        &sequence,
        "send Q1\\n\nexpect 2000 text A1\nwait 150\nsend Q2\\n\nexpect 2000 text A2\nsend Q3\\n\nexpect 2000 text A3\n",
    )
    .unwrap();
    let (addr, device) = line_device(1, faithful);
    let out = sockpit(&[
        "tcp-client",
        &addr,
        "--sequence",
        sequence.to_str().unwrap(),
        "--capture",
        capture.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(device.join().unwrap(), 1);
    capture
}

#[test]
fn replay_against_the_same_device_matches_and_a_changed_one_differs() {
    let dir = std::env::temp_dir().join(format!("sockpit-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = record(&dir);

    // (a) The same device: every answer as recorded, with the recorded gaps.
    let (addr, device) = line_device(1, faithful);
    let started = Instant::now();
    let out = sockpit(&["replay", capture.to_str().unwrap(), "--to", &addr, "--json"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    let tx: Vec<&str> = events
        .iter()
        .filter(|v| v["event"] == "tx")
        .map(|v| v["text"].as_str().unwrap())
        .collect();
    // The display text escapes control bytes.
    assert_eq!(tx, [r"Q1\n", r"Q2\n", r"Q3\n"]);
    let summary = events.iter().find(|v| v["event"] == "replayed").unwrap();
    assert_eq!(summary["matched"], 3, "{summary}");
    assert_eq!(summary["differed"], 0, "{summary}");
    // The recorded 150 ms between the first answer and the second send is kept.
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(device.join().unwrap(), 1);

    // (b) A device that answers the second question differently: exit 5 naming the record
    // and the first differing byte; --as-fast still waits for each answer.
    let (addr, device) = line_device(1, changed_second);
    let out = sockpit(&[
        "replay",
        capture.to_str().unwrap(),
        "--to",
        &addr,
        "--as-fast",
        "--within",
        "1000",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("differs at byte 1") && err.contains(r#"expected "A2\n", got "AX\n""#),
        "{err}"
    );
    assert!(err.contains("differences: 1"), "{err}");
    assert_eq!(device.join().unwrap(), 1);

    // A capture without UDP, replayed with --udp, is a usage error before any traffic.
    let (addr, watcher) = tcp_watcher(300);
    let out = sockpit(&["replay", capture.to_str().unwrap(), "--to", &addr, "--udp"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no UDP conversation"),
        "{}",
        stderr(&out)
    );
    assert_eq!(watcher.join().unwrap(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_udp_compares_each_answer() {
    let dir = std::env::temp_dir().join(format!("sockpit-replay-udp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("udp.pcapng");
    let (addr, device) = udp_device(vec![b"PONG 7"]);
    let out = sockpit(&[
        "udp",
        "--bind",
        "127.0.0.1:0",
        "--to",
        &addr,
        "--send",
        "PING",
        "--capture",
        capture.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    device.join().unwrap();

    let (addr, device) = udp_device(vec![b"PONG 7"]);
    let out = sockpit(&["replay", capture.to_str().unwrap(), "--to", &addr, "--udp"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(device.join().unwrap(), b"PING");

    let (addr, device) = udp_device(vec![b"PONG 8"]);
    let out = sockpit(&[
        "replay",
        capture.to_str().unwrap(),
        "--to",
        &addr,
        "--udp",
        "--within",
        "800",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("record 2 differs at byte 5"), "{err}");
    device.join().unwrap();

    // Without --udp the file has no TCP conversation: said, and nothing is sent.
    let out = sockpit(&["replay", capture.to_str().unwrap(), "--to", &addr]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("add --udp"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tcp_peer_that_closes_first_fails_at_once_not_after_the_budget() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let device = std::thread::Builder::new()
        .name("tcp-closer".into())
        .spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(b"BYE\n").unwrap();
        })
        .unwrap();
    let started = Instant::now();
    let out = sockpit(&[
        "tcp-client",
        &addr,
        "--frame",
        "lf",
        "--expect",
        "exact:HELLO",
        "--within",
        "8000",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("stream ended first") && err.contains(r#"instead: "BYE""#),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    device.join().unwrap();
}

/// Starts `sockpit tcp-server --mock CAPTURE` on a free loopback port; returns the child,
/// its address and the mock's note.
fn mock_server(capture: &std::path::Path) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockpit"))
        .args([
            "tcp-server",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--duration",
            "20",
            "--json",
            "--mock",
            capture.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (mut note, mut addr) = (String::new(), String::new());
    for line in out.lines().take(20) {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        match v["event"].as_str() {
            Some("mock") => v["message"].as_str().unwrap().clone_into(&mut note),
            Some("listening") => {
                v["local"].as_str().unwrap().clone_into(&mut addr);
                break;
            }
            _ => {}
        }
    }
    assert!(
        !addr.is_empty(),
        "the mock server did not say where it listens"
    );
    (child, addr, note)
}

#[test]
fn a_mock_made_from_a_capture_answers_as_the_device_did() {
    let dir = std::env::temp_dir().join(format!("sockpit-mock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = record(&dir);

    let (mut server, addr, note) = mock_server(&capture);
    assert!(note.contains("3 rules from 3 requests"), "{note}");
    // The recording replayed against the mock: every answer as the device gave it.
    let out = sockpit(&[
        "replay",
        capture.to_str().unwrap(),
        "--to",
        &addr,
        "--as-fast",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("differences: 0") || stderr(&out).contains("3 as recorded"),
        "{}",
        stderr(&out)
    );
    // A client that asks the recorded questions gets the recorded answers.
    let out = sockpit(&[
        "tcp-client",
        &addr,
        "--send",
        r"Q2\n",
        "--frame",
        "lf",
        "--expect",
        "exact:A2",
        "--within",
        "2000",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A question the device was never asked: the mock is silent, as a rule table must be.
    let out = sockpit(&[
        "tcp-client",
        &addr,
        "--send",
        r"Q9\n",
        "--expect",
        "prefix:A",
        "--within",
        "400",
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing arrived"), "{}", stderr(&out));
    let _ = server.kill();
    let _ = server.wait();

    // --mock is the device's side: a usage error on tcp-client, and a file without a
    // conversation of the server's kind says so before anything listens.
    let out = sockpit(&["tcp-client", &addr, "--mock", capture.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("tcp-server or udp"),
        "{}",
        stderr(&out)
    );
    let out = sockpit(&[
        "udp",
        "--bind",
        "127.0.0.1:0",
        "--mock",
        capture.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no UDP payload"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}
