//! Settings survive a restart; unreadable saved settings fall back to defaults.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default,
    clippy::float_cmp
)]

mod common;

use std::collections::HashMap;

use eframe::App as _;
use sockpit::codec::TextEncoding;
use sockpit::engine::tcp_client::ConnectionMode;
use sockpit::gui::app::{STORAGE_KEY, Settings, Tab};

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
    settings.tcp_client_mut().host = "device.local".into();
    settings.tcp_client_mut().port = "502".into();
    settings.tcp_client_mut().mode = ConnectionMode::Short;
    settings.tcp_client_mut().encoding = TextEncoding::Big5;
    settings.tcp_client_mut().view.timestamps = false;
    settings.tcp_client_mut().view.cap_mib = 256;
    let mut h = common::harness(settings);
    let mut storage = MemStorage::default();
    h.state_mut().save(&mut storage);

    let loaded = Settings::load(Some(&storage));
    assert_eq!(loaded.tab, Tab::TcpClient);
    assert_eq!(loaded.tcp_client().host, "device.local");
    assert_eq!(loaded.tcp_client().port, "502");
    assert_eq!(loaded.tcp_client().mode, ConnectionMode::Short);
    assert_eq!(loaded.tcp_client().encoding, TextEncoding::Big5);
    assert!(!loaded.tcp_client().view.timestamps);
    assert_eq!(loaded.tcp_client().view.cap_mib, 256);
}

#[test]
fn garbage_or_missing_settings_give_defaults() {
    let defaults = Settings::default();
    assert_eq!(
        Settings::load(None).tcp_client().host,
        defaults.tcp_client().host
    );
    let mut storage = MemStorage::default();
    storage
        .0
        .insert(STORAGE_KEY.into(), "(((not ron at all \u{0}".into());
    let loaded = Settings::load(Some(&storage));
    assert_eq!(loaded.tcp_client().port, defaults.tcp_client().port);
    // A file from an older version with fields missing keeps what it has.
    storage.0.insert(
        STORAGE_KEY.into(),
        r#"(tcp_client: (host: "device-b.local"))"#.into(),
    );
    let loaded = Settings::load(Some(&storage));
    assert_eq!(loaded.tcp_client().host, "device-b.local");
    assert_eq!(loaded.tcp_client().port, defaults.tcp_client().port);
}

// ---------------------------------------------------------------------------------------
// One bad field falls back alone (item 10), bounds on load (item 11). These go through
// `Settings::load` on eframe's storage, as the app does.

/// What a user had saved: a host, a calculator input and a few neighbours.
fn saved() -> Settings {
    let mut s = Settings::default();
    s.tab = Tab::TcpServer;
    s.tcp_client_mut().host = "device.local".into();
    s.tcp_client_mut().port = "502".into();
    s.tcp_client_mut().view.timestamps = false;
    s.tcp_server_mut().port = "7001".into();
    s.ip_tools.calc_input = "10.20.30.40/16".into();
    s
}

/// `saved()` as eframe's `set_value` stores it.
fn saved_ron(settings: &Settings) -> String {
    ron::ser::to_string(settings).unwrap()
}

/// `saved()` with `from` (which must be there) replaced by `to`.
fn corrupted(from: &str, to: &str) -> String {
    let text = saved_ron(&saved());
    assert!(text.contains(from), "{from} not in {text}");
    text.replacen(from, to, 1)
}

fn load_text(text: &str) -> Settings {
    let mut storage = MemStorage::default();
    storage.0.insert(STORAGE_KEY.into(), text.to_owned());
    Settings::load(Some(&storage))
}

fn assert_neighbours_survive(loaded: &Settings) {
    assert_eq!(loaded.tcp_client().host, "device.local");
    assert_eq!(loaded.ip_tools.calc_input, "10.20.30.40/16");
    assert_eq!(loaded.tcp_server().port, "7001");
}

#[test]
fn a_cap_too_large_for_its_type_falls_back_alone() {
    let loaded = load_text(&corrupted("cap_mib:64", "cap_mib:1000000000000"));
    assert_neighbours_survive(&loaded);
    assert_eq!(loaded.tab, Tab::TcpServer);
    assert_eq!(loaded.tcp_client().view.cap_mib, 64, "the bad field alone");
    assert!(
        !loaded.tcp_client().view.timestamps,
        "its neighbour in the same nested struct survives"
    );
}

