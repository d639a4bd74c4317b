//! Several sessions per tab, driven by labels as a user would, against real loopback peers:
//! each session has its own worker and log, closing one leaves the others running, the list
//! survives a restart, and Ctrl+W asks before it cuts a connection.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::{accept, assert_nothing_arrives, harness, read_exactly, shows, step_until};
use eframe::App as _;
use egui::{Key, Modifiers};
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use sockpit::SockpitApp;
use sockpit::gui::app::{Settings, Startup, Tab};
use sockpit::gui::tabs::tcp_client::Status;
use sockpit::gui::tabs::tcp_server::ServerStatus;
use sockpit::gui::tabs::udp::UdpStatus;
use sockpit::traffic::Direction;

type H = egui_kittest::Harness<'static, SockpitApp>;

const WAIT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct MemStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

fn settle(h: &mut H) {
    for _ in 0..3 {
        h.step();
    }
}

fn replace_text(h: &mut H, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.step();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

fn send_message(h: &mut H, text: &str) {
    replace_text(h, "Message", text);
    h.get_by_label("Send").click();
    settle(h);
}

/// The payloads of one direction in a log, in order.
fn payloads(log: &sockpit::traffic::TrafficLog, direction: Direction) -> Vec<Vec<u8>> {
    (log.first_id()..log.end_id())
        .filter_map(|id| log.get_by_id(id))
        .filter(|r| r.direction == direction)
        .map(|r| r.bytes.to_vec())
        .collect()
}

/// Every peer a log names.
fn peers(log: &sockpit::traffic::TrafficLog) -> std::collections::BTreeSet<SocketAddr> {
    (log.first_id()..log.end_id())
        .filter_map(|id| log.get_by_id(id))
        .filter_map(|r| r.peer)
        .collect()
}

fn client_connected(h: &egui_kittest::Harness<'_, SockpitApp>, index: usize) -> bool {
    matches!(
        h.state().tcp_client.get(index).map(|t| &t.status),
        Some(Status::Connected { .. })
    )
}

/// Connects the session shown to `addr` through its Host and Port fields and the Connect
/// button, and returns the listener's end.
fn connect_shown_session(h: &mut H, listener: &TcpListener) -> TcpStream {
    let addr = listener.local_addr().unwrap();
    replace_text(h, "Host", "127.0.0.1");
    replace_text(h, "Port", &addr.port().to_string());
    h.get_by_label("Connect").click();
    let peer = accept(h, listener);
    let index = h.state().tcp_client.selected();
    step_until(h, "connected", WAIT, |h| client_connected(h, index));
    peer
}

#[test]
fn two_client_sessions_talk_to_two_servers_each_only_its_own_then_one_closes() {
    let server_a = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_b = TcpListener::bind("127.0.0.1:0").unwrap();
    let (addr_a, addr_b) = (
        server_a.local_addr().unwrap(),
        server_b.local_addr().unwrap(),
    );
    let mut settings = Settings::default();
    settings.tab = Tab::TcpClient;
    let mut h = harness(settings);
    h.run();
    assert!(shows(&h, "Client 1"), "the strip names the one session");

    let mut peer_a = connect_shown_session(&mut h, &server_a);
    h.get_by_label("New session").click();
    settle(&mut h);
    assert_eq!(h.state().tcp_client.len(), 2);
    assert_eq!(
        h.state().tcp_client.selected(),
        1,
        "the new session is shown"
    );
    assert!(
        shows(&h, "Not connected."),
        "the new session has its own status"
    );
    let mut peer_b = connect_shown_session(&mut h, &server_b);
    assert!(client_connected(&h, 0), "the first session stays connected");

    // Each send goes to its own session's server only.
    send_message(&mut h, "to-b");
    assert_eq!(read_exactly(&mut peer_b, 4), b"to-b");
    assert_nothing_arrives(&mut peer_a);
    h.get_by_label("Client 1").click();
    settle(&mut h);
    assert_eq!(h.state().tcp_client.selected(), 0);
    send_message(&mut h, "to-a");
    assert_eq!(read_exactly(&mut peer_a, 4), b"to-a");
    assert_nothing_arrives(&mut peer_b);

    // Each server's reply lands in its own session's log, and only there.
    peer_a.write_all(b"reply-from-a").unwrap();
    peer_b.write_all(b"reply-from-b").unwrap();
    step_until(&mut h, "both replies applied", WAIT, |h| {
        let c = &h.state().tcp_client;
        c.get(0).unwrap().log().counters().rx_bytes == 12
            && c.get(1).unwrap().log().counters().rx_bytes == 12
    });
    {
        let c = &h.state().tcp_client;
        let (log_a, log_b) = (c.get(0).unwrap().log(), c.get(1).unwrap().log());
        assert_eq!(payloads(log_a, Direction::Sent), [b"to-a".to_vec()]);
        assert_eq!(
            payloads(log_a, Direction::Received),
            [b"reply-from-a".to_vec()]
        );
        assert_eq!(payloads(log_b, Direction::Sent), [b"to-b".to_vec()]);
        assert_eq!(
            payloads(log_b, Direction::Received),
            [b"reply-from-b".to_vec()]
        );
        assert_eq!(peers(log_a).into_iter().collect::<Vec<_>>(), [addr_a]);
        assert_eq!(peers(log_b).into_iter().collect::<Vec<_>>(), [addr_b]);
    }
    settle(&mut h);
    assert!(shows(&h, "reply-from-a"), "session 1 shows its reply");
    assert!(!shows(&h, "reply-from-b"), "and not the other session's");
    h.get_by_label("Client 2").click();
    settle(&mut h);
    assert!(shows(&h, "reply-from-b"), "session 2 shows its reply");
    assert!(!shows(&h, "reply-from-a"), "and not the other session's");

    // Rename the second session from its context menu.
    h.get_by_label("Client 2").click_secondary();
    settle(&mut h);
    h.get_by_label("Rename…").click();
    settle(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.step();
    h.get_by_label("Session name").type_text("Meter");
    h.step();
    h.key_press(Key::Enter);
    settle(&mut h);
    assert_eq!(h.state().tcp_client.name(1), Some("Meter"));
    assert!(
        h.query_by_label("Meter").is_some(),
        "the strip shows the new name"
    );

    // A restart brings both sessions back with their names and fields.
    let mut storage = MemStorage::default();
    h.state_mut().save(&mut storage);
    {
        let restarted = harness(Settings::load(Some(&storage)));
        let c = &restarted.state().tcp_client;
        assert_eq!(c.len(), 2);
        assert_eq!(c.name(0), Some("Client 1"));
        assert_eq!(c.name(1), Some("Meter"));
        assert_eq!(c.selected(), 1);
        let (a, b) = (&c.get(0).unwrap().settings, &c.get(1).unwrap().settings);
        assert_eq!(
            (a.host.as_str(), a.port.clone()),
            ("127.0.0.1", addr_a.port().to_string())
        );
        assert_eq!(
            (b.host.as_str(), b.port.clone()),
            ("127.0.0.1", addr_b.port().to_string())
        );
        assert!(
            restarted.query_by_label("Meter").is_some()
                && restarted.query_by_label("Client 1").is_some(),
            "the restarted strip shows both"
        );
    }

    // Close the first (connected) session: asked first, then its connection ends.
    h.get_by_label("Close session Client 1").click();
    settle(&mut h);
    assert!(
        shows(&h, &format!("Close Client 1? It is connected to {addr_a}.")),
        "the close asks first, naming the connection"
    );
    h.get_by_label("Close session").click();
    settle(&mut h);
    assert_eq!(h.state().tcp_client.len(), 1);
    assert_eq!(h.state().tcp_client.name(0), Some("Meter"));
    peer_a.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(peer_a.read(&mut buf).unwrap(), 0, "server A sees the close");

    // The other session keeps running: it still sends and receives.
    assert!(client_connected(&h, 0));
    send_message(&mut h, "still-here");
    assert_eq!(read_exactly(&mut peer_b, 10), b"still-here");
    peer_b.write_all(b"b-again").unwrap();
    step_until(&mut h, "the survivor receives", WAIT, |h| {
        h.state().tcp_client.current().log().counters().rx_bytes == 19
    });
    settle(&mut h);
    assert!(shows(&h, "b-again"));
}

fn listening(h: &egui_kittest::Harness<'_, SockpitApp>, i: usize) -> Option<SocketAddr> {
    match h.state().tcp_server.get(i).map(|t| &t.status) {
        Some(ServerStatus::Listening(addr)) => Some(*addr),
        _ => None,
    }
}

fn bound(h: &egui_kittest::Harness<'_, SockpitApp>, i: usize) -> Option<SocketAddr> {
    match h.state().udp.get(i).map(|t| &t.status) {
        Some(UdpStatus::Bound(addr)) => Some(*addr),
        _ => None,
    }
}

#[test]
fn two_server_sessions_on_two_ports_each_list_only_their_own_clients() {
    let mut settings = Settings::default();
    settings.tab = Tab::TcpServer;
    settings.tcp_server_mut().bind = "127.0.0.1".into();
    settings.tcp_server_mut().port = "0".into();
    let mut h = harness(settings);
    h.get_by_label("Start").click();
    step_until(&mut h, "server 1 listening", WAIT, |h| {
        listening(h, 0).is_some()
    });
    h.key_press_modifiers(Modifiers::COMMAND, Key::T);
    settle(&mut h);
    assert_eq!(h.state().tcp_server.len(), 2, "Ctrl+T opened a session");
    replace_text(&mut h, "Address", "127.0.0.1");
    replace_text(&mut h, "Port", "0");
    h.get_by_label("Start").click();
    step_until(&mut h, "server 2 listening", WAIT, |h| {
        listening(h, 1).is_some()
    });
    let (addr_1, addr_2) = (listening(&h, 0).unwrap(), listening(&h, 1).unwrap());
    assert_ne!(addr_1.port(), addr_2.port());

    let mut to_1: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(addr_1).unwrap())
        .collect();
    let mut to_2 = vec![TcpStream::connect(addr_2).unwrap()];
    step_until(&mut h, "each server accepted its clients", WAIT, |h| {
        let s = &h.state().tcp_server;
        s.get(0).unwrap().clients.len() == 2 && s.get(1).unwrap().clients.len() == 1
    });
    let locals = |v: &[TcpStream]| -> std::collections::BTreeSet<SocketAddr> {
        v.iter().map(|s| s.local_addr().unwrap()).collect()
    };
    let listed = |h: &H, i: usize| -> std::collections::BTreeSet<SocketAddr> {
        let tab = h.state().tcp_server.get(i).unwrap();
        tab.clients.values().map(|c| c.peer).collect()
    };
    assert_eq!(listed(&h, 0), locals(&to_1));
    assert_eq!(listed(&h, 1), locals(&to_2));

    for (i, s) in to_1.iter_mut().enumerate() {
        s.write_all(format!("one-{i}").as_bytes()).unwrap();
    }
    to_2[0].write_all(b"two-0").unwrap();
    step_until(&mut h, "bytes received", WAIT, |h| {
        let s = &h.state().tcp_server;
        s.get(0).unwrap().log().counters().rx_bytes == 10
            && s.get(1).unwrap().log().counters().rx_bytes == 5
    });
    let s = &h.state().tcp_server;
    let mut got_1 = payloads(s.get(0).unwrap().log(), Direction::Received);
    got_1.sort();
    assert_eq!(got_1, [b"one-0".to_vec(), b"one-1".to_vec()]);
    assert_eq!(
        payloads(s.get(1).unwrap().log(), Direction::Received),
        [b"two-0".to_vec()]
    );

    // What the user sees: the session shown lists its own clients, not the other's.
    settle(&mut h);
    let client_2 = to_2[0].local_addr().unwrap().to_string();
    assert!(shows(&h, &client_2), "session 2 lists its client");
    for c in &to_1 {
        assert!(!shows(&h, &c.local_addr().unwrap().to_string()));
    }
    assert!(shows(
        &h,
        &format!("Listening on {addr_2} with 1 client(s).")
    ));
    h.get_by_label("Server 1").click();
    settle(&mut h);
    for c in &to_1 {
        assert!(shows(&h, &c.local_addr().unwrap().to_string()));
    }
    assert!(
        !shows(&h, &client_2),
        "session 1 does not list session 2's client"
    );
    assert!(shows(
        &h,
        &format!("Listening on {addr_1} with 2 client(s).")
    ));

    // A send in session 1 goes to its clients only.
    send_message(&mut h, "hi-all");
    for c in &mut to_1 {
        assert_eq!(read_exactly(c, 6), b"hi-all");
    }
    assert_nothing_arrives(&mut to_2[0]);
}

#[test]
fn ctrl_w_on_a_connected_session_asks_first_and_cancel_keeps_it() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let mut settings = Settings::default();
    settings.tab = Tab::TcpClient;
    let mut h = harness(settings);
    h.run();
    let mut peer = connect_shown_session(&mut h, &server);
    h.key_press_modifiers(Modifiers::COMMAND, Key::T);
    settle(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::T);
    settle(&mut h);
    assert_eq!(h.state().tcp_client.len(), 3);
    assert_eq!(h.state().tcp_client.selected(), 2);
    assert!(
        shows(&h, "Not connected.") && !shows(&h, "Connected:"),
        "the new session shown is its own, idle"
    );

    // An idle session closes at once.
    h.key_press_modifiers(Modifiers::COMMAND, Key::W);
    settle(&mut h);
    assert_eq!(h.state().tcp_client.len(), 2);
    assert!(h.query_by_label("Cancel").is_none(), "nothing was asked");

    // The connected one asks; Cancel keeps it, connected.
    h.get_by_label("Client 1").click();
    settle(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::W);
    settle(&mut h);
    assert!(
        shows(&h, &format!("Close Client 1? It is connected to {addr}.")),
        "the question names the connection"
    );
    assert_eq!(h.state().tcp_client.len(), 2, "nothing closed while asking");
    h.get_by_label("Cancel").click();
    settle(&mut h);
    assert!(h.query_by_label("Cancel").is_none(), "the question is gone");
    assert_eq!(h.state().tcp_client.len(), 2);
    assert!(client_connected(&h, 0), "still connected after Cancel");
    assert!(shows(&h, &format!("→ {addr}")), "and it says so");
    send_message(&mut h, "kept");
    assert_eq!(read_exactly(&mut peer, 4), b"kept");
    h.get_by_label("Client 2").click();
    settle(&mut h);
    assert!(
        shows(&h, "Not connected."),
        "Client 2 is its own, idle session"
    );
    h.get_by_label("Client 1").click();
    settle(&mut h);

    // Asked again and answered Close session: closed, and the peer sees it.
    h.key_press_modifiers(Modifiers::COMMAND, Key::W);
    settle(&mut h);
    h.get_by_label("Close session").click();
    settle(&mut h);
    assert_eq!(h.state().tcp_client.len(), 1);
    assert_eq!(h.state().tcp_client.name(0), Some("Client 2"));
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(peer.read(&mut buf).unwrap(), 0, "the connection was closed");

    // The last session stays, and the strip says why.
    h.key_press_modifiers(Modifiers::COMMAND, Key::W);
    settle(&mut h);
    assert_eq!(h.state().tcp_client.len(), 1);
    assert!(shows(&h, "only session, so it stays open"));
}

