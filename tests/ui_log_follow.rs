//! The traffic log stops following while the user points at it or has a row selected, so a
//! click in a flood selects the row that was under the pointer; a "N new rows ↓" button (or
//! End) jumps back to the newest row. A real loopback peer floods the UDP tab, bound through
//! its UI to 127.0.0.1:0, with numbered datagrams; the history cap is small, so the ring
//! evicts old records while the view is held.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{harness, shows, step_until};
use egui_kittest::kittest::Queryable as _;
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::udp::UdpStatus;
use sockpit::traffic::Direction;

type H<'a> = egui_kittest::Harness<'a, sockpit::SockpitApp>;

const WAIT: Duration = Duration::from_secs(20);
/// Datagram size: about a thousand of them fill the 1 MiB history cap.
const DATAGRAM_BYTES: usize = 1000;
/// Upper bounds on the flood, whatever happens to the test.
const FLOOD_MAX_DATAGRAMS: u64 = 400_000;
const FLOOD_MAX_TIME: Duration = Duration::from_secs(90);
/// Frames a held view is watched for while the flood goes on.
const HOLD_FRAMES: usize = 20;

/// A loopback peer sending `pkt NNNNNN ....` datagrams until stopped (or its bounds run out).
struct Flood {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Flood {
    fn start(to: SocketAddr) -> Self {
        assert!(to.ip().is_loopback());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("udp-flooder".into())
            .spawn(move || {
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                let started = Instant::now();
                let mut n = 0u64;
                while !flag.load(Ordering::Relaxed)
                    && n < FLOOD_MAX_DATAGRAMS
                    && started.elapsed() < FLOOD_MAX_TIME
                {
                    let mut payload = format!("pkt {n:06} ").into_bytes();
                    payload.resize(DATAGRAM_BYTES, b'.');
                    socket.send_to(&payload, to).unwrap();
                    n += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                n
            })
            .unwrap();
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The UDP tab bound through its UI to 127.0.0.1:0 with a 1 MiB history, and a flood into it
/// that has already made the ring evict.
fn flooded_tab() -> (H<'static>, Flood) {
    let mut settings = Settings::default();
    settings.tab = Tab::Udp;
    settings.udp_mut().bind = "127.0.0.1".into();
    settings.udp_mut().port = "0".into();
    settings.udp_mut().remote_host = "127.0.0.1".into();
    settings.udp_mut().remote_port = "9".into();
    settings.udp_mut().multicast_interface = "lo".into();
    settings.udp_mut().view.cap_mib = 1;
    let mut h = harness(settings);
    h.get_by_label("Bind").click();
    step_until(&mut h, "bound", WAIT, |h| {
        matches!(h.state().udp.current().status, UdpStatus::Bound(_))
    });
    let flood = Flood::start(h.state().udp.current().bound().unwrap());
    step_until(&mut h, "a full screen of rows and evictions", WAIT, |h| {
        h.state().udp.current().log().evicted_records() > 0 && visible_rows(h).len() >= 10
    });
    (h, flood)
}

/// The text of a node: its label, or for a text label its value.
fn text_of<'t>(n: &impl egui_kittest::kittest::NodeT<'t>) -> Option<String> {
    let node = n.accesskit_node();
    node.label().or_else(|| node.value())
}

/// The numbered rows in view, top to bottom: a row's text cell is the payload preview, cut
/// with "…" (the detail pane shows the whole payload, without it).
fn visible_rows(h: &H<'_>) -> Vec<(u64, egui::Rect)> {
    let mut rows: Vec<(u64, egui::Rect)> = h
        .query_all_by_label_contains("pkt ")
        .filter_map(|n| {
            let label = text_of(&n)?;
            if !label.starts_with("pkt ") || !label.ends_with('…') {
                return None;
            }
            Some((label.get(4..10)?.parse().ok()?, n.rect()))
        })
        .collect();
    rows.sort_by(|a, b| a.1.top().total_cmp(&b.1.top()));
    rows
}

fn first_visible(h: &H<'_>) -> u64 {
    visible_rows(h).first().expect("rows in view").0
}

/// The number in the newest received datagram stored in the log.
fn newest_number(h: &H<'_>) -> u64 {
    let record = h
        .state()
        .udp
        .current()
        .log()
        .iter()
        .rev()
        .find(|r| r.direction == Direction::Received)
        .expect("a received datagram");
    std::str::from_utf8(&record.bytes[4..10])
        .unwrap()
        .parse()
        .unwrap()
}

/// The id in the detail pane's "Record #ID: …" heading, if a single row is selected.
fn detail_record_id(h: &H<'_>) -> Option<u64> {
    h.query_all_by_label_contains("Record #")
        .filter_map(|n| text_of(&n))
        .find_map(|l| {
            let rest = l.strip_prefix("Record #")?;
            rest.split(':').next()?.parse().ok()
        })
}

/// The count on the "N new rows ↓" button, if it is shown.
fn new_rows_count(h: &H<'_>) -> Option<u64> {
    h.query_all_by_label_contains("new rows")
        .filter_map(|n| text_of(&n))
        .find_map(|l| l.split(' ').next()?.parse().ok())
}

/// Steps `frames` frames while the flood goes on, asserting each time that the view still
/// starts at record `first` (the same record, although the ring evicts older ones).
fn hold(h: &mut H<'_>, frames: usize, first: u64) {
    let evicted = h.state().udp.current().log().evicted_records();
    let received = h.state().udp.current().log().counters().rx_packets;
    for frame in 0..frames {
        std::thread::sleep(Duration::from_millis(10));
        h.step();
        assert_eq!(
            first_visible(h),
            first,
            "frame {frame}: the first visible row moved while following was paused"
        );
    }
    let log = &h.state().udp.current().log();
    assert!(
        log.counters().rx_packets > received + 20,
        "datagrams kept arriving"
    );
    assert!(
        log.evicted_records() > evicted,
        "the ring evicted old records meanwhile"
    );
}

#[test]
fn click_in_a_flood_selects_the_row_under_the_pointer_and_new_rows_button_follows_again() {
    let (mut h, _flood) = flooded_tab();
    // Pick a row in the upper part (the detail pane will open at the bottom).
    // As a user does: the pointer comes to rest on the row (following pauses), then clicks.
    // On a starved machine a synthetic click can miss the row entirely (nothing selected);
    // it is tried again, at most three times. A click that selects must select the row that
    // was under the pointer, which is what this test is about.
    let mut number = 0;
    let mut rect = egui::Rect::NOTHING;
    for _attempt in 0..3 {
        let rows = visible_rows(&h);
        let (n, at) = rows[rows.len() / 4];
        number = n;
        h.hover_at(at.center());
        h.step();
        h.step();
        rect = visible_rows(&h)
            .into_iter()
            .find(|r| r.0 == number)
            .expect("the row under the pointer is still in view")
            .1;
        h.query_all_by_label_contains(&format!("pkt {number:06} "))
            .find(|n| n.rect() == rect)
            .unwrap()
            .click();
        h.step();
        h.step();
        if detail_record_id(&h).is_some() {
            break;
        }
    }

    let id = detail_record_id(&h).expect("one row selected, shown in the detail pane");
    let record = h
        .state()
        .udp
        .current()
        .log()
        .get_by_id(id)
        .expect("the selected record");
    let clicked = format!("pkt {number:06} ");
    assert!(
        record.bytes.starts_with(clicked.as_bytes()),
        "selected {:?}, but the row under the pointer was {clicked:?}",
        String::from_utf8_lossy(&record.bytes[..11])
    );

    // Rows keep pouring in and the ring evicts: the view and the selection stay put.
    let first = first_visible(&h);
    hold(&mut h, HOLD_FRAMES, first);
    assert_eq!(detail_record_id(&h), Some(id), "the selection did not move");
    let still = visible_rows(&h)
        .into_iter()
        .find(|(n, _)| *n == number)
        .expect("the clicked row is still in view");
    assert!(
        (still.1.top() - rect.top()).abs() < 1.0,
        "the clicked row stayed under the pointer: {rect:?} then {:?}",
        still.1
    );
    let count = new_rows_count(&h).expect("the new-rows button is shown while paused");
    assert!(count > 0, "it counts the rows that arrived: {count}");

    // The button jumps to the newest row and follows again, the pointer resting on the log.
    h.get_by_label_contains("new rows").click();
    step_until(&mut h, "the view follows the newest row", WAIT, |h| {
        visible_rows(h).last().map(|r| r.0) == Some(newest_number(h))
    });
    let followed = first_visible(&h);
    step_until(&mut h, "the view keeps following", WAIT, |h| {
        first_visible(h) > followed && visible_rows(h).last().map(|r| r.0) == Some(newest_number(h))
    });
    assert!(new_rows_count(&h).is_none(), "no button while following");
    assert_eq!(detail_record_id(&h), Some(id), "the selection itself stays");

    // Escape over the log deselects.
    h.key_press(egui::Key::Escape);
    h.step();
    h.step();
    assert_eq!(detail_record_id(&h), None, "Escape cleared the selection");
    assert!(shows(&h, "Auto-scroll"), "the setting is still there");
    assert!(
        h.state().udp.current().settings_to_save().view.autoscroll,
        "and still on"
    );
}

#[test]
fn hovering_the_log_pauses_following_and_end_resumes_it() {
    let (mut h, _flood) = flooded_tab();
    let rows = visible_rows(&h);
    h.hover_at(rows[rows.len() / 2].1.center());
    h.step();
    h.step();
    let first = first_visible(&h);
    hold(&mut h, HOLD_FRAMES, first);
    assert!(
        new_rows_count(&h).is_some_and(|n| n > 0),
        "the new-rows button counts what arrived below"
    );
    assert_eq!(detail_record_id(&h), None, "hovering selects nothing");

    // End, with the pointer still over the log, follows the newest row again.
    h.key_press(egui::Key::End);
    step_until(&mut h, "End follows the newest row", WAIT, |h| {
        first_visible(h) > first && visible_rows(h).last().map(|r| r.0) == Some(newest_number(h))
    });

    // Moving the pointer over the log pauses again; leaving it resumes.
    let rows = visible_rows(&h);
    h.hover_at(rows[rows.len() / 3].1.center());
    h.step();
    h.step();
    let first = first_visible(&h);
    hold(&mut h, 10, first);
    h.hover_at(egui::pos2(2.0, 2.0));
    step_until(&mut h, "leaving the log follows again", WAIT, |h| {
        visible_rows(h).last().map(|r| r.0) == Some(newest_number(h))
    });
}

/// Rows that arrive where the user can see them are not "new rows below": with the pointer
/// resting on a short log, a few datagrams arrive in view and no jump button appears.
#[test]
fn rows_that_arrive_in_sight_are_not_counted_as_new_rows_below() {
    let mut settings = Settings::default();
    settings.tab = Tab::Udp;
    settings.udp_mut().bind = "127.0.0.1".into();
    settings.udp_mut().port = "0".into();
    settings.udp_mut().remote_host = "127.0.0.1".into();
    settings.udp_mut().remote_port = "9".into();
    settings.udp_mut().multicast_interface = "lo".into();
    let mut h = harness(settings);
    h.get_by_label("Bind").click();
    step_until(&mut h, "bound", WAIT, |h| {
        matches!(h.state().udp.current().status, UdpStatus::Bound(_))
    });
    let to = h.state().udp.current().bound().unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |n: u64| {
        let mut payload = format!("pkt {n:06} ").into_bytes();
        payload.resize(DATAGRAM_BYTES, b'.');
        sender.send_to(&payload, to).unwrap();
    };
    send(0);
    step_until(&mut h, "the first row", WAIT, |h| {
        visible_rows(h).len() == 1
    });
    // Rest the pointer on the log: following pauses.
    h.hover_at(visible_rows(&h)[0].1.center());
    h.step();
    h.step();
    for n in 1..4 {
        send(n);
    }
    // (The row under the pointer may also show its preview in a tooltip: count numbers.)
    step_until(&mut h, "three more rows in view", WAIT, |h| {
        let shown: std::collections::BTreeSet<u64> = visible_rows(h).iter().map(|r| r.0).collect();
        shown == (0..4).collect()
    });
    for _ in 0..5 {
        h.step();
    }
    assert_eq!(
        new_rows_count(&h),
        None,
        "every new row is in view; nothing is waiting below"
    );
}