#[test]
fn a_port_saved_as_a_number_falls_back_alone() {
    let loaded = load_text(&corrupted("port:\"502\"", "port:502"));
    assert_eq!(loaded.tcp_client().port, "8080");
    assert_neighbours_survive(&loaded);
    assert_eq!(loaded.tab, Tab::TcpServer);
}

#[test]
fn an_unknown_tab_falls_back_alone() {
    let loaded = load_text(&corrupted("tab:TcpServer", "tab:Nope"));
    assert_eq!(loaded.tab, Tab::default());
    assert_neighbours_survive(&loaded);
}

#[test]
fn several_bad_fields_at_every_level_each_fall_back_alone() {
    let text = corrupted("cap_mib:64", "cap_mib:-3")
        .replacen("tab:TcpServer", "tab:Nope", 1)
        .replacen("backlog:1024", "backlog:\"lots\"", 1)
        .replacen("mode:Long", "mode:Sideways", 1);
    let loaded = load_text(&text);
    assert_neighbours_survive(&loaded);
    assert_eq!(loaded.tcp_server().backlog, 1024);
    assert_eq!(loaded.tcp_client().view.cap_mib, 64);
}

#[test]
fn out_of_range_numbers_are_clamped_to_what_the_window_offers() {
    let mut s = saved();
    s.tcp_client_mut().view.cap_mib = 100_000;
    s.tcp_client_mut().connect_timeout_ms = 0;
    s.tcp_server_mut().backlog = -5;
    s.udp_mut().multicast_ttl = 4000;
    s.broadcast.sends = 0;
    let loaded = load_text(&saved_ron(&s));
    assert_eq!(loaded.tcp_client().view.cap_mib, 16_384);
    assert_eq!(loaded.tcp_client().connect_timeout_ms, 1);
    assert_eq!(loaded.tcp_server().backlog, 1);
    assert_eq!(loaded.udp().multicast_ttl, 255);
    assert_eq!(loaded.broadcast.sends, 1);
    assert_neighbours_survive(&loaded);
}

#[test]
fn a_huge_send_box_text_is_cut_on_load() {
    let mut s = saved();
    s.tcp_client_mut().send_box.text = "é".repeat(2_500_000); // 5 MB
    s.udp_mut().send_box.text = "x".repeat(5_000_000);
    s.ip_tools.sockets_filter = "y".repeat(1_000_000);
    let loaded = load_text(&saved_ron(&s));
    let kept = &loaded.tcp_client().send_box.text;
    assert!(
        kept.len() <= 64 * 1024 && kept.len() > 64 * 1024 - 4,
        "{}",
        kept.len()
    );
    assert!(
        kept.chars().all(|c| c == 'é'),
        "cut on a character boundary"
    );
    assert_eq!(loaded.udp().send_box.text.len(), 64 * 1024);
    assert_eq!(loaded.ip_tools.sockets_filter.len(), 4 * 1024);
    assert_neighbours_survive(&loaded);
}

#[test]
fn a_huge_history_is_cut_to_what_the_window_keeps() {
    use sockpit::gui::widgets::send_box::{HistoryEntry, SendMode};
    let mut s = saved();
    s.tcp_server_mut().send_box.history = (0..200_000)
        .map(|i| HistoryEntry {
            text: format!("send {i}"),
            mode: SendMode::Text,
        })
        .collect();
    let loaded = load_text(&saved_ron(&s));
    let history = &loaded.tcp_server().send_box.history;
    assert_eq!(history.len(), 20);
    assert_eq!(history[0].text, "send 0", "the most recent are kept");
    assert_eq!(history[19].text, "send 19");
    assert_neighbours_survive(&loaded);
}

#[test]
fn a_bad_history_entry_falls_back_alone() {
    use sockpit::gui::widgets::send_box::{HistoryEntry, SendMode};
    let mut s = saved();
    s.tcp_client_mut().send_box.history = ["one", "two", "three"]
        .map(|t| HistoryEntry {
            text: t.into(),
            mode: SendMode::Hex,
        })
        .to_vec();
    let text = saved_ron(&s).replacen("(text:\"two\",mode:Hex)", "(text:\"two\",mode:Sideways)", 1);
    assert!(text.contains("Sideways"));
    let loaded = load_text(&text);
    let texts: Vec<_> = loaded
        .tcp_client()
        .send_box
        .history
        .iter()
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(texts, ["one", "three"]);
    assert_neighbours_survive(&loaded);
}

