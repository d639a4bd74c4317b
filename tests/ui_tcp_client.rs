//! The TCP Client tab driven by labels, as a user would, against real loopback peers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::{accept, assert_nothing_arrives, harness, shows, step_until};
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::tcp_client::Status;

const WAIT: Duration = Duration::from_secs(10);

fn blank_settings() -> Settings {
    let mut s = Settings::default();
    s.tab = Tab::TcpServer;
    s.tcp_client_mut().host.clear();
    s.tcp_client_mut().port.clear();
    s
}

#[test]
fn window_shows_five_tabs_in_order() {
    let h = harness(Settings::default());
    let titles = ["TCP Server", "TCP Client", "UDP", "Broadcast", "IP Tools"];
    let xs: Vec<f32> = titles
        .iter()
        .map(|t| h.get_by_label(t).rect().left())
        .collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "tabs in order: {xs:?}");
}

#[test]
fn connect_receive_gbk_and_send_hex() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut h = harness(blank_settings());

    h.get_by_label("TCP Client").click();
    h.run();
    h.get_by_label("Host").click();
    h.get_by_label("Host").type_text("127.0.0.1");
    h.get_by_label("Port").click();
    h.get_by_label("Port").type_text(&port.to_string());
    h.run();
    h.get_by_label("Connect").click();
    let mut peer = accept(&mut h, &listener);
    step_until(&mut h, "connected", WAIT, |h| {
        matches!(
            h.state().tcp_client.current().status,
            Status::Connected { .. }
        )
    });
    assert!(shows(&h, "Connected:"), "the status line says connected");

    // The peer sends 你好 in GBK; the user picks GBK and sees the text and the hex.
    peer.write_all(&[0xC4, 0xE3, 0xBA, 0xC3]).unwrap();
    step_until(&mut h, "4 bytes received", WAIT, |h| {
        h.state().tcp_client.current().log().counters().rx_bytes == 4
    });
    h.get_by_label("Encoding").click();
    h.run();
    h.get_by_label("GBK").click();
    h.run();
    assert!(
        h.query_by_label("你好").is_some(),
        "decoded GBK text is shown"
    );
    assert!(
        h.query_by_label("C4 E3 BA C3").is_some(),
        "hex is shown beside it"
    );

    // Hex in the send box reaches the peer byte for byte.
    h.get_by_label("Hex").click();
    h.run();
    h.get_by_label("Message").click();
    h.get_by_label("Message").type_text("0x48,0x65 6C 6c 6F");
    h.run();
    h.get_by_label("Send").click();
    h.run();
    let mut got = [0u8; 5];
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"Hello");
    step_until(&mut h, "sent record", WAIT, |h| {
        h.state().tcp_client.current().log().counters().tx_bytes == 5
    });

    // Invalid hex: an inline error naming the position, and nothing is sent.
    h.get_by_label("Message").click();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run();
    h.get_by_label("Message").type_text("48 6G");
    h.run();
    h.get_by_label("Send").click();
    h.run();
    assert!(
        shows(&h, "'G' at position 5 is not a hex digit"),
        "inline error shown"
    );
    assert_eq!(
        h.state().tcp_client.current().log().counters().tx_bytes,
        5,
        "nothing more sent"
    );
    assert_nothing_arrives(&mut peer);
    let mut extra = [0u8; 8];

    // Disconnect: the peer sees the close and the status says so.
    h.get_by_label("Disconnect").click();
    h.run();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(peer.read(&mut extra).unwrap(), 0);
    assert!(shows(&h, "Not connected."));
}

#[test]
fn bad_port_and_empty_host_are_explained_next_to_the_fields() {
    let mut h = harness(blank_settings());
    h.get_by_label("TCP Client").click();
    h.run();
    h.get_by_label("Port").click();
    h.get_by_label("Port").type_text("70000");
    h.run();
    h.get_by_label("Connect").click();
    h.run();
    assert!(shows(&h, "Host: Enter a host name or IP address"));
    assert!(shows(&h, "Port: Port 70000 is out of range"));
    assert!(matches!(
        h.state().tcp_client.current().status,
        Status::Idle
    ));
    assert!(
        h.query_by_label("Disconnect").is_none(),
        "no session started"
    );
}

