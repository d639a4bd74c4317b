//! The TCP Server tab driven by labels against three real loopback clients.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use common::{assert_nothing_arrives, harness, read_exactly, shows, step_until};
use egui_kittest::kittest::Queryable as _;
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::tcp_server::ServerStatus;

const WAIT: Duration = Duration::from_secs(10);

/// Clicks the client-table row for `peer` (the table is left of the log, which also names peers).
fn click_client_row(h: &egui_kittest::Harness<'_, sockpit::SockpitApp>, peer: &str) {
    let node = h
        .query_all_by_label(peer)
        .min_by(|a, b| a.rect().left().total_cmp(&b.rect().left()))
        .unwrap_or_else(|| panic!("no row for {peer}"));
    assert!(node.rect().left() < 430.0, "{peer} is in the client table");
    node.click();
}

fn settle(h: &mut egui_kittest::Harness<'_, sockpit::SockpitApp>) {
    for _ in 0..3 {
        h.step();
    }
}

/// Whether the client table lists `peer`.
fn row_shown(h: &egui_kittest::Harness<'_, sockpit::SockpitApp>, peer: &str) -> bool {
    h.query_all_by_label(peer).any(|n| n.rect().left() < 430.0)
}

fn type_and_send(h: &mut egui_kittest::Harness<'_, sockpit::SockpitApp>, text: &str) {
    h.get_by_label("Message").click();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label("Message").type_text(text);
    h.step();
    h.get_by_label("Send").click();
    h.step();
    h.step();
}

#[test]
fn three_clients_select_send_to_one_all_and_disconnect() {
    let mut settings = Settings::default();
    settings.tab = Tab::TcpServer;
    settings.tcp_server_mut().bind = "127.0.0.1".into();
    settings.tcp_server_mut().port = "0".into();
    let mut h = harness(settings);
    let addr = common::start_server(&mut h);
    let mut clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    step_until(&mut h, "three clients in the table", WAIT, |h| {
        h.state().tcp_server.current().clients.len() == 3
    });
    let peers: Vec<String> = clients
        .iter()
        .map(|c| c.local_addr().unwrap().to_string())
        .collect();
    for p in &peers {
        assert!(row_shown(&h, p), "row for {p}");
    }
    assert!(shows(&h, "with 3 client(s)"));

    // Select client 1 and send: only it receives.
    click_client_row(&h, &peers[1]);
    settle(&mut h);
    assert!(shows(&h, &format!("selected client {}", peers[1])));
    // The log is filtered to the selected client.
    assert!(shows(&h, &format!("Client {} connected.", peers[1])));
    assert!(!shows(&h, &format!("Client {} connected.", peers[0])));
    type_and_send(&mut h, "hi one");
    assert_eq!(read_exactly(&mut clients[1], 6), b"hi one");
    assert_nothing_arrives(&mut clients[0]);
    assert_nothing_arrives(&mut clients[2]);

    // All clients: everyone receives.
    h.get_by_label("All clients").click();
    settle(&mut h);
    type_and_send(&mut h, "hi all");
    for c in &mut clients {
        assert_eq!(read_exactly(c, 6), b"hi all");
    }

    // Disconnect client 0: two rows remain and the log says why.
    click_client_row(&h, &peers[0]);
    settle(&mut h);
    h.get_by_label("Disconnect selected").click();
    step_until(&mut h, "two clients left", WAIT, |h| {
        h.state().tcp_server.current().clients.len() == 2
    });
    h.step();
    assert!(shows(
        &h,
        &format!("Client {} disconnected: disconnected by us.", peers[0])
    ));
    assert!(row_shown(&h, &peers[1]));
    assert!(
        !row_shown(&h, &peers[0]),
        "the disconnected client's row is gone"
    );
    assert!(row_shown(&h, &peers[2]));
    let mut b = [0u8; 1];
    clients[0].set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(clients[0].read(&mut b).unwrap(), 0);

    // Stop: the rest are closed and counted.
    h.get_by_label("Stop").click();
    step_until(&mut h, "stopped", WAIT, |h| {
        matches!(h.state().tcp_server.current().status, ServerStatus::Stopped)
    });
    h.step();
    assert!(shows(&h, "Server stopped; 2 client(s) disconnected."));
}