// ---------------------------------------------------------------------------------------
// The state file as eframe keeps it (items 3 and 10): repaired before the window opens, a
// backup beside it, then read the way eframe reads it.

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "sockpit-settings-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self) -> std::path::PathBuf {
        self.0.join("sockpit.ron")
    }

    /// Backups beside the state file.
    fn backups(&self) -> Vec<std::path::PathBuf> {
        let mut found: Vec<_> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains("sockpit.ron.bad-"))
            .collect();
        found.sort();
        found
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The text of a state file as eframe writes it: pretty RON of the key → string map.
fn state_file_text(settings_ron: &str, zoom: f32, window: Option<&str>) -> String {
    let mut memory = egui::Memory::default();
    memory.options.zoom_factor = zoom;
    let mut kv = HashMap::new();
    kv.insert("egui".to_owned(), ron::ser::to_string(&memory).unwrap());
    kv.insert(STORAGE_KEY.to_owned(), settings_ron.to_owned());
    if let Some(window) = window {
        kv.insert("window".to_owned(), window.to_owned());
    }
    ron::ser::to_string_pretty(&kv, ron::ser::PrettyConfig::default()).unwrap()
}

/// eframe's storage over the file at `path`, read as eframe's `FileStorage` reads it.
fn read_as_eframe(path: &std::path::Path) -> MemStorage {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    MemStorage(ron::from_str(&text).unwrap_or_default())
}

/// What the app does at start: repair the file, then load through eframe's storage.
fn start_from(path: &std::path::Path) -> (Settings, sockpit::settings::Repair, MemStorage) {
    let repair = sockpit::settings::repair_state_file(path);
    let storage = read_as_eframe(path);
    (Settings::load(Some(&storage)), repair, storage)
}

const WINDOW: &str = "(normal_geometry:(outer_position_pixels:Some((x:40.0,y:30.0)),scale_factor:1.0,inner_size_points:(x:1200.0,y:780.0)),fullscreen:false,maximized:false)";

#[test]
fn a_bad_field_in_a_real_file_falls_back_alone_with_a_backup_and_a_notice() {
    let dir = TempDir::new("field");
    let text = state_file_text(
        &corrupted("cap_mib:64", "cap_mib:1000000000000"),
        1.0,
        Some(WINDOW),
    );
    std::fs::write(dir.file(), &text).unwrap();
    let (loaded, repair, storage) = start_from(&dir.file());
    assert_neighbours_survive(&loaded);
    assert_eq!(loaded.tcp_client().view.cap_mib, 64);
    let backups = dir.backups();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(repair.backup.as_ref(), Some(&backups[0]));
    assert_eq!(std::fs::read(&backups[0]).unwrap(), text.as_bytes());
    let notice = repair.notice().unwrap();
    assert!(
        notice.contains("tcp_client_sessions.sessions[0].settings.view.cap_mib"),
        "{notice}"
    );
    assert!(
        notice.contains(&backups[0].display().to_string()),
        "{notice}"
    );
    // eframe's own entries are kept as they were.
    assert_eq!(storage.0.get("window").map(String::as_str), Some(WINDOW));
    // Read again: nothing left to repair, no second backup, no notice.
    let again = sockpit::settings::repair_state_file(&dir.file());
    assert_eq!(again.notice(), None, "{:?}", again.notes);
    assert_eq!(dir.backups().len(), 1);
}

#[test]
fn a_clean_file_is_left_alone() {
    let dir = TempDir::new("clean");
    let text = state_file_text(&saved_ron(&saved()), 1.25, Some(WINDOW));
    std::fs::write(dir.file(), &text).unwrap();
    let (loaded, repair, _) = start_from(&dir.file());
    assert_eq!(repair, sockpit::settings::Repair::default());
    assert_eq!(std::fs::read_to_string(dir.file()).unwrap(), text);
    assert!(dir.backups().is_empty());
    assert_neighbours_survive(&loaded);
}