#[test]
fn refused_connection_says_why() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut settings = Settings::default();
    settings.tcp_client_mut().port = port.to_string();
    let mut h = harness(settings);
    h.get_by_label("Connect").click();
    step_until(&mut h, "refused", WAIT, |h| {
        matches!(h.state().tcp_client.current().status, Status::Failed(_))
    });
    h.run();
    assert!(shows(&h, "refused"));
    assert!(shows(&h, &format!("Nothing is listening on port {port}")));
    assert!(h.query_by_label("Connect").is_some(), "can try again");
}

#[test]
fn text_send_encodes_with_selected_encoding() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = Settings::default();
    settings.tcp_client_mut().port = listener.local_addr().unwrap().port().to_string();
    settings.tcp_client_mut().encoding = sockpit::codec::TextEncoding::Gbk;
    settings.tcp_client_mut().send_box.line_ending =
        sockpit::gui::widgets::send_box::LineEnding::CrLf;
    let mut h = harness(settings);
    h.get_by_label("Connect").click();
    let mut peer = accept(&mut h, &listener);
    step_until(&mut h, "connected", WAIT, |h| {
        matches!(
            h.state().tcp_client.current().status,
            Status::Connected { .. }
        )
    });
    h.get_by_label("Message").click();
    h.get_by_label("Message").type_text("你好");
    h.run();
    h.key_press(egui::Key::Enter);
    h.run();
    let mut got = [0u8; 6];
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, [0xC4, 0xE3, 0xBA, 0xC3, b'\r', b'\n']);
}

/// Fix-first item 7 in the window: a server that finishes sending (half-close) is shown as
/// such, and what the user sends afterwards still reaches it.
#[test]
fn a_half_close_by_the_peer_is_shown_and_sending_goes_on() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = Settings::default();
    settings.tcp_client_mut().port = listener.local_addr().unwrap().port().to_string();
    let mut h = harness(settings);
    h.get_by_label("Connect").click();
    let mut peer = accept(&mut h, &listener);
    step_until(&mut h, "connected", WAIT, |h| {
        matches!(
            h.state().tcp_client.current().status,
            Status::Connected { .. }
        )
    });
    peer.write_all(b"hello").unwrap();
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    step_until(&mut h, "peer finished", WAIT, |h| {
        matches!(
            h.state().tcp_client.current().status,
            Status::PeerFinished { .. }
        )
    });
    h.run();
    assert!(shows(&h, "finished sending (half-close)"));
    h.get_by_label("Message").click();
    h.get_by_label("Message").type_text("after");
    h.run();
    h.key_press(egui::Key::Enter);
    h.run();
    let mut got = [0u8; 5];
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"after");
}

#[test]
fn help_shows_the_tab_s_guide_the_shortcuts_and_the_version_and_f1_closes_it() {
    let mut s = Settings::default();
    s.tab = Tab::Udp;
    let mut h = harness(s);
    h.run();
    h.get_by_label("Help").click();
    h.run();
    assert!(
        shows(&h, "Send and receive UDP datagrams"),
        "the guide is the UDP tab's"
    );
    assert!(
        shows(&h, "open a session in the tab shown"),
        "the shortcuts are listed"
    );
    assert!(shows(&h, &format!("Sockpit {}", env!("CARGO_PKG_VERSION"))));
    h.key_press(egui::Key::F1);
    h.run();
    assert!(!shows(&h, "Send and receive UDP datagrams"), "F1 closes it");
    h.key_press(egui::Key::F1);
    h.run();
    assert!(
        shows(&h, "Send and receive UDP datagrams"),
        "and opens it again"
    );
}

#[test]
fn labels_and_explanations_meet_wcag_aa_contrast_in_both_themes() {
    let h = harness(Settings::default());
    for theme in [egui::Theme::Dark, egui::Theme::Light] {
        let style = h.ctx.style_of(theme);
        let v = &style.visuals;
        for (what, colour) in [
            ("label", v.widgets.noninteractive.fg_stroke.color),
            ("explanation", v.weak_text_color()),
        ] {
            let ratio = sockpit::gui::app::contrast(colour, v.panel_fill);
            assert!(
                ratio >= 4.5,
                "{theme:?} {what}: {ratio:.2}:1 against the panel"
            );
        }
    }
}

