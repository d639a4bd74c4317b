//! `--script FILE` on the command line, against std-socket peers on 127.0.0.1: a counter that
//! persists between requests, a Modbus/TCP answer built with the helpers, a runtime error
//! that stops the script (with its line) but not the session, a compile error refused before
//! any traffic, an endless loop stopped by the operation limit, and UDP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_sockpit");
/// The longest a peer waits for an answer.
const WAIT: Duration = Duration::from_secs(5);

/// `source` in a file of its own, named for the test.
fn script_file(name: &str, source: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("sockpit-script-{}-{name}.rhai", std::process::id()));
    std::fs::write(&path, source).unwrap();
    path
}

fn sockpit() -> Command {
    let mut c = Command::new(BIN);
    c.env("LC_ALL", "C.UTF-8").env_remove("LANGUAGE");
    c
}

type Lines = Box<dyn Iterator<Item = String>>;

/// Reads JSON lines until an event named `wanted`.
fn next_event(lines: &mut Lines, wanted: &str) -> Value {
    for line in lines.by_ref() {
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["event"] == wanted {
            return v;
        }
    }
    panic!("the command ended before a {wanted} event");
}

/// A `tcp-server --json` on 127.0.0.1 with the script and `extra` arguments, and its address.
fn tcp_server(path: &PathBuf, extra: &[&str], secs: &str) -> (Child, Lines, String) {
    let mut command = sockpit();
    command
        .args([
            "tcp-server",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--duration",
            secs,
            "--json",
            "--script",
        ])
        .arg(path)
        .args(extra);
    spawn_json(&mut command, "listening")
}

/// A `udp --json` on 127.0.0.1 with the script and `extra` arguments, listening 10 s, and the
/// address it bound.
fn udp_script(path: &PathBuf, extra: &[&str]) -> (Child, Lines, String) {
    let mut command = sockpit();
    command
        .args(["udp", "--bind", "127.0.0.1:0"])
        .args(extra)
        .args(["--listen", "10", "--json", "--script"])
        .arg(path);
    spawn_json(&mut command, "bound")
}

/// Starts `command` (a `--json` run), reads its lines until the `first` event, and returns
/// the child, the rest of its lines, and the `local` address that event names.
fn spawn_json(command: &mut Command, first: &str) -> (Child, Lines, String) {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut lines: Lines = Box::new(
        BufReader::new(child.stdout.take().unwrap())
            .lines()
            .map_while(Result::ok),
    );
    let local = next_event(&mut lines, first)["local"]
        .as_str()
        .unwrap()
        .to_owned();
    (child, lines, local)
}

fn connect(local: &str) -> TcpStream {
    let c = TcpStream::connect(local).unwrap();
    c.set_nodelay(true).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c
}

/// Sends `request` and reads exactly `len` bytes of answer.
fn ask(c: &mut TcpStream, request: &[u8], len: usize) -> Vec<u8> {
    c.write_all(request).unwrap();
    let mut answer = vec![0; len];
    c.read_exact(&mut answer).unwrap();
    answer
}

