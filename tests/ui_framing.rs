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
    h.get_by_label("Start").click();
    step_until(&mut h, "listening", WAIT, |h| {
        matches!(
            h.state().tcp_server.current().status,
            ServerStatus::Listening(_)
        )
    });
    let ServerStatus::Listening(addr) = h.state().tcp_server.current().status.clone() else {
        unreachable!()
    };
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
    h.get_by_label("Start").click();
    step_until(&mut h, "listening", WAIT, |h| {
        matches!(
            h.state().tcp_server.current().status,
            ServerStatus::Listening(_)
        )
    });
    let ServerStatus::Listening(addr) = h.state().tcp_server.current().status.clone() else {
        unreachable!()
    };
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"x~y~").unwrap();
    step_until(&mut h, "two records", WAIT, |h| received(h).len() == 2);
    assert_eq!(received(&h), vec![b"x".to_vec(), b"y".to_vec()]);
}
