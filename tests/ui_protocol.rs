//! The detail pane reads a record as a protocol's fields: chosen by hand, suggested by the
//! port, or from a layout the user imported; a selected field's bytes are highlighted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::{harness, shows, step_until};
use egui_kittest::kittest::Queryable as _;
use sockpit::gui::app::{Settings, Tab};

const WAIT: Duration = Duration::from_secs(10);

/// A Modbus/TCP "read holding registers" request: unit 1, 2 registers from 100.
const MODBUS_READ: [u8; 12] = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0x64, 0, 2];

fn server_settings() -> Settings {
    let mut settings = Settings::default();
    settings.tab = Tab::TcpServer;
    settings.tcp_server_mut().bind = "127.0.0.1".into();
    settings.tcp_server_mut().port = "0".into();
    settings
}

#[test]
fn a_modbus_request_read_as_fields_highlights_the_clicked_field() {
    let mut h = harness(server_settings());
    let addr = common::start_server(&mut h);
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(&MODBUS_READ).unwrap();
    step_until(&mut h, "the request is logged", WAIT, |h| {
        h.state().tcp_server.current().log().counters().rx_packets == 1
    });
    h.run();
    h.get_by_label_contains("00 06 01 03").click();
    h.run();
    // The ports are ephemeral, so Auto finds nothing: the text is shown, and Modbus is
    // chosen by hand.
    assert!(
        h.query_by_label("Protocol").is_some(),
        "the picker is in the detail pane"
    );
    assert!(!shows(&h, "Function code"));
    h.get_by_label("Protocol").click();
    h.run();
    h.get_by_label("Modbus/TCP").click();
    h.run();
    assert!(shows(
        &h,
        "Read Holding Registers, unit 1, 2 registers from 100"
    ));
    assert!(shows(&h, "Transaction identifier: 1 (0x0001)"));
    assert!(shows(&h, "Starting address: 100"));
    assert!(shows(&h, "Function code: 3 (Read Holding Registers)"));
    h.get_by_label_contains("MBAP header").click();
    h.run();
    let view = &h.state().tcp_server.current().session.view;
    assert_eq!(view.protocol.highlight(), Some(0..7), "the header's bytes");
    // A click in the dump selects the field of the byte under the pointer (the line's middle
    // is byte 8 of 12: the starting address).
    h.get_by_label_contains("00000000  00 01").click();
    h.run();
    let view = &h.state().tcp_server.current().session.view;
    let marked = view
        .protocol
        .highlight()
        .expect("a field selected by the click");
    assert!(
        marked.end <= MODBUS_READ.len() && marked.start >= 7,
        "{marked:?}"
    );
    assert_eq!(
        view.settings.protocol.choice,
        sockpit::gui::widgets::protocol_view::ProtocolChoice::Known(
            sockpit::codec::protocol::Protocol::ModbusTcp
        ),
        "kept with the session's view"
    );
}

#[test]
fn auto_reads_a_coap_reply_by_its_port() {
    // The device answers from the CoAP port (5683) on a loopback address of its own.
    let device = ["127.0.0.1:5683", "127.0.0.2:5683", "127.0.0.3:5683"]
        .iter()
        .find_map(|a| UdpSocket::bind(a).ok())
        .expect("a loopback CoAP port is free");
    let mut settings = Settings::default();
    settings.tab = Tab::Udp;
    settings.udp_mut().bind = "127.0.0.1".into();
    settings.udp_mut().port = "0".into();
    let mut h = harness(settings);
    h.get_by_label("Bind").click();
    let mut local = None;
    step_until(&mut h, "bound", WAIT, |h| {
        local = h.state().udp.current().bound();
        local.is_some()
    });
    // CoAP 2.05 Content, message id 0x1234, token 0xAB, payload "21.5".
    let reply = [0x61, 0x45, 0x12, 0x34, 0xAB, 0xFF, b'2', b'1', b'.', b'5'];
    device.send_to(&reply, local.unwrap()).unwrap();
    step_until(&mut h, "the reply is logged", WAIT, |h| {
        h.state().udp.current().log().counters().rx_packets == 1
    });
    h.run();
    h.get_by_label_contains("61 45 12 34").click();
    h.run();
    assert!(shows(&h, "2.05"), "the code read by port 5683");
    assert!(shows(&h, "Message ID"), "fields shown");
}