#[test]
fn port_in_use_is_explained() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = Settings::default();
    settings.tab = Tab::TcpServer;
    settings.tcp_server_mut().bind = "127.0.0.1".into();
    settings.tcp_server_mut().port = holder.local_addr().unwrap().port().to_string();
    settings.tcp_server_mut().reuse_addr = false;
    let mut h = harness(settings);
    h.get_by_label("Start").click();
    step_until(&mut h, "failed", WAIT, |h| {
        matches!(
            h.state().tcp_server.current().status,
            ServerStatus::Failed(_)
        )
    });
    h.step();
    assert!(shows(&h, "Another program already uses port"));
}

#[test]
fn bad_address_is_explained_next_to_the_field() {
    let mut settings = Settings::default();
    settings.tab = Tab::TcpServer;
    settings.tcp_server_mut().bind = "300.1.1.1".into();
    let mut h = harness(settings);
    h.get_by_label("Start").click();
    h.step();
    h.step();
    assert!(shows(&h, "Address: \"300.1.1.1\" is not an IP address"));
    assert!(matches!(
        h.state().tcp_server.current().status,
        ServerStatus::Stopped
    ));
}

#[test]
fn bind_picker_lists_this_machines_interface_addresses() {
    let mut settings = Settings::default();
    settings.tab = Tab::TcpServer;
    settings.tcp_server_mut().bind = "0.0.0.0".into();
    let mut h = harness(settings);
    // Opened again and again, the picker lists the same entries in the same order, each
    // address once (issue: the Broadcast list changed order between openings).
    let mut orders = Vec::new();
    for _ in 0..5 {
        h.get_by_label("Bind address").click();
        h.step();
        h.step();
        let mut entries: Vec<(f32, String)> = h
            .query_all_by_label_contains("(")
            .chain(h.query_all_by_label_contains(": "))
            .filter(|n| n.rect().top() > h.get_by_label("Bind address").rect().bottom())
            .filter_map(|n| {
                use egui_kittest::kittest::NodeT as _;
                Some((n.rect().top(), n.accesskit_node().label()?))
            })
            .collect();
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        entries.dedup();
        orders.push(entries.into_iter().map(|(_, l)| l).collect::<Vec<_>>());
        h.key_press(egui::Key::Escape);
        h.step();
        h.step();
    }
    assert!(orders[0].len() >= 4, "{:?}", orders[0]);
    assert!(orders.windows(2).all(|w| w[0] == w[1]), "{orders:?}");
    h.get_by_label("Bind address").click();
    h.step();
    h.step();
    let lo = h
        .query_all_by_label_contains("127.0.0.1, lo")
        .next()
        .expect("the loopback interface's address is offered, naming its interface");
    lo.click();
    h.step();
    h.step();
    assert_eq!(h.state().tcp_server.current().settings.bind, "127.0.0.1");
}

/// At 900×600 the TCP Server still shows the log's rows with their text column inside the
/// window beside the client table (issue: the text column started off-screen).
#[test]
fn a_small_window_keeps_the_log_rows_and_their_text_column() {
    let mut settings = Settings::default();
    settings.tab = Tab::TcpServer;
    settings.tcp_server_mut().bind = "127.0.0.1".into();
    settings.tcp_server_mut().port = "0".into();
    let size = egui::vec2(900.0, 600.0);
    let mut h = common::harness_sized(settings, size);
    let addr = common::start_server(&mut h);
    let mut client = TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut client, b"visible-text").unwrap();
    step_until(&mut h, "the record", WAIT, |h| shows(h, "visible-text"));
    settle(&mut h);
    let header = h.get_by_label_contains("Text (UTF-8)");
    assert!(
        header.rect().right() <= size.x,
        "text header {:?}",
        header.rect()
    );
    let cell = h
        .query_all_by_label_contains("visible-text")
        .find(|n| n.rect().left() < size.x)
        .expect("a visible row");
    assert!(
        cell.rect().left() < size.x - 30.0,
        "text cell {:?}",
        cell.rect()
    );
    assert!(
        cell.rect().bottom() <= size.y,
        "row inside the window {:?}",
        cell.rect()
    );
}