#[test]
fn two_udp_sessions_each_log_only_their_own_datagrams() {
    let mut settings = Settings::default();
    settings.tab = Tab::Udp;
    settings.udp_mut().bind = "127.0.0.1".into();
    settings.udp_mut().port = "0".into();
    let mut h = harness(settings);
    h.get_by_label("Bind").click();
    step_until(&mut h, "session 1 bound", WAIT, |h| bound(h, 0).is_some());
    h.get_by_label("New session").click();
    settle(&mut h);
    replace_text(&mut h, "Address", "127.0.0.1");
    replace_text(&mut h, "Local port", "0");
    h.get_by_label("Bind").click();
    step_until(&mut h, "session 2 bound", WAIT, |h| bound(h, 1).is_some());
    let (one, two) = (bound(&h, 0).unwrap(), bound(&h, 1).unwrap());
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"dgram-one", one).unwrap();
    sender.send_to(b"dgram-two", two).unwrap();
    step_until(&mut h, "each received one", WAIT, |h| {
        let u = &h.state().udp;
        u.get(0).unwrap().log().counters().rx_bytes == 9
            && u.get(1).unwrap().log().counters().rx_bytes == 9
    });
    let u = &h.state().udp;
    assert_eq!(
        payloads(u.get(0).unwrap().log(), Direction::Received),
        [b"dgram-one".to_vec()]
    );
    assert_eq!(
        payloads(u.get(1).unwrap().log(), Direction::Received),
        [b"dgram-two".to_vec()]
    );
    settle(&mut h);
    assert!(shows(&h, "dgram-two") && !shows(&h, "dgram-one"));
    assert!(shows(&h, &format!("Bound to {two}.")));
}