#[test]
fn an_imported_layout_reads_a_device_frame_and_a_bad_one_is_said() {
    let dir = std::env::temp_dir().join(format!("sockpit-ui-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("meter.json");
    std::fs::write(
        &good,
        r#"{"name": "Meter", "fields": [
            {"name": "Volts", "offset": 0, "length": 2, "kind": "U16"},
            {"name": "State", "offset": 2, "length": 1, "kind": "U8", "labels": {"2": "Fault"}}
        ]}"#,
    )
    .unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"name": "Broken", "fields": [{"name": "Volts", "offset": 0, "length": 3, "kind": "U16"}]}"#,
    )
    .unwrap();
    let mut h = harness(server_settings());
    let addr = common::start_server(&mut h);
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(&[0x00, 0xE6, 0x02]).unwrap();
    step_until(&mut h, "the frame is logged", WAIT, |h| {
        h.state().tcp_server.current().log().counters().rx_packets == 1
    });
    h.run();
    h.get_by_label_contains("00 E6 02").click();
    h.run();
    h.state_mut()
        .tcp_server
        .current_mut()
        .session
        .view
        .protocol
        .next_layout_path = Some(bad);
    h.get_by_label("Import layout…").click();
    h.run();
    assert!(shows(&h, "field 1 (Volts)"), "the bad field is named");
    assert!(!shows(&h, "Volts: "), "nothing decoded with it");
    h.state_mut()
        .tcp_server
        .current_mut()
        .session
        .view
        .protocol
        .next_layout_path = Some(good);
    h.get_by_label("Import layout…").click();
    h.run();
    assert!(shows(&h, "1 layouts read"));
    assert!(shows(&h, "Volts: 230"));
    assert!(shows(&h, "State: 2 (Fault)"));
    // Exported, the layouts read back as they were imported.
    let out = dir.join("exported.json");
    h.state_mut()
        .tcp_server
        .current_mut()
        .session
        .view
        .protocol
        .next_export_path = Some(out.clone());
    h.get_by_label("Export layouts…").click();
    h.run();
    assert!(shows(&h, "1 layouts written"));
    let back =
        sockpit::codec::protocol::Layouts::from_json(&std::fs::read_to_string(&out).unwrap())
            .unwrap();
    assert_eq!(
        back.0,
        h.state()
            .tcp_server
            .current()
            .session
            .view
            .settings
            .protocol
            .layouts
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Replaces the text of the field labelled `label` by typing, as a user would.
fn retype(h: &mut egui_kittest::Harness<'_, sockpit::SockpitApp>, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.run();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run();
    h.get_by_label(label).type_text(text);
    h.run();
}

#[test]
fn layouts_written_in_the_editor_are_checked_as_typed_and_read_the_frame_once_applied() {
    use egui_kittest::kittest::NodeT as _;
    let mut h = harness(server_settings());
    let addr = common::start_server(&mut h);
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(&[0x00, 0xE6, 0x02]).unwrap();
    step_until(&mut h, "the frame is logged", WAIT, |h| {
        h.state().tcp_server.current().log().counters().rx_packets == 1
    });
    h.run();
    h.get_by_label_contains("00 E6 02").click();
    h.run();
    h.get_by_label("Edit layouts…").click();
    h.run();
    assert!(
        shows(&h, "1 layouts, all valid."),
        "the example to start from"
    );

    let apply_disabled = |h: &egui_kittest::Harness<'_, sockpit::SockpitApp>| {
        h.get_by_label("Apply").accesskit_node().is_disabled()
    };
    retype(
        &mut h,
        "Layouts (JSON)",
        r#"[{"name": "Meter", "fields": [{"name": "Volts", "offset": 0, "length": 3, "kind": "U16"}]}]"#,
    );
    assert!(
        shows(&h, "layout Meter: field 1 (Volts)"),
        "the bad field is named"
    );
    assert!(apply_disabled(&h), "nothing to apply while it is wrong");
    retype(
        &mut h,
        "Layouts (JSON)",
        r#"[{"name": "A", "fields": [{"name": "x", "offset": 0, "length": 1, "kind": "U8"}]}, {"name": "A", "fields": [{"name": "y", "offset": 1, "length": 1, "kind": "U8"}]}]"#,
    );
    assert!(shows(&h, "two layouts are named A"));
    assert!(apply_disabled(&h));
    retype(
        &mut h,
        "Layouts (JSON)",
        r#"[{"name": "Meter", "fields": [{"name": "Volts", "offset": 0, "length": 2, "kind": "U16"}, {"name": "State", "offset": 2, "length": 1, "kind": "U8", "labels": {"2": "Fault"}}"#,
    );
    assert!(shows(&h, "EOF while parsing"), "unfinished JSON says where");
    retype(
        &mut h,
        "Layouts (JSON)",
        r#"[{"name": "Meter", "fields": [{"name": "Volts", "offset": 0, "length": 2, "kind": "U16"}, {"name": "State", "offset": 2, "length": 1, "kind": "U8", "labels": {"2": "Fault"}}]}]"#,
    );
    assert!(shows(&h, "1 layouts, all valid."));
    assert!(!apply_disabled(&h));
    h.get_by_label("Apply").click();
    h.run();
    h.run();
    assert!(shows(&h, "1 layouts applied."));
    assert!(
        h.query_by_label("Layouts (JSON)").is_none(),
        "the editor closed"
    );
    assert!(shows(&h, "Volts: 230"));
    assert!(shows(&h, "State: 2 (Fault)"));
    let layouts = &h
        .state()
        .tcp_server
        .current()
        .session
        .view
        .settings
        .protocol
        .layouts;
    assert_eq!(layouts.len(), 1);
    assert_eq!(layouts[0].name, "Meter");
}