/// Whether anything arrives on `c` within `ms`.
fn silent_for(c: &mut TcpStream, ms: u64) -> bool {
    c.set_read_timeout(Some(Duration::from_millis(ms))).unwrap();
    let mut buf = [0u8; 64];
    let silent = match c.read(&mut buf) {
        Ok(n) => n == 0,
        Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    };
    c.set_read_timeout(Some(WAIT)).unwrap();
    silent
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

const COUNTER: &str =
    "let count = 0;\nfn on_receive(data, peer) {\n    count += 1;\n    `${count}`\n}\n";

#[test]
fn a_counter_answers_each_request_with_its_count() {
    let path = script_file("counter", COUNTER);
    let (child, _lines, local) = tcp_server(&path, &[], "10");
    let mut c = connect(&local);
    for want in ["1", "2", "3"] {
        assert_eq!(ask(&mut c, b"next", 1), want.as_bytes());
    }
    stop(child);
}

/// Answers Read Holding Registers (function 3) with register i = count × (i + 1), the MBAP
/// header rebuilt around the PDU.
const MODBUS: &str = r#"let count = 0;
fn on_receive(data, peer) {
    if data.len() < 12 || data[7] != 3 { return (); }
    count += 1;
    print(decode(data, "Modbus/TCP").summary);
    let n = data[10] * 256 + data[11];
    let pdu = hex("03");
    pdu.push(n * 2);
    for i in 0..n { pdu += u16_be(count * (i + 1)); }
    data.extract(0, 4) + u16_be(pdu.len() + 1) + data.extract(6, 1) + pdu
}
"#;

#[test]
fn a_modbus_read_holding_registers_gets_the_counter_as_its_registers() {
    let path = script_file("modbus", MODBUS);
    let (child, mut lines, local) = tcp_server(&path, &[], "10");
    let mut c = connect(&local);
    let request = [
        0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x64, 0x00, 0x02,
    ];
    assert_eq!(
        ask(&mut c, &request, 13),
        [
            0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x01, 0x03, 0x04, 0x00, 0x01, 0x00, 0x02
        ]
    );
    assert_eq!(
        ask(&mut c, &request, 13),
        [
            0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x01, 0x03, 0x04, 0x00, 0x02, 0x00, 0x04
        ]
    );
    let printed = next_event(&mut lines, "script_print");
    assert!(
        printed["text"].as_str().unwrap().contains("100"),
        "the decoder's summary names the address: {printed}"
    );
    stop(child);
}

/// Indexes past the end of the record on the second request, on line 5.
const FAILS_SECOND: &str = "let count = 0;\nfn on_receive(data, peer) {\n    count += 1;\n    if count == 2 {\n        let x = data[100];\n    }\n    `${count}`\n}\n";

#[test]
fn a_runtime_error_stops_the_script_with_its_line_and_the_session_goes_on() {
    let path = script_file("fails", FAILS_SECOND);
    let (mut child, mut lines, local) = tcp_server(&path, &["--rule", "exact:PING=>PONG"], "10");
    let mut c = connect(&local);
    assert_eq!(ask(&mut c, b"a", 1), b"1");
    c.write_all(b"b").unwrap();
    let error = next_event(&mut lines, "script_error");
    assert_eq!(error["line"], 5, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("line 5"),
        "{error}"
    );
    assert!(silent_for(&mut c, 300), "the failed call answers nothing");
    // The script answers no more; the rules and the server go on.
    c.write_all(b"c").unwrap();
    assert!(silent_for(&mut c, 300), "a stopped script answers nothing");
    assert_eq!(ask(&mut c, b"PING", 4), b"PONG");
    let mut second = connect(&local);
    assert_eq!(ask(&mut second, b"PING", 4), b"PONG");
    assert!(child.try_wait().unwrap().is_none(), "the server still runs");
    stop(child);
}

#[test]
fn a_compile_error_is_a_usage_error_naming_the_line_and_nothing_is_sent() {
    let path = script_file(
        "syntax",
        "let count = 0;\nfn on_receive(data, peer) {\n    count += ;\n}\n",
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let out = sockpit()
        .args(["tcp-client", &addr, "--send", "hello", "--script"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    listener.set_nonblocking(true).unwrap();
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "the peer saw no connection"
    );
    let out = sockpit()
        .args([
            "udp",
            "--bind",
            "127.0.0.1:0",
            "--script",
            "/nonexistent/sockpit.rhai",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing file is a usage error"
    );
}

#[test]
fn an_endless_loop_is_stopped_by_the_operation_limit_and_the_server_shuts_down_cleanly() {
    let path = script_file(
        "loop",
        "fn on_receive(data, peer) {\n    if text(data) == \"spin\" {\n        loop {}\n    }\n    \"ok\"\n}\n",
    );
    let started = Instant::now();
    let (mut child, mut lines, local) = tcp_server(&path, &["--rule", "exact:PING=>PONG"], "3");
    let mut c = connect(&local);
    assert_eq!(ask(&mut c, b"hi", 2), b"ok");
    c.write_all(b"spin").unwrap();
    let error = next_event(&mut lines, "script_error");
    assert!(
        error["reason"].as_str().unwrap().contains("operations"),
        "said in a sentence: {error}"
    );
    assert_eq!(ask(&mut c, b"PING", 4), b"PONG", "the worker still answers");
    drop(c);
    next_event(&mut lines, "stopped");
    assert!(child.wait().unwrap().success());
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn udp_answers_each_sender_with_a_count_and_a_crc() {
    let path = script_file(
        "udp",
        "let count = 0;\nfn on_receive(data, peer) {\n    count += 1;\n    let body = data + u16_be(count);\n    body + u16_le(crc16_modbus(body))\n}\n",
    );
    let (mut child, _lines, local) = udp_script(&path, &["--count", "2"]);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    for count in 1u16..=2 {
        s.send_to(&[0x01, 0x03], &local).unwrap();
        let mut buf = [0u8; 64];
        let (n, _) = s.recv_from(&mut buf).unwrap();
        let mut want = vec![0x01, 0x03];
        want.extend(count.to_be_bytes());
        let crc = sockpit::codec::checksum::ChecksumKind::Crc16Modbus.value(&want) as u16;
        want.extend(crc.to_le_bytes());
        assert_eq!(&buf[..n], want.as_slice());
    }
    assert!(child.wait().unwrap().success());
}

#[test]
fn after_sends_an_answer_later() {
    let path = script_file(
        "after",
        "fn on_receive(data, peer) {\n    [\"now\", after(300, \"later\")]\n}\n",
    );
    let (child, _lines, local) = tcp_server(&path, &[], "10");
    let mut c = connect(&local);
    let asked = Instant::now();
    assert_eq!(ask(&mut c, b"?", 3), b"now");
    let mut later = [0u8; 5];
    c.read_exact(&mut later).unwrap();
    assert_eq!(&later, b"later");
    assert!(
        asked.elapsed() >= Duration::from_millis(250),
        "{:?}",
        asked.elapsed()
    );
    stop(child);
}

#[test]
fn a_tcp_client_script_answers_what_the_server_says() {
    let path = script_file(
        "client",
        "fn on_receive(data, peer) {\n    \"ack:\" + text(data)\n}\n",
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let device = std::thread::Builder::new()
        .name("tcp-device".into())
        .spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            s.write_all(b"hello").unwrap();
            let mut answer = [0u8; 9];
            s.read_exact(&mut answer).unwrap();
            answer
        })
        .unwrap();
    let out = sockpit()
        .args(["tcp-client", &addr, "--timeout", "2", "--script"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(&device.join().unwrap(), b"ack:hello");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Reads one `\n`-ended line from `c`.
fn read_line(c: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.last() != Some(&b'\n') {
        c.read_exact(&mut byte).unwrap();
        line.push(byte[0]);
    }
    String::from_utf8(line).unwrap()
}

/// Greets each client with its address; once two are there, sends both a tick every 50 ms;
/// the third tick stops the timer.
const TICKER: &str = r#"let ticks = 0;
let clients = 0;
fn on_connect(peer) {
    clients += 1;
    if clients == 2 { every(50); }
    "hello " + peer + "\n"
}
fn on_receive(data, peer) { () }
fn on_timer() {
    ticks += 1;
    if ticks == 3 { every(0); }
    "tick " + ticks + "\n"
}
"#;

#[test]
fn a_tcp_server_script_greets_each_client_and_ticks_to_all_until_it_stops_its_timer() {
    let path = script_file("ticker", TICKER);
    let (child, _lines, local) = tcp_server(&path, &[], "10");
    let mut a = connect(&local);
    let mut b = connect(&local);
    for c in [&mut a, &mut b] {
        let me = c.local_addr().unwrap();
        assert_eq!(read_line(c), format!("hello {me}\n"));
    }
    for c in [&mut a, &mut b] {
        for n in 1..=3 {
            assert_eq!(read_line(c), format!("tick {n}\n"));
        }
    }
    assert!(silent_for(&mut a, 300), "every(0) stopped the timer");
    stop(child);
}

#[test]
fn a_tcp_client_script_greets_the_device_on_connect() {
    let path = script_file(
        "greet",
        "fn on_connect(peer) { hex(\"AA 55\") + blob(peer) }\nfn on_receive(data, peer) { () }\n",
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let device = std::thread::Builder::new()
        .name("tcp-device".into())
        .spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            got
        })
        .unwrap();
    let out = sockpit()
        .args(["tcp-client", &addr, "--timeout", "1", "--script"])
        .arg(&path)
        .output()
        .unwrap();
    let mut want = vec![0xAA, 0x55];
    want.extend(addr.as_bytes());
    assert_eq!(device.join().unwrap(), want);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_udp_script_welcomes_a_new_sender_and_sends_it_the_ticks() {
    let path = script_file(
        "udp-ticker",
        "let n = 0;\nfn on_connect(peer) { every(30); \"welcome\" }\nfn on_receive(data, peer) { \"ok\" }\nfn on_timer() { n += 1; if n == 2 { every(0); } `t${n}` }\n",
    );
    let (child, _lines, local) = udp_script(&path, &[]);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.send_to(b"hi", &local).unwrap();
    let mut buf = [0u8; 64];
    for want in [&b"welcome"[..], b"ok", b"t1", b"t2"] {
        let (n, _) = s.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], want);
    }
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(s.recv_from(&mut buf).is_err(), "every(0) stopped the timer");
    stop(child);
}
