//! Framing chosen by clicking, as a user would: one row per message, the partial frame named
//! under the log, and a bad delimiter refused next to where it was typed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{harness, shows, step_until};
use egui_kittest::kittest::Queryable as _;
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::tcp_server::ServerStatus;
use sockpit::traffic::Direction;

const WAIT: Duration = Duration::from_secs(10);

fn server_settings() -> Settings {
    let mut settings = Settings::default();
    settings.tab = Tab::TcpServer;
    settings.tcp_server_mut().bind = "127.0.0.1".into();
    settings.tcp_server_mut().port = "0".into();
    settings
}

fn received(h: &egui_kittest::Harness<'_, sockpit::SockpitApp>) -> Vec<Vec<u8>> {
    h.state()
        .tcp_server
        .current()
        .log()
        .iter()
        .filter(|r| r.direction == Direction::Received)
        .map(|r| r.bytes.to_vec())
        .collect()
}

#[test]
fn choosing_delimiter_framing_shows_one_row_per_message() {
    let mut h = harness(server_settings());
    h.get_by_label("Framing").click();
    h.run();
    h.get_by_label("Delimiter").click();
    h.run();
    assert!(shows(&h, "Ends with"), "the delimiter picker is shown");
    let addr = common::start_server(&mut h);
    let mut c = TcpStream::connect(addr).unwrap();
    // Three messages, the last unfinished, in one write: one read at the server.
    c.write_all(b"alpha\nbeta\ngam").unwrap();
    step_until(&mut h, "two records", WAIT, |h| received(h).len() == 2);
    assert_eq!(received(&h), vec![b"alpha".to_vec(), b"beta".to_vec()]);
    step_until(&mut h, "the partial frame is named", WAIT, |h| {
        shows(h, "Waiting for the end of a frame")
    });
    assert!(shows(&h, &format!("{}: 3 B", c.local_addr().unwrap())));
    c.write_all(b"ma\n").unwrap();
    step_until(&mut h, "three records", WAIT, |h| received(h).len() == 3);
    assert_eq!(received(&h)[2], b"gamma");
    step_until(&mut h, "nothing pending", WAIT, |h| {
        !shows(h, "Waiting for the end of a frame")
    });
}

#[test]
fn a_bad_hex_delimiter_is_said_beside_the_framing_row_and_nothing_starts() {
    let mut h = harness(server_settings());
    h.get_by_label("Framing").click();
    h.run();
    h.get_by_label("Delimiter").click();
    h.run();
    h.get_by_label("Ends with").click();
    h.run();
    h.get_by_label("Hex sequence").click();
    h.run();
    h.get_by_label("Delimiter hex").click();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run();
    h.get_by_label("Delimiter hex").type_text("0D 0G");
    h.run();
    h.get_by_label("Start").click();
    h.run();
    assert!(
        shows(&h, "Framing: the delimiter is not hex"),
        "the error is next to the framing row"
    );
    assert_eq!(
        h.state().tcp_server.current().status,
        ServerStatus::Stopped,
        "nothing was started"
    );
    // Fixing the field clears the error; Start then listens with that delimiter.
    h.get_by_label("Delimiter hex").click();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run();
    h.get_by_label("Delimiter hex").type_text("7E");
    h.run();
    assert!(!shows(&h, "Framing: the delimiter is not hex"));
    let addr = common::start_server(&mut h);
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"x~y~").unwrap();
    step_until(&mut h, "two records", WAIT, |h| received(h).len() == 2);
    assert_eq!(received(&h), vec![b"x".to_vec(), b"y".to_vec()]);
}

