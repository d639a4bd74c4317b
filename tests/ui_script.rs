//! The script box driven by labels, as a user would: a script put in by clicking answers real
//! loopback clients from the worker, a typing error is said with its line and nothing starts,
//! an error while running stops the script and not the session, and Load/Save use files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::{harness, read_exactly, shows, start_server, step_until};
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::tcp_server::ServerStatus;
use sockpit::gui::tabs::udp::UdpStatus;
use sockpit::gui::widgets::script_box::ScriptSettings;
use sockpit::traffic::Direction;

const WAIT: Duration = Duration::from_secs(10);

type H = egui_kittest::Harness<'static, sockpit::SockpitApp>;

fn server_settings(script: Option<&str>) -> Settings {
    let mut settings = Settings::default();
    settings.tab = Tab::TcpServer;
    settings.tcp_server_mut().bind = "127.0.0.1".into();
    settings.tcp_server_mut().port = "0".into();
    if let Some(source) = script {
        settings.tcp_server_mut().script = ScriptSettings {
            enabled: true,
            source: source.to_owned(),
        };
    }
    settings
}

fn log_texts(
    h: &egui_kittest::Harness<'_, sockpit::SockpitApp>,
    direction: Direction,
) -> Vec<String> {
    h.state()
        .tcp_server
        .current()
        .log()
        .iter()
        .filter(|r| r.direction == direction)
        .map(|r| String::from_utf8_lossy(r.bytes).into_owned())
        .collect()
}

/// Whether the nodes labelled exactly `label` exist and are all disabled (greyed).
fn disabled(h: &H, label: &str) -> bool {
    let nodes: Vec<_> = h.query_all_by_label(label).collect();
    assert!(!nodes.is_empty(), "{label:?} is shown");
    nodes.iter().all(|n| n.accesskit_node().is_disabled())
}

#[test]
fn the_example_put_in_by_clicking_answers_each_record_with_its_count_and_prints_to_the_log() {
    let mut h = harness(server_settings(None));
    h.get_by_label("Script (off)").click();
    h.run();
    h.get_by_label("Insert example").click();
    h.run();
    h.get_by_label("Run this script").click();
    h.run();
    assert!(shows(&h, "Script (runs from the next start)"));
    assert!(
        disabled(&h, "Insert example"),
        "a box with text keeps it: the example is offered only when empty"
    );
    let addr = start_server(&mut h);
    let mut first = TcpStream::connect(addr).unwrap();
    first.write_all(b"ping").unwrap();
    assert_eq!(read_exactly(&mut first, 10), b"answer 1\r\n");
    // State is the session's: a second client continues the count.
    let mut second = TcpStream::connect(addr).unwrap();
    second.write_all(b"hi").unwrap();
    assert_eq!(read_exactly(&mut second, 10), b"answer 2\r\n");
    step_until(&mut h, "the prints in the log", WAIT, |h| {
        log_texts(h, Direction::Info)
            .iter()
            .any(|t| t.starts_with("script: record 2 from 127.0.0.1:") && t.ends_with("68 69"))
    });
    h.run();
    assert!(shows(&h, "Script (running)"));
    assert!(shows(&h, "What the script printed:"));
    assert!(
        disabled(&h, "Script text"),
        "the text is not edited under a running session"
    );
    assert!(shows(&h, "Stop the session to edit the script"));
}

#[test]
fn a_typing_error_is_said_with_its_line_beside_the_box_and_nothing_starts() {
    let mut h = harness(server_settings(None));
    h.get_by_label("Script (off)").click();
    h.run();
    h.get_by_label("Script text").click();
    h.run();
    h.get_by_label("Script text")
        .type_text("fn on_receive(data, peer) { let = 1; }");
    h.run();
    assert!(
        shows(&h, "the script does not compile at line 1, column"),
        "checked as typed"
    );
    h.get_by_label("Run this script").click();
    h.run();
    h.get_by_label("Start").click();
    for _ in 0..20 {
        h.step();
    }
    assert!(
        matches!(h.state().tcp_server.current().status, ServerStatus::Stopped),
        "a script that does not compile starts nothing"
    );
    assert!(shows(&h, "Script: the script does not compile at line 1"));
}

