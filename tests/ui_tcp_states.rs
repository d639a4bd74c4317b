//! TCP states, live, as a learner sees them: the kernel's states of a real loopback connection
//! in the TCP Client and TCP Server tabs, each with its line of why, in the order they happen.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::{accept, harness, shows, step_until};
use egui_kittest::kittest::Queryable as _;
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::tcp_client::Status;
use sockpit::iptools::tcp_state::TcpState;

const WAIT: Duration = Duration::from_secs(15);

type H = egui_kittest::Harness<'static, sockpit::SockpitApp>;

/// Opens the TCP-states section (its header starts with "TCP states").
fn open_states(h: &mut H) {
    h.get_by_label_contains("TCP states").click();
    h.run();
}

#[test]
fn the_client_that_closes_first_goes_through_fin_wait2_to_time_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut settings = Settings::default();
    settings.tab = Tab::TcpClient;
    settings.tcp_client_mut().host = "127.0.0.1".into();
    settings.tcp_client_mut().port = port.to_string();
    let mut h = harness(settings);
    open_states(&mut h);
    assert!(shows(&h, "Connect to see this connection's states"));
    h.get_by_label("Connect").click();
    let mut peer = accept(&mut h, &listener);
    step_until(&mut h, "ESTABLISHED", WAIT, |h| {
        shows(h, "TCP states: ESTABLISHED")
    });
    assert!(
        shows(&h, "the three-way handshake (SYN, SYN-ACK, ACK) is done"),
        "each state says why"
    );
    // You close first: FIN_WAIT2 while the peer has not closed yet.
    h.get_by_label("Disconnect").click();
    step_until(&mut h, "FIN_WAIT2", WAIT, |h| shows(h, "→ FIN_WAIT2"));
    // The peer reads the end and closes: this side waits in TIME_WAIT.
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).unwrap();
    drop(peer);
    step_until(&mut h, "TIME_WAIT", WAIT, |h| shows(h, "→ TIME_WAIT"));
    assert!(shows(
        &h,
        "you closed first, so this side waits in TIME_WAIT"
    ));
    let timeline = h
        .state()
        .tcp_client
        .current()
        .states
        .shown_timeline()
        .unwrap();
    let states = timeline.states();
    let at = |s: TcpState| states.iter().position(|x| *x == s);
    assert_eq!(states.first(), Some(&TcpState::Established), "{states:?}");
    assert!(
        at(TcpState::FinWait2) < at(TcpState::TimeWait),
        "{states:?}"
    );
    assert!(matches!(
        h.state().tcp_client.current().status,
        Status::Closed { .. } | Status::Idle
    ));
    // The drawing lights every packet once TIME_WAIT proves the close.
    assert!(timeline.steps().iter().all(|s| s.happened), "{timeline:?}");
}