#[test]
fn a_checksum_picked_by_clicking_is_appended_verified_counted_and_filtered() {
    let mut h = harness(server_settings());
    h.get_by_label("Framing").click();
    h.run();
    h.get_by_label("Fixed length").click();
    h.run();
    h.get_by_label("Checksum").click();
    h.run();
    h.get_by_label("CRC-16/MODBUS").click();
    h.run();
    assert!(
        h.query_by_label("Low byte first").is_some(),
        "the byte order is offered for a 16-bit CRC"
    );
    let addr = common::start_server(&mut h);
    let mut c = TcpStream::connect(addr).unwrap();
    step_until(&mut h, "client in the table", WAIT, |h| {
        h.state().tcp_server.current().clients.len() == 1
    });
    // A good Modbus request, then the same with its CRC wrong: 8-byte frames.
    c.write_all(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD])
        .unwrap();
    c.write_all(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCE])
        .unwrap();
    step_until(&mut h, "two records", WAIT, |h| received(h).len() == 2);
    step_until(&mut h, "the bad one is counted", WAIT, |h| {
        shows(h, "Bad checksums 1")
    });
    assert!(
        shows(&h, "8 ok") && shows(&h, "8 bad"),
        "each row says its verdict"
    );
    h.get_by_label("Bad checksums only").click();
    h.run();
    assert!(
        shows(&h, "8 bad") && !shows(&h, "8 ok"),
        "only the bad record is listed"
    );

    // The send box says what the next send ends with, and the client gets it appended.
    h.get_by_label("Hex").click();
    h.run();
    h.get_by_label("Message").click();
    h.get_by_label("Message").type_text("01 03 00 00 00 0A");
    h.run();
    assert!(
        shows(&h, "this message ends with C5 CD"),
        "the preview names the CRC"
    );
    h.get_by_label("Send").click();
    h.run();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = [0u8; 8];
    std::io::Read::read_exact(&mut c, &mut got).unwrap();
    assert_eq!(got, [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]);
}

#[test]
fn the_checksum_calculator_shows_every_checksum_of_the_pasted_bytes() {
    let mut settings = Settings::default();
    settings.tab = Tab::IpTools;
    let mut h = harness(settings);
    h.get_by_label("Checksum calculator").click();
    h.run();
    h.get_by_label("Bytes").click();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run();
    h.get_by_label("Bytes")
        .type_text("31 32 33 34 35 36 37 38 39");
    h.run();
    // The catalogue check values of "123456789".
    for (name, value) in [("CRC-32", "CB F4 39 26"), ("CRC-16/CCITT-FALSE", "29 B1")] {
        assert!(shows(&h, name), "{name} listed");
        assert!(shows(&h, value), "{name} = {value}");
    }
}

#[test]
fn a_rule_made_by_clicking_answers_a_peer_and_counts_its_hits() {
    let mut h = harness(server_settings());
    h.get_by_label("Framing").click();
    h.run();
    h.get_by_label("Delimiter").click();
    h.run();
    h.get_by_label("Auto-reply rules (0)").click();
    h.run();
    h.get_by_label("Add rule").click();
    h.run();
    for (field, text) in [("Match 1", "prefix:ID?"), ("Reply 1", "ID=42\\r\\n")] {
        h.get_by_label(field).click();
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        h.run();
        h.get_by_label(field).type_text(text);
        h.run();
    }
    let addr = common::start_server(&mut h);
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"ID?\nnothing\n").unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = [0u8; 7];
    std::io::Read::read_exact(&mut c, &mut got).unwrap();
    assert_eq!(&got, b"ID=42\r\n", "answered in the worker");
    step_until(&mut h, "the hit is counted", WAIT, |h| shows(h, "1 hits"));
    assert!(
        shows(&h, "Rules apply from the next start"),
        "said while it runs"
    );
}

#[test]
fn a_bad_rule_is_said_beside_the_rules_and_nothing_starts() {
    let mut settings = server_settings();
    settings
        .tcp_server_mut()
        .rules
        .rules
        .push(sockpit::engine::session::rules::RuleText::from_arrow("prefix:A=>$4").unwrap());
    let mut h = harness(settings);
    h.get_by_label("Start").click();
    h.run();
    assert!(
        shows(&h, "Rules: rule 1: $4 is not captured"),
        "said where the rules are"
    );
    assert_eq!(h.state().tcp_server.current().status, ServerStatus::Stopped);
}

