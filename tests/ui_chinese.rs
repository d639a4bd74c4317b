//! The window in Simplified Chinese: the TCP Client flow driven by its Chinese labels against a
//! real loopback peer, and the language switch in the tab bar. The language is one switch for
//! the whole process, so this binary's tests run one at a time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::{accept, harness, shows, step_until};
use egui_kittest::kittest::Queryable as _;
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::tcp_client::Status;
use sockpit::i18n::{Language, catalogue};

const WAIT: Duration = Duration::from_secs(15);

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The Chinese text of the catalogue key under `prefix` whose English is `english` (so the
/// test reads like the English one, and fails if the key has no Chinese).
fn zh(prefix: &str, english: &str) -> String {
    let en = catalogue(Language::English);
    let zh = catalogue(Language::Chinese);
    let (key, _) = en
        .iter()
        .find(|(k, v)| k.starts_with(prefix) && v == english)
        .unwrap_or_else(|| panic!("no key under {prefix} reads {english:?}"));
    let text = zh
        .iter()
        .find(|(k, _)| k == key)
        .map_or_else(|| panic!("{key} has no Chinese"), |(_, v)| v.clone());
    assert!(
        text.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)),
        "{key}: {text:?} is not Chinese"
    );
    text
}

#[test]
fn the_tcp_client_flow_in_chinese() {
    let _one = one_at_a_time();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut settings = Settings::default();
    settings.language = Some(Language::Chinese);
    settings.tab = Tab::TcpServer;
    settings.tcp_client_mut().host.clear();
    settings.tcp_client_mut().port.clear();
    let mut h = harness(settings);
    // The tabs, the fields and the buttons are found by their Chinese names.
    h.get_by_label(&zh("app.tab.", "TCP Client")).click();
    h.run();
    let host = zh("tcp_client.", "Host");
    let port_label = zh("tcp_client.", "Port");
    h.get_by_label(&host).click();
    h.get_by_label(&host).type_text("127.0.0.1");
    h.get_by_label(&port_label).click();
    h.get_by_label(&port_label).type_text(&port.to_string());
    h.run();
    h.get_by_label(&zh("tcp_client.", "Connect")).click();
    let mut peer = accept(&mut h, &listener);
    step_until(&mut h, "connected", WAIT, |h| {
        matches!(
            h.state().tcp_client.current().status,
            Status::Connected { .. }
        )
    });
    assert!(
        shows(&h, "已连接"),
        "the status line says connected in Chinese"
    );
    // Chinese text both ways: the peer sends 你好 (UTF-8), the user sends 世界.
    peer.write_all("你好".as_bytes()).unwrap();
    step_until(&mut h, "6 bytes received", WAIT, |h| {
        h.state().tcp_client.current().log().counters().rx_bytes == 6
    });
    assert!(shows(&h, "你好"), "the log shows the text");
    let message = zh("send.", "Message");
    h.get_by_label(&message).click();
    h.get_by_label(&message).type_text("世界");
    h.run();
    h.get_by_label(&zh("send.", "Send")).click();
    h.run();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = vec![0; "世界".len()];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, "世界".as_bytes());
    // A refused port is explained in Chinese.
    h.get_by_label(&zh("tcp_client.", "Disconnect")).click();
    h.run();
    drop(peer);
    drop(listener);
    h.get_by_label(&port_label).click();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label(&port_label).type_text("1");
    h.run();
    h.get_by_label(&zh("tcp_client.", "Connect")).click();
    step_until(&mut h, "the refusal", WAIT, |h| {
        matches!(
            h.state().tcp_client.current().status,
            Status::Failed(_) | Status::Idle | Status::Closed { .. }
        ) && shows(h, "被拒绝")
            && shows(h, "没有程序在监听")
    });
}

#[test]
fn the_language_switch_changes_the_window_and_is_saved() {
    let _one = one_at_a_time();
    let mut settings = Settings::default();
    settings.language = Some(Language::English);
    let mut h = harness(settings);
    assert!(shows(&h, "TCP Client"));
    h.get_by_label("Language").click();
    h.run();
    h.get_by_label("简体中文").click();
    h.run();
    h.run();
    let tab = zh("app.tab.", "TCP Client");
    assert!(shows(&h, &tab), "the tabs are in Chinese");
    assert!(
        h.query_by_label("TCP Client").is_none(),
        "no English tab left"
    );
    assert_eq!(h.state().settings().language, Some(Language::Chinese));
    // And back, found by its Chinese label.
    h.get_by_label(&zh("app.", "Language")).click();
    h.run();
    h.get_by_label("English").click();
    h.run();
    h.run();
    assert!(shows(&h, "TCP Client"));
    assert_eq!(h.state().settings().language, Some(Language::English));
}