#[test]
fn one_non_utf8_byte_keeps_everything_else() {
    let dir = TempDir::new("utf8");
    let text = state_file_text(&saved_ron(&saved()), 1.0, Some(WINDOW));
    // The byte lands inside another field's text (the DNS query), as a disk error would.
    let at = text.find("localhost").unwrap() + 3;
    let mut bytes = text.into_bytes();
    bytes[at] = 0xFF;
    std::fs::write(dir.file(), &bytes).unwrap();
    let (loaded, repair, _) = start_from(&dir.file());
    assert_neighbours_survive(&loaded);
    assert_eq!(loaded.tab, Tab::TcpServer);
    assert!(
        loaded.ip_tools.dns_query.contains('\u{FFFD}'),
        "{}",
        loaded.ip_tools.dns_query
    );
    assert_eq!(std::fs::read(repair.backup.unwrap()).unwrap(), bytes);
    assert!(
        repair.notes.iter().any(|n| n.contains("UTF-8")),
        "{:?}",
        repair.notes
    );
}

#[test]
fn a_truncated_file_keeps_what_came_before_the_cut() {
    let dir = TempDir::new("cut");
    // Only our entry, so the cut falls inside it: after the host, before the calculator.
    let settings = saved_ron(&saved());
    let text = state_file_text(&settings, 1.0, None);
    let egui_at = text.find("\"egui\"").unwrap();
    let host_at = text.find("device.local").unwrap();
    let cut = text[host_at..].find("udp_sessions:").unwrap() + host_at;
    assert!(
        egui_at < host_at || egui_at > cut,
        "the egui entry sits outside the cut"
    );
    let bytes = text.as_bytes()[..cut].to_vec();
    std::fs::write(dir.file(), &bytes).unwrap();
    let (loaded, repair, _) = start_from(&dir.file());
    assert_eq!(loaded.tcp_client().host, "device.local");
    assert_eq!(loaded.tcp_server().port, "7001");
    assert_eq!(loaded.tab, Tab::TcpServer);
    assert_eq!(
        loaded.ip_tools.calc_input,
        Settings::default().ip_tools.calc_input,
        "what came after the cut is lost, and only that"
    );
    assert!(repair.notice().unwrap().contains("stops short"));
    assert_eq!(std::fs::read(repair.backup.unwrap()).unwrap(), bytes);
}

#[test]
fn garbage_files_are_backed_up_and_give_defaults() {
    let dir = TempDir::new("garbage");
    std::fs::write(dir.file(), b"(((garbage \x00").unwrap();
    let (loaded, repair, _) = start_from(&dir.file());
    assert_eq!(
        loaded.tcp_client().host,
        Settings::default().tcp_client().host
    );
    assert_eq!(
        std::fs::read(repair.backup.unwrap()).unwrap(),
        b"(((garbage \x00"
    );
}

#[test]
fn a_later_backup_never_overwrites_an_earlier_one() {
    let dir = TempDir::new("backups");
    std::fs::write(dir.file(), b"first bad").unwrap();
    let first = sockpit::settings::repair_state_file(&dir.file());
    std::fs::write(dir.file(), b"second bad").unwrap();
    let second = sockpit::settings::repair_state_file(&dir.file());
    let (first, second) = (first.backup.unwrap(), second.backup.unwrap());
    assert_ne!(first, second);
    assert_eq!(std::fs::read(first).unwrap(), b"first bad");
    assert_eq!(std::fs::read(second).unwrap(), b"second bad");
    assert_eq!(dir.backups().len(), 2);
}

/// egui's memory as eframe loads it at start (`get_value` under the "egui" key).
fn zoom_as_eframe_loads_it(storage: &MemStorage) -> f32 {
    eframe::get_value::<egui::Memory>(storage, "egui")
        .expect("egui's memory is readable")
        .options
        .zoom_factor
}