#[test]
fn searching_a_hex_sequence_lands_on_the_match_and_highlights_it() {
    let mut settings = server_settings();
    settings.tcp_server_mut().framing.mode = sockpit::gui::widgets::framing::FrameMode::Delimiter;
    let mut h = harness(settings);
    let addr = common::start_server(&mut h);
    let mut c = TcpStream::connect(addr).unwrap();
    // 300 lines; line 123 carries DE AD BE EF.
    let mut burst = Vec::new();
    for i in 0..300 {
        if i == 123 {
            burst.extend_from_slice(&[b'#', 0xDE, 0xAD, 0xBE, 0xEF, b'\n']);
        } else {
            burst.extend_from_slice(format!("line {i:03}\n").as_bytes());
        }
    }
    c.write_all(&burst).unwrap();
    step_until(&mut h, "300 records", WAIT, |h| received(h).len() == 300);
    h.get_by_label("Search").click();
    h.get_by_label("Search").type_text("DE AD");
    h.run();
    h.get_by_label("as hex").click();
    h.run();
    step_until(&mut h, "one match", WAIT, |h| shows(h, "1 matches"));
    h.get_by_label("Next match").click();
    h.run();
    h.run();
    let log = h.state().tcp_server.current().log();
    let target = log
        .iter()
        .enumerate()
        .find(|(_, r)| r.bytes.starts_with(b"#\xDE"))
        .map(|(i, _)| log.first_id() + i as u64)
        .unwrap();
    let selected: Vec<u64> = h
        .state()
        .tcp_server
        .current()
        .session
        .view
        .selected()
        .iter()
        .copied()
        .collect();
    assert_eq!(selected, [target], "the match is selected");
    assert!(
        h.query_all_by_label_contains("DE AD BE EF").count() >= 2,
        "the match's row is in view (besides the detail pane)"
    );
    h.get_by_label("Matches only").click();
    h.run();
    assert!(!shows(&h, "line 200"), "only the match is listed");
}

/// A device on loopback that answers `Qn` lines with `An`, recorded by the CLI's TCP Client
/// into `dir/device.pcapng`.
fn recorded_device(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::BufRead;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let device = std::thread::Builder::new()
        .name("line-device".into())
        .spawn(move || {
            let (s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            let mut w = s.try_clone().unwrap();
            for line in std::io::BufReader::new(s).lines().take(10) {
                let Ok(line) = line else { break };
                w.write_all(format!("A{}\n", line.trim_start_matches('Q')).as_bytes())
                    .unwrap();
            }
        })
        .unwrap();
    let steps = dir.join("steps.txt");
    std::fs::write(
        &steps,
        "send Q1\\n\nexpect 2000 text A1\nsend Q2\\n\nexpect 2000 text A2\n",
    )
    .unwrap();
    let capture = dir.join("device.pcapng");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sockpit"))
        .args(["tcp-client", &addr, "--sequence", steps.to_str().unwrap()])
        .args(["--capture", capture.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    device.join().unwrap();
    capture
}

#[test]
fn a_device_mocked_from_a_capture_answers_a_client_as_it_did() {
    let dir = std::env::temp_dir().join(format!("sockpit-ui-mock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = recorded_device(&dir);
    let mut h = harness(server_settings());
    h.get_by_label("Auto-reply rules (0)").click();
    h.run();
    // The path comes from the test instead of the dialog.
    h.state_mut().tcp_server.current_mut().rules.next_mock_path = Some(capture);
    h.get_by_label("Mock a device from a capture…").click();
    h.run();
    assert!(shows(&h, "Auto-reply rules (2)"), "two requests, two rules");
    assert!(
        shows(&h, "2 rules from 2 requests"),
        "the note says what was made"
    );
    let rules = &h.state().tcp_server.current().settings.rules.rules;
    assert_eq!(rules[0].pattern, "hex:51 31 0A");
    assert_eq!(rules[0].reply, "hex:41 31 0A");
    let addr = common::start_server(&mut h);
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    for (q, a) in [(&b"Q2\n"[..], &b"A2\n"[..]), (b"Q1\n", b"A1\n")] {
        c.write_all(q).unwrap();
        let mut got = [0u8; 3];
        std::io::Read::read_exact(&mut c, &mut got).unwrap();
        assert_eq!(&got, a, "answered as the device did");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
