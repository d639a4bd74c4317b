//! The UDP tab driven by labels against a real loopback peer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::{harness, shows, step_until};
use egui_kittest::kittest::Queryable as _;
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::udp::UdpStatus;

const WAIT: Duration = Duration::from_secs(10);

type H = egui_kittest::Harness<'static, sockpit::SockpitApp>;

fn settle(h: &mut H) {
    for _ in 0..3 {
        h.step();
    }
}

fn bound_tab(remote_port: &str) -> (H, std::net::SocketAddr) {
    let mut settings = Settings::default();
    // Multicast joins stay on the loopback interface: no IGMP on a real network.
    settings.udp_mut().multicast_interface = "lo".into();
    settings.tab = Tab::Udp;
    settings.udp_mut().bind = "127.0.0.1".into();
    settings.udp_mut().port = "0".into();
    settings.udp_mut().remote_host = "127.0.0.1".into();
    settings.udp_mut().remote_port = remote_port.into();
    let mut h = harness(settings);
    h.get_by_label("Bind").click();
    step_until(&mut h, "bound", WAIT, |h| {
        matches!(h.state().udp.current().status, UdpStatus::Bound(_))
    });
    let local = h.state().udp.current().bound().unwrap();
    settle(&mut h);
    assert!(shows(&h, &format!("Bound to {local}.")));
    (h, local)
}

fn replace_text(h: &mut H, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

fn send_message(h: &mut H, text: &str) {
    replace_text(h, "Message", text);
    h.get_by_label("Send").click();
    settle(h);
}

#[test]
fn received_datagrams_show_their_sender_and_reply_goes_back_to_it() {
    let (mut h, local) = bound_tab("9");
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let peer_addr = peer.local_addr().unwrap().to_string();
    peer.send_to("hello 你好".as_bytes(), local).unwrap();
    step_until(&mut h, "the datagram in the log", WAIT, |h| {
        shows(h, "hello 你好")
    });
    assert!(shows(&h, &peer_addr), "the sender's address is shown");

    // Select the datagram and reply: the destination becomes its sender.
    h.get_by_label("hello 你好").click();
    settle(&mut h);
    h.get_by_label("Reply to sender").click();
    settle(&mut h);
    assert_eq!(
        h.state().udp.current().settings.remote_port,
        peer.local_addr().unwrap().port().to_string()
    );
    send_message(&mut h, "back at you");
    let mut buf = [0u8; 64];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"back at you");
    assert_eq!(from, local);
    step_until(&mut h, "the sent datagram in the log", WAIT, |h| {
        shows(h, "back at you")
    });
}

#[test]
fn a_bad_destination_port_is_explained_and_nothing_is_sent() {
    let (mut h, _) = bound_tab("70000");
    send_message(&mut h, "must not leave");
    assert!(shows(&h, "Destination: Port 70000 is out of range"));
    assert_eq!(h.state().udp.current().log().counters().tx_bytes, 0);
    // The typed message is kept for the user to send again.
    assert!(
        h.state()
            .udp
            .current()
            .settings
            .send_box
            .text
            .contains("must not leave")
    );
}

#[test]
fn a_send_to_a_closed_port_says_port_unreachable() {
    let closed = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let (mut h, _) = bound_tab(&closed.to_string());
    send_message(&mut h, "ping");
    step_until(&mut h, "port unreachable message", WAIT, |h| {
        shows(h, &format!("nothing listens on UDP port {closed}"))
    });
}

#[test]
fn an_invalid_group_is_explained() {
    let (mut h, _) = bound_tab("9");
    // A loopback address: refused as a group, and harmless even if it were ever joined.
    h.get_by_label("Multicast").click();
    h.run();
    replace_text(&mut h, "Group", "127.0.0.9");
    h.get_by_label("Join").click();
    settle(&mut h);
    assert!(shows(&h, "is not a multicast address"));
    assert!(h.state().udp.current().memberships.is_empty());
}

#[test]
fn joined_groups_are_listed_and_can_be_left() {
    let (mut h, _) = bound_tab("9");
    h.get_by_label("Multicast").click();
    h.run();
    replace_text(&mut h, "Group", "239.255.77.13");
    h.get_by_label("Join").click();
    step_until(&mut h, "joined", WAIT, |h| {
        !h.state().udp.current().memberships.is_empty()
    });
    settle(&mut h);
    assert!(shows(&h, "239.255.77.13 on 127.0.0.1"));
    h.get_by_label("Leave 239.255.77.13").click();
    step_until(&mut h, "left", WAIT, |h| {
        h.state().udp.current().memberships.is_empty()
    });
}