#[test]
fn start_up_addresses_each_open_their_own_session() {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let ports = [
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    ];
    let startup = Startup {
        connect: ports.iter().map(|p| ("127.0.0.1".to_owned(), *p)).collect(),
        ..Startup::default()
    };
    let mut h = harness(Settings::default());
    h.state_mut().apply_startup(&startup);
    let _peer_a = accept(&mut h, &a);
    let _peer_b = accept(&mut h, &b);
    step_until(&mut h, "both connected", WAIT, |h| {
        client_connected(h, 0) && client_connected(h, 1)
    });
    let c = &h.state().tcp_client;
    assert_eq!(c.len(), 2);
    assert_eq!(h.state().tab, Tab::TcpClient);
    for (i, port) in ports.iter().enumerate() {
        assert_eq!(c.get(i).unwrap().settings.port, port.to_string());
    }
    // The first one started is shown; each shows its own connection.
    settle(&mut h);
    assert!(shows(&h, &format!("→ 127.0.0.1:{}", ports[0])));
    assert!(!shows(&h, &format!("→ 127.0.0.1:{}", ports[1])));
    h.get_by_label("Client 2").click();
    settle(&mut h);
    assert!(shows(&h, &format!("→ 127.0.0.1:{}", ports[1])));
    assert!(!shows(&h, &format!("→ 127.0.0.1:{}", ports[0])));
    // The same options again fill the same sessions rather than opening more.
    let mut storage = MemStorage::default();
    h.state_mut().save(&mut storage);
    let mut again = harness(Settings::load(Some(&storage)));
    again.state_mut().apply_startup(&startup);
    assert_eq!(again.state().tcp_client.len(), 2);
}