#[test]
fn a_saved_zoom_factor_out_of_range_is_clamped_before_eframe_reads_it() {
    for (saved_zoom, expected) in [(0.0, 0.2), (1000.0, 5.0), (f32::NAN, 1.0), (-2.0, 0.2)] {
        let dir = TempDir::new("zoom");
        let text = state_file_text(&saved_ron(&saved()), saved_zoom, Some(WINDOW));
        std::fs::write(dir.file(), &text).unwrap();
        let (loaded, repair, storage) = start_from(&dir.file());
        assert_eq!(
            zoom_as_eframe_loads_it(&storage),
            expected,
            "saved {saved_zoom}"
        );
        assert!(
            repair.notice().unwrap().contains("zoom"),
            "{:?}",
            repair.notes
        );
        assert_eq!(
            std::fs::read(repair.backup.unwrap()).unwrap(),
            text.as_bytes()
        );
        assert_neighbours_survive(&loaded);
    }
    let dir = TempDir::new("zoom-ok");
    std::fs::write(dir.file(), state_file_text(&saved_ron(&saved()), 1.5, None)).unwrap();
    let (_, repair, storage) = start_from(&dir.file());
    assert_eq!(
        zoom_as_eframe_loads_it(&storage),
        1.5,
        "a sane zoom is kept"
    );
    assert!(repair.notes.is_empty());
}

#[test]
fn absurd_window_geometry_is_dropped_so_the_window_opens_at_its_default_size() {
    for window in [
        WINDOW.replace("x:1200.0", "x:1e30"),
        WINDOW.replace("y:780.0", "y:NaN"),
        WINDOW.replace("scale_factor:1.0", "scale_factor:0.0"),
        WINDOW.replace("x:40.0", "x:-inf"),
    ] {
        let dir = TempDir::new("window");
        std::fs::write(
            dir.file(),
            state_file_text(&saved_ron(&saved()), 1.0, Some(&window)),
        )
        .unwrap();
        let (loaded, repair, storage) = start_from(&dir.file());
        assert!(!storage.0.contains_key("window"), "{window}");
        assert!(
            repair.notice().unwrap().contains("window"),
            "{:?}",
            repair.notes
        );
        assert_neighbours_survive(&loaded);
    }
}

#[test]
fn the_window_shows_the_notice_once_until_dismissed() {
    use egui_kittest::kittest::Queryable as _;
    let dir = TempDir::new("notice");
    let mut s = saved();
    s.udp_mut().send_box.text = "x".repeat(5_000_000);
    std::fs::write(dir.file(), state_file_text(&saved_ron(&s), 1.0, None)).unwrap();
    let (loaded, repair, _) = start_from(&dir.file());
    let backup = repair.backup.clone().unwrap();
    let startup = sockpit::gui::app::Startup {
        notice: repair.notice(),
        ..Default::default()
    };
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| {
            let mut app = sockpit::SockpitApp::with_settings(&cc.egui_ctx, loaded);
            app.apply_startup(&startup);
            app
        });
    h.run();
    assert!(common::shows(
        &h,
        "udp_sessions.sessions[0].settings.send_box.text: 5000000 bytes"
    ));
    assert!(common::shows(&h, &backup.display().to_string()));
    h.get_by_label("Dismiss").click();
    h.run();
    assert!(h.state().notice.is_none());
    assert!(!common::shows(&h, "send_box.text"));
    assert!(h.query_by_label("Dismiss").is_none());
}

// ---------------------------------------------------------------------------------------
// Random input: whatever the file holds, loading never panics.

/// A saved file with something in every kind of field, to mutate.
fn rich_state_text() -> String {
    use sockpit::gui::widgets::send_box::{HistoryEntry, SendMode};
    let mut s = saved();
    s.udp_mut().send_box.text = "AT\\r\\n 你好".into();
    s.tcp_client_mut().send_box.history = (0..3)
        .map(|i| HistoryEntry {
            text: format!("h{i} \"q\""),
            mode: SendMode::Hex,
        })
        .collect();
    state_file_text(&saved_ron(&s), 1.0, Some(WINDOW))
}

/// One edit of a byte string: the kinds of damage a disk, an editor or a crash does.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match mutation {
        Mutation::Replace(i, b) if !bytes.is_empty() => {
            let i = at(*i, bytes.len());
            bytes[i] = *b;
        }
        Mutation::Replace(..) => {}
        Mutation::Insert(i, new) => {
            let i = at(*i, bytes.len() + 1);
            bytes.splice(i..i, new.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let i = at(*i, bytes.len() + 1);
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
        Mutation::Truncate(i) => {
            let i = at(*i, bytes.len() + 1);
            bytes.truncate(i);
        }
    }
}