#[test]
fn the_server_whose_client_closes_first_sees_close_wait_then_last_ack() {
    let mut settings = Settings::default();
    settings.tab = Tab::TcpServer;
    settings.tcp_server_mut().bind = "127.0.0.1".into();
    settings.tcp_server_mut().port = "0".into();
    let mut h = harness(settings);
    let addr = common::start_server(&mut h);
    open_states(&mut h);
    assert!(shows(&h, "Select a client in the table"));
    let client = TcpStream::connect(addr).unwrap();
    let peer = client.local_addr().unwrap().to_string();
    step_until(&mut h, "the client's row", WAIT, |h| {
        h.query_all_by_label(&peer).next().is_some()
    });
    let row = h
        .query_all_by_label(&peer)
        .min_by(|a, b| a.rect().left().total_cmp(&b.rect().left()))
        .unwrap();
    row.click();
    step_until(&mut h, "ESTABLISHED", WAIT, |h| {
        shows(h, "TCP states: ESTABLISHED")
    });
    // The client closes first: the server's side waits in CLOSE_WAIT (Sockpit keeps the
    // connection open for sending) until the user disconnects the client, then it is gone.
    client.shutdown(std::net::Shutdown::Write).unwrap();
    step_until(&mut h, "CLOSE_WAIT", WAIT, |h| shows(h, "→ CLOSE_WAIT"));
    assert!(shows(
        &h,
        "the peer closed its side; this side has not closed yet"
    ));
    h.get_by_label("Disconnect selected").click();
    step_until(&mut h, "the connection's end", WAIT, |h| {
        h.state()
            .tcp_server
            .current()
            .states
            .shown_timeline()
            .is_some_and(|t| t.is_gone())
    });
    drop(client);
    let t = h
        .state()
        .tcp_server
        .current()
        .states
        .shown_timeline()
        .unwrap();
    let states = t.states();
    assert_eq!(states.first(), Some(&TcpState::Established), "{t:?}");
    let close_wait = states
        .iter()
        .position(|s| *s == TcpState::CloseWait)
        .unwrap();
    // LAST_ACK lasts microseconds on loopback; when seen, it comes after CLOSE_WAIT.
    if let Some(last_ack) = states.iter().position(|s| *s == TcpState::LastAck) {
        assert!(close_wait < last_ack, "{states:?}");
    }
    // The end is told (on a frame drawn after the watcher saw it).
    step_until(&mut h, "the end told", WAIT, |h| {
        shows(h, "left the kernel's table")
    });
}

/// The one-line tips for beginners: shown on a first start, off from the next start unless
/// the user turns them on (then kept on).
#[test]
fn learner_tips_show_on_the_first_start_and_then_only_when_asked() {
    let mut settings = Settings::default();
    settings.tab = Tab::Udp;
    let first_start = settings.learner_tips.is_none();
    assert!(first_start);
    // Built without the common harness, which switches the tips off for layout tests.
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| {
            let mut settings = settings;
            settings.language = Some(sockpit::i18n::Language::English);
            sockpit::SockpitApp::with_settings(&cc.egui_ctx, settings)
        });
    h.run();
    assert!(shows(&h, "No connection — each datagram stands alone"));
    assert_eq!(
        h.state().settings().learner_tips,
        Some(false),
        "off next time"
    );
    h.get_by_label("Tips").click();
    h.run();
    assert!(!shows(&h, "No connection — each datagram stands alone"));
    h.get_by_label("Tips").click();
    h.run();
    assert!(shows(&h, "No connection — each datagram stands alone"));
    assert_eq!(h.state().settings().learner_tips, Some(true), "kept on");
    h.get_by_label("TCP Server").click();
    h.run();
    assert!(shows(&h, "the listening socket only accepts"));
}

/// A server whose accept queue is full drops the SYN: the client waits in `SYN_SENT` (the
/// kernel resends the SYN after about a second), and the window shows it from the first SYN
/// on, then `ESTABLISHED` once the server accepts.
#[test]
fn a_connection_is_watched_from_its_syn_so_syn_sent_shows() {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(0).unwrap();
    let listener: TcpListener = socket.into();
    let addr = listener.local_addr().unwrap();
    // Fill the accept queue (backlog 0 holds one connection).
    let _filler = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut settings = Settings::default();
    settings.tab = Tab::TcpClient;
    settings.tcp_client_mut().host = "127.0.0.1".into();
    settings.tcp_client_mut().port = addr.port().to_string();
    settings.tcp_client_mut().connect_timeout_ms = 10_000;
    let mut h = harness(settings);
    open_states(&mut h);
    h.get_by_label("Connect").click();
    step_until(&mut h, "SYN_SENT", WAIT, |h| {
        shows(h, "TCP states: SYN_SENT")
    });
    assert!(shows(&h, "waits for the SYN-ACK"), "its why is shown");
    // Room in the queue: the resent SYN is answered.
    let (_first, _) = listener.accept().unwrap();
    step_until(&mut h, "ESTABLISHED", WAIT, |h| {
        shows(h, "TCP states: SYN_SENT → ESTABLISHED")
    });
}
