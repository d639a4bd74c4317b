//! The built binary's subcommands against real loopback peers: happy paths, `--json` fields,
//! exit codes (2 usage, 3 network, 4 timeout), and the GUI start-up options.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_sockpit");
const WAIT: Duration = Duration::from_secs(20);

fn sockpit(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A one-shot TCP peer that answers whatever it reads with `reply`.
fn tcp_replier(reply: &'static [u8]) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::Builder::new()
        .name("tcp-replier".into())
        .spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).unwrap();
            s.write_all(reply).unwrap();
            // Keep the connection open a little, as a device would.
            std::thread::sleep(Duration::from_millis(800));
            buf[..n].to_vec()
        })
        .unwrap();
    (port, t)
}

#[test]
fn tcp_client_sends_and_prints_the_reply_as_json() {
    let (port, peer) = tcp_replier("你好 OK\r\n".as_bytes());
    let out = sockpit(&[
        "tcp-client",
        &format!("127.0.0.1:{port}"),
        "--send",
        "AT+VER?\\r\\n",
        "--json",
        "--hex-out",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(peer.join().unwrap(), b"AT+VER?\r\n");
    let lines = json_lines(&out);
    let connected = lines.iter().find(|v| v["event"] == "connected").unwrap();
    assert_eq!(connected["remote"], format!("127.0.0.1:{port}"));
    let rx = lines.iter().find(|v| v["event"] == "rx").unwrap();
    assert_eq!(rx["text"], "你好 OK\\r\\n");
    assert_eq!(rx["len"], 11);
    assert_eq!(rx["peer"], format!("127.0.0.1:{port}"));
    assert_eq!(rx["hex"], "E4 BD A0 E5 A5 BD 20 4F 4B 0D 0A");
    let tx = lines.iter().find(|v| v["event"] == "tx").unwrap();
    assert_eq!(tx["text"], "AT+VER?\\r\\n");
}

#[test]
fn tcp_client_decodes_in_the_chosen_encoding() {
    let (port, _peer) = tcp_replier(&[0xC4, 0xE3, 0xBA, 0xC3]);
    let out = sockpit(&[
        "tcp-client",
        &format!("127.0.0.1:{port}"),
        "--send",
        "你好",
        "--encoding",
        "gbk",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("RX 127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("4 B: 你好"), "{stdout}");
}

#[test]
fn exit_codes_for_refused_timeout_and_bad_hex() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = sockpit(&["tcp-client", &format!("127.0.0.1:{port}"), "--send", "x"]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(
        stderr(&refused).contains("Nothing is listening on port"),
        "{}",
        stderr(&refused)
    );

    // A server that accepts but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let timed_out = sockpit(&[
        "tcp-client",
        &format!("127.0.0.1:{port}"),
        "--send",
        "x",
        "--timeout",
        "0.5",
    ]);
    assert_eq!(timed_out.status.code(), Some(4), "{}", stderr(&timed_out));
    assert!(stderr(&timed_out).contains("no reply"));

    let bad_hex = sockpit(&["tcp-client", "127.0.0.1:9", "--hex", "48 6G"]);
    assert_eq!(bad_hex.status.code(), Some(2));
    assert!(
        stderr(&bad_hex).contains("position"),
        "{}",
        stderr(&bad_hex)
    );

    let usage = sockpit(&["tcp-client", "127.0.0.1"]);
    assert_eq!(usage.status.code(), Some(2));
    let encoding = sockpit(&["tcp-client", "127.0.0.1:9", "--encoding", "klingon"]);
    assert_eq!(encoding.status.code(), Some(2));
    assert!(stderr(&encoding).contains("use one of"));
}

#[test]
fn tcp_client_stdin_keeps_one_connection_and_sends_each_line() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut child = Command::new(BIN)
        .args([
            "tcp-client",
            &format!("127.0.0.1:{port}"),
            "--stdin",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"one\ntwo\n").unwrap();
    let mut got = [0u8; 8];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"one\ntwo\n");
    s.write_all(b"ack").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert!(
        lines
            .iter()
            .any(|v| v["event"] == "rx" && v["text"] == "ack")
    );
    assert_eq!(lines.iter().filter(|v| v["event"] == "tx").count(), 2);
    // Only one connection was made.
    l.set_nonblocking(true).unwrap();
    assert!(l.accept().is_err());
}

/// Reads the child's JSON lines until one has `event == wanted`.
fn wait_event(lines: &mut impl Iterator<Item = String>, wanted: &str) -> Value {
    for line in lines {
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["event"] == wanted {
            return v;
        }
    }
    panic!("the command ended before a {wanted} event");
}

#[test]
fn tcp_server_echoes_and_prints_records() {
    let mut child = Command::new(BIN)
        .args([
            "tcp-server",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--echo",
            "--duration",
            "5",
            "--send",
            "hello\\r\\n",
            "--json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let listening = wait_event(&mut lines, "listening");
    let local = listening["local"].as_str().unwrap().to_owned();
    let mut c = TcpStream::connect(&local).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let mut greeting = [0u8; 7];
    c.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"hello\r\n", "--send greets each client");
    c.write_all(b"ping").unwrap();
    let mut back = [0u8; 4];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");
    let rx = wait_event(&mut lines, "rx");
    assert_eq!(rx["text"], "ping");
    assert_eq!(rx["peer"], c.local_addr().unwrap().to_string());
    let tx = wait_event(&mut lines, "tx");
    assert_eq!(tx["text"], "ping", "the echo is printed as sent");
    let stopped = wait_event(&mut lines, "stopped");
    assert_eq!(stopped["clients_closed"], 1);
    assert!(child.wait().unwrap().success());
}

#[test]
fn tcp_server_port_in_use_is_a_network_error() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let out = sockpit(&["tcp-server", "--bind", "127.0.0.1", "--port", &port]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("Another program already uses port"));
}

#[cfg(target_os = "linux")]
#[test]
fn ports_below_1024_without_rights_are_explained() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root {
        // Not root: the test user itself lacks the right, which is what we want to show.
        let out = sockpit(&["tcp-server", "--bind", "127.0.0.1", "--port", "81"]);
        assert_eq!(out.status.code(), Some(3));
        assert!(stderr(&out).contains("Ports below 1024 need administrator rights"));
        return;
    }
    // Root may bind anything: run the binary as the unprivileged user `nobody`.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            BIN,
            "tcp-server",
            "--bind",
            "127.0.0.1",
            "--port",
            "81",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Ports below 1024 need administrator rights"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn udp_sends_and_prints_the_reply_with_its_sender() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let port = peer.local_addr().unwrap().port();
    let echo = std::thread::Builder::new()
        .name("udp-echo".into())
        .spawn(move || {
            let mut buf = [0u8; 64];
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            peer.send_to(&buf[..n], from).unwrap();
            buf[..n].to_vec()
        })
        .unwrap();
    let out = sockpit(&[
        "udp",
        "--bind",
        "127.0.0.1:0",
        "--to",
        &format!("127.0.0.1:{port}"),
        "--hex",
        "01 03 00 00",
        "--json",
        "--hex-out",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(echo.join().unwrap(), [1, 3, 0, 0]);
    let lines = json_lines(&out);
    let rx = lines.iter().find(|v| v["event"] == "rx").unwrap();
    assert_eq!(rx["peer"], format!("127.0.0.1:{port}"));
    assert_eq!(rx["hex"], "01 03 00 00");
    assert!(lines.iter().any(|v| v["event"] == "bound"));
}

#[test]
fn udp_to_a_closed_port_exits_with_port_unreachable() {
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = sockpit(&[
        "udp",
        "--bind",
        "127.0.0.1:0",
        "--to",
        &format!("127.0.0.1:{port}"),
        "--send",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Port unreachable"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn udp_reply_answers_each_sender() {
    let mut child = Command::new(BIN)
        .args([
            "udp",
            "--bind",
            "127.0.0.1:0",
            "--reply",
            "pong",
            "--count",
            "1",
            "--json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let bound = wait_event(&mut lines, "bound");
    let local = bound["local"].as_str().unwrap().to_owned();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.send_to(b"ping", &local).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = s.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    assert_eq!(from.to_string(), local);
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success());
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("udp --count 1 did not stop after one datagram");
}

#[test]
fn broadcast_usr_iot_on_loopback_prints_the_responder() {
    let responder = UdpSocket::bind("0.0.0.0:0").unwrap();
    responder
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let port = responder.local_addr().unwrap().port();
    let module = std::thread::Builder::new()
        .name("fake-module".into())
        .spawn(move || {
            let mut buf = [0u8; 64];
            for _ in 0..100 {
                if let Ok((n, from)) = responder.recv_from(&mut buf)
                    && &buf[..n] == b"HF-A11ASSISTHREAD"
                {
                    responder
                        .send_to(b"127.0.0.1,ACCF23A1B2C3,HF-LPB100", from)
                        .unwrap();
                    return;
                }
            }
        })
        .unwrap();
    let out = sockpit(&[
        "broadcast",
        "--interface",
        "lo",
        "--preset",
        "usr-iot",
        "--port",
        &port.to_string(),
        "--listen",
        "0.7",
        "--json",
    ]);
    module.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    let r = lines.iter().find(|v| v["event"] == "responder").unwrap();
    assert_eq!(r["address"], format!("127.0.0.1:{port}"));
    assert_eq!(r["replies"], 1);
    assert_eq!(r["fields"]["MAC"], "AC:CF:23:A1:B2:C3");
    assert_eq!(r["fields"]["Module"], "HF-LPB100");
    assert!(r["rtt_ms"].as_f64().unwrap() >= 0.0);
    let done = lines.iter().find(|v| v["event"] == "finished").unwrap();
    assert_eq!(done["responders"], 1);

    let missing = sockpit(&["broadcast", "--interface", "nosuch0", "--send", "x"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no interface named"));
}

#[test]
fn wol_rejects_a_bad_mac_and_sends_a_magic_packet() {
    // Port 9 needs rights; the CI runs as root. Without it only the exit codes are shown.
    let receiver = UdpSocket::bind("0.0.0.0:9").ok();
    let bad = sockpit(&["wol", "00:11:22", "--interface", "lo"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("12 hex digits"));
    // Twelve hex digits in an unusual grouping are a typo as often as not: refused.
    for odd in [
        "001:122:334:455",
        "0.0.1.1.2.2.3.3.4.4.5.5",
        "00:11:22:33:4:455",
        "00:11-22:33:44:55",
    ] {
        let out = sockpit(&["wol", odd, "--interface", "lo"]);
        assert_eq!(out.status.code(), Some(2), "{odd}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not written like a MAC address"),
            "{odd}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty(), "{odd}: nothing is reported sent");
    }
    let Some(receiver) = receiver else {
        eprintln!("SKIPPED magic-packet receipt: cannot bind UDP port 9 here");
        return;
    };
    receiver
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 200];
    assert!(
        receiver.recv_from(&mut buf).is_err(),
        "no magic packet was sent for the refused forms"
    );
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    for (form, mac) in [
        ("00-11-22-33-44-55", [0x00, 0x11, 0x22, 0x33, 0x44, 0x55]),
        ("AABB.CCDD.EEFF", [0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF]),
    ] {
        let out = sockpit(&["wol", form, "--interface", "lo"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let (n, _) = receiver.recv_from(&mut buf).unwrap();
        assert_eq!(n, 102);
        assert_eq!(&buf[..6], &[0xFF; 6]);
        assert_eq!(&buf[6..12], &mac);
        // The confirmation names the MAC used, not the text typed.
        let shown = mac.map(|b| format!("{b:02x}")).join(":");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("Magic packet for {shown} sent")),
            "{stdout}"
        );
    }
}

/// The window under Xvfb, with its own settings directory; killed on drop.
struct Gui(Child, std::path::PathBuf);

impl Gui {
    fn start(args: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sockpit-cli-gui-{}-{}",
            std::process::id(),
            args.join("_").replace([':', '.', '/'], "_")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("xvfb-run")
            .args(["-a", BIN, "gui"])
            .args(args)
            .env("SOCKPIT_STATE_DIR", &dir)
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xvfb-run (scripts/install-deps.sh installs it)");
        Self(child, dir)
    }
}

impl Drop for Gui {
    fn drop(&mut self) {
        // End the app (not xvfb-run, whose command line also names it); xvfb-run then stops
        // its Xvfb and exits. Killing xvfb-run first would leave the X server behind.
        let out = Command::new("pgrep")
            .args(["-f", &format!("{BIN} gui")])
            .output()
            .unwrap();
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "sockpit" {
                let _ = Command::new("kill").arg(pid).status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

#[test]
fn gui_start_up_options_may_repeat_and_each_opens_its_own_session() {
    let free_port = || {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ports = [free_port(), free_port()];
    let peers = [
        TcpListener::bind("127.0.0.1:0").unwrap(),
        TcpListener::bind("127.0.0.1:0").unwrap(),
    ];
    for p in &peers {
        p.set_nonblocking(true).unwrap();
    }
    let listen: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let connect: Vec<String> = peers
        .iter()
        .map(|p| p.local_addr().unwrap().to_string())
        .collect();
    let _gui = Gui::start(&[
        "--tab",
        "tcp-server",
        "--listen",
        &listen[0],
        "--listen",
        &listen[1],
        "--connect",
        &connect[0],
        "--connect",
        &connect[1],
        "--encoding",
        "gbk",
    ]);
    let deadline = Instant::now() + Duration::from_mins(1);
    let mut server_ok = [false; 2];
    let mut client_ok = [false; 2];
    while Instant::now() < deadline && !(server_ok == [true; 2] && client_ok == [true; 2]) {
        for i in 0..2 {
            if !server_ok[i] {
                server_ok[i] = TcpStream::connect(("127.0.0.1", ports[i])).is_ok();
            }
            if !client_ok[i] {
                client_ok[i] = peers[i].accept().is_ok();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        server_ok, [true; 2],
        "the window's two TCP Server sessions listened on {ports:?}"
    );
    assert_eq!(
        client_ok, [true; 2],
        "the window's two TCP Client sessions each connected to its test peer"
    );
}

#[test]
fn gui_help_says_the_start_up_options_may_repeat() {
    let out = sockpit(&["gui", "--help"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let help = String::from_utf8_lossy(&out.stdout);
    for option in ["--listen", "--connect", "--bind"] {
        assert!(help.contains(option), "{help}");
    }
    assert_eq!(
        help.matches("repeat for more sessions").count(),
        3,
        "{help}"
    );
}

#[test]
fn subnet_prints_every_field_and_the_binary_and() {
    let out = sockpit(&["subnet", "192.168.1.12/24", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = &json_lines(&out)[0];
    assert_eq!(v["network"], "192.168.1.0");
    assert_eq!(v["broadcast"], "192.168.1.255");
    assert_eq!(v["hosts"], 254);
    assert_eq!(v["class"], "C");
    assert_eq!(v["kind"], "Private");
    assert_eq!(
        v["binary"]["address"],
        "11000000.10101000.00000001.00001100"
    );
    assert_eq!(v["binary"]["mask"], "11111111.11111111.11111111.00000000");
    assert_eq!(
        v["binary"]["network"],
        "11000000.10101000.00000001.00000000"
    );
    let readable = sockpit(&["subnet", "10.1.2.3", "255.255.240.0"]);
    let text = String::from_utf8_lossy(&readable.stdout);
    assert!(text.contains("Network     10.1.0.0"), "{text}");
    assert!(text.contains("= 00001010.00000001.00000000.00000000   network 10.1.0.0"));
    let bad = sockpit(&["subnet", "300.1.1.1/24"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("300.1.1.1"));
}

#[test]
fn sockets_lists_a_listener_of_this_test() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let local = l.local_addr().unwrap().to_string();
    let out = sockpit(&["sockets", "--json", "--filter", &local]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = json_lines(&out);
    assert!(
        rows.iter()
            .any(|r| r["local"] == local.as_str() && r["state"] == "LISTEN" && r["proto"] == "TCP"),
        "{rows:?}"
    );
}

#[test]
fn neighbours_prints_rows_with_the_documented_fields() {
    let out = sockpit(&["neighbours", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for row in json_lines(&out) {
        for field in ["ip", "mac", "interface", "state", "vendor"] {
            assert!(row.get(field).is_some(), "{field} missing in {row}");
        }
    }
}

#[test]
fn sweep_of_a_loopback_range_finds_the_host_and_its_open_port() {
    // 127.0.0.2 is on the loopback interface: it answers UDP with port unreachable and
    // accepts TCP on a port this test listens on.
    let l = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let out = sockpit(&[
        "sweep",
        "127.0.0.0/30",
        "--ports",
        &port,
        "--no-dns",
        "--timeout-ms",
        "300",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = json_lines(&out);
    let host = rows
        .iter()
        .find(|r| r["event"] == "host" && r["ip"] == "127.0.0.2")
        .unwrap_or_else(|| panic!("{rows:?}"));
    let found: Vec<&str> = host["found_by"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        found.contains(&format!("TCP {port} open").as_str()),
        "{found:?}"
    );
    assert!(
        stderr(&out).contains("probing hosts"),
        "a progress bar on stderr"
    );

    // Loopback ranges only: even if a size check failed, no probe could leave this machine.
    let huge = sockpit(&["sweep", "127.0.0.0/8"]);
    assert_eq!(huge.status.code(), Some(2));
    assert!(stderr(&huge).contains("refused"));
    let big = sockpit(&["sweep", "127.0.0.0/20"]);
    assert_eq!(big.status.code(), Some(2));
    assert!(stderr(&big).contains("--yes"));
}

/// Runs the binary and asserts a usage error (exit 2) whose message contains `says`, with no
/// panic and nothing printed on stdout (no "connected", "bound" or "probing" line).
fn usage_error(args: &[&str], says: &str) -> String {
    let out = sockpit(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
    assert!(
        out.stdout.is_empty(),
        "{args:?} printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

#[test]
fn subnet_without_an_address_or_prefix_is_a_usage_error() {
    for input in ["/", ",", "//", " / , "] {
        usage_error(&["subnet", input], "Type an address");
    }
    usage_error(&["subnet", "1.2.3.4/"], "Nothing after \"/\"");
    usage_error(&["subnet", "2001:db8::/"], "0–128");
}

/// Asserts that nothing connected to `listener` (non-blocking accept finds no one).
fn assert_no_connection(listener: &TcpListener) {
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
        Ok((_, peer)) => panic!("{peer} connected although the arguments were refused"),
    }
}

#[test]
fn huge_infinite_or_nan_times_are_refused_before_any_traffic() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp = format!("127.0.0.1:{}", peer.local_addr().unwrap().port());
    for secs in ["inf", "1e19", "9.3e18", "nan", "-1", "0", "31536001"] {
        // `--flag=VALUE`, so clap takes "-1" as the value, not as a flag.
        let timeout = format!("--timeout={secs}");
        let listen = format!("--listen={secs}");
        let duration = format!("--duration={secs}");
        let err = usage_error(&["tcp-client", &tcp, "--send", "x", &timeout], "--timeout");
        assert!(
            err.contains("0.001 to 31536000 seconds") || err.contains("not a number"),
            "{secs}: {err}"
        );
        usage_error(&["udp", "--to", &udp, "--send", "x", &timeout], "--timeout");
        usage_error(&["udp", "--bind", "127.0.0.1:0", &listen], "--listen");
        usage_error(&["tcp-server", "--port", "0", &duration], "--duration");
        usage_error(
            &["broadcast", "-i", "lo", "--send", "x", &listen],
            "--listen",
        );
    }
    let year_and_a_ms = "31536000001";
    usage_error(
        &[
            "tcp-client",
            &tcp,
            "--send",
            "x",
            "--quiet-ms",
            "18446744073709551615",
        ],
        "--quiet-ms",
    );
    usage_error(
        &[
            "udp",
            "--to",
            &udp,
            "--send",
            "x",
            "--quiet-ms",
            year_and_a_ms,
        ],
        "--quiet-ms",
    );
    usage_error(
        &[
            "broadcast",
            "-i",
            "lo",
            "--send",
            "x",
            "--every-ms",
            year_and_a_ms,
        ],
        "--every-ms",
    );
    usage_error(
        &[
            "sweep",
            "127.0.0.0/30",
            "--timeout-ms",
            "18446744073709551615",
        ],
        "--timeout-ms",
    );
    assert_no_connection(&listener);
    peer.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 16];
    assert!(peer.recv_from(&mut buf).is_err(), "no datagram was sent");
}

#[test]
fn sweep_port_zero_is_a_usage_error() {
    usage_error(
        &["sweep", "127.0.0.0/30", "--ports", "80,0", "--no-dns"],
        "--ports",
    );
}

#[test]
fn invalid_host_names_are_usage_errors_with_the_reason() {
    let long = format!("{}:80", "a".repeat(300));
    let cases: [(&str, &str); 5] = [
        ("a b:80", "cannot be in a host name"),
        (&long, "DNS allows at most 253"),
        ("[::1:7001", "not closed"),
        ("256.1.1.1:80", "is not an IPv4 address"),
        ("1.2.3.4.5:80", "is not an IPv4 address"),
    ];
    for (target, says) in cases {
        let err = usage_error(&["tcp-client", target, "--send", "x"], says);
        assert!(
            err.len() < 400,
            "the message quotes a bounded excerpt: {err}"
        );
        usage_error(&["udp", "--to", target, "--send", "x"], says);
    }
}

#[test]
fn ipv6_broadcast_and_oversized_datagrams_are_usage_errors() {
    let err = usage_error(
        &[
            "broadcast",
            "-i",
            "lo",
            "--target",
            "ff02::1",
            "--send",
            "x",
        ],
        "IPv6 has no broadcast",
    );
    assert!(!err.contains("unexpected"), "{err}");
    usage_error(
        &["broadcast", "-i", "lo", "--target", "::1", "--send", "x"],
        "IPv6 has no broadcast",
    );
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = format!("127.0.0.1:{}", peer.local_addr().unwrap().port());
    let big = "x".repeat(70_000);
    usage_error(
        &["udp", "--to", &to, "--send", &big],
        "65,507 bytes over IPv4",
    );
    usage_error(
        &["broadcast", "-i", "lo", "--send", &big],
        "65,507 bytes over IPv4",
    );
    // The largest datagram that fits is still sent.
    let fits = "y".repeat(65_507);
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let out = sockpit(&["udp", "--to", &to, "--send", &fits, "--timeout", "0.2"]);
    assert_eq!(out.status.code(), Some(4), "no reply: {}", stderr(&out));
    let mut buf = vec![0u8; 70_000];
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(n, 65_507);
}

#[test]
fn a_hex_error_quotes_a_window_not_the_whole_argument() {
    let odd = format!("{}4", "48".repeat(60_000));
    let err = usage_error(&["tcp-client", "127.0.0.1:9", "--hex", &odd], "odd number");
    assert!(err.len() < 300, "{} bytes: {err}", err.len());
    assert!(err.contains("120001"), "says how many digits: {err}");
    let bad = format!("{}G", "48 ".repeat(40_000));
    let err = usage_error(
        &["tcp-client", "127.0.0.1:9", "--hex", &bad],
        "position 120001",
    );
    assert!(err.len() < 300, "{} bytes: {err}", err.len());
}

#[test]
fn a_receive_buffer_out_of_range_is_a_usage_error_before_binding() {
    usage_error(
        &["udp", "--bind", "127.0.0.1:0", "--recv-buffer", "2000000"],
        "0..=1048576",
    );
    usage_error(
        &["udp", "--bind", "127.0.0.1:0", "--recv-buffer=-1"],
        "--recv-buffer",
    );
}

#[test]
fn a_capture_folder_that_cannot_be_made_is_a_usage_error_before_the_window_opens() {
    usage_error(
        &[
            "gui",
            "--listen",
            "127.0.0.1:0",
            "--capture-dir",
            "/proc/sockpit-none/caps",
        ],
        "cannot make the capture folder /proc/sockpit-none/caps",
    );
}
