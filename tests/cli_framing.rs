//! `--frame`, `--frame-max` and `--checksum` on the command line: the same framers and checks
//! as the window, one record per message in the output, a checksum appended to what is sent
//! and verified on what arrives, and bad rules refused before any socket is opened.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_sockpit");

fn next_event(lines: &mut impl Iterator<Item = String>, wanted: &str) -> Value {
    for line in lines {
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["event"] == wanted {
            return v;
        }
    }
    panic!("the command ended before a {wanted} event");
}

#[test]
fn tcp_server_prints_one_record_per_crlf_line_and_the_partial_one_at_the_close() {
    let mut child = Command::new(BIN)
        .args([
            "tcp-server",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--frame",
            "crlf",
            "--duration",
            "5",
            "--json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let local = next_event(&mut lines, "listening")["local"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut c = TcpStream::connect(&local).unwrap();
    c.set_nodelay(true).unwrap();
    c.write_all(b"TEMP=2").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    c.write_all(b"5\r\nHUM=40\r\nPART").unwrap();
    // Records and notices in the order printed, whether or not the two writes were one read.
    let mut texts = Vec::new();
    let mut notices = Vec::new();
    for line in lines.by_ref() {
        let v: Value = serde_json::from_str(&line).unwrap();
        match v["event"].as_str() {
            Some("rx") => texts.push(v["text"].as_str().unwrap().to_owned()),
            Some("frame") => notices.push(v),
            _ => {}
        }
        if texts.len() == 2 {
            break;
        }
    }
    assert_eq!(texts, ["TEMP=25", "HUM=40"]);
    drop(c);
    let mut ended = None;
    for line in lines.by_ref() {
        let v: Value = serde_json::from_str(&line).unwrap();
        match v["event"].as_str() {
            Some("rx") => texts.push(v["text"].as_str().unwrap().to_owned()),
            Some("frame") if v["notice"] == "ended_inside" => {
                ended = Some(v);
                break;
            }
            Some("frame") => notices.push(v),
            _ => {}
        }
    }
    assert_eq!(
        texts,
        ["TEMP=25", "HUM=40", "PART"],
        "the partial frame goes up at the close"
    );
    assert!(
        notices
            .iter()
            .any(|n| n["notice"] == "pending" && n["bytes"] == 4),
        "PART was said to wait: {notices:?}"
    );
    let ended = ended.expect("the close inside a frame is said");
    assert_eq!(ended["bytes"], 4);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn udp_length_prefix_frames_across_datagrams() {
    let mut child = Command::new(BIN)
        .args([
            "udp",
            "--bind",
            "127.0.0.1:0",
            "--frame",
            "len:0:1:be",
            "--count",
            "2",
            "--listen",
            "10",
            "--json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let local = next_event(&mut lines, "bound")["local"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"\x03ab", &local).unwrap();
    s.send_to(b"c\x02xy", &local).unwrap();
    assert_eq!(next_event(&mut lines, "rx")["text"], "\\x03abc");
    assert_eq!(next_event(&mut lines, "rx")["text"], "\\x02xy");
    assert!(child.wait().unwrap().success());
}

#[test]
fn bad_framing_is_a_usage_error_that_says_why() {
    for (args, says) in [
        (&["--frame", "line"][..], "unknown framing"),
        (&["--frame", "delim:zz"], "not hex"),
        (&["--frame", "len:0:3:be"], "1, 2 or 4"),
        (&["--frame", "idle:0"], "idle gap"),
        (
            &["--frame", "fixed:64", "--frame-max", "16"],
            "over the 16-byte frame limit",
        ),
        (&["--frame", "lf", "--frame-max", "0"], "out of range"),
        (&["--checksum", "crc-17"], "unknown checksum"),
        (&["--checksum-order", "le"], "--checksum"),
    ] {
        let out = Command::new(BIN)
            .args([
                "tcp-server",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--duration",
                "1",
            ])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(
            !err.contains("Listening"),
            "refused before listening: {err}"
        );
    }
}

#[test]
fn modbus_request_gets_its_crc_and_each_reply_says_whether_its_crc_is_right() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let device = std::thread::Builder::new()
        .name("modbus-device".into())
        .spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut request = [0u8; 8];
            s.read_exact(&mut request).unwrap();
            // A good frame, then one with its last CRC byte wrong, apart in time.
            s.write_all(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD])
                .unwrap();
            std::thread::sleep(Duration::from_millis(150));
            s.write_all(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCE])
                .unwrap();
            std::thread::sleep(Duration::from_millis(800));
            request
        })
        .unwrap();
    let out = Command::new(BIN)
        .args([
            "tcp-client",
            &format!("127.0.0.1:{port}"),
            "--hex",
            "01 03 00 00 00 0A",
            "--checksum",
            "crc16-modbus",
            "--frame",
            "fixed:8",
            "--quiet-ms",
            "600",
            "--json",
        ])
        .output()
        .unwrap();
    let request = device.join().unwrap();
    assert_eq!(
        request,
        [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD],
        "CRC-16/MODBUS appended low byte first"
    );
    let records: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] == "rx")
        .collect();
    let verdicts: Vec<_> = records.iter().map(|r| r["checksum_ok"].clone()).collect();
    assert_eq!(
        verdicts,
        [Value::Bool(true), Value::Bool(false)],
        "{records:?}"
    );
}
