//! A peer floods 200 MB into the TCP Client tab: every byte is counted, memory stays within
//! the history cap plus a margin, and frames keep coming while the data arrives.

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
use sockpit::gui::app::Settings;
use sockpit::gui::tabs::tcp_client::Status;

const FLOOD_BYTES: u64 = 200 * 1000 * 1000;
const CAP_MIB: u32 = 16;
/// Room for the bytes in flight between worker and UI and allocator slack.
const MARGIN_BYTES: u64 = 64 * 1024 * 1024;

/// Resident memory of this process in bytes (Linux /proc).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[test]
fn flood_of_200_mb_keeps_counters_exact_memory_capped_and_frames_coming() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = Settings::default();
    settings.tcp_client_mut().port = listener.local_addr().unwrap().port().to_string();
    settings.tcp_client_mut().view.cap_mib = CAP_MIB;
    let mut h = harness(settings);
    h.get_by_label("Connect").click();
    let mut peer = accept(&mut h, &listener);
    step_until(&mut h, "connected", Duration::from_secs(10), |h| {
        matches!(
            h.state().tcp_client.current().status,
            Status::Connected { .. }
        )
    });
    let baseline = rss_bytes();

    let flooder = std::thread::Builder::new()
        .name("flooder".into())
        .spawn(move || {
            let block: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
            let mut sent = 0u64;
            while sent < FLOOD_BYTES {
                let n = (FLOOD_BYTES - sent).min(block.len() as u64) as usize;
                peer.write_all(&block[..n]).unwrap();
                sent += n as u64;
            }
            // Stay open: a close would be a separate event; the test only counts bytes.
            peer
        })
        .unwrap();

    // What each frame took in: at most its drain budget (64 MiB, plus the one event that
    // crossed it), so the flood never lands in one frame however fast it arrives.
    let mut last = 0u64;
    let mut per_frame = Vec::new();
    let mut peak_rss = 0;
    let mut max_stored = 0;
    step_until(&mut h, "all 200 MB received", Duration::from_mins(2), |h| {
        let tab = &h.state().tcp_client.current();
        let rx = tab.log().counters().rx_bytes;
        if rx > last {
            per_frame.push(rx - last);
            last = rx;
        }
        max_stored = max_stored.max(tab.log().stored_bytes());
        peak_rss = peak_rss.max(rss_bytes().unwrap_or(0));
        rx >= FLOOD_BYTES
    });
    let _peer = flooder.join().unwrap();

    let tab = &h.state().tcp_client.current();
    assert_eq!(
        tab.log().counters().rx_bytes,
        FLOOD_BYTES,
        "every byte counted"
    );
    let cap = u64::from(CAP_MIB) * 1024 * 1024;
    assert!(
        max_stored as u64 <= cap,
        "history stayed within its cap: {max_stored}"
    );
    assert!(
        tab.log().evicted_records() > 0,
        "older records were evicted and counted"
    );
    // Bytes still stored plus bytes evicted add up to everything received.
    let stored_payload: u64 = tab
        .log()
        .iter()
        .filter(|r| r.direction == sockpit::traffic::Direction::Received)
        .map(|r| r.bytes.len() as u64)
        .sum();
    assert_eq!(stored_payload + tab.log().evicted_bytes(), FLOOD_BYTES);
    if let Some(base) = baseline {
        let growth = peak_rss.saturating_sub(base);
        assert!(
            growth <= cap + MARGIN_BYTES,
            "memory grew by {growth} bytes, more than the cap plus margin"
        );
    }
    // Frames kept coming: no frame froze the UI by taking in more than its budget.
    let budget = 64 * 1024 * 1024 + 1024 * 1024;
    assert!(
        per_frame.len() >= 3 && per_frame.iter().all(|n| *n <= budget),
        "frames kept coming during the flood, each within its budget: {per_frame:?}"
    );
    h.step();
    assert!(
        h.query_all_by_label_contains("Evicted").next().is_some(),
        "the eviction count is shown"
    );
}