fn mutation() -> impl proptest::strategy::Strategy<Value = Mutation> {
    use proptest::prelude::*;
    let structural = prop::sample::select(b"()[]{},:\"\\'#rSomeNone 0-.e9".to_vec());
    prop_oneof![
        (any::<usize>(), structural.clone()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), prop::collection::vec(structural, 1..6))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1..40usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest::proptest! {
    // A fixed budget (a few seconds): 400 damaged files, each loaded at both levels.
    #![proptest_config(proptest::test_runner::Config {
        cases: 400,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })]

    #[test]
    fn damaged_files_load_without_panicking(mutations in proptest::collection::vec(mutation(), 1..8)) {
        let base = rich_state_text();
        let mut bytes = base.clone().into_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let mut notes = Vec::new();
        let kv = sockpit::settings::repair_state_text(&bytes, &mut notes);
        if let Some(text) = kv.get(STORAGE_KEY) {
            let _ = Settings::from_ron(text, &mut notes);
        }
        if bytes == base.as_bytes() {
            proptest::prop_assert!(notes.is_empty(), "{notes:?}");
        }
        // Damage to our own entry alone, as text.
        let mut inner = saved_ron(&saved()).into_bytes();
        for m in &mutations {
            apply(&mut inner, m);
        }
        let loaded = Settings::from_ron(&String::from_utf8_lossy(&inner), &mut notes);
        proptest::prop_assert!(loaded.tcp_client().send_box.history.len() <= 20);
    }

    #[test]
    fn random_text_loads_without_panicking(text in "[ -~\\n(){}\\[\\]\"\\\\:,]{0,200}") {
        let mut notes = Vec::new();
        let _ = Settings::from_ron(&text, &mut notes);
        let _ = sockpit::settings::repair_state_text(text.as_bytes(), &mut notes);
    }
}

// ---------------------------------------------------------------------------------------
// The real binary under Xvfb: eframe itself reads the repaired file, opens the window,
// draws, saves on exit. `SOCKPIT_TEST_BIN` runs the same checks against another build.

/// Runs the binary with `dir` as its state directory for 5 frames; its exit status.
fn run_window(dir: &TempDir) -> Option<std::process::ExitStatus> {
    let bin = std::env::var_os("SOCKPIT_TEST_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_sockpit").into());
    let status = std::process::Command::new("timeout")
        .args(["120", "xvfb-run", "-a", "-s", "-screen 0 1280x800x24"])
        .arg(bin)
        .env("SOCKPIT_STATE_DIR", &dir.0)
        .env("SOCKPIT_EXIT_AFTER_FRAMES", "5")
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?;
    Some(status)
}

