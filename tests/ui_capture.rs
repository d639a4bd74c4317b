//! Keep and look in the window: start a capture by clicking (the path given without the
//! dialog), see it count, stop it, read the file back; save the log; open the capture as a
//! read-only viewer and see its records. Real loopback peers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use common::{accept, harness, step_until};
use egui_kittest::kittest::Queryable as _;
use sockpit::capture::{CaptureState, Direction, RecordKind, open_capture};
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::tcp_client::Status;
use sockpit::traffic::history::Metric;

const WAIT: Duration = Duration::from_secs(10);

/// An empty scratch folder named `name`, a loopback listener, and settings whose TCP Client
/// (the tab shown) points at it.
fn client_to_listener(name: &str) -> (std::path::PathBuf, TcpListener, Settings) {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut s = Settings::default();
    s.tab = Tab::TcpClient;
    "127.0.0.1".clone_into(&mut s.tcp_client_mut().host);
    s.tcp_client_mut().port = port.to_string();
    (dir, listener, s)
}

#[test]
fn capture_by_clicking_then_stop_save_and_open_it() {
    let (dir, listener, s) = client_to_listener("sockpit-ui-capture");
    let port = listener.local_addr().unwrap().port();
    let mut h = harness(s);
    h.run();
    h.get_by_label("Connect").click();
    let mut peer = accept(&mut h, &listener);
    step_until(&mut h, "connected", WAIT, |h| {
        matches!(
            h.state().tcp_client.current().status,
            Status::Connected { .. }
        )
    });

    // Start: the path comes from the test instead of the dialog.
    let cap = dir.join("ui.pcapng");
    h.state_mut()
        .tcp_client
        .current_mut()
        .session
        .capture
        .next_path = Some(cap.clone());
    h.get_by_label("Capture to file…").click();
    step_until(&mut h, "capture running", WAIT, |h| {
        h.state()
            .tcp_client
            .current()
            .session
            .capture
            .status()
            .is_some()
    });
    h.run();
    assert!(h.query_by_label("Stop capture").is_some());
    peer.write_all(b"hello capture").unwrap();
    step_until(&mut h, "capture counted the record", WAIT, |h| {
        h.state()
            .tcp_client
            .current()
            .session
            .capture
            .status()
            .is_some_and(|s| s.records == 1)
    });
    h.run();
    assert!(
        h.query_by_label_contains("1 records").is_some(),
        "the row shows the live count"
    );

    h.get_by_label("Stop capture").click();
    h.run();
    let ended = h
        .state()
        .tcp_client
        .current()
        .session
        .capture
        .ended()
        .cloned()
        .unwrap();
    assert_eq!(ended.state, CaptureState::Finished, "{ended:?}");
    assert!(
        h.query_by_label_contains("Last capture: 1 records")
            .is_some()
    );
    let opened = open_capture(&cap).unwrap();
    let data: Vec<_> = opened
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::Data)
        .collect();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].bytes, b"hello capture");
    assert_eq!(data[0].direction, Direction::Received);
    assert_eq!(data[0].peer.port(), port);

    // Save the log as CSV.
    let csv = dir.join("log.csv");
    h.state_mut()
        .tcp_client
        .current_mut()
        .session
        .capture
        .next_path = Some(csv.clone());
    h.get_by_label("Save log…").click();
    h.run();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.contains("\"hello capture\""), "{text}");
    assert!(h.query_by_label_contains("Saved 1 records").is_some());

    // Save only the selected row: click it, choose the scope, save as text.
    peer.write_all(b"second one").unwrap();
    step_until(&mut h, "second record", WAIT, |h| {
        h.state().tcp_client.current().log().counters().rx_packets == 2
    });
    h.run();
    h.get_by_label("second one").click();
    h.run();
    assert_eq!(
        h.state().tcp_client.current().session.view.selected().len(),
        1
    );
    h.state_mut()
        .tcp_client
        .current_mut()
        .session
        .capture
        .save_scope = sockpit::gui::widgets::capture_bar::SaveScope::Selected;
    let selected_file = dir.join("selected.txt");
    h.state_mut()
        .tcp_client
        .current_mut()
        .session
        .capture
        .next_path = Some(selected_file.clone());
    h.run();
    h.get_by_label("Save log…").click();
    h.run();
    let text = std::fs::read_to_string(&selected_file).unwrap();
    assert!(text.contains("10 B second one"), "{text}");
    assert!(!text.contains("hello capture"), "{text}");

    // Open the capture: a read-only viewer with its record.
    h.state_mut()
        .tcp_client
        .current_mut()
        .session
        .capture
        .next_path = Some(cap.clone());
    h.get_by_label("Open capture…").click();
    h.run();
    assert!(h.query_by_label("Capture ui.pcapng (read-only)").is_some());
    assert!(
        h.query_all_by_label("hello capture").count() >= 2,
        "the record shows in the log and in the viewer"
    );
    let viewer = h
        .state()
        .tcp_client
        .current()
        .session
        .capture
        .viewer
        .as_ref()
        .unwrap();
    assert_eq!(viewer.log.len(), 1);

    // The live plot: its controls show, and its history holds the bytes received (13 + 10).
    h.get_by_label("Plot traffic").click();
    h.run();
    assert!(h.query_by_label("Plot window").is_some());
    assert!(h.query_by_label("Packets/s").is_some());
    std::thread::sleep(Duration::from_millis(1100));
    h.run();
    let (rx, tx) = h
        .state_mut()
        .tcp_client
        .current_mut()
        .session
        .history
        .series(std::time::Instant::now(), 60, Metric::Bytes);
    let received: f64 = rx.iter().map(|p| p[1]).sum();
    let sent: f64 = tx.iter().map(|p| p[1]).sum();
    assert!(
        (received - 23.0).abs() < 1e-9 && sent.abs() < 1e-9,
        "{rx:?} {tx:?}"
    );

    // Opening a file that is not a capture says so by the buttons.
    let junk = dir.join("junk.pcapng");
    std::fs::write(&junk, b"not a capture").unwrap();
    h.state_mut()
        .tcp_client
        .current_mut()
        .session
        .capture
        .next_path = Some(junk);
    h.get_by_label("Open capture…").click();
    h.run();
    assert!(h.query_by_label_contains("is not a capture file").is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sockpit gui --open FILE` opens the file in the viewer of the tab asked for.
#[test]
fn startup_opens_a_capture_in_the_viewer_of_the_tab_asked_for() {
    use sockpit::capture::{CaptureFormat, CaptureOptions, CaptureRecord, FormatWriter, Transport};
    let path = std::env::temp_dir().join(format!("sockpit-ui-open-{}.pcapng", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let mut w = FormatWriter::new(CaptureFormat::Pcapng, file, &CaptureOptions::default()).unwrap();
    for i in 0..3u8 {
        w.write_record(&CaptureRecord::data(
            1_000_000 + u64::from(i),
            Direction::Received,
            Transport::Udp,
            "127.0.0.1:9000".parse().unwrap(),
            "127.0.0.7:5000".parse().unwrap(),
            format!("reading {i}").into_bytes(),
        ))
        .unwrap();
    }
    w.finish().unwrap();
    let startup = sockpit::gui::app::Startup {
        tab: Some(Tab::Udp),
        open: Some(path.clone()),
        ..Default::default()
    };
    let mut h = harness(Settings::default());
    h.state_mut().apply_startup(&startup);
    h.run();
    let _ = std::fs::remove_file(&path);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        h.query_by_label(&format!("Capture {name} (read-only)"))
            .is_some()
    );
    assert!(h.query_by_label("reading 2").is_some());
    assert_eq!(
        h.state()
            .udp
            .current()
            .session
            .capture
            .viewer
            .as_ref()
            .unwrap()
            .log
            .len(),
        3
    );
}

/// "Keep capturing to" a folder: each time the session connects a capture starts there by
/// itself; Stop holds it until the next connect, which starts a new file.
#[test]
fn keep_capturing_to_a_folder_starts_a_capture_on_each_connect() {
    let (dir, listener, mut s) = client_to_listener("sockpit-ui-auto");
    s.tcp_client_mut().capture.auto = true;
    s.tcp_client_mut().capture.folder = dir.display().to_string();
    s.tcp_client_mut().capture.format = sockpit::capture::CaptureFormat::Text;
    let mut h = harness(s);
    h.run();
    // The choices live in a menu, so the row stays one line.
    h.get_by_label("Keep capturing: on").click();
    h.run();
    assert!(h.query_by_label("Keep capturing to a folder").is_some());
    h.get_by_label("Capture folder").click();
    h.run();
    assert!(
        h.query_by_label("Keep capturing to a folder").is_some(),
        "clicking into the folder field keeps the menu open"
    );
    h.key_press(egui::Key::Escape);
    h.run();
    assert!(
        h.state()
            .tcp_client
            .current()
            .session
            .capture
            .status()
            .is_none(),
        "nothing is captured before the session connects"
    );
    h.get_by_label("Connect").click();
    let mut peer = accept(&mut h, &listener);
    step_until(&mut h, "automatic capture", WAIT, |h| {
        h.state()
            .tcp_client
            .current()
            .session
            .capture
            .status()
            .is_some()
    });
    peer.write_all(b"auto one").unwrap();
    step_until(&mut h, "captured", WAIT, |h| {
        h.state()
            .tcp_client
            .current()
            .session
            .capture
            .status()
            .is_some_and(|s| s.records == 1)
    });
    h.run();
    h.get_by_label("Stop capture").click();
    for _ in 0..5 {
        h.run();
    }
    assert!(
        h.state()
            .tcp_client
            .current()
            .session
            .capture
            .status()
            .is_none(),
        "Stop holds the automatic capture"
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("8 B auto one"), "{text}");
    assert!(files[0].extension().is_some_and(|e| e == "txt"));

    // Disconnect and connect again: a new capture starts by itself.
    h.get_by_label("Disconnect").click();
    step_until(&mut h, "disconnected", WAIT, |h| {
        !h.state().tcp_client.current().is_active()
    });
    drop(peer);
    // Within the same second too: the second file gets its own name.
    h.run();
    h.get_by_label("Connect").click();
    let _peer = accept(&mut h, &listener);
    step_until(&mut h, "second automatic capture", WAIT, |h| {
        h.state()
            .tcp_client
            .current()
            .session
            .capture
            .status()
            .is_some()
    });
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// At 900×600 the packet library folds to its button so the log keeps its room (it stays
/// open in the settings); the button unfolds it, Hide folds it again.
#[test]
fn in_a_narrow_window_the_packet_library_folds_to_a_button() {
    let mut s = Settings::default();
    s.tab = Tab::Udp;
    let mut h = common::harness_sized(s, egui::vec2(900.0, 600.0));
    h.run();
    assert!(h.query_by_label("Packet library").is_none(), "folded");
    assert!(h.query_by_label("Packets").is_some());
    let header_folded = h.get_by_label("Text (UTF-8)").rect().top();
    h.get_by_label("Packets").click();
    h.run();
    h.run();
    assert!(
        h.query_by_label("Packet library").is_some(),
        "unfolded on request"
    );
    let header_open = h.get_by_label("Text (UTF-8)").rect().top();
    assert!(
        header_folded < header_open,
        "folded, the log's toolbar wraps less and its rows start higher ({header_folded} < {header_open})"
    );
    h.get_by_label("Hide").click();
    h.run();
    assert!(h.query_by_label("Packet library").is_none());
}

/// Started from the command line (`gui --listen … --capture-dir DIR --report FILE`) while
/// another tab is shown: the TCP Server session captures from its start although it is never
/// drawn, and the report names its figures and its capture.
#[test]
fn a_session_not_shown_captures_from_its_start_and_is_reported() {
    let dir = std::env::temp_dir().join(format!("sockpit-ui-unshown-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let mut h = harness(Settings::default());
    h.state_mut().apply_startup(&sockpit::gui::app::Startup {
        listen: vec![addr],
        tab: Some(Tab::IpTools),
        capture_dir: Some(dir.clone()),
        ..Default::default()
    });
    step_until(&mut h, "listening with its capture", WAIT, |h| {
        h.state()
            .tcp_server
            .current()
            .session
            .capture
            .status()
            .is_some()
    });
    assert_eq!(
        h.state().tab,
        Tab::IpTools,
        "the TCP Server tab is never drawn"
    );
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.write_all(b"seen by nobody, kept anyway").unwrap();
    step_until(&mut h, "captured", WAIT, |h| {
        h.state()
            .tcp_server
            .current()
            .session
            .capture
            .status()
            .is_some_and(|s| s.payload_bytes == 27)
    });
    let report = h.state().report();
    let server = &report["sessions"][0];
    assert_eq!(server["tab"], "tcp-server", "{report}");
    assert_eq!(server["rx_bytes"], 27, "{report}");
    assert_eq!(server["clients"], 1, "{report}");
    assert_eq!(server["capture"]["state"], "running", "{report}");
    assert_eq!(server["capture"]["payload_bytes"], 27, "{report}");
    let path = std::path::PathBuf::from(server["capture"]["path"].as_str().unwrap());
    assert!(path.starts_with(&dir), "{report}");
    let opened = open_capture(&path).unwrap();
    let got: Vec<u8> = opened
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::Data && r.direction == Direction::Received)
        .flat_map(|r| r.bytes.iter().copied())
        .collect();
    assert_eq!(got, b"seen by nobody, kept anyway");
    let _ = std::fs::remove_dir_all(&dir);
}
