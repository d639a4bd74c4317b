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
use sockpit::app::{Settings, Tab};
use sockpit::tabs::broadcast::RunStatus;

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
    h.get_by_label("Run discovery").click();
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
    assert_eq!(h.state().broadcast.log.counters().tx_bytes, 0);
}

#[test]
fn a_bad_group_is_explained() {
    let mut h = broadcast_tab();
    h.get_by_label("Multicast").click();
    settle(&mut h);
    // A loopback address: refused as a group, and harmless even if it were ever sent to.
    replace_text(&mut h, "Group", "127.0.0.5");
    h.get_by_label("Run discovery").click();
    settle(&mut h);
    assert!(shows(&h, "127.0.0.5 is not a multicast address"));
    assert_eq!(h.state().broadcast.status, RunStatus::Idle);
}
