//! The sending tools in the window, driven by labels against real loopback peers: a packet
//! made by clicking is sent by its button and the peer receives exactly its bytes; Packet
//! Sender's export, imported, is listed and sends its bytes; a repeat's counter moves in the
//! window and on the wire until Stop; a bad macro is said under the box and nothing is sent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::{accept, assert_nothing_arrives, harness, read_exactly, shows, step_until};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use sockpit::SockpitApp;
use sockpit::engine::session::JobState;
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::tcp_client::Status;

const WAIT: Duration = Duration::from_secs(10);

/// The TCP Client tab connected to a fresh loopback listener.
fn connected() -> (Harness<'static, SockpitApp>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut s = Settings::default();
    s.tab = Tab::TcpClient;
    "127.0.0.1".clone_into(&mut s.tcp_client_mut().host);
    s.tcp_client_mut().port = port.to_string();
    let mut h = harness(s);
    h.run();
    h.get_by_label("Connect").click();
    let peer = accept(&mut h, &listener);
    step_until(&mut h, "connected", WAIT, |h| {
        matches!(
            h.state().tcp_client.current().status,
            Status::Connected { .. }
        )
    });
    (h, peer)
}

/// Unfolds the repeat, file and sequence tools under the send box.
fn open_tools(h: &mut Harness<'static, SockpitApp>) {
    h.get_by_label("Repeat, file, sequence").click();
    h.run();
}

#[test]
fn a_packet_made_by_clicking_sends_exactly_its_bytes() {
    let (mut h, mut peer) = connected();
    h.get_by_label("New").click();
    h.run();
    h.get_by_label("Packet name").click();
    h.get_by_label("Packet name").type_text("status query");
    // The editor has its own Text/Hex choice; pick Hex there.
    let hex_buttons: Vec<_> = h.query_all_by_label("Hex").collect();
    hex_buttons.last().unwrap().click();
    h.run();
    h.get_by_label("Packet payload").click();
    h.get_by_label("Packet payload")
        .type_text("01 03 00 00 00 0A C5 CD");
    h.run();
    h.get_by_label("Save packet").click();
    h.run();
    assert!(shows(&h, "Saved \"status query\""));
    assert_eq!(h.state().library.library.packets.len(), 1);
    h.get_by_label("status query").click();
    h.run();
    assert_eq!(
        read_exactly(&mut peer, 8),
        [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]
    );
    assert_nothing_arrives(&mut peer);
}

#[test]
fn packet_sender_export_is_listed_and_sends_its_bytes() {
    let (mut h, mut peer) = connected();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/packetsender_export.json");
    // What the Import button does once the file dialog returns the fixture.
    h.state_mut().library.import_path(&fixture);
    h.run();
    assert!(shows(&h, "Imported 3 packets from a Packet Sender export"));
    for name in ["UDP Modbus read", "TCP hello", "Grüße Café ✓ 測試"] {
        assert!(h.query_by_label(name).is_some(), "{name} is listed");
    }
    assert!(shows(&h, "Packet Sender"), "their group is shown");
    // Searching narrows the list.
    h.get_by_label("Find packet").click();
    h.get_by_label("Find packet").type_text("hello");
    h.run();
    assert!(h.query_by_label("UDP Modbus read").is_none());
    h.get_by_label("TCP hello").click();
    h.run();
    assert_eq!(read_exactly(&mut peer, 7), b"hello\r\n");
}

#[test]
fn a_repeat_counts_in_the_window_and_on_the_wire_until_stopped() {
    let (mut h, peer) = connected();
    h.get_by_label("Message").click();
    h.get_by_label("Message").type_text("r{{COUNTER}}\\n");
    h.run();
    assert!(
        shows(&h, "Next send, 3 B (macros filled in as it goes): 72 30 0A"),
        "the preview shows the next send's bytes"
    );
    // Every 20 ms until stopped (the fields as saved settings would hold them).
    {
        let tools = &mut h.state_mut().tcp_client.current_mut().settings.send_tools;
        tools.every_ms = "20".to_owned();
        tools.count.clear();
    }
    h.run();
    open_tools(&mut h);
    h.get_by_label("Start repeat").click();
    step_until(&mut h, "ten repeats", WAIT, |h| {
        h.state()
            .tcp_client
            .current()
            .job
            .as_ref()
            .is_some_and(|j| j.sent >= 10)
    });
    assert!(
        shows(&h, "Repeat: "),
        "the window shows the repeat's progress"
    );
    h.get_by_label("Stop repeat").click();
    step_until(&mut h, "stopped", WAIT, |h| {
        h.state()
            .tcp_client
            .current()
            .job
            .as_ref()
            .is_some_and(|j| j.state == JobState::Stopped)
    });
    assert!(shows(&h, "stopped."));
    // Folded, the header still says how the repeat ended.
    h.get_by_label("Repeat, file, sequence").click();
    h.run();
    assert!(shows(&h, "Repeat, file, sequence — Repeat: "));
    assert!(h.query_by_label("Start repeat").is_none(), "folded away");
    let sent = h.state().tcp_client.current().job.as_ref().unwrap().sent;
    peer.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut r = BufReader::new(peer);
    let mut lines = Vec::new();
    let mut line = String::new();
    while r.read_line(&mut line).unwrap_or(0) > 0 {
        lines.push(std::mem::take(&mut line));
    }
    let expected: Vec<String> = (0..sent).map(|n| format!("r{n}\n")).collect();
    assert_eq!(
        lines, expected,
        "each send its counter, in order, none after the stop"
    );
}

