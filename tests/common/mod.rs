//! Helpers for the UI tests: a harness around the real app, and a step-until that waits for
//! the workers without fixed sleeps.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use sockpit::SockpitApp;
use sockpit::gui::app::Settings;

/// The real app in a kittest harness, with system fonts so CJK text can be laid out.
pub fn harness(settings: Settings) -> Harness<'static, SockpitApp> {
    harness_sized(settings, egui::vec2(1280.0, 800.0))
}

/// [`harness`] with a window of `size` (a small one: 900×600).
/// The window speaks English unless `settings` picked a language, whatever the machine's
/// locale, so labels are found by their English names.
pub fn harness_sized(mut settings: Settings, size: egui::Vec2) -> Harness<'static, SockpitApp> {
    settings
        .language
        .get_or_insert(sockpit::i18n::Language::English);
    // The one-line tips of a first start would move every layout a test measures.
    settings.learner_tips.get_or_insert(false);
    Harness::builder()
        .with_size(size)
        .with_context_setup(|ctx| {
            ctx.add_font_provider(Arc::new(
                egui_system_font_provider::SystemFontProvider::new(),
            ));
        })
        .build_eframe(move |cc| SockpitApp::with_settings(&cc.egui_ctx, settings))
}

/// Steps frames until `done` holds, or panics after `timeout` naming what was awaited.
pub fn step_until(
    harness: &mut Harness<'_, SockpitApp>,
    what: &str,
    timeout: Duration,
    mut done: impl FnMut(&mut Harness<'_, SockpitApp>) -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        harness.step();
        if done(harness) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}; status: {:?}",
            harness.state().tcp_client.current().status
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Accepts one connection from the app, stepping frames meanwhile so the worker gets its
/// Connect command (a click is only processed on the next frame).
pub fn accept(
    harness: &mut Harness<'_, SockpitApp>,
    listener: &std::net::TcpListener,
) -> std::net::TcpStream {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        harness.step();
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                return stream;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept failed: {e}"),
        }
        assert!(Instant::now() < deadline, "the app never connected");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether any node's label contains `text`.
pub fn shows(harness: &Harness<'_, SockpitApp>, text: &str) -> bool {
    use egui_kittest::kittest::Queryable as _;
    harness.query_all_by_label_contains(text).next().is_some()
}

/// Reads exactly `n` bytes from a peer socket, waiting up to 10 s.
pub fn read_exactly(s: &mut std::net::TcpStream, n: usize) -> Vec<u8> {
    use std::io::Read as _;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// Asserts that no byte arrives on a peer socket within 300 ms.
pub fn assert_nothing_arrives(s: &mut std::net::TcpStream) {
    use std::io::Read as _;
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
        Ok(n) => panic!("{n} unexpected bytes arrived"),
    }
}

/// Collects a worker's events (mapped by `kind_of`) until `pred` matches one or `wait` passes;
/// returns everything seen up to and including the match, or panics naming `what`.
pub fn wait_for_event<E, K: std::fmt::Debug>(
    events: &crossbeam_channel::Receiver<E>,
    what: &str,
    wait: Duration,
    kind_of: impl Fn(E) -> K,
    mut pred: impl FnMut(&K) -> bool,
) -> Vec<K> {
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match events.recv_timeout(Duration::from_millis(50)) {
            Ok(event) => {
                let kind = kind_of(event);
                let hit = pred(&kind);
                seen.push(kind);
                if hit {
                    return seen;
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                panic!("the worker is gone while waiting for {what}; saw {seen:?}")
            }
        }
    }
    panic!(
        "timed out waiting for {what}; saw {} events, last {:?}",
        seen.len(),
        seen.last()
    );
}

/// Clicks the TCP Server's Start and waits until it listens; the address it listens on.
pub fn start_server(harness: &mut Harness<'_, SockpitApp>) -> std::net::SocketAddr {
    use egui_kittest::kittest::Queryable as _;
    use sockpit::gui::tabs::tcp_server::ServerStatus;
    harness.get_by_label("Start").click();
    let mut addr = None;
    step_until(harness, "listening", Duration::from_secs(10), |h| {
        if let ServerStatus::Listening(a) = h.state().tcp_server.current().status {
            addr = Some(a);
        }
        addr.is_some()
    });
    addr.expect("listening")
}
