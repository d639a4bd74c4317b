//! The Broadcast tab driven by labels: a preset run on the loopback interface against a real
//! responder fills the responder table; a bad MAC is explained.

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
use sockpit::gui::tabs::broadcast::RunStatus;

const WAIT: Duration = Duration::from_secs(10);

type H = egui_kittest::Harness<'static, sockpit::SockpitApp>;

fn settle(h: &mut H) {
    for _ in 0..3 {
        h.step();
    }
}

fn replace_text(h: &mut H, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

fn broadcast_tab() -> H {
    let mut settings = Settings::default();
    settings.tab = Tab::Broadcast;
    let mut h = harness(settings);
    settle(&mut h);
    // Pick the loopback interface from the list, as a user would.
    h.get_by_label("Interface").click();
    settle(&mut h);
    h.get_by_label("lo 127.0.0.1/8 (broadcast 127.255.255.255)")
        .click();
    settle(&mut h);
    h
}

#[test]
fn usr_iot_preset_run_fills_the_responder_table() {
    // A module on this machine: it answers the search with its IP, MAC and model.
    let responder = UdpSocket::bind("0.0.0.0:0").unwrap();
    responder
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let port = responder.local_addr().unwrap().port();
    let module = std::thread::Builder::new()
        .name("fake-module".into())
        .spawn(move || {
            let mut buf = [0u8; 64];
            for _ in 0..100 {
                if let Ok((n, from)) = responder.recv_from(&mut buf)
                    && &buf[..n] == b"HF-A11ASSISTHREAD"
                {
                    responder
                        .send_to(b"127.0.0.1,020000000001,HF-LPB100", from)
                        .unwrap();
                    return true;
                }
            }
            false
        })
        .unwrap();

    let mut h = broadcast_tab();
    h.get_by_label("Preset").click();
    settle(&mut h);
    h.get_by_label("USR-IOT / Hi-Flying module search").click();
    settle(&mut h);
    assert!(shows(&h, "Directed 127.255.255.255"));
    replace_text(&mut h, "Port", &port.to_string());
    h.get_by_label("Run discovery on lo (127.0.0.1)").click();
    step_until(&mut h, "the run to finish", WAIT, |h| {
        matches!(h.state().broadcast.status, RunStatus::Done { .. })
    });
    settle(&mut h);
    assert!(module.join().unwrap(), "the module heard the search");
    assert_eq!(h.state().broadcast.responders.len(), 1);
    assert!(shows(&h, "Responders (1)"));
    let peer = format!("127.0.0.1:{port}");
    assert!(
        h.query_all_by_label(&peer).next().is_some(),
        "the table names the responder {peer}"
    );
    assert!(shows(&h, "MAC: 02:00:00:00:00:01"));
    assert!(shows(&h, "Module: HF-LPB100"));
    assert!(shows(&h, "Finished: 1 send(s), 1 responder(s)."));
}

#[test]
fn a_bad_mac_is_explained_and_nothing_is_sent() {
    let mut h = broadcast_tab();
    replace_text(&mut h, "MAC", "00:11:22");
    h.get_by_label("Wake").click();
    settle(&mut h);
    assert!(shows(&h, "MAC: A MAC has 12 hex digits; this has 6"));
    assert_eq!(h.state().broadcast.status, RunStatus::Idle);
    assert_eq!(h.state().broadcast.session.log.counters().tx_bytes, 0);
}

#[test]
fn a_bad_group_is_explained() {
    let mut h = broadcast_tab();
    h.get_by_label("Multicast").click();
    settle(&mut h);
    // A loopback address: refused as a group, and harmless even if it were ever sent to.
    replace_text(&mut h, "Group", "127.0.0.5");
    h.get_by_label("Run discovery on lo (127.0.0.1)").click();
    settle(&mut h);
    assert!(shows(&h, "127.0.0.5 is not a multicast address"));
    assert_eq!(h.state().broadcast.status, RunStatus::Idle);
}

#[test]
fn an_unusual_mac_grouping_is_explained_and_nothing_is_sent() {
    let mut h = broadcast_tab();
    replace_text(&mut h, "MAC", "001:122:334:455");
    h.get_by_label("Wake").click();
    settle(&mut h);
    assert!(shows(
        &h,
        "MAC: \"001:122:334:455\" is not written like a MAC address"
    ));
    assert_eq!(h.state().broadcast.status, RunStatus::Idle);
    assert_eq!(h.state().broadcast.session.log.counters().tx_bytes, 0);
}

#[test]
fn an_ipv6_group_or_host_is_explained_not_sent() {
    let mut h = broadcast_tab();
    h.get_by_label("Multicast").click();
    settle(&mut h);
    replace_text(&mut h, "Group", "ff02::1");
    h.get_by_label("Run discovery on lo (127.0.0.1)").click();
    settle(&mut h);
    assert!(shows(&h, "IPv6 has no broadcast"));
    assert_eq!(h.state().broadcast.status, RunStatus::Idle);
    h.get_by_label("Unicast").click();
    settle(&mut h);
    replace_text(&mut h, "Host", "a b");
    h.get_by_label("Run discovery on lo (127.0.0.1)").click();
    settle(&mut h);
    assert!(shows(&h, "' ' at position 2 cannot be in a host name"));
    assert_eq!(h.state().broadcast.status, RunStatus::Idle);
    assert_eq!(h.state().broadcast.session.log.counters().tx_bytes, 0);
}

/// The names of the interface picker's rows, top to bottom.
fn picker_rows(h: &mut H) -> Vec<String> {
    h.get_by_label("Interface").click();
    settle(h);
    let mut rows: Vec<(f32, String)> = h
        .query_all_by_label_contains("(broadcast ")
        .filter_map(|n| {
            use egui_kittest::kittest::NodeT as _;
            Some((n.rect().top(), n.accesskit_node().label()?))
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Close the list again.
    h.key_press(egui::Key::Escape);
    settle(h);
    rows.into_iter().map(|(_, label)| label).collect()
}

/// UX issue, item 1: the interface list keeps one order (by name, then address) each time it
/// opens, also after the list is read again, so a click lands on the interface it aimed at;
/// and the Run button names the interface and address it will send on.
#[test]
fn the_interface_picker_keeps_one_order_and_the_run_button_names_the_interface() {
    let mut h = broadcast_tab();
    assert!(
        h.query_by_label("Run discovery on lo (127.0.0.1)")
            .is_some(),
        "the button names where the probe leaves"
    );
    let first = picker_rows(&mut h);
    assert!(first.iter().any(|r| r.starts_with("lo ")), "{first:?}");
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(first, sorted, "rows by name, then address");
    for round in 0..3 {
        // The cache reads the interfaces again after 2 s.
        if round == 1 {
            std::thread::sleep(std::time::Duration::from_millis(2100));
        }
        assert_eq!(picker_rows(&mut h), first, "round {round}");
    }
}