#[test]
fn a_tab_holds_at_most_32_sessions_and_says_so() {
    use sockpit::gui::sessions::MAX_SESSIONS;
    let mut settings = Settings::default();
    settings.tab = Tab::Udp;
    let mut h = harness(settings);
    while h.state().udp.len() < MAX_SESSIONS {
        assert!(h.state_mut().udp.open_new().is_some());
    }
    settle(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::T);
    settle(&mut h);
    assert_eq!(h.state().udp.len(), MAX_SESSIONS);
    assert!(
        shows(&h, "a tab holds at most 32 sessions"),
        "the refusal is said"
    );
    assert!(
        h.get_by_label("New session").accesskit_node().is_disabled(),
        "and + is disabled"
    );
    // Each of the 32 is a session of its own (its own worker and log), not one shared.
    let u = &h.state().udp;
    let distinct: std::collections::BTreeSet<*const sockpit::traffic::TrafficLog> = (0
        ..MAX_SESSIONS)
        .map(|i| std::ptr::from_ref(u.get(i).unwrap().log()))
        .collect();
    assert_eq!(distinct.len(), MAX_SESSIONS);
}

#[test]
fn a_worker_that_panics_is_shown_restart_brings_it_back_and_the_other_session_goes_on() {
    let server_a = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_b = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = Settings::default();
    settings.tab = Tab::TcpClient;
    let mut h = harness(settings);
    h.run();
    let _peer_a = connect_shown_session(&mut h, &server_a);
    h.get_by_label("New session").click();
    settle(&mut h);
    let mut peer_b = connect_shown_session(&mut h, &server_b);
    h.get_by_label("Client 1").click();
    settle(&mut h);

    // The first session's worker dies (a test build's injected panic).
    h.state()
        .tcp_client
        .get(0)
        .unwrap()
        .session
        .send(sockpit::engine::tcp_client::Command::InjectPanic)
        .unwrap();
    step_until(&mut h, "the failure shown", WAIT, |h| {
        h.state()
            .tcp_client
            .get(0)
            .unwrap()
            .session
            .failure()
            .is_some()
    });
    settle(&mut h);
    assert!(shows(
        &h,
        "The connection worker stopped unexpectedly: a panic injected by a test"
    ));
    assert!(shows(
        &h,
        "Click Restart worker to carry on; the log is kept."
    ));

    // The other session did not notice: it still sends and receives.
    assert!(client_connected(&h, 1));
    h.get_by_label("Client 2").click();
    settle(&mut h);
    send_message(&mut h, "still-here");
    assert_eq!(read_exactly(&mut peer_b, 10), b"still-here");
    peer_b.write_all(b"me-too").unwrap();
    step_until(&mut h, "the reply in session 2", WAIT, |h| {
        h.state()
            .tcp_client
            .get(1)
            .unwrap()
            .log()
            .counters()
            .rx_bytes
            == 6
    });

    // Restart brings the first session back, and it connects again.
    h.get_by_label("Client 1").click();
    settle(&mut h);
    h.get_by_label("Restart worker").click();
    settle(&mut h);
    assert!(h.state().tcp_client.get(0).unwrap().session.has_worker());
    assert!(
        !shows(&h, "stopped unexpectedly"),
        "the failure line is gone"
    );
    let mut peer_a2 = connect_shown_session(&mut h, &server_a);
    send_message(&mut h, "back");
    assert_eq!(read_exactly(&mut peer_a2, 4), b"back");
}