#[test]
fn an_error_while_running_stops_the_script_with_its_line_and_the_session_goes_on() {
    let script = "let n = 0;\nfn on_receive(data, peer) {\n    n += 1;\n    if n == 2 { throw \"boom\"; }\n    \"ok\"\n}\n";
    let mut h = harness(server_settings(Some(script)));
    let addr = start_server(&mut h);
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"one").unwrap();
    assert_eq!(read_exactly(&mut c, 2), b"ok");
    c.write_all(b"two").unwrap();
    step_until(&mut h, "the stop in the log", WAIT, |h| {
        log_texts(h, Direction::Error)
            .iter()
            .any(|t| t.contains("line 4") && t.contains("boom"))
    });
    c.write_all(b"three").unwrap();
    step_until(&mut h, "the third record", WAIT, |h| {
        log_texts(h, Direction::Received).len() == 3
    });
    common::assert_nothing_arrives(&mut c);
    assert!(matches!(
        h.state().tcp_server.current().status,
        ServerStatus::Listening(_)
    ));
    assert_eq!(h.state().tcp_server.current().clients.len(), 1);
    h.get_by_label("Script (stopped by an error)").click();
    h.run();
    assert!(shows(&h, "Script (answering 127.0.0.1:"));
}

#[test]
fn save_writes_the_text_and_load_reads_a_file_or_says_why_not() {
    let dir = std::env::temp_dir().join(format!("sockpit-ui-script-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut h = harness(server_settings(Some("fn on_receive(data, peer) { data }")));
    h.get_by_label("Script (runs from the next start)").click();
    h.run();
    let saved = dir.join("echo.rhai");
    h.state_mut().tcp_server.current_mut().script.next_path = Some(saved.clone());
    h.get_by_label("Save script…").click();
    h.run();
    assert_eq!(
        std::fs::read_to_string(&saved).unwrap(),
        "fn on_receive(data, peer) { data }"
    );
    assert!(shows(&h, "Saved "));

    let other = dir.join("upper.rhai");
    std::fs::write(&other, "fn on_receive(data, peer) { \"UP\" }").unwrap();
    h.state_mut().tcp_server.current_mut().script.next_path = Some(other);
    h.get_by_label("Load script…").click();
    h.run();
    assert_eq!(
        h.state().tcp_server.current().settings.script.source,
        "fn on_receive(data, peer) { \"UP\" }"
    );

    let missing = dir.join("missing.rhai");
    h.state_mut().tcp_server.current_mut().script.next_path = Some(missing);
    h.get_by_label("Load script…").click();
    h.run();
    assert!(shows(&h, "Script: Could not read "));
    assert_eq!(
        h.state().tcp_server.current().settings.script.source,
        "fn on_receive(data, peer) { \"UP\" }",
        "a failed load keeps the text"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_udp_session_runs_its_script_for_each_datagram() {
    let mut settings = Settings::default();
    settings.udp_mut().multicast_interface = "lo".into();
    settings.tab = Tab::Udp;
    settings.udp_mut().bind = "127.0.0.1".into();
    settings.udp_mut().port = "0".into();
    settings.udp_mut().script = ScriptSettings {
        enabled: true,
        source: "fn on_receive(data, peer) { [blob(\"A\"), u16_be(data.len())] }".into(),
    };
    let mut h = harness(settings);
    h.get_by_label("Bind").click();
    step_until(&mut h, "bound", WAIT, |h| {
        matches!(h.state().udp.current().status, UdpStatus::Bound(_))
    });
    let local = h.state().udp.current().bound().unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.send_to(b"12345", local).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"A"[..], local));
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        [0x00, 0x05],
        "one datagram per answer of the array"
    );
}

#[test]
fn an_unfolded_script_and_rules_leave_the_log_in_sight_in_a_small_window() {
    let long: String = (1..=60)
        .map(|i| format!("// line {i}\n"))
        .chain(std::iter::once(
            "fn on_receive(data, peer) { () }\n".to_owned(),
        ))
        .collect();
    let mut h = common::harness_sized(server_settings(Some(&long)), egui::vec2(900.0, 600.0));
    h.run();
    h.get_by_label_contains("Script (").click();
    h.run();
    h.get_by_label_contains("Auto-reply rules").click();
    h.run();
    h.run();
    assert!(h.query_by_label("Script text").is_some(), "the box is open");
    let header = h.get_by_label("Time").rect();
    assert!(
        header.bottom() < 560.0,
        "the log's header is pushed to y={} by the settings above it",
        header.bottom()
    );
}
