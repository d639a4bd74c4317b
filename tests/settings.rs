//! Settings survive a restart; unreadable saved settings fall back to defaults.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::collections::HashMap;

use eframe::App as _;
use sockpit::app::{STORAGE_KEY, Settings, Tab};
use sockpit::codec::TextEncoding;
use sockpit::tabs::tcp_client::ConnectionMode;

#[derive(Default)]
struct MemStorage(HashMap<String, String>);

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

#[test]
fn settings_round_trip_through_save_and_load() {
    let mut settings = Settings::default();
    settings.tab = Tab::TcpClient;
    settings.tcp_client.host = "device.local".into();
    settings.tcp_client.port = "502".into();
    settings.tcp_client.mode = ConnectionMode::Short;
    settings.tcp_client.encoding = TextEncoding::Big5;
    settings.tcp_client.view.timestamps = false;
    settings.tcp_client.view.cap_mib = 256;
    let mut h = common::harness(settings);
    let mut storage = MemStorage::default();
    h.state_mut().save(&mut storage);

    let loaded = Settings::load(Some(&storage));
    assert_eq!(loaded.tab, Tab::TcpClient);
    assert_eq!(loaded.tcp_client.host, "device.local");
    assert_eq!(loaded.tcp_client.port, "502");
    assert_eq!(loaded.tcp_client.mode, ConnectionMode::Short);
    assert_eq!(loaded.tcp_client.encoding, TextEncoding::Big5);
    assert!(!loaded.tcp_client.view.timestamps);
    assert_eq!(loaded.tcp_client.view.cap_mib, 256);
}

#[test]
fn garbage_or_missing_settings_give_defaults() {
    let defaults = Settings::default();
    assert_eq!(
        Settings::load(None).tcp_client.host,
        defaults.tcp_client.host
    );
    let mut storage = MemStorage::default();
    storage
        .0
        .insert(STORAGE_KEY.into(), "(((not ron at all \u{0}".into());
    let loaded = Settings::load(Some(&storage));
    assert_eq!(loaded.tcp_client.port, defaults.tcp_client.port);
    // A file from an older version with fields missing keeps what it has.
    storage.0.insert(
        STORAGE_KEY.into(),
        r#"(tcp_client: (host: "device-b.local"))"#.into(),
    );
    let loaded = Settings::load(Some(&storage));
    assert_eq!(loaded.tcp_client.host, "device-b.local");
    assert_eq!(loaded.tcp_client.port, defaults.tcp_client.port);
}