/// A payload too big for one datagram is refused next to the send box, and nothing is sent
/// (the worker used to pass it to the OS and report its error after the fact).
#[test]
fn a_payload_too_big_for_a_datagram_is_refused_and_nothing_is_sent() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let (mut h, _) = bound_tab(&peer.local_addr().unwrap().port().to_string());
    send_message(&mut h, &"a".repeat(70_000));
    settle(&mut h);
    assert!(shows(&h, "a UDP datagram holds at most 65,507 bytes"));
    assert_eq!(h.state().udp.current().log().counters().tx_bytes, 0);
    let mut buf = [0u8; 16];
    assert!(peer.recv_from(&mut buf).is_err(), "nothing arrives");
}

/// The UX issue's item 8: an error that comes does not move the send row (the next click lands
/// where the user aimed), and a "Port unreachable" about the closed socket goes with it.
#[test]
fn an_error_keeps_the_send_row_in_place_and_close_clears_it() {
    let closed = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let (mut h, _) = bound_tab(&closed.to_string());
    let send_at = h.get_by_label("Send").rect();
    let message_at = h.get_by_label("Message").rect();
    let host_at = h.get_by_label("Remote host").rect();
    send_message(&mut h, "ping");
    step_until(&mut h, "port unreachable message", WAIT, |h| {
        shows(h, "Port unreachable")
    });
    settle(&mut h);
    assert_eq!(
        h.get_by_label("Send").rect(),
        send_at,
        "the Send button stayed"
    );
    assert_eq!(
        h.get_by_label("Message").rect(),
        message_at,
        "the message field stayed"
    );
    assert_eq!(
        h.get_by_label("Remote host").rect(),
        host_at,
        "the destination row stayed"
    );
    h.get_by_label("Close").click();
    step_until(&mut h, "closed", WAIT, |h| {
        matches!(h.state().udp.current().status, UdpStatus::Closed)
    });
    settle(&mut h);
    assert!(
        !h.query_all_by_label_contains("Destination: Port unreachable")
            .any(|_| true),
        "the error about the closed socket is gone"
    );
    assert_eq!(
        h.get_by_label("Send").rect(),
        send_at,
        "and nothing moved back"
    );
}

#[test]
fn the_peer_filter_shows_one_sender_s_datagrams() {
    let (mut h, local) = bound_tab("9");
    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.send_to(b"from-a", local).unwrap();
    b.send_to(b"from-b", local).unwrap();
    step_until(&mut h, "both datagrams", WAIT, |h| {
        shows(h, "from-a") && shows(h, "from-b")
    });
    replace_text(&mut h, "Only peer", &b.local_addr().unwrap().to_string());
    settle(&mut h);
    assert!(shows(&h, "from-b") && !shows(&h, "from-a"), "only b's rows");
    // An IP alone keeps every port of it.
    replace_text(&mut h, "Only peer", "127.0.0.1");
    settle(&mut h);
    assert!(shows(&h, "from-a") && shows(&h, "from-b"));
    replace_text(&mut h, "Only peer", "nope");
    settle(&mut h);
    assert!(shows(&h, "Only peer: type an IP or IP:PORT"));
}

#[test]
fn a_received_rows_menu_replies_to_its_sender() {
    let (mut h, local) = bound_tab("9");
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let peer_addr = peer.local_addr().unwrap();
    peer.send_to(b"ping from a device", local).unwrap();
    step_until(&mut h, "the datagram in the log", WAIT, |h| {
        shows(h, "ping from a device")
    });
    h.get_by_label("ping from a device").click_secondary();
    settle(&mut h);
    h.get_by_label(&format!("Reply to {peer_addr}")).click();
    settle(&mut h);
    assert_eq!(h.state().udp.current().settings.remote_host, "127.0.0.1");
    assert_eq!(
        h.state().udp.current().settings.remote_port,
        peer_addr.port().to_string()
    );
    send_message(&mut h, "pong");
    let mut buf = [0u8; 16];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    assert_eq!(from, local);
}
