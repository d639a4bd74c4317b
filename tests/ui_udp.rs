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
use sockpit::app::{Settings, Tab};
use sockpit::tabs::udp::UdpStatus;

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
    settings.udp.multicast_interface = "lo".into();
    settings.tab = Tab::Udp;
    settings.udp.bind = "127.0.0.1".into();
    settings.udp.port = "0".into();
    settings.udp.remote_host = "127.0.0.1".into();
    settings.udp.remote_port = remote_port.into();
    let mut h = harness(settings);
    h.get_by_label("Bind").click();
    step_until(&mut h, "bound", WAIT, |h| {
        matches!(h.state().udp.status, UdpStatus::Bound(_))
    });
    let local = h.state().udp.bound().unwrap();
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
        h.state().udp.settings.remote_port,
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
    assert_eq!(h.state().udp.log.counters().tx_bytes, 0);
    // The typed message is kept for the user to send again.
    assert!(
        h.state()
            .udp
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
    replace_text(&mut h, "Group", "127.0.0.9");
    h.get_by_label("Join").click();
    settle(&mut h);
    assert!(shows(&h, "is not a multicast address"));
    assert!(h.state().udp.memberships.is_empty());
}

#[test]
fn joined_groups_are_listed_and_can_be_left() {
    let (mut h, _) = bound_tab("9");
    replace_text(&mut h, "Group", "239.255.77.13");
    h.get_by_label("Join").click();
    step_until(&mut h, "joined", WAIT, |h| {
        !h.state().udp.memberships.is_empty()
    });
    settle(&mut h);
    assert!(shows(&h, "239.255.77.13 on 127.0.0.1"));
    h.get_by_label("Leave 239.255.77.13").click();
    step_until(&mut h, "left", WAIT, |h| {
        h.state().udp.memberships.is_empty()
    });
}