#[test]
fn the_real_window_starts_from_damaged_state_files_and_keeps_what_was_good() {
    let has_xvfb = std::process::Command::new("xvfb-run")
        .arg("--help")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !has_xvfb {
        eprintln!("skipped: xvfb-run is not installed (apt-get install xvfb)");
        return;
    }
    let good = saved_ron(&saved());
    let bad_field = corrupted("cap_mib:64", "cap_mib:1000000000000");
    let non_utf8 = {
        let text = state_file_text(&good, 1.0, Some(WINDOW));
        let at = text.find("localhost").unwrap() + 3;
        let mut bytes = text.into_bytes();
        bytes[at] = 0xFF;
        bytes
    };
    let truncated = {
        let text = state_file_text(&good, 1.0, None);
        let host_at = text.find("device.local").unwrap();
        let cut = text[host_at..].find("udp_sessions:").unwrap() + host_at;
        text.as_bytes()[..cut].to_vec()
    };
    let cases: [(&str, Vec<u8>); 4] = [
        (
            "zoom 0.0, a bad field",
            state_file_text(&bad_field, 0.0, Some(WINDOW)).into_bytes(),
        ),
        (
            "zoom 1000, absurd window",
            state_file_text(&good, 1000.0, Some(&WINDOW.replace("x:1200.0", "x:1e30")))
                .into_bytes(),
        ),
        ("one non-UTF-8 byte", non_utf8),
        ("truncated", truncated),
    ];
    // Every case runs; the failures are reported together.
    let mut failures = Vec::new();
    for (what, bytes) in cases {
        let dir = TempDir::new("xvfb");
        std::fs::write(dir.file(), &bytes).unwrap();
        let status = run_window(&dir).expect("timeout and xvfb-run run");
        if !status.success() {
            failures.push(format!("{what}: the window exited with {status}"));
            continue;
        }
        // What eframe saved on exit, read as eframe reads it at the next start.
        let storage = read_as_eframe(&dir.file());
        let loaded = Settings::load(Some(&storage));
        let zoom =
            eframe::get_value::<egui::Memory>(&storage, "egui").map(|m| m.options.zoom_factor);
        let backups = dir.backups();
        let kept_original = backups.len() == 1 && std::fs::read(&backups[0]).unwrap() == bytes;
        if loaded.tcp_client().host != "device.local" || loaded.tab != Tab::TcpServer {
            failures.push(format!("{what}: the saved host and tab were lost"));
        }
        if !zoom.is_some_and(|z| (0.2..=5.0).contains(&z)) {
            failures.push(format!("{what}: zoom saved as {zoom:?}"));
        }
        if !kept_original {
            failures.push(format!(
                "{what}: no backup with the original bytes: {backups:?}"
            ));
        }
        // What eframe wrote itself passes every check: no repair, no notice next time.
        let again = sockpit::settings::repair_state_file(&dir.file());
        if !again.notes.is_empty() {
            failures.push(format!(
                "{what}: eframe's own file was repaired: {:?}",
                again.notes
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------------------
// Sessions: each of the TCP Client, TCP Server and UDP tabs saves a list of named sessions.

/// A file as Sockpit wrote it before sessions: one settings struct per tab.
const OLD_FORMAT: &str = r#"(tab:TcpClient,tcp_client:(host:"plc.local",port:"502",connect_timeout_ms:750,mode:Short,idle_timeout_ms:900,auto_reconnect:false,nodelay:false,keepalive:true,encoding:Gbk,view:(timestamps:false,cap_mib:128),send_box:(text:"01 03 00 00",mode:Hex)),tcp_server:(bind:"127.0.0.1",port:"7001",backlog:64,echo:true,max_clients:5),udp:(bind:"127.0.0.1",port:"9100",remote_host:"127.0.0.2",remote_port:"9200",multicast_ttl:3),ip_tools:(calc_input:"10.20.30.40/16"))"#;

#[test]
fn an_old_file_with_one_settings_struct_per_tab_loads_as_one_session_each() {
    use sockpit::gui::widgets::send_box::SendMode;
    let mut notes = Vec::new();
    let loaded = Settings::from_ron(OLD_FORMAT, &mut notes);
    assert!(notes.is_empty(), "migration is not a repair: {notes:?}");
    assert_eq!(loaded.tab, Tab::TcpClient);
    assert_eq!(loaded.tcp_client_sessions.sessions.len(), 1);
    let client = &loaded.tcp_client_sessions.sessions[0].settings;
    assert_eq!(client.host, "plc.local");
    assert_eq!(client.port, "502");
    assert_eq!(client.connect_timeout_ms, 750);
    assert_eq!(client.mode, ConnectionMode::Short);
    assert_eq!(client.idle_timeout_ms, 900);
    assert!(!client.nodelay);
    assert!(client.keepalive);
    assert_eq!(client.encoding, TextEncoding::Gbk);
    assert!(!client.view.timestamps);
    assert_eq!(client.view.cap_mib, 128);
    assert_eq!(client.send_box.text, "01 03 00 00");
    assert_eq!(client.send_box.mode, SendMode::Hex);
    assert_eq!(loaded.tcp_server_sessions.sessions.len(), 1);
    let server = &loaded.tcp_server_sessions.sessions[0].settings;
    assert_eq!(server.bind, "127.0.0.1");
    assert_eq!(server.port, "7001");
    assert_eq!(server.backlog, 64);
    assert!(server.echo);
    assert_eq!(server.max_clients, 5);
    assert_eq!(loaded.udp_sessions.sessions.len(), 1);
    let udp = &loaded.udp_sessions.sessions[0].settings;
    assert_eq!(
        (
            udp.port.as_str(),
            udp.remote_host.as_str(),
            udp.remote_port.as_str()
        ),
        ("9100", "127.0.0.2", "9200")
    );
    assert_eq!(udp.multicast_ttl, 3);
    assert_eq!(loaded.ip_tools.calc_input, "10.20.30.40/16");

    // The window opens them as one named session per tab, and saves the new shape only.
    let mut h = common::harness(loaded);
    let app = h.state();
    assert_eq!(app.tcp_client.len(), 1);
    assert_eq!(app.tcp_client.name(0), Some("Client 1"));
    assert_eq!(app.tcp_client.current().settings.host, "plc.local");
    assert_eq!(app.tcp_server.current().settings.port, "7001");
    assert_eq!(app.udp.current().settings.port, "9100");
    let mut storage = MemStorage::default();
    h.state_mut().save(&mut storage);
    let text = storage.0.get(STORAGE_KEY).unwrap();
    assert!(text.contains("tcp_client_sessions:"), "{text}");
    assert!(
        !text.contains("tcp_client:"),
        "the old key is not written: {text}"
    );
    let again = Settings::load(Some(&storage));
    assert_eq!(again.tcp_client().host, "plc.local");
    assert_eq!(again.tcp_client_sessions.sessions[0].name, "Client 1");
}

/// Two TCP Client sessions and what a user saved in them.
fn two_sessions() -> Settings {
    use sockpit::gui::sessions::SavedSession;
    use sockpit::gui::tabs::tcp_client::TcpClientSettings;
    let mut s = saved();
    let mut second = TcpClientSettings::default();
    second.host = "second.local".into();
    second.port = "8502".into();
    s.tcp_client_sessions.sessions.push(SavedSession {
        name: "Meter".into(),
        settings: second,
    });
    s.tcp_client_sessions.sessions[0].name = "PLC".into();
    s.tcp_client_sessions.selected = 1;
    s
}

#[test]
fn a_corrupt_session_falls_back_to_defaults_for_that_session_only() {
    let text = saved_ron(&two_sessions());
    // The first session's settings become something that is no settings struct at all.
    let start = text.find("settings:(host:\"device.local\"").unwrap() + "settings:".len();
    let end = start + text[start..].find(",(name:\"Meter\"").unwrap() - 1;
    let damaged = format!("{}[1,2,3]{}", &text[..start], &text[end..]);
    assert!(damaged.contains("name:\"Meter\""), "{damaged}");
    let mut notes = Vec::new();
    let loaded = Settings::from_ron(&damaged, &mut notes);
    let sessions = &loaded.tcp_client_sessions.sessions;
    assert_eq!(sessions.len(), 2, "both sessions are kept");
    assert_eq!(
        sessions[0].name, "PLC",
        "the damaged session keeps its name"
    );
    assert_eq!(
        sessions[0].settings.host, "127.0.0.1",
        "and takes the defaults"
    );
    assert_eq!(sessions[0].settings.port, "8080");
    assert_eq!(sessions[1].name, "Meter");
    assert_eq!(
        sessions[1].settings.host, "second.local",
        "its sibling is intact"
    );
    assert_eq!(sessions[1].settings.port, "8502");
    assert_eq!(loaded.tcp_client_sessions.selected, 1);
    assert_eq!(loaded.tcp_server().port, "7001");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("tcp_client_sessions.sessions[0].settings")),
        "{notes:?}"
    );
}

#[test]
fn more_sessions_than_a_tab_holds_are_cut_with_a_note() {
    use sockpit::gui::sessions::{MAX_SESSIONS, SavedSession};
    let mut s = saved();
    s.tcp_client_sessions.sessions = (0..MAX_SESSIONS + 8)
        .map(|i| SavedSession {
            name: format!("S{i}"),
            settings: Settings::default().tcp_client().clone(),
        })
        .collect();
    s.tcp_client_sessions.selected = MAX_SESSIONS + 5;
    let mut notes = Vec::new();
    let loaded = Settings::from_ron(&saved_ron(&s), &mut notes);
    assert_eq!(loaded.tcp_client_sessions.sessions.len(), MAX_SESSIONS);
    assert_eq!(loaded.tcp_client_sessions.selected, MAX_SESSIONS - 1);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("more than the 32 a tab holds")),
        "{notes:?}"
    );
}