#[test]
fn a_bad_macro_is_said_under_the_box_and_nothing_is_sent() {
    let (mut h, mut peer) = connected();
    h.get_by_label("Message").click();
    h.get_by_label("Message").type_text("x{{COUNTR}}");
    h.run();
    h.get_by_label("Send").click();
    h.run();
    assert!(shows(&h, "unknown macro \"COUNTR\""));
    open_tools(&mut h);
    h.get_by_label("Start repeat").click();
    h.run();
    assert!(shows(&h, "position 2"));
    assert_nothing_arrives(&mut peer);
}

#[test]
fn a_sequence_runs_step_by_step_and_a_silent_peer_names_the_step() {
    let (mut h, peer) = connected();
    open_tools(&mut h);
    h.get_by_label("Sequence").click();
    h.run();
    h.get_by_label("Sequence steps").click();
    h.get_by_label("Sequence steps")
        .type_text("send PING\\n\nexpect 3000 text PONG\nsend BYE\\n");
    h.run();
    let mut reader = BufReader::new(peer.try_clone().unwrap());
    h.get_by_label("Run sequence").click();
    h.run();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "PING\n");
    // Waiting for the reply: the window marks step 2.
    step_until(&mut h, "step 2 marked", WAIT, |h| {
        shows(h, "> 2. expect 3000 text PONG")
    });
    std::io::Write::write_all(&mut &peer, b"PONG\n").unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "BYE\n", "the last step went after the reply");
    step_until(&mut h, "done", WAIT, |h| {
        h.state()
            .tcp_client
            .current()
            .job
            .as_ref()
            .is_some_and(|j| j.state == JobState::Done)
    });
    // Against silence the sequence stops at its wait and says which step and what came.
    {
        let tools = &mut h.state_mut().tcp_client.current_mut().settings.send_tools;
        tools.sequence = "send PING\\n\nexpect 200 text PONG".to_owned();
    }
    h.run();
    h.get_by_label("Run sequence").click();
    step_until(&mut h, "failed", WAIT, |h| {
        h.state()
            .tcp_client
            .current()
            .job
            .as_ref()
            .is_some_and(|j| matches!(j.state, JobState::Failed(_)))
    });
    h.run();
    assert!(shows(&h, "step 2 (expect 200 text PONG): no reply matched"));
}

#[test]
fn ctrl_1_sends_the_first_packet_and_a_typed_file_goes_whole() {
    let (mut h, mut peer) = connected();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/packetsender_export.json");
    h.state_mut().library.import_path(&fixture);
    h.run();
    // The first packet listed (Packet Sender's order: UDP Modbus read) goes by Ctrl+1.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num1);
    h.run();
    assert_eq!(
        read_exactly(&mut peer, 8),
        [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]
    );
    // A file typed into the File field, sent with Send file.
    let dir = std::env::temp_dir().join(format!("sockpit-ui-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("blob.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    open_tools(&mut h);
    h.get_by_label("File").click();
    h.get_by_label("File").type_text(path.to_str().unwrap());
    h.run();
    h.get_by_label("Send file").click();
    h.run();
    let reader = std::thread::Builder::new()
        .name("file-reader".into())
        .spawn(move || read_exactly(&mut peer, 300_000))
        .unwrap();
    step_until(&mut h, "file done", WAIT, |h| {
        h.state()
            .tcp_client
            .current()
            .job
            .as_ref()
            .is_some_and(|j| j.state == JobState::Done)
    });
    assert!(
        reader.join().unwrap() == data,
        "the file arrived byte for byte"
    );
    h.run();
    assert!(
        shows(&h, "File: 293.0 KiB of 293.0 KiB sent"),
        "the progress says it all went"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_log_row_is_kept_in_the_library_and_sent_again_from_its_menu() {
    let (mut h, mut peer) = connected();
    std::io::Write::write_all(&mut peer, b"hello device").unwrap();
    step_until(&mut h, "the record shown", WAIT, |h| {
        h.query_by_label("hello device").is_some()
    });
    h.get_by_label("hello device").click_secondary();
    h.run();
    h.get_by_label("Add to packet library").click();
    h.run();
    let packets = &h.state().library.library.packets;
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].payload, "68 65 6C 6C 6F 20 64 65 76 69 63 65");
    assert!(
        packets[0].name.starts_with("From 127.0.0.1:"),
        "{}",
        packets[0].name
    );
    // The new packet is open to be named; saving keeps it.
    assert!(h.query_by_label("Save packet").is_some());
    h.get_by_label("Save packet").click();
    h.run();
    h.get_by_label("hello device").click_secondary();
    h.run();
    h.get_by_label("Send again").click();
    h.run();
    assert_eq!(read_exactly(&mut peer, 12), b"hello device");
}