#[test]
fn an_event_row_shows_its_sentence_in_the_detail_pane_not_a_hex_dump() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut s = Settings::default();
    s.tab = Tab::TcpClient;
    s.tcp_client_mut().host = "127.0.0.1".to_owned();
    s.tcp_client_mut().port = port.to_string();
    let mut h = harness(s);
    h.run();
    h.get_by_label("Connect").click();
    let _peer = accept(&mut h, &listener);
    step_until(&mut h, "connected", WAIT, |h| {
        matches!(
            h.state().tcp_client.current().status,
            Status::Connected { .. }
        )
    });
    h.query_all_by_label_contains("Connected from 127.0.0.1:")
        .next()
        .unwrap()
        .click();
    h.run();
    assert!(
        shows(&h, ": event to 127.0.0.1:"),
        "the pane says what the record is"
    );
    assert!(
        h.query_all_by_label_contains("00000000").next().is_none(),
        "no hex dump of a sentence"
    );
    // The pane folds away with Details (in the View menu), the selection stays, and comes back
    // with it.
    h.get_by_label("View").click();
    h.run();
    h.get_by_label("Details").click();
    h.run();
    assert!(!shows(&h, ": event to 127.0.0.1:"), "the pane is gone");
    assert_eq!(
        h.state().tcp_client.current().session.view.selected().len(),
        1
    );
    if h.query_by_label("Details").is_none() {
        h.get_by_label("View").click();
        h.run();
    }
    h.get_by_label("Details").click();
    h.run();
    assert!(shows(&h, ": event to 127.0.0.1:"), "and back");
}

#[test]
fn drop_down_lists_have_room_for_every_encoding() {
    let h = harness(Settings::default());
    for theme in [egui::Theme::Dark, egui::Theme::Light] {
        let style = h.ctx.style_of(theme);
        let row = style.spacing.interact_size.y + style.spacing.item_spacing.y;
        let needed = row * sockpit::codec::TextEncoding::ALL.len() as f32;
        assert!(
            style.spacing.combo_height >= needed,
            "{theme:?}: {} px for {needed} px of encodings",
            style.spacing.combo_height
        );
    }
}

/// "Text only where readable" (View menu): a Modbus reply's CRC, F4 FA, reads as 酊 in GBK;
/// with the option on it is shown as its bytes, while a word next to it would stay.
#[test]
fn text_only_where_readable_shows_a_crc_as_bytes_not_a_character() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut s = blank_settings();
    s.tab = sockpit::gui::app::Tab::TcpClient;
    s.tcp_client_mut().host = "127.0.0.1".into();
    s.tcp_client_mut().port = port.to_string();
    s.tcp_client_mut().encoding = sockpit::codec::TextEncoding::Gbk;
    let mut h = harness(s);
    h.get_by_label("Connect").click();
    let mut peer = accept(&mut h, &listener);
    peer.write_all(&[0x01, 0x03, 0x02, 0x00, 0x0A, 0xF4, 0xFA])
        .unwrap();
    step_until(&mut h, "the reply", WAIT, |h| {
        h.state().tcp_client.current().log().counters().rx_bytes == 7
    });
    h.run();
    assert!(shows(&h, "\\n酊"), "GBK reads the CRC as a character");
    h.get_by_label("View").click();
    h.run();
    h.get_by_label("Text only where readable").click();
    h.run();
    h.run();
    assert!(shows(&h, "\\n\\xF4\\xFA"), "the CRC is shown as its bytes");
    assert!(!shows(&h, "酊"));
}

/// Hovers `label` long enough for its tooltip.
fn hover_for_tooltip(h: &mut egui_kittest::Harness<'_, sockpit::SockpitApp>, label: &str) {
    h.get_by_label(label).hover();
    for _ in 0..60 {
        h.step();
    }
}

#[test]
fn greyed_out_controls_say_why_on_hover() {
    let mut s = Settings::default();
    s.tab = Tab::TcpClient;
    s.tcp_client_mut().host.clear();
    let mut h = harness(s);
    h.run();
    let host = h.get_by_label("Host");
    assert_eq!(
        host.accesskit_node().placeholder(),
        Some("e.g. 192.168.1.50 or plc.local"),
        "an empty input shows what to type"
    );
    hover_for_tooltip(&mut h, "Send");
    assert!(
        shows(&h, "Connect first: sending needs an open connection."),
        "the disabled Send says why"
    );
    h.get_by_label("TCP Server").click();
    h.run();
    hover_for_tooltip(&mut h, "Disconnect all");
    assert!(shows(&h, "No client is connected."));
    hover_for_tooltip(&mut h, "Send");
    assert!(shows(&h, "Start the server and wait for a client"));
    h.get_by_label("UDP").click();
    h.run();
    hover_for_tooltip(&mut h, "Send");
    assert!(shows(
        &h,
        "Bind first: datagrams go out from the bound socket."
    ));
}
