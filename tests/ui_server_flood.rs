//! 100 clients flood the TCP Server tab: every byte is counted for the right client while
//! frames keep coming. (Its own test binary: the 200 MB test measures this process's memory.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::Write;
use std::time::Duration;

use common::{harness, step_until};
use egui_kittest::kittest::Queryable as _;
use sockpit::gui::app::Settings;

const CAP_MIB: u32 = 16;

#[test]
fn hundred_clients_flooding_the_server_are_all_counted_while_frames_keep_coming() {
    const CLIENTS: usize = 100;
    const PER_CLIENT: u64 = 1_000_000;
    let mut settings = Settings::default();
    settings.tab = sockpit::gui::app::Tab::TcpServer;
    settings.tcp_server_mut().bind = "127.0.0.1".into();
    settings.tcp_server_mut().port = "0".into();
    settings.tcp_server_mut().view.cap_mib = CAP_MIB;
    let mut h = harness(settings);
    h.get_by_label("Start").click();
    step_until(&mut h, "listening", Duration::from_secs(10), |h| {
        matches!(
            h.state().tcp_server.current().status,
            sockpit::gui::tabs::tcp_server::ServerStatus::Listening(_)
        )
    });
    let sockpit::gui::tabs::tcp_server::ServerStatus::Listening(addr) =
        h.state().tcp_server.current().status.clone()
    else {
        unreachable!()
    };
    let clients: Vec<std::net::TcpStream> = (0..CLIENTS)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    step_until(
        &mut h,
        "100 clients in the table",
        Duration::from_secs(20),
        |h| h.state().tcp_server.current().clients.len() == CLIENTS,
    );
    // Four writer threads, each taking turns over its 25 clients in 64 KiB writes.
    let mut groups: Vec<Vec<std::net::TcpStream>> = (0..4).map(|_| Vec::new()).collect();
    for (i, c) in clients.into_iter().enumerate() {
        groups[i % 4].push(c);
    }
    let writers: Vec<_> = groups
        .into_iter()
        .enumerate()
        .map(|(g, mut group)| {
            std::thread::Builder::new()
                .name(format!("flood-{g}"))
                .spawn(move || {
                    let block = vec![0x5Au8; 64 * 1024];
                    let mut sent = vec![0u64; group.len()];
                    while sent.iter().any(|s| *s < PER_CLIENT) {
                        for (c, s) in group.iter_mut().zip(sent.iter_mut()) {
                            let n = (PER_CLIENT - *s).min(block.len() as u64) as usize;
                            if n > 0 {
                                c.write_all(&block[..n]).unwrap();
                                *s += n as u64;
                            }
                        }
                    }
                    group
                })
                .unwrap()
        })
        .collect();
    let total = CLIENTS as u64 * PER_CLIENT;
    // What each frame took in: a frame applies at most its drain budget (64 MiB, plus the one
    // event that crossed it), so 100 MB never lands in one frame however fast it arrives.
    let mut last = 0u64;
    let mut per_frame = Vec::new();
    step_until(&mut h, "all 100 MB received", Duration::from_mins(2), |h| {
        let rx = h.state().tcp_server.current().log().counters().rx_bytes;
        if rx > last {
            per_frame.push(rx - last);
            last = rx;
        }
        rx >= total
    });
    let _clients: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let tab = &h.state().tcp_server.current();
    assert_eq!(tab.log().counters().rx_bytes, total, "every byte counted");
    assert!(
        tab.clients.values().all(|c| c.bytes_in == PER_CLIENT),
        "each client's row shows exactly its bytes"
    );
    let budget = 64 * 1024 * 1024 + 1024 * 1024;
    assert!(
        per_frame.len() >= 2 && per_frame.iter().all(|n| *n <= budget),
        "frames kept coming during the flood, each within its budget: {per_frame:?}"
    );
}
